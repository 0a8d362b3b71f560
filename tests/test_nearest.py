"""
The memorisation check's numbers (facegan/metrics/nearest.py, numpy alone): RMS pixel distances, the nearest
training images found chunk by chunk as a brute-force search finds them, the medians and the verdict.
"""
import numpy as np
import pytest
from hypothesis import given, strategies as st

from facegan.metrics import nearest


def _brute_force(queries, reference):
    """:return: (n, m) RMS pixel differences, pair by pair, in plain numpy"""
    queries, reference = np.asarray(queries, float), np.asarray(reference, float)
    return np.sqrt(((queries[:, None] - reference[None]) ** 2).reshape(len(queries), len(reference), -1).mean(axis=2))


def _chunks(reference, size):
    """:return: reference as (first position, chunk) pairs of size images"""
    return [(first, reference[first:first + size]) for first in range(0, len(reference), size)]


def test_squared_distances_are_the_mean_squared_pixel_differences():
    a = np.array([[[0, 0], [0, 0]], [[255, 255], [255, 255]]], np.uint8)[..., None]  # black, white
    b = np.array([[[0, 255], [0, 255]]], np.uint8)[..., None]  # half white
    np.testing.assert_array_equal(nearest.squared_distances(a, b), [[255 ** 2 / 2], [255 ** 2 / 2]])
    np.testing.assert_array_equal(nearest.squared_distances(a, a), [[0, 255 ** 2], [255 ** 2, 0]])


def test_an_image_is_at_distance_zero_from_itself_not_below():
    """The expansion |a|^2 + |b|^2 - 2ab rounds to a little below 0 for equal images: clamped at 0."""
    images = np.random.default_rng(3).uniform(0, 255, (6, 28, 28, 3))
    squares = nearest.squared_distances(images, images)
    assert (squares >= 0).all() and (np.diag(squares) < 1e-6).all()
    assert (np.sqrt(squares) >= 0).all()


def test_squared_distances_of_uint8_images_do_not_wrap_around():
    """uint8 arithmetic would wrap (0 - 1 = 255): the distances are of the values as numbers."""
    a, b = np.zeros((1, 2, 2, 1), np.uint8), np.full((1, 2, 2, 1), 1, np.uint8)
    np.testing.assert_array_equal(nearest.squared_distances(a, b), [[1]])
    np.testing.assert_array_equal(nearest.squared_distances(np.full((1, 1), 200, np.uint8),
                                                            np.full((1, 1), 100, np.uint8)), [[10000]])


