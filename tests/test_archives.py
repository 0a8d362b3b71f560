"""
facegan/data/archives.py: MNIST's gzipped IDX file read and written as image_N.jpg at quality 100 (each pixel
within 2 of its IDX value), a folder an earlier version extracted as PNGs converted in place, CelebA's zip of JPEGs
flattened, every extraction built under a hidden name with its .complete marker, and damaged archives one line.
"""
import gzip
import io
import os
import struct
import zipfile

import numpy as np
import pytest
from hypothesis import given, strategies as st
from PIL import Image

from facegan.core import files
from facegan.core.errors import DatasetError, DiskFullError
from facegan.data import archives
from test_checkpoint_files import flags_named


def _idx(path, digits, magic=2051):
    """Write digits (count, rows, cols) as a gzipped IDX image file. :return: its path"""
    header = struct.pack('>IIII', magic, len(digits), digits.shape[1], digits.shape[2])
    with gzip.open(str(path), 'wb') as f:
        f.write(header + digits.tobytes())
    return str(path)


def _digits(count, seed=0, rows=28, cols=28):
    return np.random.default_rng(seed).integers(0, 256, (count, rows, cols), dtype=np.uint8)


# --- reading IDX files ------------------------------------------------------------------------------

@given(count=st.integers(0, 5), rows=st.integers(1, 30), cols=st.integers(1, 30), seed=st.integers(0, 1000))
def test_an_idx_file_reads_back_its_digits(tmp_path_factory, count, rows, cols, seed):
    digits = _digits(count, seed, rows, cols)
    path = _idx(tmp_path_factory.mktemp('idx') / 'x.gz', digits)
    read = archives.read_idx_images(path)
    assert read.dtype == np.uint8 and read.shape == (count, rows, cols)
    np.testing.assert_array_equal(read, digits)


def test_the_header_is_big_endian():
    """2051, 3 images of 2 rows of 258 columns: a little-endian reading would see other numbers."""
    assert archives._read_idx_header(io.BytesIO(struct.pack('>IIII', 2051, 3, 2, 258)), 'x') == (3, 2, 258)


def test_a_file_of_another_kind_is_refused_by_its_magic_number(tmp_path):
    path = tmp_path / 'labels.gz'
    with gzip.open(str(path), 'wb') as f:
        f.write(struct.pack('>II', 2049, 3) + bytes(3))  # an IDX label file
    with pytest.raises(DatasetError) as err:
        archives.read_idx_images(str(path))
    assert str(err.value) == ('Invalid magic number 2049 in {}: not an IDX image file; delete it and download it '
                              'again'.format(path))


@pytest.mark.parametrize('content,problem', [
    (gzip.compress(struct.pack('>IIII', 2051, 3, 28, 28) + bytes(28 * 28 * 2)), 'is truncated: expected 3 images of '
                                                                                 '28x28; delete it and download it again'),
    (b'not gzip at all', "is not a readable gzip file (Not a gzipped file (b'no')); delete it and download it again"),
    (gzip.compress(struct.pack('>IIII', 2051, 1, 28, 28) + bytes(784))[:-10],
     'is not a readable gzip file (Compressed file ended before the end-of-stream marker was reached); delete it and '
     'download it again'),
], ids=['truncated', 'not-gzip', 'gzip-cut'])
def test_a_damaged_idx_file_is_one_line_saying_to_download_it_again(tmp_path, content, problem):
    path = tmp_path / 'train.gz'
    path.write_bytes(content)
    with pytest.raises(DatasetError) as err:
        archives.read_idx_images(str(path))
    assert str(err.value) == '{} {}'.format(path, problem)


@pytest.mark.parametrize('header', [b'', struct.pack('>I', 2051), struct.pack('>II', 2051, 3) + b'\x00\x00'],
                         ids=['empty', 'magic-only', 'cut-in-a-field'])
def test_an_idx_file_that_ends_inside_its_header_is_one_line(tmp_path, header):
    """Was: IndexError or ValueError from numpy, a traceback, for a gzip that holds less than a header."""
    path = tmp_path / 'train.gz'
    path.write_bytes(gzip.compress(header))
    with pytest.raises(DatasetError) as err:
        archives.read_idx_images(str(path))
    assert str(err.value) == '{} is truncated: it ends inside its header; delete it and download it again'.format(path)


