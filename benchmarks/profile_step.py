"""
Where does a training step's time go? TensorFlow's own tracing (RunOptions FULL_TRACE) of the step
train() runs, built from the notebook's model_loss and model_opt, at batch 64 on 28x28x3 images:
each layer's kernels (forward, input gradient, weight gradient, Adam's update), in milliseconds and
GFLOP/s, medians over the traced steps. The session runs one op at a time (inter-op threads 1), so
the kernels' times add up to the step.

Then the same steps by op type, and what the step costs outside its kernels: session.run's wall
time untraced, against the kernels' sum and span in the traces (the rest is Python, the feed's
conversion, the executor's scheduling). Kernels whose work does not grow with the batch (the
weights' transposes, gathers' gradients, casts, Adam) weigh most at small batches.

    python benchmarks/profile_step.py                   # float32 (and bfloat16 with AMX or AVX512_BF16)
    python benchmarks/profile_step.py --batch-size 16   # the default run's batch
    python benchmarks/profile_step.py --straightforward # tf.layers' transposed convolution in place of fast_layers'
    python benchmarks/profile_step.py --stored-layout   # kernel_layout.py's prototype in place of fast_layers'
"""
import argparse
import collections
import contextlib
import os
import re
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import train_speed  # noqa: E402  (benchmarks/ is the script's own folder; it sets up the path and TensorFlow)
import kernel_layout  # noqa: E402
from common import add_folder_argument  # noqa: E402
from facegan.core import machine  # noqa: E402

tf = train_speed.tf
GRADIENTS = re.compile(r'^gradients(_\d+)?/')
ADAM = re.compile(r'^Adam(_\d+)?/update_')
MATMULS = ('MatMul', 'BatchMatMulV2', 'BatchMatMulV3')
VARIABLE_PATH = ('ReadVariableOp', 'Identity', 'Reshape', 'Transpose', 'Cast', 'GatherV2')  # between a variable and its use


def parse_args():
    """:return: Parsed command line"""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_folder_argument(parser)
    parser.add_argument('--batch-size', type=int, default=64)
    parser.add_argument('--steps', type=int, default=5,
                        help='traced steps, then as many untraced; each figure is their median')
    parser.add_argument('--straightforward', action='store_true',
                        help="profile tf.layers.conv2d_transpose where the generator calls fast_layers'")
    parser.add_argument('--stored-layout', action='store_true',
                        help="profile kernel_layout.py's prototype: fast_layers taking the kernel as stored")
    parser.add_argument('--bfloat16', action='store_true', help='profile bfloat16 too (default: only with AMX or AVX512_BF16)')
    return parser.parse_args()


def reads_a_variable(tensor):
    """:return: True when tensor is a variable's value, through reads, reshapes and transposes"""
    op = tensor.op
    while op.type in VARIABLE_PATH and op.inputs:
        op = op.inputs[0].op
    return op.type in ('VarHandleOp', 'VariableV2')


def classify(graph, node_name):
    """
    :return: (layer, kernel) of a traced node: layer as 'generator/conv2d_transpose', kernel one of
             'forward', 'input gradient', 'weight gradient', 'Adam'
    """
    if ADAM.match(node_name):
        name, kernel = ADAM.sub('', node_name), 'Adam'
    elif GRADIENTS.match(node_name):
        name, kernel = GRADIENTS.sub('', node_name), 'input gradient'
        try:
            op = graph.get_operation_by_name(node_name)
        except KeyError:  # a node the graph rewrite made: no weights of its own
            op = None
        if op is not None and ('BackpropFilter' in op.type or op.type in MATMULS and '_grad/' in node_name):
            if 'BackpropFilter' in op.type:
                kernel = 'weight gradient'
            else:  # a matmul's gradient: towards its first input ('.../MatMul') or its second ('.../MatMul_1')
                forward = graph.get_operation_by_name(node_name.rsplit('_grad/', 1)[0].split('/', 1)[1])
                index = 1 if node_name.endswith('_1') else 0
                kernel = 'weight gradient' if reads_a_variable(forward.inputs[index]) else 'input gradient'
    else:
        name, kernel = node_name, 'forward'
    parts = name.split('/')
    network = re.sub(r'_\d+$', '', parts[0])  # discriminator_1 is the discriminator on the generated images
    return '/'.join([network] + parts[1:2]), kernel


def layer_gflop(batch, channels=3):
    """:return: {layer: GFLOP of one forward pass of the batch} (the discriminator's: on the real and the generated images)"""
    return {layer: 2 * value * batch * (2 if layer.startswith('discriminator/') else 1) / 1e9
            for layer, value in train_speed.layer_macs(channels).items()}


Profile = collections.namedtuple('Profile', 'times totals op_types spans walls')


