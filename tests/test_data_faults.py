"""
The image cache and image reading under faults: files changed in place, two processes at once,
a damaged cache, a full disk, every kind of unreadable input file, and --data-dir naming a file.
Each test makes its own small images in tmp_path.
"""
import io
import os

import numpy as np
from PIL import Image

import helper

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _faces(folder, count, size=(178, 218)):
    """count random RGB PNGs in folder; :return: their sorted paths"""
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(count)
    for i in range(count):
        Image.fromarray(rng.integers(0, 256, size[::-1] + (3,), dtype=np.uint8)).save(
            os.path.join(folder, '{:03d}.png'.format(i)))
    return helper.list_image_files(folder)


def _lines(text, start):
    return [line for line in text.replace('\r', '\n').splitlines() if line.startswith(start)]


# --- 1. The cache key sees a file replaced by one of the same size, or edited in place ----------

def _uncompressed_png(value):
    """:return: Bytes of a 178x218 PNG of one grey value; every such file has the same size"""
    png = io.BytesIO()
    Image.new('RGB', (178, 218), (value,) * 3).save(png, 'PNG', compress_level=0)
    return png.getvalue()


def test_cache_sees_an_image_replaced_or_edited_with_the_same_size(tmp_path):
    folder, cache = str(tmp_path / 'imgs'), str(tmp_path / 'cache')
    paths = _faces(folder, 3)
    target = paths[1]
    old = 10 ** 18  # a time in 2001: any write from now on gives the file a later one

    def pixel_served():
        return helper.Dataset('celeba', paths, cache_dir=cache).images([1])[0, 0, 0].tolist()

    with open(target, 'wb') as f:
        f.write(_uncompressed_png(1))
    os.utime(target, ns=(old, old))
    assert pixel_served() == [1, 1, 1]

    # Replaced by another file of exactly the same size, written then renamed over it
    size = os.path.getsize(target)
    with open(str(tmp_path / 'replacement.png'), 'wb') as f:
        f.write(_uncompressed_png(7))
    os.replace(str(tmp_path / 'replacement.png'), target)
    assert os.path.getsize(target) == size
    assert pixel_served() == [7, 7, 7], 'stale pixels: the cache missed a file replaced by one of the same size'

    # Edited in place: the same file, the same size, new bytes
    os.utime(target, ns=(old, old))
    assert pixel_served() == [7, 7, 7]
    with open(target, 'r+b') as f:
        f.write(_uncompressed_png(200))
    assert os.path.getsize(target) == size
    assert pixel_served() == [200, 200, 200], 'stale pixels: the cache missed a file edited in place'
