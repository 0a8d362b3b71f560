"""
Where does a training step's time go? TensorFlow's own tracing (RunOptions FULL_TRACE) of the step
train() runs, built from the notebook's model_loss and model_opt, at batch 64 on 28x28x3 images:
each layer's kernels (forward, input gradient, weight gradient, Adam's update), in milliseconds and
GFLOP/s, medians over the traced steps. The session runs one op at a time (inter-op threads 1), so
the kernels' times add up to the step.

    python benchmarks/profile_step.py                   # float32 (and bfloat16 with AMX or AVX512_BF16)
    python benchmarks/profile_step.py --straightforward # tf.layers' transposed convolution in place of fast_layers'
"""
import argparse
import collections
import contextlib
import os
import re
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import train_speed  # noqa: E402  (benchmarks/ is the script's own folder; it sets up the path and TensorFlow)
from common import add_folder_argument  # noqa: E402
from facegan import tensorflow_setup  # noqa: E402

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
    parser.add_argument('--steps', type=int, default=5, help='traced steps; each figure is their median')
    parser.add_argument('--straightforward', action='store_true',
                        help="profile tf.layers.conv2d_transpose where the generator calls fast_layers'")
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


def profile(shape, precision, batches, steps):
    """
    :param shape: The dataset's shape (images, height, width, channels)
    :return: ({(layer, kernel): [ms in each traced step]}, [step ms])
    """
    loop = train_speed.ProjectLoop(shape, precision, 'simultaneous')
    graph = loop.sess.graph
    for step_i in range(3):  # warm-up: graph optimisation, kernel selection
        loop.step(next(batches), step_i)
    times = collections.defaultdict(list)
    totals = []
    for _ in range(steps):
        metadata = tf.RunMetadata()
        loop.sess.run([loop.d_opt, loop.g_opt, loop.d_loss, loop.g_loss], loop.feed(next(batches)),
                      options=tf.RunOptions(trace_level=tf.RunOptions.FULL_TRACE), run_metadata=metadata)
        step = collections.Counter()
        for device in metadata.step_stats.dev_stats:
            for node in device.node_stats:
                step[classify(graph, node.node_name)] += node.all_end_rel_micros / 1000
        for key, value in step.items():
            times[key].append(value)
        totals.append(sum(step.values()))
    return times, totals


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


def main():
    """Profile the step in each precision and print the tables."""
    args = parse_args()
    dataset = train_speed.load_dataset(args.folder, args.batch_size)
    batches = train_speed.endless_batches(dataset, args.batch_size)
    precisions = ['float32'] + (['bfloat16'] if args.bfloat16 or tensorflow_setup.cpu_bfloat16_support() else [])
    for precision in precisions:
        with train_speed.articles_layers() if args.straightforward else contextlib.nullcontext():
            times, totals = profile(dataset.shape, precision, batches, args.steps)
        print_table(precision, times, totals, args.batch_size)


if __name__ == '__main__':
    main()
