"""
Data helpers for the face-generation DCGAN: download, extract, crop and batch images.

This keeps the API of the Udacity project's helper.py (download_extract, get_image, get_batch,
images_square_grid, Dataset) and adds the two things a runnable copy needs today: a synthetic
face dataset that works with no network, and one place that imports TensorFlow with the legacy
Keras that `tf.compat.v1.layers` needs.
"""
import concurrent.futures
import contextlib
import errno
import glob
import gzip
import hashlib
import http.client
import json
import math
import os
import re
import shutil
import signal
import stat
import sys
import tempfile
import threading
import urllib.error
import urllib.request
import warnings
import zipfile

try:
    import fcntl
except ImportError:  # Windows: no flock, so builders there do not wait for each other
    fcntl = None

import numpy as np
from PIL import Image, ImageDraw
from tqdm import tqdm


class DatasetError(Exception):
    """A data problem the user can fix; its message is one line that says how."""


class DiskFullError(DatasetError):
    """Not enough disk space for what was being written; the message says where and how much."""


# Where each dataset comes from: URLs tried in order (the original host first, then the mirrors
# PyTorch and TensorFlow users moved to), the archive's md5, the folder it extracts to and how
# many images a complete extraction holds. Tests pass their own table to download_extract.
DATASETS = {
    'mnist': {
        'urls': ['http://yann.lecun.com/exdb/mnist/train-images-idx3-ubyte.gz',
                 'https://ossci-datasets.s3.amazonaws.com/mnist/train-images-idx3-ubyte.gz',
                 'https://storage.googleapis.com/cvdf-datasets/mnist/train-images-idx3-ubyte.gz'],
        'md5': 'f68b3c2dcbeaaa9fbdd348bbdeb94873',
        'archive': 'train-images-idx3-ubyte.gz',
        'folder': 'mnist',
        'count': 60000,
    },
    'celeba': {
        'urls': ['https://s3-us-west-1.amazonaws.com/udacity-dlnfd/datasets/celeba.zip'],
        'md5': '00d2c5bc6d35e252742224ab0c1e8fcb',  # the same file as CelebA's img_align_celeba.zip
        'archive': 'celeba.zip',
        'folder': 'img_align_celeba',
        'count': 202599,
        'manual_archive': 'img_align_celeba.zip',
        'manual': 'download img_align_celeba.zip ("Align&Cropped Images") from the CelebA page '
                  '(mmlab.ie.cuhk.edu.hk/projects/CelebA.html) or its Kaggle copy '
                  '(kaggle.com/datasets/jessicali9530/celeba-dataset) and put the zip, or its '
                  'extracted img_align_celeba/ folder, in {data_path}, then run again',
    },
}
DOWNLOAD_ATTEMPTS = 3  # per URL; a connection dropped mid-file resumes where it stopped
DOWNLOAD_TIMEOUT = 60  # seconds without data before a connection counts as dropped
COMPLETE_MARKER = '.complete'  # written into an extraction just before it is renamed into place

# Image mode of each dataset name that Dataset accepts.
IMAGE_MODES = {'mnist': 'L', 'celeba': 'RGB', 'synthetic': 'RGB'}


@contextlib.contextmanager
def _native_info_lines_dropped():
    """
    Drop the INFO lines TensorFlow's C++ code writes to stderr while it loads, before it reads
    TF_CPP_MIN_LOG_LEVEL; every other line written meanwhile is passed on. Level 0 keeps all.
    """
    if os.environ.get('TF_CPP_MIN_LOG_LEVEL') == '0':
        yield
        return
    sys.stderr.flush()
    saved_fd = os.dup(2)
    with tempfile.TemporaryFile(mode='w+b') as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved_fd, 2)
            os.close(saved_fd)
            captured.seek(0)
            for line in captured.read().decode(errors='replace').splitlines(keepends=True):
                if not line.startswith(('I0000', 'WARNING: All log messages before absl::InitializeLog()')):
                    sys.stderr.write(line)


INTERRUPTED = 'error: interrupted (no training step was under way: nothing to save)'


_STOPPED_BY = []  # the signals that stopped the program outside training's steps


def stop_as_ctrl_c(signum, frame):
    """
    A signal handler: stop the way Ctrl-C does, and remember the signal
    :param signum: The signal's number
    :param frame: The frame it interrupted (unused)
    """
    del frame
    _STOPPED_BY.append(signum)
    raise KeyboardInterrupt(signal.Signals(signum).name)


def _interrupt_in_one_line():
    """
    Ctrl-C while the script starts (TensorFlow takes seconds to load) or between steps ends it with
    one line and exit code 130, not a traceback. It changes only what happens to an exception
    nothing caught, so notebooks and test runners, which catch their own, are unaffected. Ctrl-C
    goes through stop_as_ctrl_c, which remembers it: TensorFlow turns a KeyboardInterrupt raised
    inside some of its calls into another error (RuntimeError, its cause lost), and after a
    remembered signal that error is the interruption too.
    """
    previous = sys.excepthook

    def hook(kind, value, traceback):
        if not (issubclass(kind, KeyboardInterrupt) or _STOPPED_BY):
            return previous(kind, value, traceback)
        print(INTERRUPTED, file=sys.stderr)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(130)  # what a shell reports for Ctrl-C; nothing is left to clean up

    hook.one_line_interrupt = True
    if not getattr(previous, 'one_line_interrupt', False):  # once, however often TensorFlow is imported
        sys.excepthook = hook
        if (signal.getsignal(signal.SIGINT) is signal.default_int_handler
                and threading.current_thread() is threading.main_thread()):
            signal.signal(signal.SIGINT, stop_as_ctrl_c)


