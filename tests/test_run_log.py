"""
What a run records (facegan/output/run_log.py, CSV files, no TensorFlow): losses.csv and swd.csv written a row at
a time, read back as far as they are whole (older rows padded with what they meant: swd.csv's weights 'raw'),
cut back to a resumed step; the sample grids. Then the pictures drawn from them (facegan/output/run_plots.py):
TensorBoard's smoothing and the loss curve's panels.
"""
import csv
import io
import os

import numpy as np
import pytest
from hypothesis import given, strategies as st
from PIL import Image

from facegan.output import run_log, run_plots
from facegan.output.run_log import LOSS_COLUMNS, SWD_COLUMNS, RunLog
from test_checkpoint_files import flags_named

LOSS_HEADER = b'step,d_loss,g_loss,d_real,d_fake\r\n'
SWD_HEADER = b'step,swd,swd_real_vs_real,swd_untrained,gap_closed,weights\r\n'


def _rows(path, columns):
    """:return: read_rows as plain lists: a list of fields a row (floats, and the weights as a str)"""
    return [list(row) for row in run_log.read_rows(str(path), columns).tolist()]


# --- writing --------------------------------------------------------------------------------------

def test_rows_are_appended_under_one_header_six_decimals_a_value(tmp_path):
    path = str(tmp_path / 'losses.csv')
    run_log.append_row(path, LOSS_COLUMNS, 1, {'d_loss': 1.25, 'g_loss': 0.5, 'd_real': 0.9, 'd_fake': 0.1})
    run_log.append_row(path, LOSS_COLUMNS, 2, {'d_loss': 1 / 3, 'g_loss': -2.0})  # D's outputs not known
    assert (tmp_path / 'losses.csv').read_bytes() == (LOSS_HEADER + b'1,1.250000,0.500000,0.900000,0.100000\r\n'
                                                      b'2,0.333333,-2.000000,nan,nan\r\n')


def test_an_empty_file_gets_its_header(tmp_path):
    (tmp_path / 'swd.csv').write_bytes(b'')
    run_log.append_row(str(tmp_path / 'swd.csv'), SWD_COLUMNS, 0, {'swd': 2.0, 'swd_real_vs_real': 1.0,
                                                                   'swd_untrained': 2.0, 'gap_closed': 0.0,
                                                                   'weights': 'averaged'})
    assert (tmp_path / 'swd.csv').read_bytes() == SWD_HEADER + b'0,2.000000,1.000000,2.000000,0.000000,averaged\r\n'


def test_the_run_log_writes_each_record_in_its_file(tmp_path):
    log = RunLog(str(tmp_path / 'new' / 'run'), 'RGB')
    log.losses(3, 0.7, 1.4, d_real=0.8, d_fake=0.3)
    log.losses(4, 0.6, 1.5)
    log.swd(4, 3.5, 1.0, 6.0, 0.5, 'raw')
    np.testing.assert_array_equal(np.array(_rows(log.losses_path, LOSS_COLUMNS), float),
                                  [[3, 0.7, 1.4, 0.8, 0.3], [4, 0.6, 1.5, np.nan, np.nan]])
    assert log.losses_path == str(tmp_path / 'new' / 'run' / 'losses.csv')
    assert log.swd_path == str(tmp_path / 'new' / 'run' / 'swd.csv')
    assert _rows(log.swd_path, SWD_COLUMNS) == [[4, 3.5, 1.0, 6.0, 0.5, 'raw']]


@given(values=st.lists(st.tuples(st.floats(-1e6, 1e6), st.floats(-1e6, 1e6), st.one_of(st.just(np.nan),
                                                                                         st.floats(0, 1))),
                       min_size=1, max_size=20))
def test_any_losses_read_back_to_six_decimals(tmp_path_factory, values):
    log = RunLog(str(tmp_path_factory.mktemp('run')), 'L')
    for step, (d_loss, g_loss, d_real) in enumerate(values):
        log.losses(step, d_loss, g_loss, d_real=d_real, d_fake=d_real)
    rows = run_log.read_rows(log.losses_path, LOSS_COLUMNS)
    assert rows['step'].tolist() == list(range(len(values)))
    np.testing.assert_allclose(np.column_stack([rows['d_loss'], rows['g_loss'], rows['d_real']]),
                               np.array(values), rtol=0, atol=5e-7)


# --- reading --------------------------------------------------------------------------------------

