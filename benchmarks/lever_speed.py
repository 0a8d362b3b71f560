"""
Which settings make train()'s step faster? Each lever's variants of the step, the step as train()
runs it (the baseline), the PyTorch peer and the matmul limit, timed alternating round by round,
at batch 16 and 64, in float32 and bfloat16 (where the CPU has it), against the goals of the issue
that asked (float32 >= 1.5x PyTorch with AVX-512, >= 1.0x with AVX2 only; bfloat16 >= 2x PyTorch's
autocast; >= 70% of the matmul limit at batch 64, >= 50% at batch 16).

Every configuration whose setting is process-wide runs in a process of its own: TensorFlow makes
its thread pools once per process, from the first session's settings, and reads its environment
(oneDNN's, XLA's; OpenMP's for PyTorch) once. The others share the baseline's process. The
processes wait, idle, for their turn. Beside each timing: the CPU the other processes of this
machine used meanwhile, and the steal time (other tenants), in cores.

Levers (--levers):
  xla      auto-clustering: global_jit_level ON_1 in the session config, alone and with
           TF_XLA_FLAGS=--tf_xla_cpu_global_jit (all ops, or only the elementwise ones: FUSIBLE);
           the XLA clusters column counts _XlaCompile ops in the step's partition graphs
  threads  intra/inter-op threads (1/1, 2/2, 1/2, 2 with ops in the calling thread), TensorFlow's
           default (0/0, as config=None gets), thread spinning off, the single-threaded executor
  onednn   TF_ENABLE_ONEDNN_OPTS=0, ONEDNN_PRIMITIVE_CACHE_CAPACITY=0,
           TF_ONEDNN_THREADPOOL_USE_CALLER_THREAD=1, TF_ONEDNN_USE_SYSTEM_ALLOCATOR=1
  layout   a prototype change to fast_layers, not a setting: each phase's taps taken from the
           kernel as stored, without the weight-sized transposes and gathers
           (benchmarks/kernel_layout.py)
  feed     the next batch prepared (x2, z drawn) in a thread while session.run runs; fetching
           only the train ops, or the losses every 10th step; make_callable (not an option for
           train(): it bypasses session.run; measured to show what session.run's feed costs)

    python benchmarks/lever_speed.py                        # every lever, batch 16 and 64
    python benchmarks/lever_speed.py --levers threads --repeats 7
    python benchmarks/lever_speed.py --isa avx2             # TensorFlow and PyTorch capped at AVX2
"""
import argparse
import collections
import concurrent.futures
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from common import cpu_description, timing_parser  # noqa: E402  (benchmarks/ is the script's own folder)
from common import LIMIT_GOALS, goal_cell, pytorch_goal  # noqa: E402
# A worker imports TensorFlow and PyTorch here, in the environment its coordinator gave it
import train_speed  # noqa: E402  (it sets up the path and TensorFlow)
import kernel_layout  # noqa: E402
from facegan.core import machine  # noqa: E402
from facegan.graph import session_settings  # noqa: E402

tf = train_speed.tf

BASELINE = 'train() as it runs'
TORCH = 'PyTorch peer'
# The environment that caps each library at AVX2 (--isa avx2). PyTorch's ATEN_CPU_CAPABILITY alone
# caps only ATen's own kernels: its convolutions are oneDNN's, its float32 matmuls MKL's.
AVX2_ENV = {'tensorflow': {'ONEDNN_MAX_CPU_ISA': 'AVX2'},
            'torch': {'ATEN_CPU_CAPABILITY': 'avx2', 'ONEDNN_MAX_CPU_ISA': 'AVX2', 'MKL_ENABLE_INSTRUCTIONS': 'AVX2'}}
PROTOCOL = '@@ '  # a worker's replies start with it


class Variant(collections.namedtuple('Variant', 'label session env loop option precisions')):
    """
    One lever's setting. session: changes to the session config (and 'layout': fast_layers'
    kernel as stored, kernel_layout.py's prototype); env: environment variables; loop:
    how the step is run ('train', 'prefetch', 'train ops', 'every 10', 'callable'); option: whether
    train() could take it as it is; precisions: those it applies to
    """

    def __new__(cls, label, session=None, env=None, loop='train', option=True, precisions=('float32', 'bfloat16')):
        return super().__new__(cls, label, session or {}, env or {}, loop, option, precisions)

    def own_process(self):
        """:return: Whether it needs a process of its own (a process-wide setting)"""
        return bool(self.env) or bool(set(self.session) & {'intra', 'inter', 'default', 'no_spinning'})


