"""
facegan/data/image_cache.py with a decoder of its own (a file holding b'V' for value V is an image of V): the key,
where the cache goes, built once and reused, rebuilt when the images change or the cache is damaged (with one
note), leftovers and stale caches removed, other files left alone, a full disk in one line.
"""
import errno
import json
import os
import re
import sys
import tempfile
import threading

import numpy as np
import pytest

from conftest import GUARD_SECONDS, NoteWatcher
from facegan.core import files
from facegan.core.errors import DatasetError, DiskFullError
from facegan.data import image_cache
from test_checkpoint_files import flags_named

SHAPE = (3, 2, 3)  # height, width, channels of the test images (mode 'RGB')


def decode(f, width, height, mode):
    """A file holding one number V is an image of V everywhere; anything else is unreadable."""
    text = f.read()
    if not text.isdigit():
        raise OSError('not an image')
    return np.full((height, width, 1 if mode == 'L' else 3), int(text), np.uint8)


def _files(folder, values):
    """Write files 000.img, 001.img, ... holding values (a value None: an unreadable file). :return: their paths"""
    os.makedirs(str(folder), exist_ok=True)
    paths = []
    for i, value in enumerate(values):
        paths.append(os.path.join(str(folder), '{:03d}.img'.format(i)))
        with open(paths[-1], 'wb') as f:
            f.write(b'bad' if value is None else str(value).encode())
    return paths


def build(paths, cache, mode='RGB', width=2, height=3, **kwargs):
    return image_cache.build_cache(paths, width, height, mode, str(cache), decode, **kwargs)


def _said(err):
    """:return: The lines of stderr that say something, less the progress bar's"""
    return [line for line in re.split('[\r\n]', err) if line.strip() and not line.startswith('Caching images')]


def _cache_names(cache):
    return sorted(name for name in os.listdir(str(cache)))


# --- the key --------------------------------------------------------------------------------------

def test_the_key_changes_with_the_list_each_files_size_and_time_the_size_and_the_mode(tmp_path):
    paths = _files(tmp_path, [1, 2])
    key = image_cache._cache_key(paths, 28, 28, 'RGB')
    assert re.fullmatch('[0-9a-f]{20}', key) and image_cache._cache_key(list(paths), 28, 28, 'RGB') == key
    others = {image_cache._cache_key(paths[:1], 28, 28, 'RGB'), image_cache._cache_key(paths[::-1], 28, 28, 'RGB'),
              image_cache._cache_key(paths, 28, 27, 'RGB'), image_cache._cache_key(paths, 27, 28, 'RGB'),
              image_cache._cache_key(paths, 28, 28, 'L')}
    with open(paths[0], 'wb') as f:
        f.write(b'12')  # another size
    others.add(image_cache._cache_key(paths, 28, 28, 'RGB'))
    os.utime(paths[1], ns=(10 ** 18, 10 ** 18))  # another time, the same size
    others.add(image_cache._cache_key(paths, 28, 28, 'RGB'))
    assert key not in others and len(others) == 7


def test_no_two_file_lists_share_a_key(tmp_path):
    """Names are joined with a NUL, which no name holds: ['a', 'b'] and ['a\\nb'] differ."""
    folder = tmp_path / 'x'
    folder.mkdir()
    assert image_cache._cache_key([str(folder / 'a'), str(folder / 'b')], 28, 28, 'RGB') != \
        image_cache._cache_key([str(folder / 'a\n') + '- ' + str(folder / 'b')], 28, 28, 'RGB')


def test_a_file_that_cannot_be_looked_at_has_a_stamp_of_its_own(tmp_path):
    path = _files(tmp_path, [7])[0]
    info = os.stat(path)
    assert image_cache._file_stamp(path) == '{} {}'.format(info.st_size, info.st_mtime_ns)
    assert image_cache._file_stamp(str(tmp_path / 'missing')) == '-'


def test_a_name_that_is_not_utf8_has_a_key(tmp_path):
    name = os.fsdecode(b'caf\xe9.img')
    assert re.fullmatch('[0-9a-f]{20}', image_cache._cache_key([str(tmp_path / name)], 28, 28, 'RGB'))


# --- where the cache goes ----------------------------------------------------------------------------

