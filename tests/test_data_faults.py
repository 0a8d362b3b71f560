"""
The image cache and image reading under faults, through helper.Dataset and real processes: files changed in
place, two processes at once, a damaged cache, a full disk (a real one where a tmpfs can be mounted), every kind of
unreadable input file, and a data folder that is a file. Each test makes its own small images in tmp_path.
"""
import errno
import hashlib
import io
import os
import struct
import subprocess
import sys
import zlib

import numpy as np
import pytest
from PIL import Image

import helper
from conftest import GUARD_SECONDS, ROOT, child_env
from facegan.core import files
from facegan.data import downloads


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


# --- 2. Two processes build one cache at once --------------------------------------------------

def _run_second_while_first_is_inside(children, calls, pause_at):
    """
    Start two processes together; let the first into its call and hold it at pause_at, then let
    the second go until it is inside too (paused at the same place) or says it waits for the first
    :return: Children.finish()'s list, the second's event that showed it was held back
    """
    group = children(calls, pause_at=pause_at)
    group.send(0)
    group.wait_for(lambda event: event == (0, 'out', 'paused'), 'the first process inside its call')
    group.send(1)
    held = group.wait_for(lambda event: group.held_back(event, 1), 'the second process inside or waiting')
    return group.finish(), held


def test_two_processes_building_one_cache_both_get_it(tmp_path, children):
    paths = _faces(str(tmp_path / 'imgs'), 30)
    cache = str(tmp_path / 'cache')
    call = ('(lambda d: [d.shape[0], __import__("hashlib").sha1(d.images(range(d.shape[0])).tobytes())'
            '.hexdigest()])(helper.Dataset("celeba", helper.list_image_files({!r}), cache_dir={!r}))'
            .format(str(tmp_path / 'imgs'), cache))
    finished, held = _run_second_while_first_is_inside(children, [call, call], 'facegan.data.images.decode_or_none')

    expected = [30, hashlib.sha1(helper.get_batch(paths, 28, 28, 'RGB').tobytes()).hexdigest()]
    for code, results, err in finished:
        assert code == 0 and results == [expected], '\n'.join(err)
    assert held[1] == 'err', 'the second process did not wait for the first: {}'.format(held)
    assert sorted(os.path.splitext(name)[1] for name in os.listdir(cache)) == ['.json', '.npy']


def test_two_processes_drawing_the_synthetic_faces_both_get_them(tmp_path, children):
    data = str(tmp_path / 'data')
    call = 'helper.make_synthetic_faces({!r}, count=20, seed=0)'.format(data)
    finished, held = _run_second_while_first_is_inside(children, [call, call],
                                                       'facegan.data.synthetic_faces.draw_synthetic_face')
    folder = os.path.join(data, 'synthetic_faces_20_seed0')
    for code, results, err in finished:
        assert code == 0 and results == [folder], '\n'.join(err)
    assert held[1] == 'err', 'the second process did not wait for the first: {}'.format(held)
    assert os.listdir(data) == ['synthetic_faces_20_seed0'] and len(os.listdir(folder)) == 20


def test_leftovers_of_a_killed_build_are_removed_with_a_note(tmp_path, capsys):
    paths = _faces(str(tmp_path / 'imgs'), 3)
    cache = tmp_path / 'cache'
    cache.mkdir()
    left = ['RGB-28x28-0123456789abcdef0123.npy.tmp-999999-0a1b2c3d',  # what kill -9 leaves
            'RGB-28x28-0123456789abcdef0123.json.tmp-999999-0a1b2c3d',
            'RGB-28x28-0123456789abcdef0123.npy.tmp4242']  # the older naming
    for name in left + ['notes.txt']:
        (cache / name).write_bytes(b'x')
    dataset = helper.Dataset('celeba', paths, cache_dir=str(cache))
    np.testing.assert_array_equal(dataset.images(range(3)), helper.get_batch(paths, 28, 28, 'RGB'))
    assert sorted(os.path.splitext(name)[1] for name in os.listdir(str(cache))) == ['.json', '.npy', '.txt']
    notes = _lines(capsys.readouterr().err, 'note:')
    assert len(notes) == 1 and 'removed 3 leftovers of an interrupted cache build' in notes[0], notes


