"""
facegan/core/files.py: one writer at a time, temporary names and their recognition, atomic writes,
leftovers of killed runs, a full disk as one line, the data folder, folders built then renamed into place,
and a run's files moved aside (never deleted by the move).
"""
import datetime
import errno
import functools
import os
import re
import subprocess
import sys
import threading

import pytest
from hypothesis import given, strategies as st

from facegan.core import files
from facegan.core.errors import DatasetError, DiskFullError, FileSystemError

GUARD_SECONDS = 120  # a guard against a hang: every wait below ends on an event


# --- one_at_a_time ------------------------------------------------------------------------------

class _Stderr:
    """sys.stderr for a test: records what is written, and sets an event when a line holds a word."""

    def __init__(self, word):
        self.text, self.flushed, self.word, self.seen = '', '', word, threading.Event()

    def write(self, text):
        self.text += text
        if self.word in self.text:
            self.seen.set()

    def flush(self):
        self.flushed = self.text


def test_a_second_holder_waits_says_so_once_and_runs_after_the_first(tmp_path, monkeypatch):
    """
    Two threads (flock locks open files, so two opens in one process exclude each other as two
    processes do): the second says it waits, and gets in only once the first is out
    """
    lock = str(tmp_path / '.data.lock')
    stderr = _Stderr('waiting for it')
    monkeypatch.setattr(sys, 'stderr', stderr)
    order, inside = [], threading.Event()

    def first():
        with files.one_at_a_time(lock, 'building the data'):
            order.append('first in')
            inside.set()
            assert stderr.seen.wait(GUARD_SECONDS)  # the second is waiting now
            order.append('first out')

    def second():
        assert inside.wait(GUARD_SECONDS)
        with files.one_at_a_time(lock, 'building the data'):
            order.append('second in')
            assert os.path.exists(lock)  # the lock file it holds is the current one, made anew
        order.append('second out')

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(GUARD_SECONDS)
    assert order == ['first in', 'first out', 'second in', 'second out']
    assert stderr.text == 'note: another process is building the data; waiting for it to finish\n'
    assert stderr.flushed == stderr.text  # flushed before it waits: a log piped elsewhere shows it at once
    assert not os.path.exists(lock)  # removed as each holder finished


class _CountingFlock:
    """files.fcntl for a test: the real flock, counting each thread's blocking calls, with an event at a second one."""

    def __init__(self, real):
        self.real, self.calls, self.second_wait = real, {}, threading.Event()
        self.LOCK_EX, self.LOCK_NB, self.LOCK_UN = real.LOCK_EX, real.LOCK_NB, real.LOCK_UN

    def flock(self, fd, operation):
        if operation == self.LOCK_EX:
            name = threading.current_thread().name
            self.calls[name] = self.calls.get(name, 0) + 1
            if self.calls[name] == 2:
                self.second_wait.set()
        return self.real.flock(fd, operation)


def test_a_waiter_that_must_wait_again_for_the_next_holder_says_so_once(tmp_path, monkeypatch):
    """
    Three holders: the first removes its lock file as it finishes, the second locks a new one, and the third,
    which waited on the old file, must wait again, on the new one: one note from each waiter, not two
    """
    lock = str(tmp_path / '.lock')
    stderr = _Stderr('waiting for it')
    monkeypatch.setattr(sys, 'stderr', stderr)
    counting = _CountingFlock(files.fcntl)
    monkeypatch.setattr(files, 'fcntl', counting)
    inside, order = threading.Event(), []

    def first():
        with files.one_at_a_time(lock, 'x'):
            inside.set()
            while stderr.text.count('note:') < 2:  # both others are waiting: each said so once
                assert stderr.seen.wait(GUARD_SECONDS)
                stderr.seen.clear()
            order.append('first')

    def later(name):
        assert inside.wait(GUARD_SECONDS)
        with files.one_at_a_time(lock, 'x'):
            assert counting.second_wait.wait(GUARD_SECONDS)  # the other one waits again, now on this lock file
            order.append(name)

    threads = [threading.Thread(target=first, name='first')] + [
        threading.Thread(target=later, args=(name,), name=name) for name in ('second', 'third')]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(GUARD_SECONDS)
    assert order[0] == 'first' and sorted(order[1:]) == ['second', 'third']
    assert stderr.text.count('note:') == 2 and max(counting.calls.values()) == 2


def test_a_lock_file_is_readable_by_all_and_writable_by_its_owner(tmp_path):
    lock = str(tmp_path / '.lock')
    umask = os.umask(0)
    try:
        with files.one_at_a_time(lock, 'x'):
            assert os.stat(lock).st_mode & 0o777 == 0o644
    finally:
        os.umask(umask)


def test_ctrl_c_while_waiting_for_the_lock_closes_the_lock_file(tmp_path, monkeypatch):
    lock = str(tmp_path / '.lock')

    class _Interrupted:
        LOCK_EX, LOCK_NB, LOCK_UN = files.fcntl.LOCK_EX, files.fcntl.LOCK_NB, files.fcntl.LOCK_UN

        @staticmethod
        def flock(fd, operation):
            raise KeyboardInterrupt

    monkeypatch.setattr(files, 'fcntl', _Interrupted)
    before = len(os.listdir('/proc/self/fd'))
    with pytest.raises(KeyboardInterrupt):
        with files.one_at_a_time(lock, 'x'):
            pass
    assert len(os.listdir('/proc/self/fd')) == before


