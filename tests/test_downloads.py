"""
download_extract (facegan/data/downloads.py) against a local HTTP server (127.0.0.1 only) that can answer 404,
cut a transfer, honour or ignore Range requests, and serve files that are not archives; MNIST extracted as the
template's image_N.jpg, an earlier version's PNG folder converted without a download, and the offline message.
Each test checks the final state on disk and the message.
"""
import errno
import glob
import gzip
import hashlib
import http.server
import os
import socket
import struct
import sys
import threading
import zipfile

import numpy as np
import pytest
from PIL import Image

import helper
from conftest import GUARD_SECONDS, NoteWatcher
from facegan.core import files
from facegan.data import archives, downloads
from test_checkpoint_files import flags_named


class _Handler(http.server.BaseHTTPRequestHandler):
    """
    Serves server.files {path: bytes}; server.faults {path: 'cut' | 'cut-once' | 'no-range' |
    'pause-first' | 'range-416' (416 for a Range past the end) | 'no-length' (no Content-Length: the body ends when the connection closes) | 'stall' (the
    headers, then silence)}. 'pause-first' sends half of the first answer, reports ('server', 'paused', path)
    to server.notify, and sends the rest only when server.release is set. Every request is reported
    to server.notify as ('server', 'request', path).
    """

    def log_message(self, *args):
        pass

    def do_GET(self):
        server = self.server
        server.requests.append((self.path, self.headers.get('Range')))
        server.notify(('server', 'request', self.path))
        body = server.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        fault = server.faults.get(self.path)
        start = 0
        range_header = self.headers.get('Range')
        if range_header and fault != 'no-range':
            start = int(range_header.split('=')[1].rstrip('-'))
            if fault == 'range-416' and start >= len(body):  # nothing left to send
                self.send_error(416)
                return
            self.send_response(206)
            self.send_header('Content-Range', 'bytes {}-{}/{}'.format(start, len(body) - 1, len(body)))
        else:
            self.send_response(200)
        if fault != 'no-length':
            self.send_header('Content-Length', str(len(body) - start))
        self.end_headers()
        if fault == 'stall':  # headers, then silence: 50 times the 0.2 s a client waits before it gives up
            server.release.wait(10)
            return
        if fault == 'pause-first' and self._first_of_its_path():
            half = start + (len(body) - start) // 2
            self.wfile.write(body[start:half])
            self.wfile.flush()
            server.notify(('server', 'paused', self.path))
            server.release.wait(GUARD_SECONDS)
            self.wfile.write(body[half:])
            return
        if fault == 'cut' or (fault == 'cut-once' and not server.cut_done):
            server.cut_done = True
            self.wfile.write(body[start:start + (len(body) - start) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body[start:])

    def _first_of_its_path(self):
        with self.server.lock:
            first = self.path not in self.server.answered
            self.server.answered.add(self.path)
        return first


class _Server:
    def __init__(self, files, faults=None):
        self.httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), _Handler)
        self.httpd.files = files
        self.httpd.faults = faults or {}
        self.httpd.requests = []
        self.httpd.cut_done = False
        self.httpd.notify = lambda event: None
        self.httpd.release = threading.Event()
        self.httpd.lock = threading.Lock()
        self.httpd.answered = set()
        self.url = 'http://127.0.0.1:{}'.format(self.httpd.server_address[1])
        # shutdown() waits for the serving loop's next poll: every 0.5 s by default, which each test would wait out
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={'poll_interval': 0.01}, daemon=True)

    @property
    def requests(self):
        return self.httpd.requests

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


def _idx_bytes(count=6, seed=0):
    images = np.random.default_rng(seed).integers(0, 256, (count, 28, 28), dtype=np.uint8)
    return gzip.compress(struct.pack('>IIII', 2051, count, 28, 28) + images.tobytes(), mtime=0), images


def _zip_bytes(tmp_path, count=3, top='img_align_celeba'):
    path = str(tmp_path / 'made.zip')
    with zipfile.ZipFile(path, 'w') as zf:
        for i in range(count):
            jpg = str(tmp_path / 'face.jpg')
            Image.new('RGB', (178, 218), (10 * i, 100, 50)).save(jpg)
            zf.write(jpg, '{}/{:06d}.jpg'.format(top, i + 1))
    return open(path, 'rb').read()