XLA_ALL = '--tf_xla_cpu_global_jit'
LEVERS = {
    'xla': [
        Variant('global_jit_level ON_1 (session config alone)', session={'jit': True}),
        Variant('ON_1 + TF_XLA_FLAGS=' + XLA_ALL, session={'jit': True}, env={'TF_XLA_FLAGS': XLA_ALL}),
        Variant('ON_1 + TF_XLA_FLAGS=' + XLA_ALL + ' --tf_xla_ops_to_cluster=FUSIBLE', session={'jit': True},
                env={'TF_XLA_FLAGS': XLA_ALL + ' --tf_xla_ops_to_cluster=FUSIBLE'}),
    ],
    'threads': [
        Variant('intra 1, inter 1', session={'intra': 1, 'inter': 1}),
        Variant('intra 2, inter 2', session={'intra': 2, 'inter': 2}),
        Variant('intra 1, inter 2', session={'intra': 1, 'inter': 2}),
        Variant('intra 2, inter -1 (ops in the calling thread)', session={'intra': 2, 'inter': -1}),
        Variant("TensorFlow's default threads (config=None: intra 0, inter 0)", session={'default': True}),
        Variant('thread spinning off (experimental.disable_thread_spinning)', session={'no_spinning': True}),
        Variant('experimental.executor_type SINGLE_THREADED_EXECUTOR',
                session={'executor': 'SINGLE_THREADED_EXECUTOR'}),
    ],
    'onednn': [
        Variant('TF_ENABLE_ONEDNN_OPTS=0', env={'TF_ENABLE_ONEDNN_OPTS': '0'}, precisions=('float32',)),
        Variant('ONEDNN_PRIMITIVE_CACHE_CAPACITY=0', env={'ONEDNN_PRIMITIVE_CACHE_CAPACITY': '0'}),
        Variant('TF_ONEDNN_THREADPOOL_USE_CALLER_THREAD=1', env={'TF_ONEDNN_THREADPOOL_USE_CALLER_THREAD': '1'}),
        Variant('TF_ONEDNN_USE_SYSTEM_ALLOCATOR=1', env={'TF_ONEDNN_USE_SYSTEM_ALLOCATOR': '1'}),
    ],
    'layout': [
        Variant("fast_layers with the kernel as stored (kernel_layout.py's prototype)", session={'layout': True}),
    ],
    'feed': [
        Variant('next batch prepared in a thread during session.run', loop='prefetch'),
        Variant('fetch the train ops only', loop='train ops', option=False),
        Variant("fetch the losses and D's outputs every 10th step", loop='every 10'),
        Variant('make_callable (bypasses session.run: a measurement)', loop='callable', option=False),
    ],
}
TORCH_VARIANTS = [('OpenMP defaults', {}), ('OMP_WAIT_POLICY=PASSIVE', {'OMP_WAIT_POLICY': 'PASSIVE'})]


def parse_args():
    """:return: Parsed command line"""
    parser = timing_parser(__doc__, batch_sizes=[16, 64])
    parser.add_argument('--levers', nargs='+', choices=sorted(LEVERS), default=sorted(LEVERS))
    parser.add_argument('--images', type=int, default=320,
                        help='training images per timing (steps = images // batch size)')
    parser.add_argument('--isa', choices=('native', 'avx2'), default='native',
                        help='avx2: cap TensorFlow and PyTorch at AVX2 (float32 only)')
    parser.add_argument('--no-torch', action='store_true', help='leave the PyTorch peer out')
    parser.add_argument('--worker', help=argparse.SUPPRESS)  # a worker's trainers, as JSON
    return parser.parse_args()


Configuration = collections.namedtuple('Configuration', 'lever label precision process spec option')