def test_the_lock_file_is_removed_when_the_block_fails(tmp_path):
    lock = str(tmp_path / '.lock')
    with pytest.raises(KeyError):
        with files.one_at_a_time(lock, 'x'):
            assert os.path.exists(lock)
            raise KeyError('inside')
    assert not os.path.exists(lock)


def test_a_lock_file_someone_removed_meanwhile_is_fine(tmp_path):
    lock = str(tmp_path / '.lock')
    with files.one_at_a_time(lock, 'x'):
        os.remove(lock)
    assert not os.path.exists(lock)


@pytest.mark.parametrize('code', [errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC])
def test_where_no_lock_file_can_be_made_the_block_runs_without_one(tmp_path, monkeypatch, code):
    """A read-only folder: nothing is built there, so there is no race; a full disk: the writing says so."""
    lock = str(tmp_path / '.lock')
    real_open = os.open

    def refusing(path, *args, **kwargs):
        if path == lock:
            raise OSError(code, os.strerror(code), path)
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, 'open', refusing)
    ran = []
    with files.one_at_a_time(lock, 'x'):
        ran.append(True)
    assert ran == [True] and not os.path.exists(lock)


def test_a_lock_file_in_a_missing_folder_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        with files.one_at_a_time(str(tmp_path / 'missing' / '.lock'), 'x'):
            pass


def test_the_lock_of_a_folder_is_a_hidden_file_beside_it():
    assert files.lock_beside(os.path.join('data', 'mnist')) == os.path.join('data', '.mnist.lock')
    assert files.lock_beside('mnist') == '.mnist.lock'


# --- temporary names ----------------------------------------------------------------------------

def test_temp_path_is_beside_the_file_and_new_each_time(tmp_path):
    path = str(tmp_path / 'run.json')
    names = {files.temp_path(path) for _ in range(20)}
    assert len(names) == 20
    for name in names:
        assert re.fullmatch(re.escape(path) + r'\.tmp-{}-[0-9a-f]{{8}}'.format(os.getpid()), name), name
        assert files.is_temporary(name) and files.without_temporary_suffix(name) == path


@pytest.mark.parametrize('name,temporary,original', [
    ('model.npy.tmp-123-0a1b2c3d', True, 'model.npy'),
    ('checkpoint.tmp', True, 'checkpoint'),  # older versions' names
    ('checkpoint.tmp4242', True, 'checkpoint'),
    ('checkpoint.tmpfd11b9979aa843318334f3651bb8d987', True, 'checkpoint'),
    ('a.tmp-1-0a1b2c3d.tmp-2-ffffffff', True, 'a.tmp-1-0a1b2c3d'),  # only the last suffix is temp_path's
    ('model.npy.tmp-123-0a1b2c3', False, None),  # 7 hex digits: not temp_path's
    ('model.npy.tmp-123-0A1B2C3D', False, None),  # temp_path writes lower case
    ('model.npy.tmp--0a1b2c3d', False, None),
    ('model.tmpl', False, None),
    ('model.tmp.png', False, None),
    ('modeltmp', False, None),
    ('model.tmp-123-0a1b2c3d.npy', False, None),
    ('TMP.tmpx', False, None),
])
def test_a_temporary_name_is_recognised_and_its_suffix_taken_off(name, temporary, original):
    assert files.is_temporary(name) is temporary
    assert files.without_temporary_suffix(name) == (original if temporary else name)


@given(st.text(min_size=1, max_size=30))
def test_any_name_made_temporary_is_recognised_and_given_back(name):
    made = files.temp_path(name)
    assert files.is_temporary(made) and files.without_temporary_suffix(made) == name


def test_a_temporary_name_of_a_process_that_stopped_is_told_from_a_running_ones(monkeypatch):
    stopped = subprocess.Popen(['true'])
    stopped.wait()  # reaped: its PID names no process (PIDs are given out in turn, not again at once)
    assert files.of_a_stopped_process('face_001.png.tmp-{}-0a1b2c3d'.format(stopped.pid)) is True
    running = subprocess.Popen(['cat'], stdin=subprocess.PIPE)  # runs until its input is closed
    try:
        assert files.of_a_stopped_process('face_001.png.tmp-{}-0a1b2c3d'.format(running.pid)) is False
    finally:
        running.stdin.close()
    assert running.wait() == 0  # it ended as its input closed: the question sent it no signal that stops it
    assert files.of_a_stopped_process('face_001.png.tmp-{}-0a1b2c3d'.format(2 ** 80)) is False  # no process's number
    assert files.of_a_stopped_process('face_001.png.tmp4242') is False  # an older version's name: no PID to ask
    assert files.of_a_stopped_process('face_001.png.tmp-{}-0a1b2c3'.format(stopped.pid)) is False  # not temp_path's

    def another_users(pid, signal):
        raise PermissionError(errno.EPERM, 'Operation not permitted')

    monkeypatch.setattr(os, 'kill', another_users)  # as root every process can be asked: another user's, faked
    assert files.of_a_stopped_process('face_001.png.tmp-{}-0a1b2c3d'.format(stopped.pid)) is False


# --- write_atomically ---------------------------------------------------------------------------

