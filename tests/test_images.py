"""
facegan/data/images.py: finding a folder's images, opening only regular files (a FIFO never blocks), refusing an
image whose pixels stop short, 16-bit, palette and 1-bit images made 8-bit faithfully, and any unreadable file a
skipped image.
"""
import errno
import io
import os
import re
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from facegan.core.errors import DatasetError
from facegan.data import images
from test_checkpoint_files import flags_named


def _encoded(image, image_format='PNG', **options):
    data = io.BytesIO()
    image.save(data, image_format, **options)
    return data.getvalue()


# --- listing ------------------------------------------------------------------------------------

def test_images_are_listed_recursively_sorted_skipping_hidden_folders_and_other_files(tmp_path):
    for rel in ['b.jpg', 'a.PNG', 'sub/c.JPEG', 'sub/deeper/d.png', 'notes.txt', 'e.gif', 'f.jpg.txt',
                '.cache/g.png', 'sub/.hidden/h.jpg', '.i.png']:
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b'')
    found = [os.path.relpath(p, str(tmp_path)) for p in images.list_image_files(str(tmp_path))]
    assert found == ['.i.png', 'a.PNG', 'b.jpg', os.path.join('sub', 'c.JPEG'), os.path.join('sub', 'deeper', 'd.png')]


def test_a_missing_folder_has_no_images(tmp_path):
    assert images.list_image_files(str(tmp_path / 'missing')) == []


def test_the_extensions_are_jpg_jpeg_and_png():
    assert images.IMAGE_EXTENSIONS == ('.jpg', '.jpeg', '.png')


# --- opening only regular files ---------------------------------------------------------------------

def test_a_regular_file_opens_for_reading_in_binary(tmp_path):
    (tmp_path / 'a.png').write_bytes(b'\x89PNG')
    with images.open_regular_file(str(tmp_path / 'a.png')) as f:
        assert f.read() == b'\x89PNG' and f.mode == 'rb'


@pytest.mark.parametrize('kind', ['fifo', 'folder', 'device'])
def test_anything_but_a_regular_file_is_refused_without_blocking_or_leaking(tmp_path, kind):
    path = str(tmp_path / 'x.png')
    if kind == 'fifo':
        os.mkfifo(path)  # opened for reading, a FIFO with no writer would block for ever
    elif kind == 'folder':
        os.mkdir(path)
    else:
        path = os.devnull
    before = len(os.listdir('/proc/self/fd'))
    with pytest.raises(OSError) as err:
        images.open_regular_file(path)
    assert len(os.listdir('/proc/self/fd')) == before
    if kind != 'folder':  # a folder cannot even be opened for reading on some systems: EISDIR
        assert (err.value.errno, err.value.strerror, err.value.filename) == (errno.EINVAL, 'Not a regular file', path)


def test_where_there_is_no_o_nonblock_files_open_all_the_same(tmp_path, monkeypatch):
    """Windows has no O_NONBLOCK (nor FIFOs): a plain read-only open."""
    monkeypatch.delattr(os, 'O_NONBLOCK')
    (tmp_path / 'a.png').write_bytes(b'\x89PNG')
    with images.open_regular_file(str(tmp_path / 'a.png')) as f:
        assert f.read() == b'\x89PNG'


def test_a_missing_file_is_an_oserror(tmp_path):
    with pytest.raises(FileNotFoundError):
        images.open_regular_file(str(tmp_path / 'missing.png'))


# --- whole images ---------------------------------------------------------------------------------

def _taller_tiff(rows):
    """
    :return: An uncompressed 28x28 grey TIFF of grey 200 whose ImageLength tag says rows: its one
        strip then holds only the first 28 of them (what a flipped bit in the tag makes)
    """
    data = bytearray(_encoded(Image.new('L', (28, 28), 200), 'TIFF'))
    ifd = int.from_bytes(data[4:8], 'little')
    for entry in range(int.from_bytes(data[ifd:ifd + 2], 'little')):
        at = ifd + 2 + 12 * entry
        if int.from_bytes(data[at:at + 2], 'little') == 257:  # ImageLength
            data[at + 8:at + 12] = rows.to_bytes(4, 'little')
    return bytes(data)


def test_an_image_whose_pixels_stop_short_is_refused():
    """Was: a 28x284 TIFF with one 28-row strip served as an all-black image."""
    with Image.open(io.BytesIO(_taller_tiff(284))) as opened:
        assert opened.size == (28, 284)
        with pytest.raises(OSError, match=r'^image data covers 784 of its 28x284 pixels$'):
            images.whole(opened)
    with Image.open(io.BytesIO(_taller_tiff(28))) as opened:
        assert images.whole(opened) is opened


