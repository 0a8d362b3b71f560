"""
Check the sliced Wasserstein distance on real CelebA before trusting it: two disjoint real sets
(the floor), then each known degradation at rising strength, which must score higher, in order.

    python benchmarks/swd_check.py                     # the shared CelebA sample, 512 per side
    python benchmarks/swd_check.py --folder DIR --images 256
"""
import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import helper  # noqa: E402  (after the path set-up)
from common import add_folder_argument  # noqa: E402  (benchmarks/ is the script's own folder)
from facegan.metrics import sliced_wasserstein as sw  # noqa: E402


def main():
    """Print the floor and each degradation's distances; exit 1 if any is out of order."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_folder_argument(parser, synthetic_fallback=False)
    parser.add_argument('--images', type=int, default=512, help='images per side')
    args = parser.parse_args()
    files = helper.list_image_files(args.folder)[:2 * args.images]
    images = helper.get_batch(files, 28, 28, 'RGB') / 127.5 - 1
    real, other_real = images[:args.images], images[args.images:]
    start = time.perf_counter()
    clean = sw.sliced_wasserstein(real, other_real)
    print('{} real images per side from {}; one SWD takes {:.1f} s'.format(
        args.images, args.folder, time.perf_counter() - start))
    print('{:<16} {:>8}'.format('real vs real', '{:.4f}'.format(clean)))
    rng = np.random.default_rng(0)
    ordered = True
    for kind, strengths in sw.DEGRADATION_STRENGTHS.items():
        distances = [sw.sliced_wasserstein(real, sw.degrade(other_real, kind, s, rng)) for s in strengths]
        in_order = clean < distances[0] and all(a < b for a, b in zip(distances, distances[1:]))
        ordered &= in_order
        print('{:<16} {}  {}'.format(kind, '  '.join('{}: {:.4f}'.format(s, d) for s, d in zip(strengths, distances)),
                                     'in order' if in_order else 'OUT OF ORDER'))
    sys.exit(0 if ordered else 1)


if __name__ == '__main__':
    main()
