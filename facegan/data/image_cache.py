"""
Every image preprocessed once into a memory-mapped uint8 .npy file, keyed by the file list, each
file's size and modification time, the image size and the mode. The .npy and its small .json index
are written under temporary names, the index last, so an interrupted build is never used; the index
holds a sha256 of the .npy and the skipped list, so a damaged cache (a flipped bit, a cut file) is
rebuilt rather than served; stale ones are removed, and two processes take turns on a lock file.
The decoding itself is the caller's (helper.get_image), handed in as `decode`.
"""
import concurrent.futures
import errno
import hashlib
import json
import os
import re
import sys
import tempfile
import tokenize

import numpy as np
from tqdm import tqdm

from facegan.core import files
from facegan.core.errors import DatasetError, one_line
from facegan.data import images

# A cache file's name: MODE-WxH-KEY.npy or .json (with files.temp_path's suffix while it is written)
_CACHE_FILE = re.compile(r'^[A-Za-z]+-\d+x\d+-[0-9a-f]{20}\.(npy|json)$')


def _file_stamp(path):
    """
    :return: 'size mtime_ns' of a file, or '-' when it cannot be looked at (it is skipped when decoded)
    """
    try:
        info = os.stat(path)
    except OSError:
        return '-'
    return '{} {}'.format(info.st_size, info.st_mtime_ns)


def _cache_key(image_files, width, height, mode):
    """
    :return: A key that changes when the file list, any file's size or modification time, the image
        size or the mode does
    """
    digest = hashlib.sha1('v3 {} {} {}\n'.format(width, height, mode).encode())
    for image_file in image_files:
        # The name's bytes as the file system has them (any but NUL, not always UTF-8), then a NUL,
        # which no name holds, so no two file lists give the same text
        digest.update(os.fsencode(os.path.abspath(image_file)) + b'\0' + _file_stamp(image_file).encode() + b'\n')
    return digest.hexdigest()[:20]


def default_cache_dir(image_files):
    """
    :return: A .cache folder beside the data, or one in the temporary folder if that is read-only
    """
    beside = os.path.join(os.path.commonpath([os.path.dirname(os.path.abspath(f)) for f in image_files]), '.cache')
    try:
        os.makedirs(beside, exist_ok=True)
        if os.access(beside, os.W_OK):
            return beside
    except OSError:
        pass
    return os.path.join(tempfile.gettempdir(), 'dlnd-face-cache')


def build_cache(image_files, width, height, mode, cache_dir, decode, workers=None):
    """
    Preprocess images once, exactly as decode does, into a uint8 .npy file that is memory-mapped.
    One process at a time builds or reads a cache folder: a second one waits, then uses the cache.
    :param image_files: Image paths
    :param width: Width of image
    :param height: Height of image
    :param mode: Mode of image, 'RGB' or 'L'
    :param cache_dir: Folder for the cache files
    :param decode: Function that turns an open image file into its array: decode(file, width, height, mode)
    :param workers: Decoding threads (Pillow decodes without the GIL); default: one per core
    :return: (read-only memmap of shape (n, height, width, channels), indices of unreadable files)
    """
    shape = (len(image_files), int(height), int(width), 1 if mode == 'L' else 3)
    prefix = '{}-{}x{}-'.format(mode, width, height)
    key = prefix + _cache_key(image_files, width, height, mode)
    array_path = os.path.join(cache_dir, key + '.npy')
    index_path = os.path.join(cache_dir, key + '.json')  # written last: its presence means complete
    with files.disk_full_as_one_line(cache_dir, 'the image cache', lambda: _npy_size(shape)):
        os.makedirs(cache_dir, exist_ok=True)
        with files.one_at_a_time(os.path.join(cache_dir, '.lock'),
                                      'using the image cache in {}'.format(cache_dir)):
            cached = _checked_cache(array_path, index_path, shape)
            if cached is None:
                _clear_cache_folder(cache_dir, prefix, key)
                _write_cache(image_files, shape, (mode, decode, workers), array_path, index_path)
                cached = _read_cache(array_path, index_path)[:2]
    return cached


def _npy_size(shape):
    """
    :return: About the bytes of a uint8 .npy file of this shape: a header, then the pixels
    """
    return 128 + int(np.prod(shape))


def _read_cache(array_path, index_path):
    """
    :return: (read-only memmap of the .npy, the .json index's 'skipped' list, its 'sha256', its 'count')
    """
    with open(index_path) as f:
        index = json.load(f)
    return np.load(array_path, mmap_mode='r'), index['skipped'], index['sha256'], index['count']


