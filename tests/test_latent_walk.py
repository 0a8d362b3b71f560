"""
Walks through z (facegan/inspect/latent_walk.py, numpy alone): slerp on known angles and at its edge cases
(parallel, opposite and zero z), the waypoints a walk passes through, and the loop from each to the next.
"""
import math

import numpy as np
import pytest
from hypothesis import given, strategies as st
from hypothesis.extra.numpy import arrays

from facegan.app import parsing
from facegan.inspect import latent_walk

_z = arrays(np.float64, 8, elements=st.floats(-1, 1))


@given(_z, _z, st.floats(0, 1))
def test_slerp_starts_and_ends_at_its_points_and_keeps_a_common_length(start, end, fraction):
    assert np.allclose(latent_walk.slerp(start, end, 0), start) and np.allclose(latent_walk.slerp(start, end, 1), end)
    lengths = np.linalg.norm(start), np.linalg.norm(end)
    if min(lengths) > 0.1:
        unit_start, unit_end = start / lengths[0], end / lengths[1]
        middle = latent_walk.slerp(unit_start, unit_end, fraction)
        if abs(np.dot(unit_start, unit_end)) < 0.999:  # an arc is defined: it stays on the unit sphere
            assert np.isclose(np.linalg.norm(middle), 1)


@pytest.mark.parametrize('fraction', [0.25, 0.5, 1 / 3, 0.9])
def test_slerp_turns_through_the_angle_in_proportion(fraction):
    """Between two unit z at right angles, the point a fraction of the way is at that fraction of 90 degrees."""
    angle = fraction * math.pi / 2
    np.testing.assert_allclose(latent_walk.slerp([1, 0, 0], [0, 1, 0], fraction),
                               [math.cos(angle), math.sin(angle), 0], atol=1e-12)


def test_slerp_of_z_of_other_lengths_scales_each_end():
    """Shoemake's formula: sin((1 - t) a) / sin(a) of start plus sin(t a) / sin(a) of end, a the angle between them."""
    start, end = np.array([2.0, 0.0]), np.array([3.0, 3.0])  # 45 degrees apart
    a = math.pi / 4
    expected = (math.sin(0.75 * a) * start + math.sin(0.25 * a) * end) / math.sin(a)
    np.testing.assert_allclose(latent_walk.slerp(start, end, 0.25), expected, atol=1e-12)


def test_slerp_keeps_the_length_of_training_z_where_a_straight_line_does_not():
    """
    Two z of 100 uniform in [-1, 1] (each about sqrt(100 / 3) long, nearly at right angles): the walk's midpoint is
    no shorter than the shorter of them, and the straight line's is shorter than both. No tolerance: halfway along
    the arc, at angle a between z of lengths r <= R, slerp is (start + end) / (2 cos(a / 2)), whose squared length
    less r squared is (R - r)(R + r + 2 r cos a) / (2 (1 + cos a)) >= (R - r)^2 / (2 (1 + cos a)) >= 0; the
    straight line's midpoint is cos(a / 2) times as long as slerp's
    """
    rng = np.random.RandomState(0)
    start, end = rng.uniform(-1, 1, (2, 100))
    shorter = min(np.linalg.norm(start), np.linalg.norm(end))
    middle = latent_walk.slerp(start, end, 0.5)
    assert shorter <= np.linalg.norm(middle)
    assert np.linalg.norm((start + end) / 2) < shorter
    angle = math.acos(np.dot(start, end) / (np.linalg.norm(start) * np.linalg.norm(end)))
    # Each element, |start + end| <= 2, holds a few roundings of 2 ** -53 and the angle's error: a cosine from dot
    # products of 100 terms is within 100 x 2 ** -53 = 1e-14 of its own, here and in slerp, which moves
    # 1 / (2 cos(a / 2)) near a right angle by less than that again: 1e-13 bounds the difference
    np.testing.assert_allclose(middle, (start + end) / (2 * math.cos(angle / 2)), rtol=0, atol=1e-13)


