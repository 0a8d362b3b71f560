"""
helper.py (cropping, grids, batches, Dataset and its cache) and what it stands on: IDX reading
(facegan/archives.py), synthetic faces, image listing, and TensorFlow's set-up and Ctrl-C.
"""
import gzip
import os
import signal
import struct
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

import helper
from conftest import child_env
from facegan import archives, images, interrupts, synthetic_faces

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _write_celeba_like(path, seed=0):
    """A 178x218 image whose pixel values encode their own (x, y): the crop box can be read back."""
    xs, ys = np.meshgrid(np.arange(178), np.arange(218))
    rgb = np.stack([xs, ys, np.full_like(xs, seed)], axis=-1).astype(np.uint8)
    Image.fromarray(rgb).save(path)  # PNG: lossless
    return rgb


def test_get_image_crops_the_centre_108_then_resizes(tmp_path):
    path = str(tmp_path / 'face.png')
    rgb = _write_celeba_like(path)
    expected = np.array(Image.fromarray(rgb).crop((35, 55, 143, 163)).resize(
        (28, 28), Image.Resampling.BILINEAR))

    image = helper.get_image(path, 28, 28, 'RGB')

    assert image.shape == (28, 28, 3)
    np.testing.assert_array_equal(image, expected)
    # The crop box itself, read from the pixel values: x spans 35-142, y spans 55-162
    assert abs(image[:, :, 0].mean() - (35 + 142) / 2) < 0.5
    assert abs(image[:, :, 1].mean() - (55 + 162) / 2) < 0.5
    assert 35 <= image[:, :, 0].min() <= 38 and 139 <= image[:, :, 0].max() <= 142


def test_get_image_keeps_28x28_images_as_they_are(tmp_path):
    digit = np.random.default_rng(0).integers(0, 256, (28, 28), dtype=np.uint8)
    Image.fromarray(digit).save(str(tmp_path / 'digit.png'))
    np.testing.assert_array_equal(helper.get_image(str(tmp_path / 'digit.png'), 28, 28, 'L'), digit)


def test_get_batch_is_float32_and_4d_for_both_modes(tmp_path):
    paths = []
    for i in range(3):
        paths.append(str(tmp_path / '{}.png'.format(i)))
        _write_celeba_like(paths[-1], seed=i)
    rgb = helper.get_batch(paths, 28, 28, 'RGB')
    gray = helper.get_batch(paths, 28, 28, 'L')
    assert rgb.dtype == np.float32 and rgb.shape == (3, 28, 28, 3)
    assert gray.dtype == np.float32 and gray.shape == (3, 28, 28, 1)
    assert rgb[2, 0, 0, 2] == 2 and rgb.max() <= 255


@pytest.mark.parametrize('mode,channels', [('RGB', 3), ('L', 1)])
def test_images_square_grid_layout_and_scaling(mode, channels):
    # 10 images -> a 3x3 grid; image k is filled with the value k (then min-max scaled)
    batch = np.stack([np.full((4, 5, channels), k, np.float32) for k in range(10)])
    grid = helper.images_square_grid(batch, mode)
    assert grid.mode == mode
    assert grid.size == (3 * 5, 3 * 4)
    pixels = np.array(grid)
    if mode == 'L':
        pixels = pixels[..., np.newaxis]
    # Row by row: the image at grid row r, column c is image 3r + c, scaled by 255/9
    for r in range(3):
        for c in range(3):
            tile = pixels[r * 4:(r + 1) * 4, c * 5:(c + 1) * 5]
            assert (tile == round((3 * r + c) * 255 / 9)).all()


def test_images_square_grid_constant_input_is_black_not_nan():
    grid = np.array(helper.images_square_grid(np.ones((4, 28, 28, 1)), 'L'))
    assert grid.shape == (56, 56) and (grid == 0).all()


def _grid_of(batch):
    """
    The grid images_square_grid should make, worked out cell by cell
    :param batch: Images (n, h, w, c)
    :return: uint8 (side * h, side * w, c): all values min-max scaled together to 0-255, image k
        in row k // side, column k % side, side = floor(sqrt(n)); the images after side * side left out
    """
    count, height, width, channels = batch.shape
    side = int(np.floor(np.sqrt(count)))
    scaled = np.round((batch - batch.min()) * 255 / (batch.max() - batch.min()))
    grid = np.zeros((side * height, side * width, channels))
    for k in range(side * side):
        row, column = divmod(k, side)
        grid[row * height:(row + 1) * height, column * width:(column + 1) * width] = scaled[k]
    return grid.astype(np.uint8)