def test_an_atomic_write_replaces_the_file_and_leaves_nothing_else(tmp_path):
    path = tmp_path / 'run.json'
    path.write_text('old')
    seen = []

    def write(temporary):
        seen.append(temporary)
        assert path.read_text() == 'old'  # readers see the old file until the new one is whole
        with open(temporary, 'w') as f:
            f.write('new')

    files.write_atomically(str(path), write)
    assert path.read_text() == 'new' and os.listdir(str(tmp_path)) == ['run.json']
    assert files.without_temporary_suffix(os.path.basename(seen[0])) == 'run.json'


@pytest.mark.parametrize('wrote', [True, False])
def test_a_failed_atomic_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path, wrote):
    path = tmp_path / 'run.json'
    path.write_text('old')

    def write(temporary):
        if wrote:
            with open(temporary, 'w') as f:
                f.write('half')
        raise OSError(errno.ENOSPC, 'No space left on device')

    with pytest.raises(OSError):
        files.write_atomically(str(path), write)
    assert path.read_text() == 'old' and os.listdir(str(tmp_path)) == ['run.json']


# --- remove_leftovers ---------------------------------------------------------------------------

def test_leftovers_are_removed_with_one_note(tmp_path, capsys):
    (tmp_path / 'a.tmp').write_text('x')
    (tmp_path / 'folder').mkdir()
    (tmp_path / 'folder' / 'inside').write_text('x')
    (tmp_path / 'kept').mkdir()
    (tmp_path / 'kept' / 'mine').write_text('mine')
    os.symlink(str(tmp_path / 'kept'), str(tmp_path / 'link'))  # a link to a folder: the link goes, not the folder
    files.remove_leftovers([str(tmp_path / name) for name in ('a.tmp', 'folder', 'link', 'gone already')],
                           'cache build in X')
    assert sorted(os.listdir(str(tmp_path))) == ['kept'] and (tmp_path / 'kept' / 'mine').read_text() == 'mine'
    assert capsys.readouterr().err == 'note: removed 4 leftovers of an interrupted cache build in X\n'


def test_one_leftover_is_one_and_none_says_nothing(tmp_path, capsys):
    (tmp_path / 'a.tmp').write_text('x')
    files.remove_leftovers([str(tmp_path / 'a.tmp')], 'save')
    files.remove_leftovers([], 'save')
    assert capsys.readouterr().err == 'note: removed 1 leftover of an interrupted save\n'
    assert os.listdir(str(tmp_path)) == []


# --- sizes and a full disk ----------------------------------------------------------------------

def test_bytes_on_disk_rounds_each_file_up_to_whole_blocks(small_disk):
    """A tmpfs keeps files in pages: its block is the page size."""
    page = os.sysconf('SC_PAGE_SIZE')
    assert files.bytes_on_disk([0, 1, page, page + 1], small_disk) == 0 + page + page + 2 * page
    assert files.bytes_on_disk([], small_disk) == 0


def test_bytes_on_disk_takes_the_block_statvfs_gives(tmp_path, monkeypatch):
    """A file system of 64 KB blocks (as on a machine of 64 KB pages): 4096 would be 16 times too few."""
    monkeypatch.setattr(os, 'statvfs', lambda folder: os.statvfs_result((65536, 65536) + (0,) * 8))
    assert files.bytes_on_disk([1, 65536, 65537], str(tmp_path)) == 65536 * 4


def test_bytes_on_disk_without_statvfs_counts_blocks_of_4096(tmp_path, monkeypatch):
    monkeypatch.delattr(os, 'statvfs')
    assert files.bytes_on_disk([1, 4096, 4097], str(tmp_path)) == 4096 * 4


@pytest.mark.parametrize('err,full', [
    (OSError(errno.ENOSPC, 'No space left on device'), True),
    (OSError(errno.ENOSPC, 'the disk is full'), True),  # by its errno alone
    (OSError(errno.EDQUOT, 'Disk quota exceeded'), True),
    (OSError(errno.EACCES, 'Permission denied'), False),
    (OSError('no errno'), False),
    (RuntimeError('ResourceExhaustedError: {}; writing x'.format(os.strerror(errno.ENOSPC))), True),  # TensorFlow's
    (RuntimeError('quota: {}'.format(os.strerror(errno.EDQUOT))), True),
    (RuntimeError('out of memory'), False),
])
def test_a_full_disk_is_told_by_its_errno_or_its_message(err, full):
    assert files.is_disk_full(err) is full


@pytest.mark.parametrize('n_bytes,text', [(0, '0.0 kB'), (400, '0.4 kB'), (999_949, '999.9 kB'),
                                          (1_000_000, '1.0 MB'), (170_200_000, '170.2 MB'),
                                          (999_999_999, '1000.0 MB'), (1_000_000_000, '1.0 GB'),
                                          (82_800_000_000, '82.8 GB')])
def test_size_text(n_bytes, text):
    assert files.size_text(n_bytes) == text


def test_a_full_disk_in_the_block_is_one_line_naming_the_folder_and_the_space(tmp_path):
    asked = []

    def needed():
        asked.append(True)
        return 2_500_000

    with pytest.raises(DiskFullError) as err:
        with files.disk_full_as_one_line('/data/new\nline', 'the image cache', needed):
            raise OSError(errno.ENOSPC, 'No space left on device')
    assert str(err.value) == ('not enough disk space in /data/new\\nline for the image cache (needs about 2.5 MB): '
                              'free some space there and run again')
    assert err.value.__cause__ is None and err.value.__suppress_context__ and asked == [True]