def test_the_cache_goes_beside_the_images_in_a_hidden_folder(tmp_path):
    paths = _files(tmp_path / 'data' / 'a', [1]) + _files(tmp_path / 'data' / 'b', [2])
    assert image_cache.default_cache_dir(paths) == str(tmp_path / 'data' / '.cache')
    assert os.path.isdir(str(tmp_path / 'data' / '.cache'))
    assert image_cache.default_cache_dir(paths) == str(tmp_path / 'data' / '.cache')  # there already: the same


def test_the_cache_goes_to_the_temporary_folder_where_the_data_folder_is_read_only(tmp_path, monkeypatch):
    paths = _files(tmp_path / 'data', [1])
    monkeypatch.setattr(os, 'access', lambda path, mode: False)
    assert image_cache.default_cache_dir(paths) == os.path.join(tempfile.gettempdir(), 'dlnd-face-cache')
    monkeypatch.undo()
    (tmp_path / 'other').mkdir()
    (tmp_path / 'other' / '.cache').write_text('a file where the folder would go')
    paths = _files(tmp_path / 'other', [1])
    assert image_cache.default_cache_dir(paths) == os.path.join(tempfile.gettempdir(), 'dlnd-face-cache')


# --- built once, reused ----------------------------------------------------------------------------

def test_the_cache_holds_each_images_pixels_in_order_and_the_unreadable_ones_as_black(tmp_path):
    paths = _files(tmp_path / 'data', [5, None, 200, 7, None])
    cached, skipped = build(paths, tmp_path / 'cache')
    assert isinstance(cached, np.memmap) and cached.dtype == np.uint8 and cached.shape == (5,) + SHAPE
    assert not cached.flags.writeable and skipped == [1, 4]
    assert [int(image.max()) for image in cached] == [5, 0, 200, 7, 0] and (cached[2] == 200).all()
    names = _cache_names(tmp_path / 'cache')
    assert len(names) == 2 and names[0].startswith('RGB-2x3-') and names[0].endswith('.json')
    assert names[1] == names[0][:-len('.json')] + '.npy'
    with open(str(tmp_path / 'cache' / names[0])) as f:
        assert set(json.load(f)) == {'count', 'skipped', 'sha256'}


def test_a_grey_cache_has_one_channel(tmp_path):
    cached, _ = build(_files(tmp_path / 'data', [9, 8]), tmp_path / 'cache', mode='L', width=5, height=4)
    assert cached.shape == (2, 4, 5, 1) and cached[1].max() == 8
    assert _cache_names(tmp_path / 'cache')[0].startswith('L-5x4-')


@pytest.mark.parametrize('values', [[1, 2, 3], [None, 2, 3], [1, 2, None]], ids=['readable', 'first-unreadable',
                                                                               'last-unreadable'])
def test_the_cache_is_reused_without_decoding(tmp_path, monkeypatch, capsys, values):
    paths = _files(tmp_path / 'data', values)
    build(paths, tmp_path / 'cache')
    monkeypatch.setattr(image_cache.images, 'decode_or_none', lambda *args: pytest.fail('decoded again'))
    cached, skipped = build(paths, tmp_path / 'cache')
    assert [int(image.max()) for image in cached] == [value or 0 for value in values]
    assert skipped == [i for i, value in enumerate(values) if value is None]
    assert _said(capsys.readouterr().err) == []
    assert _cache_names(tmp_path / 'cache') == sorted(os.listdir(str(tmp_path / 'cache')))  # no lock file left
    assert not [name for name in os.listdir(str(tmp_path / 'cache')) if 'lock' in name]


@pytest.mark.parametrize('workers', [1, 3])
def test_any_number_of_decoding_threads_gives_the_same_cache(tmp_path, workers):
    paths = _files(tmp_path / 'data', list(range(20)) + [None])
    cached, skipped = build(paths, tmp_path / str(workers), workers=workers)
    assert [int(image.max()) for image in cached] == list(range(20)) + [0] and skipped == [20]