def import_tensorflow():
    """
    Import TensorFlow so that tf.compat.v1.layers works under Keras 3.

    TensorFlow routes tf.compat.v1.layers to the tf-keras package only when TF_USE_LEGACY_KERAS=1
    is set before its Keras loader first resolves, so every entry point calls this first.
    :return: The tensorflow.compat.v1 module, used as `tf` throughout the project
    """
    os.environ['TF_USE_LEGACY_KERAS'] = '1'
    _interrupt_in_one_line()
    # TensorFlow's C++ log (CUDA probes, graph-optimizer notes) would bury the training log;
    # TF_CPP_MIN_LOG_LEVEL=0 brings it back.
    os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
    with _native_info_lines_dropped():
        import tensorflow  # pylint: disable=import-outside-toplevel

    try:
        tensorflow.compat.v1.layers.Layer  # resolves the lazy loader: Keras 3 or tf-keras
    except (AttributeError, ImportError):
        raise RuntimeError(
            'tf.compat.v1.layers is unavailable: TensorFlow was set up with Keras 3 before '
            'TF_USE_LEGACY_KERAS=1 was set. Restart Python with `export TF_USE_LEGACY_KERAS=1` '
            '(and `pip install -r requirements.txt` for tf-keras), or import this project '
            'before anything imports tensorflow.') from None
    # The project uses tf.layers on purpose (it is the article's API); its deprecation
    # warnings would bury the training log.
    warnings.filterwarnings('ignore', message=r'`tf\.layers\.', category=UserWarning)
    tensorflow.get_logger().setLevel('ERROR')
    return tensorflow.compat.v1


# --- Shared pieces for writing safely: one writer at a time, temporary names, leftovers, full disks

@contextlib.contextmanager
def _one_at_a_time(lock_path, doing):
    """
    Run a block in one process at a time: a second process waits for the first (and says so in
    one line), then sees what the first made. The lock file is removed when the block ends.
    :param lock_path: The lock file, made if missing
    :param doing: What the holder does, for the note: 'using the image cache in DIR'
    """
    fd = _locked(lock_path, doing) if fcntl else None
    try:
        yield
    finally:
        if fd is not None:
            with contextlib.suppress(FileNotFoundError):
                os.remove(lock_path)  # while still holding it: a waiter sees the file is gone
            os.close(fd)


