"""
Tools around a training run, kept out of the notebook script so that it reads as the model:
checkpoints that survive a crash, a damaged file, a full disk and NaN; Ctrl-C, kill and a closed terminal that
save; and what a learner watches (sample grids, a loss log and curve, an animated GIF of the fixed-z grids,
TensorBoard event files).
"""
import contextlib
import csv
import dataclasses
import errno
import glob
import io
import math
import os
import re
import shutil
import signal
import sys
import tempfile
import uuid

import numpy as np
from google.protobuf import text_format
from matplotlib.figure import Figure
from PIL import Image
from tqdm import tqdm

import helper

tf = helper.import_tensorflow()

CHECKPOINT_FOLDER = 'checkpoints'
CHECKPOINT_NAME = 'model'  # save_checkpoint writes checkpoints/model-STEP.index and .data-* files
KEEP_CHECKPOINTS = 3
GRID_SCALE = 4  # grids are saved enlarged (nearest neighbour): a 5x5 grid of 28x28 faces is 560x560
CALIBRATION_Z = 512  # z drawn to recompute the generator's batch-norm statistics before each use
# A checkpoint's own files: NAME-STEP.index, its data shards NAME-STEP.data-00000-of-00001, ..., a .meta graph
_CHECKPOINT_FILE = re.compile(r'^(?P<name>.+)-(?P<step>\d+)\.(?P<kind>index|data-\d+-of-\d+|meta)$')
# What a save killed part-way leaves: TensorFlow's NAME-STEP.data-*.tempstateN and .index.tempstateN files,
# a sharded Saver's NAME-STEP_temp folder, and the 'checkpoint' index file's checkpoint.tmpHEX
_TEMPORARY_FILE = re.compile(r'^(.+-\d+(\..+\.tempstate\d+|_temp)|checkpoint\.tmp[0-9a-f]+)$')
# Signals that ask a run to stop: Ctrl-C, kill or timeout, and a closing terminal
_STOP_SIGNALS = tuple(getattr(signal, name) for name in ('SIGINT', 'SIGTERM', 'SIGHUP') if hasattr(signal, name))


class TrainingStopped(Exception):
    """Training stopped early; the message says why and what to do. exit_code is the process's."""
    exit_code = 1


class TrainingInterrupted(TrainingStopped):
    """Ctrl-C, kill or a closed terminal (see interrupt_flag): a checkpoint was saved."""
    exit_code = 130


