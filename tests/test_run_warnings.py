"""
The failure warnings (facegan/train/run_warnings.py, numpy alone): each detection function on known series, and the
watcher's once-per-kind lines. (A deliberately broken run that warns from the command line trains a model: it is
one of the slow tests, not here.)
"""
import math
import os
import re

import numpy as np
import pytest
from hypothesis import given, strategies as st
from PIL import Image

import helper
from facegan.output import pictures
from facegan.train import run_warnings as rw
from tools import readme_images

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FLOOR = -(0.9 * math.log(0.9) + 0.1 * math.log(0.1))  # the entropy of the 0.9 label: 0.325


# --- D wins ---------------------------------------------------------------------------------------

def test_d_loss_floor_is_the_smoothed_labels_entropy():
    assert rw.d_loss_floor(0.9) == pytest.approx(FLOOR, rel=1e-12) and rw.d_loss_floor() == rw.d_loss_floor(0.9)
    assert rw.d_loss_floor(0.5) == pytest.approx(math.log(2), rel=1e-12)
    assert rw.d_loss_floor(1.0) == 0 and rw.d_loss_floor(0.0) == 0


@given(st.floats(0.5, 1.0), st.floats(-20, 20))
def test_no_discriminator_output_goes_below_the_floor(label, logit):
    probability = 1 / (1 + math.exp(-logit))
    cross_entropy = -sum(p * math.log(q) for p, q in ((label, probability), (1 - label, 1 - probability)) if p > 0)
    assert cross_entropy >= rw.d_loss_floor(label) - 1e-9


def test_d_wins_after_enough_steps_at_the_floor_in_a_row():
    at_floor = [FLOOR + 0.01] * rw.D_WINS_STEPS
    assert rw.d_wins([1.2] * 50 + at_floor)
    assert not rw.d_wins(at_floor[1:])  # one step short
    assert not rw.d_wins(at_floor[:50] + [0.9] + at_floor[:50])  # broken by one step of a fight
    assert not rw.d_wins([FLOOR + rw.D_WINS_MARGIN + 0.01] * 200)  # near, not at, the floor
    assert rw.d_wins([FLOOR + rw.D_WINS_MARGIN - 1e-9] * rw.D_WINS_STEPS)
    assert not rw.d_wins([FLOOR + rw.D_WINS_MARGIN] * rw.D_WINS_STEPS)  # the margin itself is outside


def test_d_wins_takes_its_floor_margin_and_steps_as_given():
    assert rw.d_wins([0.11] * 5, floor=0.1, margin=0.02, steps=5)
    assert not rw.d_wins([0.13] * 5, floor=0.1, margin=0.02, steps=5)
    assert not rw.d_wins([0.11] * 4, floor=0.1, margin=0.02, steps=5)
    assert rw.d_wins(iter([0.5] * 3 + [0.11] * 5), floor=0.1, margin=0.02, steps=5)  # any iterable, oldest first
    assert rw.d_wins([1.0] * 4, [3.0] * 4, steps=4, g_loss=2.0) and not rw.d_wins([1.0] * 4, [3.0] * 4, steps=4)


