"""
What a run records as it goes: each step's losses in losses.csv, each score in swd.csv, the sample
grids as PNGs, and the same scalars and images in TensorBoard's event files.
"""
import csv
import io
import os

import numpy as np

from facegan import pictures
from facegan.tensorflow_setup import import_tensorflow

tf = import_tensorflow()


class RunLog(object):
    """
    What a run records as it goes, in its output folder: sample grids, losses.csv and swd.csv, and
    with a logdir, TensorBoard event files (run_plots draws the curve and the GIF from them).
    """
    def __init__(self, output_dir, image_mode, logdir=None, graph=None):
        """
        :param output_dir: The run's output folder
        :param image_mode: 'RGB' or 'L'
        :param logdir: Folder for TensorBoard event files, or None
        :param graph: Graph to show in TensorBoard
        """
        os.makedirs(output_dir, exist_ok=True)
        self.output_dir = output_dir
        self.image_mode = image_mode
        self.losses_path = os.path.join(output_dir, 'losses.csv')
        self.swd_path = os.path.join(output_dir, 'swd.csv')
        self.writer = tf.summary.FileWriter(logdir, graph) if logdir else None

    def _record(self, path, step, named_values):
        """Append a row to a CSV (header first) and the same scalars to TensorBoard."""
        new_file = not os.path.exists(path)
        with open(path, 'a', newline='') as f:
            writer = csv.writer(f)
            if new_file:
                writer.writerow(['step'] + [name for name, _ in named_values])
            writer.writerow([step] + ['{:.6f}'.format(value) for _, value in named_values])
        if self.writer:
            values = [tf.Summary.Value(tag=name, simple_value=float(value)) for name, value in named_values]
            self.writer.add_summary(tf.Summary(value=values), step)

    def losses(self, step, d_loss, g_loss):
        """Record one step's losses in losses.csv and TensorBoard."""
        self._record(self.losses_path, step, [('d_loss', d_loss), ('g_loss', g_loss)])

    def swd(self, step, distance, floor, ceiling, closed):
        """Record one sliced Wasserstein distance, with its baselines, in swd.csv and TensorBoard."""
        self._record(self.swd_path, step, [('swd', distance), ('swd_real_vs_real', floor),
                                           ('swd_untrained', ceiling), ('gap_closed', closed)])

    def untrained_swd(self):
        """:return: The untrained generator's SWD recorded by this run before a resume, or None"""
        if not os.path.exists(self.swd_path):
            return None
        return float(np.atleast_1d(np.genfromtxt(self.swd_path, delimiter=',', names=True))['swd_untrained'][0])

    def grid(self, step, images, name=None):
        """
        Save a grid of samples as samples_step_NNNNN.png (or name), and to TensorBoard
        :return: (path of the PNG, the PIL grid)
        """
        path = os.path.join(self.output_dir, name or 'samples_step_{:05d}.png'.format(step))
        grid = pictures.save_grid(images, self.image_mode, path)
        if self.writer:
            png = io.BytesIO()
            grid.save(png, format='PNG')
            image = tf.Summary.Image(height=grid.height, width=grid.width, encoded_image_string=png.getvalue(),
                                     colorspace=1 if self.image_mode == 'L' else 3)
            self.writer.add_summary(tf.Summary(value=[tf.Summary.Value(tag='samples', image=image)]), step)
        return path, grid

    def close(self):
        """Flush and close TensorBoard's event file (again is harmless)."""
        if self.writer:
            self.writer.close()
            self.writer = None
