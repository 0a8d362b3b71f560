"""What the benchmarks share: where the real CelebA sample is, --folder, and the timing arguments."""
import argparse
import os

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


def timing_parser(description):
    """
    :param description: The benchmark's docstring
    :return: An argparse.ArgumentParser with --folder (synthetic faces without the sample), --batch-size and --repeats
    """
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_folder_argument(parser)
    parser.add_argument('--batch-size', type=int, default=64)
    parser.add_argument('--repeats', type=int, default=5, help='rounds, alternating; each figure is their median')
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
    cores = len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count()
    has = ' '.join(flag for flag in ISA_FLAGS if flag in flags) or 'none of ' + ' '.join(ISA_FLAGS)
    cap = environ.get('ONEDNN_MAX_CPU_ISA')
    return '{}, {} cores, {}{}'.format(name, cores, has, ', emulated as {} (ONEDNN_MAX_CPU_ISA)'.format(cap)
                                       if cap else '')