def test_a_missing_file_has_no_rows_but_its_columns(tmp_path):
    rows = run_log.read_rows(str(tmp_path / 'swd.csv'), SWD_COLUMNS)
    assert len(rows) == 0 and rows.dtype.names == SWD_COLUMNS
    assert rows.dtype['weights'].kind == 'U' and rows.dtype['swd'] == np.float64


def test_rows_cut_short_or_damaged_are_left_out_and_the_others_read(tmp_path):
    (tmp_path / 'losses.csv').write_bytes(
        LOSS_HEADER +
        b'1,0.500000,1.000000,0.900000,0.100000\r\n'   # whole
        b'2,0.500000,1.000000,0.900000\r\n'            # D(G(z)) missing: read as not known
        b'3,0.500000,1.000000,0.900000,0.100000,9\r\n'  # a field too many
        b'4,5e-01,1.000000,0.900000,0.100000\r\n'      # not as append_row writes numbers
        b'5,0.500000,x.000000,0.900000,0.100000\r\n'   # a damaged digit
        b'6.0,0.500000,1.000000,0.900000,0.100000\r\n'  # a step that is not whole
        b'-7,0.500000,1.000000,0.900000,0.100000\r\n'  # a negative step
        b'8,0.500000,1.000000,0.900000,0.1\xff0000\r\n'  # a byte that is not ASCII
        b'\xd9\xa3,0.500000,1.000000,0.900000,0.100000\r\n'  # the step in Arabic-Indic digits: UTF-8, not ASCII
        b'3,0.500000,1.000000,0.900000,0.100000 \r\n'  # a space after the last field
        b'3,0.500000,1.000000,0.900000,0.100000X\r\n'  # a damaged line end
        b'9,-0.500000,inf,-inf,nan\n'                  # whole, a line break without \r
        b'10,0.500000,1.000000,0.900000,0.10')         # cut short by a crash: no line break
    assert [row[0] for row in _rows(tmp_path / 'losses.csv', LOSS_COLUMNS)] == [1, 2, 9]
    _, two, nine = _rows(tmp_path / 'losses.csv', LOSS_COLUMNS)
    assert two[:4] == [2, 0.5, 1.0, 0.9] and np.isnan(two[4])
    assert nine[:4] == [9, -0.5, np.inf, -np.inf] and np.isnan(nine[4])


def test_older_rows_read_with_what_their_missing_columns_meant(tmp_path):
    """losses.csv's rows before D's outputs were recorded; swd.csv's before the weights were: all of the raw weights."""
    (tmp_path / 'losses.csv').write_bytes(b'step,d_loss,g_loss\r\n1,0.500000,1.000000\r\n'
                                          b'2,0.500000\r\n')  # shorter than any version wrote: damaged
    (tmp_path / 'swd.csv').write_bytes(b'step,swd,swd_real_vs_real,swd_untrained,gap_closed\r\n'
                                       b'0,6.000000,1.000000,6.000000,0.000000\r\n' +
                                       b'2,4.000000,1.000000,6.000000,0.400000,averaged\r\n'
                                       b'4,3.000000,1.000000,6.000000,0.600000,raw\r\n'
                                       b'6,3.000000,1.000000,6.000000,0.600000,average\r\n'  # damaged word
                                       b'8,3.000000,1.000000,6.000000,0.600000,\r\n')  # cut word
    losses = _rows(tmp_path / 'losses.csv', LOSS_COLUMNS)
    assert len(losses) == 1 and losses[0][:3] == [1, 0.5, 1.0] and np.isnan(losses[0][3:]).all()
    assert _rows(tmp_path / 'swd.csv', SWD_COLUMNS) == [[0, 6.0, 1.0, 6.0, 0.0, 'raw'],
                                                        [2, 4.0, 1.0, 6.0, 0.4, 'averaged'],
                                                        [4, 3.0, 1.0, 6.0, 0.6, 'raw']]


def test_the_scores_first_untrained_value_and_last_weights(tmp_path):
    log = RunLog(str(tmp_path), 'RGB')
    assert log.untrained_swd() is None and log.scored_weights() is None
    (tmp_path / 'swd.csv').write_bytes(b'step,swd,swd_real_vs_real,swd_untrained,gap_closed\r\n'
                                       b'0,6.500000,1.000000,6.500000,0.000000\r\n')  # an older run's row
    assert log.untrained_swd() == 6.5 and log.scored_weights() == 'raw'
    log.swd(2, 4.0, 1.0, 6.5, 0.45, 'averaged')
    assert log.untrained_swd() == 6.5 and log.scored_weights() == 'averaged'
    assert isinstance(log.untrained_swd(), float) and type(log.scored_weights()) is str