def _sources(server, paths, body, name='mnist', archive='train-images-idx3-ubyte.gz', count=6, md5=None):
    entry = {'urls': [server.url + p for p in paths], 'md5': md5 or hashlib.md5(body).hexdigest(),
             'archive': archive, 'folder': name, 'count': count}
    return {name: entry}


def _images_in(folder):
    return [os.path.basename(p) for p in helper.list_image_files(folder)]


@pytest.fixture(autouse=True)
def _fast_retries(monkeypatch):
    monkeypatch.setattr(downloads, 'DOWNLOAD_TIMEOUT', 10)


def test_success_extracts_and_leaves_only_the_dataset(tmp_path):
    body, images = _idx_bytes()
    data = str(tmp_path / 'data')
    with _Server({'/a.gz': body}) as server:
        helper.download_extract('mnist', data, sources=_sources(server, ['/a.gz'], body))
    assert os.listdir(data) == ['mnist']
    assert _images_in(os.path.join(data, 'mnist')) == sorted('image_{}.jpg'.format(i) for i in range(6))
    for i in range(6):  # JPEG at quality 100: each pixel within 2 of the IDX value
        with Image.open(os.path.join(data, 'mnist', 'image_{}.jpg'.format(i))) as image:
            assert np.abs(np.asarray(image, int) - images[i]).max() <= 2


def test_404_on_first_mirror_then_success_on_second(tmp_path):
    body, _ = _idx_bytes()
    data = str(tmp_path / 'data')
    with _Server({'/mirror2/a.gz': body}) as server:
        helper.download_extract('mnist', data, sources=_sources(server, ['/gone/a.gz', '/mirror2/a.gz'], body))
        assert [path for path, _ in server.requests] == ['/gone/a.gz', '/mirror2/a.gz']
    assert len(_images_in(os.path.join(data, 'mnist'))) == 6


def test_wrong_checksum_removes_the_file_and_says_so(tmp_path):
    body, _ = _idx_bytes()
    data = str(tmp_path / 'data')
    with _Server({'/a.gz': body}) as server:
        with pytest.raises(helper.DatasetError) as err:
            helper.download_extract('mnist', data, sources=_sources(server, ['/a.gz'], body, md5='0' * 32))
    assert str(err.value) == ('{} failed its md5 check and was removed; run again to download it again'.format(
        os.path.join(data, 'train-images-idx3-ubyte.gz')))
    assert os.listdir(data) == []