@pytest.mark.parametrize('start,end,fraction,expected', [
    ([0.1, 0.1, 0.3], [0.2, 0.2, 0.6], 0.5, [0.15, 0.15, 0.45]),  # the same way: the straight line
    ([0.1, 0.1, 0.3], [-0.1, -0.1, -0.3], 0.25, [0.05, 0.05, 0.15]),  # opposite ways: through the middle
    ([0.0, 0.0, 0.0], [1.0, 2.0, 3.0], 0.5, [0.5, 1.0, 1.5]),  # a zero z: no angle, the straight line
])
def test_where_the_arc_is_undefined_slerp_takes_the_straight_line(start, end, fraction, expected):
    """
    (0.1, 0.1, 0.3) is one whose cosine with itself comes out 1 + 2e-16 in floating point, and with its
    opposite -1 - 2e-16: outside arccos's domain, which the clip to [-1, 1] keeps it from
    """
    result = latent_walk.slerp(start, end, fraction)
    assert result.dtype == np.float64
    np.testing.assert_allclose(result, expected, atol=1e-12)


def test_slerp_of_nearly_parallel_z_is_the_straight_line_not_a_division_by_almost_zero():
    start = np.array([1.0, 0.0])
    end = np.array([1.0, 1e-8])  # sin of the angle between them: 1e-8, under the 1e-6 the arc needs
    np.testing.assert_allclose(latent_walk.slerp(start, end, 0.5), [1.0, 0.5e-8], rtol=0, atol=1e-15)


def test_waypoints_are_the_saved_z_then_uniform_ones_from_the_rng():
    saved = np.full((2, 5), 0.5)
    points = latent_walk.waypoints(saved, 4, 5, np.random.RandomState(1))
    assert points.dtype == np.float32 and points.shape == (4, 5)
    np.testing.assert_array_equal(points[:2], saved)
    np.testing.assert_array_equal(points[2:], np.random.RandomState(1).uniform(-1, 1, (2, 5)).astype(np.float32))


def test_without_saved_z_every_waypoint_is_random():
    points = latent_walk.waypoints(np.zeros((0, 4)), 3, 4, np.random.RandomState(2))
    np.testing.assert_array_equal(points, np.random.RandomState(2).uniform(-1, 1, (3, 4)).astype(np.float32))


def test_a_walk_loops_through_its_points_in_order_each_leg_slerped():
    points = latent_walk.waypoints(np.ones((1, 5)), 3, 5, np.random.RandomState(1))
    path = latent_walk.loop(points, steps=4)
    assert path.shape == (12, 5) and path.dtype == np.float32
    for leg in range(3):
        following = points[(leg + 1) % 3]  # the last leg goes back to the first point
        for step in range(4):
            np.testing.assert_allclose(path[leg * 4 + step], latent_walk.slerp(points[leg], following, step / 4),
                                       rtol=1e-6)


def test_a_walk_has_steps_frames_a_leg_as_the_command_line_says():
    """generate --walk's help promises 8 steps a leg: the default the walk takes."""
    points = np.eye(3)
    assert latent_walk.loop(points).shape == (3 * latent_walk.STEPS, 3)
    walk_help = next(action.help for action in parsing.build_generate_parser()._actions if '--walk' in action.option_strings)
    assert 'in {} steps'.format(latent_walk.STEPS) in walk_help


@pytest.mark.parametrize('float32_end', ['start', 'end'])
def test_slerp_works_in_float64_whatever_the_z_it_is_given(float32_end):
    """
    Saved z are float32: slerp works on their values in float64 (a float32 length is off by about 1e-8, which
    moves the point by as much), and gives float64
    """
    start, end = np.array([0.1, 0.2, 0.3], np.float32), np.array([0.3, -0.1, 0.5], np.float32)
    a, b = [float(v) for v in start], [float(v) for v in end]
    angle = math.acos(sum(x * y for x, y in zip(a, b)) / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b)))
    expected = [(math.sin(0.7 * angle) * x + math.sin(0.3 * angle) * y) / math.sin(angle) for x, y in zip(a, b)]
    given_start = start if float32_end == 'start' else start.astype(np.float64)
    given_end = end if float32_end == 'end' else end.astype(np.float64)
    result = latent_walk.slerp(given_start, given_end, 0.3)
    assert result.dtype == np.float64
    np.testing.assert_allclose(result, expected, rtol=0, atol=1e-15)