def test_images_that_changed_rebuild_the_cache_and_the_old_one_goes(tmp_path, capsys):
    folder, cache = tmp_path / 'data', tmp_path / 'cache'
    paths = _files(folder, [1, 2])
    build(paths, cache)
    build(paths, cache, mode='L')  # another mode: another cache, kept beside
    paths = _files(folder, [1, 2, 3])
    capsys.readouterr()
    cached, _ = build(paths, cache)
    assert [int(image.max()) for image in cached] == [1, 2, 3]
    names = _cache_names(cache)
    assert len(names) == 4 and sum(name.startswith('L-2x3-') for name in names) == 2
    assert _said(capsys.readouterr().err) == [
        'note: the image files (their list, paths, sizes or dates) changed since the image cache in {} was made; '
        'rebuilding it'.format(cache)]


def test_leftovers_of_a_killed_build_are_removed_with_a_note_and_other_files_stay(tmp_path, capsys):
    cache = tmp_path / 'cache'
    cache.mkdir()
    left = ['RGB-2x3-0123456789abcdef0123.npy.tmp-999999-0a1b2c3d', 'L-9x9-0123456789abcdef0123.json.tmp-1-0a1b2c3d',
            'RGB-2x3-0123456789abcdef0123.npy.tmp4242']
    kept = ['notes.txt', 'RGB-2x3-short.npy', 'RGB-2x3-0123456789abcdef0123.npz', 'L-9x9-0123456789abcdef0123.npy',
            'RGB-2x3-0123456789abcdef0123.txt.tmp-1-0a1b2c3d']
    for name in left + kept:
        (cache / name).write_bytes(b'x')
    build(_files(tmp_path / 'data', [4]), cache)
    names = set(os.listdir(str(cache)))
    assert not names & set(left) and set(kept) <= names and len(names) == len(kept) + 2
    assert _said(capsys.readouterr().err) == ['note: removed 3 leftovers of an interrupted cache build in {}'.format(cache)]


def test_an_interrupted_build_is_never_used(tmp_path, monkeypatch):
    paths = _files(tmp_path / 'data', [1, 2, 3, 4])
    calls = []
    real = image_cache.images.decode_or_none

    def crash_on_third(*args):
        calls.append(args)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*args)

    monkeypatch.setattr(image_cache.images, 'decode_or_none', crash_on_third)
    with pytest.raises(KeyboardInterrupt):
        build(paths, tmp_path / 'cache', workers=1)
    assert os.listdir(str(tmp_path / 'cache')) == []
    monkeypatch.undo()
    cached, _ = build(paths, tmp_path / 'cache')
    assert [int(image.max()) for image in cached] == [1, 2, 3, 4]


# --- damage -----------------------------------------------------------------------------------------

def _damage(cache, extension, change):
    path = next(os.path.join(str(cache), name) for name in os.listdir(str(cache)) if name.endswith(extension))
    change(path)


def _flip_last_byte(path):
    with open(path, 'r+b') as f:
        f.seek(-1, os.SEEK_END)
        last = f.read(1)[0]
        f.seek(-1, os.SEEK_END)
        f.write(bytes([last ^ 1]))


def _rewrite_index(path, **fields):
    with open(path) as f:
        index = json.load(f)
    index.update(fields)
    with open(path, 'w') as f:
        json.dump(index, f)