@pytest.mark.parametrize('mode', ['RGB', 'L'])
def test_grid_displays_with_matplotlib(tmp_path, mode):
    """The notebook showed grids with pyplot.imshow: each image in its cell, and mode 'L' as gray."""
    from matplotlib import pyplot
    channels = 3 if mode == 'RGB' else 1
    batch = np.random.default_rng(1).random((10, 28, 28, channels)).astype(np.float32)
    expected = _grid_of(batch)
    grid = helper.images_square_grid(batch, mode)
    assert grid.mode == mode
    np.testing.assert_array_equal(np.array(grid).reshape(expected.shape), expected)
    # Shown at one screen pixel per grid pixel, the figure is the grid (gray for 'L')
    dpi = 100
    fig = pyplot.figure(figsize=(grid.width / dpi, grid.height / dpi), dpi=dpi)
    fig.add_axes([0, 0, 1, 1]).axis('off')
    pyplot.imshow(grid, cmap='gray' if mode == 'L' else None, interpolation='nearest')
    out = str(tmp_path / 'shown.png')
    fig.savefig(out, dpi=dpi)
    pyplot.close(fig)
    shown = np.array(Image.open(out).convert('RGB')).astype(int)
    assert np.abs(shown - expected.astype(int)).max() <= 1  # 'L': one channel, compared with R, G and B


def _image_files(folder, count, size=(178, 218)):
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(count)
    paths = []
    for i in range(count):
        paths.append(os.path.join(folder, '{:03d}.png'.format(i)))
        Image.fromarray(rng.integers(0, 256, size[::-1] + (3,), dtype=np.uint8)).save(paths[-1])
    return paths


def test_dataset_shape_range_and_batch_count(tmp_path):
    paths = _image_files(str(tmp_path / 'imgs'), 10)
    dataset = helper.Dataset('celeba', paths, seed=0)
    assert dataset.shape == (10, 28, 28, 3)
    assert dataset.image_mode == 'RGB'
    batches = list(dataset.get_batches(3))
    assert len(batches) == 3  # the last partial batch is dropped
    for batch in batches:
        assert batch.dtype == np.float32 and batch.shape == (3, 28, 28, 3)
        assert batch.min() >= -0.5 and batch.max() <= 0.5
    assert helper.Dataset('mnist', paths).shape == (10, 28, 28, 1)
    assert helper.Dataset('mnist', paths).image_mode == 'L'


def test_dataset_batches_are_shuffled_each_epoch_and_seeded(tmp_path):
    paths = _image_files(str(tmp_path / 'imgs'), 8)
    singles = [helper.get_batch([p], 28, 28, 'RGB')[0] / 255 - 0.5 for p in paths]

    def order(batches):
        return [next(i for i, s in enumerate(singles) if np.array_equal(s, b[0])) for b in batches]

    first = helper.Dataset('celeba', paths, seed=3)
    epoch1, epoch2 = order(first.get_batches(1)), order(first.get_batches(1))
    assert sorted(epoch1) == list(range(8))  # every image once
    assert epoch1 != epoch2  # a new order each epoch
    assert order(helper.Dataset('celeba', paths, seed=3).get_batches(1)) == epoch1


def test_dataset_rejects_unknown_name():
    with pytest.raises(helper.DatasetError, match='Unknown dataset'):
        helper.Dataset('cifar', [])


def _idx_gzip(path, digits):
    header = struct.pack('>IIII', 2051, len(digits), digits.shape[1], digits.shape[2])
    with gzip.open(path, 'wb') as f:
        f.write(header + digits.tobytes())


def test_read_idx_images_parses_big_endian_header(tmp_path):
    digits = np.random.default_rng(2).integers(0, 256, (3, 28, 28), dtype=np.uint8)
    _idx_gzip(str(tmp_path / 'x.gz'), digits)
    np.testing.assert_array_equal(archives.read_idx_images(str(tmp_path / 'x.gz')), digits)


def test_read_idx_images_rejects_wrong_magic(tmp_path):
    with gzip.open(str(tmp_path / 'labels.gz'), 'wb') as f:
        f.write(struct.pack('>II', 2049, 3) + bytes(3))  # an IDX label file
    with pytest.raises(helper.DatasetError, match='magic number 2049'):
        archives.read_idx_images(str(tmp_path / 'labels.gz'))