# --- MNIST as JPEGs ------------------------------------------------------------------------------------

def test_mnist_is_extracted_as_jpegs_at_quality_100_each_pixel_within_2(tmp_path, capsys):
    digits = _digits(12)
    digits[0] = 0  # a blank digit and a white one, the extremes
    digits[1] = 255
    archive = _idx(tmp_path / 'train-images-idx3-ubyte.gz', digits)
    extract_path = str(tmp_path / 'mnist')
    archives.extract(archive, extract_path, 'mnist')
    names = sorted(os.listdir(extract_path))
    assert names == sorted(['.complete'] + ['image_{}.jpg'.format(i) for i in range(12)])
    for i in range(12):
        with Image.open(os.path.join(extract_path, 'image_{}.jpg'.format(i))) as image:
            assert image.format == 'JPEG' and image.mode == 'L' and image.size == (28, 28)
            assert np.abs(np.asarray(image, int) - digits[i]).max() <= 2
    assert archives.MNIST_JPEG_QUALITY == 100
    assert 'Extracting mnist: 100%' in capsys.readouterr().err  # the progress bar names the dataset


def test_the_jpegs_are_written_at_quality_100_not_pillows_default(tmp_path):
    """Pillow's default, 75 (the template's), is up to 54 levels off: a digit of noise shows which was used."""
    digit = _digits(1, seed=3)
    archives.extract(_idx(tmp_path / 'train.gz', digit), str(tmp_path / 'mnist'), 'mnist')
    with Image.open(str(tmp_path / 'mnist' / 'image_0.jpg')) as image:
        assert np.abs(np.asarray(image, int) - digit[0]).max() <= 2
        assert image.quantization[0][0] == 1  # the quantisation tables of quality 100 are all ones


def test_an_extraction_is_built_hidden_and_renamed_into_place_with_its_marker(tmp_path, monkeypatch):
    archive = _idx(tmp_path / 'train.gz', _digits(2))
    seen = []
    real_fill = archives._ungzip

    def watching(save_path, folder, name):
        seen.append((os.path.basename(folder), sorted(os.listdir(str(tmp_path)))))
        real_fill(save_path, folder, name)

    monkeypatch.setattr(archives, '_ungzip', watching)
    archives.extract(archive, str(tmp_path / 'mnist'), 'mnist')
    assert seen[0][0].startswith('.mnist-extracting-') and seen[0][1] == sorted([seen[0][0], 'train.gz'])
    assert sorted(os.listdir(str(tmp_path))) == ['mnist', 'train.gz']
    assert os.path.exists(str(tmp_path / 'mnist' / archives.COMPLETE_MARKER))
    assert archives.COMPLETE_MARKER == '.complete'


def test_a_full_disk_while_extracting_is_one_line_and_leaves_nothing(tmp_path, monkeypatch):
    archive = _idx(tmp_path / 'train.gz', _digits(20))
    real_save = Image.Image.save
    saved = []

    def full_after_seven(image, path, *args, **kwargs):
        if len(saved) == 7:
            raise OSError(28, 'No space left on device')
        saved.append(path)
        return real_save(image, path, *args, **kwargs)

    monkeypatch.setattr(Image.Image, 'save', full_after_seven)
    with pytest.raises(DiskFullError) as err:
        archives.extract(archive, str(tmp_path / 'mnist'), 'mnist')
    needed = files.bytes_on_disk([28 * 28 + 300] * 20, str(tmp_path))  # a digit's JPEG: its pixels and a header
    assert str(err.value) == ('not enough disk space in {} for the mnist images (needs about {}): free some space '
                              'there and run again'.format(tmp_path, files.size_text(needed)))
    assert sorted(os.listdir(str(tmp_path))) == ['train.gz']


def test_the_space_an_extraction_needs(tmp_path, monkeypatch):
    """On a file system of 1-byte blocks, the estimate itself: a digit's pixels and 300 bytes of JPEG header each."""
    monkeypatch.setattr(os, 'statvfs', lambda folder: os.statvfs_result((1, 1) + (0,) * 8))
    archive = _idx(tmp_path / 'train.gz', _digits(3, rows=10, cols=20))
    assert archives._extracted_size(archive, str(tmp_path)) == 3 * (10 * 20 + 300)
    zipped = tmp_path / 'faces.zip'
    with zipfile.ZipFile(str(zipped), 'w') as zf:
        zf.writestr('a/1.jpg', b'x' * 5000)
        zf.writestr('a/2.JPG', b'x' * 10)
        zf.writestr('a/notes.txt', b'x' * 99999)
    assert archives._extracted_size(str(zipped), str(tmp_path)) == 5000 + 10


