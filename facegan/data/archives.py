"""
Extracting a downloaded archive into a folder of images: MNIST's gzipped IDX file (each digit
written as a JPEG at quality 100, named as the Udacity template's helper named them, so that its
notebook's `mnist/*.jpg` finds them) or CelebA's zip of JPEGs (flattened, wherever they sit inside
it). The images go to a hidden temporary folder, renamed into place with a COMPLETE_MARKER inside
only when every image is there. A folder an earlier version extracted as PNGs is converted in place.
"""
import gzip
import os
import shutil
import zipfile

import numpy as np
from PIL import Image
from tqdm import tqdm

from facegan.core import files
from facegan.core.errors import DatasetError, one_line

COMPLETE_MARKER = '.complete'  # written into an extraction just before it is renamed into place
# The template saved MNIST's digits as JPEGs at Pillow's default quality, 75: up to 54 levels of 255 off
# the IDX values (on 2,000 of MNIST's test digits). At 100 they are at most 2 off (median 1), about 1 kB each
MNIST_JPEG_QUALITY = 100


def _read32(bytestream):
    """
    Read 32-bit integer from bytesteam
    :param bytestream: A bytestream
    :return: 32-bit integer, or None when the stream ends before four bytes
    """
    data = bytestream.read(4)
    return int(np.frombuffer(data, dtype=np.dtype(np.uint32).newbyteorder('>'))[0]) if len(data) == 4 else None


def _read_idx_header(bytestream, save_path):
    """
    Read an IDX image file's header (magic 2051, then count, rows, cols, big-endian)
    :param bytestream: The file, decompressed, at its start
    :param save_path: Its path, for the message
    :return: (count, rows, cols)
    """
    idx_image_magic = 2051
    magic = _read32(bytestream)
    if magic is not None and magic != idx_image_magic:
        raise DatasetError('Invalid magic number {} in {}: not an IDX image file; delete it '
                           'and download it again'.format(magic, save_path))
    sizes = _read32(bytestream), _read32(bytestream), _read32(bytestream)
    if magic is None or None in sizes:
        raise DatasetError('{} is truncated: it ends inside its header; delete it and download it again'
                           .format(save_path))
    return sizes


def read_idx_images(save_path):
    """
    Read an IDX image file (the MNIST format: magic 2051, then count, rows, cols, big-endian)
    :param save_path: Path of the gzipped IDX file
    :return: uint8 array of shape (count, rows, cols)
    """
    try:
        with gzip.open(save_path, 'rb') as bytestream:
            num_images, rows, cols = _read_idx_header(bytestream, save_path)
            buf = bytestream.read(rows * cols * num_images)
    except (OSError, EOFError) as err:
        raise DatasetError('{} is not a readable gzip file ({}); delete it and download it '
                           'again'.format(save_path, err)) from None
    if len(buf) != rows * cols * num_images:
        raise DatasetError('{} is truncated: expected {} images of {}x{}; delete it and download '
                           'it again'.format(save_path, num_images, rows, cols))
    return np.frombuffer(buf, dtype=np.uint8).reshape(num_images, rows, cols)


def _progress(items, database_name):
    """:return: items with an extraction progress bar"""
    return tqdm(items, unit='File', unit_scale=True, miniters=1, desc='Extracting {}'.format(database_name))


def _ungzip(save_path, extract_path, database_name):
    """
    Write each image of a gzipped IDX file as image_N.jpg in extract_path, as the template did
    :param save_path: The path of the gzip file
    :param extract_path: The folder to write the images to
    :param database_name: Name of database, for the progress bar
    """
    for image_i, image in enumerate(_progress(read_idx_images(save_path), database_name)):
        Image.fromarray(image).save(os.path.join(extract_path, 'image_{}.jpg'.format(image_i)),
                                    quality=MNIST_JPEG_QUALITY)


def convert_png_digits(folder):
    """
    Convert the MNIST folder an earlier version extracted (image_N.png, lossless) to the template's
    image_N.jpg, in place: each JPEG under a temporary name then renamed, each PNG removed once its
    JPEG is there, so a run killed part-way is finished by the next one. The caller holds the
    folder's lock (files.one_at_a_time)
    :param folder: The MNIST folder
    :return: How many digits were converted (0: none to convert)
    """
    pngs = sorted(name for name in os.listdir(folder) if name.startswith('image_') and name.endswith('.png'))
    for name in tqdm(pngs, unit='File', desc='Converting MNIST to JPEG', disable=not pngs):
        png = os.path.join(folder, name)
        jpeg = png[:-len('.png')] + '.jpg'
        if not os.path.exists(jpeg):
            with Image.open(png) as digit:
                digit.load()
                files.write_atomically(jpeg, lambda temporary, d=digit: d.save(
                    temporary, format='JPEG', quality=MNIST_JPEG_QUALITY))
        os.remove(png)
    return len(pngs)


def _unzip(save_path, extract_path, database_name):
    """
    Extract the JPEGs of a zip file, wherever they are inside it, into extract_path
    :param save_path: The path of the zip file
    :param extract_path: The folder to put the images in
    :param database_name: Name of database, for the progress bar
    """
    try:
        with zipfile.ZipFile(save_path) as zf:
            members = [m for m in zf.infolist() if m.filename.lower().endswith('.jpg')]
            for member in _progress(members, database_name):
                # Flatten: celeba.zip holds img_align_celeba/*.jpg, Kaggle's copy one level deeper
                target = os.path.join(extract_path, os.path.basename(member.filename))
                with zf.open(member) as src, open(target, 'wb') as dst:
                    shutil.copyfileobj(src, dst)
    except (zipfile.BadZipFile, EOFError):
        raise DatasetError('{} is not a zip file'.format(one_line(save_path))) from None


def _extracted_size(save_path, folder):
    """
    :param save_path: A gzipped IDX file or a zip of JPEGs
    :param folder: Where its images go
    :return: About how much space its images take there once extracted
    """
    if save_path.endswith('.gz'):
        with gzip.open(save_path, 'rb') as bytestream:
            count, rows, cols = _read_idx_header(bytestream, save_path)
        sizes = [rows * cols + 300] * count  # a JPEG of a digit at quality 100: its pixels and a header
    else:
        with zipfile.ZipFile(save_path) as zf:
            sizes = [m.file_size for m in zf.infolist() if m.filename.lower().endswith('.jpg')]
    return files.bytes_on_disk(sizes, folder)


def extract(save_path, extract_path, database_name):
    """
    Extract an archive into a temporary folder beside extract_path, then rename it into place; the
    caller holds the folder's lock (files.one_at_a_time)
    :param save_path: The archive, a gzipped IDX file (.gz) or a zip of JPEGs
    :param extract_path: Where the images end up
    :param database_name: Name of database, for the progress bar
    """
    extract_fn = _ungzip if save_path.endswith('.gz') else _unzip

    def fill(tmp_path):
        extract_fn(save_path, tmp_path, database_name)
        open(os.path.join(tmp_path, COMPLETE_MARKER), 'w').close()

    files.build_folder(extract_path, 'extracting', fill,
                            lambda: _extracted_size(save_path, os.path.dirname(extract_path)))