def plan(args, bfloat16):
    """
    :param bfloat16: Whether to time bfloat16 too
    :return: [Configuration], the baselines first; a configuration's process names the worker that runs it
    """
    precisions = ['float32', 'bfloat16'] if bfloat16 else ['float32']
    plans = []
    for precision in precisions:
        plans.append(Configuration('', BASELINE, precision, 'baseline', {'kind': 'project', 'precision': precision,
                                                                          'session': {}, 'loop': 'train'}, True))
    for lever in args.levers:
        for variant in LEVERS[lever]:
            process = variant.label if variant.own_process() else 'baseline'
            for precision in precisions:
                if precision in variant.precisions:
                    spec = {'kind': 'project', 'precision': precision, 'session': variant.session,
                            'loop': variant.loop, 'env': variant.env}
                    plans.append(Configuration(lever, variant.label, precision, process, spec, variant.option))
    if not args.no_torch:
        for label, env in TORCH_VARIANTS:
            for precision in precisions:
                plans.append(Configuration('', '{} ({})'.format(TORCH, label), precision, TORCH + ', ' + label,
                                           {'kind': 'torch', 'precision': precision, 'env': env}, False))
    return plans


# ---- the worker: builds its trainers, then times one on request ----

class LeverLoop:
    """train()'s step, with a lever's session settings and loop."""

    def __init__(self, shape, spec):
        with kernel_layout.stored_layout() if spec['session'].get('layout') else contextlib.nullcontext():
            self.loop = train_speed.ProjectLoop(shape, spec['precision'], 'simultaneous',
                                                config=session_config(spec['precision'], spec['session']))
        self.kind = spec['loop']
        loop = self.loop
        self.fetches = [loop.d_opt, loop.g_opt, loop.d_loss, loop.g_loss, loop.d_view]
        self.callable = loop.sess.make_callable(self.fetches, feed_list=[loop.input_real, loop.input_z, loop.lr]) \
            if self.kind == 'callable' else None
        self.prefetcher = concurrent.futures.ThreadPoolExecutor(1) if self.kind == 'prefetch' else None

    def run(self, batches, steps):
        """Train `steps` steps on batches from the iterator, the batches' reading included"""
        loop = self.loop
        if self.kind == 'prefetch':
            self._run_prefetched(batches, steps)
            return
        for step_i in range(steps):
            batch_images = next(batches)
            if self.kind == 'callable':
                z = np.random.uniform(-1, 1, size=(len(batch_images), train_speed.Z_DIM)).astype(np.float32)
                self.callable(batch_images * 2, z, 0.0002)
            elif self.kind == 'train ops' or (self.kind == 'every 10' and step_i % 10):
                loop.sess.run([loop.d_opt, loop.g_opt], loop.feed(batch_images))
            else:
                loop.sess.run(self.fetches, loop.feed(batch_images))

    def _run_prefetched(self, batches, steps):
        """The loop with the next feed's arrays (images x2, z as float32) made in a thread during each run"""
        def prepare():
            batch_images = next(batches)
            z = np.random.uniform(-1, 1, size=(len(batch_images), train_speed.Z_DIM)).astype(np.float32)
            return batch_images * 2, z

        upcoming = self.prefetcher.submit(prepare)
        for step_i in range(steps):
            images, z = upcoming.result()
            if step_i < steps - 1:
                upcoming = self.prefetcher.submit(prepare)  # made while this step runs
            self.loop.sess.run(self.fetches, {self.loop.input_real: images, self.loop.input_z: z, self.loop.lr: 0.0002})

    def xla_clusters(self, batch_images):
        """:return: The number of _XlaCompile ops in the partition graphs of one step"""
        metadata = tf.RunMetadata()
        self.loop.sess.run(self.fetches, self.loop.feed(batch_images),
                           options=tf.RunOptions(output_partition_graphs=True), run_metadata=metadata)
        return sum(node.op == '_XlaCompile' for graph in metadata.partition_graphs for node in graph.node)