# --- cutting back to a resumed step -----------------------------------------------------------------

def test_resuming_keeps_the_whole_rows_up_to_the_step_saying_so(tmp_path, capsys):
    path = tmp_path / 'losses.csv'
    path.write_bytes(LOSS_HEADER + b''.join(b'%d,0.500000,1.000000,nan,nan\r\n' % step for step in range(1, 6)) +
                     b'3,0.500000,x\r\n' + b'6,0.5000')
    assert run_log.keep_rows_up_to(str(path), LOSS_COLUMNS, 3) is True
    assert path.read_bytes() == LOSS_HEADER + b''.join(b'%d,0.500000,1.000000,nan,nan\r\n' % step for step in (1, 2, 3))
    assert capsys.readouterr().err == (
        'note: {} held rows cut short, damaged or after step 3, where the run resumes, or an older header: kept its '
        '3 whole row(s) up to that step\n'.format(path))
    assert os.listdir(str(tmp_path)) == ['losses.csv']  # rewritten under a temporary name


def test_a_file_already_as_it_should_be_is_left_alone(tmp_path, capsys):
    path = tmp_path / 'losses.csv'
    path.write_bytes(LOSS_HEADER + b'1,0.500000,1.000000,nan,nan\r\n')
    inode = os.stat(str(path)).st_ino
    assert run_log.keep_rows_up_to(str(path), LOSS_COLUMNS, 1) is False
    assert run_log.keep_rows_up_to(str(tmp_path / 'missing.csv'), LOSS_COLUMNS, 1) is False
    assert os.stat(str(path)).st_ino == inode and capsys.readouterr().err == ''
    assert os.listdir(str(tmp_path)) == ['losses.csv']


def test_an_older_header_is_brought_up_to_date_on_resume(tmp_path, capsys):
    path = tmp_path / 'swd.csv'
    path.write_bytes(b'step,swd,swd_real_vs_real,swd_untrained,gap_closed\r\n0,6.000000,1.000000,6.000000,0.000000\r\n')
    assert run_log.keep_rows_up_to(str(path), SWD_COLUMNS, 10) is True
    assert path.read_bytes() == SWD_HEADER + b'0,6.000000,1.000000,6.000000,0.000000,raw\r\n'
    assert 'kept its 1 whole row(s) up to that step' in capsys.readouterr().err


def test_a_file_with_a_line_break_in_its_name_is_named_in_one_line(tmp_path, capsys):
    path = tmp_path / 'a\nb.csv'
    path.write_bytes(LOSS_HEADER + b'5,0.500000,1.000000,nan,nan\r\n')
    run_log.keep_rows_up_to(str(path), LOSS_COLUMNS, 1)
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and 'a\\nb.csv held rows' in err and path.read_bytes() == LOSS_HEADER


def test_the_run_log_resumes_both_files(tmp_path, capsys):
    log = RunLog(str(tmp_path), 'RGB')
    for step in range(1, 5):
        log.losses(step, 0.5, 1.0)
        log.swd(step, 4.0, 1.0, 6.0, 0.4, 'averaged')
    log.resume_at(2)
    assert [row[0] for row in _rows(log.losses_path, LOSS_COLUMNS)] == [1, 2]
    assert [row[0] for row in _rows(log.swd_path, SWD_COLUMNS)] == [1, 2]
    assert capsys.readouterr().err.count('note:') == 2


# --- the grids ------------------------------------------------------------------------------------

@pytest.mark.parametrize('mode,channels', [('RGB', 3), ('L', 1)])
def test_a_grid_is_saved_by_its_step_or_its_name(tmp_path, mode, channels):
    log = RunLog(str(tmp_path), mode)
    images = np.random.default_rng(0).uniform(-1, 1, (9, 28, 28, channels))
    path, grid = log.grid(5, images)
    assert path == str(tmp_path / 'samples_step_00005.png')
    with Image.open(path) as saved:
        assert saved.mode == mode and saved.size == grid.size == (3 * 28 * 4, 3 * 28 * 4)
        np.testing.assert_array_equal(np.asarray(saved), np.asarray(grid))
    path, _ = log.grid(7, images, name='samples_final.png')
    assert path == str(tmp_path / 'samples_final.png') and os.path.exists(path)


def test_messages_name_no_command_line_flag():
    assert flags_named(run_log) == [] and flags_named(run_plots) == []


