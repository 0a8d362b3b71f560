"""
What a run records and says as it goes: losses.csv and swd.csv and the sample grids (output/run_log.py),
the same in TensorBoard's event files when there is a logdir (train/tensorboard.py), the one-line
warnings of a failing run (train/run_warnings.py), and at the end the loss curve, the samples' GIF
(output/run_plots.py) and a summary of where everything is.
"""
import glob
import os

import numpy as np
from tqdm import tqdm

from facegan.core import run_config
from facegan.core.errors import one_line
from facegan.metrics.sliced_wasserstein import Tracker
from facegan.output import run_log, run_plots
from facegan.train.run_warnings import RunWatcher
from facegan.train.tensorboard import EventLog


class Records(object):
    """A run's CSV files, grids, scores, TensorBoard events and warnings."""

    def __init__(self, config, held_out=None, other_real=None):
        """
        :param config: The run's RunConfig (its folder, image mode, logdir, seed)
        :param held_out: Real images kept out of training, 0-255, for the scores (None: no scores)
        :param other_real: As many real images the run trains on, 0-255 (the scores' real-vs-real floor)
        """
        self.config = config
        self.log = run_log.RunLog(config.folder, config.image_mode)
        self.tracker = None if held_out is None else Tracker(held_out / 127.5 - 1, other_real / 127.5 - 1, config.seed)
        self.watcher = RunWatcher(None if held_out is None else held_out / 127.5 - 1)
        self.events = None
        self._last_d_view = self._histograms_at = None

    def resume_at(self, step):
        """On resume: the logs cut to the step resumed from, and the scores' ceiling as recorded at step 0"""
        self.log.resume_at(step)
        if self.tracker:
            self.tracker.ceiling = self.log.untrained_swd()

    def open_events(self, graph):
        """Start TensorBoard's event file, with the training graph, when the run has a logdir."""
        if self.config.logdir:
            self.events = EventLog(self.config.logdir, graph)

    def losses(self, step, d_loss, g_loss, d_view):
        """
        Record a step's losses and the means of D's outputs; watch for the discriminator winning
        :param d_view: D(x) and D(G(z)) of each image (discriminator_view.DiscriminatorView's values), or None / ()
        :return: {name: value} of what the progress bar shows
        """
        means = {'d_real': float(np.mean(d_view.real)), 'd_fake': float(np.mean(d_view.fake))} if d_view else {}
        self.log.losses(step, d_loss, g_loss, **means)
        if self.events:
            self.events.scalars(step, dict(d_loss=d_loss, g_loss=g_loss, **means))
        self.watcher.losses(step, d_loss, g_loss)
        self._last_d_view = d_view
        shown = {'d_loss': d_loss, 'g_loss': g_loss}
        if means:
            shown.update({'D(x)': means['d_real'], 'D(G(z))': means['d_fake']})
        return shown

    def has_final_grid(self):
        """:return: Whether the run's folder holds its last step's grid (samples_final.png): it reached its end"""
        return os.path.exists(os.path.join(self.config.folder, run_plots.FINAL_GRID))

    def grid(self, step, images, final=False):
        """Save a grid of samples (and to TensorBoard, with histograms of D's outputs on the last step); watch
        for mode collapse
        :param final: The last step's grid: samples_final.png, not samples_step_NNNNN.png"""
        _, grid = self.log.grid(step, images, run_plots.FINAL_GRID if final else None)
        self.watcher.samples(step, images)
        if self.events:
            self.events.grid(step, grid, self.config.image_mode)
            if self._histograms_at != step and self._last_d_view:  # once a step: the final grid may follow
                self.events.d_view_histograms(step, self._last_d_view)
                self._histograms_at = step

    def real_grid(self, images):
        """Save a grid of the real images the run trains on, as training sees them (real_images.png)."""
        self.log.grid(0, images, 'real_images.png')

    def score(self, step, images, weights):
        """Score generated images against the held-out ones; record, print and watch the score"""
        tracker = self.tracker
        distance, closed = tracker.score(images)
        self.log.swd(step, distance, tracker.floor, tracker.ceiling, closed, weights)
        if self.events:
            self.events.scalars(step, {'swd': distance, 'gap_closed': closed})
        tqdm.write('Step {}... SWD: {:.4f} (real vs real {:.4f}, untrained {:.4f}): {:.0%} of the gap closed ({} '
                   'weights)'.format(step, distance, tracker.floor, tracker.ceiling, closed, weights))
        self.watcher.score(step, distance)

    def close(self):
        """Close TensorBoard's event file (again is harmless)."""
        if self.events:
            self.events.close()
            self.events = None

    def summary(self, step, how, finished):
        """
        Draw the loss curve and the GIF, and say where everything is
        :param how: Why the run ended ('1 epoch done')
        :param finished: Whether it reached its last step (so samples_final.png is this run's)
        :return: The summary line, naming the files the run left (none where train()'s session was not the run's)
        """
        folder, logdir = self.config.folder, self.config.logdir
        names = [run_plots.FINAL_GRID] if finished and self.has_final_grid() else []
        grids = len(glob.glob(os.path.join(glob.escape(folder), 'samples_step_*.png')))
        if grids:
            names.append('{} x samples_step_*.png'.format(grids))
        names += [os.path.basename(path) for path in (run_plots.loss_curve(folder), run_plots.animation(folder))
                  if path]
        names += [shown for name, shown in (('checkpoints', 'checkpoints/'), (run_config.RUN_FILE, run_config.RUN_FILE))
                  if os.path.exists(os.path.join(folder, name))]
        return 'Done at step {} ({}). In {}: {}{}'.format(
            step, how, one_line(folder), ', '.join(names) or 'nothing saved',
            '; TensorBoard: tensorboard --logdir {}'.format(one_line(logdir)) if logdir else '')


RUN_FILE_PATTERNS = (run_config.RUN_FILE, 'checkpoints', 'losses.csv', 'swd.csv', 'loss_curve.png', 'samples.gif',
                     'real_images.png', run_plots.FINAL_GRID, 'samples_step_*.png', 'generated', 'walk.png', 'walk.gif',
                     'walk_z.npy', 'nearest.png', 'events.out.tfevents.*')


def run_files(folder):
    """:return: Names of the files and folders of a run in folder (its output folder or logdir); [] for none"""
    return sorted({os.path.basename(path) for pattern in RUN_FILE_PATTERNS
                   for path in glob.glob(os.path.join(glob.escape(folder), pattern))})