def test_synthetic_faces_are_celeba_shaped_and_deterministic(tmp_path):
    folder = synthetic_faces.make_synthetic_faces(str(tmp_path / 'a'), count=6, seed=5)
    again = synthetic_faces.make_synthetic_faces(str(tmp_path / 'b'), count=6, seed=5)
    other = synthetic_faces.make_synthetic_faces(str(tmp_path / 'c'), count=6, seed=6)
    names = sorted(os.listdir(folder))
    assert len(names) == 6 and all(name.endswith('.jpg') for name in names)
    for name in names:
        with Image.open(os.path.join(folder, name)) as image:
            assert image.size == (178, 218) and image.mode == 'RGB'
        assert open(os.path.join(folder, name), 'rb').read() == open(os.path.join(again, name), 'rb').read()
    assert open(os.path.join(folder, names[0]), 'rb').read() != open(os.path.join(other, names[0]), 'rb').read()
    # Created once: a second call reuses the folder
    assert synthetic_faces.make_synthetic_faces(str(tmp_path / 'a'), count=6, seed=5) == folder


def test_synthetic_face_is_inside_the_crop():
    """The face (not the background) fills the 108x108 crop's centre; the corners are background."""
    image = np.array(synthetic_faces.draw_synthetic_face(np.random.default_rng(0))).astype(int)
    background = image[2, 2]
    centre = image[100:120, 79:99]
    assert np.abs(centre - background).sum(axis=-1).mean() > 30
    assert (np.abs(image[:40, :30] - background).sum(axis=-1) == 0).mean() > 0.9


def test_import_tensorflow_explains_keras3_conflict():
    """TensorFlow already bound to Keras 3: one message that says what to do."""
    code = ('import os; os.environ.pop("TF_USE_LEGACY_KERAS", None)\n'
            'import tensorflow\n'
            'try:\n    tensorflow.compat.v1.layers.Layer\nexcept AttributeError:\n    pass\n'
            'from facegan.tensorflow_setup import import_tensorflow\n'
            'try:\n    import_tensorflow()\n'
            'except RuntimeError as err:\n    print("MESSAGE:", err)\n')
    env = child_env()  # without TF_USE_LEGACY_KERAS
    out = subprocess.run([sys.executable, '-c', code], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=120).stdout
    line = [line for line in out.splitlines() if line.startswith('MESSAGE:')]
    assert line and 'TF_USE_LEGACY_KERAS=1' in line[0]


def test_cache_gives_exactly_the_values_of_get_batch(tmp_path):
    paths = _image_files(str(tmp_path / 'imgs'), 9)
    dataset = helper.Dataset('celeba', paths, seed=1, cache_dir=str(tmp_path / 'cache'))
    assert isinstance(dataset._images, np.memmap) and dataset._images.dtype == np.uint8  # no float copy
    np.testing.assert_array_equal(dataset.images(range(9)), helper.get_batch(paths, 28, 28, 'RGB'))
    served = np.concatenate(list(dataset.get_batches(3)))
    expected = helper.get_batch(paths, 28, 28, 'RGB') / 255 - 0.5
    assert served.dtype == expected.dtype == np.float32
    # The same images, bit for bit, in a shuffled order
    assert sorted(map(bytes, served)) == sorted(map(bytes, expected))


def test_cache_is_reused_and_rebuilt_when_the_folder_changes(tmp_path, monkeypatch):
    folder, cache = str(tmp_path / 'imgs'), str(tmp_path / 'cache')
    paths = _image_files(folder, 4)
    helper.Dataset('celeba', paths, cache_dir=cache)
    assert len(os.listdir(cache)) == 2  # the .npy and its .json index

    def no_decoding(*args):
        raise AssertionError('decoded again although the cache is valid')

    with monkeypatch.context() as patch:
        patch.setattr(helper, 'get_image', no_decoding)
        assert helper.Dataset('celeba', paths, cache_dir=cache).shape == (4, 28, 28, 3)

    Image.new('RGB', (178, 218), (1, 2, 3)).save(os.path.join(folder, 'new.png'))
    grown = helper.Dataset('celeba', images.list_image_files(folder), cache_dir=cache)
    assert grown.shape == (5, 28, 28, 3)
    assert len(os.listdir(cache)) == 2  # the old cache was replaced, not kept beside
    Image.new('RGB', (178, 218), (9, 9, 9)).save(os.path.join(folder, 'new.png'), compress_level=0)
    changed = helper.Dataset('celeba', images.list_image_files(folder), cache_dir=cache)
    assert changed.images([4])[0, 0, 0].tolist() == [9, 9, 9]  # a file of another size: rebuilt