def test_an_image_one_pixel_short_is_refused():
    with Image.open(io.BytesIO(_taller_tiff(29))) as opened:
        with pytest.raises(OSError, match='covers 784 of its 28x29'):
            images.whole(opened)


@pytest.mark.parametrize('tiles,whole', [
    ([(0, 0, 10, 5), (0, 5, 10, 10)], True),  # two strips
    ([(0, 0, 10, 10)], True),
    ([(0, 0, 10, 9)], False),
    ([(0, 0, 9, 10)], False),
    ([(-5, -5, 15, 15)], True),  # a tile past the edges covers what is inside them
    ([(-5, 0, 5, 10)], False),
    ([(0, 0, 5, 10), (5, 0, 20, 10)], True),
    ([(0, 0, 5, 10), (10, 0, 20, 10)], False),  # the second tile outside but for nothing
    ([(0, 0, 9, 10), (10, 0, 20, 10)], False),  # a tile right of the image covers none of it
    ([(0, 0, 10, 9), (0, 10, 10, 20)], False),  # nor one below it
    ([(0, 0, 10, 4), (0, 5, 10, 10)], False),  # a strip missing between two: 90 of 100
    ([None], True),  # a tile without a box covers the image
    ([], True),  # nothing said of the pixel data: as Pillow has it
])
def test_the_pixels_the_tiles_cover_are_counted_inside_the_image(tiles, whole):
    class Opened:
        format, size = 'TIFF', (10, 10)
        tile = [('raw', box, 0, ('L', 0, 1)) for box in tiles]

    opened = Opened()
    if whole:
        assert images.whole(opened) is opened
    else:
        with pytest.raises(OSError):
            images.whole(opened)


def test_a_gif_whose_first_frame_is_smaller_than_its_screen_is_whole():
    frames = [Image.new('P', (20, 20), 1), Image.new('P', (20, 20), 2)]
    data = _encoded(frames[0], 'GIF', save_all=True, append_images=frames[1:])
    with Image.open(io.BytesIO(data)) as opened:
        opened.tile = [('gif', (0, 0, 10, 10), 0, None)]  # a first frame in a corner of the screen
        assert images.whole(opened) is opened


# --- eight bits ------------------------------------------------------------------------------------

def test_16_bit_grey_keeps_its_high_byte():
    values = np.array([[0, 255, 256, 511], [32768, 65280, 65535, 1000]], np.uint16)
    opened = Image.open(io.BytesIO(_encoded(Image.fromarray(values))))
    assert opened.mode.startswith('I')
    eight = images.eight_bit(opened)
    assert eight.mode == 'L'
    np.testing.assert_array_equal(np.asarray(eight), [[0, 0, 1, 1], [128, 255, 255, 3]])


def test_32_bit_integers_beyond_16_bits_are_clipped_first():
    values = np.array([[-5, 70000, 65535, 256]], np.int32)
    eight = images.eight_bit(Image.fromarray(values, 'I'))
    np.testing.assert_array_equal(np.asarray(eight), [[0, 255, 255, 1]])


def test_a_palette_image_becomes_rgb_and_with_a_transparent_colour_rgba():
    palette = Image.new('P', (2, 1))
    palette.putpalette([10, 20, 30, 200, 100, 50] + [0] * 762)
    palette.putpixel((1, 0), 1)
    assert images.eight_bit(palette).mode == 'RGB'
    np.testing.assert_array_equal(np.asarray(images.eight_bit(palette)), [[[10, 20, 30], [200, 100, 50]]])
    with Image.open(io.BytesIO(_encoded(palette, transparency=0))) as transparent:
        assert transparent.mode == 'P' and 'transparency' in transparent.info
        np.testing.assert_array_equal(np.asarray(images.eight_bit(transparent)),
                                      [[[10, 20, 30, 0], [200, 100, 50, 255]]])


def test_1_bit_becomes_0_or_255_and_pa_rgba():
    one_bit = Image.fromarray(np.array([[0, 255]], np.uint8)).convert('1')
    assert images.eight_bit(one_bit).mode == 'L'
    np.testing.assert_array_equal(np.asarray(images.eight_bit(one_bit)), [[0, 255]])
    pa = Image.new('PA', (1, 1))
    assert images.eight_bit(pa).mode == 'RGBA'


