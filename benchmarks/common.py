"""
What the benchmarks share: where the real CelebA sample is, --folder, the timing arguments, the CPU's
description and the speed goals.
"""
import argparse
import os

# Each benchmark puts the project on the path before it imports this
from facegan.app.parsing import positive_int  # the command line's own check: one line naming the flag, exit 2
from facegan.core import machine

SHARED_SAMPLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'shared', 'data',
                             'celeba', 'img_align_celeba')


def add_folder_argument(parser, synthetic_fallback=True):
    """
    Add --folder, defaulting to the shared CelebA sample when it is there
    :param parser: argparse.ArgumentParser
    :param synthetic_fallback: Without the sample, default to None (the benchmark draws synthetic faces)
    """
    present = os.path.isdir(SHARED_SAMPLE)
    if synthetic_fallback:
        parser.add_argument('--folder', default=SHARED_SAMPLE if present else None,
                            help='folder of images (default: the shared CelebA sample, else synthetic faces)')
    else:
        parser.add_argument('--folder', default=SHARED_SAMPLE,
                            help='folder of images (default: the shared CelebA sample)')


def timing_parser(description, batch_sizes=None):
    """
    :param description: The benchmark's docstring
    :param batch_sizes: The default batch sizes of a benchmark that times several (--batch-sizes); None: one
                        (--batch-size, 64)
    :return: An argparse.ArgumentParser with --folder (synthetic faces without the sample), --batch-size or
             --batch-sizes, and --repeats
    """
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_folder_argument(parser)
    if batch_sizes is None:
        parser.add_argument('--batch-size', type=positive_int, default=64)
    else:
        parser.add_argument('--batch-sizes', type=positive_int, nargs='+', default=batch_sizes,
                            help='the batch sizes to time (default: %(default)s)')
    parser.add_argument('--repeats', type=positive_int, default=5,
                        help='rounds, alternating; each figure is their median')
    return parser


# /proc/cpuinfo's flags that decide which kernels oneDNN and PyTorch pick here
ISA_FLAGS = ('avx2', 'avx512f', 'avx512_bf16', 'amx_bf16')


def cpu_description(cpuinfo='/proc/cpuinfo', environ=None):
    """
    :param cpuinfo: The file that names the CPU and lists its flags
    :param environ: The environment to read ONEDNN_MAX_CPU_ISA from (None: this process's)
    :return: The CPU's model name, cores, which of ISA_FLAGS it has, and the instruction-set cap in
             force, e.g. 'Intel(R) Xeon(R) Processor, 2 cores, avx2 avx512f avx512_bf16 amx_bf16'
    """
    environ = os.environ if environ is None else environ
    try:
        with open(cpuinfo) as text:
            lines = text.read().splitlines()
    except OSError:
        return 'unknown CPU (no {})'.format(cpuinfo)
    fields = [line.split(':', 1) for line in lines if ':' in line]
    name = next((value.strip() for key, value in fields if key.strip() == 'model name'), 'unknown CPU')
    flags = set(next((value.split() for key, value in fields if key.strip() == 'flags'), []))
    cores = machine.usable_cores()
    has = ' '.join(flag for flag in ISA_FLAGS if flag in flags) or 'none of ' + ' '.join(ISA_FLAGS)
    cap = environ.get('ONEDNN_MAX_CPU_ISA')
    return '{}, {} cores, {}{}'.format(name, cores, has, ', emulated as {} (ONEDNN_MAX_CPU_ISA)'.format(cap)
                                       if cap else '')


# The speed goals: the project's training step against the PyTorch peer's (x PyTorch), in float32 by the
# widest vectors oneDNN may use (facegan.core.machine.cpu_vector_kind), in bfloat16 where the CPU computes it
# natively; and its share of its precision's matmul limit, by batch size
FLOAT32_GOALS = {'AVX-512': 1.5, 'AVX2': 1.0}
BFLOAT16_GOAL = 2.0
LIMIT_GOALS = {64: 0.70, 16: 0.50}


def pytorch_goal(precision, vectors, native_bfloat16):
    """
    :param precision: 'float32' or 'bfloat16'
    :param vectors: 'AVX-512', 'AVX2' or None, as machine.cpu_vector_kind says
    :param native_bfloat16: Whether the CPU has AMX_BF16 or AVX512_BF16 (machine.cpu_bfloat16_support)
    :return: The x PyTorch the project's step should reach, or None where there is no goal
    """
    if precision == 'bfloat16':
        return BFLOAT16_GOAL if native_bfloat16 else None
    return FLOAT32_GOALS.get(vectors)


def goal_cell(value, goal, form):
    """
    :param value: The measured figure (None: not measured)
    :param goal: The least figure that meets the goal (None: no goal)
    :param form: The format of the goal, e.g. '{:.2f}'
    :return: A table's cell: '>= 1.50: met', '>= 1.50: not met', '>= 1.50: not measured' or 'no goal'
    """
    if goal is None:
        return 'no goal'
    verdict = 'not measured' if value is None else 'met' if value >= goal else 'not met'
    return '>= {}: {}'.format(form.format(goal), verdict)