# --- run_plots: TensorBoard's smoothing and the loss curve ---------------------------------------------

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
    """1 - 1 / (steps / 30): a span of one value or less is drawn unsmoothed, and the weight stops at 0.99."""
    assert run_plots.smoothing_weight(steps) == pytest.approx(weight)


def _write_csv(path, header, rows):
    """Write rows as RunLog writes them: the step an integer, the values with 6 decimals."""
    with open(str(path), 'w', newline='') as f:
        csv.writer(f).writerows([header] + [[int(row[0])] + ['{:.6f}'.format(value) for value in row[1:]]
                                            for row in rows])


def _drawn(folder, monkeypatch):
    """
    Draw folder's loss curve, keeping the matplotlib figure it saves (its savefig watched, then run as it is)
    :return: (the PNG's height, the figure's panels from the top)
    """
    figures = []
    real_savefig = run_plots.Figure.savefig

    def keeping(figure, *args, **kwargs):
        figures.append(figure)
        return real_savefig(figure, *args, **kwargs)

    monkeypatch.setattr(run_plots.Figure, 'savefig', keeping)
    path = run_plots.loss_curve(str(folder))
    assert path == str(folder / 'loss_curve.png') and len(figures) == 1
    with Image.open(path) as image:
        assert image.size[0] > 500
        return image.size[1], figures[0].axes


def _smoothed(values, weight):
    """TensorBoard's smoothing as its definition says: each value the mean of those so far, weighted weight ** age"""
    return np.array([np.average(values[:i + 1], weights=weight ** np.arange(i, -1, -1)) for i in range(len(values))])


def _check_series(lines, steps, values, label, weight):
    """
    Assert lines (two Line2D) draw values over steps faint and unlabelled, then their smoothing, labelled label.
    The smoothing is a recursive sum of 200 values in float64 against np.average's direct one: each is within
    200 * 2 ** -53 = 2e-14 of the exact mean, relative (the values are positive), so rtol 1e-13 holds both
    """
    faint, smoothed = lines
    np.testing.assert_array_equal(faint.get_xdata(), steps)
    np.testing.assert_array_equal(faint.get_ydata(), values)
    assert faint.get_label().startswith('_') and faint.get_alpha() < 1 and smoothed.get_alpha() in (None, 1)
    np.testing.assert_array_equal(smoothed.get_xdata(), steps)
    np.testing.assert_allclose(smoothed.get_ydata(), _smoothed(values, weight), rtol=1e-13)
    assert smoothed.get_label() == label and faint.get_color() == smoothed.get_color()


def _check_horizontal(line, value, label=None):
    """Assert line is a horizontal line across the panel at value (axhline: x from 0 to 1 in the panel's width)"""
    assert list(line.get_ydata()) == [value, value] and list(line.get_xdata()) == [0, 1]
    assert label is None or line.get_label() == label