# --- 3. A damaged cache is rebuilt, with one note ----------------------------------------------

def _truncate_half(path):
    with open(path, 'r+b') as f:
        f.truncate(os.path.getsize(path) // 2)


@pytest.mark.parametrize('damage', [
    ('.json', lambda path: open(path, 'w').close()),  # empty
    ('.json', lambda path: open(path, 'w').write('{"count": 4, "skip')),  # cut short
    ('.json', lambda path: open(path, 'w').write('[1, 2]')),  # JSON, but not an index
    ('.npy', _truncate_half),
    ('.npy', lambda path: np.save(path, np.zeros((2, 28, 28, 3), np.uint8))),  # the wrong shape
    ('.npy', lambda path: open(path, 'wb').write(b'not an array at all')),
    ('.npy', os.remove),
], ids=['json-empty', 'json-cut', 'json-not-index', 'npy-truncated', 'npy-wrong-shape', 'npy-garbage',
        'npy-missing'])
def test_damaged_cache_is_rebuilt_with_one_note(tmp_path, capsys, damage):
    paths = _faces(str(tmp_path / 'imgs'), 4)
    cache = str(tmp_path / 'cache')
    helper.Dataset('celeba', paths, cache_dir=cache)
    extension, spoil = damage
    spoil(next(os.path.join(cache, name) for name in os.listdir(cache) if name.endswith(extension)))
    capsys.readouterr()

    dataset = helper.Dataset('celeba', paths, cache_dir=cache)
    np.testing.assert_array_equal(dataset.images(range(4)), helper.get_batch(paths, 28, 28, 'RGB'))
    notes = _lines(capsys.readouterr().err, 'note:')
    assert len(notes) == 1 and 'was damaged' in notes[0] and notes[0].endswith('rebuilding it'), notes
    assert sorted(os.path.splitext(name)[1] for name in os.listdir(cache)) == ['.json', '.npy']


# --- 4. A full disk while building the cache ---------------------------------------------------

# 40 images of 28x28x3 and a .npy header of 128 bytes: 94,208 bytes
DISK_FULL_CACHE = ('not enough disk space in {{}} for the image cache (needs about {}): free some space there and run '
                   'again'.format(files.size_text(128 + 40 * 28 * 28 * 3)))


def test_full_disk_building_the_cache_is_one_line_and_leaves_nothing(tmp_path, small_disk):
    """A real 64 KB tmpfs; in a child process, as a write into a memory map there dies of SIGBUS."""
    _faces(str(tmp_path / 'imgs'), 40)  # 40 x 28 x 28 x 3 bytes: more than 64 KB
    code = ('import sys; sys.path.insert(0, {!r}); import helper\n'
            'try:\n    helper.Dataset("celeba", helper.list_image_files({!r}), cache_dir={!r})\n'
            'except helper.DatasetError as err:\n    print("DatasetError:", err)\n'
            .format(ROOT, str(tmp_path / 'imgs'), small_disk))
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=GUARD_SECONDS,
                                env=child_env())
    assert result.returncode == 0, 'exit code {}: {}'.format(result.returncode, result.stderr[-2000:])
    message = result.stdout.strip()
    assert message == 'DatasetError: ' + DISK_FULL_CACHE.format(small_disk)
    assert os.listdir(small_disk) == []  # the partial cache and the lock are gone