def test_interrupted_cache_build_is_never_used(tmp_path, monkeypatch):
    paths = _image_files(str(tmp_path / 'imgs'), 6)
    cache = str(tmp_path / 'cache')
    calls = []

    def crash_on_third(*args):
        calls.append(args)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*args)

    real = images.decode_or_none
    monkeypatch.setattr(images, 'decode_or_none', crash_on_third)
    with pytest.raises(KeyboardInterrupt):
        helper.Dataset('celeba', paths, cache_dir=cache)
    assert not [name for name in os.listdir(cache) if name.endswith('.json')]
    monkeypatch.setattr(images, 'decode_or_none', real)
    dataset = helper.Dataset('celeba', paths, cache_dir=cache)
    np.testing.assert_array_equal(dataset.images(range(6)), helper.get_batch(paths, 28, 28, 'RGB'))
    assert sorted(os.path.splitext(name)[1] for name in os.listdir(cache)) == ['.json', '.npy']  # no leftovers


def test_corrupt_images_are_skipped_and_counted_in_one_warning(tmp_path, capsys):
    folder = tmp_path / 'imgs'
    good = _image_files(str(folder), 5)
    (folder / 'garbage.jpg').write_bytes(b'this is not a jpeg')
    whole = tmp_path / 'whole.jpg'
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (218, 178, 3), dtype=np.uint8)).save(str(whole))
    (folder / 'truncated.jpg').write_bytes(whole.read_bytes()[:2000])
    files = images.list_image_files(str(folder))
    dataset = helper.Dataset('celeba', files, cache_dir=str(tmp_path / 'cache'))
    warning = [line for line in capsys.readouterr().err.splitlines() if line.startswith('warning:')]
    assert warning == ['warning: skipped 2 unreadable images of 7 (first: {})'.format(folder / 'garbage.jpg')]
    assert dataset.shape == (5, 28, 28, 3) and dataset.data_files == good
    assert len(list(dataset.get_batches(5))) == 1


def test_empty_or_unreadable_folder_is_a_clear_error(tmp_path):
    with pytest.raises(helper.DatasetError, match='no jpg, jpeg or png files'):
        helper.Dataset('celeba', [])
    (tmp_path / 'bad.png').write_bytes(b'nope')
    with pytest.raises(helper.DatasetError, match='None of the 1 images'):
        helper.Dataset('celeba', [str(tmp_path / 'bad.png')], cache_dir=str(tmp_path / 'cache'))


def test_list_image_files_is_recursive_and_skips_hidden_folders(tmp_path):
    for rel in ['a.jpg', 'sub/b.JPEG', 'sub/deeper/c.png', 'notes.txt', '.cache/d.png']:
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b'')
    found = [os.path.relpath(p, str(tmp_path)) for p in images.list_image_files(str(tmp_path))]
    assert found == ['a.jpg', os.path.join('sub', 'b.JPEG'), os.path.join('sub', 'deeper', 'c.png')]


# TensorFlow's nest.flatten turns an exception raised while it reads a Mapping into
# RuntimeError('Mapping was modified during iteration over it'), its cause lost: a Ctrl-C that
# lands there (start-up builds graphs full of such calls) must still end in one line
_CTRL_C_INSIDE_TENSORFLOW = '''
import collections.abc, os, signal, sys
sys.path.insert(0, {root!r})
from facegan.tensorflow_setup import import_tensorflow
tf = import_tensorflow()
from tensorflow.python.util import nest


class Interrupted(collections.abc.Mapping):
    def __getitem__(self, key):
        # To this thread (os.kill may hand it to one of TensorFlow's threads, which sees it later), then
        # a call: Python 3.11 to 3.13 all run a pending handler at a function's start
        signal.raise_signal(signal.SIGINT)
        (lambda: None)()
        return key

    def __iter__(self):
        return iter([1])

    def __len__(self):
        return 1


nest.flatten(Interrupted())
print('not interrupted')
'''


def test_ctrl_c_that_tensorflow_turns_into_another_error_is_still_one_line():
    # A shell starts a background job with Ctrl-C ignored, and children inherit that: give the child
    # the default, as a terminal would
    result = subprocess.run([sys.executable, '-c', _CTRL_C_INSIDE_TENSORFLOW.format(root=ROOT)],
                            capture_output=True, text=True, timeout=300, env=child_env(),
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    assert 'Traceback' not in result.stderr and 'not interrupted' not in result.stdout
    assert result.returncode == 130 and result.stderr.strip().splitlines()[-1] == interrupts.INTERRUPTED