@given(st.integers(1, 40), st.integers(1, 6), st.integers(1, 4), st.integers(0, 2 ** 32 - 1))
def test_nearest_finds_the_same_neighbours_as_a_brute_force_search(references, chunk, count, seed):
    rng = np.random.RandomState(seed)
    queries, reference = rng.randint(0, 256, (5, 4, 4, 1)), rng.randint(0, 256, (references, 4, 4, 1))
    distances, positions = nearest.nearest(queries, _chunks(reference, chunk), count)
    brute = _brute_force(queries, reference)
    found = min(count, references)
    assert distances.shape == positions.shape == (5, found)
    np.testing.assert_allclose(distances, np.sort(brute, axis=1)[:, :found], rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(np.take_along_axis(brute, positions, 1), distances, rtol=1e-9, atol=1e-9)


def test_equally_near_images_are_given_in_their_order():
    """Copies of one image, in three chunks: the first copies come first."""
    reference = np.repeat(np.arange(4, dtype=float)[:, None, None, None], 2, axis=0)  # 0, 0, 1, 1, 2, 2, ...
    distances, positions = nearest.nearest(np.full((1, 1, 1, 1), 1.0), _chunks(reference, 3), count=3)
    assert positions.tolist() == [[2, 3, 0]] and distances.tolist() == [[0, 0, 1]]


def test_many_equally_near_images_are_given_in_their_order():
    """
    Ten copies of two images, alternating, in one chunk: numpy's default sort keeps equal values in order only
    up to 16 of them; the search does for any number
    """
    reference = np.tile([0.0, 5.0], 10).reshape(20, 1, 1, 1)
    distances, positions = nearest.nearest(np.zeros((2, 1, 1, 1)), _chunks(reference, 20), count=5)
    assert positions.tolist() == [[0, 2, 4, 6, 8]] * 2 and distances.tolist() == [[0] * 5] * 2


def test_by_default_three_neighbours_are_found():
    reference = np.arange(10, dtype=float).reshape(10, 1, 1, 1)
    distances, positions = nearest.nearest(np.full((2, 1, 1, 1), 4.2), _chunks(reference, 4))
    assert positions.tolist() == [[4, 5, 3], [4, 5, 3]]
    np.testing.assert_allclose(distances, [[0.2, 0.8, 1.2]] * 2)
    assert nearest.NEIGHBOURS == distances.shape[1] == 3


def _check(generated, held_out, training, chunk=3):
    calls = []

    def reference_chunks():
        calls.append(True)
        return iter(_chunks(training, chunk))  # an iterator: used up once read, hence a fresh one each call

    result = nearest.check(generated, held_out, reference_chunks)
    assert len(calls) == 2
    return result


def test_a_generator_that_copies_its_training_set_is_found_out():
    rng = np.random.default_rng(0)
    training = rng.integers(0, 255, (20, 4, 4, 1)).astype(float)  # whole values: the distances come out exact
    held_out = rng.integers(0, 255, (10, 4, 4, 1)).astype(float)
    copied = [5, 3, 8, 1, 0, 2, 4, 6, 7, 9] * 2
    copies = training[copied] + 1.0  # off by 1 in every pixel; 20 of them
    copies[1::2] += 1.0  # every other one off by 2: ten pairs of equal distances, in an order a stable sort keeps
    result = _check(copies, held_out, training)
    assert result['generated_median'] == 1.5
    assert result['held_out_median'] == pytest.approx(float(np.median(_brute_force(held_out, training).min(axis=1))))
    assert result['copying'] is True
    assert result['shown'].tolist() == [0, 2, 4, 6, 8, 10, 12, 14]  # the ten at 1.0, in order (a stable sort)
    assert result['neighbours'].shape == (8, 3)
    assert result['neighbours'][:, 0].tolist() == [copied[i] for i in range(0, 16, 2)]


def test_faces_no_nearer_than_unseen_real_ones_are_no_copying_and_the_nearest_are_shown_first():
    rng = np.random.default_rng(1)
    training = rng.uniform(0, 255, (30, 4, 4, 1))
    held_out = rng.uniform(0, 255, (12, 4, 4, 1))
    generated = rng.uniform(0, 255, (12, 4, 4, 1))
    result = _check(generated, held_out, training)
    brute = _brute_force(generated, training)
    nearest_distances = brute.min(axis=1)
    assert result['generated_median'] == pytest.approx(float(np.median(nearest_distances)))
    assert result['copying'] is (result['generated_median'] < result['held_out_median'])
    assert result['shown'].tolist() == np.argsort(nearest_distances, kind='stable')[:nearest.SHOWN].tolist()
    assert result['neighbours'].tolist() == np.argsort(brute, axis=1, kind='stable')[result['shown'], :3].tolist()
    assert isinstance(result['generated_median'], float) and isinstance(result['held_out_median'], float)


def test_equal_medians_are_no_sign_of_copying():
    training = np.zeros((4, 2, 2, 1))
    same = np.full((3, 2, 2, 1), 10.0)
    assert _check(same, same, training)['copying'] is False


def test_the_verdict_says_the_medians_and_what_they_mean():
    result = {'generated_median': 12.345, 'held_out_median': 20.0, 'copying': False}
    assert nearest.verdict(result) == [
        'Nearest training image (RMS pixel difference, 0-255), median: generated faces 12.3, held-out real faces 20.0',
        'No sign of copying: generated faces are no nearer to the training images than unseen real faces']
    assert nearest.verdict(dict(result, copying=True))[1] == (
        'Generated faces are nearer to the training images than real faces the run never saw: the generator may be '
        'copying its training set (see nearest.png)')