def test_full_disk_while_writing_the_cache_is_one_line_and_leaves_nothing(tmp_path, monkeypatch):
    """ENOSPC injected into every write of the cache's files, wherever the file system is."""
    paths = _faces(str(tmp_path / 'imgs'), 40)
    cache = str(tmp_path / 'cache')
    real_open = open

    def full_disk(*args):
        raise OSError(errno.ENOSPC, 'No space left on device')

    def open_on_full_disk(path, mode='r', *args, **kwargs):
        handle = real_open(path, mode, *args, **kwargs)
        if str(path).startswith(cache) and ('w' in mode or '+' in mode):
            handle.write = full_disk
        return handle

    monkeypatch.setattr('builtins.open', open_on_full_disk)
    monkeypatch.setattr(os, 'posix_fallocate', lambda *args: None, raising=False)  # as on a file system without it
    with pytest.raises(helper.DatasetError) as err:
        helper.Dataset('celeba', paths, cache_dir=cache)
    assert str(err.value) == DISK_FULL_CACHE.format(cache)
    assert os.listdir(cache) == []


# --- 5. Any unreadable input file is a skipped image, counted in the one warning ----------------

def _png_chunk(kind, data):
    return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data))


def _decompression_bomb(path):
    """A tiny PNG that declares 20000x20000 pixels: more than Pillow agrees to decode"""
    header = struct.pack('>IIBBBBB', 20000, 20000, 8, 0, 0, 0, 0)
    with open(path, 'wb') as f:
        f.write(b'\x89PNG\r\n\x1a\n' + _png_chunk(b'IHDR', header) + _png_chunk(b'IDAT', zlib.compress(b'\0' * 99))
                + _png_chunk(b'IEND', b''))


def _bad_crc_png(path):
    png = io.BytesIO()
    Image.new('RGB', (178, 218), (1, 2, 3)).save(png, 'PNG')
    data = bytearray(png.getvalue())
    data[29] ^= 0xFF  # inside IHDR's CRC
    open(path, 'wb').write(bytes(data))


def _truncated_png(path):
    png = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (218, 178, 3), dtype=np.uint8)).save(png, 'PNG')
    open(path, 'wb').write(png.getvalue()[:5000])


BAD_FILES = {
    'folder named like an image': os.mkdir,
    'dangling symlink': lambda path: os.symlink(path + '.gone', path),
    'symlink loop': lambda path: os.symlink(path, path),
    'zero bytes': lambda path: open(path, 'wb').close(),
    'not an image': lambda path: open(path, 'w').write('<html>quota exceeded</html>'),
    'decompression bomb': _decompression_bomb,
    'png with a bad crc': _bad_crc_png,
    'truncated png': _truncated_png,
}


@pytest.mark.parametrize('kind', sorted(BAD_FILES))
def test_unreadable_file_of_any_kind_is_skipped_and_counted(tmp_path, capsys, kind):
    good = _faces(str(tmp_path / 'imgs'), 3)
    bad = str(tmp_path / 'imgs' / 'zz_bad.png')
    BAD_FILES[kind](bad)
    dataset = helper.Dataset('celeba', good + [bad], cache_dir=str(tmp_path / 'cache'))
    assert dataset.data_files == good and dataset.shape == (3, 28, 28, 3)
    np.testing.assert_array_equal(dataset.images(range(3)), helper.get_batch(good, 28, 28, 'RGB'))
    assert _lines(capsys.readouterr().err, 'warning:') == [
        'warning: skipped 1 unreadable image of 4 (first: {})'.format(bad)]


def test_file_deleted_between_listing_and_reading_is_skipped(tmp_path, capsys):
    files = _faces(str(tmp_path / 'imgs'), 4)
    os.remove(files[2])
    dataset = helper.Dataset('celeba', files, cache_dir=str(tmp_path / 'cache'))
    assert dataset.data_files == files[:2] + files[3:]
    assert _lines(capsys.readouterr().err, 'warning:') == [
        'warning: skipped 1 unreadable image of 4 (first: {})'.format(files[2])]


def test_fifo_is_skipped_without_being_opened(tmp_path):
    """A FIFO named like an image would block a reader forever: in a child process, so a hang can end."""
    _faces(str(tmp_path / 'imgs'), 3)
    fifo = str(tmp_path / 'imgs' / 'pipe.png')
    os.mkfifo(fifo)
    code = ('import sys; sys.path.insert(0, {!r}); import helper\n'
            'files = helper.list_image_files({!r})\n'
            'print(helper.Dataset("celeba", files, cache_dir={!r}).shape)\n'
            .format(ROOT, str(tmp_path / 'imgs'), str(tmp_path / 'cache')))
    try:
        result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=GUARD_SECONDS,
                                env=child_env())
    except subprocess.TimeoutExpired:
        pytest.fail('reading a folder with a FIFO in it hung')
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == '(3, 28, 28, 3)'
    assert 'warning: skipped 1 unreadable image of 4 (first: {})'.format(fifo) in result.stderr