def session_config(precision, changes):
    """
    :param precision: 'float32' or 'bfloat16'
    :param changes: {'intra', 'inter': thread counts; 'default': True for TensorFlow's default thread
                    counts; 'no_spinning', 'jit': True; 'executor': an executor type}
    :return: The project's tf.ConfigProto for the precision, with the changes
    """
    config = session_settings.session_config(precision)
    if changes.get('default'):
        config.ClearField('intra_op_parallelism_threads')
        config.ClearField('inter_op_parallelism_threads')
    config.intra_op_parallelism_threads = changes.get('intra', config.intra_op_parallelism_threads)
    config.inter_op_parallelism_threads = changes.get('inter', config.inter_op_parallelism_threads)
    if changes.get('no_spinning'):
        config.experimental.disable_thread_spinning = True
    if changes.get('executor'):
        config.experimental.executor_type = changes['executor']
    if changes.get('jit'):
        config.graph_options.optimizer_options.global_jit_level = tf.OptimizerOptions.ON_1
    return config


class TorchLoop:
    """The PyTorch peer, timed like the others."""

    def __init__(self, shape, spec):
        self.peer = train_speed.TorchPeer(shape[3], spec['precision'])

    def run(self, batches, steps):
        """Train `steps` steps on batches from the iterator"""
        for step_i in range(steps):
            self.peer.step(next(batches), step_i)


def worker(args):
    """Build the trainers of --worker's JSON, warm them up, then answer timing requests on stdin until it closes."""
    protocol = os.fdopen(os.dup(1), 'w', buffering=1)
    os.dup2(2, 1)  # anything the libraries print goes to stderr, not into the replies
    request = json.loads(args.worker)
    dataset = train_speed.load_dataset(args.folder, max(args.batch_sizes))
    batches = {size: train_speed.endless_batches(dataset, size) for size in args.batch_sizes}
    trainers = {key: (TorchLoop if spec['kind'] == 'torch' else LeverLoop)(dataset.shape, spec)
                for key, spec in request['trainers'].items()}
    clusters = {}
    for key, trainer in trainers.items():  # warm-up: graph optimisation, kernel selection, compiling
        for size in args.batch_sizes:
            trainer.run(batches[size], 3)
        if isinstance(trainer, LeverLoop):
            clusters[key] = trainer.xla_clusters(next(batches[args.batch_sizes[0]]))
    protocol.write(PROTOCOL + json.dumps({'clusters': clusters}) + '\n')
    for line in sys.stdin:
        order = json.loads(line)
        if 'matmul' in order:
            reply = {'gflops': train_speed.matmul_gflops(getattr(tf, order['matmul']))}
        else:
            start = time.perf_counter()
            trainers[order['key']].run(batches[order['batch']], order['steps'])
            reply = {'rate': order['steps'] * order['batch'] / (time.perf_counter() - start)}
        protocol.write(PROTOCOL + json.dumps(reply) + '\n')


# ---- the coordinator ----

def cpu_ticks(pid):
    """:return: (this machine's busy ticks, its steal ticks, the process's own ticks), from /proc"""
    with open('/proc/stat') as stat:
        values = [int(value) for value in stat.readline().split()[1:]]
    user, nice, system, _, _, irq, softirq, steal = values[:8]
    with open('/proc/{}/stat'.format(pid)) as stat:
        fields = stat.read().rsplit(')', 1)[1].split()
    return user + nice + system + irq + softirq, steal, int(fields[11]) + int(fields[12])


class Worker:
    """A worker process and its pipe."""

    def __init__(self, args, trainers, env, log):
        """
        :param trainers: {key: spec} of the trainers it builds
        :param env: The environment variables it starts with, beside this process's
        :param log: File for its stderr (TensorFlow's and PyTorch's messages, the cache's progress bar)
        """
        command = [sys.executable, os.path.abspath(__file__), '--worker', json.dumps({'trainers': trainers}),
                   '--batch-sizes'] + [str(size) for size in args.batch_sizes]
        if args.folder:
            command += ['--folder', args.folder]
        self.log = log
        self.process = subprocess.Popen(command, env=dict(os.environ, **env), stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=log, text=True, bufsize=1)
        self.ready = self._reply()

    def _reply(self):
        for line in self.process.stdout:
            if line.startswith(PROTOCOL):
                return json.loads(line[len(PROTOCOL):])
        raise RuntimeError('a worker stopped (exit code {}); its messages are in {}'.format(
            self.process.wait(), self.log.name))

    def ask(self, order):
        """
        :param order: {'key', 'batch', 'steps'} or {'matmul': dtype}
        :return: (the reply, the cores the machine's other processes used meanwhile, the steal in cores)
        """
        tick = os.sysconf('SC_CLK_TCK')
        busy, steal, own = cpu_ticks(self.process.pid)
        start = time.perf_counter()
        self.process.stdin.write(json.dumps(order) + '\n')
        reply = self._reply()
        elapsed = time.perf_counter() - start
        busy_after, steal_after, own_after = cpu_ticks(self.process.pid)
        others = (busy_after - busy - (own_after - own)) / tick / elapsed
        return reply, max(others, 0.0), (steal_after - steal) / tick / elapsed

    def close(self):
        """End the worker: its stdin closes."""
        self.process.stdin.close()
        self.process.wait()