def _checksum(array_path, skipped):
    """
    :param array_path: The cache's .npy
    :param skipped: Indices of the files that could not be read
    :return: sha256 (hex) of the .npy's bytes, header and pixels, and of the skipped list
    """
    digest = hashlib.sha256()
    with open(array_path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            digest.update(block)
    digest.update(json.dumps(skipped).encode())
    return digest.hexdigest()


def _cache_problem(array_path, index_path, shape):
    """
    :return: ((memmap, skipped), None) for a whole cache, or (None, what is wrong with it)
    """
    try:
        cached, skipped, checksum, count = _read_cache(array_path, index_path)
        if not (cached.dtype == np.uint8 and cached.shape == shape):
            return None, 'it holds {} {}, not uint8 {}'.format(cached.dtype, cached.shape, shape)
        if count != shape[0] or not all(type(i) is int and 0 <= i < shape[0] for i in skipped):
            return None, 'its index does not match its {} images'.format(shape[0])
        if checksum != _checksum(array_path, skipped):
            return None, 'its checksum does not match'
        return (cached, skipped), None
    # np.load (its header goes through tokenize and ast.literal_eval), json.load, the index's fields
    except (OSError, ValueError, SyntaxError, tokenize.TokenError, EOFError, KeyError, TypeError) as err:
        return None, ' '.join(str(err).split()) or type(err).__name__


def _checked_cache(array_path, index_path, shape):
    """
    :return: The cache's (memmap, skipped) when it is there and whole; None when there is none. A
        damaged one (an index that is not JSON, a truncated, mis-shaped or changed array, a changed
        index) is removed, with a note; one that cannot be removed is a DatasetError.
    """
    if not os.path.exists(index_path):
        return None
    cached, problem = _cache_problem(array_path, index_path, shape)
    if problem is None:
        return cached
    for path in (index_path, array_path):
        try:
            os.remove(path)
        except FileNotFoundError:
            pass
        except OSError as err:
            raise DatasetError('the image cache {} is damaged ({}) and cannot be removed ({}): delete it, or make '
                               'its folder writable'.format(one_line(path), problem, err.strerror)) from None
    print('note: the image cache {} was damaged ({}); rebuilding it'.format(one_line(array_path), problem),
          file=sys.stderr)
    return None


def _clear_cache_folder(cache_dir, prefix, key):
    """
    Before a build, remove what no one will use: temporary files of interrupted builds (no other
    build runs, as the caller holds the folder's lock) and this size and mode's caches of other file
    lists (the folder as it was). Files not named like the cache's are never touched.
    :param cache_dir: Folder of the cache
    :param prefix: The size and mode's part of the names, 'RGB-28x28-'
    :param key: The name, less its extension, of the cache about to be built
    """
    ours = [name for name in os.listdir(cache_dir) if _CACHE_FILE.match(files.without_temporary_suffix(name))]
    temporary = [name for name in ours if files.is_temporary(name)]
    stale = [name for name in ours if name not in temporary and name.startswith(prefix) and
             not name.startswith(key + '.')]
    files.remove_leftovers([os.path.join(cache_dir, name) for name in temporary],
                                'cache build in {}'.format(cache_dir))
    for name in stale:
        os.remove(os.path.join(cache_dir, name))
    if stale:
        print('note: the image files (their list, paths, sizes or dates) changed since the image cache in {} was '
              'made; rebuilding it'.format(one_line(cache_dir)), file=sys.stderr)


def _write_cache(image_files, shape, decoding, array_path, index_path):
    """
    Decode every image into a new .npy, then write its .json index: each under a temporary name,
    renamed when complete, the index last. Space for the array is claimed first, so a full disk
    stops the build at once rather than after the decoding.
    :param image_files: Image paths
    :param shape: (count, height, width, channels)
    :param decoding: (mode, decode, workers) as build_cache has them
    :param array_path: The .npy to write
    :param index_path: The .json to write
    """
    skipped = []

    def write_array(path):
        with open(path, 'wb') as f:
            np.lib.format.write_array_header_1_0(f, {'descr': '|u1', 'fortran_order': False, 'shape': shape})
            _claim_space(f, f.tell() + int(np.prod(shape)))
            skipped.extend(_decode_into(f, image_files, shape, *decoding))

    def write_index(path):
        with open(path, 'w') as f:
            json.dump({'count': shape[0], 'skipped': skipped, 'sha256': checksum}, f)

    files.write_atomically(array_path, write_array)
    checksum = _checksum(array_path, skipped)  # the index, written last, vouches for the array as written
    files.write_atomically(index_path, write_index)


def _claim_space(f, size):
    """
    Allocate a file's final size on disk now, where the file system can; raises OSError (ENOSPC)
    when the disk is too full
    :param f: The open file
    :param size: Its final size in bytes
    """
    try:
        os.posix_fallocate(f.fileno(), 0, size)
    except AttributeError:  # no posix_fallocate here: a full disk shows when the pixels are written
        pass
    except OSError as err:
        if err.errno not in (errno.EINVAL, errno.EOPNOTSUPP, getattr(errno, 'ENOSYS', errno.EINVAL)):
            raise


def _decode_into(out, image_files, shape, mode, decode, workers):
    """
    Decode the images on threads and write their pixels to out, in order
    :param out: Binary file to write to
    :param image_files: Image paths
    :param shape: (count, height, width, channels)
    :param mode: Mode of image, 'RGB' or 'L'
    :param decode: Function that turns an open image file into its array (helper.get_image)
    :param workers: Decoding threads (Pillow decodes without the GIL); default: one per core
    :return: Indices of the files that could not be read (written as black)
    """
    _, height, width, channels = shape
    blank = bytes(height * width * channels)
    skipped = []
    with concurrent.futures.ThreadPoolExecutor(workers or os.cpu_count()) as pool:
        # images.decode_or_none is looked up at each call, so a test can patch it there
        decoded = pool.map(lambda f: images.decode_or_none(f, width, height, mode, decode), image_files)
        for i, image in enumerate(tqdm(decoded, total=len(image_files), unit='File', desc='Caching images')):
            if image is None:
                skipped.append(i)
                out.write(blank)
            else:
                out.write(np.ascontiguousarray(image, dtype=np.uint8).reshape(height, width, channels).tobytes())
    return skipped
