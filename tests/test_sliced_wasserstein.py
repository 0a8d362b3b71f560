"""
The sliced Wasserstein distance (facegan/metrics/sliced_wasserstein.py), checked against what its definition
gives, not against its own calls.

Known answers come from sets of images each of one value (v_i everywhere): every 7x7 patch of image i is then
v_i in all its entries, wherever it is taken, so the patch positions do not matter; normalised by the real
set's mean m and standard deviation s, a descriptor is ((v_i - m) / s) * (1, ..., 1), its projection on a
direction u is ((v_i - m) / s) * sum(u), and

    SWD(real, fake) = K * W,  K = mean over the directions of |sum(u)|,  W = mean_k |sort(a)_k - sort(b)_k| / s

with a, b the two sets' values. K depends on the seed and the sets' shape alone, so that for one seed and shape
every ratio of two distances is a ratio of the W, worked out by hand: exact, whatever the random draws are.
"""
import math

import numpy as np
import pytest
from hypothesis import given, strategies as st

import helper
from facegan.metrics import sliced_wasserstein as sw


def flat_images(values, channels=1, size=12):
    """:return: float (n, size, size, channels) images, image i of value values[i] (a list a channel: per channel)"""
    values = np.asarray(values, float).reshape(len(values), 1, 1, -1)
    return np.broadcast_to(values, (len(values), size, size, channels)).copy()


def one_dimensional_w(real, fake):
    """W: the mean gap between the sorted values of two sets of flat images, in the real values' standard deviations"""
    real, fake = np.asarray(real, float), np.asarray(fake, float)
    return np.abs(np.sort(real) - np.sort(fake)).mean() / (real.std() + 1e-8)


# --- the patches ------------------------------------------------------------------------------------