# Images that decode: each must give the pixels of its plain 8-bit twin, not be skipped or
# mangled (16-bit grey clipped to white; palette and 1-bit images resized by nearest neighbour).

def _smooth(size=(178, 218)):
    xs, ys = np.meshgrid(np.linspace(0, 255, size[0]), np.linspace(0, 255, size[1]))
    return np.stack([xs, ys, (xs + ys) / 2], axis=-1).astype(np.uint8)


def _sixteen_bit_grey(path):
    grey = _smooth()[..., 0]
    Image.fromarray(grey.astype(np.uint16) * 257).save(path)  # 16-bit PNG: each value v as v * 257
    return Image.fromarray(grey)


def _palette_with_transparency(path):
    image = Image.fromarray(_smooth()).quantize(64)
    image.save(path, transparency=0)
    return Image.open(path).convert('RGBA')


def _one_bit(path):
    image = Image.fromarray(((_smooth()[..., 0] // 16) % 2 * 255).astype(np.uint8)).convert('1')
    image.save(path)
    return image.convert('L')


def _cmyk_jpeg(path):
    Image.fromarray(_smooth()).convert('CMYK').save(path, quality=95)
    return Image.open(path).convert('RGB')


def _animated_png(path):
    frames = [Image.fromarray(_smooth()), Image.new('RGB', (178, 218), (255, 0, 0))]
    frames[0].save(path, save_all=True, append_images=frames[1:])
    return frames[0]  # the first frame is the image


@pytest.mark.parametrize('make,mode', [(_sixteen_bit_grey, 'L'), (_palette_with_transparency, 'RGB'),
                                       (_one_bit, 'L'), (_cmyk_jpeg, 'RGB'), (_animated_png, 'RGB')],
                         ids=['16-bit-grey', 'palette-transparency', '1-bit', 'cmyk-jpeg', 'animated-png'])
def test_image_modes_that_decode_give_their_8_bit_pixels(tmp_path, capsys, make, mode):
    odd = str(tmp_path / 'odd.{}'.format('jpg' if make is _cmyk_jpeg else 'png'))
    twin = str(tmp_path / 'twin.png')
    make(odd).save(twin)
    dataset = helper.Dataset('folder', [odd], image_mode=mode, cache_dir=str(tmp_path / 'cache'))
    np.testing.assert_array_equal(dataset.images([0]), helper.get_batch([twin], 28, 28, mode))
    assert dataset.images([0]).std() > 10  # an image, not a blank
    assert not _lines(capsys.readouterr().err, 'warning:')


# --- 6. --data-dir naming a file ---------------------------------------------------------------

@pytest.mark.parametrize('get', [
    lambda data: helper.make_synthetic_faces(data, count=2),
    lambda data: helper.download_extract('mnist', data, sources={'mnist': dict(downloads.DATASETS['mnist'], urls=[])}),
], ids=['synthetic', 'mnist'])
@pytest.mark.parametrize('where', ['itself', 'inside'])
def test_data_dir_that_is_a_file_is_one_line_error(tmp_path, get, where):
    a_file = tmp_path / 'notes.txt'
    a_file.write_text('mine')
    data = str(a_file) if where == 'itself' else str(a_file / 'data')
    with pytest.raises(helper.DatasetError) as err:
        get(data)
    where = 'is a file' if where == 'itself' else 'is inside {}, which is a file'.format(a_file)
    assert str(err.value) == 'the data folder {} {}: give a folder (it is made if missing)'.format(data, where)
    assert a_file.read_text() == 'mine' and os.listdir(str(tmp_path)) == ['notes.txt']