def check_writable(folder):
    """
    Fail early, before any graph is built, when a run's output cannot be written
    :param folder: The output folder (created if missing)
    """
    try:
        os.makedirs(folder, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as err:
        raise TrainingStopped('cannot write to --output-dir {} ({}): choose another folder'
                              .format(folder, err.strerror or err)) from None


def _checkpoints_folder(folder):
    """
    :param folder: A run's output folder or its checkpoints folder
    :return: The folder that holds the checkpoint files
    """
    inner = os.path.join(folder, CHECKPOINT_FOLDER)
    return inner if os.path.isdir(inner) else folder


def _files_by_checkpoint(folder):
    """
    :param folder: A checkpoints folder (missing: none)
    :return: {(name, step): [file names]} of the checkpoint files in it
    """
    found = {}
    for entry in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
        match = _CHECKPOINT_FILE.match(entry)
        if match:
            found.setdefault((match.group('name'), int(match.group('step'))), []).append(entry)
    return found


def checkpoint_prefixes(folder):
    """
    Find checkpoints by their files (NAME-STEP.index), whether or not the 'checkpoint' index file lists them
    :param folder: A checkpoints folder
    :return: Their path prefixes, the highest step first
    """
    found = _files_by_checkpoint(folder)
    complete = [(step, name) for (name, step), files in found.items() if '{}-{}.index'.format(name, step) in files]
    return [os.path.join(folder, '{}-{}'.format(name, step)) for step, name in sorted(complete, reverse=True)]


def _error_line(err):
    """
    :param err: An exception, TensorFlow's included (whose message starts with where the graph failed)
    :return: The line of its message that says what went wrong
    """
    lines = [line.strip() for line in str(getattr(err, 'message', None) or err).splitlines()]
    noise = ('Graph execution error', 'Detected at node', 'Node:', 'File "', '[[', 'Hint:', 'Original stack')
    useful = [line for line in lines if line and not line.startswith(noise)]
    return (useful or lines or [type(err).__name__])[0]


def checkpoint_problem(prefix, finite=True):
    """
    Read every tensor of a checkpoint: each read checks the tensor's checksum, so a truncated or damaged
    file shows. On a 170 MB checkpoint: 0.12 s from the page cache, 0.35-0.4 s from disk; the NaN check adds 0.05 s
    :param prefix: Path prefix of a checkpoint (its path without .index)
    :param finite: Count floating-point values that are NaN or infinite as a problem too
    :return: None for a complete, readable checkpoint, or what is wrong with it, in one line
    """
    try:
        reader = tf.train.NewCheckpointReader(prefix)
        dtypes = reader.get_variable_to_dtype_map()
        values = ((name, reader.get_tensor(name)) for name in sorted(dtypes))  # each one is read
        non_finite = [name for name, value in values
                      if finite and dtypes[name].is_floating and not np.isfinite(value).all()]
    except (tf.errors.OpError, IndexError, ValueError) as err:  # a short read is an IndexError
        return 'unreadable: {}'.format(_error_line(err))
    if non_finite:
        return '{} variable(s) hold NaN or infinity (e.g. {})'.format(len(non_finite), non_finite[0])
    return None


def _first_usable(prefixes):
    """
    :param prefixes: Checkpoint path prefixes, the preferred first
    :return: (the first without a problem or None, [(prefix, problem)] of those before it)
    """
    skipped = []
    for prefix in prefixes:
        problem = checkpoint_problem(prefix)
        if problem is None:
            return prefix, skipped
        skipped.append((prefix, problem))
    return None, skipped


def _describe(skipped):
    """:return: 'model-9 (its problem); model-8 (...)' for [(prefix, problem)]"""
    return '; '.join('{} ({})'.format(os.path.basename(prefix), problem) for prefix, problem in skipped)


def _warn_skipped(skipped, used):
    """One line on stderr naming the checkpoints skipped and the one used instead (nothing if none skipped)."""
    if skipped:
        print('warning: skipped checkpoint {}; using {}'.format(_describe(skipped), used or 'none'), file=sys.stderr)


def latest_checkpoint(folder):
    """
    :param folder: A run's output folder or its checkpoints folder
    :return: Path prefix of the newest complete, readable checkpoint without NaN or infinity, or None;
             newer ones skipped are named in one warning line on stderr
    """
    path, skipped = _first_usable(checkpoint_prefixes(_checkpoints_folder(folder)))
    _warn_skipped(skipped, path)
    return path


def _strip_checkpoint_suffix(path):
    """:return: path without .index, .data-NNNNN-of-NNNNN or .meta, if it names one of a checkpoint's files"""
    match = _CHECKPOINT_FILE.match(os.path.basename(path))
    return path[:-len(match.group('kind')) - 1] if match else path


def find_checkpoint(path, hint="train first, or point at a run's output folder"):
    """
    :param path: A run's output folder, its checkpoints folder, or a checkpoint's path prefix (or one of its files)
    :param hint: What to do when there is no checkpoint there
    :return: Path prefix of the newest complete, readable checkpoint without NaN or infinity there
    :raise TrainingStopped: none there, or none usable
    """
    if os.path.isdir(path):
        prefixes = checkpoint_prefixes(_checkpoints_folder(path))
    else:
        prefix = _strip_checkpoint_suffix(path)
        prefixes = [prefix] if os.path.isfile(prefix + '.index') else []
        if not prefixes and os.path.exists(path):
            raise TrainingStopped('{} is not a checkpoint (no {}.index beside it): {}'.format(path, prefix, hint))
    if not prefixes:
        raise TrainingStopped('no checkpoint in {}: {}'.format(path, hint))
    found, skipped = _first_usable(prefixes)
    if found is None:
        raise TrainingStopped('no usable checkpoint in {}: {}'.format(path, _describe(skipped)))
    _warn_skipped(skipped, found)
    return found


def check_variables(path, expected):
    """
    :param path: Path prefix of a readable checkpoint
    :param expected: {variable name: shape as a list, or None for any shape}
    :raise TrainingStopped: a variable is missing from the checkpoint, or saved with another shape
    """
    saved = dict(tf.train.list_variables(path))
    missing = sorted(name for name in expected if name not in saved)
    if missing:
        raise TrainingStopped('{} lacks {} of the {} variables this model needs (e.g. {}): is it a checkpoint '
                              'of this model?'.format(path, len(missing), len(expected), missing[0]))
    for name, shape in sorted(expected.items()):
        if shape is not None and saved[name] != list(shape):
            raise TrainingStopped('{} does not match this model ({}: saved {}, now {}); use the options the run '
                                  'started with'.format(path, name, saved[name], list(shape)))


def _remove(folder, names):
    """Delete these files and folders of folder (already gone: fine)."""
    for name in names:
        path = os.path.join(folder, name)
        if os.path.isdir(path):
            shutil.rmtree(path, ignore_errors=True)
        elif os.path.lexists(path):
            os.remove(path)


def _temporary_files(folder):
    """:return: Names of what interrupted saves left in folder (see _TEMPORARY_FILE)"""
    return sorted(entry for entry in os.listdir(folder) if _TEMPORARY_FILE.match(entry)) if os.path.isdir(folder) \
        else []


def remove_stale_temporary_files(folder):
    """
    Delete what a save killed part-way (kill -9, a crash) left behind, saying so in one line on stderr
    :param folder: A checkpoints folder
    :return: Names of the files and folders removed
    """
    stale = _temporary_files(folder)
    if stale:
        _remove(folder, stale)
        print('removed {} temporary file(s) an interrupted save left in {}: {}'.format(len(stale), folder,
                                                                                       ', '.join(stale)),
              file=sys.stderr)
    return stale


def _write_checkpoint_index(folder, prefixes):
    """
    Rewrite the 'checkpoint' index file (under a temporary name, then renamed) to list these checkpoints
    :param prefixes: Path prefixes in folder, the newest first
    """
    names = [os.path.basename(prefix) for prefix in prefixes]
    state = tf.train.generate_checkpoint_state_proto(os.path.abspath(folder), names[0], names[::-1])
    temporary = os.path.join(folder, 'checkpoint.tmp' + uuid.uuid4().hex)
    try:
        with open(temporary, 'w') as f:
            f.write(text_format.MessageToString(state))
        os.replace(temporary, os.path.join(folder, 'checkpoint'))
    finally:
        _remove(folder, [os.path.basename(temporary)])  # gone after the rename


def keep_newest_checkpoints(folder, keep=KEEP_CHECKPOINTS, name=CHECKPOINT_NAME):
    """
    Keep the keep NAME-STEP checkpoints with the highest steps, across runs and resumes, delete the other
    NAME-STEP files, and list the kept ones in the 'checkpoint' index file
    :param folder: A checkpoints folder
    :param keep: How many to keep, at least 1
    :param name: The checkpoints' name: others in the folder are left alone
    :return: Path prefixes of the checkpoints kept, the newest first
    """
    if keep < 1:
        raise ValueError('keep must be at least 1, not {}'.format(keep))
    kept = [prefix for prefix in checkpoint_prefixes(folder) if os.path.basename(prefix).rsplit('-', 1)[0] == name]
    kept = kept[:keep]
    for (found_name, step), files in _files_by_checkpoint(folder).items():
        if found_name == name and os.path.join(folder, '{}-{}'.format(name, step)) not in kept:
            _remove(folder, files)
    if kept:
        _write_checkpoint_index(folder, kept)
    return kept


def non_finite_check(variables=None):
    """
    Build, while the graph can still grow, one op per floating-point variable telling whether all of it is finite
    :param variables: The variables to watch (None: the default graph's global variables)
    :return: A function of a session: names of the watched variables holding NaN or infinity (one sess.run)
    """
    variables = tf.global_variables() if variables is None else variables
    watched = [v for v in variables if v.dtype.base_dtype.is_floating]
    with tf.name_scope('non_finite_check'):
        finite = [tf.reduce_all(tf.is_finite(v)) for v in watched]

    def non_finite_variables(sess):
        return [v.op.name for v, ok in zip(watched, sess.run(finite)) if not ok]
    return non_finite_variables


def _size(n_bytes):
    """:return: A size for people: '0.4 kB', '170.2 MB', '82.8 GB'"""
    for unit, scale in (('GB', 1e9), ('MB', 1e6)):
        if n_bytes >= scale:
            return '{:.1f} {}'.format(n_bytes / scale, unit)
    return '{:.1f} kB'.format(n_bytes / 1e3)


def _checkpoint_bytes(prefix, graph):
    """
    :param prefix: Path prefix of a checkpoint, or None
    :return: Bytes its files take, or with None, the bytes of graph's global variables
    """
    if prefix:
        return sum(os.path.getsize(path) for path in glob.glob(glob.escape(prefix) + '.*'))
    return sum(v.dtype.base_dtype.size * (v.shape.num_elements() or 0)
               for v in graph.get_collection(tf.GraphKeys.GLOBAL_VARIABLES))


def _remove_partial_save(folder, prefix):
    """
    After a failed save: delete temporary files, and prefix's files unless they make a complete checkpoint
    (the failure came after them, writing the 'checkpoint' index file)
    """
    _remove(folder, _temporary_files(folder))
    if not os.path.isfile(prefix + '.index') or checkpoint_problem(prefix, finite=False):
        name, step = os.path.basename(prefix).rsplit('-', 1)
        _remove(folder, _files_by_checkpoint(folder).get((name, int(step)), []))


def _save_failed(err, folder, prefix, graph):
    """
    :param err: What the save raised
    :return: One line: what failed, what a checkpoint needs and what is free, the last good checkpoint
    """
    last = latest_checkpoint(folder)
    kept = 'the last good checkpoint is {}'.format(last) if last else 'there is no good checkpoint yet'
    if isinstance(err, tf.errors.ResourceExhaustedError) or getattr(err, 'errno', None) == errno.ENOSPC \
            or 'No space left' in str(err):
        return ('the disk is full: could not save {} (a checkpoint needs about {}; {} free); partial files removed, '
                '{}. Free some space, then --resume'.format(prefix, _size(_checkpoint_bytes(last, graph)),
                                                            _size(shutil.disk_usage(folder).free), kept))
    return 'could not save {} ({}); partial files removed, {}'.format(prefix, _error_line(err), kept)


def save_checkpoint(sess, saver, output_dir, step, *, keep=KEEP_CHECKPOINTS, finite_check=None):
    """
    Save every variable (weights, Adam's moments, batch-norm averages, the sample z, the step), then keep only
    the newest keep checkpoints in the folder (the Saver's max_to_keep forgets those of earlier runs)
    :param finite_check: From non_finite_check(), built with the graph: refuse to save NaN or infinity
    :return: Path prefix of the checkpoint
    :raise TrainingStopped: variables are not finite; the disk is full or the write failed (partial files removed)
    """
    folder = os.path.join(output_dir, CHECKPOINT_FOLDER)
    prefix = os.path.join(folder, '{}-{}'.format(CHECKPOINT_NAME, step))
    os.makedirs(folder, exist_ok=True)
    remove_stale_temporary_files(folder)
    non_finite = finite_check(sess) if finite_check else []
    if non_finite:
        raise TrainingStopped('{} variable(s) hold NaN or infinity at step {} (e.g. {}): not saved; the last finite '
                              'checkpoint is {}. Lower --learning-rate and --resume from it'
                              .format(len(non_finite), step, non_finite[0], latest_checkpoint(output_dir) or 'none'))
    try:
        path = saver.save(sess, os.path.join(folder, CHECKPOINT_NAME), global_step=step, write_meta_graph=False)
    except (tf.errors.OpError, OSError) as err:
        _remove_partial_save(folder, prefix)
        raise TrainingStopped(_save_failed(err, folder, prefix, sess.graph)) from None
    try:
        keep_newest_checkpoints(folder, keep)
    except OSError as err:  # rewriting the index file on a full disk; the checkpoint itself is complete
        raise TrainingStopped(_save_failed(err, folder, prefix, sess.graph)) from None
    return path


def restore_or_initialize(sess, saver, output_dir, resume):
    """
    Start a run: remove what an interrupted save left, then restore the newest usable checkpoint or initialize
    :param resume: Continue from the newest usable checkpoint in output_dir (or, a path: from that checkpoint)
    :return: The step to continue from (0 for a new run)
    :raise TrainingStopped: no usable checkpoint, or one of another model
    """
    remove_stale_temporary_files(os.path.join(output_dir, CHECKPOINT_FOLDER))
    if not resume:
        sess.run(tf.global_variables_initializer())
        return 0
    path = find_checkpoint(resume if isinstance(resume, str) else output_dir, hint='train without --resume first')
    # Restoring does not check shapes, so compare them first (say, another --z-dim)
    variables = sess.graph.get_collection(tf.GraphKeys.GLOBAL_VARIABLES)
    check_variables(path, {v.op.name: v.shape.as_list() for v in variables})
    try:
        saver.restore(sess, path)
    except tf.errors.OpError as err:
        raise TrainingStopped('cannot restore {}: {}'.format(path, _error_line(err))) from None
    return int(sess.run(tf.train.get_global_step(sess.graph)))


@contextlib.contextmanager
def _handling(signals, handler):
    """While the block runs, handler handles these signals; their handlers before are restored after."""
    previous = {signum: signal.signal(signum, handler) for signum in signals}
    try:
        yield
    finally:
        for signum, before in previous.items():
            signal.signal(signum, signal.SIG_DFL if before is None else before)


@contextlib.contextmanager
def interrupt_flag():
    """
    While the block runs, Ctrl-C (SIGINT), kill (SIGTERM) and a closing terminal (SIGHUP) set a flag instead of
    stopping mid-step
    :return: A function that tells whether one of them came
    """
    received = []
    with _handling(_STOP_SIGNALS, lambda signum, frame: received.append(signum)):
        yield lambda: bool(received)


@contextlib.contextmanager
def signals_as_keyboard_interrupt():
    """
    While the block runs (start-up, before interrupt_flag), SIGTERM and SIGHUP raise KeyboardInterrupt as
    Ctrl-C does, so the one handler at the top stops the program quietly
    """
    with _handling([signum for signum in _STOP_SIGNALS if signum != signal.SIGINT], helper.stop_as_ctrl_c):
        yield


class RunLog(object):
    """
    What a run leaves to look at, in its output folder: sample grids, losses.csv, loss_curve.png,
    samples.gif, and with a logdir, TensorBoard event files.
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
        grid = enlarged(helper.images_square_grid(images, self.image_mode))
        path = os.path.join(self.output_dir, name or 'samples_step_{:05d}.png'.format(step))
        save_image(grid, path)
        if self.writer:
            png = io.BytesIO()
            grid.save(png, format='PNG')
            image = tf.Summary.Image(height=grid.height, width=grid.width, encoded_image_string=png.getvalue(),
                                     colorspace=1 if self.image_mode == 'L' else 3)
            self.writer.add_summary(tf.Summary(value=[tf.Summary.Value(tag='samples', image=image)]), step)
        return path, grid

    def loss_curve(self):
        """
        Plot losses.csv (the whole run, across resumes) to loss_curve.png
        :return: Path of the PNG, or None before any losses were recorded
        """
        if not os.path.exists(self.losses_path):
            return None
        rows = np.atleast_1d(np.genfromtxt(self.losses_path, delimiter=',', names=True))
        with_swd = os.path.exists(self.swd_path)
        fig = Figure(figsize=(7, 7 if with_swd else 4))
        ax, swd_ax = fig.subplots(2, 1, sharex=True) if with_swd else (fig.subplots(), None)
        if swd_ax is not None:
            swd = np.atleast_1d(np.genfromtxt(self.swd_path, delimiter=',', names=True))
            swd_ax.plot(swd['step'], swd['swd'], 'o-', label='generated vs held-out real')
            swd_ax.axhline(swd['swd_real_vs_real'][0], color='green', linestyle='--', label='real vs real')
            swd_ax.set_ylabel('sliced Wasserstein distance')
            swd_ax.set_xlabel('step')
            swd_ax.legend()
            swd_ax.grid(alpha=0.3)
        ax.plot(rows['step'], rows['d_loss'], label='Discriminator')
        ax.plot(rows['step'], rows['g_loss'], label='Generator')
        if swd_ax is None:
            ax.set_xlabel('step')
        ax.set_ylabel('loss')
        ax.legend()
        ax.grid(alpha=0.3)
        path = os.path.join(self.output_dir, 'loss_curve.png')
        fig.savefig(path, dpi=100, bbox_inches='tight')
        return path

    def animation(self, frame_ms=400):
        """
        Animate the fixed-z grids, in step order and the final one last, into samples.gif (written
        under a temporary name)
        :return: Path of the GIF, or None without grids
        """
        paths = sorted(glob.glob(os.path.join(self.output_dir, 'samples_step_*.png')))
        paths += glob.glob(os.path.join(self.output_dir, 'samples_final.png'))
        if not paths:
            return None
        frames = []
        for frame_path in paths:
            with Image.open(frame_path) as frame:
                frames.append(frame.convert('RGB'))
        path = os.path.join(self.output_dir, 'samples.gif')
        frames[0].save(path + '.tmp', format='GIF', save_all=True, append_images=frames[1:],
                       duration=frame_ms, loop=0)
        os.replace(path + '.tmp', path)
        return path

    def close(self):
        """Flush and close TensorBoard's event file (again is harmless)."""
        if self.writer:
            self.writer.close()
            self.writer = None


def save_image(image, path):
    """Save a PIL image under a temporary name, then rename it: a reader never sees half a file."""
    temporary = '{}.tmp{}{}'.format(path, os.getpid(), os.path.splitext(path)[1])
    try:
        image.save(temporary)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def _pixels(images):
    """:return: Generator output in [-1, 1] as uint8 pixels"""
    return np.clip(np.round((np.asarray(images) + 1) * 127.5), 0, 255).astype(np.uint8)


def _pil(pixels, image_mode):
    """:return: A PIL image of (h, w, C) uint8 pixels"""
    return Image.fromarray(pixels[:, :, 0] if image_mode == 'L' else pixels)


def write_faces(images, output_dir, image_mode, first=0):
    """
    Write each image as face_NNN.png, numbered from first
    :param images: Generator output in [-1, 1], shape (n, 28, 28, C)
    :return: List of the paths
    """
    paths = []
    for i, pixels in enumerate(_pixels(images), start=first):
        paths.append(os.path.join(output_dir, 'face_{:03d}.png'.format(i)))
        save_image(_pil(pixels, image_mode), paths[-1])
    return paths


def write_grid(images, output_dir, image_mode):
    """
    Write the images as grid.png: in rows of a square's side, blank tiles at the end, 4x enlarged
    :param images: Generator output in [-1, 1], shape (n, 28, 28, C)
    :return: Path of the grid
    """
    pixels = _pixels(images)
    side = math.ceil(math.sqrt(len(pixels)))
    padded = np.concatenate([pixels, np.zeros((side * side - len(pixels),) + pixels.shape[1:], np.uint8)])
    grid = padded.reshape(side, side, *pixels.shape[1:]).swapaxes(1, 2).reshape(
        side * pixels.shape[1], side * pixels.shape[2], pixels.shape[3])
    path = os.path.join(output_dir, 'grid.png')
    save_image(enlarged(_pil(grid, image_mode)), path)
    return path


def enlarged(image, scale=GRID_SCALE):
    """
    :param image: PIL image of a grid of 28x28 faces
    :return: The same, scale times larger with every pixel a square of pixels, so it can be seen
    """
    return image.resize((image.width * scale, image.height * scale), Image.Resampling.NEAREST)


# /proc/cpuinfo's flags for bfloat16 arithmetic in hardware, which oneDNN's bfloat16 rewrite uses:
# Intel AMX tiles, or AVX-512's bfloat16 dot products (Intel since Cooper Lake, AMD since Zen 4)
BFLOAT16_FLAGS = ('amx_bf16', 'avx512_bf16')


def cpu_bfloat16_support(cpuinfo='/proc/cpuinfo'):
    """
    :param cpuinfo: The file that lists the CPU's flags (a test gives a fake one)
    :return: The flag that makes bfloat16 native here, as 'AMX_BF16' or 'AVX512_BF16', or None
             (neither, or no such file: off Linux)
    """
    try:
        with open(cpuinfo) as text:
            flags = set(text.read().split())
    except OSError:
        return None
    return next((flag.upper() for flag in BFLOAT16_FLAGS if flag in flags), None)


def usable_cores():
    """:return: The number of cores this process may use (a container may get fewer than the machine has)"""
    return len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count()


def session_config(precision='float32'):
    """
    Session settings for this machine
    :param precision: 'float32', or 'bfloat16': oneDNN then runs the convolutions and matmuls in
                      bfloat16 while the variables, and Adam, stay float32
    :return: tf.ConfigProto
    """
    # The cores this process may use, all on each op, one op at a time: a step is a chain of large
    # convolutions. On 2 cores no setting measured faster.
    config = tf.ConfigProto(intra_op_parallelism_threads=usable_cores(), inter_op_parallelism_threads=1)
    if precision == 'bfloat16':
        rewrites = config.graph_options.rewrite_options
        rewrites.auto_mixed_precision_onednn_bfloat16 = rewrites.ON
    return config


@contextlib.contextmanager
def _no_new_update_ops():
    """Take the batch-norm update ops registered inside this block back out of UPDATE_OPS."""
    update_ops = tf.get_collection_ref(tf.GraphKeys.UPDATE_OPS)
    registered = len(update_ops)
    yield
    del update_ops[registered:]


def build_batch_norm_calibration(generator, z_dim, out_channel_dim, count=None):
    """
    Build the op that sets the generator's batch-norm moving averages to the exact statistics of its
    current weights ("precise batch norm": Wu & Johnson, Rethinking "Batch" in BatchNorm, 2021)
    The averages that training keeps (momentum 0.99) lag the weights by hundreds of steps, so
    inference mode drew washed-out faces after a short run. This op runs the generator in training
    mode, without dropout, on count fresh z, and assigns each batch norm the mean and variance of
    its input over that batch. Inference mode then equals training mode on a large batch, and each
    image still depends on its own z only.
    :param generator: The notebook's generator function; its variables must exist already
    :param z_dim: The dimension of Z
    :param out_channel_dim: The number of channels in the output image
    :param count: How many z to draw (None: CALIBRATION_Z)
    :return: The op
    """
    graph = tf.get_default_graph()
    known = set(graph.get_operations())
    z = tf.random_uniform((count or CALIBRATION_Z, z_dim), -1, 1)
    with tf.variable_scope(tf.get_variable_scope(), reuse=True), _no_new_update_ops():
        generator(z, out_channel_dim, is_train=True, keep_prob=1.0)
    variables = {var.op: var for var in tf.global_variables()}
    assignments = []
    for op in graph.get_operations():
        if op in known or not op.type.startswith('FusedBatchNorm'):
            continue
        # A batch norm op's inputs: x, gamma, beta, then reads of the moving mean and variance
        axes = [0, 1, 2] if op.get_attr('data_format') == b'NHWC' else [0, 2, 3]
        mean, variance = tf.nn.moments(op.inputs[0], axes)
        for read, value in ((op.inputs[3], mean), (op.inputs[4], variance)):
            assignments.append(tf.assign(variables[read.op.inputs[0].op], value))
    return tf.group(*assignments)


@dataclasses.dataclass
class RunOptions(object):
    """What the command line decides about a training run beyond the notebook's hyperparameters."""
    output_dir: str = 'output'
    max_steps: int = None  # stop at this step (None: when the last epoch ends)
    save_every: int = 500  # save a checkpoint every this many steps, and at the end
    resume: bool = False  # continue from the newest checkpoint in output_dir
    logdir: str = None  # folder for TensorBoard event files (None: none)
    tracker: object = None  # sliced_wasserstein.Tracker of held-out real images (None: no scores)
    eval_every: int = 100  # score the samples every this many steps
    precision: str = 'float32'  # 'float32' or 'bfloat16' (see session_config)
    update_order: str = 'simultaneous'  # or 'alternating': the Udacity template's two runs a step
    n_samples: int = 25  # images in each grid
    keep_checkpoints: int = KEEP_CHECKPOINTS  # the newest checkpoints kept, across resumes too
    calibration_z: int = None  # z drawn to recompute the generator's batch-norm statistics (None: CALIBRATION_Z)


class TrainingRun(object):
    """
    Everything around train()'s loop, so that the loop reads as the notebook's: the fixed sample z,
    the session, resuming, the progress bar, when to stop, checkpoints, batch-norm calibration,
    scores, the run's log and Ctrl-C. Build it after model_opt, before the session.
    """
    def __init__(self, options, generator, z_dim, out_channel_dim, image_mode):
        """
        :param options: RunOptions
        :param generator: The notebook's generator function (its variables exist already)
        :param z_dim: The dimension of Z
        :param out_channel_dim: The number of channels in the output image
        :param image_mode: 'RGB' or 'L'
        """
        self.options = options
        self.step = 0
        # A variable, so checkpoints keep it: grids stay comparable across --resume
        sample_z = tf.Variable(np.random.uniform(-1, 1, size=(options.n_samples, z_dim)).astype(np.float32),
                               trainable=False, name='sample_z')
        self._samples = generator(sample_z, out_channel_dim, is_train=False)
        self._eval_samples = None
        if options.tracker:  # scored as generate draws: inference mode, from its own fixed z
            eval_z = np.random.uniform(-1, 1, size=(len(options.tracker.held_out), z_dim))
            self._eval_samples = generator(tf.constant(eval_z, tf.float32), out_channel_dim, is_train=False)
        self._calibrate = build_batch_norm_calibration(generator, z_dim, out_channel_dim,
                                                       options.calibration_z or CALIBRATION_Z)
        self._calibrated_at = None
        self._step_value = tf.placeholder(tf.int64, ())
        self._set_step = tf.assign(tf.train.get_or_create_global_step(), self._step_value)
        self._finite_check = non_finite_check()  # no checkpoint of NaN weights
        self._saver = tf.train.Saver(max_to_keep=options.keep_checkpoints)
        self.log = RunLog(options.output_dir, image_mode, options.logdir, tf.get_default_graph())
        self._bar = self._interrupted = self._stop_reason = None

    @contextlib.contextmanager
    def session(self):
        """
        A session with every variable initialized or restored (--resume) and the graph finalized; on a
        normal exit it saves the last checkpoint and scores the last samples, then prints a summary
        :return: The tf.Session
        """
        options = self.options
        with contextlib.closing(self.log), tf.Session(config=session_config(options.precision)) as sess:
            self.step = restore_or_initialize(sess, self._saver, options.output_dir, options.resume)
            tf.get_default_graph().finalize()  # nothing may add ops from here on
            if options.tracker:
                options.tracker.ceiling = self.log.untrained_swd()  # None for a new run: its first score sets it
                if self.step == 0:
                    self._evaluate(sess)
            with interrupt_flag() as self._interrupted:
                yield sess
            self._save(sess)
            if options.tracker and self.step % options.eval_every:
                self._evaluate(sess)  # the final score
        self._print_summary()

    def batches(self, get_batches, batch_size, epoch_count, image_count):
        """
        The batches to train on: epoch after epoch (a new order each), until epoch_count epochs or
        --max-steps steps, whichever comes first; a resumed run skips the steps it has done
        :param get_batches: Function to get batches
        :param batch_size: Batch Size
        :param epoch_count: Number of epochs
        :param image_count: Images in the dataset
        :return: Generator of (epoch index, batch); call step_done after each
        """
        steps_per_epoch = image_count // batch_size
        last_step = epoch_count * steps_per_epoch
        self._stop_reason = '{} epoch{} done'.format(epoch_count, 's' if epoch_count > 1 else '')
        if self.options.max_steps is not None and self.options.max_steps <= last_step:
            last_step = self.options.max_steps
            self._stop_reason = '--max-steps {} reached'.format(last_step)
        self._bar = tqdm(total=last_step, initial=min(self.step, last_step), unit='step', leave=False)
        while self.step < last_step:
            epoch_i, skip = divmod(self.step, steps_per_epoch)
            self._bar.set_description('Epoch {}/{}'.format(epoch_i + 1, epoch_count))
            for batch_i, batch in enumerate(get_batches(batch_size)):
                if batch_i >= skip:  # resumed mid-epoch: the batches before were trained on
                    yield epoch_i, batch
                if self.step >= last_step:
                    break
        self._bar.close()

    def step_done(self, sess, d_loss, g_loss):
        """
        After each step: log the losses, stop on NaN, score and save when due, stop on Ctrl-C
        :param sess: TensorFlow session
        :param d_loss: The step's discriminator loss
        :param g_loss: The step's generator loss
        :return: The number of steps done
        """
        self.step += 1
        self._stop_unless_finite(d_loss, g_loss)
        self.log.losses(self.step, d_loss, g_loss)
        self._bar.set_postfix(d_loss='{:.3f}'.format(d_loss), g_loss='{:.3f}'.format(g_loss), refresh=False)
        self._bar.update()
        if self.options.tracker and self.step % self.options.eval_every == 0:
            self._evaluate(sess)
        if self.step % self.options.save_every == 0:
            self._save(sess)
        if self._interrupted():
            self._save_and_stop(sess)
        return self.step

    def samples(self, sess, final=False):
        """
        Draw the fixed-z samples in inference mode, as generate does, and save their grid
        :param final: Save it as samples_final.png rather than samples_step_NNNNN.png
        :return: The images, shape (n_samples, 28, 28, C), in [-1, 1]
        """
        self._calibrate_batch_norm(sess)
        images = sess.run(self._samples)
        self.log.grid(self.step, images, name='samples_final.png' if final else None)
        return images

    def _calibrate_batch_norm(self, sess):
        """Set the generator's batch-norm averages from its current weights, once per step at most."""
        if self._calibrated_at != self.step:
            sess.run(self._calibrate)
            self._calibrated_at = self.step

    def _save(self, sess):
        """:return: Path of a checkpoint of every variable, with calibrated batch-norm averages"""
        self._calibrate_batch_norm(sess)
        sess.run(self._set_step, {self._step_value: self.step})
        return save_checkpoint(sess, self._saver, self.options.output_dir, self.step,
                               keep=self.options.keep_checkpoints, finite_check=self._finite_check)

    def _evaluate(self, sess):
        """Score generated images against held-out real ones; print, log and plot the number."""
        tracker = self.options.tracker
        self._calibrate_batch_norm(sess)
        distance, closed = tracker.score(sess.run(self._eval_samples))
        self.log.swd(self.step, distance, tracker.floor, tracker.ceiling, closed)
        tqdm.write('Step {}... SWD: {:.4f} (real vs real {:.4f}, untrained {:.4f}): {:.0%} of the gap closed'
                   .format(self.step, distance, tracker.floor, tracker.ceiling, closed))

    def _stop_unless_finite(self, d_loss, g_loss):
        """A NaN or infinite loss stops training without saving the broken weights."""
        if np.isfinite(d_loss) and np.isfinite(g_loss):
            return
        self._bar.close()
        raise TrainingStopped(
            'the losses became {}/{} at step {}: stopped without saving; the last good checkpoint is {}. Lower '
            '--learning-rate and --resume from it'.format(d_loss, g_loss, self.step,
                                                          latest_checkpoint(self.options.output_dir) or 'none'))

    def _save_and_stop(self, sess):
        """Ctrl-C: save a checkpoint, then stop with the command to resume."""
        self._bar.close()
        path = self._save(sess)
        raise TrainingInterrupted('interrupted at step {}: saved {}. Resume with the same command and '
                                  '--resume (its --output-dir {})'.format(self.step, path, self.options.output_dir))

    def _print_summary(self):
        """Write the loss curve and the GIF, close TensorBoard's file, and say where everything is."""
        output_dir, logdir = self.options.output_dir, self.options.logdir
        names = ['samples_final.png']
        grids = len(glob.glob(os.path.join(output_dir, 'samples_step_*.png')))
        if grids:
            names.append('{} x samples_step_*.png'.format(grids))
        names += [os.path.basename(path) for path in (self.log.loss_curve(), self.log.animation()) if path]
        names.append(CHECKPOINT_FOLDER + '/')
        self.log.close()
        print('Done at step {} ({}). In {}: {}{}'.format(
            self.step, self._stop_reason or 'nothing left to do', output_dir, ', '.join(names),
            '; TensorBoard: tensorboard --logdir {}'.format(logdir) if logdir else ''))
