"""
helper.py's data functions (the Udacity helper's API on facegan/data): cropping, batches, grids, Dataset with its
cache, split, batches and get_batches, the warning for unreadable files; and the synthetic faces it hands out.
(What importing helper prepares for TensorFlow, and Ctrl-C inside TensorFlow, need TensorFlow: slow tests.)
"""
import os

import numpy as np
import pytest
from PIL import Image

import helper
from facegan.data import images, synthetic_faces


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


def test_the_explore_cells_on_a_folder_without_the_dataset_are_one_line_each():
    """The template's cells: helper.get_batch(glob(...)[:show_n_images], ...), then images_square_grid of it"""
    with pytest.raises(helper.DatasetError, match=r'^get_batch was given no image files: download the dataset '
                                                  r'first \(download_extract, in the data cell\) or check the folder '
                                                  r'its glob reads$'):
        helper.get_batch([], 28, 28, 'L')
    with pytest.raises(helper.DatasetError, match=r'^images_square_grid was given no images: give it a batch of one '
                                                  r'image or more$'):
        helper.images_square_grid(np.zeros((0, 28, 28, 1)), 'L')


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
    with pytest.raises(helper.DatasetError, match='^the celeba dataset was given no image files: download the dataset first'):
        helper.Dataset('celeba', [])
    (tmp_path / 'bad.png').write_bytes(b'nope')
    with pytest.raises(helper.DatasetError, match='None of the 1 images'):
        helper.Dataset('celeba', [str(tmp_path / 'bad.png')], cache_dir=str(tmp_path / 'cache'))


# --- Dataset: its name, split, images, batches and the warning ----------------------------------------

def test_a_dataset_knows_its_name_and_mode(tmp_path):
    paths = _image_files(str(tmp_path / 'imgs'), 2)
    assert helper.Dataset('celeba', paths).name == 'celeba'
    folder = helper.Dataset('my faces', paths, image_mode='L')
    assert (folder.name, folder.image_mode, folder.shape) == ('my faces', 'L', (2, 28, 28, 1))
    assert helper.IMAGE_MODES == {'mnist': 'L', 'celeba': 'RGB', 'synthetic': 'RGB'}


def test_images_by_position_are_get_batchs_values(tmp_path):
    paths = _image_files(str(tmp_path / 'imgs'), 5)
    dataset = helper.Dataset('celeba', paths, cache_dir=str(tmp_path / 'cache'))
    expected = helper.get_batch(paths, 28, 28, 'RGB')
    chosen = dataset.images([4, 0, 4])
    assert chosen.dtype == np.float32
    np.testing.assert_array_equal(chosen, expected[[4, 0, 4]])
    np.testing.assert_array_equal(dataset.images(range(5)), expected)


def test_split_holds_the_last_images_out_and_leaves_the_dataset_whole(tmp_path):
    paths = _image_files(str(tmp_path / 'imgs'), 7)
    dataset = helper.Dataset('celeba', paths, seed=0, cache_dir=str(tmp_path / 'cache'))
    expected = helper.get_batch(paths, 28, 28, 'RGB')
    training, held = dataset.split(3)
    assert held.dtype == np.float32 and held.shape == (3, 28, 28, 3)
    np.testing.assert_array_equal(held, expected[4:])
    assert training.shape == (4, 28, 28, 3) and training.data_files == paths[:4] and training.name == 'celeba'
    np.testing.assert_array_equal(training.images(range(4)), expected[:4])
    assert dataset.shape == (7, 28, 28, 3) and dataset.data_files == paths  # the dataset itself stays whole
    np.testing.assert_array_equal(dataset.images([6]), expected[[6]])
    with pytest.raises(IndexError):
        training.images([4])  # a held-out image is not the training view's


def test_split_counts_only_the_readable_images(tmp_path, capsys):
    paths = _image_files(str(tmp_path / 'imgs'), 4)
    bad = str(tmp_path / 'imgs' / '001_bad.png')
    open(bad, 'wb').write(b'not an image')
    dataset = helper.Dataset('celeba', sorted(paths + [bad]), cache_dir=str(tmp_path / 'cache'))
    training, held = dataset.split(1)
    assert training.data_files == paths[:3]
    np.testing.assert_array_equal(held, helper.get_batch(paths[3:], 28, 28, 'RGB'))
    np.testing.assert_array_equal(training.images(range(3)), helper.get_batch(paths[:3], 28, 28, 'RGB'))


