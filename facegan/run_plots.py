"""
The pictures a finished run leaves in its output folder: loss_curve.png, from losses.csv and
swd.csv, and samples.gif, the fixed-z grids in step order.
"""
import glob
import os

from matplotlib.figure import Figure
from PIL import Image

from facegan import pictures, run_log, safe_files


def _plot_scores(ax, swd):
    """Draw swd.csv's scores (its rows) and its real-vs-real floor on ax."""
    ax.plot(swd['step'], swd['swd'], 'o-', label='generated vs held-out real')
    ax.axhline(swd['swd_real_vs_real'][0], color='green', linestyle='--', label='real vs real')
    ax.set_ylabel('sliced Wasserstein distance')
    ax.set_xlabel('step')
    ax.legend()
    ax.grid(alpha=0.3)


def loss_curve(output_dir):
    """
    Plot a run's losses.csv (the whole run, across resumes), and its scores under them, to loss_curve.png
    :param output_dir: The run's output folder
    :return: Path of the PNG, or None before any losses were recorded (rows cut short or damaged are left out)
    """
    rows = run_log.read_rows(os.path.join(output_dir, 'losses.csv'), run_log.LOSS_COLUMNS)
    if not len(rows):
        return None
    swd = run_log.read_rows(os.path.join(output_dir, 'swd.csv'), run_log.SWD_COLUMNS)
    with_swd = len(swd) > 0
    fig = Figure(figsize=(7, 7 if with_swd else 4))
    ax, swd_ax = fig.subplots(2, 1, sharex=True) if with_swd else (fig.subplots(), None)
    if swd_ax is not None:
        _plot_scores(swd_ax, swd)
    ax.plot(rows['step'], rows['d_loss'], label='Discriminator')
    ax.plot(rows['step'], rows['g_loss'], label='Generator')
    if swd_ax is None:
        ax.set_xlabel('step')
    ax.set_ylabel('loss')
    ax.legend()
    ax.grid(alpha=0.3)
    path = os.path.join(output_dir, 'loss_curve.png')
    safe_files.write_atomically(path, lambda temporary: fig.savefig(temporary, format='png', dpi=100,
                                                                     bbox_inches='tight'))
    return path


def animation(output_dir, frame_ms=400):
    """
    Animate a run's fixed-z grids, in step order and the final one last, into samples.gif
    :param output_dir: The run's output folder
    :param frame_ms: How long each grid shows
    :return: Path of the GIF, or None without grids
    """
    paths = sorted(glob.glob(os.path.join(glob.escape(output_dir), 'samples_step_*.png')))
    paths += glob.glob(os.path.join(glob.escape(output_dir), 'samples_final.png'))
    if not paths:
        return None
    frames = []
    for frame_path in paths:
        with Image.open(frame_path) as frame:
            frames.append(frame.convert('RGB'))
    path = os.path.join(output_dir, 'samples.gif')
    pictures.save_gif(frames, path, frame_ms)
    return path
