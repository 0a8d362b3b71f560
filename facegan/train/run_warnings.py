"""
Warnings a learner can act on: watch a run's numbers and say, in one line and once per kind, when
they show a known failure, what to try, and where docs/reading_a_gan_run.md explains it.

- D wins: the discriminator's loss sits at its floor for D_WINS_STEPS steps in a row, so the
  generator gets almost no gradient.
- Mode collapse: the fixed-z samples are far less diverse than real images, at every grid for
  COLLAPSE_STEPS steps (a new run's first grids often look alike and then recover: that is not
  worth a warning; if a warned collapse recovers, one more line says so).
- Stalled: the score has not improved over STALL_SCORES scores while the generator's loss swings.

The detection functions are pure (numbers in, verdict out); RunWatcher keeps the little history
they need and prints.
"""
import collections
import math

import numpy as np
from tqdm import tqdm

from facegan.metrics import nearest

DOCS = 'docs/reading_a_gan_run.md'
ANCHORS = {'d-wins': 'the-discriminator-wins', 'collapse': 'mode-collapse', 'recovered': 'mode-collapse',
           'stalled': 'scores-stall-while-losses-swing'}  # each kind's section of DOCS

# The notebook's model_loss labels real images 0.9 (smooth_factor 0.1). Cross-entropy against a
# label of 0.9 is smallest where D outputs 0.9, and that minimum is the label's entropy, not 0:
# -(0.9 ln 0.9 + 0.1 ln 0.1) = 0.325. D's loss (real term + generated term) cannot go below it.
REAL_LABEL = 0.9
D_WINS_MARGIN = 0.05  # within this of the floor: D(x) ~ 0.9 on real images and D(G(z)) < ~0.05
D_WINS_STEPS = 100  # consecutive steps: a healthy run touches the floor for a few steps, then G catches up
# ...or the generator's loss, -mean(log D(G(z))), above this (median of those steps): D gives the generated
# images a geometric-mean D(G(z)) under e^-6 = 0.0025. The default run's highest 100-step median was 4.5;
# --learning-rate 0.002 --beta1 0.99 at batch 8 is at 7.3 and more from step 100 (docs/reading_a_gan_run.md)
D_WINS_G_LOSS = 6.0

# Mode collapse: mean pairwise distance of the fixed-z samples over that of real images.
# Measured on runs of this project (docs/reading_a_gan_run.md#mode-collapse): the collapsed
# grids score 0.1 to 0.3, grids of varied faces 0.6 to 1.
COLLAPSE_RATIO = 0.4
RECOVERED_RATIO = 0.5  # above COLLAPSE_RATIO, so that a ratio hovering at it does not say "recovered" twice
COLLAPSE_STEPS = 200  # collapsed at every grid for this long before the warning

STALL_SCORES = 5  # scores in a row that are no better than the best before them
STALL_SWING = 0.5  # ...while the generator's loss varies this much (standard deviation / mean) over them


def d_loss_floor(real_label=REAL_LABEL):
    """
    :param real_label: The label real images get in D's loss (1 - smooth_factor)
    :return: The smallest D's loss can be: the binary entropy of that label (0 for a label of 1)
    """
    return -sum(p * math.log(p) for p in (real_label, 1 - real_label) if p > 0)


def d_wins(d_losses, g_losses=(), floor=None, margin=D_WINS_MARGIN, steps=D_WINS_STEPS, g_loss=D_WINS_G_LOSS):
    """
    :param d_losses: The discriminator's losses, one per step, oldest first
    :param g_losses: The generator's losses of the same steps
    :param floor: D's smallest possible loss (None: d_loss_floor() of the notebook's label smoothing)
    :param margin: How near the floor counts as "at the floor"
    :param steps: Over how many of the last steps
    :param g_loss: A median generator's loss above which D calls the generated images fake with certainty
    :return: Whether, over the last `steps` steps, D's losses were all within margin of the floor, or
             the generator's median loss was above g_loss (D(G(z)) near 0 whatever D says of real images)
    """
    floor = d_loss_floor() if floor is None else floor
    last_d, last_g = list(d_losses)[-steps:], list(g_losses)[-steps:]
    at_floor = len(last_d) == steps and max(last_d) < floor + margin
    return at_floor or (len(last_g) == steps and float(np.median(last_g)) > g_loss)


def diversity(images):
    """
    :param images: Images, (n, h, w, c) or (n, features), n at least 2, any fixed range
    :return: Mean distance between two different images, the distance being the root mean square
             pixel difference (so it does not grow with the image size)
    """
    pairs = np.triu_indices(len(images), k=1)
    return float(np.sqrt(nearest.squared_distances(images, images)[pairs]).mean())


def collapsed_since(history, collapse_ratio=COLLAPSE_RATIO):
    """
    :param history: [(step, diversity ratio)] of the grids so far, oldest first
    :return: The step of the first grid of the latest unbroken run of grids below collapse_ratio,
             or None when the last grid is not below it
    """
    start = None
    for step, ratio in reversed(history):
        if ratio >= collapse_ratio:
            break
        start = step
    return start