def test_transfer_cut_halfway_is_resumed_with_a_range_request(tmp_path):
    body, _ = _idx_bytes(count=50)
    data = str(tmp_path / 'data')
    with _Server({'/a.gz': body}, faults={'/a.gz': 'cut-once'}) as server:
        helper.download_extract('mnist', data, sources=_sources(server, ['/a.gz'], body, count=50))
        assert server.requests == [('/a.gz', None), ('/a.gz', 'bytes={}-'.format(len(body) // 2))]
    assert len(_images_in(os.path.join(data, 'mnist'))) == 50
    assert os.listdir(data) == ['mnist']


def test_server_without_range_support_restarts_the_file(tmp_path):
    body, _ = _idx_bytes(count=50)
    data = str(tmp_path / 'data')
    with _Server({'/a.gz': body}, faults={'/a.gz': 'no-range'}) as server:
        server.httpd.faults['/a.gz'] = 'no-range'
        os.makedirs(data)
        with open(os.path.join(data, 'train-images-idx3-ubyte.gz.part'), 'wb') as f:
            f.write(body[:100])  # a .part left by an earlier run
        helper.download_extract('mnist', data, sources=_sources(server, ['/a.gz'], body, count=50))
        assert server.requests == [('/a.gz', 'bytes=100-')]
    assert len(_images_in(os.path.join(data, 'mnist'))) == 50


def test_server_that_always_drops_the_connection_fails_and_keeps_the_part(tmp_path):
    body, _ = _idx_bytes(count=50)
    data = str(tmp_path / 'data')
    with _Server({'/a.gz': body}, faults={'/a.gz': 'cut'}) as server:
        with pytest.raises(helper.DatasetError) as err:
            helper.download_extract('mnist', data, sources=_sources(server, ['/a.gz'], body, count=50))
        assert len(server.requests) == downloads.DOWNLOAD_ATTEMPTS
    starts = [0]  # each attempt resumes where the last stopped, and the server sends half of what is left
    for _ in range(downloads.DOWNLOAD_ATTEMPTS):
        starts.append(starts[-1] + (len(body) - starts[-1]) // 2)
    assert str(err.value) == 'could not download mnist ({}); check the network, or put train-images-idx3-ubyte.gz in {}, ' \
        'then run again'.format('; '.join('{}/a.gz: connection closed at byte {} of {}'.format(server.url, cut, len(body))
                                          for cut in starts[1:]), data)
    assert os.listdir(data) == ['train-images-idx3-ubyte.gz.part']  # kept for a resume, never taken as done


def test_no_network_names_the_manual_steps(tmp_path):
    # A port of this machine's that is bound but not listening, so a connection to it is refused
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as reserved:
        reserved.bind(('127.0.0.1', 0))
        url = 'http://127.0.0.1:{}/celeba.zip'.format(reserved.getsockname()[1])
        sources = {'celeba': dict(downloads.DATASETS['celeba'], urls=[url])}
        with pytest.raises(helper.DatasetError) as err:
            helper.download_extract('celeba', str(tmp_path / 'data'), sources=sources)
    message = str(err.value)
    assert 'img_align_celeba.zip' in message and 'kaggle' in message.lower() and '\n' not in message
    assert str(tmp_path / 'data') in message


def test_file_that_is_not_an_archive_is_removed_with_a_message(tmp_path):
    body = b'<html>quota exceeded</html>'
    data = str(tmp_path / 'data')
    with _Server({'/celeba.zip': body}) as server:
        sources = _sources(server, ['/celeba.zip'], body, name='img_align_celeba', archive='celeba.zip')
        with pytest.raises(helper.DatasetError) as err:
            helper.download_extract('img_align_celeba', data, sources=sources)
    assert str(err.value) == '{} is not a zip file: removed it; run again to download it again'.format(
        os.path.join(data, 'celeba.zip'))
    assert os.listdir(data) == []


def test_gzip_that_is_not_idx_is_removed_with_a_message(tmp_path):
    body = gzip.compress(b'not an idx file at all', mtime=0)
    data = str(tmp_path / 'data')
    with _Server({'/a.gz': body}) as server:
        with pytest.raises(helper.DatasetError, match='not an IDX image file'):
            helper.download_extract('mnist', data, sources=_sources(server, ['/a.gz'], body))
    assert os.listdir(data) == []


def _fail_saving_after(monkeypatch, count, error):
    """Make Pillow's save raise error once count images have been saved"""
    real_save = Image.Image.save
    saved = []

    def failing_save(self, fp, *args, **kwargs):
        if len(saved) == count:
            raise error
        saved.append(fp)
        return real_save(self, fp, *args, **kwargs)

    monkeypatch.setattr(Image.Image, 'save', failing_save)


def test_crash_during_extraction_then_a_clean_rerun(tmp_path, monkeypatch):
    body, _ = _idx_bytes(count=20)
    data = str(tmp_path / 'data')
    real_save = Image.Image.save
    with _Server({'/a.gz': body}) as server:
        sources = _sources(server, ['/a.gz'], body, count=20)
        _fail_saving_after(monkeypatch, 7, KeyboardInterrupt)  # Ctrl-C in the middle of writing the images
        with pytest.raises(KeyboardInterrupt):
            helper.download_extract('mnist', data, sources=sources)
        assert os.listdir(data) == ['train-images-idx3-ubyte.gz']  # no half dataset; archive kept
        monkeypatch.setattr(Image.Image, 'save', real_save)
        helper.download_extract('mnist', data, sources=sources)
        assert len(server.requests) == 1  # the re-run used the archive it already had
    assert len(_images_in(os.path.join(data, 'mnist'))) == 20


def test_hard_crash_leftovers_are_cleared_and_never_taken_for_data(tmp_path):
    body, _ = _idx_bytes()
    data = tmp_path / 'data'
    stale = data / '.mnist-extracting-abc123'
    stale.mkdir(parents=True)
    (stale / 'image_0.png').write_bytes(b'half')  # what a killed process leaves
    with _Server({'/a.gz': body}) as server:
        helper.download_extract('mnist', str(data), sources=_sources(server, ['/a.gz'], body))
    assert sorted(os.listdir(str(data))) == ['mnist']


def test_incomplete_folder_already_there_is_refused(tmp_path):
    data = tmp_path / 'data'
    (data / 'mnist').mkdir(parents=True)
    Image.new('L', (28, 28)).save(str(data / 'mnist' / 'image_0.png'))
    sources = {'mnist': dict(downloads.DATASETS['mnist'], urls=[])}
    with pytest.raises(helper.DatasetError) as err:
        helper.download_extract('mnist', str(data), sources=sources)
    assert str(err.value) == ('{} holds 1 of the 60000 images of mnist: it is not a complete extraction; move it away or '
                              'delete it and run again'.format(data / 'mnist'))


def test_celeba_zip_flattened_and_skipped_when_present(tmp_path, capsys):
    body = _zip_bytes(tmp_path)
    data = str(tmp_path / 'data')
    with _Server({'/celeba.zip': body}) as server:
        sources = _sources(server, ['/celeba.zip'], body, name='celeba', archive='celeba.zip', count=3)
        sources['celeba']['folder'] = 'img_align_celeba'
        helper.download_extract('celeba', data, sources=sources)
        helper.download_extract('celeba', data, sources=sources)
        assert len(server.requests) == 1
    assert _images_in(os.path.join(data, 'img_align_celeba')) == ['000001.jpg', '000002.jpg', '000003.jpg']
    assert 'Found celeba Data' in capsys.readouterr().out


def test_manual_official_zip_or_folder_is_accepted(tmp_path):
    body = _zip_bytes(tmp_path, top='img_align_celeba/img_align_celeba')  # Kaggle nests one level more
    data = tmp_path / 'data'
    data.mkdir()
    (data / 'img_align_celeba.zip').write_bytes(body)
    sources = {'celeba': dict(downloads.DATASETS['celeba'], urls=[], md5=hashlib.md5(body).hexdigest(), count=3)}
    helper.download_extract('celeba', str(data), sources=sources)
    assert _images_in(str(data / 'img_align_celeba')) == ['000001.jpg', '000002.jpg', '000003.jpg']
    # An extracted folder placed by hand, complete: accepted as it is
    by_hand = tmp_path / 'by_hand'
    (by_hand / 'img_align_celeba').mkdir(parents=True)
    for i in range(3):
        Image.new('RGB', (178, 218)).save(str(by_hand / 'img_align_celeba' / '{}.jpg'.format(i)))
    helper.download_extract('celeba', str(by_hand), sources=sources)


def test_manual_zip_with_other_md5_is_kept_and_explained(tmp_path):
    data = tmp_path / 'data'
    data.mkdir()
    (data / 'img_align_celeba.zip').write_bytes(b'some other zip')
    sources = {'celeba': dict(downloads.DATASETS['celeba'], urls=[])}
    with pytest.raises(helper.DatasetError) as err:
        helper.download_extract('celeba', str(data), sources=sources)
    assert str(err.value) == ('{} is not the official file (its md5 differs): download it again, or extract its images '
                              'into {} yourself'.format(data / 'img_align_celeba.zip', data / 'img_align_celeba'))
    assert os.listdir(str(data)) == ['img_align_celeba.zip']


def test_disk_full_says_what_to_do_and_keeps_the_part(tmp_path, monkeypatch):
    body, _ = _idx_bytes(count=50)
    data = str(tmp_path / 'data')

    def full_disk(*args, **kwargs):
        raise OSError(28, 'No space left on device')

    with _Server({'/a.gz': body}) as server:
        real_open = open

        def open_full(path, mode='r', *args, **kwargs):
            handle = real_open(path, mode, *args, **kwargs)
            if str(path).endswith('.part'):
                handle.write = full_disk
            return handle

        monkeypatch.setattr('builtins.open', open_full)
        with pytest.raises(helper.DatasetError) as err:
            helper.download_extract('mnist', data, sources=_sources(server, ['/a.gz'], body, count=50))
    assert str(err.value).startswith('Disk full while downloading mnist: free some space in ')
    part = os.path.join(data, 'train-images-idx3-ubyte.gz.part')
    assert str(err.value) == ('Disk full while downloading mnist: free some space in {} and run again (the download '
                              'resumes from the 0 bytes kept in {})'.format(data, part))
    assert os.listdir(data) == ['train-images-idx3-ubyte.gz.part']


def test_two_processes_downloading_one_dataset_both_get_it(tmp_path, children):
    """The second process starts while the first is half-way through the download."""
    body, _ = _idx_bytes(count=50)
    data = str(tmp_path / 'data')
    with _Server({'/a.gz': body}, faults={'/a.gz': 'pause-first'}) as server:
        call = 'helper.download_extract("mnist", {0!r}, sources={1!r}) or len(helper.list_image_files({2!r}))'.format(
            data, _sources(server, ['/a.gz'], body, count=50), os.path.join(data, 'mnist'))
        group = children([call, call])
        server.httpd.notify = group.events.put
        group.send(0)
        group.wait_for(lambda event: event == ('server', 'paused', '/a.gz'), 'the first download half-way')
        group.send(1)
        held = group.wait_for(lambda event: group.held_back(event, 1) or event == ('server', 'request', '/a.gz'),
                              'the second process downloading or waiting')
        server.httpd.release.set()
        finished = group.finish()
    for code, results, err in finished:
        assert code == 0 and results == [50], '\n'.join(err)
    assert len(server.requests) == 1  # the second used the first one's download
    assert held[:2] == (1, 'err'), 'the second process did not wait for the first: {}'.format(held)
    assert os.listdir(data) == ['mnist']


DISK_FULL_EXTRACTING = ('not enough disk space in {} for the mnist images (needs about {}): free some space there '
                        'and run again; {} is kept, so it is not downloaded again')


def test_full_disk_while_extracting_is_one_line_and_keeps_only_the_archive(small_disk):
    """A real 64 KB tmpfs: the archive fits, its 60 images (a block each, 4 KB or more) do not."""
    body, _ = _idx_bytes(count=60)
    archive = os.path.join(small_disk, 'train-images-idx3-ubyte.gz')
    with open(archive, 'wb') as f:
        f.write(body)
    sources = {'mnist': {'urls': [], 'md5': hashlib.md5(body).hexdigest(), 'archive': 'train-images-idx3-ubyte.gz',
                         'folder': 'mnist', 'count': 60}}
    with pytest.raises(helper.DatasetError) as err:
        helper.download_extract('mnist', small_disk, sources=sources)
    block = os.statvfs(small_disk).f_frsize  # the disk's real block: a page, 4 KB on x86-64, 16 or 64 KB elsewhere
    needed = 60 * -(-(28 * 28 + 300) // block) * block  # the estimate: each digit's JPEG, about 1,084 bytes
    assert str(err.value) == DISK_FULL_EXTRACTING.format(small_disk, files.size_text(needed), archive)
    assert os.listdir(small_disk) == ['train-images-idx3-ubyte.gz']


def test_full_disk_injected_while_extracting_is_one_line_and_keeps_only_the_archive(tmp_path, monkeypatch):
    body, _ = _idx_bytes(count=20)
    data = str(tmp_path / 'data')
    with _Server({'/a.gz': body}) as server:
        _fail_saving_after(monkeypatch, 7, OSError(errno.ENOSPC, 'No space left on device'))
        with pytest.raises(helper.DatasetError) as err:
            helper.download_extract('mnist', data, sources=_sources(server, ['/a.gz'], body, count=20))
    archive = os.path.join(data, 'train-images-idx3-ubyte.gz')
    needed = files.bytes_on_disk([28 * 28 + 300] * 20, data)  # 20 files' blocks on this disk
    assert str(err.value) == DISK_FULL_EXTRACTING.format(data, files.size_text(needed), archive)
    assert os.listdir(data) == ['train-images-idx3-ubyte.gz']


# --- MNIST as the template names it, an earlier extraction converted, and no network ---------------------

def _png_extraction(data, digits):
    """What an earlier version left: data/mnist/image_N.png (lossless) and its .complete marker"""
    folder = os.path.join(data, 'mnist')
    os.makedirs(folder)
    for i, digit in enumerate(digits):
        Image.fromarray(digit).save(os.path.join(folder, 'image_{}.png'.format(i)))
    open(os.path.join(folder, archives.COMPLETE_MARKER), 'w').close()


def test_the_templates_glob_finds_every_digit_of_a_new_extraction(tmp_path):
    body, images = _idx_bytes(count=8)
    data = str(tmp_path / 'data')
    with _Server({'/a.gz': body}) as server:
        helper.download_extract('mnist', data, sources=_sources(server, ['/a.gz'], body, count=8))
    found = sorted(glob.glob(os.path.join(data, 'mnist/*.jpg')))  # the notebook's Explore cell
    assert found == sorted(os.path.join(data, 'mnist', 'image_{}.jpg'.format(i)) for i in range(8))


def test_an_earlier_png_extraction_is_converted_without_a_download(tmp_path, capsys):
    """MNIST extracted by an earlier version as PNGs: converted in place, every digit found by the template's glob."""
    _, digits = _idx_bytes(count=7)
    data = str(tmp_path / 'data')
    _png_extraction(data, digits)
    with _Server({}) as server:
        sources = {'mnist': dict(downloads.DATASETS['mnist'], urls=[server.url + '/a.gz'], count=60000)}
        helper.download_extract('mnist', data, sources=sources)
        assert server.requests == []  # nothing downloaded
    found = sorted(glob.glob(os.path.join(data, 'mnist/*.jpg')))
    assert found == sorted(os.path.join(data, 'mnist', 'image_{}.jpg'.format(i)) for i in range(7))
    assert not glob.glob(os.path.join(data, 'mnist/*.png')) and sorted(os.listdir(data)) == ['mnist']
    for i, digit in enumerate(digits):
        with Image.open(os.path.join(data, 'mnist', 'image_{}.jpg'.format(i))) as image:
            assert np.abs(np.asarray(image, int) - digit).max() <= 2
    out = capsys.readouterr().out.splitlines()
    assert out == ['Found mnist Data', 'note: converted the 7 digits an earlier version extracted as PNG in {} to JPEG, '
                   'as the template names them (image_N.jpg); no download needed'.format(os.path.join(data, 'mnist'))]
    helper.download_extract('mnist', data, sources=sources)  # converted once: found as it is now
    assert capsys.readouterr().out == 'Found mnist Data\n'


def test_a_dataset_without_an_earlier_format_is_never_converted(tmp_path):
    data = tmp_path / 'data'
    (data / 'img_align_celeba').mkdir(parents=True)
    (data / 'img_align_celeba' / 'image_0.png').write_bytes(b'x')  # a file so named in CelebA's folder is CelebA's
    (data / 'img_align_celeba' / archives.COMPLETE_MARKER).write_text('')
    helper.download_extract('celeba', str(data), sources={'celeba': dict(downloads.DATASETS['celeba'], urls=[])})
    assert sorted(os.listdir(str(data / 'img_align_celeba'))) == ['.complete', 'image_0.png']


def test_without_a_network_one_line_names_each_datasets_manual_step(tmp_path):
    """A port of this machine's that is bound but not listening: every connection to it is refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as reserved:
        reserved.bind(('127.0.0.1', 0))
        url = 'http://127.0.0.1:{}/a'.format(reserved.getsockname()[1])
        sources = {name: dict(source, urls=[url, url + '/mirror']) for name, source in downloads.DATASETS.items()}
        data = str(tmp_path / 'my data')
        with pytest.raises(helper.DatasetError) as err:
            helper.download_extract('mnist', data, sources=sources)
    message = str(err.value)
    assert '\n' not in message
    assert message.startswith('cannot download mnist: no network ({}: '.format(url))
    assert message.endswith('). Connect and run this again, or put the datasets in place yourself (celeba: {}; mnist: '
                            '{}); drawn faces need no download: the synthetic dataset'.format(
                                downloads.DATASETS['celeba']['manual'].format(data_path=data),
                                downloads.DATASETS['mnist']['manual'].format(data_path=data)))
    assert 'img_align_celeba.zip' in message and 'kaggle.com' in message and 'train-images-idx3-ubyte.gz' in message
    assert os.listdir(data) == []


def test_the_offline_message_of_a_dataset_without_a_manual_step_says_where_its_archive_goes(tmp_path):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as reserved:
        reserved.bind(('127.0.0.1', 0))
        url = 'http://127.0.0.1:{}/a.gz'.format(reserved.getsockname()[1])
        sources = {'digits': {'urls': [url], 'md5': '0' * 32, 'archive': 'digits.gz', 'folder': 'digits', 'count': 1}}
        with pytest.raises(helper.DatasetError) as err:
            helper.download_extract('digits', str(tmp_path), sources=sources)
    assert '(digits: put digits.gz in {})'.format(tmp_path) in str(err.value)


def test_an_unknown_dataset_is_one_line_naming_the_known_ones(tmp_path):
    with pytest.raises(helper.DatasetError) as err:
        helper.download_extract('cifar', str(tmp_path))
    assert str(err.value) == "Unknown dataset 'cifar': choose one of celeba, mnist"


def test_md5_of_a_file(tmp_path):
    (tmp_path / 'a').write_bytes(b'x' * (3 << 20))  # more than one 1 MB block
    assert downloads.md5_of_file(str(tmp_path / 'a')) == hashlib.md5(b'x' * (3 << 20)).hexdigest()


def test_a_folder_holding_every_image_is_complete_and_marked(tmp_path, capsys):
    """Extracted by hand: the images are counted once, then the marker saves counting them again."""
    data = tmp_path / 'data'
    (data / 'mnist').mkdir(parents=True)
    for i in range(3):
        (data / 'mnist' / 'image_{}.jpg'.format(i)).write_bytes(b'')
    sources = {'mnist': dict(downloads.DATASETS['mnist'], urls=[], count=3)}
    helper.download_extract('mnist', str(data), sources=sources)
    assert os.path.exists(str(data / 'mnist' / archives.COMPLETE_MARKER))
    assert capsys.readouterr().out == 'Found mnist Data\n'


def test_a_source_without_urls_is_one_line_naming_the_manual_step_and_takes_an_archive_put_there(tmp_path):
    """urls=[]: a dataset that is put in place by hand only (as the complete-folder test above uses one)"""
    body, images = _idx_bytes()
    data = tmp_path / 'data'
    sources = {'mnist': dict(downloads.DATASETS['mnist'], urls=[], md5=hashlib.md5(body).hexdigest(), count=6)}
    with pytest.raises(helper.DatasetError) as err:
        helper.download_extract('mnist', str(data), sources=sources)
    assert str(err.value) == ('there is no URL to download mnist from: put train-images-idx3-ubyte.gz (from any '
                              'MNIST mirror) in {}, then run again'.format(data))
    assert err.value.__context__ is None and os.listdir(str(data)) == []
    (data / 'train-images-idx3-ubyte.gz').write_bytes(body)  # as the message says
    helper.download_extract('mnist', str(data), sources=sources)
    assert os.listdir(str(data)) == ['mnist'] and len(_images_in(str(data / 'mnist'))) == len(images)


def test_messages_name_no_command_line_flag():
    assert flags_named(downloads) == []


def test_a_server_that_does_not_say_the_length_is_read_to_the_end(tmp_path, capsys):
    body, _ = _idx_bytes()
    data = str(tmp_path / 'data')
    with _Server({'/a.gz': body}, faults={'/a.gz': 'no-length'}) as server:
        helper.download_extract('mnist', data, sources=_sources(server, ['/a.gz'], body))
    assert len(_images_in(os.path.join(data, 'mnist'))) == 6


def test_the_progress_bar_knows_the_files_size(tmp_path, capsys):
    body, _ = _idx_bytes()
    with _Server({'/a.gz': body}) as server:
        helper.download_extract('mnist', str(tmp_path), sources=_sources(server, ['/a.gz'], body))
    assert 'Downloading mnist: 100%' in capsys.readouterr().err  # a bar without the size shows no percentage


def test_a_server_that_goes_silent_is_given_up_after_the_timeout_keeping_the_part(tmp_path, monkeypatch):
    """The server sends its headers, then nothing, for as long as the test lasts: each attempt times out."""
    monkeypatch.setattr(downloads, 'DOWNLOAD_TIMEOUT', 0.2)
    body, _ = _idx_bytes()
    data = str(tmp_path / 'data')
    with _Server({'/a.gz': body}, faults={'/a.gz': 'stall'}) as server:
        with pytest.raises(helper.DatasetError) as err:
            helper.download_extract('mnist', data, sources=_sources(server, ['/a.gz'], body))
        assert len(server.requests) == downloads.DOWNLOAD_ATTEMPTS
    assert str(err.value).startswith('could not download mnist ({}/a.gz: timed out; '.format(server.url))
    assert os.listdir(data) == ['train-images-idx3-ubyte.gz.part']


def test_a_part_already_whole_is_taken_when_the_server_has_nothing_left_to_send(tmp_path):
    """A run killed after the last byte, before the rename: the server answers 416 to the Range past the end."""
    body, _ = _idx_bytes()
    data = tmp_path / 'data'
    data.mkdir()
    (data / 'train-images-idx3-ubyte.gz.part').write_bytes(body)
    with _Server({'/a.gz': body}, faults={'/a.gz': 'range-416'}) as server:
        helper.download_extract('mnist', str(data), sources=_sources(server, ['/a.gz'], body))
        assert server.requests == [('/a.gz', 'bytes={}-'.format(len(body)))]
    assert os.listdir(str(data)) == ['mnist']


def test_a_host_that_does_not_have_the_file_leaves_the_part_for_the_next(tmp_path):
    """The first mirror answers 404 while half the file waits in the .part: the second resumes it."""
    body, _ = _idx_bytes(count=20)
    data = tmp_path / 'data'
    data.mkdir()
    (data / 'train-images-idx3-ubyte.gz.part').write_bytes(body[:100])
    with _Server({'/b.gz': body}) as server:
        helper.download_extract('mnist', str(data), sources=_sources(server, ['/a.gz', '/b.gz'], body, count=20))
        assert server.requests == [('/a.gz', 'bytes=100-'), ('/b.gz', 'bytes=100-')]
    assert os.listdir(str(data)) == ['mnist']


def test_every_hosts_failure_is_named_with_the_datasets_manual_step(tmp_path):
    body, _ = _idx_bytes()
    data = str(tmp_path / 'data')
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as reserved:
        reserved.bind(('127.0.0.1', 0))
        refused = 'http://127.0.0.1:{}/a.gz'.format(reserved.getsockname()[1])
        with _Server({}) as server:
            sources = {'mnist': dict(downloads.DATASETS['mnist'], urls=[refused, server.url + '/gone.gz'])}
            with pytest.raises(helper.DatasetError) as err:
                helper.download_extract('mnist', data, sources=sources)
    assert str(err.value) == (
        'could not download mnist ({}: [Errno 111] Connection refused; {}/gone.gz: HTTP 404); check the network, or '
        'put train-images-idx3-ubyte.gz (from any MNIST mirror) in {}, then run again'.format(refused, server.url, data))


def test_a_second_process_waits_for_the_first_saying_so(tmp_path, monkeypatch):
    """The dataset's lock held (as a process getting it would hold it): the download says so and waits its turn."""
    body, _ = _idx_bytes()
    data = str(tmp_path / 'data')
    os.makedirs(data)
    stderr = NoteWatcher()
    monkeypatch.setattr(sys, 'stderr', stderr)
    done = threading.Event()
    with _Server({'/a.gz': body}) as server:
        def get():
            helper.download_extract('mnist', data, sources=_sources(server, ['/a.gz'], body))
            done.set()
            stderr.noted.set()  # the wait below ends either way

        with files.one_at_a_time(files.lock_beside(os.path.join(data, 'mnist')), 'the test'):
            thread = threading.Thread(target=get)
            thread.start()
            assert stderr.noted.wait(GUARD_SECONDS)
            assert not done.is_set()
        thread.join(GUARD_SECONDS)
    assert stderr.text.startswith('note: another process is getting mnist into {}; waiting for it to finish\n'.format(
        data))
    assert done.is_set() and len(_images_in(os.path.join(data, 'mnist'))) == 6


def test_a_dataset_already_there_is_used_without_waiting_for_the_lock(tmp_path):
    """Found: nothing to make, so a process holding the lock (making another dataset, say) does not matter."""
    data = tmp_path / 'data'
    (data / 'mnist').mkdir(parents=True)
    (data / 'mnist' / archives.COMPLETE_MARKER).write_text('')
    sources = {'mnist': dict(downloads.DATASETS['mnist'], urls=[])}
    finished = threading.Event()
    with files.one_at_a_time(files.lock_beside(str(data / 'mnist')), 'the test'):
        thread = threading.Thread(target=lambda: (helper.download_extract('mnist', str(data), sources=sources),
                                                  finished.set()), daemon=True)
        thread.start()
        thread.join(GUARD_SECONDS)
        assert finished.is_set()


def test_the_extraction_bar_names_the_dataset(tmp_path, capsys):
    body, _ = _idx_bytes()
    with _Server({'/a.gz': body}) as server:
        helper.download_extract('mnist', str(tmp_path), sources=_sources(server, ['/a.gz'], body))
    assert 'Extracting mnist: 100%' in capsys.readouterr().err
