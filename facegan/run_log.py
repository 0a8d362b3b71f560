"""
What a run records as it goes: each step's losses and the discriminator's mean outputs D(x) and
D(G(z)) in losses.csv, each score in swd.csv, the sample grids as PNGs, and the same scalars and
images, with histograms of D's outputs on each image, in TensorBoard's event files.
"""
import csv
import io
import os

import numpy as np

from facegan import pictures, safe_files
from facegan.tensorflow_setup import import_tensorflow

tf = import_tensorflow()

HISTOGRAM_EDGES = np.linspace(0, 1, 21)  # D's outputs are probabilities: the same 20 bins every step


def _read_csv_rows(path):
    """:return: The rows of a CSV file, header first ([] for no file or an empty one)"""
    if not os.path.exists(path):
        return []
    with open(path, newline='') as f:
        return list(csv.reader(f))


def _histogram(values, edges=HISTOGRAM_EDGES):
    """
    :param values: Numbers in [edges[0], edges[-1]]
    :param edges: The bins' edges
    :return: A TensorBoard HistogramProto of the values
    """
    values = np.asarray(values, dtype=np.float64).ravel()
    counts, _ = np.histogram(np.clip(values, edges[0], edges[-1]), bins=edges)
    return tf.HistogramProto(min=float(values.min()), max=float(values.max()), num=values.size,
                             sum=float(values.sum()), sum_squares=float(np.square(values).sum()),
                             bucket_limit=edges[1:].tolist(), bucket=counts.tolist())


def _write_csv_rows(path, rows):
    """Write rows to a new CSV file."""
    with open(path, 'w', newline='') as f:
        csv.writer(f).writerows(rows)


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
        self._headers = {}  # path: the CSV's columns, read or written once

    def _header(self, path, names):
        """
        The CSV's columns, with these names among them: a new file gets its header; a file an older
        run wrote with fewer columns (a resume) is rewritten with the new ones added, empty in its rows
        :param path: The CSV's path
        :param names: The columns of the row about to be written, 'step' first
        :return: The file's columns
        """
        header = self._headers.get(path)
        if header is None or not set(names) <= set(header):
            rows = _read_csv_rows(path)
            header = rows[0] if rows else []
            added = [name for name in names if name not in header]
            if added:
                header = header + added
                padded = [header] + [row + [''] * (len(header) - len(row)) for row in rows[1:]]
                safe_files.write_atomically(path, lambda temporary: _write_csv_rows(temporary, padded))
            self._headers[path] = header
        return header

    def _record(self, path, step, named_values):
        """Append a row to a CSV (its header first) and the same scalars to TensorBoard."""
        header = self._header(path, ['step'] + [name for name, _ in named_values])
        values = dict(named_values)  # the file's columns after 'step' that this row has no value for stay empty
        row = [step] + ['{:.6f}'.format(values[name]) if name in values else '' for name in header[1:]]
        with open(path, 'a', newline='') as f:
            csv.writer(f).writerow(row)
        if self.writer:
            values = [tf.Summary.Value(tag=name, simple_value=float(value)) for name, value in named_values]
            self.writer.add_summary(tf.Summary(value=values), step)

    def losses(self, step, d_loss, g_loss, d_view=None):
        """
        Record one step's losses, and the means of D's outputs, in losses.csv and TensorBoard
        :param d_view: discriminator_view.DiscriminatorView of the step's per-image D(x) and D(G(z))
                       (None or empty: not known, the columns d_real and d_fake are left out)
        """
        named_values = [('d_loss', d_loss), ('g_loss', g_loss)]
        if d_view:
            named_values += [('d_real', np.mean(d_view.real)), ('d_fake', np.mean(d_view.fake))]
        self._record(self.losses_path, step, named_values)

    def d_view_histograms(self, step, d_view):
        """
        Write D's outputs on each real and each generated image of a step as TensorBoard histograms
        :param d_view: discriminator_view.DiscriminatorView of per-image D(x) and D(G(z)) (None or empty: none)
        """
        if self.writer and d_view:
            values = [tf.Summary.Value(tag='d_real_per_image', histo=_histogram(d_view.real)),
                      tf.Summary.Value(tag='d_fake_per_image', histo=_histogram(d_view.fake))]
            self.writer.add_summary(tf.Summary(value=values), step)

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