def test_other_errors_in_the_block_pass_through_and_the_space_is_not_estimated():
    def needed():
        raise AssertionError('estimated without a full disk')

    with pytest.raises(PermissionError):
        with files.disk_full_as_one_line('/data', 'x', needed):
            raise PermissionError(errno.EACCES, 'Permission denied')
    with pytest.raises(KeyError):
        with files.disk_full_as_one_line('/data', 'x', needed):
            raise KeyError('x')
    with files.disk_full_as_one_line('/data', 'x', needed):
        pass


# --- the data folder ----------------------------------------------------------------------------

def test_the_data_folder_is_made_with_its_parents_and_may_exist(tmp_path):
    folder = str(tmp_path / 'a' / 'b' / 'data')
    files.make_data_dir(folder)
    files.make_data_dir(folder)
    assert os.path.isdir(folder)


@pytest.mark.parametrize('where', ['itself', 'itself/', 'inside', 'deeper'])
def test_a_data_folder_that_is_a_file_is_one_line_naming_the_file(tmp_path, where):
    a_file = tmp_path / 'notes\n.txt'
    a_file.write_text('mine')
    data = {'itself': str(a_file), 'itself/': str(a_file) + os.sep, 'inside': str(a_file / 'data'),
            'deeper': str(a_file / 'data' / 'more')}[where]  # 'itself/': the file, named as a folder is
    with pytest.raises(DatasetError) as err:
        files.make_data_dir(data)
    shown = data.replace('\n', '\\n')
    what = 'is a file' if where.startswith('itself') else 'is inside {}, which is a file'.format(
        str(a_file).replace('\n', '\\n'))
    assert str(err.value) == 'the data folder {} {}: give a folder (it is made if missing)'.format(shown, what)
    assert err.value.__suppress_context__
    assert a_file.read_text() == 'mine' and os.listdir(str(tmp_path)) == [a_file.name]


@pytest.mark.parametrize('given', ['relative', 'absolute'])
def test_a_data_folder_that_is_a_link_to_nothing_is_one_line_naming_the_link(tmp_path, monkeypatch, given):
    """os.path.exists is False for a link to nothing: a search for the file in the way that asked it went up past
    the link (a false "inside tmp_path, which is a file"), and from a relative name up to '' for ever"""
    monkeypatch.chdir(tmp_path)
    os.symlink(str(tmp_path / 'gone'), 'data')
    data = 'data' if given == 'relative' else str(tmp_path / 'data')
    with pytest.raises(DatasetError) as err:
        files.make_data_dir(data)
    assert str(err.value) == 'the data folder {} is a file: give a folder (it is made if missing)'.format(data)


def _makedirs_beside_another_process(monkeypatch, times):
    """
    os.makedirs, where for its first `times` calls another process has just put a file where the folder goes, and
    removes it again as soon as makedirs has failed on it (before make_data_dir can look for it)
    """
    real, calls = os.makedirs, []

    def makedirs(path, *args, **kwargs):
        calls.append(path)
        if len(calls) > times:
            return real(path, *args, **kwargs)
        with open(path, 'w') as other:
            other.write('theirs')
        try:
            return real(path, *args, **kwargs)
        finally:
            os.remove(path)

    monkeypatch.setattr(os, 'makedirs', makedirs)
    return calls


def test_a_file_in_the_way_that_another_process_removes_meanwhile_is_no_error(tmp_path, monkeypatch):
    """makedirs fails on the file, which is gone when make_data_dir looks for it to name it: it makes the folder"""
    data = str(tmp_path / 'data')
    calls = _makedirs_beside_another_process(monkeypatch, times=1)
    files.make_data_dir(data)
    assert os.path.isdir(data) and calls == [data, data]


def test_a_file_in_the_way_made_and_removed_again_and_again_is_one_line_naming_the_folder(tmp_path, monkeypatch):
    data = str(tmp_path / 'data')
    calls = _makedirs_beside_another_process(monkeypatch, times=files._MAKE_ATTEMPTS)
    with pytest.raises(DatasetError) as err:
        files.make_data_dir(data)
    assert str(err.value) == ('the data folder {} is being changed by another program, which makes and removes a '
                              'file where it should be: stop that program, or give another folder'.format(data))
    assert calls == [data] * files._MAKE_ATTEMPTS and os.listdir(str(tmp_path)) == []


def test_no_file_is_in_the_way_where_the_path_holds_none_or_the_error_is_another(tmp_path):
    """A file that went away since the folder could not be made; a refusal that is not about a file in the way"""
    a_file = tmp_path / 'a_file'
    a_file.write_text('x')
    in_the_way = OSError(errno.ENOTDIR, 'Not a directory')
    assert files.file_in_the_way(str(a_file / 'data'), in_the_way) == str(a_file)
    assert files.file_in_the_way(str(tmp_path / 'gone' / 'data'), in_the_way) is None  # tmp_path: a folder
    assert files.file_in_the_way(str(a_file / 'data'), OSError(errno.EACCES, 'Permission denied')) is None