def _locked(lock_path, doing):
    """
    :return: A descriptor of lock_path holding its exclusive flock; None where no lock file can be
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


def _temp_path(path):
    """
    :return: A temporary name beside path that no other process or call uses: path.tmp-PID-RANDOM
    """
    return '{}.tmp-{}-{}'.format(path, os.getpid(), os.urandom(4).hex())


def _remove_leftovers(paths, what):
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
        print('note: removed {} leftover{} of an interrupted {}'.format(len(paths), 's' if len(paths) > 1 else '', what),
              file=sys.stderr)


def _bytes_on_disk(sizes, folder):
    """
    :param sizes: Sizes of files to write
    :param folder: Where they go
    :return: The space they take there, each rounded up to whole blocks
    """
    block = os.statvfs(folder).f_frsize if hasattr(os, 'statvfs') else 4096
    return sum(-(-size // block) * block for size in sizes)


@contextlib.contextmanager
def _disk_full_is_a_dataset_error(folder, what, bytes_needed):
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
        if err.errno not in (errno.ENOSPC, getattr(errno, 'EDQUOT', errno.ENOSPC)):
            raise
        raise DiskFullError('not enough disk space in {} for {} (needs about {:.1f} MB): free some space there and '
                            'run again'.format(folder, what, bytes_needed() / 1e6)) from None


def _make_data_dir(data_path):
    """
    Make the data folder if it is missing
    :param data_path: Folder for the data (--data-dir)
    :return: None; raises DatasetError when it, or a folder above it, is a file
    """
    try:
        os.makedirs(data_path, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        blocker = data_path
        while not os.path.exists(blocker):
            blocker = os.path.dirname(blocker)
        where = 'is a file' if blocker == data_path else 'is inside {}, which is a file'.format(blocker)
        raise DatasetError('--data-dir {} {}, not a folder: point --data-dir at a folder (it is made if missing)'
                           .format(data_path, where)) from None


def _build_folder(final_path, label, fill, bytes_needed):
    """
    Make a folder of files under a hidden temporary name beside final_path, then rename it into
    place; the caller holds the folder's lock (_one_at_a_time), so temporary folders of this
    name found now were left by a killed run, and are removed
    :param final_path: The folder to make
    :param label: Word in the temporary folder's name: '.NAME-LABEL-XXXX' ('extracting', 'drawing')
    :param fill: Function that writes the files into the folder it is given
    :param bytes_needed: Function that estimates the space the files take, for a full disk's message
    """
    data_path, name = os.path.split(final_path)
    prefix = '.{}-{}-'.format(name, label)
    _remove_leftovers(glob.glob(os.path.join(glob.escape(data_path), glob.escape(prefix) + '*')),
                      'run {} {} in {}'.format(label, name, data_path))
    with _disk_full_is_a_dataset_error(data_path, 'the {} images'.format(name), bytes_needed):
        tmp_path = tempfile.mkdtemp(prefix=prefix, dir=data_path)
        try:
            fill(tmp_path)
            _rename_into_place(tmp_path, final_path)
        finally:
            shutil.rmtree(tmp_path, ignore_errors=True)  # a no-op once renamed


def _rename_into_place(tmp_path, final_path):
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


def _read32(bytestream):
    """
    Read 32-bit integer from bytesteam
    :param bytestream: A bytestream
    :return: 32-bit integer
    """
    dt = np.dtype(np.uint32).newbyteorder('>')
    return int(np.frombuffer(bytestream.read(4), dtype=dt)[0])


def _read_idx_header(bytestream, save_path):
    """
    Read an IDX image file's header (magic 2051, then count, rows, cols, big-endian)
    :param bytestream: The file, decompressed, at its start
    :param save_path: Its path, for the message
    :return: (count, rows, cols)
    """
    idx_image_magic = 2051
    magic = _read32(bytestream)
    if magic != idx_image_magic:
        raise DatasetError('Invalid magic number {} in {}: not an IDX image file; delete it '
                           'and download it again'.format(magic, save_path))
    return _read32(bytestream), _read32(bytestream), _read32(bytestream)


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


def _ungzip(save_path, extract_path, database_name):
    """
    Write each image of a gzipped IDX file as a PNG in extract_path
    :param save_path: The path of the gzip file
    :param extract_path: The folder to write the images to
    :param database_name: Name of database, for the progress bar
    """
    data = read_idx_images(save_path)
    for image_i, image in enumerate(
            tqdm(data, unit='File', unit_scale=True, miniters=1,
                 desc='Extracting {}'.format(database_name))):
        # PNG, not the original's JPEG: lossless, so pixels equal the IDX values
        Image.fromarray(image).save(os.path.join(extract_path, 'image_{}.png'.format(image_i)))


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
            for member in tqdm(members, unit='File', unit_scale=True, miniters=1,
                               desc='Extracting {}'.format(database_name)):
                # Flatten: celeba.zip holds img_align_celeba/*.jpg, Kaggle's copy one level deeper
                target = os.path.join(extract_path, os.path.basename(member.filename))
                with zf.open(member) as src, open(target, 'wb') as dst:
                    shutil.copyfileobj(src, dst)
    except (zipfile.BadZipFile, EOFError):
        raise DatasetError('{} is not a zip file'.format(save_path)) from None


def md5_of_file(path):
    """
    :param path: File to hash
    :return: The file's md5 as a hex string
    """
    digest = hashlib.md5()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            digest.update(chunk)
    return digest.hexdigest()


class _TransferCut(Exception):
    """The server closed the connection before the whole file came."""


def _fetch(url, part_path, pbar):
    """
    Download url into part_path, resuming from the bytes already there when the server allows
    :param url: URL of the file
    :param part_path: The partial file, appended to
    :param pbar: tqdm bar to move
    """
    offset = os.path.getsize(part_path) if os.path.exists(part_path) else 0
    request = urllib.request.Request(url, headers={'Range': 'bytes={}-'.format(offset)} if offset else {})
    with urllib.request.urlopen(request, timeout=DOWNLOAD_TIMEOUT) as response:
        if offset and response.status != 206:
            offset = 0  # the server sent the whole file: start over
        length = response.headers.get('Content-Length')
        expected = offset + int(length) if length else None
        pbar.reset(total=expected)
        pbar.update(offset)
        with open(part_path, 'ab' if offset else 'wb') as f:
            for chunk in iter(lambda: response.read(1 << 16), b''):
                f.write(chunk)
                pbar.update(len(chunk))
    if expected is not None and os.path.getsize(part_path) < expected:
        raise _TransferCut('connection closed at byte {} of {}'.format(os.path.getsize(part_path), expected))


def _download(urls, save_path, database_name):
    """
    Download the first of urls that answers to save_path, through a .part file that survives a
    dropped connection (resumed with an HTTP Range request) and is renamed only when complete
    :param urls: URLs to try in order
    :param save_path: Where the finished file goes
    :param database_name: Name of database, for the progress bar and messages
    :return: None; raises DatasetError naming every URL's failure when none worked
    """
    part_path = save_path + '.part'
    errors = []
    with tqdm(unit='B', unit_scale=True, miniters=1, desc='Downloading {}'.format(database_name)) as pbar:
        for url in urls:
            for _ in range(DOWNLOAD_ATTEMPTS):
                try:
                    _fetch(url, part_path, pbar)
                    os.replace(part_path, save_path)
                    return
                except urllib.error.HTTPError as err:
                    if err.code == 416 and os.path.exists(part_path):  # nothing left to send
                        os.replace(part_path, save_path)
                        return
                    errors.append('{}: HTTP {}'.format(url, err.code))
                    break  # this host will not serve it: next URL
                except urllib.error.URLError as err:
                    errors.append('{}: {}'.format(url, err.reason))
                    break  # unreachable: next URL
                except (OSError, http.client.HTTPException, _TransferCut) as err:
                    if getattr(err, 'errno', None) == errno.ENOSPC:
                        raise DatasetError('Disk full while downloading {}: free some space in {} and run '
                                           'again (the download resumes from the {} bytes kept in {})'
                                           .format(database_name, os.path.dirname(save_path) or '.',
                                                   os.path.getsize(part_path), part_path)) from None
                    errors.append('{}: {}'.format(url, err.__class__.__name__ if not str(err) else err))
    raise DatasetError('Could not download {} ({})'.format(database_name, '; '.join(errors)))


def _check_complete(extract_path, source, database_name):
    """
    Accept a dataset folder only when it is a finished extraction (it has the marker) or holds
    every image (say, extracted by hand)
    :param extract_path: The dataset's folder
    :param source: The dataset's entry in DATASETS
    :param database_name: Name of database, for the message
    """
    if os.path.exists(os.path.join(extract_path, COMPLETE_MARKER)):
        return
    count = len(list_image_files(extract_path))
    if count != source['count']:
        raise DatasetError('{} holds {} of the {} images of {}: it is not a complete extraction; move it '
                           'away or delete it and run again'.format(extract_path, count, source['count'],
                                                                     database_name))
    try:
        open(os.path.join(extract_path, COMPLETE_MARKER), 'w').close()  # saves the count next time
    except OSError:
        pass  # a read-only folder is fine: it is counted again next time


def _extracted_size(save_path, folder):
    """
    :param save_path: A gzipped IDX file or a zip of JPEGs
    :param folder: Where its images go
    :return: About how much space its images take there once extracted
    """
    if save_path.endswith('.gz'):
        with gzip.open(save_path, 'rb') as bytestream:
            count, rows, cols = _read_idx_header(bytestream, save_path)
        sizes = [rows * cols + 100] * count  # a PNG of a digit is about as large as its pixels
    else:
        with zipfile.ZipFile(save_path) as zf:
            sizes = [m.file_size for m in zf.infolist() if m.filename.lower().endswith('.jpg')]
    return _bytes_on_disk(sizes, folder)


def _extract(save_path, extract_path, database_name):
    """
    Extract an archive into a temporary folder beside extract_path, then rename it into place
    :param save_path: The archive
    :param extract_path: Where the images end up
    :param database_name: Name of database, for the progress bar
    """
    extract_fn = _ungzip if save_path.endswith('.gz') else _unzip

    def fill(tmp_path):
        extract_fn(save_path, tmp_path, database_name)
        open(os.path.join(tmp_path, COMPLETE_MARKER), 'w').close()

    _build_folder(extract_path, 'extracting', fill,
                  lambda: _extracted_size(save_path, os.path.dirname(extract_path)))


def _found(extract_path, source, database_name):
    """
    :return: True when the dataset is already extracted (and says so); raises DatasetError for an
        incomplete folder
    """
    if not os.path.exists(extract_path):
        return False
    _check_complete(extract_path, source, database_name)
    print('Found {} Data'.format(database_name))
    return True


def _lock_beside(folder):
    """
    :return: The lock file of a folder that _one_at_a_time makes: a hidden '.NAME.lock' beside it
    """
    data_path, name = os.path.split(folder)
    return os.path.join(data_path, '.{}.lock'.format(name))


def download_extract(database_name, data_path, sources=None):
    """
    Download and extract database, skipping what is already there; a second process that asks for
    the same dataset meanwhile waits for the first, then uses its result
    :param database_name: Database name, 'mnist' or 'celeba'
    :param data_path: Folder for the data
    :param sources: Table of datasets to use instead of DATASETS (tests point it at a local server)
    """
    sources = DATASETS if sources is None else sources
    if database_name not in sources:
        raise DatasetError('Unknown dataset {!r}: choose one of {}'
                           .format(database_name, ', '.join(sorted(sources))))
    source = sources[database_name]
    extract_path = os.path.join(data_path, source['folder'])
    if _found(extract_path, source, database_name):
        return
    _make_data_dir(data_path)
    with _one_at_a_time(_lock_beside(extract_path), 'getting {} into {}'.format(database_name, data_path)):
        if not _found(extract_path, source, database_name):  # or another process got it meanwhile
            _download_and_extract(database_name, data_path, source)


def _download_and_extract(database_name, data_path, source):
    """
    Download a dataset's archive (or take the one put there by hand), check it, extract it, and
    remove it
    :param database_name: Database name, for messages
    :param data_path: Folder for the data
    :param source: The dataset's entry in DATASETS
    """
    extract_path = os.path.join(data_path, source['folder'])
    save_path = os.path.join(data_path, source['archive'])
    manual_path = os.path.join(data_path, source.get('manual_archive', source['archive']))
    by_hand = manual_path != save_path and os.path.exists(manual_path) and not os.path.exists(save_path)
    if by_hand:
        save_path = manual_path  # put there by hand; its md5 is checked like a download's
    if not os.path.exists(save_path):
        try:
            _download(source['urls'], save_path, database_name)
        except DatasetError as err:
            manual = source.get('manual', 'put {} in {{data_path}} by hand'.format(source['archive']))
            raise DatasetError('{}; check the network, or {}'.format(err, manual.format(data_path=data_path))) from None

    if md5_of_file(save_path) != source['md5']:
        if by_hand:  # the user's file: explain, never delete
            raise DatasetError('{} is not the official file (its md5 differs): download it again, or extract '
                               'its images into {} yourself'.format(save_path, extract_path))
        os.remove(save_path)
        raise DatasetError('{} failed its md5 check and was removed; run again to download it again'
                           .format(save_path))

    try:
        _extract(save_path, extract_path, database_name)
    except DiskFullError as err:
        raise DiskFullError('{}; {} is kept, so it is not downloaded again'.format(err, save_path)) from None
    except DatasetError as err:
        os.remove(save_path)
        raise DatasetError('{}: removed it; run again to download it again'.format(err)) from None

    # Remove compressed data
    os.remove(save_path)


def _random_color(rng, base, jitter):
    """
    :param rng: numpy Generator
    :param base: (r, g, b) centre colour
    :param jitter: Largest change per channel
    :return: An (r, g, b) tuple near base
    """
    return tuple(int(np.clip(c + rng.integers(-jitter, jitter + 1), 0, 255)) for c in base)


def draw_synthetic_face(rng, size=(178, 218)):
    """
    Draw one CelebA-shaped synthetic face: the face is centred where get_image's 108x108 crop is
    :param rng: numpy Generator that decides every feature
    :param size: (width, height) of the picture, CelebA's aligned size by default
    :return: PIL RGB image
    """
    skin_tones = [(255, 224, 196), (241, 194, 160), (224, 172, 125), (198, 134, 86),
                  (141, 85, 36), (95, 60, 35)]
    hair_colors = [(20, 15, 10), (60, 40, 25), (110, 70, 35), (200, 160, 90), (150, 60, 25),
                   (170, 170, 170)]
    width, height = size
    cx = width / 2 + rng.integers(-3, 4)
    cy = height / 2 + rng.integers(-2, 5)
    face_w = rng.integers(27, 37)  # half-widths and half-heights in pixels
    face_h = rng.integers(37, 45)
    skin = _random_color(rng, skin_tones[rng.integers(len(skin_tones))], 12)
    hair = _random_color(rng, hair_colors[rng.integers(len(hair_colors))], 15)
    # Muted backgrounds, as in most CelebA photos
    image = Image.new('RGB', size, _random_color(rng, (150, 150, 150), 50))
    draw = ImageDraw.Draw(image)

    # Long hair falls behind the face and shoulders
    if rng.random() < 0.5:
        draw.rounded_rectangle([cx - face_w - 10, cy - face_h - 8, cx + face_w + 10,
                                cy + face_h + rng.integers(10, 45)], radius=25, fill=hair)
    # Neck and shoulders
    clothes = _random_color(rng, (90, 90, 100), 50)
    draw.rectangle([cx - 12, cy + face_h - 10, cx + 12, cy + face_h + 20], fill=skin)
    draw.ellipse([cx - 70, cy + face_h + 10, cx + 70, cy + face_h + 90], fill=clothes)
    # Face
    draw.ellipse([cx - face_w, cy - face_h, cx + face_w, cy + face_h], fill=skin)
    # Hair on top: a cap over the forehead whose depth varies with the style
    fringe = rng.integers(8, 26)
    draw.chord([cx - face_w - 4, cy - face_h - 10, cx + face_w + 4, cy - face_h + 2 * fringe + 10],
               180, 360, fill=hair)

    # Eyes with brows over them
    eye_dx = face_w * rng.uniform(0.38, 0.5)
    eye_y = cy - face_h * rng.uniform(0.05, 0.2)
    eye_rx, eye_ry = rng.integers(5, 8), rng.integers(2, 5)
    iris = _random_color(rng, [(60, 40, 20), (40, 90, 140), (70, 110, 60)][rng.integers(3)], 20)
    brow_lift = rng.integers(6, 11)
    brow_tilt = rng.integers(-2, 3)
    for side in (-1, 1):
        ex = cx + side * eye_dx
        draw.ellipse([ex - eye_rx, eye_y - eye_ry, ex + eye_rx, eye_y + eye_ry], fill=(250, 250, 250))
        draw.ellipse([ex - 3, eye_y - 3, ex + 3, eye_y + 3], fill=iris)
        draw.ellipse([ex - 1, eye_y - 1, ex + 1, eye_y + 1], fill=(10, 10, 10))
        brow_y = eye_y - brow_lift
        draw.line([ex - eye_rx - 1, brow_y + side * brow_tilt, ex + eye_rx + 1, brow_y - side * brow_tilt],
                  fill=tuple(int(c * 0.7) for c in hair), width=int(rng.integers(2, 4)))

    # Nose: a darker stroke down the middle
    shade = tuple(int(c * 0.8) for c in skin)
    nose_y = cy + face_h * 0.3
    draw.line([cx, eye_y + 4, cx - 2, nose_y], fill=shade, width=2)
    draw.line([cx - 4, nose_y, cx + 3, nose_y], fill=shade, width=2)

    # Mouth: a smile (arc) or closed lips (ellipse)
    mouth_y = cy + face_h * rng.uniform(0.5, 0.62)
    mouth_w = face_w * rng.uniform(0.35, 0.55)
    lips = _random_color(rng, (170, 70, 70), 25)
    if rng.random() < 0.5:
        draw.chord([cx - mouth_w, mouth_y - 6, cx + mouth_w, mouth_y + 6], 0, 180, fill=lips)
    else:
        draw.ellipse([cx - mouth_w, mouth_y - 3, cx + mouth_w, mouth_y + 3], fill=lips)
    return image


SYNTHETIC_FACE_BYTES = 8000  # about the largest face JPEG, for a full disk's message


def make_synthetic_faces(data_path, count=10000, seed=0):
    """
    Create the synthetic face dataset once: count JPEGs shaped like aligned CelebA (178x218); a
    second process that asks for them meanwhile waits for the first, then uses its faces
    :param data_path: Folder for the data
    :param count: Number of faces
    :param seed: Seed; the same seed gives the same faces
    :return: Folder that holds the faces
    """
    folder = os.path.join(data_path, 'synthetic_faces_{}_seed{}'.format(count, seed))
    if os.path.isdir(folder):
        return folder
    _make_data_dir(data_path)

    def draw(tmp_path):
        for i in tqdm(range(count), unit='File', desc='Drawing synthetic faces'):
            rng = np.random.default_rng([seed, i])  # one stream per face: order-independent
            draw_synthetic_face(rng).save(os.path.join(tmp_path, 'face_{:05d}.jpg'.format(i)), quality=95)

    with _one_at_a_time(_lock_beside(folder), 'drawing synthetic faces in {}'.format(data_path)):
        if not os.path.isdir(folder):  # or another process drew them meanwhile
            _build_folder(folder, 'drawing', draw, lambda: _bytes_on_disk([SYNTHETIC_FACE_BYTES] * count, data_path))
    return folder


# Modes that Pillow would crop, resize or convert badly as they are: 16-bit grey ('I;16', or 'I'
# from older Pillow) would be clipped to white, and palette and 1-bit images would be resized by
# nearest neighbour. Palette images with a transparent colour open as RGBA, like RGBA files.
_EXPANDED_MODES = {'1': 'L', 'P': 'RGB', 'PA': 'RGBA'}


def _eight_bit(image):
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


def get_image(image_path, width, height, mode):
    """
    Read image from image_path
    :param image_path: Path of image (or a binary file object)
    :param width: Width of image
    :param height: Height of image
    :param mode: Mode of image
    :return: Image data
    """
    with Image.open(image_path) as opened:
        image = _eight_bit(opened)

        if image.size != (width, height):  # not MNIST-sized: a CelebA-style photo
            # Remove most pixels that aren't part of a face
            face_width = face_height = 108
            j = (image.size[0] - face_width) // 2
            i = (image.size[1] - face_height) // 2
            image = image.crop([j, i, j + face_width, i + face_height])
            image = image.resize([width, height], Image.Resampling.BILINEAR)

        return np.array(image.convert(mode))


def get_batch(image_files, width, height, mode):
    """
    Read a batch of images
    :param image_files: Paths of the images
    :param width: Width of image
    :param height: Height of image
    :param mode: Mode of image, 'RGB' or 'L'
    :return: float32 array of shape (len(image_files), height, width, channels), values 0-255
    """
    data_batch = np.array(
        [get_image(sample_file, width, height, mode) for sample_file in image_files]).astype(np.float32)

    # Make sure the images are in 4 dimensions
    if len(data_batch.shape) < 4:
        data_batch = data_batch.reshape(data_batch.shape + (1,))

    return data_batch


def images_square_grid(images, mode):
    """
    Save images as a square grid
    :param images: Images to be used for the grid, (n, h, w, c) or (n, h, w)
    :param mode: The mode to use for images, 'RGB' or 'L'
    :return: PIL image of floor(sqrt(n))^2 images, row by row
    """
    images = np.asarray(images, dtype=np.float32)
    if images.ndim == 3:
        images = images[..., np.newaxis]
    # Get maximum size for square grid of images
    save_size = math.floor(np.sqrt(images.shape[0]))
    _, image_height, image_width, channels = images.shape

    # Scale to 0-255; a constant batch would divide by zero, so it becomes black
    value_range = images.max() - images.min()
    if value_range > 0:
        images = (images - images.min()) * 255 / value_range
    else:
        images = np.zeros_like(images)
    images = np.round(images).astype(np.uint8)

    # Put images in a square arrangement: rows of save_size images
    grid = images[:save_size * save_size].reshape(
        save_size, save_size, image_height, image_width, channels)
    grid = grid.transpose(0, 2, 1, 3, 4).reshape(save_size * image_height, save_size * image_width, channels)
    if mode == 'L':
        return Image.fromarray(grid[:, :, 0])  # a 2-D array: matplotlib shows it with cmap='gray'
    return Image.fromarray(grid)


IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png')


def list_image_files(folder):
    """
    Find every image under a folder, recursively, skipping hidden folders (such as the cache)
    :param folder: Folder to search
    :return: Sorted list of jpg, jpeg and png paths
    """
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith('.')]
        found.extend(os.path.join(root, name) for name in files if name.lower().endswith(IMAGE_EXTENSIONS))
    return sorted(found)


# What one unreadable input file raises, whatever is wrong with it: OSError for file-system
# problems (gone, a dangling symlink, a symlink loop, a folder, not a regular file) and for most
# damage Pillow finds (not an image, truncated, a bad CRC); ValueError and SyntaxError for
# malformed headers; EOFError for files that end early; DecompressionBombError for a declared size
# too large to decode safely. Pillow turns its own IndexError and struct.error into OSError.
UNREADABLE_IMAGE_ERRORS = (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError)


def _open_regular_file(path):
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


def _decode_or_none(image_file, width, height, mode):
    """
    :return: get_image's array, or None for a file that cannot be read as an image, whatever the reason
    """
    try:
        with _open_regular_file(image_file) as f:
            return get_image(f, width, height, mode)
    except UNREADABLE_IMAGE_ERRORS:
        return None


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
    digest = hashlib.sha1('v2 {} {} {}\n'.format(width, height, mode).encode())
    for image_file in image_files:
        digest.update('{}\t{}\n'.format(os.path.abspath(image_file), _file_stamp(image_file)).encode())
    return digest.hexdigest()[:20]


def _default_cache_dir(image_files):
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


# A cache file's name: MODE-WxH-KEY.npy or .json, and a suffix while it is written under a
# temporary name ('.tmp-PID-RANDOM'; older versions used '.tmpPID' and '.tmp')
_CACHE_FILE = re.compile(r'^[A-Za-z]+-\d+x\d+-[0-9a-f]{20}\.(npy|json)(?P<tmp>\.tmp.*)?$')


def build_cache(image_files, width, height, mode, cache_dir, workers=None):
    """
    Preprocess images once, exactly as get_image does, into a uint8 .npy file that is memory-mapped.
    One process at a time builds or reads a cache folder: a second one waits, then uses the cache.
    :param image_files: Image paths
    :param width: Width of image
    :param height: Height of image
    :param mode: Mode of image, 'RGB' or 'L'
    :param cache_dir: Folder for the cache files
    :param workers: Decoding threads (Pillow decodes without the GIL); default: one per core
    :return: (read-only memmap of shape (n, height, width, channels), indices of unreadable files)
    """
    shape = (len(image_files), int(height), int(width), 1 if mode == 'L' else 3)
    prefix = '{}-{}x{}-'.format(mode, width, height)
    key = prefix + _cache_key(image_files, width, height, mode)
    array_path = os.path.join(cache_dir, key + '.npy')
    index_path = os.path.join(cache_dir, key + '.json')  # written last: its presence means complete
    with _disk_full_is_a_dataset_error(cache_dir, 'the image cache', lambda: _npy_size(shape)):
        os.makedirs(cache_dir, exist_ok=True)
        with _one_at_a_time(os.path.join(cache_dir, '.lock'), 'using the image cache in {}'.format(cache_dir)):
            cached = _checked_cache(array_path, index_path, shape)
            if cached is None:
                _clear_cache_folder(cache_dir, prefix, key)
                _write_cache(image_files, shape, mode, array_path, index_path, workers)
                cached = _read_cache(array_path, index_path)
    return cached


def _npy_size(shape):
    """
    :return: About the bytes of a uint8 .npy file of this shape: a header, then the pixels
    """
    return 128 + int(np.prod(shape))


def _read_cache(array_path, index_path):
    """
    :return: (read-only memmap of the .npy, the .json index's 'skipped' list)
    """
    with open(index_path) as f:
        index = json.load(f)
    return np.load(array_path, mmap_mode='r'), index['skipped']


def _checked_cache(array_path, index_path, shape):
    """
    :return: The cache's (memmap, skipped) when it is there and whole; None when there is none. A
        damaged one (an index that is not JSON, a truncated or mis-shaped array) is removed, with a note.
    """
    if not os.path.exists(index_path):
        return None
    try:
        images, skipped = _read_cache(array_path, index_path)
        whole = (images.dtype == np.uint8 and images.shape == shape and
                 all(isinstance(i, int) and 0 <= i < shape[0] for i in skipped))
        problem = None if whole else 'it holds {} {}, not uint8 {}'.format(images.dtype, images.shape, shape)
    except (OSError, ValueError, EOFError, KeyError, TypeError) as err:  # np.load, json.load, index['skipped']
        problem = ' '.join(str(err).split()) or type(err).__name__
    if problem is None:
        return images, skipped
    print('note: the image cache {} was damaged ({}); rebuilding it'.format(array_path, problem), file=sys.stderr)
    for path in (index_path, array_path):
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)
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
    ours = [name for name in os.listdir(cache_dir) if _CACHE_FILE.match(name)]
    temporary = [name for name in ours if _CACHE_FILE.match(name).group('tmp')]
    stale = [name for name in ours if name not in temporary and name.startswith(prefix) and
             not name.startswith(key + '.')]
    _remove_leftovers([os.path.join(cache_dir, name) for name in temporary], 'cache build in {}'.format(cache_dir))
    for name in stale:
        os.remove(os.path.join(cache_dir, name))
    if stale:
        print('note: the images changed since the image cache in {} was made; rebuilding it'.format(cache_dir),
              file=sys.stderr)


def _write_cache(image_files, shape, mode, array_path, index_path, workers):
    """
    Decode every image into a new .npy, then write its .json index: each under a temporary name,
    renamed when complete, the index last. Space for the array is claimed first, so a full disk
    stops the build at once rather than after the decoding.
    :param image_files: Image paths
    :param shape: (count, height, width, channels)
    :param mode: Mode of image, 'RGB' or 'L'
    :param array_path: The .npy to write
    :param index_path: The .json to write
    :param workers: Decoding threads
    """
    tmp_array, tmp_index = _temp_path(array_path), _temp_path(index_path)
    try:
        with open(tmp_array, 'wb') as f:
            np.lib.format.write_array_header_1_0(f, {'descr': '|u1', 'fortran_order': False, 'shape': shape})
            _claim_space(f, f.tell() + int(np.prod(shape)))
            skipped = _decode_into(f, image_files, shape, mode, workers)
        with open(tmp_index, 'w') as f:
            json.dump({'count': shape[0], 'skipped': skipped}, f)
        os.replace(tmp_array, array_path)
        os.replace(tmp_index, index_path)
    finally:
        for path in (tmp_array, tmp_index):
            with contextlib.suppress(FileNotFoundError):
                os.remove(path)


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


def _decode_into(out, image_files, shape, mode, workers):
    """
    Decode the images on threads and write their pixels to out, in order
    :param out: Binary file to write to
    :param image_files: Image paths
    :param shape: (count, height, width, channels)
    :param mode: Mode of image, 'RGB' or 'L'
    :param workers: Decoding threads (Pillow decodes without the GIL); default: one per core
    :return: Indices of the files that could not be read (written as black)
    """
    _, height, width, channels = shape
    blank = bytes(height * width * channels)
    skipped = []
    with concurrent.futures.ThreadPoolExecutor(workers or os.cpu_count()) as pool:
        decoded = pool.map(lambda f: _decode_or_none(f, width, height, mode), image_files)
        for i, image in enumerate(tqdm(decoded, total=len(image_files), unit='File', desc='Caching images')):
            if image is None:
                skipped.append(i)
                out.write(blank)
            else:
                out.write(np.ascontiguousarray(image, dtype=np.uint8).reshape(height, width, channels).tobytes())
    return skipped


class Dataset(object):
    """
    Dataset
    """
    def __init__(self, dataset_name, data_files, seed=None, image_mode=None, cache_dir=None):
        """
        Initialize the class; preprocesses the images into a cache on first use
        :param dataset_name: Database name, 'mnist', 'celeba', 'synthetic' or 'folder'
        :param data_files: List of files in the database
        :param seed: Seed for the order of images in each epoch
        :param image_mode: 'RGB' or 'L'; needed for 'folder', otherwise the dataset's own
        :param cache_dir: Folder for the cache (default: .cache beside the images)
        """
        image_width = 28
        image_height = 28
        if dataset_name not in IMAGE_MODES and image_mode is None:
            raise DatasetError('Unknown dataset {!r}: choose one of {}'
                               .format(dataset_name, ', '.join(sorted(IMAGE_MODES))))
        self.image_mode = image_mode or IMAGE_MODES[dataset_name]
        image_channels = 1 if self.image_mode == 'L' else 3
        data_files = list(data_files)
        if not data_files:
            raise DatasetError('No images for the {} dataset: the folder has no jpg, jpeg or png files'
                               .format(dataset_name))

        self._images, skipped = build_cache(data_files, image_width, image_height, self.image_mode,
                                            cache_dir or _default_cache_dir(data_files))
        if skipped:
            print('warning: skipped {} unreadable image{} of {} (first: {})'.format(
                len(skipped), 's' if len(skipped) > 1 else '', len(data_files), data_files[skipped[0]]),
                file=sys.stderr)
        self._indices = np.setdiff1d(np.arange(len(data_files)), skipped)
        if not len(self._indices):
            raise DatasetError('None of the {} images of the {} dataset can be read'
                               .format(len(data_files), dataset_name))
        self.data_files = [data_files[i] for i in self._indices]
        self.shape = len(self.data_files), image_width, image_height, image_channels
        self._rng = np.random.default_rng(seed)

    def hold_out(self, count):
        """
        Take the last count images out of training, for evaluation
        :param count: How many
        :return: Their images, float32 (count, 28, 28, channels), values 0-255
        """
        held = self.images(range(self.shape[0] - count, self.shape[0]))
        self._indices = self._indices[:-count]
        self.data_files = self.data_files[:-count]
        self.shape = (len(self.data_files),) + self.shape[1:]
        return held

    def images(self, positions):
        """
        Images by position in data_files, with get_batch's values
        :param positions: Positions in data_files
        :return: float32 array (len(positions), 28, 28, channels), values 0-255
        """
        return self._images[self._indices[np.asarray(positions)]].astype(np.float32)

    def get_batches(self, batch_size):
        """
        Generate batches from the cache, in a new random order on each call (each epoch)
        :param batch_size: Batch Size
        :return: Batches of data, float32 in [-0.5, 0.5]; a last partial batch is dropped
        """
        image_max_value = 255

        order = self._rng.permutation(self.shape[0])
        for start in range(0, self.shape[0] - batch_size + 1, batch_size):
            yield self.images(order[start:start + batch_size]) / image_max_value - 0.5