def test_loss_curve_draws_each_record_the_run_has_in_a_panel_of_its_own(tmp_path, monkeypatch):
    """
    Losses alone (an older run), then with D(x) and D(G(z)), then with scores: each adds a panel, and each panel
    draws its own columns, as the CSV keeps them: each step's value faint and the smoothing over it; D's outputs
    between 0 and 1 around 0.5; the scores and the real-vs-real floor, with a tick on the losses at each score
    """
    rng = np.random.default_rng(0)
    steps = np.arange(1, 201)
    columns = {'d_loss': rng.uniform(0, 2, 200), 'g_loss': rng.uniform(0, 20, 200), 'd_real': rng.uniform(0, 1, 200),
               'd_fake': rng.uniform(0, 1, 200)}
    kept = {name: np.array([float('{:.6f}'.format(value)) for value in values]) for name, values in columns.items()}
    weight = 1 - 30 / 200  # the smoothing reaches back a thirtieth of the run's 200 steps
    assert run_plots.loss_curve(str(tmp_path / 'nothing')) is None
    _write_csv(tmp_path / 'losses.csv', ['step', 'd_loss', 'g_loss'],
               np.column_stack([steps, columns['d_loss'], columns['g_loss']]).tolist())
    height, (losses,) = _drawn(tmp_path, monkeypatch)
    heights = [height]
    assert losses.get_ylabel() == 'loss' and losses.get_title() == 'faint: each step; solid: smoothed (weight 0.85)'
    _check_series(losses.get_lines()[:2], steps, kept['d_loss'], 'Discriminator', weight)
    _check_series(losses.get_lines()[2:], steps, kept['g_loss'], 'Generator', weight)
    assert len(losses.get_lines()) == 4 and len(losses.collections) == 0  # no scores: no ticks

    _write_csv(tmp_path / 'losses.csv', LOSS_COLUMNS, np.column_stack([steps] + [columns[name] for name in
                                                                             LOSS_COLUMNS[1:]]).tolist())
    height, (losses, d_view) = _drawn(tmp_path, monkeypatch)
    heights.append(height)
    assert [losses.get_ylabel(), d_view.get_ylabel()] == ['loss', "discriminator's output"]
    _check_series(d_view.get_lines()[:2], steps, kept['d_real'], 'D(x): real images', weight)
    _check_series(d_view.get_lines()[2:4], steps, kept['d_fake'], 'D(G(z)): generated images', weight)
    _check_horizontal(d_view.get_lines()[4], 0.5)
    assert len(d_view.get_lines()) == 5 and d_view.get_ylim() == (0, 1)

    _write_csv(tmp_path / 'swd.csv', ['step', 'swd', 'swd_real_vs_real', 'swd_untrained', 'gap_closed'],
               [[step, 10 - step / 50, 1.5, 10, step / 170] for step in (0, 100, 200)])
    height, (losses, d_view, scores) = _drawn(tmp_path, monkeypatch)
    heights.append(height)
    assert scores.get_ylabel() == 'sliced Wasserstein distance' and scores.get_xlabel() == 'step'
    (ticks,) = losses.collections
    assert [segment[:, 0].tolist() for segment in ticks.get_segments()] == [[0, 0], [100, 100], [200, 200]]
    assert ticks.get_label() == 'samples scored (swd.csv)'
    line, floor = scores.get_lines()
    assert line.get_label() == 'generated vs held-out real'
    assert line.get_xdata().tolist() == [0, 100, 200] and line.get_ydata().tolist() == [10, 8, 6]
    _check_horizontal(floor, 1.5, 'real vs real')
    assert heights[0] < heights[1] < heights[2]  # each panel makes the picture taller


def test_the_loss_curve_is_cropped_as_savefigs_tight_box_crops_it(tmp_path, monkeypatch):
    """loss_curve measures the tight box once instead of letting savefig draw the figure to measure it: the PNG is the
    one bbox_inches='tight' saves, pixel for pixel"""
    rng = np.random.default_rng(0)
    _write_csv(tmp_path / 'losses.csv', LOSS_COLUMNS, np.column_stack(
        [np.arange(1, 101)] + [rng.uniform(0, 2000, 100) for _ in LOSS_COLUMNS[1:]]).tolist())
    (tmp_path / 'swd.csv').write_bytes(SWD_HEADER + b'0,10.0,1.5,10.0,0.0,raw\r\n100,7.0,1.5,10.0,0.35,raw\r\n')
    figure = _drawn(tmp_path, monkeypatch)[1][0].figure
    tight = io.BytesIO()
    figure.savefig(tight, format='png', dpi=100, bbox_inches='tight')
    with Image.open(str(tmp_path / 'loss_curve.png')) as saved, Image.open(tight) as expected:
        np.testing.assert_array_equal(np.asarray(saved), np.asarray(expected))


def test_the_scores_of_both_generators_are_drawn_apart(tmp_path, monkeypatch):
    """A run with an averaged generator scores it and the raw one: a line each, by the weights column"""
    _write_csv(tmp_path / 'losses.csv', ['step', 'd_loss', 'g_loss'], [[step, 1, 2] for step in range(1, 201)])
    (tmp_path / 'swd.csv').write_bytes(SWD_HEADER + b'0,10.0,1.5,10.0,0.0,raw\r\n100,7.0,1.5,10.0,0.35,averaged\r\n'
                                       b'100,8.0,1.5,10.0,0.24,raw\r\n200,5.0,1.5,10.0,0.59,averaged\r\n')
    scores = _drawn(tmp_path, monkeypatch)[1][-1]
    averaged, raw, floor = scores.get_lines()
    assert averaged.get_label() == 'generated (averaged weights) vs held-out real'
    assert averaged.get_xdata().tolist() == [100, 200] and averaged.get_ydata().tolist() == [7, 5]
    assert raw.get_label() == 'generated (raw weights) vs held-out real'
    assert raw.get_xdata().tolist() == [0, 100] and raw.get_ydata().tolist() == [10, 8]
    _check_horizontal(floor, 1.5, 'real vs real')
