"""The failure warnings: each detection function on known series, the watcher's once-per-kind lines,
and a deliberately broken run that warns from the command line."""
import math
import os
import re

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from PIL import Image

import helper
from conftest import run_script, use_few_synthetic_faces
from facegan import pictures, run_warnings as rw
from tools import readme_images

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

DOCS_PAGE = rw.DOCS


# --- D wins ---------------------------------------------------------------------------------

def test_d_loss_floor_is_the_smoothed_labels_entropy():
    assert rw.d_loss_floor(0.9) == pytest.approx(0.3251, abs=1e-4)
    assert rw.d_loss_floor(1.0) == 0


@given(st.floats(0.5, 1.0), st.floats(-20, 20))
def test_no_discriminator_output_goes_below_the_floor(label, logit):
    probability = 1 / (1 + math.exp(-logit))
    cross_entropy = -sum(p * math.log(q) for p, q in ((label, probability), (1 - label, 1 - probability)) if p > 0)
    assert cross_entropy >= rw.d_loss_floor(label) - 1e-9


def test_d_wins_after_enough_steps_at_the_floor_in_a_row():
    floor = rw.d_loss_floor()
    at_floor = [floor + 0.01] * rw.D_WINS_STEPS
    assert rw.d_wins([1.2] * 50 + at_floor)
    assert not rw.d_wins(at_floor[1:])  # one step short
    assert not rw.d_wins(at_floor[:50] + [0.9] + at_floor[:50])  # broken by one step of a fight
    assert not rw.d_wins([floor + rw.D_WINS_MARGIN + 0.01] * 200)  # near, not at, the floor


# --- Mode collapse --------------------------------------------------------------------------

def test_diversity_is_the_mean_rms_distance_between_two_images():
    images = np.array([np.zeros((2, 2, 1)), np.ones((2, 2, 1)), np.full((2, 2, 1), 3.0)])
    assert rw.diversity(images) == pytest.approx((1 + 3 + 2) / 3)
    assert rw.diversity(np.repeat(images[:1], 5, axis=0)) == 0