def test_batches_of_an_order_from_a_first_batch_in_the_models_range(tmp_path):
    paths = _image_files(str(tmp_path / 'imgs'), 7)
    dataset = helper.Dataset('celeba', paths, cache_dir=str(tmp_path / 'cache'))
    expected = helper.get_batch(paths, 28, 28, 'RGB') / 255 - 0.5
    order = [6, 2, 0, 5, 1, 3, 4]
    batches = list(dataset.batches(2, order))
    assert len(batches) == 3  # the last, partial batch is dropped
    for i, batch in enumerate(batches):
        assert batch.dtype == np.float32
        np.testing.assert_array_equal(batch, expected[order[2 * i:2 * i + 2]])
    later = list(dataset.batches(2, order, first=2))  # a run resumed at its third batch
    assert len(later) == 1 and np.array_equal(later[0], batches[2])
    assert list(dataset.batches(3, order, first=2)) == []


def test_get_batches_draws_a_new_order_each_epoch_from_the_seed(tmp_path):
    paths = _image_files(str(tmp_path / 'imgs'), 6)
    expected = helper.get_batch(paths, 28, 28, 'RGB') / 255 - 0.5
    dataset = helper.Dataset('celeba', paths, seed=5, cache_dir=str(tmp_path / 'cache'))
    rng = np.random.default_rng(5)
    for _ in range(2):
        order = rng.permutation(6)
        np.testing.assert_array_equal(np.concatenate(list(dataset.get_batches(3))), expected[order])


@pytest.mark.parametrize('bad,first', [(1, '000.png'), (2, '000.png')])
def test_unreadable_images_are_one_warning_naming_the_first(tmp_path, capsys, bad, first):
    good = _image_files(str(tmp_path / 'imgs'), 2)
    broken = []
    for i in range(bad):
        broken.append(str(tmp_path / 'bad' / '{:03d}.png'.format(i)))
        os.makedirs(os.path.dirname(broken[-1]), exist_ok=True)
        open(broken[-1], 'wb').write(b'nope')
    helper.Dataset('celeba', broken + good, cache_dir=str(tmp_path / 'cache'))
    warnings = [line for line in capsys.readouterr().err.splitlines() if line.startswith('warning:')]
    assert warnings == ['warning: skipped {} unreadable image{} of {} (first: {})'.format(
        bad, 's' if bad > 1 else '', bad + 2, tmp_path / 'bad' / first)]


def test_a_readable_dataset_says_nothing(tmp_path, capsys):
    helper.Dataset('celeba', _image_files(str(tmp_path / 'imgs'), 2), cache_dir=str(tmp_path / 'cache'))
    err = capsys.readouterr().err.replace('\r', '\n')
    assert [line for line in err.splitlines() if line.strip() and not line.startswith('Caching images')] == []


def test_the_errors_name_the_dataset(tmp_path):
    with pytest.raises(helper.DatasetError) as err:
        helper.Dataset('mnist', [])
    assert str(err.value) == 'the mnist dataset was given no image files: download the dataset first ' \
                             '(download_extract, in the data cell) or check the folder its glob reads'
    with pytest.raises(helper.DatasetError) as err:
        helper.Dataset('cifar', ['x.png'])
    assert str(err.value) == "Unknown dataset 'cifar': choose one of celeba, mnist, synthetic"
    (tmp_path / 'a.png').write_bytes(b'x')
    (tmp_path / 'b.png').write_bytes(b'x')
    with pytest.raises(helper.DatasetError) as err:
        helper.Dataset('folder', [str(tmp_path / 'a.png'), str(tmp_path / 'b.png')], image_mode='RGB',
                       cache_dir=str(tmp_path / 'cache'))
    assert str(err.value) == 'None of the 2 images of the folder dataset can be read (the first: {}): give it image ' \
                             'files that open (jpg, jpeg or png)'.format(tmp_path / 'a.png')


def test_the_cache_goes_beside_the_images_unless_told(tmp_path):
    paths = _image_files(str(tmp_path / 'imgs'), 2)
    helper.Dataset('celeba', paths)
    assert len(os.listdir(str(tmp_path / 'imgs' / '.cache'))) == 2


def test_download_extract_is_the_data_layers(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(helper.downloads, 'download_extract', lambda *args: calls.append(args))
    helper.download_extract('mnist', str(tmp_path))
    helper.download_extract('celeba', str(tmp_path), {'celeba': {}})
    assert calls == [('mnist', str(tmp_path), None), ('celeba', str(tmp_path), {'celeba': {}})]


def test_get_image_reads_an_open_file_as_well_as_a_path(tmp_path):
    path = str(tmp_path / 'face.png')
    _write_celeba_like(path)
    with open(path, 'rb') as f:
        np.testing.assert_array_equal(helper.get_image(f, 28, 28, 'L'), helper.get_image(path, 28, 28, 'L'))
