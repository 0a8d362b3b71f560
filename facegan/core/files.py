"""
Writing files safely, for every module that writes: one writer at a time (a lock file), one
temporary-name scheme (path.tmp-PID-RANDOM, which is_temporary recognises), files and folders
renamed into place only when complete, leftovers of a killed run removed with a note, one test of
a full disk and the one line it becomes, and a run's files moved aside rather than deleted.
"""
import contextlib
import datetime
import errno
import functools
import glob
import os
import re
import shutil
import sys
import tempfile

try:
    import fcntl
except ImportError:  # Windows: no flock, so builders there do not wait for each other
    fcntl = None

from facegan.core.errors import DatasetError, DiskFullError, FileSystemError, one_line


@contextlib.contextmanager
def one_at_a_time(lock_path, doing, busy=None):
    """
    Run a block in one process at a time: a second process waits for the first (and says so in
    one line), then sees what the first made; or, given busy, is refused at once. The lock file is
    removed when the block ends.
    :param lock_path: The lock file, made if missing
    :param doing: What the holder does, for the note: 'using the image cache in DIR'
    :param busy: The exception a second process raises instead of waiting (None: it waits)
    """
    fd = _locked(lock_path, doing, busy) if fcntl else None
    try:
        yield
    finally:
        if fd is not None:
            with contextlib.suppress(FileNotFoundError):
                os.remove(lock_path)  # while still holding it: a waiter sees the file is gone
            os.close(fd)


def _locked(lock_path, doing, busy=None):
    """
    :return: A descriptor of lock_path holding its exclusive flock (busy raised where another holds it, if given);
        None where no lock file can be
        made: in a read-only folder nothing can be built, so there is no race, and on a full disk
        the writing that follows fails with the message that says so
    """
    said = False
    while True:
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as err:
            if err.errno in (errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC):
                return None
            raise
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if busy is not None:
                    raise busy from None
                if not said:
                    print('note: another process is {}; waiting for it to finish'.format(doing), file=sys.stderr,
                          flush=True)
                    said = True
                fcntl.flock(fd, fcntl.LOCK_EX)
            if _same_file(fd, lock_path):
                return fd
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)  # the holder removed this lock file as it finished: lock the current one


def _same_file(fd, path):
    """
    :return: True when path still names the file open as fd
    """
    try:
        on_disk = os.stat(path)
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return (on_disk.st_dev, on_disk.st_ino) == (held.st_dev, held.st_ino)


def lock_beside(folder):
    """
    :return: The lock file of a folder that one_at_a_time makes: a hidden '.NAME.lock' beside it
    """
    data_path, name = os.path.split(folder)
    return os.path.join(data_path, '.{}.lock'.format(name))


def temp_path(path):
    """
    :return: A temporary name beside path that no other process or call uses: path.tmp-PID-RANDOM
    """
    return '{}.tmp-{}-{}'.format(path, os.getpid(), os.urandom(4).hex())


# temp_path's suffix; older versions of the project wrote NAME.tmpHEX, NAME.tmpPID and NAME.tmp
_TEMPORARY_SUFFIX = re.compile(r'\.tmp(-(\d+)-[0-9a-f]{8}|[0-9a-f]*)$')  # group 2: the PID, in temp_path's


def is_temporary(name):
    """:return: Whether a file name is one temp_path made (or an older version's temporary name)"""
    return bool(_TEMPORARY_SUFFIX.search(name))


