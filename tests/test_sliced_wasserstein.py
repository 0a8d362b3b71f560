"""The sliced Wasserstein distance: checked on synthetic faces before it is trusted."""
import numpy as np
import pytest

import helper
from facegan import sliced_wasserstein as sw


@pytest.fixture(scope='module')
def faces(tmp_path_factory):
    """256 synthetic faces as two disjoint real sets of 128, in [-1, 1]."""
    folder = helper.make_synthetic_faces(str(tmp_path_factory.mktemp('data')), count=256, seed=0)
    images = helper.get_batch(helper.list_image_files(folder), 28, 28, 'RGB') / 127.5 - 1
    return images[:128], images[128:]


@pytest.mark.parametrize('name', sorted(sw.DEGRADATION_STRENGTHS))
def test_degradations_rank_in_order_of_strength(faces, name):
    real, other_real = faces
    rng = np.random.default_rng(0)
    clean = sw.sliced_wasserstein(real, other_real)
    distances = [sw.sliced_wasserstein(real, sw.degrade(other_real, name, s, rng))
                 for s in sw.DEGRADATION_STRENGTHS[name]]
    assert clean < distances[0] < distances[1] < distances[2], (clean, distances)


def test_same_inputs_same_number_and_other_seeds_agree(faces):
    real, other_real = faces
    first = sw.sliced_wasserstein(real, other_real, seed=3)
    assert first == sw.sliced_wasserstein(real, other_real, seed=3)
    other_seed = sw.sliced_wasserstein(real, other_real, seed=4)
    assert other_seed != first and abs(other_seed - first) < 0.2 * first  # patches and directions differ
    # The same images (other random patches) score below two different real sets
    assert sw.sliced_wasserstein(real, real) < first


def test_grayscale_works_and_shapes_must_match(faces):
    real, other_real = faces
    gray, other_gray = real.mean(axis=3, keepdims=True), other_real.mean(axis=3, keepdims=True)
    assert sw.sliced_wasserstein(gray, other_gray) < sw.sliced_wasserstein(gray, np.zeros_like(gray))
    with pytest.raises(ValueError, match='differ in shape'):
        sw.sliced_wasserstein(real, gray)


def test_tracker_floor_ceiling_and_gap_closed(faces):
    real, other_real = faces
    tracker = sw.Tracker(real, other_real)
    assert tracker.floor == sw.sliced_wasserstein(real, other_real)
    untrained = np.zeros_like(real)
    distance, closed = tracker.score(untrained)
    assert tracker.ceiling == distance and closed == 0
    halfway = np.clip(other_real + np.random.default_rng(0).normal(0, 0.2, real.shape), -1, 1)
    distance, closed = tracker.score(halfway)
    assert tracker.floor < distance < tracker.ceiling and 0 < closed < 1
    assert closed == pytest.approx((tracker.ceiling - distance) / (tracker.ceiling - tracker.floor))


@pytest.mark.parametrize('distance,expected', [(5.0, 0.0), (3.0, 0.5), (1.0, 1.0), (7.0, -0.5), (0.0, 1.25)])
def test_gap_closed_known_answers(distance, expected):
    """Untrained at 5, real data at 1: 3 is halfway; worse than untrained is below 0, better than real above 1."""
    assert sw.gap_closed(distance, floor=1.0, ceiling=5.0) == pytest.approx(expected)