@settings(max_examples=max(3, settings().max_examples // 5))
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
    assert rw.collapse_verdict([], warned=False) is None


def test_a_warned_collapse_that_recovers_says_so_once_past_the_recovery_ratio():
    assert rw.collapse_verdict(_history([0.2, 0.2, 0.2, rw.COLLAPSE_RATIO + 0.01]), warned=True) is None
    assert rw.collapse_verdict(_history([0.2, 0.2, 0.2, rw.RECOVERED_RATIO]), warned=True) == 'recovered'


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
    The default run's grids at steps 100 and 200 look collapsed, and the run recovers by itself at
    step 300: a learner is told nothing (a collapse is warned when it lasts COLLAPSE_STEPS).
    """
    folder = helper.make_synthetic_faces(str(tmp_path), 64, seed=0)
    real = helper.Dataset('synthetic', helper.list_image_files(folder), seed=0).images(range(64)) / 127.5 - 1
    lines = []
    watcher = rw.RunWatcher(real_images=real, write=lines.append)
    ratios = []
    for step, grid in zip([100, 200, 300, 400, 500, 584], _progress_grids()):
        watcher.samples(step, grid)
        ratios.append(watcher.history[-1][1])
    assert max(ratios[:2]) < rw.COLLAPSE_RATIO < rw.RECOVERED_RATIO < min(ratios[2:])
    assert lines == []


# --- Stalled scores while the losses swing ---------------------------------------------------

def test_stalled_when_no_score_of_the_last_few_beats_the_best_before_and_the_loss_swings():
    swinging = [0.5, 6.0] * 50
    scores = [5.0, 3.0, 2.0] + [2.1, 2.5, 2.2, 2.4, 2.3]
    assert rw.stalled(scores, swinging)
    assert not rw.stalled(scores[:-1] + [1.9], swinging)  # the last score is a new best
    assert not rw.stalled(scores, [2.0, 2.2] * 50)  # steady losses: a plateau, not a swing
    assert not rw.stalled(scores[-rw.STALL_SCORES:], swinging)  # nothing before to compare with


def test_d_wins_when_the_generators_median_loss_stays_above_its_line():
    high, low = [rw.D_WINS_G_LOSS + 1] * rw.D_WINS_STEPS, [rw.D_WINS_G_LOSS - 1] * rw.D_WINS_STEPS
    fighting = [1.2] * rw.D_WINS_STEPS  # D's loss nowhere near its floor: D(x) overshoots the 0.9 label
    assert rw.d_wins(fighting, high)
    assert not rw.d_wins(fighting, high[1:])  # one step short
    assert not rw.d_wins(fighting, low)
    assert not rw.d_wins(fighting, high[:rw.D_WINS_STEPS // 2 - 1] + low[:rw.D_WINS_STEPS // 2 + 1])  # median low
    assert rw.d_wins(fighting, low[:rw.D_WINS_STEPS // 2 - 1] + high[:rw.D_WINS_STEPS // 2 + 1])  # median high


# --- The watcher ------------------------------------------------------------------------------

def test_the_watcher_warns_once_per_kind_with_the_step_a_hint_and_the_docs_page():
    lines = []
    watcher = rw.RunWatcher(real_images=np.random.default_rng(0).uniform(-1, 1, (16, 4, 4, 3)), write=lines.append)
    for step in range(1, 3 * rw.D_WINS_STEPS):
        watcher.losses(step, rw.d_loss_floor() + 0.001, 8.0)
    for step in range(100, 1000, 100):
        watcher.samples(step, np.zeros((9, 4, 4, 3)))
    assert len(lines) == 2
    assert lines[0].startswith('warning at step {}: the discriminator wins'.format(rw.D_WINS_STEPS))
    assert lines[1].startswith('warning at step 300: mode collapse')
    assert 'since step 100' in lines[1] and '0%' in lines[1]
    for line, anchor in zip(lines, ['#the-discriminator-wins', '#mode-collapse']):
        assert '--learning-rate' in line and DOCS_PAGE + anchor in line and '\n' not in line


def test_the_watcher_says_once_that_a_warned_collapse_recovered():
    lines = []
    real = np.random.default_rng(0).uniform(-1, 1, (16, 4, 4, 3))
    watcher = rw.RunWatcher(real_images=real, write=lines.append)
    for step, images in zip(range(100, 900, 100), [real[:1].repeat(16, 0)] * 3 + [real] * 5):
        watcher.samples(step, images)
    assert [line.split(':')[1].strip() for line in lines] == ['mode collapse', 'recovered']
    assert lines[1].startswith("note at step 400: recovered: diversity back to 100% of the real images' (see ")


def test_without_real_images_there_is_no_collapse_check():
    lines = []
    watcher = rw.RunWatcher(write=lines.append)
    for step in range(100, 1000, 100):
        watcher.samples(step, np.zeros((9, 4, 4, 3)))
    assert lines == []


def test_the_watcher_warns_when_scores_stall_while_losses_swing():
    lines = []
    watcher = rw.RunWatcher(write=lines.append)
    for score_i, score in enumerate([5.0, 3.0, 2.0, 2.1, 2.5, 2.2, 2.4, 2.3, 2.2]):
        for step in range(score_i * 10 + 1, score_i * 10 + 11):
            watcher.losses(step, 1.0, 0.5 if step % 2 else 6.0)
        watcher.score(score_i * 10 + 10, score)
    assert len(lines) == 1 and lines[0].startswith('warning at step 80: the score has not improved for 5 scores')
    assert DOCS_PAGE + '#scores-stall-while-losses-swing' in lines[0]


def test_every_anchor_a_warning_links_is_a_heading_of_the_docs_page():
    with open(os.path.join(ROOT, DOCS_PAGE), encoding='utf-8') as page:
        headings = {re.sub(r'[^a-z0-9 -]', '', line.lstrip('#').strip().lower()).replace(' ', '-')
                    for line in page if line.startswith('#')}
    assert set(rw.ANCHORS.values()) <= headings


# --- A deliberately broken run, from the command line -------------------------------------------

# Adam's beta1 at 0.99 (the notebook's 0.5) with a learning rate of 0.002 at batch 8: D calls every
# generated image fake with near certainty from step 35 on (the generator's loss 10 to 13, its
# samples one blob), docs/reading_a_gan_run.md
BROKEN_SETTING = ['--learning-rate', '0.002', '--beta1', '0.99', '--batch-size', '8']


def test_a_deliberately_broken_run_warns_that_the_discriminator_wins(tmp_path, monkeypatch, capsys):
    use_few_synthetic_faces(monkeypatch, 160)
    code = run_script(['--data-dir', str(tmp_path / 'data'), '--output-dir', str(tmp_path / 'out'),
                       '--max-steps', str(rw.D_WINS_STEPS + 20), '--show-every', '1000', '--eval-every', '0',
                       '--save-every', '1000'] + BROKEN_SETTING)
    out = capsys.readouterr().out
    assert code == 0
    warnings = [line for line in out.splitlines() if line.startswith('warning at step')]
    assert len(warnings) == 1 and '#the-discriminator-wins' in warnings[0], out[-2000:]
    step = int(re.match(r'warning at step (\d+): the discriminator wins', warnings[0]).group(1))
    rows = np.genfromtxt(str(tmp_path / 'out' / 'losses.csv'), delimiter=',', names=True)
    last = rows[(rows['step'] > step - rw.D_WINS_STEPS) & (rows['step'] <= step)]
    assert len(last) == rw.D_WINS_STEPS and np.median(last['g_loss']) > rw.D_WINS_G_LOSS  # what it said
    assert np.median(last['d_fake']) < 0.05  # and D's own view: generated images called fake