def profile(shape, precision, batches, steps, fast=True):
    """
    Trace `steps` steps, fetching what train() fetches, then time as many untraced
    :param shape: The dataset's shape (images, height, width, channels)
    :param fast: False: tf.layers' own transposed convolution (--straightforward)
    :return: Profile: times {(layer, kernel): [ms in each traced step]}, totals [kernels' ms in
             each], op_types {op type: [ms in each]}, spans [first kernel's start to last one's
             end, ms], walls [untraced session.run's ms]
    """
    loop = train_speed.ProjectLoop(shape, precision, 'simultaneous', fast=fast)
    graph = loop.sess.graph
    fetches = [loop.d_opt, loop.g_opt, loop.d_loss, loop.g_loss, loop.d_view]
    for step_i in range(3):  # warm-up: graph optimisation, kernel selection
        loop.step(next(batches), step_i)
    found = Profile(collections.defaultdict(list), [], collections.defaultdict(list), [], [])
    for _ in range(steps):
        metadata = tf.RunMetadata()
        loop.sess.run(fetches, loop.feed(next(batches)),
                      options=tf.RunOptions(trace_level=tf.RunOptions.FULL_TRACE), run_metadata=metadata)
        nodes = [node for device in metadata.step_stats.dev_stats for node in device.node_stats]
        step, types = collections.Counter(), collections.Counter()
        for node in nodes:
            step[classify(graph, node.node_name)] += node.all_end_rel_micros / 1000
            types[op_type(node)] += node.all_end_rel_micros / 1000
        for key, value in step.items():
            found.times[key].append(value)
        for key, value in types.items():
            found.op_types[key].append(value)
        found.totals.append(sum(step.values()))
        found.spans.append((max(node.all_start_micros + node.all_end_rel_micros for node in nodes)
                            - min(node.all_start_micros for node in nodes)) / 1000)
    for _ in range(steps):
        feed = loop.feed(next(batches))
        start = time.perf_counter()
        loop.sess.run(fetches, feed)
        found.walls.append(1000 * (time.perf_counter() - start))
    return found


def op_type(node):
    """:return: A traced node's op type, from its timeline label 'name = Type(inputs)'"""
    label = node.timeline_label
    return label.split(' = ', 1)[1].split('(', 1)[0] if ' = ' in label else node.node_name


def print_table(precision, times, totals, batch):
    """Print each layer's kernels that take 1% of the step or more, slowest first, then the rest in one row."""
    gflop = layer_gflop(batch)
    step = statistics.median(totals)
    rows = sorted(((statistics.median(values), key) for key, values in times.items()), reverse=True)
    print('\n{}, batch {}: {:.0f} ms a step (median of {}), {:.1f} images/s\n'.format(
        precision, batch, step, len(totals), 1000 * batch / step))
    print('| layer | kernel | ms | % of the step | GFLOP/s |')
    print('|---|---|---|---|---|')
    rest = 0.0
    for value, (layer, kernel) in rows:
        if value < 0.01 * step:
            rest += value
            continue
        rate = '{:.0f}'.format(gflop[layer] / value * 1000) if layer in gflop and kernel != 'Adam' else ''
        print('| {} | {} | {:.1f} | {:.1%} | {} |'.format(layer, kernel, value, value / step, rate))
    print('| everything else (each under 1%) | | {:.1f} | {:.1%} | |'.format(rest, rest / step))


def print_op_types(found):
    """Print the traced kernels' time by op type (those of 1% of the step or more), then the step's time outside them."""
    step = statistics.median(found.totals)
    print('\n| op type | ms | % of the kernels\' time |')
    print('|---|---|---|')
    for value, name in sorted(((statistics.median(values), name) for name, values in found.op_types.items()),
                              reverse=True):
        if value >= 0.01 * step:
            print('| {} | {:.1f} | {:.1%} |'.format(name, value, value / step))
    wall, span = statistics.median(found.walls), statistics.median(found.spans)
    print('\nsession.run, untraced: {:.1f} ms a step (median of {}); traced: the kernels {:.1f} ms, from the first\'s '
          'start to the last\'s end {:.1f} ms; outside the kernels (Python, the feed, scheduling): {:.1f} ms, {:.1%}'
          .format(wall, len(found.walls), step, span, wall - step, (wall - step) / wall))


def main():
    """Profile the step in each precision and print the tables."""
    args = parse_args()
    dataset = train_speed.load_dataset(args.folder, args.batch_size)
    batches = train_speed.endless_batches(dataset, args.batch_size)
    precisions = ['float32'] + (['bfloat16'] if args.bfloat16 or machine.cpu_bfloat16_support() else [])
    for precision in precisions:
        with kernel_layout.stored_layout() if args.stored_layout else contextlib.nullcontext():
            found = profile(dataset.shape, precision, batches, args.steps, fast=not args.straightforward)
        print_table(precision, found.times, found.totals, args.batch_size)
        print_op_types(found)


if __name__ == '__main__':
    main()
