"""
What a run records as it goes: each step's losses and the discriminator's mean outputs D(x) and
D(G(z)) in losses.csv, each score in swd.csv, the sample grids as PNGs, and the same scalars and
images, with histograms of D's outputs on each image, in TensorBoard's event files.
"""
import csv
import io
import os
import re
import sys

import numpy as np

from facegan import pictures, safe_files
from facegan.tensorflow_setup import import_tensorflow

tf = import_tensorflow()

# losses.csv's last two columns, the discriminator's mean outputs, are 'nan' when they are not known (a
# discriminator discriminator_view cannot read) and absent from the rows of runs made before they were added
LOSS_COLUMNS = ('step', 'd_loss', 'g_loss', 'd_real', 'd_fake')
OPTIONAL_COLUMNS = ('d_real', 'd_fake')
SWD_COLUMNS = ('step', 'swd', 'swd_real_vs_real', 'swd_untrained', 'gap_closed')
_STEP = re.compile(r'^\d+$')
_VALUE = re.compile(r'^-?(\d+\.\d+|nan|inf)$')  # as _record writes them: '{:.6f}'


def _whole_rows(content, columns):
    """
    :param content: A run's CSV, as bytes
    :param columns: Its column names, the step first
    :return: Its whole, well-formed rows, as lists of their fields: a row cut short (the text after the last
             line break), a damaged one (another number of fields, a field that is not a number as
             _record writes it) and the header are left out
    """
    optional = len([name for name in columns if name in OPTIONAL_COLUMNS])  # last; older rows lack them
    rows = []
    for line in content.split(b'\n')[:-1]:
        fields = line.rstrip(b'\r').decode('ascii', errors='replace').split(',')
        if (len(columns) - optional <= len(fields) <= len(columns) and _STEP.match(fields[0])
                and all(map(_VALUE.match, fields[1:]))):
            rows.append(fields + ['nan'] * (len(columns) - len(fields)))
    return rows


def _read_bytes(path):
    """:return: The file's content, or None if there is no file"""
    try:
        with open(path, 'rb') as f:
            return f.read()
    except FileNotFoundError:
        return None


def read_rows(path, columns):
    """
    Read a run's CSV (losses.csv, swd.csv) as far as it is whole: what a crash or a damaged disk did to
    some rows leaves the others readable
    :param path: The CSV (missing: no rows)
    :param columns: Its column names (LOSS_COLUMNS or SWD_COLUMNS)
    :return: numpy record array of its whole rows, a float field per column (no rows: length 0)
    """
    rows = _whole_rows(_read_bytes(path) or b'', columns)
    return np.array([tuple(float(field) for field in row) for row in rows], dtype=[(name, float) for name in columns])


def _csv_text(columns, rows):
    """:return: The CSV of a header and rows of text fields, as _record writes it (bytes)"""
    text = io.StringIO()
    csv.writer(text).writerows([list(columns)] + rows)
    return text.getvalue().encode('ascii')


def keep_rows_up_to(path, columns, step):
    """
    Rewrite a run's CSV (atomically) to its whole rows up to step, saying so in one line on stderr when
    that changed it. On --resume from a checkpoint at step, the rows after it belong to steps that
    are trained again (or whose checkpoint was damaged, so it was skipped), and a row cut short or
    damaged would spoil the loss curve, or the next row appended to it
    :param path: The CSV (missing: nothing to do)
    :param columns: Its column names (LOSS_COLUMNS or SWD_COLUMNS)
    :param step: The step the run resumes from
    :return: True if the file was rewritten
    """
    before = _read_bytes(path)
    if before is None:
        return False
    kept = [row for row in _whole_rows(before, columns) if int(row[0]) <= step]
    after = _csv_text(columns, kept)
    if after == before:
        return False

    def write(temporary):
        with open(temporary, 'wb') as f:
            f.write(after)
    safe_files.write_atomically(path, write)
    print('note: {} held rows cut short, damaged or after step {}, where the run resumes, or an older header: kept '
          'its {} whole row(s) up to that step'.format(path, step, len(kept)), file=sys.stderr)
    return True


HISTOGRAM_EDGES = np.linspace(0, 1, 21)  # D's outputs are probabilities: the same 20 bins every step


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

    def _record(self, path, columns, step, values):
        """
        Append a row to a CSV (its header first, in a new file) and the same scalars to TensorBoard
        :param columns: The CSV's columns, 'step' first (LOSS_COLUMNS or SWD_COLUMNS)
        :param values: {column: value}; a column left out is written 'nan' and not sent to TensorBoard
        """
        new_file = not os.path.exists(path) or os.path.getsize(path) == 0
        with open(path, 'a', newline='') as f:
            writer = csv.writer(f)
            if new_file:
                writer.writerow(columns)
            writer.writerow([step] + ['{:.6f}'.format(values.get(name, np.nan)) for name in columns[1:]])
        if self.writer:
            scalars = [tf.Summary.Value(tag=name, simple_value=float(values[name])) for name in columns[1:]
                       if name in values]
            self.writer.add_summary(tf.Summary(value=scalars), step)

    def losses(self, step, d_loss, g_loss, d_view=None):
        """
        Record one step's losses, and the means of D's outputs, in losses.csv and TensorBoard
        :param d_view: discriminator_view.DiscriminatorView of the step's per-image D(x) and D(G(z))
                       (None or empty: not known, d_real and d_fake are written 'nan')
        """
        values = {'d_loss': d_loss, 'g_loss': g_loss}
        if d_view:
            values.update(d_real=np.mean(d_view.real), d_fake=np.mean(d_view.fake))
        self._record(self.losses_path, LOSS_COLUMNS, step, values)

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
        self._record(self.swd_path, SWD_COLUMNS, step, {'swd': distance, 'swd_real_vs_real': floor,
                                                        'swd_untrained': ceiling, 'gap_closed': closed})

    def untrained_swd(self):
        """:return: The untrained generator's SWD recorded by this run before a resume (each row holds it), or None"""
        rows = read_rows(self.swd_path, SWD_COLUMNS)
        return float(rows['swd_untrained'][0]) if len(rows) else None

    def resume_at(self, step):
        """
        On --resume: keep losses.csv's and swd.csv's whole rows up to the step resumed from (keep_rows_up_to)
        :param step: The step of the checkpoint restored
        """
        for path, columns in ((self.losses_path, LOSS_COLUMNS), (self.swd_path, SWD_COLUMNS)):
            keep_rows_up_to(path, columns, step)

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