@pytest.mark.parametrize('extension,change,problem', [
    ('.json', lambda path: open(path, 'w').close(), 'Expecting value: line 1 column 1 (char 0)'),
    ('.json', lambda path: open(path, 'w').write('[1, 2]'), 'list indices must be integers or slices, not str'),
    ('.json', lambda path: _rewrite_index(path, count=3), 'its index does not match its 2 images'),
    ('.json', lambda path: _rewrite_index(path, skipped=[2]), 'its index does not match its 2 images'),
    ('.json', lambda path: _rewrite_index(path, skipped=[-1]), 'its index does not match its 2 images'),
    ('.json', lambda path: _rewrite_index(path, skipped=[True]), 'its index does not match its 2 images'),
    ('.json', lambda path: _rewrite_index(path, skipped=[1]), 'its checksum does not match'),
    ('.json', lambda path: _rewrite_index(path, sha256='0' * 64), 'its checksum does not match'),
    ('.json', lambda path: _rewrite_index(path, extra=1, sha256=None), 'its checksum does not match'),
    ('.npy', lambda path: np.save(path, np.zeros((2, 3, 2, 4), np.float32)),
     'it holds float32 (2, 3, 2, 4), not uint8 (2, 3, 2, 3)'),
    ('.npy', lambda path: np.save(path, np.zeros((3, 3, 2, 3), np.uint8)),
     'it holds uint8 (3, 3, 2, 3), not uint8 (2, 3, 2, 3)'),
    ('.npy', lambda path: os.truncate(path, os.path.getsize(path) - 1), None),
    ('.npy', lambda path: _flip_last_byte(path), 'its checksum does not match'),  # a pixel changed
    ('.npy', os.remove, None),
    ('.npy', lambda path: open(path, 'wb').write(b'not an array'), None),
], ids=['json-empty', 'json-not-index', 'count', 'skipped-out-of-range', 'skipped-negative', 'skipped-not-int',
        'skipped-changed', 'checksum', 'checksum-missing', 'npy-dtype', 'npy-shape', 'npy-cut', 'npy-pixel', 'npy-missing',
        'npy-garbage'])
def test_a_damaged_cache_is_rebuilt_with_one_note_saying_what_was_wrong(tmp_path, capsys, extension, change, problem):
    cache = tmp_path / 'cache'
    paths = _files(tmp_path / 'data', [1, 2])
    build(paths, cache)
    _damage(cache, extension, change)
    capsys.readouterr()
    cached, skipped = build(paths, cache)
    assert [int(image.max()) for image in cached] == [1, 2] and skipped == []
    err = _said(capsys.readouterr().err)
    match = len(err) == 1 and re.fullmatch(r'note: the image cache (\S+\.npy) was damaged \((.+)\); rebuilding it', err[0])
    assert match and os.path.dirname(match.group(1)) == str(cache), err
    if problem is not None:
        assert match.group(2) == problem
    assert len(_cache_names(cache)) == 2


def test_a_damaged_cache_that_cannot_be_removed_is_one_line(tmp_path, monkeypatch):
    cache = tmp_path / 'cache'
    paths = _files(tmp_path / 'data', [1, 2])
    build(paths, cache)
    _damage(cache, '.json', lambda path: _rewrite_index(path, sha256='0' * 64))
    real_remove = os.remove

    def read_only(path):
        if str(path).endswith('.json'):
            raise PermissionError(errno.EACCES, 'Permission denied', path)
        real_remove(path)

    monkeypatch.setattr(os, 'remove', read_only)
    with pytest.raises(DatasetError) as err:
        build(paths, cache)
    assert re.fullmatch(r'the image cache {}/\S+\.json is damaged \(its checksum does not match\) and cannot be '
                        r'removed \(Permission denied\): delete it, or make its folder writable'.format(re.escape(
                            str(cache))), str(err.value)), str(err.value)


def test_a_cache_whose_array_is_gone_and_index_cannot_be_read_is_rebuilt(tmp_path, capsys):
    cache = tmp_path / 'cache'
    paths = _files(tmp_path / 'data', [1])
    build(paths, cache)
    _damage(cache, '.npy', os.remove)
    _damage(cache, '.json', lambda path: open(path, 'w').write('{'))
    capsys.readouterr()
    assert int(build(paths, cache)[0][0].max()) == 1
    assert 'was damaged' in capsys.readouterr().err


# --- a full disk ------------------------------------------------------------------------------------

def test_space_for_the_whole_array_is_claimed_before_decoding(tmp_path, monkeypatch):
    claimed = []

    def fallocate(fd, offset, length):
        claimed.append((offset, length))
        raise OSError(errno.ENOSPC, 'No space left on device')

    monkeypatch.setattr(os, 'posix_fallocate', fallocate)
    monkeypatch.setattr(image_cache.images, 'decode_or_none', lambda *args: pytest.fail('decoded on a full disk'))
    cache = tmp_path / 'cache'
    with pytest.raises(DiskFullError) as err:
        build(_files(tmp_path / 'data', [1] * 1000), cache, width=28, height=28)
    header = 128  # a .npy 1.0: magic, version and length (10 bytes), then the header text, padded to 64 bytes' multiple
    assert claimed == [(0, header + 1000 * 28 * 28 * 3)]
    assert str(err.value) == ('not enough disk space in {} for the image cache (needs about 2.4 MB): free some space '
                              'there and run again'.format(cache))
    assert os.listdir(str(cache)) == []


