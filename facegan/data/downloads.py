"""
MNIST and CelebA, downloaded so that they can be trusted: the original host first, then mirrors;
a dropped connection resumed from a .part file; the md5 checked before use; an archive put there
by hand accepted when it is the official file; two processes asking for one dataset taking turns;
and every failure one line that says what to do.
"""
import glob
import hashlib
import http.client
import os
import urllib.error
import urllib.request

from tqdm import tqdm

from facegan.core import files
from facegan.core.errors import DatasetError, DiskFullError, one_line
from facegan.data import archives
from facegan.data.images import list_image_files

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
        'manual': 'put train-images-idx3-ubyte.gz (from any MNIST mirror) in {data_path}',
        'earlier_extraction': 'png',  # versions before this one extracted PNGs: converted, not downloaded again
    },
    'celeba': {
        'urls': ['https://s3-us-west-1.amazonaws.com/udacity-dlnfd/datasets/celeba.zip'],
        'md5': '00d2c5bc6d35e252742224ab0c1e8fcb',  # the same file as CelebA's img_align_celeba.zip
        'archive': 'celeba.zip',
        'folder': 'img_align_celeba',
        'count': 202599,
        'manual_archive': 'img_align_celeba.zip',
        'manual': 'put img_align_celeba.zip ("Align&Cropped Images", from the CelebA page '
                  'mmlab.ie.cuhk.edu.hk/projects/CelebA.html or its Kaggle copy '
                  'kaggle.com/datasets/jessicali9530/celeba-dataset), or its extracted img_align_celeba/ folder, '
                  'in {data_path}',
    },
}
DOWNLOAD_ATTEMPTS = 3  # per URL; a connection dropped mid-file resumes where it stopped
DOWNLOAD_TIMEOUT = 60  # seconds without data before a connection counts as dropped


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
    :param urls: URLs to try in order (at least one: _archive says what to do without any)
    :param save_path: Where the finished file goes
    :param database_name: Name of database, for the progress bar and messages
    :return: None; raises DatasetError naming every URL's failure when none worked (NoNetwork when no
             host could be reached at all)
    """
    part_path = save_path + '.part'
    errors, unreachable = [], 0
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
                    unreachable += 1
                    break  # unreachable: next URL
                except (OSError, http.client.HTTPException, _TransferCut) as err:
                    _stop_if_disk_full(err, save_path, database_name)
                    errors.append('{}: {}'.format(url, err.__class__.__name__ if not str(err) else err))
    if unreachable == len(urls):
        raise _NoNetwork(errors[0])
    raise DatasetError('could not download {} ({})'.format(database_name, '; '.join(errors)))


class _NoNetwork(DatasetError):
    """No host of a dataset could be reached: the network is down, or this machine is offline."""


def _stop_if_disk_full(err, save_path, database_name):
    """
    Raise a one-line DatasetError when err is a full disk: retrying cannot help, and the .part is kept
    """
    if files.is_disk_full(err):
        part_path = save_path + '.part'
        raise DiskFullError('Disk full while downloading {}: free some space in {} and run again (the download '
                           'resumes from the {} bytes kept in {})'.format(
                               database_name, os.path.dirname(save_path) or '.', os.path.getsize(part_path),
                               part_path)) from None


def _check_complete(extract_path, source, database_name):
    """
    Accept a dataset folder only when it is a finished extraction (it has the marker) or holds
    every image (say, extracted by hand)
    :param extract_path: The dataset's folder
    :param source: The dataset's entry in DATASETS
    :param database_name: Name of database, for the message
    """
    marker = os.path.join(extract_path, archives.COMPLETE_MARKER)
    if os.path.exists(marker):
        return
    count = len(list_image_files(extract_path))
    if count != source['count']:
        raise DatasetError('{} holds {} of the {} images of {}: it is not a complete extraction; move it '
                           'away or delete it and run again'.format(extract_path, count, source['count'],
                                                                     database_name))
    try:
        open(marker, 'w').close()  # saves the count next time
    except OSError:
        pass  # a read-only folder is fine: it is counted again next time


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


def _needs_conversion(extract_path, source):
    """:return: Whether the folder holds what an earlier version extracted in another format (MNIST's PNGs)"""
    kind = source.get('earlier_extraction')
    return bool(kind) and bool(glob.glob(os.path.join(glob.escape(extract_path), 'image_*.' + kind)))


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
    if _found(extract_path, source, database_name) and not _needs_conversion(extract_path, source):
        return
    files.make_data_dir(data_path)
    with files.one_at_a_time(files.lock_beside(extract_path),
                             'getting {} into {}'.format(database_name, one_line(data_path))):
        if not os.path.exists(extract_path):  # or another process extracted it meanwhile
            try:
                _download_and_extract(database_name, data_path, source)
            except _NoNetwork as err:
                raise DatasetError(_offline_message(database_name, data_path, err, sources)) from None
        if _needs_conversion(extract_path, source):
            converted = archives.convert_png_digits(extract_path)
            print('note: converted the {} digits an earlier version extracted as PNG in {} to JPEG, as the template '
                  'names them (image_N.jpg); no download needed'.format(converted, one_line(extract_path)))


def _offline_message(database_name, data_path, err, sources):
    """:return: What to do when no host could be reached: connect, or put each dataset in place by hand"""
    by_hand = '; '.join('{}: {}'.format(name, source.get('manual', 'put {archive} in {data_path}').format(
        data_path=one_line(data_path), archive=source['archive'])) for name, source in sorted(sources.items()))
    return ('cannot download {}: no network ({}). Connect and run this again, or put the datasets in place '
            'yourself ({}); drawn faces need no download: the synthetic dataset'.format(database_name, err, by_hand))


def _archive(database_name, data_path, source):
    """
    Download a dataset's archive unless it is there (or one was put there by hand)
    :return: (its path, True when it was put there by hand)
    """
    save_path = os.path.join(data_path, source['archive'])
    manual_path = os.path.join(data_path, source.get('manual_archive', source['archive']))
    if manual_path != save_path and os.path.exists(manual_path) and not os.path.exists(save_path):
        return manual_path, True  # put there by hand; its md5 is checked like a download's
    if not os.path.exists(save_path):
        manual = source.get('manual', 'put {archive} in {data_path}').format(data_path=one_line(data_path),
                                                                              archive=source['archive'])
        if not source['urls']:  # a dataset put in place by hand only
            raise DatasetError('there is no URL to download {} from: {}, then run again'.format(database_name, manual))
        try:
            _download(source['urls'], save_path, database_name)
        except (_NoNetwork, DiskFullError):  # no network, or a full disk: checking the network would not help
            raise
        except DatasetError as err:
            raise DatasetError('{}; check the network, or {}, then run again'.format(err, manual)) from None
    return save_path, False


def _download_and_extract(database_name, data_path, source):
    """
    Download a dataset's archive (or take the one put there by hand), check it, extract it, and
    remove it
    :param database_name: Database name, for messages
    :param data_path: Folder for the data
    :param source: The dataset's entry in DATASETS
    """
    extract_path = os.path.join(data_path, source['folder'])
    save_path, by_hand = _archive(database_name, data_path, source)
    if md5_of_file(save_path) != source['md5']:
        if by_hand:  # the user's file: explain, never delete
            raise DatasetError('{} is not the official file (its md5 differs): download it again, or extract '
                               'its images into {} yourself'.format(save_path, extract_path))
        os.remove(save_path)
        raise DatasetError('{} failed its md5 check and was removed; run again to download it again'
                           .format(save_path))

    try:
        archives.extract(save_path, extract_path, database_name)
    except DiskFullError as err:
        raise DiskFullError('{}; {} is kept, so it is not downloaded again'.format(err, save_path)) from None
    except DatasetError as err:
        os.remove(save_path)
        raise DatasetError('{}: removed it; run again to download it again'.format(err)) from None

    # Remove compressed data
    os.remove(save_path)
