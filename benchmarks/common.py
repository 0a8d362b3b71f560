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