def collapse_verdict(history, warned, collapse_ratio=COLLAPSE_RATIO, recovered_ratio=RECOVERED_RATIO,
                     collapse_steps=COLLAPSE_STEPS):
    """
    :param history: [(step, diversity ratio)] of the grids so far, oldest first
    :param warned: Whether the collapse warning was given already
    :return: 'collapsed' when every grid from collapse_steps steps ago (or earlier) to the last was
             below collapse_ratio; 'recovered' when warned and the last ratio is back at recovered_ratio
             or above; else None
    """
    if not history:
        return None
    step, ratio = history[-1]
    if warned:
        return 'recovered' if ratio >= recovered_ratio else None
    start = collapsed_since(history, collapse_ratio)
    return 'collapsed' if start is not None and step - start >= collapse_steps else None


def stalled(scores, g_losses, scores_in_a_row=STALL_SCORES, swing=STALL_SWING):
    """
    :param scores: The run's sliced Wasserstein distances, oldest first (lower is better)
    :param g_losses: The generator's losses over the steps of the last scores_in_a_row scores
    :return: Whether the last scores_in_a_row scores are none of them better than the best before
             them, while the generator's loss swung (standard deviation over mean above swing)
    """
    scores = list(scores)
    if len(scores) <= scores_in_a_row or len(g_losses) < 2:
        return False
    no_better = min(scores[-scores_in_a_row:]) >= min(scores[:-scores_in_a_row])
    mean = float(np.mean(g_losses))
    return no_better and mean > 0 and float(np.std(g_losses)) / mean > swing


class RunWatcher(object):
    """Feed it a run's numbers as they come; it prints each kind of warning once."""

    def __init__(self, real_images=None, write=tqdm.write):
        """
        :param real_images: Real images in the samples' range, for the samples' diversity (None: no collapse check)
        :param write: Prints one line (below the progress bar)
        """
        self.real_diversity = diversity(real_images) if real_images is not None and len(real_images) > 1 else None
        self.write = write
        self.warned = set()
        self._d_losses = collections.deque(maxlen=D_WINS_STEPS)
        self._g_losses = collections.deque(maxlen=D_WINS_STEPS)
        self._g_losses_since_score = []
        self._g_losses_per_score = collections.deque(maxlen=STALL_SCORES)
        self._scores = []
        self.history = []  # [(step, diversity ratio)] of the grids

    def losses(self, step, d_loss, g_loss):
        """One step's losses: warn when D has been at its floor for D_WINS_STEPS steps."""
        self._d_losses.append(float(d_loss))
        self._g_losses.append(float(g_loss))
        self._g_losses_since_score.append(float(g_loss))
        if d_wins(self._d_losses, self._g_losses):
            self._warn_once('d-wins', step, 'the discriminator wins: for {} steps it has called the generated '
                            'images fake with near certainty (its loss at its floor, {:.3f}, or the generator\'s '
                            'above {:g}), so the generator learns almost nothing. Try a lower --learning-rate, '
                            '--beta1 0.5, or a smaller discriminator'.format(D_WINS_STEPS, d_loss_floor(),
                                                                           D_WINS_G_LOSS))

    def samples(self, step, images):
        """The fixed-z samples of a grid: warn when they stay far less diverse than real images."""
        if self.real_diversity is None or len(images) < 2:
            return
        self.history.append((step, diversity(images) / self.real_diversity))
        verdict = collapse_verdict(self.history, 'collapse' in self.warned)
        ratio = self.history[-1][1]
        if verdict == 'collapsed':
            self._warn_once('collapse', step, 'mode collapse: the samples are alike (their diversity is {:.0%} of '
                            "the real images') since step {}. Try --beta1 0.5 and a lower --learning-rate"
                            .format(ratio, collapsed_since(self.history)))
        elif verdict == 'recovered':
            self._warn_once('recovered', step, 'recovered: diversity back to {:.0%} of the real images\''
                            .format(ratio), label='note')

    def score(self, step, distance):
        """A sample-quality score (SWD): warn when scores stall while the losses swing."""
        self._scores.append(float(distance))
        self._g_losses_per_score.append(self._g_losses_since_score)
        self._g_losses_since_score = []
        g_losses = [loss for losses in self._g_losses_per_score for loss in losses]
        if stalled(self._scores, g_losses):
            self._warn_once('stalled', step, 'the score has not improved for {} scores while the losses swing: '
                            'training has stopped making progress. Keep the best checkpoint, or try a lower '
                            '--learning-rate'.format(STALL_SCORES))

    def _warn_once(self, kind, step, message, label='warning'):
        """Print 'LABEL at step N: message (see DOCS#its section)', the first time for this kind."""
        if kind not in self.warned:
            self.warned.add(kind)
            self.write('{} at step {}: {} (see {}#{})'.format(label, step, message, DOCS, ANCHORS[kind]))