def start_workers(args, plans):
    """:return: {process name: Worker}, each with its configurations' trainers; their messages go to files"""
    isa = AVX2_ENV if args.isa == 'avx2' else {'tensorflow': {}, 'torch': {}}
    grouped = collections.OrderedDict()
    for index, configuration in enumerate(plans):
        grouped.setdefault(configuration.process, []).append((index, configuration))
    workers = {}
    for process, members in grouped.items():
        spec = members[0][1].spec
        env = dict(isa['torch' if spec['kind'] == 'torch' else 'tensorflow'], **spec.get('env', {}))
        print('starting {} ({} configurations{})'.format(process, len(members),
                                                         ', ' + ' '.join('{}={}'.format(*item) for item in env.items())
                                                         if env else ''), flush=True)
        log = tempfile.NamedTemporaryFile('w', prefix='lever-worker-', suffix='.log', delete=False)
        workers[process] = Worker(args, {str(index): configuration.spec for index, configuration in members}, env,
                                  log)
    return workers


Timing = collections.namedtuple('Timing', 'rate others steal')


def measure(args, plans, workers, precisions):
    """
    :return: ({(configuration index, batch): [Timing per round]}, {precision: [matmul GFLOP/s per round]})
    """
    timings = collections.defaultdict(list)
    limits = {precision: [] for precision in precisions}
    for round_i in range(args.repeats):
        for precision in precisions:
            limits[precision].append(workers['baseline'].ask({'matmul': precision})[0]['gflops'])
        for size in args.batch_sizes:
            steps = max(1, args.images // size)
            shift = round_i % len(plans)  # each round starts at another configuration
            for index in list(range(shift, len(plans))) + list(range(shift)):
                reply, others, steal = workers[plans[index].process].ask({'key': str(index), 'batch': size,
                                                                          'steps': steps})
                timings[index, size].append(Timing(reply['rate'], others, steal))
            print('round {}/{}, batch {}: '.format(round_i + 1, args.repeats, size)
                  + ', '.join('{:.1f}'.format(timings[index, size][-1].rate) for index in range(len(plans))), flush=True)
    return timings, limits


def ratios(timings, index, base, size):
    """:return: Round-by-round ratios of configuration index's rate to configuration base's, at the batch size"""
    return [mine.rate / theirs.rate for mine, theirs in zip(timings[index, size], timings[base, size])]


def spread(values, digits=1):
    """:return: 'median [min-max]'"""
    return '{0:.{3}f} [{1:.{3}f}-{2:.{3}f}]'.format(statistics.median(values), min(values), max(values), digits)


def print_tables(args, plans, timings, limits, clusters, gflop):
    """Print, per batch size, the Markdown lever table: images/s, x the baseline, % of the matmul limit."""
    base = {plan.precision: index for index, plan in enumerate(plans) if plan.label == BASELINE}
    limit = {precision: statistics.median(values) for precision, values in limits.items()}
    for size in args.batch_sizes:
        every = [timing for index in range(len(plans)) for timing in timings[index, size]]
        print('\nBatch {}, {} steps a timing, {} rounds; the machine\'s other processes used {} cores meanwhile, '
              'steal {} cores (median [min-max]).\n'.format(size, max(1, args.images // size), args.repeats,
                                                          spread([t.others for t in every], 2),
                                                          spread([t.steal for t in every], 2)))
        print('| lever | configuration | precision | images/s, median [min-max] | x baseline, median of rounds '
              '[min-max] | % of the matmul limit | XLA clusters |')
        print('|---|---|---|---|---|---|---|')
        for index, plan in enumerate(plans):
            rates = [timing.rate for timing in timings[index, size]]
            print('| {} | {} | {} | {} | {} | {:.0f}% | {} |'.format(
                plan.lever or '-', plan.label, plan.precision, spread(rates), spread(ratios(timings, index,
                                                                                          base[plan.precision], size), 2),
                100 * statistics.median(rates) * gflop / limit[plan.precision], clusters.get(index, '-')))


def print_goals(args, plans, timings, limits, gflop):
    """
    Print, per batch size and precision, the baseline and the best option that was faster than it in
    every round (if any) against the issue's goals; the PyTorch goal counts the faster PyTorch
    """
    environ = AVX2_ENV['tensorflow'] if args.isa == 'avx2' else os.environ
    vectors, native = machine.cpu_vector_kind(environ=environ), machine.cpu_bfloat16_support() is not None
    print('\nGoals ({}; vectors: {}):\n'.format(cpu_description(environ=environ), vectors or 'neither AVX-512 nor AVX2'))
    print('| batch | precision | configuration | x PyTorch (OpenMP defaults) | x PyTorch (passive waits) '
          '| goal x PyTorch | % of the matmul limit | goal % |')
    print('|---|---|---|---|---|---|---|---|')
    for size in args.batch_sizes:
        for precision in limits:
            goal = pytorch_goal(precision, vectors, native)
            for index in goal_rows(plans, timings, precision, size):
                print(goal_row(plans, timings, index, size, goal, share=statistics.median(
                    [timing.rate for timing in timings[index, size]]) * gflop / statistics.median(limits[precision])))


def goal_rows(plans, timings, precision, size):
    """
    :return: The plans' indices to hold against the goals: the baseline, and the best option among those
             faster than it in every round (if any)
    """
    mine = [index for index, plan in enumerate(plans) if plan.precision == precision and plan.option]
    best = max(mine, key=lambda index: (min(ratios(timings, index, mine[0], size)) > 1 or index == mine[0],
                                        statistics.median(ratios(timings, index, mine[0], size))))
    return list(dict.fromkeys([mine[0], best]))


def goal_row(plans, timings, index, size, goal, share):
    """:return: The goals table's row of plan index at the batch size, its share of the matmul limit given"""
    plan_ = plans[index]
    torches = [other for other, each in enumerate(plans) if each.label.startswith(TORCH)
               and each.precision == plan_.precision]
    against = [statistics.median(ratios(timings, index, torch, size)) for torch in torches]
    return '| {} | {} | {} | {} | {} | {:.0%} | {} |'.format(
        size, plan_.precision, plan_.label, ' | '.join('{:.2f}'.format(value) for value in against) or '- | -',
        goal_cell(min(against, default=None), goal, '{:.2f}'), share,
        goal_cell(share, LIMIT_GOALS.get(size), '{:.0%}'))


def main():
    """Start the workers, time every configuration alternating, print the tables."""
    args = parse_args()
    if args.worker:
        worker(args)
        return
    bfloat16 = args.isa == 'native' and machine.cpu_bfloat16_support() is not None
    precisions = ['float32', 'bfloat16'] if bfloat16 else ['float32']
    plans = plan(args, bfloat16)
    print('CPU: {}{}.'.format(cpu_description(), '; emulating AVX2 (TensorFlow: {}; PyTorch: {})'.format(
        AVX2_ENV['tensorflow'], AVX2_ENV['torch']) if args.isa == 'avx2' else ''), flush=True)
    workers = start_workers(args, plans)
    try:
        clusters = {int(key): count for worker_ in workers.values() for key, count in worker_.ready['clusters'].items()}
        timings, limits = measure(args, plans, workers, precisions)
    finally:
        for worker_ in workers.values():
            worker_.close()
    gflop = train_speed.step_gflop()
    print('\nModel: {:.2f} GFLOP per image per step. Matmul limit (4096x4096, TensorFlow, the project\'s session), '
          'per round: {}.'.format(gflop, '; '.join('{} {} GFLOP/s'.format(precision, spread(values, 0))
                                                  for precision, values in limits.items())))
    print_tables(args, plans, timings, limits, clusters, gflop)
    print_goals(args, plans, timings, limits, gflop)


if __name__ == '__main__':
    main()
