"""
Reading one image file, whatever it holds: finding the images in a folder, opening only regular
files (never blocking on a FIFO), turning 16-bit, palette and 1-bit images into 8 bits before they
are cropped and resized, and treating any unreadable file as a skipped image rather than an error.
"""
import errno
import os
import stat

import numpy as np
from PIL import Image

from facegan.core.errors import DatasetError, one_line

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png')

# What one unreadable input file raises, whatever is wrong with it: OSError for file-system
# problems (gone, a dangling symlink, a symlink loop, a folder, not a regular file) and for most
# damage Pillow finds (not an image, truncated, a bad CRC); ValueError and SyntaxError for
# malformed headers; EOFError for files that end early; DecompressionBombError for a declared size
# too large to decode safely. Pillow turns its own IndexError and struct.error into OSError.
UNREADABLE_IMAGE_ERRORS = (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError)

# Modes that Pillow would crop, resize or convert badly as they are: 16-bit grey ('I;16', or 'I'
# from older Pillow) would be clipped to white, and palette and 1-bit images would be resized by
# nearest neighbour. Palette images with a transparent colour open as RGBA, like RGBA files.
_EXPANDED_MODES = {'1': 'L', 'P': 'RGB', 'PA': 'RGBA'}


def list_image_files(folder):
    """
    Find every image under a folder, recursively, skipping hidden folders (such as the cache)
    :param folder: Folder to search
    :return: Sorted list of jpg, jpeg and png paths
    """
    found = []

    def unreadable(err):
        """A folder os.walk cannot list: one it may not read is an error, not an empty folder (others it skips)"""
        if isinstance(err, PermissionError):
            raise DatasetError('{} cannot be read ({}): give yourself access to it, or choose another folder'.format(
                one_line(os.fsdecode(err.filename)), err.strerror))

    for root, dirs, files in os.walk(folder, onerror=unreadable):
        dirs[:] = [d for d in dirs if not d.startswith('.')]
        found.extend(os.path.join(root, name) for name in files if name.lower().endswith(IMAGE_EXTENSIONS))
    return sorted(found)


def open_regular_file(path):
    """
    Open a file for reading, refusing FIFOs, devices and folders without blocking on them
    :param path: The file
    :return: Binary file object; raises OSError for anything but a regular file
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, 'O_NONBLOCK', 0))  # opening a FIFO never blocks
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, 'Not a regular file', path)
        return os.fdopen(fd, 'rb')
    except BaseException:
        os.close(fd)
        raise


def whole(image):
    """
    Refuse an image whose file holds only part of its pixels, which Pillow would otherwise leave
    black without a word (a TIFF whose height was damaged: its strips stop short of it)
    :param image: PIL image as opened, before it is loaded
    :return: The image; raises OSError when its pixel data covers less than the whole image
    """
    if image.format == 'GIF':  # a first frame smaller than the screen leaves the background: as it should
        return image
    width, height = image.size
    covered = sum(max(0, min(right, width) - max(left, 0)) * max(0, min(bottom, height) - max(top, 0))
                  for left, top, right, bottom in (tile[1] or (0, 0, width, height) for tile in image.tile))
    if image.tile and covered < width * height:
        raise OSError('image data covers {} of its {}x{} pixels'.format(covered, width, height))
    return image


def eight_bit(image):
    """
    :param image: PIL image as opened
    :return: The image in a mode that crops, resizes and converts faithfully
    """
    if image.mode.startswith('I'):  # 16-bit grey: keep the high byte
        return Image.fromarray((np.clip(np.asarray(image, dtype=np.int64), 0, 65535) >> 8).astype(np.uint8))
    if image.mode == 'P' and 'transparency' in image.info:
        return image.convert('RGBA')
    if image.mode in _EXPANDED_MODES:
        return image.convert(_EXPANDED_MODES[image.mode])
    return image


def decode_or_none(image_file, width, height, mode, read):
    """
    :param image_file: Path of the image
    :param width: Width of image
    :param height: Height of image
    :param mode: Mode of image, 'RGB' or 'L'
    :param read: Function that turns an open image file into its array: read(file, width, height, mode)
        (helper.get_image)
    :return: read's array, or None for a file that cannot be read as an image, whatever the reason
    """
    try:
        with open_regular_file(image_file) as f:
            return read(f, width, height, mode)
    except UNREADABLE_IMAGE_ERRORS:
        return None