def test_an_empty_data_folder_is_one_line_naming_data_dir_and_makes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DatasetError) as err:
        files.make_data_dir('')
    assert str(err.value) == "the data folder is an empty path (''): set data_dir to a folder, such as './data' (it " \
                             "is made if missing)"
    assert err.value.__context__ is None and os.listdir(str(tmp_path)) == []  # no OSError behind it, nothing made


# --- build_folder and rename_into_place ---------------------------------------------------------

def test_a_folder_is_built_under_a_hidden_name_then_renamed_into_place(tmp_path, capsys):
    final = str(tmp_path / 'faces')
    seen = []

    def fill(folder):
        seen.append((os.path.basename(folder), os.path.dirname(folder), sorted(os.listdir(str(tmp_path)))))
        with open(os.path.join(folder, 'a.jpg'), 'w') as f:
            f.write('a')

    files.build_folder(final, 'drawing', fill, lambda: 0)
    (name, parent, during), = seen
    assert name.startswith('.faces-drawing-') and parent == str(tmp_path) and during == [name]
    assert os.listdir(str(tmp_path)) == ['faces'] and os.listdir(final) == ['a.jpg']
    assert capsys.readouterr().err == ''


def test_what_a_killed_build_left_is_removed_with_a_note_and_other_hidden_folders_stay(tmp_path, capsys):
    for name in ('.faces-drawing-abc', '.faces-drawing-def', '.faces-extracting-x', '.other-drawing-y'):
        (tmp_path / name).mkdir()
        (tmp_path / name / 'half.jpg').write_text('half')
    files.build_folder(str(tmp_path / 'faces'), 'drawing', lambda folder: None, lambda: 0)
    assert sorted(os.listdir(str(tmp_path))) == ['.faces-extracting-x', '.other-drawing-y', 'faces']
    assert capsys.readouterr().err == 'note: removed 2 leftovers of an interrupted run drawing faces in {}\n'.format(
        tmp_path)


def test_a_leftover_in_a_folder_with_glob_characters_in_its_name_is_found(tmp_path, capsys):
    data = tmp_path / 'data [1]*'
    data.mkdir()
    (data / '.f[1]-drawing-abc').mkdir()
    files.build_folder(str(data / 'f[1]'), 'drawing', lambda folder: None, lambda: 0)
    assert os.listdir(str(data)) == ['f[1]']
    assert 'removed 1 leftover of' in capsys.readouterr().err


def test_a_build_that_fails_leaves_nothing(tmp_path):
    def fill(folder):
        open(os.path.join(folder, 'a.jpg'), 'w').close()
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        files.build_folder(str(tmp_path / 'faces'), 'drawing', fill, lambda: 0)
    assert os.listdir(str(tmp_path)) == []


def test_a_full_disk_while_building_is_one_line_and_leaves_nothing(tmp_path):
    def fill(folder):
        open(os.path.join(folder, 'a.jpg'), 'w').close()
        raise OSError(errno.ENOSPC, 'No space left on device')

    with pytest.raises(DiskFullError) as err:
        files.build_folder(str(tmp_path / 'faces'), 'drawing', fill, lambda: 3_000)
    assert str(err.value) == ('not enough disk space in {} for the faces images (needs about 3.0 kB): free some '
                              'space there and run again'.format(tmp_path))
    assert os.listdir(str(tmp_path)) == []


def test_a_folder_another_process_put_in_place_first_is_kept(tmp_path):
    final = tmp_path / 'faces'

    def fill(folder):
        final.mkdir()
        (final / 'theirs.jpg').write_text('theirs')  # the other process finished meanwhile
        (tmp_path / os.path.basename(folder) / 'ours.jpg').write_text('ours')

    files.build_folder(str(final), 'drawing', fill, lambda: 0)
    assert os.listdir(str(tmp_path)) == ['faces'] and os.listdir(str(final)) == ['theirs.jpg']


def test_renaming_onto_a_file_or_from_nothing_is_an_error(tmp_path):
    (tmp_path / 'built').mkdir()
    (tmp_path / 'a_file').write_text('x')
    with pytest.raises(NotADirectoryError):
        files.rename_into_place(str(tmp_path / 'built'), str(tmp_path / 'a_file'))
    with pytest.raises(FileNotFoundError):
        files.rename_into_place(str(tmp_path / 'nothing'), str(tmp_path / 'final'))
    (tmp_path / 'final').mkdir()
    with pytest.raises(FileNotFoundError):  # a folder in place does not hide that nothing was built
        files.rename_into_place(str(tmp_path / 'nothing'), str(tmp_path / 'final'))


def test_renaming_onto_a_full_folder_keeps_it_and_the_built_one_stays_for_the_caller(tmp_path):
    (tmp_path / 'built').mkdir()
    (tmp_path / 'built' / 'ours').write_text('ours')
    (tmp_path / 'final').mkdir()
    (tmp_path / 'final' / 'theirs').write_text('theirs')
    files.rename_into_place(str(tmp_path / 'built'), str(tmp_path / 'final'))
    assert os.listdir(str(tmp_path / 'final')) == ['theirs'] and os.listdir(str(tmp_path / 'built')) == ['ours']


# --- move_aside ---------------------------------------------------------------------------------

class _Clock:
    """files.datetime for a test: datetime.now() is the time it is set to."""

    def __init__(self, now):
        self.now = now
        clock = self

        class _DateTime(datetime.datetime):
            @classmethod
            def now(cls, tz=None):
                return clock.now

        self.datetime = _DateTime