@pytest.mark.parametrize('mode', ['L', 'RGB', 'RGBA', 'LA', 'CMYK', 'YCbCr', 'F'])
def test_other_modes_are_left_as_they_are(mode):
    image = Image.new(mode, (2, 2))
    assert images.eight_bit(image) is image


# --- decoding or skipping ---------------------------------------------------------------------------

def _read(f, width, height, mode):
    """A decoder as helper.get_image is one: it reads the open file."""
    with Image.open(f) as opened:
        return np.asarray(opened.convert(mode).resize((width, height)))


def test_a_readable_image_is_decoded_from_the_open_file(tmp_path):
    path = tmp_path / 'a.png'
    path.write_bytes(_encoded(Image.new('RGB', (4, 4), (9, 8, 7))))
    seen = []

    def read(f, width, height, mode):
        seen.append((os.path.samefile(f.fileno(), str(path)), f.closed, width, height, mode))
        return _read(f, width, height, mode)

    image = images.decode_or_none(str(path), 2, 3, 'RGB', read)
    assert image.shape == (3, 2, 3) and (image == (9, 8, 7)).all()
    assert seen == [(True, False, 2, 3, 'RGB')]


def _bomb():
    """A tiny PNG that declares 20000x20000 pixels: more than Pillow agrees to decode"""
    def chunk(kind, data):
        return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data))
    header = struct.pack('>IIBBBBB', 20000, 20000, 8, 0, 0, 0, 0)
    return b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', header) + chunk(b'IDAT', zlib.compress(b'\0' * 99)) + chunk(b'IEND', b'')


@pytest.mark.parametrize('content', [b'', b'<html>quota exceeded</html>', b'\x89PNG\r\n\x1a\n', _bomb(),
                                     _encoded(Image.new('RGB', (50, 50)), 'JPEG')[:300]],
                         ids=['empty', 'not-an-image', 'header-only', 'decompression-bomb', 'truncated-jpeg'])
def test_a_file_that_is_not_a_readable_image_is_skipped(tmp_path, content):
    path = tmp_path / 'x.png'
    path.write_bytes(content)
    assert images.decode_or_none(str(path), 28, 28, 'RGB', _read) is None


@pytest.mark.parametrize('error', [OSError('damaged'), ValueError('bad header'), SyntaxError('not a PNG'),
                                   EOFError('ended early'), Image.DecompressionBombError('too large')])
def test_each_kind_of_unreadable_image_error_is_a_skip(tmp_path, error):
    (tmp_path / 'x.png').write_bytes(b'x')

    def read(*args):
        raise error

    assert images.decode_or_none(str(tmp_path / 'x.png'), 28, 28, 'RGB', read) is None


def test_a_bug_in_the_decoder_is_not_taken_for_a_bad_file(tmp_path):
    (tmp_path / 'x.png').write_bytes(b'x')

    def read(*args):
        raise KeyError('a bug')

    with pytest.raises(KeyError):
        images.decode_or_none(str(tmp_path / 'x.png'), 28, 28, 'RGB', read)


@pytest.mark.parametrize('make', [lambda path: os.symlink(path + '.gone', path), lambda path: os.symlink(path, path),
                                  os.mkfifo, os.mkdir], ids=['dangling-symlink', 'symlink-loop', 'fifo', 'folder'])
def test_what_is_no_file_is_skipped(tmp_path, make):
    path = str(tmp_path / 'x.png')
    make(path)
    assert images.decode_or_none(path, 28, 28, 'RGB', _read) is None
    assert images.decode_or_none(str(tmp_path / 'missing.png'), 28, 28, 'RGB', _read) is None


def test_messages_name_no_command_line_flag():
    assert flags_named(images) == []


def test_a_folder_that_may_not_be_read_is_an_error_not_an_empty_folder(tmp_path, monkeypatch):
    """(A permission the tests' root bypasses: os.walk is handed the PermissionError a user without it gets)"""
    (tmp_path / 'faces').mkdir()
    (tmp_path / 'faces' / 'a.png').write_bytes(b'x')
    real_scandir = os.scandir

    def refusing(path):
        if os.fspath(path).endswith('faces'):
            raise PermissionError(errno.EACCES, 'Permission denied', os.fspath(path))
        return real_scandir(path)

    monkeypatch.setattr(os, 'scandir', refusing)
    with pytest.raises(DatasetError, match=r'^{} cannot be read \(Permission denied\): give yourself access to it, or '
                                           r'choose another folder$'.format(re.escape(str(tmp_path / 'faces')))):
        images.list_image_files(str(tmp_path))
