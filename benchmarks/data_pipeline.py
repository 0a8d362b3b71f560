"""
How fast does data reach the training loop? In one run, on the real CelebA sample when present:

1. the cache build time (cold, with one thread and with one thread per core);
2. batches per second from the cache (Dataset.get_batches) against the original per-batch JPEG
   path (helper.get_batch on the same shuffled file lists), alternating, median of repeats;
3. with --full-scale, the peak memory of a Dataset as large as full CelebA (202,599 images),
   iterated through one epoch, against the size of its uint8 cache and of a float32 copy.

    python benchmarks/data_pipeline.py                       # the shared CelebA sample
    python benchmarks/data_pipeline.py --folder DIR --full-scale
"""
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import helper  # noqa: E402  (after the path set-up)
from facegan.data import image_cache  # noqa: E402
from common import timing_parser  # noqa: E402  (benchmarks/ is the script's own folder)

FULL_CELEBA = 202599


def parse_args():
    """:return: Parsed command line"""
    parser = timing_parser(__doc__)
    parser.add_argument('--batches', type=int, default=20, help='batches timed per repeat')
    parser.add_argument('--full-scale', action='store_true', help='also check memory at full CelebA size')
    return parser.parse_args()


def time_cache_build(files, workers):
    """
    :return: Seconds to build a cache from nothing with this many decoding threads
    """
    cache_dir = tempfile.mkdtemp(prefix='cache-bench-')
    try:
        start = time.perf_counter()
        image_cache.build_cache(files, 28, 28, 'RGB', cache_dir, helper.get_image, workers=workers)
        return time.perf_counter() - start
    finally:
        shutil.rmtree(cache_dir)


def batches_per_second(make_batches, count):
    """
    :param make_batches: Callable returning a fresh batch iterator
    :param count: Batches to time
    :return: Batches per second over count batches
    """
    batches = make_batches()
    start = time.perf_counter()
    for _ in range(count):
        next(batches)
    return count / (time.perf_counter() - start)


def jpeg_batches(files, batch_size, rng):
    """The original path: decode, crop and resize every image of every batch."""
    while True:
        order = rng.permutation(len(files))
        for i in range(0, len(files) - batch_size + 1, batch_size):
            yield helper.get_batch([files[j] for j in order[i:i + batch_size]], 28, 28, 'RGB') / 255 - 0.5


def full_scale_memory(sample_files, batch_size):
    """
    Build a Dataset of FULL_CELEBA 28x28 images (the sample's, repeated) and run one epoch
    :return: (peak RSS in MB after the epoch, uint8 cache MB, float32 copy MB, epoch seconds)
    """
    folder = tempfile.mkdtemp(prefix='full-scale-')
    try:
        small = [Image.fromarray(helper.get_image(f, 28, 28, 'RGB')) for f in sample_files[:1000]]
        for i in range(FULL_CELEBA):
            small[i % len(small)].save(os.path.join(folder, '{:06d}.png'.format(i)), compress_level=1)
        dataset = helper.Dataset('celeba', helper.list_image_files(folder), seed=0,
                                 cache_dir=os.path.join(folder, '.cache'))
        start = time.perf_counter()
        for _ in dataset.get_batches(batch_size):
            pass
        seconds = time.perf_counter() - start
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        uint8_mb = FULL_CELEBA * 28 * 28 * 3 / 2 ** 20
        return peak_mb, uint8_mb, uint8_mb * 4, seconds
    finally:
        shutil.rmtree(folder)


def main():
    """Run the measurements and print a table."""
    args = parse_args()
    if args.folder:
        files = helper.list_image_files(args.folder)
        source = args.folder
    else:
        folder = helper.make_synthetic_faces(tempfile.mkdtemp(prefix='faces-'), 3000, 0)
        files = helper.list_image_files(folder)
        source = 'synthetic faces'
    print('{} images from {}'.format(len(files), source))

    cores = os.cpu_count()
    one_thread = time_cache_build(files, 1)
    all_threads = time_cache_build(files, cores)
    print('cache build, 1 thread: {:.1f} s; {} threads: {:.1f} s ({:.2f}x)'.format(
        one_thread, cores, all_threads, one_thread / all_threads))

    cache_dir = tempfile.mkdtemp(prefix='cache-bench-')
    dataset = helper.Dataset('celeba', files, seed=0, cache_dir=cache_dir)
    rng = np.random.default_rng(0)
    jpeg, cached = [], []
    for _ in range(args.repeats):  # alternating, so both see the same machine state
        jpeg.append(batches_per_second(lambda: jpeg_batches(files, args.batch_size, rng), args.batches))
        cached.append(batches_per_second(lambda: dataset.get_batches(args.batch_size), args.batches))
    shutil.rmtree(cache_dir)
    print('batch {}: JPEG path {:.1f} batches/s, cache {:.0f} batches/s (medians of {}); ratio {:.0f}x'.format(
        args.batch_size, statistics.median(jpeg), statistics.median(cached), args.repeats,
        statistics.median(cached) / statistics.median(jpeg)))

    if args.full_scale:
        peak, uint8_mb, float_mb, seconds = full_scale_memory(files, args.batch_size)
        print('full scale ({} images): one epoch in {:.1f} s, peak RSS {:.0f} MB; the uint8 cache is {:.0f} MB, '
              'a float32 copy would be {:.0f} MB'.format(FULL_CELEBA, seconds, peak, uint8_mb, float_mb))


if __name__ == '__main__':
    main()
