"""
What a run records as it goes, in CSV files of its output folder: each step's losses and the
discriminator's mean outputs D(x) and D(G(z)) in losses.csv, each score in swd.csv (with which
weights drew the images scored), and the sample grids as PNGs. Reading them back needs no
TensorFlow: a row cut short by a crash, or damaged on disk, is left out rather than failing.
"""
import csv
import io
import os
import re
import sys

import numpy as np

from facegan.core import files
from facegan.core.errors import one_line
from facegan.output import pictures

# losses.csv's last two columns, the discriminator's mean outputs, are 'nan' when they are not known (a
# discriminator discriminator_view cannot read, or a train() that does not report them) and absent from
# the rows of runs made before they were added; swd.csv's last, which weights drew the images scored
# ('averaged' or 'raw'), is absent from older rows, which were all of the raw weights
LOSS_COLUMNS = ('step', 'd_loss', 'g_loss', 'd_real', 'd_fake')
SWD_COLUMNS = ('step', 'swd', 'swd_real_vs_real', 'swd_untrained', 'gap_closed', 'weights')
OPTIONAL_COLUMNS = {'d_real': 'nan', 'd_fake': 'nan', 'weights': 'raw'}  # what an older row had
TEXT_COLUMNS = {'weights': ('averaged', 'raw')}  # columns of words, and the words they hold
_STEP = re.compile(r'^\d+$')
_VALUE = re.compile(r'^-?(\d+\.\d+|nan|inf)$')  # as append_row writes numbers: '{:.6f}'


def _well_formed(name, field):
    """:return: Whether a field is what append_row writes in that column"""
    return field in TEXT_COLUMNS[name] if name in TEXT_COLUMNS else bool(_VALUE.match(field))


def _whole_rows(content, columns):
    """
    :param content: A run's CSV, as bytes
    :param columns: Its column names, the step first
    :return: Its whole, well-formed rows, as lists of their fields (older rows padded with what they
             meant): a row cut short (the text after the last line break), a damaged one (another number
             of fields, a field that is not what append_row writes) and the header are left out
    """
    optional = [name for name in columns if name in OPTIONAL_COLUMNS]  # last; older rows lack them
    rows = []
    for line in content.split(b'\n')[:-1]:
        fields = line.rstrip(b'\r').decode('ascii', errors='replace').split(',')
        if not len(columns) - len(optional) <= len(fields) <= len(columns) or not _STEP.match(fields[0]):
            continue
        fields += [OPTIONAL_COLUMNS[name] for name in columns[len(fields):]]
        if all(_well_formed(name, field) for name, field in zip(columns[1:], fields[1:])):
            rows.append(fields)
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
    :return: numpy record array of its whole rows, a float field per column of numbers and a str one per
             column of words (no rows: length 0)
    """
    rows = _whole_rows(_read_bytes(path) or b'', columns)
    types = [(name, 'U8' if name in TEXT_COLUMNS else float) for name in columns]
    return np.array([tuple(field if name in TEXT_COLUMNS else float(field) for name, field in zip(columns, row))
                     for row in rows], dtype=types)


def _csv_text(columns, rows):
    """:return: The CSV of a header and rows of text fields, as append_row writes it (bytes)"""
    text = io.StringIO()
    csv.writer(text).writerows([list(columns)] + rows)
    return text.getvalue().encode('ascii')


def append_row(path, columns, step, values):
    """
    Append a row to a run's CSV, its header first in a new file
    :param columns: The CSV's columns, 'step' first (LOSS_COLUMNS or SWD_COLUMNS)
    :param values: {column: value}; a column of numbers left out is written 'nan'
    """
    new_file = not os.path.exists(path) or os.path.getsize(path) == 0
    with open(path, 'a', newline='') as f:
        writer = csv.writer(f)
        if new_file:
            writer.writerow(columns)
        writer.writerow([step] + [values[name] if name in TEXT_COLUMNS else '{:.6f}'.format(values.get(name, np.nan))
                                  for name in columns[1:]])


def keep_rows_up_to(path, columns, step):
    """
    Rewrite a run's CSV (atomically) to its whole rows up to step, saying so in one line on stderr when
    that changed it. On resume from a checkpoint at step, the rows after it belong to steps that
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
    files.write_atomically(path, write)
    print('note: {} held rows cut short, damaged or after step {}, where the run resumes, or an older header: kept '
          'its {} whole row(s) up to that step'.format(one_line(path), step, len(kept)), file=sys.stderr)
    return True


class RunLog(object):
    """A run's CSV files and sample grids, in its output folder (run_plots draws the curve and the GIF from them)."""

    def __init__(self, output_dir, image_mode):
        """
        :param output_dir: The run's output folder
        :param image_mode: 'RGB' or 'L'
        """
        os.makedirs(output_dir, exist_ok=True)
        self.output_dir = output_dir
        self.image_mode = image_mode
        self.losses_path = os.path.join(output_dir, 'losses.csv')
        self.swd_path = os.path.join(output_dir, 'swd.csv')

    def losses(self, step, d_loss, g_loss, d_real=np.nan, d_fake=np.nan):
        """Record one step's losses, and the means of D's outputs (nan: not known), in losses.csv."""
        append_row(self.losses_path, LOSS_COLUMNS, step,
                   {'d_loss': d_loss, 'g_loss': g_loss, 'd_real': d_real, 'd_fake': d_fake})

    def swd(self, step, distance, floor, ceiling, closed, weights):
        """Record one sliced Wasserstein distance, its baselines, and which weights ('averaged', 'raw') drew it."""
        append_row(self.swd_path, SWD_COLUMNS, step, {'swd': distance, 'swd_real_vs_real': floor,
                                                      'swd_untrained': ceiling, 'gap_closed': closed,
                                                      'weights': weights})

    def untrained_swd(self):
        """:return: The untrained generator's SWD recorded by this run before a resume (each row holds it), or None"""
        rows = read_rows(self.swd_path, SWD_COLUMNS)
        return float(rows['swd_untrained'][0]) if len(rows) else None

    def scored_weights(self):
        """:return: The weights ('averaged' or 'raw') of the last score recorded, or None before any"""
        rows = read_rows(self.swd_path, SWD_COLUMNS)
        return str(rows['weights'][-1]) if len(rows) else None

    def resume_at(self, step):
        """
        On resume: keep losses.csv's and swd.csv's whole rows up to the step resumed from (keep_rows_up_to)
        :param step: The step of the checkpoint restored
        """
        for path, columns in ((self.losses_path, LOSS_COLUMNS), (self.swd_path, SWD_COLUMNS)):
            keep_rows_up_to(path, columns, step)

    def grid(self, step, images, name=None):
        """
        Save a grid of samples as samples_step_NNNNN.png (or name)
        :return: (path of the PNG, the PIL grid)
        """
        path = os.path.join(self.output_dir, name or 'samples_step_{:05d}.png'.format(step))
        return path, pictures.save_grid(images, self.image_mode, path)