@pytest.fixture
def clock(monkeypatch):
    """The time move_aside reads, fixed at 2026-03-04 05:06:07 until a test moves it."""
    fixed = _Clock(datetime.datetime(2026, 3, 4, 5, 6, 7))
    monkeypatch.setattr(files, 'datetime', fixed)
    return fixed


def _run_files(folder, names, text='run'):
    for name in names:
        (folder / name).write_text(text)


def test_moved_files_go_into_previous_runs_named_by_the_time(tmp_path, clock):
    _run_files(tmp_path, ['losses.csv', 'samples_step_00100.png', 'keep.txt'])
    (tmp_path / 'checkpoints').mkdir()
    (tmp_path / 'checkpoints' / 'model-1.index').write_text('ckpt')
    moved, deleted = files.move_aside(str(tmp_path), ['losses.csv', 'samples_step_00100.png', 'checkpoints'], keep=2)
    assert moved == str(tmp_path / 'previous-runs' / '2026-03-04_05-06-07') and deleted == []
    assert sorted(os.listdir(moved)) == ['checkpoints', 'losses.csv', 'samples_step_00100.png']
    assert (tmp_path / 'previous-runs' / '2026-03-04_05-06-07' / 'checkpoints' / 'model-1.index').read_text() == 'ckpt'
    assert sorted(os.listdir(str(tmp_path))) == ['keep.txt', 'previous-runs']
    assert os.listdir(str(tmp_path / 'previous-runs')) == ['2026-03-04_05-06-07']


def test_runs_moved_aside_in_the_same_second_get_numbered_names(tmp_path, clock):
    names = []
    for _ in range(3):
        _run_files(tmp_path, ['losses.csv'])
        names.append(os.path.basename(files.move_aside(str(tmp_path), ['losses.csv'], keep=5)[0]))
    assert names == ['2026-03-04_05-06-07', '2026-03-04_05-06-07_2', '2026-03-04_05-06-07_3']


def test_the_newest_runs_are_kept_and_older_ones_deleted(tmp_path, clock):
    deleted = []
    for minute in range(4):
        clock.now = datetime.datetime(2026, 3, 4, 5, minute, 0)
        _run_files(tmp_path, ['losses.csv'], text=str(minute))
        deleted.append(files.move_aside(str(tmp_path), ['losses.csv'], keep=2)[1])
    root = tmp_path / 'previous-runs'
    assert sorted(os.listdir(str(root))) == ['2026-03-04_05-02-00', '2026-03-04_05-03-00']
    assert deleted == [[], [], [str(root / '2026-03-04_05-00-00')], [str(root / '2026-03-04_05-01-00')]]
    assert (root / '2026-03-04_05-03-00' / 'losses.csv').read_text() == '3'


def test_a_run_moved_aside_is_never_deleted_by_its_own_move(tmp_path, clock):
    """keep=1 whatever came before: the run just moved is the one kept, numbered names included."""
    root = tmp_path / 'previous-runs'
    for i in range(12):  # twelve in one second: _10 and _11 sort before _2 as text
        _run_files(tmp_path, ['losses.csv'], text=str(i))
        moved, _ = files.move_aside(str(tmp_path), ['losses.csv'], keep=1)
        assert os.listdir(str(root)) == [os.path.basename(moved)]
        assert (root / os.path.basename(moved) / 'losses.csv').read_text() == str(i)


def test_a_move_a_kill_interrupted_is_finished_first(tmp_path, clock):
    """A '.moving-' folder holds files a killed move put there: renamed into place, never deleted or reused."""
    root = tmp_path / 'previous-runs'
    (root / '.moving-2026-03-04_05-06-07').mkdir(parents=True)
    (root / '.moving-2026-03-04_05-06-07' / 'losses.csv').write_text('interrupted')
    _run_files(tmp_path, ['losses.csv'], text='now')
    moved, deleted = files.move_aside(str(tmp_path), ['losses.csv'], keep=2)
    assert deleted == [] and sorted(os.listdir(str(root))) == ['2026-03-04_05-06-07', '2026-03-04_05-06-07_2']
    assert (root / '2026-03-04_05-06-07' / 'losses.csv').read_text() == 'interrupted'
    assert moved == str(root / '2026-03-04_05-06-07_2') and (root / '2026-03-04_05-06-07_2' / 'losses.csv').read_text() == 'now'


def test_a_name_taken_by_a_move_still_under_way_is_not_reused(tmp_path, clock, monkeypatch):
    """Another process's '.moving-NAME' (seen after the leftovers were finished) keeps NAME for it."""
    root = tmp_path / 'previous-runs'
    root.mkdir()
    real_listdir = os.listdir
    calls = []

    def listdir(path):
        calls.append(path)
        if len(calls) == 2:  # between finishing the leftovers and choosing a name, another move starts
            (root / '.moving-2026-03-04_05-06-07').mkdir()
        return real_listdir(path)

    monkeypatch.setattr(os, 'listdir', listdir)
    _run_files(tmp_path, ['losses.csv'])
    moved, _ = files.move_aside(str(tmp_path), ['losses.csv'], keep=5)
    assert moved == str(root / '2026-03-04_05-06-07_2')
    assert '.moving-2026-03-04_05-06-07' in real_listdir(str(root))  # theirs: not touched, not counted, not deleted