def of_a_stopped_process(name):
    """
    :return: Whether a file name is one temp_path made in a process no longer running (killed before it could remove
             it): False for another name, and for a process that runs, this one or another user's
    """
    match = _TEMPORARY_SUFFIX.search(name)
    if not (match and match.group(2)):  # not temporary, or an older version's name: no PID to ask
        return False
    try:
        os.kill(int(match.group(2)), 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return True
    except (PermissionError, OverflowError):  # another user's process; a number no process has, left alone
        return False
    return False


def without_temporary_suffix(name):
    """:return: The name temp_path was given, for a temporary name; the name itself otherwise"""
    return _TEMPORARY_SUFFIX.sub('', name)


def write_atomically(path, write):
    """
    Write a file under a temporary name (temp_path), then rename it: a reader never sees half a
    file, and a failed write leaves nothing behind
    :param path: The file to write
    :param write: Function that writes the file whose path it is given
    """
    temporary = temp_path(path)
    try:
        write(temporary)
        os.replace(temporary, path)
    except OSError as err:
        if err.filename is None and err.errno is not None:  # a write's error (a full disk) names no file: name it
            raise OSError(err.errno, err.strerror, path) from err
        raise
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(temporary)  # a no-op once renamed


def remove_leftovers(paths, what):
    """
    Remove files and folders an interrupted run left behind, and say so in one line
    :param paths: Their paths
    :param what: What was interrupted, for the note: 'cache build in DIR'
    """
    for path in paths:
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                os.remove(path)
    if paths:
        plural = 's' if len(paths) > 1 else ''
        print('note: removed {} leftover{} of an interrupted {}'.format(len(paths), plural, what), file=sys.stderr)


def bytes_on_disk(sizes, folder):
    """
    :param sizes: Sizes of files to write
    :param folder: Where they go
    :return: The space they take there, each rounded up to whole blocks
    """
    block = os.statvfs(folder).f_frsize if hasattr(os, 'statvfs') else 4096
    return sum(-(-size // block) * block for size in sizes)


_DISK_FULL_ERRNOS = (errno.ENOSPC, getattr(errno, 'EDQUOT', errno.ENOSPC))


def is_disk_full(err):
    """
    :param err: An exception from writing a file: an OSError, or TensorFlow's (whose message holds the system's)
    :return: Whether it says the disk, or the user's quota, is full
    """
    return getattr(err, 'errno', None) in _DISK_FULL_ERRNOS or any(
        os.strerror(code) in str(err) for code in _DISK_FULL_ERRNOS)


def size_text(n_bytes):
    """:return: A size for people: '0.4 kB', '170.2 MB', '82.8 GB'"""
    for unit, scale in (('GB', 1e9), ('MB', 1e6)):
        if n_bytes >= scale:
            return '{:.1f} {}'.format(n_bytes / scale, unit)
    return '{:.1f} kB'.format(n_bytes / 1e3)


@contextlib.contextmanager
def disk_full_as_one_line(folder, what, bytes_needed):
    """
    Turn a full disk (ENOSPC, or a full quota) inside the block into a one-line DiskFullError; the
    block removes its own partial files on the way out
    :param folder: Where the files were being written
    :param what: What was being written, e.g. 'the image cache'
    :param bytes_needed: Function that estimates the space needed, called only on failure
    """
    try:
        yield
    except OSError as err:
        if not is_disk_full(err):
            raise
        raise DiskFullError('not enough disk space in {} for {} (needs about {}): free some space there and '
                            'run again'.format(one_line(folder), what, size_text(bytes_needed()))) from None


def make_data_dir(data_path):
    """
    Make the data folder if it is missing; a file in its way that another process removes meanwhile is no error
    :param data_path: Folder for the data
    :return: None; raises DatasetError when it is empty (no folder at all), or it or a folder above it is a file
    """
    if not data_path:
        raise DatasetError("the data folder is an empty path (''): set data_dir to a folder, such as './data' (it is "
                           "made if missing)")
    for _ in range(_MAKE_ATTEMPTS):
        try:
            os.makedirs(data_path, exist_ok=True)
            return
        except OSError as err:
            blocker = file_in_the_way(data_path, err)
            if blocker is not None:
                where = ('is a file' if blocker == os.path.normpath(data_path) else
                         'is inside {}, which is a file'.format(one_line(blocker)))
                raise DatasetError('the data folder {} {}: give a folder (it is made if missing)'
                                   .format(one_line(data_path), where)) from None
            if err.errno not in _IN_THE_WAY:
                raise _unwritable(data_path, err) from None
            # a file was in the way and is gone since (another process removed it): make the folder again
    raise DatasetError('the data folder {} is being changed by another program, which makes and removes a file where '
                       'it should be: stop that program, or give another folder'.format(one_line(data_path)))


# The errors of a file standing where a folder should be (file_in_the_way), and how often make_data_dir tries again
# when each time the file is gone before it can be named
_IN_THE_WAY = (errno.EEXIST, errno.ENOTDIR)
_MAKE_ATTEMPTS = 3


def file_in_the_way(folder, err):
    """
    :param folder: A folder that could not be made
    :param err: The OSError making it raised
    :return: The file (a link to nothing included) that stands where folder, or a folder above it, should be: the
             path normalized (os.path.normpath: 'data/' is the file 'data'), or the part of it that names that file;
             None where err is another problem (or the file went away since)
    """
    if err.errno not in _IN_THE_WAY:
        return None
    path = os.path.normpath(folder)
    while os.path.dirname(path) != path and not os.path.lexists(path):
        path = os.path.dirname(path)
    return path if os.path.lexists(path) and not os.path.isdir(path) else None


def _unwritable(data_path, err):
    """:return: The one-line DatasetError of a data folder the file system will not let the program write (err
             re-raised where it is another problem)"""
    if err.errno not in _HOW or err.errno == errno.ENOSPC:
        raise err
    return DatasetError('the data folder {} cannot be written ({}): give a folder you can write, such as one in your '
                        'home folder'.format(one_line(data_path), err.strerror))


def build_folder(final_path, label, fill, bytes_needed):
    """
    Make a folder of files under a hidden temporary name beside final_path, then rename it into
    place; the caller holds the folder's lock (one_at_a_time), so temporary folders of this
    name found now were left by a killed run, and are removed
    :param final_path: The folder to make
    :param label: Word in the temporary folder's name: '.NAME-LABEL-XXXX' ('extracting', 'drawing')
    :param fill: Function that writes the files into the folder it is given
    :param bytes_needed: Function that estimates the space the files take, for a full disk's message
    """
    data_path, name = os.path.split(final_path)
    prefix = '.{}-{}-'.format(name, label)
    remove_leftovers(glob.glob(os.path.join(glob.escape(data_path), glob.escape(prefix) + '*')),
                     'run {} {} in {}'.format(label, name, one_line(data_path)))
    with disk_full_as_one_line(data_path, 'the {} images'.format(name), bytes_needed):
        try:
            tmp_path = tempfile.mkdtemp(prefix=prefix, dir=data_path)
        except OSError as err:
            raise _unwritable(data_path, err) from None
        try:
            fill(tmp_path)
            rename_into_place(tmp_path, final_path)
        finally:
            shutil.rmtree(tmp_path, ignore_errors=True)  # a no-op once renamed


def rename_into_place(tmp_path, final_path):
    """
    Rename a finished folder into place; if another process put its own there first, keep that one
    :param tmp_path: The finished folder
    :param final_path: Its name
    """
    try:
        os.rename(tmp_path, final_path)
    except OSError as err:
        if err.errno not in (errno.EEXIST, errno.ENOTEMPTY) or not os.path.isdir(final_path):
            raise


PREVIOUS_RUNS = 'previous-runs'  # the subfolder move_aside moves a run's files into
_MOVING = '.moving-'  # a moved-aside run's folder while its files are moved in


# The file system's refusals a user can fix, and how (an errno the program does not expect stays a traceback: a bug)
_HOW = dict.fromkeys(_DISK_FULL_ERRNOS, 'free some space there')
_HOW.update(dict.fromkeys((errno.EACCES, errno.EPERM), 'give yourself access to it, or choose another place'))
_HOW[errno.EROFS] = 'it is on a read-only file system: choose a writable place'


def refusals_as_one_line(function):
    """
    A decorator: a full disk or quota, a permission denied or a read-only file system that reaches the caller of
    function becomes one line (FileSystemError) naming the file, in a notebook as on the command line
    """
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except OSError as err:
            how = _HOW.get(err.errno)
            if how is None or err.filename is None:
                raise
            raise FileSystemError('could not write or read {} ({}): {}, then run again'.format(
                one_line(without_temporary_suffix(os.fsdecode(err.filename))), err.strerror, how)) from None
    return wrapper


def _run_order(name):
    """:return: A moved-aside run's (time, number) from its name: ('2026-03-04_05-06-07', 2) for '..._2', 1 for none"""
    match = re.fullmatch(r'(.*?)(?:_(\d+))?', name)
    return match.group(1), int(match.group(2) or 1)


def move_aside(folder, names, keep):
    """
    Move files out of the way without deleting them: into folder/previous-runs/DATE_TIME/, each renamed
    into a hidden folder that is renamed into place once all are in (one a kill interrupted is finished
    next time). Of the runs moved aside there, the keep newest stay; older ones are deleted.
    :param folder: The folder that holds the files
    :param names: Names of its files and folders to move
    :param keep: How many moved-aside runs to keep, at least 1
    :return: (the folder they are in now, [paths of older moved-aside runs deleted])
    """
    root = os.path.join(folder, PREVIOUS_RUNS)
    try:
        os.makedirs(root, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise FileSystemError('{} is a file, where runs moved aside go: move or rename it, then run again'.format(
            one_line(root))) from None
    for leftover in sorted(entry for entry in os.listdir(root) if entry.startswith(_MOVING)):
        os.rename(os.path.join(root, leftover), os.path.join(root, leftover[len(_MOVING):]))
    stamp = datetime.datetime.now().strftime('%Y-%m-%d_%H-%M-%S')
    # After every run of this second (a freed name is not reused: it would sort before the newer ones)
    numbers = [number for base, number in (_run_order(entry[len(_MOVING):] if entry.startswith(_MOVING) else entry)
                                           for entry in os.listdir(root)) if base == stamp]
    name = '{}_{}'.format(stamp, max(numbers) + 1) if numbers else stamp
    staging = os.path.join(root, _MOVING + name)
    os.mkdir(staging)
    for entry in names:
        os.rename(os.path.join(folder, entry), os.path.join(staging, entry))
    moved = os.path.join(root, name)
    os.rename(staging, moved)
    others = sorted((entry for entry in os.listdir(root) if not entry.startswith('.') and entry != name), key=_run_order)
    older = others[:max(0, len(others) - (keep - 1))]  # the run just moved is always one of the keep
    for entry in older:
        shutil.rmtree(os.path.join(root, entry), ignore_errors=True)
    return moved, [os.path.join(root, entry) for entry in older]
