"""loss_curve.png: TensorBoard's smoothing on known series, and the panels the curve draws."""
import csv

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from facegan import run_plots


def test_smoothing_a_known_series():
    """Debiased: the first value is kept; then (0.5 * 1 + 3) / 1.5; a NaN keeps the last average."""
    np.testing.assert_allclose(run_plots.smooth([1.0, 3.0, np.nan, 3.0], 0.5), [1.0, 7 / 3, 7 / 3, 2 + 5 / 7])
    np.testing.assert_array_equal(run_plots.smooth([4.0, 2.0, 8.0], 0.0), [4.0, 2.0, 8.0])  # weight 0: the series


@given(values=st.lists(st.floats(-1e3, 1e3), min_size=1, max_size=40), weight=st.floats(0, 0.99))
def test_smoothed_value_is_the_geometrically_weighted_mean_of_the_values_so_far(values, weight):
    """Each smoothed value is the mean of the values up to it, weighted weight**(its age): 1 for the newest."""
    smoothed = run_plots.smooth(values, weight)
    for i in range(len(values)):
        ages = np.arange(i, -1, -1)
        expected = np.average(values[:i + 1], weights=weight ** ages)  # 0 ** 0 == 1: weight 0 keeps the newest
        assert smoothed[i] == pytest.approx(expected, rel=1e-6, abs=1e-6)


@pytest.mark.parametrize('steps, weight', [(10, 0.0), (30, 0.0), (60, 0.5), (584, 1 - 30 / 584),
                                           (1200, 0.975), (100000, 0.99)])
def test_smoothing_weight_reaches_back_a_thirtieth_of_the_run(steps, weight):
    assert run_plots.smoothing_weight(steps) == pytest.approx(weight)


def _write_csv(path, header, rows):
    """Write rows as RunLog writes them: the step an integer, the values with 6 decimals."""
    with open(str(path), 'w', newline='') as f:
        csv.writer(f).writerows([header] + [[int(row[0])] + ['{:.6f}'.format(value) for value in row[1:]]
                                            for row in rows])


def _curve_height(folder):
    path = run_plots.loss_curve(str(folder))
    with Image.open(path) as image:
        assert image.size[0] > 500
        return image.size[1]


def test_loss_curve_draws_a_panel_for_each_record_the_run_has(tmp_path):
    """Losses alone (an older run), then with D(x) and D(G(z)), then with scores: each adds a panel."""
    rng = np.random.default_rng(0)
    steps = np.arange(1, 201)
    losses = np.column_stack([steps, rng.uniform(0, 2, 200), rng.uniform(0, 20, 200)])
    _write_csv(tmp_path / 'losses.csv', ['step', 'd_loss', 'g_loss'], losses.tolist())
    assert run_plots.loss_curve(str(tmp_path / 'nothing')) is None
    heights = [_curve_height(tmp_path)]
    with_d = np.column_stack([losses, rng.uniform(0, 1, (200, 2))])
    _write_csv(tmp_path / 'losses.csv', ['step', 'd_loss', 'g_loss', 'd_real', 'd_fake'], with_d.tolist())
    heights.append(_curve_height(tmp_path))
    _write_csv(tmp_path / 'swd.csv', ['step', 'swd', 'swd_real_vs_real', 'swd_untrained', 'gap_closed'],
               [[step, 10 - step / 50, 1, 10, step / 200] for step in (0, 100, 200)])
    heights.append(_curve_height(tmp_path))
    assert heights[0] < heights[1] < heights[2]