# --- an earlier version's PNGs --------------------------------------------------------------------------

def _png_folder(folder, digits, jpegs=()):
    """An earlier version's MNIST folder: image_N.png for each digit, its marker (and some JPEGs a killed run wrote)"""
    os.makedirs(str(folder))
    for i, digit in enumerate(digits):
        Image.fromarray(digit).save(os.path.join(str(folder), 'image_{}.png'.format(i)))
    for i in jpegs:
        Image.new('L', (28, 28), 77).save(os.path.join(str(folder), 'image_{}.jpg'.format(i)), quality=100)
    open(os.path.join(str(folder), archives.COMPLETE_MARKER), 'w').close()


def test_an_earlier_png_extraction_is_converted_in_place(tmp_path):
    digits = _digits(5, seed=1)
    _png_folder(tmp_path / 'mnist', digits)
    (tmp_path / 'mnist' / 'notes.png').write_bytes(b'mine')
    assert archives.convert_png_digits(str(tmp_path / 'mnist')) == 5
    assert sorted(os.listdir(str(tmp_path / 'mnist'))) == sorted(
        ['.complete', 'notes.png'] + ['image_{}.jpg'.format(i) for i in range(5)])
    for i in range(5):
        with Image.open(str(tmp_path / 'mnist' / 'image_{}.jpg'.format(i))) as image:
            assert image.format == 'JPEG' and np.abs(np.asarray(image, int) - digits[i]).max() <= 2
    assert archives.convert_png_digits(str(tmp_path / 'mnist')) == 0  # nothing left to convert


def test_a_conversion_a_kill_interrupted_is_finished_keeping_the_jpegs_made(tmp_path):
    """image_0.jpg was written before the kill (its PNG not yet removed): kept as it is, its PNG removed."""
    digits = _digits(3, seed=2)
    _png_folder(tmp_path / 'mnist', digits, jpegs=[0])
    assert archives.convert_png_digits(str(tmp_path / 'mnist')) == 3
    with Image.open(str(tmp_path / 'mnist' / 'image_0.jpg')) as image:
        assert (np.asarray(image) == 77).all()
    assert sorted(name for name in os.listdir(str(tmp_path / 'mnist')) if name.endswith('.png')) == []
    assert not [name for name in os.listdir(str(tmp_path / 'mnist')) if files.is_temporary(name)]


# --- CelebA's zip ----------------------------------------------------------------------------------------

def test_a_zips_jpegs_are_extracted_flat_wherever_they_are(tmp_path, capsys):
    zipped = tmp_path / 'celeba.zip'
    with zipfile.ZipFile(str(zipped), 'w') as zf:
        zf.writestr('img_align_celeba/000001.jpg', b'one')
        zf.writestr('img_align_celeba/img_align_celeba/000002.JPG', b'two')  # Kaggle's copy nests one level more
        zf.writestr('000003.jpg', b'three')
        zf.writestr('img_align_celeba/list.txt', b'not an image')
        zf.writestr('img_align_celeba/', b'')
    archives.extract(str(zipped), str(tmp_path / 'img_align_celeba'), 'celeba')
    folder = tmp_path / 'img_align_celeba'
    assert sorted(os.listdir(str(folder))) == ['.complete', '000001.jpg', '000002.JPG', '000003.jpg']
    assert (folder / '000002.JPG').read_bytes() == b'two'
    assert 'Extracting celeba: 100%' in capsys.readouterr().err


def test_a_file_that_is_no_zip_is_one_line(tmp_path):
    (tmp_path / 'celeba.zip').write_bytes(b'<html>quota exceeded</html>')
    with pytest.raises(DatasetError) as err:
        archives.extract(str(tmp_path / 'celeba.zip'), str(tmp_path / 'img_align_celeba'), 'celeba')
    assert str(err.value) == '{} is not a zip file'.format(tmp_path / 'celeba.zip')
    assert os.listdir(str(tmp_path)) == ['celeba.zip']


def test_messages_name_no_command_line_flag():
    assert flags_named(archives) == []
