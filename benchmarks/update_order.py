"""
Does the update order change what the GAN learns? For each seed and each --update-order, train with
the command line as a learner would and read the run's last sliced Wasserstein distance (lower is
better) from its swd.csv:

- the default run (synthetic faces, 584 steps at batch 16);
- 300 steps on the real CelebA sample (copied to a temporary folder, so no cache is written beside it).

    python benchmarks/update_order.py                          # both, seeds 0 1 2
    python benchmarks/update_order.py --seeds 0 --runs celeba
    python benchmarks/update_order.py --orders simultaneous    # the default order only

Each run also saves a checkpoint every 100 steps (the last 10 kept), which
benchmarks/generate_quality.py scores; --keep DIR keeps the runs there.
"""
import argparse
import csv
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from common import add_folder_argument  # noqa: E402  (benchmarks/ is the script's own folder)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ORDERS = ('simultaneous', 'alternating')


def parse_args():
    """:return: Parsed command line"""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_folder_argument(parser, synthetic_fallback=False)
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument('--runs', nargs='+', choices=['default', 'celeba'], default=['default', 'celeba'])
    parser.add_argument('--orders', nargs='+', choices=ORDERS, default=list(ORDERS))
    parser.add_argument('--keep', default=None, help='folder to keep the runs in (default: a temporary one)')
    return parser.parse_args()


def train(flags, output_dir):
    """
    Run `python dlnd_face_generation.py FLAGS` into output_dir
    :return: (last SWD in its swd.csv, seconds the command took)
    """
    start = time.perf_counter()
    subprocess.run([sys.executable, os.path.join(ROOT, 'dlnd_face_generation.py'), '--output-dir', output_dir,
                    '--save-every', '100', '--keep-checkpoints', '10', '--show-every', '100'] + flags,
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    with open(os.path.join(output_dir, 'swd.csv')) as f:
        return float(list(csv.DictReader(f))[-1]['swd']), seconds


def main():
    """Train every run, seed and order, alternating the orders, and print the table."""
    args = parse_args()
    work = args.keep or tempfile.mkdtemp(prefix='update-order-')
    celeba = os.path.join(work, 'celeba')
    if 'celeba' in args.runs and not os.path.isdir(celeba):
        shutil.copytree(args.folder, celeba)
    runs = {'default': ['--data-dir', os.path.join(work, 'data')],
            'celeba': ['--dataset', 'folder', '--data-dir', celeba, '--max-steps', '300']}
    results = {}
    for run in args.runs:
        for seed in args.seeds:
            for order in args.orders:
                output_dir = os.path.join(work, '{}-{}-seed{}'.format(run, order, seed))
                swd, seconds = train(runs[run] + ['--seed', str(seed), '--update-order', order], output_dir)
                results[run, order, seed] = swd
                print('{} {} seed {}: SWD {:.4f} in {:.0f} s ({})'.format(run, order, seed, swd, seconds, output_dir),
                      flush=True)
    print('\n| run | order | ' + ' | '.join('seed {}'.format(seed) for seed in args.seeds) + ' | median |')
    print('|---|---|' + '---|' * (len(args.seeds) + 1))
    for run in args.runs:
        for order in args.orders:
            values = [results[run, order, seed] for seed in args.seeds]
            print('| {} | {} | {} | {:.3f} |'.format(run, order, ' | '.join('{:.3f}'.format(v) for v in values),
                                                     statistics.median(values)))


if __name__ == '__main__':
    main()