def test_d_wins_when_the_generators_median_loss_stays_above_its_line():
    high, low = [rw.D_WINS_G_LOSS + 1] * rw.D_WINS_STEPS, [rw.D_WINS_G_LOSS - 1] * rw.D_WINS_STEPS
    fighting = [1.2] * rw.D_WINS_STEPS  # D's loss nowhere near its floor: D(x) overshoots the 0.9 label
    assert rw.d_wins(fighting, high)
    assert not rw.d_wins(fighting, high[1:])  # one step short
    assert not rw.d_wins(fighting, low)
    assert not rw.d_wins(fighting, [rw.D_WINS_G_LOSS] * rw.D_WINS_STEPS)  # at the line: not above it
    assert not rw.d_wins(fighting, high[:rw.D_WINS_STEPS // 2 - 1] + low[:rw.D_WINS_STEPS // 2 + 1])  # median low
    assert rw.d_wins(fighting, low[:rw.D_WINS_STEPS // 2 - 1] + high[:rw.D_WINS_STEPS // 2 + 1])  # median high
    assert rw.d_wins(fighting, low[:10] + high)  # the last D_WINS_STEPS count


# --- Mode collapse --------------------------------------------------------------------------------

def test_diversity_is_the_mean_rms_distance_between_two_images():
    images = np.array([np.zeros((2, 2, 1)), np.ones((2, 2, 1)), np.full((2, 2, 1), 3.0)])
    assert rw.diversity(images) == pytest.approx((1 + 3 + 2) / 3)
    assert rw.diversity(np.repeat(images[:1], 5, axis=0)) == 0
    assert rw.diversity(np.array([[0.0, 0.0], [3.0, 4.0]])) == pytest.approx(math.sqrt(12.5))  # (n, features)


@given(st.integers(2, 12), st.integers(0, 2 ** 16))
def test_diversity_matches_a_plain_loop_and_ignores_image_size(count, seed):
    images = np.random.default_rng(seed).uniform(-1, 1, (count, 4, 4, 3))
    pairs = [np.sqrt(np.mean((a - b) ** 2)) for i, a in enumerate(images) for b in images[i + 1:]]
    assert rw.diversity(images) == pytest.approx(np.mean(pairs), rel=1e-9, abs=1e-12)
    tiled = np.tile(images, (1, 2, 2, 1))  # four copies of each image, side by side: same RMS distances
    assert rw.diversity(tiled) == pytest.approx(rw.diversity(images), rel=1e-9, abs=1e-12)


def test_one_face_with_small_variations_falls_below_the_threshold_and_varied_faces_do_not():
    rng = np.random.default_rng(0)
    real = rng.uniform(-1, 1, (64, 28, 28, 3))
    one_face = np.clip(real[:1] + rng.normal(0, 0.1, real.shape), -1, 1)  # a collapsed batch: one face, jittered
    assert rw.diversity(one_face) / rw.diversity(real) < rw.COLLAPSE_RATIO
    assert rw.diversity(real[32:]) / rw.diversity(real[:32]) > rw.RECOVERED_RATIO


def _history(ratios, every=100):
    return [(every * (i + 1), ratio) for i, ratio in enumerate(ratios)]


def test_collapse_is_warned_when_it_lasts():
    assert rw.collapse_verdict(_history([0.9, 0.2, 0.2, 0.2]), warned=False) == 'collapsed'
    assert rw.collapse_verdict(_history([0.2, 0.2, 0.2]), warned=False) == 'collapsed'
    assert rw.collapse_verdict(_history([0.2, 0.2]), warned=False) is None  # 100 steps: not yet
    assert rw.collapse_verdict(_history([0.2, 0.2, 0.9, 0.2, 0.2]), warned=False) is None  # the run restarted
    assert rw.collapse_verdict(_history([0.2] * 11, every=20), warned=False) == 'collapsed'  # steps, not grids
    assert rw.collapse_verdict(_history([0.2] * 10, every=20), warned=False) is None  # 180 steps
    assert rw.collapse_verdict([], warned=False) is None
    assert rw.collapse_verdict(_history([0.9, 0.9, 0.9]), warned=False) is None


def test_the_collapse_ratio_itself_is_not_collapsed():
    assert rw.collapsed_since(_history([0.2, rw.COLLAPSE_RATIO, 0.2, 0.3])) == 300
    assert rw.collapsed_since(_history([0.2, rw.COLLAPSE_RATIO])) is None
    assert rw.collapsed_since([]) is None
    assert rw.collapsed_since(_history([0.3, 0.3]), collapse_ratio=0.25) is None
    assert rw.collapse_verdict(_history([0.3] * 3), warned=False, collapse_ratio=0.25) is None
    assert rw.collapse_verdict(_history([0.3] * 3), warned=False, collapse_steps=300) is None
    assert rw.collapse_verdict(_history([0.3] * 4), warned=False, collapse_steps=300) == 'collapsed'


def test_a_warned_collapse_that_recovers_says_so_once_past_the_recovery_ratio():
    assert rw.collapse_verdict(_history([0.2, 0.2, 0.2, rw.COLLAPSE_RATIO + 0.01]), warned=True) is None
    assert rw.collapse_verdict(_history([0.2, 0.2, 0.2, rw.RECOVERED_RATIO]), warned=True) == 'recovered'
    assert rw.collapse_verdict(_history([0.2, 0.6]), warned=True, recovered_ratio=0.7) is None


def _progress_grids():
    """
    :return: The fixed-z samples of the default run at steps 100, 200, ... 500 and at the end (584),
             as README's picture docs/default_run_progress.png shows them (half-size grids of 5x5
             faces, 8 pixels apart), back in [-1, 1]: (6, 25, 28, 28, 3)
    """
    strip = np.asarray(Image.open(os.path.join(ROOT, 'docs', 'default_run_progress.png')).convert('RGB'))
    panel = 28 * 5 * pictures.GRID_SCALE // 2
    grids = []
    for left in range(0, strip.shape[1], panel + readme_images.GAP):
        grid = strip[:, left:left + panel][::2, ::2] / 127.5 - 1  # 2x enlarged in the picture
        grids.append(grid.reshape(5, 28, 5, 28, 3).swapaxes(1, 2).reshape(25, 28, 28, 3))
    return np.array(grids)


def test_the_default_runs_early_collapse_that_recovers_is_not_warned(tmp_path):
    """
    The default run's grid at step 100 is collapsed (one blob), and the run recovers by itself by step 200:
    a learner is told nothing (a collapse is warned when it lasts COLLAPSE_STEPS).
    """
    folder = helper.make_synthetic_faces(str(tmp_path), 64, seed=0)
    real = helper.Dataset('synthetic', helper.list_image_files(folder), seed=0).images(range(64)) / 127.5 - 1
    lines = []
    watcher = rw.RunWatcher(real_images=real, write=lines.append)
    ratios = []
    for step, grid in zip([100, 200, 300, 400, 500, 584], _progress_grids()):
        watcher.samples(step, grid)
        ratios.append(watcher.history[-1][1])
    assert ratios[0] < rw.COLLAPSE_RATIO < rw.RECOVERED_RATIO < min(ratios[1:])
    assert lines == []


# --- Stalled scores while the losses swing ------------------------------------------------------------

def test_stalled_when_no_score_of_the_last_few_beats_the_best_before_and_the_loss_swings():
    swinging = [0.5, 6.0] * 50
    scores = [5.0, 3.0, 2.0] + [2.1, 2.5, 2.2, 2.4, 2.3]
    assert rw.stalled(scores, swinging)
    assert rw.stalled(scores[:-1] + [2.0], swinging)  # equal to the best: no better
    assert not rw.stalled(scores[:-1] + [1.9], swinging)  # the last score is a new best
    assert not rw.stalled(scores, [2.0, 2.2] * 50)  # steady losses: a plateau, not a swing
    assert not rw.stalled(scores[-rw.STALL_SCORES:], swinging)  # nothing before to compare with
    assert rw.stalled(scores[-rw.STALL_SCORES - 1:], swinging)  # one before is enough
    assert not rw.stalled(scores, [6.0])  # a single loss does not swing
    assert rw.stalled(iter(scores), (0.5, 6.0))  # any iterable; two losses can


def test_the_last_scores_are_compared_whatever_their_number():
    """Six scores, five in a row: the second, 1, beat the first, so the last five did improve."""
    swinging = [0.5, 6.0] * 10
    assert not rw.stalled([2.0, 1.0, 3.0, 3.0, 3.0, 3.0], swinging)
    assert rw.stalled([1.0, 2.0, 3.0, 3.0, 3.0, 3.0], swinging)


def test_a_swing_is_the_losses_spread_over_their_mean():
    assert rw.stalled([1.0, 2.0], [0.1, 0.9], scores_in_a_row=1, swing=0.5)  # std 0.4 / mean 0.5: small losses too
    scores = [1.0, 2.0]
    assert rw.stalled(scores, [1.0, 3.0], scores_in_a_row=1, swing=0.49)  # std 1 / mean 2
    assert not rw.stalled(scores, [1.0, 3.0], scores_in_a_row=1, swing=0.5)
    assert not rw.stalled(scores, [-1.0, -3.0], scores_in_a_row=1, swing=0.1)  # a mean at or below 0: no ratio
    assert not rw.stalled(scores, [-1.0, 1.0], scores_in_a_row=1, swing=0.1)
    assert not rw.stalled([2.0, 1.0], [1.0, 3.0], scores_in_a_row=1, swing=0.1)  # improved


# --- The watcher --------------------------------------------------------------------------------------

def test_the_watcher_warns_once_per_kind_with_the_step_a_hint_and_the_docs_page():
    lines = []
    watcher = rw.RunWatcher(real_images=np.random.default_rng(0).uniform(-1, 1, (16, 4, 4, 3)), write=lines.append)
    for step in range(1, 3 * rw.D_WINS_STEPS):
        watcher.losses(step, rw.d_loss_floor() + 0.001, 0.5)
    for step in range(100, 1000, 100):
        watcher.samples(step, np.zeros((9, 4, 4, 3)))
    assert lines == [
        'warning at step 100: the discriminator wins: for 100 steps it has called the generated images fake with near '
        "certainty (its loss at its floor, 0.325, or the generator's above 6), so the generator learns almost nothing. "
        'Try a lower --learning-rate, --beta1 0.5, or a smaller discriminator (see '
        'docs/reading_a_gan_run.md#the-discriminator-wins)',
        "warning at step 300: mode collapse: the samples are alike (their diversity is 0% of the real images') since "
        'step 100. Try --beta1 0.5 and a lower --learning-rate (see docs/reading_a_gan_run.md#mode-collapse)']


def test_the_watcher_warns_when_the_generators_loss_stays_high():
    lines = []
    watcher = rw.RunWatcher(write=lines.append)
    for step in range(1, rw.D_WINS_STEPS + 1):
        watcher.losses(step, 1.2, rw.D_WINS_G_LOSS + 2)
    assert len(lines) == 1 and lines[0].startswith('warning at step 100: the discriminator wins')
    for step in range(rw.D_WINS_STEPS + 1, rw.D_WINS_STEPS + 300):  # only the last 100 steps count: still
        watcher.losses(step, 1.2, rw.D_WINS_G_LOSS + 2)
    assert len(lines) == 1


def test_the_watcher_looks_at_the_last_steps_alone():
    lines = []
    watcher = rw.RunWatcher(write=lines.append)
    for step in range(1, 150):
        watcher.losses(step, 1.2 if step < 50 else rw.d_loss_floor(), 1.0)
    assert [line.split(':')[0] for line in lines] == ['warning at step 149']


def test_the_watcher_says_once_that_a_warned_collapse_recovered():
    lines = []
    real = np.random.default_rng(0).uniform(-1, 1, (16, 4, 4, 3))
    watcher = rw.RunWatcher(real_images=real, write=lines.append)
    for step, images in zip(range(100, 900, 100), [real[:1].repeat(16, 0)] * 3 + [real] * 5):
        watcher.samples(step, images)
    assert [line.split(':')[1].strip() for line in lines] == ['mode collapse', 'recovered']
    assert lines[1] == ("note at step 400: recovered: diversity back to 100% of the real images' (see "
                        'docs/reading_a_gan_run.md#mode-collapse)')
    assert watcher.history == [(100, 0.0), (200, 0.0), (300, 0.0)] + [(step, 1.0) for step in range(400, 900, 100)]


@pytest.mark.parametrize('real', [None, np.zeros((1, 4, 4, 3))], ids=['no-real-images', 'one-real-image'])
def test_without_real_images_to_compare_there_is_no_collapse_check(real):
    lines = []
    watcher = rw.RunWatcher(real_images=real, write=lines.append)
    assert watcher.real_diversity is None
    for step in range(100, 1000, 100):
        watcher.samples(step, np.zeros((9, 4, 4, 3)))
    assert lines == [] and watcher.history == []


def test_two_real_images_are_enough_to_compare_with():
    lines = []
    real = np.stack([np.zeros((4, 4, 3)), np.ones((4, 4, 3))])
    watcher = rw.RunWatcher(real_images=real, write=lines.append)
    assert watcher.real_diversity == 1.0
    for step in range(100, 400, 100):
        watcher.samples(step, np.zeros((4, 4, 4, 3)))
    assert len(lines) == 1 and 'mode collapse' in lines[0]


def test_a_grid_of_one_sample_is_not_looked_at():
    lines = []
    watcher = rw.RunWatcher(real_images=np.random.default_rng(0).uniform(-1, 1, (4, 4, 4, 3)), write=lines.append)
    for step in range(100, 1000, 100):
        watcher.samples(step, np.zeros((1, 4, 4, 3)))
    assert lines == [] and watcher.history == []
    watcher.samples(1000, np.zeros((2, 4, 4, 3)))
    assert watcher.history == [(1000, 0.0)]


def test_the_watcher_warns_when_scores_stall_while_losses_swing():
    lines = []
    watcher = rw.RunWatcher(write=lines.append)
    for score_i, score in enumerate([5.0, 3.0, 2.0, 2.1, 2.5, 2.2, 2.4, 2.3, 2.2]):
        for step in range(score_i * 10 + 1, score_i * 10 + 11):
            watcher.losses(step, 1.0, 0.5 if step % 2 else 6.0)
        watcher.score(score_i * 10 + 10, score)
    assert lines == ['warning at step 80: the score has not improved for 5 scores while the losses swing: training '
                     'has stopped making progress. Keep the best checkpoint, or try a lower --learning-rate (see '
                     'docs/reading_a_gan_run.md#scores-stall-while-losses-swing)']


def test_the_swing_is_measured_over_the_steps_of_the_last_scores_alone():
    """Losses that swung long ago, before the last five scores, and are steady since: no warning."""
    lines = []
    watcher = rw.RunWatcher(write=lines.append)
    for score_i, score in enumerate([5.0, 3.0, 2.0, 2.1, 2.5, 2.2, 2.4, 2.3]):
        for step in range(score_i * 10 + 1, score_i * 10 + 11):
            swinging = score_i < 3
            watcher.losses(step, 1.0, (0.5 if step % 2 else 6.0) if swinging else 1.0)
        watcher.score(score_i * 10 + 10, score)
    assert lines == []


def test_the_watchers_default_write_is_tqdms(capsys):
    watcher = rw.RunWatcher()
    for step in range(1, rw.D_WINS_STEPS + 1):
        watcher.losses(step, rw.d_loss_floor(), 1.0)
    assert capsys.readouterr().out.startswith('warning at step 100: the discriminator wins')


def test_every_anchor_a_warning_links_is_a_heading_of_the_docs_page():
    with open(os.path.join(ROOT, rw.DOCS), encoding='utf-8') as page:
        headings = {re.sub(r'[^a-z0-9 -]', '', line.lstrip('#').strip().lower()).replace(' ', '-')
                    for line in page if line.startswith('#')}
    assert set(rw.ANCHORS.values()) <= headings