def test_files_that_are_not_runs_hidden_ones_stay(tmp_path, clock):
    root = tmp_path / 'previous-runs'
    (root / '.notes').mkdir(parents=True)
    (root / '.notes' / 'mine.txt').write_text('mine')
    _run_files(tmp_path, ['losses.csv'])
    files.move_aside(str(tmp_path), ['losses.csv'], keep=1)
    assert sorted(os.listdir(str(root))) == ['.notes', '2026-03-04_05-06-07']
    assert (root / '.notes' / 'mine.txt').read_text() == 'mine'


def test_a_name_freed_by_a_deletion_is_not_reused_in_the_same_second(tmp_path, clock):
    """Was: with keep=1 the third move of a second took the freed first name, sorted before _2, and deleted itself."""
    names = []
    for _ in range(3):
        _run_files(tmp_path, ['losses.csv'])
        names.append(os.path.basename(files.move_aside(str(tmp_path), ['losses.csv'], keep=1)[0]))
    assert names == ['2026-03-04_05-06-07', '2026-03-04_05-06-07_2', '2026-03-04_05-06-07_3']


def test_a_run_moved_when_the_clock_went_back_is_kept(tmp_path, clock):
    """Local time goes back an hour when summer time ends: the run just moved is named earlier, and kept."""
    root = tmp_path / 'previous-runs'
    for hour, minute in ((2, 10), (2, 30), (2, 5)):  # 02:05 comes after 02:30: the clock went back
        clock.now = datetime.datetime(2026, 10, 25, hour, minute, 0)
        _run_files(tmp_path, ['losses.csv'], text='{}:{}'.format(hour, minute))
        moved, deleted = files.move_aside(str(tmp_path), ['losses.csv'], keep=2)
    assert moved == str(root / '2026-10-25_02-05-00') and deleted == [str(root / '2026-10-25_02-10-00')]
    assert sorted(os.listdir(str(root))) == ['2026-10-25_02-05-00', '2026-10-25_02-30-00']
    assert (root / '2026-10-25_02-05-00' / 'losses.csv').read_text() == '2:5'


def test_the_newest_runs_of_one_second_are_kept_in_number_order(tmp_path, clock):
    """_10 is newer than _9, though it sorts before it as text."""
    root = tmp_path / 'previous-runs'
    previous = None
    for _ in range(12):
        _run_files(tmp_path, ['losses.csv'])
        moved, _ = files.move_aside(str(tmp_path), ['losses.csv'], keep=2)
        assert sorted(os.listdir(str(root))) == sorted(filter(None, [previous, os.path.basename(moved)]))
        previous = os.path.basename(moved)
    assert previous == '2026-03-04_05-06-07_12'


def test_a_move_killed_part_way_is_finished_by_the_next_one(tmp_path, clock, monkeypatch):
    """Killed after its first file: that file waits in previous-runs, and the next move puts it in its run."""
    elsewhere = tmp_path / 'elsewhere'
    elsewhere.mkdir()
    monkeypatch.chdir(str(elsewhere))  # the working folder has no part in it
    _run_files(tmp_path, ['losses.csv', 'swd.csv'], text='first')
    real_rename, renames = os.rename, []

    def killed_at_the_second(source, target):
        renames.append(source)
        if len(renames) == 2:
            raise KeyboardInterrupt
        real_rename(source, target)

    monkeypatch.setattr(os, 'rename', killed_at_the_second)
    with pytest.raises(KeyboardInterrupt):
        files.move_aside(str(tmp_path), ['losses.csv', 'swd.csv'], keep=2)
    monkeypatch.setattr(os, 'rename', real_rename)
    root = tmp_path / 'previous-runs'
    assert os.listdir(str(root)) == ['.moving-2026-03-04_05-06-07'] and os.listdir(str(elsewhere)) == []
    clock.now = datetime.datetime(2026, 3, 4, 5, 7, 0)
    moved, deleted = files.move_aside(str(tmp_path), ['swd.csv'], keep=2)
    assert deleted == [] and sorted(os.listdir(str(root))) == ['2026-03-04_05-06-07', '2026-03-04_05-07-00']
    assert (root / '2026-03-04_05-06-07' / 'losses.csv').read_text() == 'first'
    assert os.listdir(moved) == ['swd.csv']


def test_a_leftover_that_cannot_be_removed_does_not_stop_the_run(tmp_path, stuck, capsys):
    (tmp_path / 'half').mkdir()
    (tmp_path / 'half' / 'stuck').write_text('x')
    (tmp_path / 'half' / 'other').write_text('x')
    files.remove_leftovers([str(tmp_path / 'half')], 'save')
    assert os.listdir(str(tmp_path / 'half')) == ['stuck']
    assert capsys.readouterr().err == 'note: removed 1 leftover of an interrupted save\n'


def test_an_old_run_that_cannot_be_deleted_does_not_stop_the_move(tmp_path, clock, stuck):
    root = tmp_path / 'previous-runs'
    (root / '2026-01-01_00-00-00').mkdir(parents=True)
    (root / '2026-01-01_00-00-00' / 'stuck').write_text('x')
    _run_files(tmp_path, ['losses.csv'])
    moved, deleted = files.move_aside(str(tmp_path), ['losses.csv'], keep=1)
    assert deleted == [str(root / '2026-01-01_00-00-00')] and os.listdir(moved) == ['losses.csv']