@pytest.mark.parametrize('code', [errno.EINVAL, errno.EOPNOTSUPP, errno.ENOSYS])
def test_a_file_system_that_cannot_claim_space_ahead_is_fine(tmp_path, monkeypatch, code):
    def fallocate(fd, offset, length):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(os, 'posix_fallocate', fallocate)
    assert int(build(_files(tmp_path / 'data', [3]), tmp_path / 'cache')[0].max()) == 3


def test_without_posix_fallocate_the_pixels_are_written_all_the_same(tmp_path, monkeypatch):
    monkeypatch.delattr(os, 'posix_fallocate')
    assert int(build(_files(tmp_path / 'data', [3]), tmp_path / 'cache')[0].max()) == 3


def test_other_errors_claiming_space_are_not_hidden(tmp_path, monkeypatch):
    def fallocate(fd, offset, length):
        raise OSError(errno.EIO, 'Input/output error')

    monkeypatch.setattr(os, 'posix_fallocate', fallocate)
    with pytest.raises(OSError) as err:
        build(_files(tmp_path / 'data', [3]), tmp_path / 'cache')
    assert err.value.errno == errno.EIO


def test_the_size_of_a_cache(tmp_path):
    assert image_cache._npy_size((10, 28, 28, 3)) == 128 + 10 * 28 * 28 * 3


def test_messages_name_no_command_line_flag():
    assert flags_named(image_cache) == []


# --- what it says while it works ------------------------------------------------------------------------

def test_a_second_builder_says_it_waits_for_the_one_using_the_cache(tmp_path, monkeypatch):
    """The folder's lock held (as another process would hold it): the build says so, then waits its turn."""
    cache = tmp_path / 'cache'
    cache.mkdir()
    paths = _files(tmp_path / 'data', [1, 2])
    stderr = NoteWatcher()
    monkeypatch.setattr(sys, 'stderr', stderr)
    result, done = [], threading.Event()

    def build_in_turn():
        result.append(build(paths, cache))
        done.set()
        stderr.noted.set()  # the test's wait below ends either way

    with files.one_at_a_time(str(cache / '.lock'), 'the test'):
        thread = threading.Thread(target=build_in_turn)
        thread.start()
        assert stderr.noted.wait(GUARD_SECONDS)
        assert not done.is_set()  # it waits: it did not build past the lock
    thread.join(GUARD_SECONDS)
    assert stderr.text.startswith('note: another process is using the image cache in {}; waiting for it to '
                                  'finish\n'.format(cache))
    assert [int(image.max()) for image in result[0][0]] == [1, 2]


def test_the_progress_bar_counts_the_files(tmp_path, capsys):
    build(_files(tmp_path / 'data', [1, 2, 3]), tmp_path / 'cache')
    assert re.search(r'Caching images: 100%\|\S+\| 3/3 \[.*File/s\]', capsys.readouterr().err)


def test_a_cache_whose_index_was_never_written_is_built_without_a_note(tmp_path, capsys):
    """A build killed after its .npy was renamed into place, before its index: no cache, and not a stale one."""
    cache = tmp_path / 'cache'
    paths = _files(tmp_path / 'data', [5])
    build(paths, cache)
    _damage(cache, '.json', os.remove)
    capsys.readouterr()
    assert int(build(paths, cache)[0][0].max()) == 5
    assert _said(capsys.readouterr().err) == []


def test_a_decoders_array_of_another_dtype_is_stored_as_bytes(tmp_path):
    """A decoder that gives int64 or float values 0-255: the cache holds them as uint8, a byte a value."""
    def wide(f, width, height, mode):
        return decode(f, width, height, mode).astype(np.int64) * 1.0

    paths = _files(tmp_path / 'data', [7, 250])
    cached, _ = image_cache.build_cache(paths, 2, 3, 'RGB', str(tmp_path / 'cache'), wide)
    assert [int(image.max()) for image in cached] == [7, 250] and (cached[1] == 250).all()