def test_each_descriptor_is_a_whole_7x7_patch_and_every_position_is_drawn():
    """Pixels that give their own position (100 y + x): a descriptor is a window, and all windows come up."""
    height, width = 10, 12
    ys, xs = np.meshgrid(np.arange(height), np.arange(width), indexing='ij')
    image = (100 * ys + xs).astype(float)[None, :, :, None]
    images = np.concatenate([image, image + 10000])  # the second image's values tell it from the first's
    patches = sw._patches(images, np.random.default_rng(0), patches_per_image=400)
    assert patches.shape == (800, 49)
    corners = set()
    for i, patch in enumerate(patches):
        window = patch.reshape(7, 7)
        top_left = window[0, 0] - (10000 if i >= 400 else 0)
        y, x = divmod(int(top_left), 100)
        np.testing.assert_array_equal(window, images[i // 400, y:y + 7, x:x + 7, 0])
        corners.add((y, x))
    assert corners == {(y, x) for y in range(height - 6) for x in range(width - 6)}


def test_a_descriptor_of_a_colour_image_cycles_through_the_channels():
    image = np.arange(8 * 8 * 3, dtype=float).reshape(1, 8, 8, 3)
    patch = sw._patches(image, np.random.default_rng(1), patches_per_image=1)[0]
    y, x = divmod(int(patch[0]) // 3, 8)
    np.testing.assert_array_equal(patch, image[0, y:y + 7, x:x + 7].reshape(-1))


# --- known answers ----------------------------------------------------------------------------------

def test_the_distance_grows_with_the_gap_between_the_sorted_values():
    """Real values 0, 1, 2, 3: fake ones 0, 1, 2, 4 are W = 1/4 off, 0, 1, 2, 5 twice that, 1, 2, 3, 4 four times."""
    real = flat_images([0, 1, 2, 3])
    distances = [sw.sliced_wasserstein(real, flat_images(fake)) for fake in ([0, 1, 2, 4], [0, 1, 2, 5],
                                                                           [1, 2, 3, 4])]
    assert distances[0] > 0
    np.testing.assert_allclose(np.array(distances) / distances[0], [1, 2, 4], rtol=1e-9)


def test_the_distance_is_k_times_w_with_k_as_random_unit_directions_give_it():
    """
    K = mean over directions of |sum(u)| = 7 |u . e|, e the unit vector along (1, ..., 1) in 49 dimensions. For u
    uniform on the sphere, E|u . e| = Gamma(49/2) / (sqrt(pi) Gamma(25)) and E (u . e)^2 = 1/49, so the mean over
    N directions is within 4 standard errors, 7 sqrt((1/49 - E|u . e|^2) / N), of 7 E|u . e| but for a chance of
    6e-5 (the seed is fixed: the test is repeatable)
    """
    directions = 20000
    mean_cos = math.exp(math.lgamma(49 / 2) - math.lgamma(25)) / math.sqrt(math.pi)
    k, four_errors = 7 * mean_cos, 4 * 7 * math.sqrt((1 / 49 - mean_cos ** 2) / directions)
    real, fake = [0, 1, 2, 3], [0, 1, 2, 4]
    distance = sw.sliced_wasserstein(flat_images(real), flat_images(fake), patches_per_image=2, directions=directions)
    assert distance == pytest.approx(k * one_dimensional_w(real, fake), abs=four_errors * one_dimensional_w(real, fake))


def test_float32_images_are_scored_as_their_values_in_float64():
    """Generated and held-out images are float32: the statistics are worked out in float64 all the same."""
    rng = np.random.default_rng(4)
    real, fake = rng.uniform(-1, 1, (4, 9, 9, 3)).astype(np.float32), rng.uniform(-1, 1, (4, 9, 9, 3)).astype(np.float32)
    assert sw.sliced_wasserstein(real, fake, patches_per_image=8) == sw.sliced_wasserstein(
        real.astype(np.float64), fake.astype(np.float64), patches_per_image=8)


def test_the_order_of_the_images_does_not_matter_only_their_values():
    real = flat_images([0, 1, 2, 3])
    np.testing.assert_allclose(sw.sliced_wasserstein(real, flat_images([4, 2, 0, 1])),
                               sw.sliced_wasserstein(real, flat_images([0, 1, 2, 4])), rtol=1e-12)


def test_flat_images_of_the_real_values_are_at_distance_zero():
    """Each image of one value: a patch is the same wherever it is taken, so the sets' descriptors are the same"""
    real = flat_images([3, 1, 2, 0])
    assert sw.sliced_wasserstein(real, flat_images([0, 1, 2, 3])) == 0


def test_a_set_with_structure_scored_against_itself_is_not_at_zero():
    """Each set's patches are drawn at their own positions: the same images give two samples of their patches"""
    images = np.random.default_rng(5).uniform(-1, 1, (4, 12, 12, 1))
    assert sw.sliced_wasserstein(images, images.copy(), patches_per_image=4, directions=16) > 0


@given(real=st.lists(st.integers(-100, 100), min_size=2, max_size=6).filter(lambda v: len(set(v)) > 1),
       data=st.data())
def test_any_two_distances_of_one_seed_and_shape_are_in_the_ratio_of_their_w(real, data):
    first = data.draw(st.lists(st.integers(-100, 100), min_size=len(real), max_size=len(real)))
    second = data.draw(st.lists(st.integers(-100, 100), min_size=len(real), max_size=len(real)))
    d1 = sw.sliced_wasserstein(flat_images(real), flat_images(first), patches_per_image=4, directions=16)
    d2 = sw.sliced_wasserstein(flat_images(real), flat_images(second), patches_per_image=4, directions=16)
    w1, w2 = one_dimensional_w(real, first), one_dimensional_w(real, second)
    assert d1 * w2 == pytest.approx(d2 * w1, rel=1e-9, abs=1e-12)


def test_both_sets_are_normalised_by_the_real_sets_statistics():
    """Scaling or shifting both sets together changes nothing; scaling the fake set alone moves it away."""
    real, fake = flat_images([0, 1, 2, 3]), flat_images([0, 1, 2, 5])
    base = sw.sliced_wasserstein(real, fake)
    # exact but for the 1e-8 the code adds to the standard deviation s: W scales by (s + 1e-8) / (s + 1e-8 / 3)
    s = np.std([0, 1, 2, 3])
    assert sw.sliced_wasserstein(3 * real - 7, 3 * fake - 7) == pytest.approx(base * (s + 1e-8) / (s + 1e-8 / 3),
                                                                            rel=1e-12)
    stretched = sw.sliced_wasserstein(real, 2 * fake)  # 0, 2, 4, 10: W = (0 + 1 + 2 + 7) / 4 / s
    assert stretched / base == pytest.approx(one_dimensional_w([0, 1, 2, 3], [0, 2, 4, 10]) /
                                             one_dimensional_w([0, 1, 2, 3], [0, 1, 2, 5]), rel=1e-9)


def test_each_channel_is_normalised_by_its_own_statistics():
    """A channel ten times the scale of the others weighs as much: its statistics are its own."""
    real = flat_images([[0, 0, 0], [1, 10, 1], [2, 20, 2], [3, 30, 3]], channels=3)
    fake = flat_images([[0, 0, 0], [1, 10, 1], [2, 20, 2], [4, 40, 4]], channels=3)
    even = sw.sliced_wasserstein(flat_images([[v] * 3 for v in range(4)], channels=3),
                                 flat_images([[v] * 3 for v in (0, 1, 2, 4)], channels=3))
    # the same but for the 1e-8 added to each standard deviation: at most 1e-8 / std([0, 1, 2, 3]) = 9e-9 relative
    assert sw.sliced_wasserstein(real, fake) == pytest.approx(even, rel=1e-8 / np.std([0, 1, 2, 3]))


def test_the_same_seed_gives_the_same_number_and_another_seed_another():
    rng = np.random.default_rng(5)
    real, fake = rng.uniform(-1, 1, (8, 12, 12, 3)), rng.uniform(-1, 1, (8, 12, 12, 3))
    assert sw.sliced_wasserstein(real, fake, seed=3) == sw.sliced_wasserstein(real.copy(), fake.copy(), seed=3)
    assert sw.sliced_wasserstein(real, fake, seed=4) != sw.sliced_wasserstein(real, fake, seed=3)


def test_sets_of_other_shapes_are_refused():
    with pytest.raises(ValueError, match=r'^image sets differ in shape: \(2, 12, 12, 1\) and \(2, 12, 12, 3\)$'):
        sw.sliced_wasserstein(flat_images([0, 1]), flat_images([0, 1], channels=3))
    with pytest.raises(ValueError, match='differ in shape'):
        sw.sliced_wasserstein(flat_images([0, 1]), flat_images([0, 1, 2]))


def test_the_defaults_are_the_papers_patch_count_and_directions():
    """Karras et al. use 7x7 patches and 512 directions; 64 patches an image here (28x28 images, 256 a set)."""
    assert (sw.PATCH_SIZE, sw.PATCHES_PER_IMAGE, sw.DIRECTIONS) == (7, 64, 512)
    real, fake = flat_images([0, 1, 2, 3]), flat_images([0, 1, 2, 5])
    assert sw.sliced_wasserstein(real, fake) == sw.sliced_wasserstein(real, fake, 0, 64, 512)


# --- the baselines and the gap --------------------------------------------------------------------------

def test_the_tracker_scores_against_its_floor_and_the_first_score_as_its_ceiling():
    """Real 0..3, other real 0, 1, 2, 4 (the floor), untrained 1..4 (W 4 times the floor's), then halfway."""
    held_out, other_real = flat_images([0, 1, 2, 3]), flat_images([0, 1, 2, 4])
    tracker = sw.Tracker(held_out, other_real, seed=2)
    assert tracker.ceiling is None
    untrained, closed = tracker.score(flat_images([1, 2, 3, 4]))
    assert tracker.ceiling == untrained and closed == 0
    assert untrained / tracker.floor == pytest.approx(4, rel=1e-9)
    distance, closed = tracker.score(flat_images([0, 1, 2, 5.5]))  # W 2.5 times the floor's
    assert distance / tracker.floor == pytest.approx(2.5, rel=1e-9)
    assert closed == pytest.approx((4 - 2.5) / (4 - 1), rel=1e-9) and tracker.ceiling == untrained


def test_a_tracker_without_a_seed_scores_as_the_metric_does_without_one():
    held_out, other_real = flat_images([0, 1, 2, 3]), flat_images([0, 1, 2, 5])
    rng = np.random.default_rng(0)
    real, fake = rng.uniform(-1, 1, (4, 9, 9, 1)), rng.uniform(-1, 1, (4, 9, 9, 1))
    assert sw.Tracker(real, fake).floor == sw.Tracker(real, fake, seed=0).floor != sw.Tracker(real, fake, seed=1).floor
    assert sw.Tracker(held_out, other_real).seed == 0


@pytest.mark.parametrize('distance,expected', [(5.0, 0.0), (3.0, 0.5), (1.0, 1.0), (7.0, -0.5), (0.0, 1.25)])
def test_gap_closed_known_answers(distance, expected):
    """Untrained at 5, real data at 1: 3 is halfway; worse than untrained is below 0, better than real above 1."""
    assert sw.gap_closed(distance, floor=1.0, ceiling=5.0) == pytest.approx(expected)


def test_no_gap_closes_when_there_is_none():
    assert np.isnan(sw.gap_closed(2.0, floor=3.0, ceiling=3.0))


# --- the degradations --------------------------------------------------------------------------------

@pytest.mark.parametrize('value', [0.9, -0.9])
def test_gaussian_noise_is_added_then_clipped(value):
    images = np.full((2, 4, 4, 1), value)
    noisy = sw.degrade(images, 'gaussian noise', 0.3, np.random.default_rng(0))
    np.testing.assert_array_equal(noisy, np.clip(value + np.random.default_rng(0).normal(0, 0.3, (2, 4, 4, 1)), -1, 1))
    assert noisy.max() == 1 if value > 0 else noisy.min() == -1


def test_blur_spreads_a_point_and_keeps_a_flat_image():
    images = np.full((1, 9, 9, 1), -1.0)
    images[0, 4, 4, 0] = 1.0
    blurred = sw.degrade(images, 'blur', 1.5, None)
    assert blurred.shape == images.shape
    assert -1 < blurred[0, 4, 3, 0] < blurred[0, 4, 4, 0] < 1 and blurred[0, 0, 0, 0] == -1
    np.testing.assert_allclose(sw.degrade(np.full((2, 9, 9, 3), 0.2), 'blur', 3, None), np.round(1.2 * 127.5) / 127.5 - 1)


def test_blur_of_colour_images_blurs_each_and_keeps_the_colours_apart():
    images = np.full((2, 9, 9, 3), -1.0)
    images[1, :, :, 2] = 1.0  # the second image blue
    blurred = sw.degrade(images, 'blur', 1.0, None)
    np.testing.assert_allclose(blurred[0], -1)
    np.testing.assert_allclose(blurred[1, ..., 2], 1)
    np.testing.assert_allclose(blurred[1, ..., :2], -1)


def test_colour_shift_adds_to_red_and_takes_from_blue_clipped():
    shifted = sw.degrade(np.full((1, 2, 2, 3), 0.8), 'colour shift', 0.4, None)
    np.testing.assert_allclose(shifted[0, 0, 0], [1.0, 0.8, 0.4])
    shifted = sw.degrade(np.full((1, 2, 2, 3), -0.8), 'colour shift', 0.4, None)
    np.testing.assert_allclose(shifted[0, 0, 0], [-0.4, -0.8, -1.0])
    grey = sw.degrade(np.zeros((1, 2, 2, 1)), 'colour shift', 0.1, None)  # one channel: shifted up
    np.testing.assert_allclose(grey, 0.1)


def test_mode_collapse_keeps_that_many_distinct_images_in_turn():
    images = np.arange(6, dtype=float).reshape(6, 1, 1, 1)
    np.testing.assert_array_equal(sw.degrade(images, 'mode collapse', 4, None).ravel(), [0, 1, 2, 3, 0, 1])
    np.testing.assert_array_equal(sw.degrade(images, 'mode collapse', 1, None).ravel(), [0] * 6)


def test_an_unknown_degradation_is_refused():
    with pytest.raises(ValueError, match=r"^unknown degradation 'rain'$"):
        sw.degrade(np.zeros((1, 2, 2, 1)), 'rain', 1, None)


@pytest.fixture(scope='module')
def faces(tmp_path_factory):
    """256 synthetic faces as two disjoint real sets of 128, in [-1, 1], and their distance (seed 0)."""
    folder = helper.make_synthetic_faces(str(tmp_path_factory.mktemp('data')), count=256, seed=0)
    images = helper.get_batch(helper.list_image_files(folder), 28, 28, 'RGB') / 127.5 - 1
    return images[:128], images[128:], sw.sliced_wasserstein(images[:128], images[128:])


@pytest.mark.parametrize('name', sorted(sw.DEGRADATION_STRENGTHS))
def test_degradations_of_faces_rank_in_order_of_strength(faces, name):
    """
    The metric's purpose: each known degradation, stronger, scores further from real faces than the last, and
    the mildest further than other real faces do (benchmarks/swd_check.py runs it on CelebA, for other seeds too)
    """
    real, other_real, clean = faces
    rng = np.random.default_rng(0)
    distances = [sw.sliced_wasserstein(real, sw.degrade(other_real, name, s, rng)) for s in sw.DEGRADATION_STRENGTHS[name]]
    assert clean < distances[0] < distances[1] < distances[2], (clean, distances)