# --- The file system's refusals, as one line --------------------------------------------------------------------

def _refusing(err):
    """:return: A function that raises err, wrapped as the notebook's and the script's entry points are"""
    def work():
        raise err
    return files.refusals_as_one_line(work)


@pytest.mark.parametrize('code,how', [
    (errno.ENOSPC, 'free some space there'), (errno.EDQUOT, 'free some space there'),
    (errno.EACCES, 'give yourself access to it, or choose another place'),
    (errno.EPERM, 'give yourself access to it, or choose another place'),
    (errno.EROFS, 'it is on a read-only file system: choose a writable place')])
def test_a_refusal_of_the_file_system_is_one_line_naming_the_file_without_its_temporary_suffix(code, how):
    temporary = files.temp_path('/runs/a\nb/real_images.png')  # what the writers write first
    with pytest.raises(FileSystemError) as err:
        _refusing(OSError(code, os.strerror(code), temporary))()
    assert str(err.value) == 'could not write or read /runs/a\\nb/real_images.png ({}): {}, then run again'.format(
        os.strerror(code), how)
    assert err.value.__suppress_context__


@pytest.mark.parametrize('err', [OSError(errno.ENOENT, 'No such file or directory', 'x'),
                                 OSError(errno.ENOSPC, 'No space left on device'), ValueError('x')],
                         ids=['another errno', 'no file named', 'not an OSError'])
def test_any_other_error_passes_through_as_it_is(err):
    with pytest.raises(type(err)) as raised:
        _refusing(err)()
    assert raised.value is err


def test_moving_a_run_aside_where_previous_runs_is_a_file_is_one_line(tmp_path):
    (tmp_path / 'losses.csv').write_text('step\n')
    (tmp_path / files.PREVIOUS_RUNS).write_text('mine')
    with pytest.raises(FileSystemError, match=r'^{} is a file, where runs moved aside go: move or rename it, then run '
                                              r'again$'.format(re.escape(str(tmp_path / files.PREVIOUS_RUNS)))):
        files.move_aside(str(tmp_path), ['losses.csv'], 2)
    assert (tmp_path / 'losses.csv').read_text() == 'step\n' and (tmp_path / files.PREVIOUS_RUNS).read_text() == 'mine'


@pytest.mark.parametrize('code', [errno.ENOSPC, errno.EIO])
def test_a_write_that_fails_naming_no_file_is_given_the_file_being_written(tmp_path, code):
    """A write's error (ENOSPC from a full disk) names no file; the one-line refusal needs it"""
    def write(temporary):
        raise OSError(code, os.strerror(code))

    with pytest.raises(OSError) as err:
        files.write_atomically(str(tmp_path / 'run.json'), write)
    assert (err.value.errno, err.value.strerror, err.value.filename) == (code, os.strerror(code),
                                                                         str(tmp_path / 'run.json'))
    assert isinstance(err.value.__cause__, OSError) and err.value.__cause__.filename is None


@pytest.mark.parametrize('raised', [OSError(errno.EACCES, 'Permission denied', 'named.tmp'), OSError('no errno')],
                         ids=['names its file', 'no errno'])
def test_a_write_error_that_names_its_file_or_has_no_errno_passes_as_it_is(tmp_path, raised):
    def write(temporary):
        raise raised

    with pytest.raises(OSError) as err:
        files.write_atomically(str(tmp_path / 'run.json'), write)
    assert err.value is raised


@pytest.mark.parametrize('code', [errno.EACCES, errno.EPERM, errno.EROFS])
@pytest.mark.parametrize('where', ['make', 'fill'])
def test_a_data_folder_the_file_system_refuses_is_one_line_naming_it(tmp_path, monkeypatch, code, where):
    """(Injected: the tests' root writes anywhere; tests/test_cli.py makes a folder read-only for real)"""
    data = str(tmp_path / 'da\nta')
    refusal = OSError(code, os.strerror(code), data)
    if where == 'make':
        monkeypatch.setattr(os, 'makedirs', lambda *args, **kwargs: (_ for _ in ()).throw(refusal))
        call = functools.partial(files.make_data_dir, data)
    else:
        os.makedirs(data)
        monkeypatch.setattr(files.tempfile, 'mkdtemp', lambda *args, **kwargs: (_ for _ in ()).throw(refusal))
        call = functools.partial(files.build_folder, os.path.join(data, 'faces'), 'drawing', None, lambda: 0)
    with pytest.raises(DatasetError) as err:
        call()
    assert str(err.value) == 'the data folder {} cannot be written ({}): give a folder you can write, such as one ' \
                             'in your home folder'.format(str(tmp_path / 'da\\nta'), os.strerror(code))


@pytest.mark.parametrize('code', [errno.ENOSPC, errno.EIO])
def test_a_data_folder_refused_for_another_reason_keeps_its_error(tmp_path, monkeypatch, code):
    """A full disk has its own message (disk_full_as_one_line's); another errno is not the user's to fix"""
    refusal = OSError(code, os.strerror(code), str(tmp_path / 'data'))
    monkeypatch.setattr(os, 'makedirs', lambda *args, **kwargs: (_ for _ in ()).throw(refusal))
    with pytest.raises(OSError) as err:
        files.make_data_dir(str(tmp_path / 'data'))
    assert err.value is refusal
