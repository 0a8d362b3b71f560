"""
The pictures a finished run leaves in its output folder: loss_curve.png, from losses.csv and
swd.csv (each step's losses faint, a smoothed line over them as TensorBoard draws it, ticks where
the samples were scored, the discriminator's mean outputs and the scores), and samples.gif, the
fixed-z grids in step order.
"""
import glob
import os

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

from facegan.core import files
from facegan.output import pictures, run_log

# The loss curve's moving average reaches back over about this fraction of the run: 1/30, so a
# 584-step run is smoothed with weight 0.95 and a 1,200-step one with 0.975 (TensorBoard's default is 0.6
# whatever the length; a fixed weight smooths a long run too little and a short one too much)
FINAL_GRID = 'samples_final.png'  # the grid of a run's last step, shown after its samples_step_*.png
SPAN_FRACTION = 1 / 30


def smoothing_weight(steps, span_fraction=SPAN_FRACTION):
    """
    :param steps: How many values the curve has
    :param span_fraction: How much of the run the average reaches back over
    :return: The exponential moving average's weight: 1 - 1 / (span_fraction * steps), in [0, 0.99]
             (0: short runs are drawn unsmoothed)
    """
    span = span_fraction * steps
    return min(0.99, 1.0 - 1.0 / span) if span > 1 else 0.0


def smooth(values, weight):
    """
    TensorBoard's smoothing: an exponential moving average, debiased so that it starts at the first
    value rather than at 0. Non-finite values are skipped (they keep the last average).
    :param values: A series
    :param weight: How much of the average each new value keeps, in [0, 1)
    :return: The smoothed series, as long as values
    """
    smoothed, average, count = np.empty(len(values)), 0.0, 0
    for i, value in enumerate(values):
        if np.isfinite(value):
            average, count = average * weight + (1 - weight) * value, count + 1
        smoothed[i] = average / (1 - weight ** count) if count else np.nan
    return smoothed


def _plot_smoothed(ax, steps, values, label, color):
    """Draw a series faint and its smoothed line over it, in one color."""
    ax.plot(steps, values, color=color, alpha=0.25, linewidth=0.8)
    ax.plot(steps, smooth(values, smoothing_weight(len(values))), color=color, label=label)


def _mark_scores(ax, score_steps):
    """Draw a dotted vertical line across ax at each step where the samples were scored."""
    ax.vlines(score_steps, 0, 1, transform=ax.get_xaxis_transform(), colors='gray', linestyles=':',
              linewidth=1, label='samples scored (swd.csv)')


def _plot_losses(ax, rows, score_steps):
    """Draw losses.csv's losses, smoothed over the raw ones, with ticks where the samples were scored."""
    _plot_smoothed(ax, rows['step'], rows['d_loss'], 'Discriminator', 'tab:blue')
    _plot_smoothed(ax, rows['step'], rows['g_loss'], 'Generator', 'tab:orange')
    if score_steps is not None:
        _mark_scores(ax, score_steps)
    ax.set_ylabel('loss')


def _has_d_view(rows):
    """:return: Whether losses.csv holds some D(x) and D(G(z)) (older runs and unusual discriminators do not)"""
    return bool(np.isfinite(rows['d_real']).any())  # run_log.read_rows gives every column, nan where not known


def _plot_d_view(ax, rows):
    """Draw the mean D(x) and D(G(z)) of each step, smoothed over the raw ones, between 0 and 1."""
    _plot_smoothed(ax, rows['step'], rows['d_real'], 'D(x): real images', 'tab:green')
    _plot_smoothed(ax, rows['step'], rows['d_fake'], 'D(G(z)): generated images', 'tab:red')
    ax.axhline(0.5, color='gray', linestyle=':', linewidth=0.8)
    ax.set_ylim(0, 1)
    ax.set_ylabel('discriminator\'s output')


def _plot_scores(ax, swd):
    """
    Draw swd.csv's scores and its real-vs-real floor on ax: one line, or with an averaged generator a line for
    each kind of weights scored
    """
    if (swd['weights'] == 'raw').all():
        ax.plot(swd['step'], swd['swd'], 'o-', label='generated vs held-out real')
    else:
        for weights, marker in (('averaged', 'o-'), ('raw', 's--')):
            mine = swd['weights'] == weights
            if mine.any():
                ax.plot(swd['step'][mine], swd['swd'][mine], marker,
                        label='generated ({} weights) vs held-out real'.format(weights))
    ax.axhline(swd['swd_real_vs_real'][0], color='green', linestyle='--', label='real vs real')
    ax.set_ylabel('sliced Wasserstein distance')


def loss_curve(output_dir):
    """
    Plot a run's losses.csv (the whole run, across resumes) to loss_curve.png: the losses, smoothed
    as TensorBoard smooths them over the faint raw ones, with ticks where the samples were scored;
    below them the discriminator's mean outputs D(x) and D(G(z)), and the scores from swd.csv
    :param output_dir: The run's output folder
    :return: Path of the PNG, or None before any losses were recorded (rows cut short or damaged are left out)
    """
    rows = run_log.read_rows(os.path.join(output_dir, 'losses.csv'), run_log.LOSS_COLUMNS)
    if not len(rows):
        return None
    swd = run_log.read_rows(os.path.join(output_dir, 'swd.csv'), run_log.SWD_COLUMNS)
    swd = swd if len(swd) else None
    panels = [lambda ax: _plot_losses(ax, rows, None if swd is None else swd['step'])]
    if _has_d_view(rows):
        panels.append(lambda ax: _plot_d_view(ax, rows))
    if swd is not None:
        panels.append(lambda ax: _plot_scores(ax, swd))
    fig = Figure(figsize=(7, 1 + 3 * len(panels)))
    axes = np.atleast_1d(fig.subplots(len(panels), 1, sharex=True))
    for ax, draw in zip(axes, panels):
        draw(ax)
        ax.legend(fontsize='small')
        ax.grid(alpha=0.3)
    axes[-1].set_xlabel('step')
    axes[0].set_title('faint: each step; solid: smoothed (weight {:.2f})'.format(smoothing_weight(len(rows))),
                      fontsize='small')
    path = os.path.join(output_dir, 'loss_curve.png')
    files.write_atomically(path, lambda temporary: fig.savefig(temporary, format='png', dpi=100,
                                                                     bbox_inches=_tight_box(fig)))
    return path


def _tight_box(fig):
    """
    :return: The box bbox_inches='tight' crops fig to, measured from its layout alone: savefig asked for 'tight' draws
             the whole figure once to measure it before drawing it again to save (a third of loss_curve's time)
    """
    renderer = FigureCanvasAgg(fig).get_renderer()
    return fig.get_tightbbox(renderer).padded(matplotlib.rcParams['savefig.pad_inches'])


def animation(output_dir, frame_ms=400):
    """
    Animate a run's fixed-z grids, in step order and the final one last, into samples.gif
    :param output_dir: The run's output folder
    :param frame_ms: How long each grid shows
    :return: Path of the GIF, or None without grids
    """
    paths = sorted(glob.glob(os.path.join(glob.escape(output_dir), 'samples_step_*.png')))
    paths += glob.glob(os.path.join(glob.escape(output_dir), FINAL_GRID))
    if not paths:
        return None
    frames = []
    for frame_path in paths:
        with Image.open(frame_path) as frame:
            frames.append(frame.convert('RGB'))
    path = os.path.join(output_dir, 'samples.gif')
    pictures.save_gif(frames, path, frame_ms)
    return path
