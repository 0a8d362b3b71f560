"""
Tools around a training run, kept out of the notebook script so that it reads as the model:
checkpoints that survive a crash; Ctrl-C, kill and a closed terminal that save; and what a learner watches
(sample grids, a loss log and curve, an animated GIF of the fixed-z grids, TensorBoard event files).
"""
import contextlib
import csv
import glob
import io
import math
import os
import signal
import tempfile

import numpy as np
from matplotlib.figure import Figure
from PIL import Image

import helper

tf = helper.import_tensorflow()

CHECKPOINT_FOLDER = 'checkpoints'
KEEP_CHECKPOINTS = 3
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


def latest_checkpoint(folder):
    """
    :param folder: A run's output folder or its checkpoints folder
    :return: Path prefix of the newest complete checkpoint, or None
    """
    for candidate in (os.path.join(folder, CHECKPOINT_FOLDER), folder):
        if os.path.isdir(candidate):
            # TensorFlow rewrites its 'checkpoint' index file atomically after a save completes,
            # so a save that crashed part-way is never the one named here
            path = tf.train.latest_checkpoint(candidate)
            if path:
                return path
    return None


def save_checkpoint(sess, saver, output_dir, step):
    """
    Save every variable (weights, Adam's moments, batch-norm averages, the sample z, the step)
    :return: Path prefix of the checkpoint
    """
    return saver.save(sess, os.path.join(output_dir, CHECKPOINT_FOLDER, 'model'), global_step=step,
                      write_meta_graph=False)


def restore_or_initialize(sess, saver, output_dir, resume):
    """
    :param resume: Continue from the newest checkpoint in output_dir
    :return: The step to continue from (0 for a new run)
    """
    if not resume:
        sess.run(tf.global_variables_initializer())
        return 0
    path = latest_checkpoint(output_dir)
    if path is None:
        raise TrainingStopped('--resume: no checkpoint in {}: train without --resume first'
                              .format(os.path.join(output_dir, CHECKPOINT_FOLDER)))
    # Restoring does not check shapes, so compare them first (say, another --z-dim)
    saved = dict(tf.train.list_variables(path))
    for variable in tf.global_variables():
        if saved.get(variable.op.name) != variable.shape.as_list():
            raise TrainingStopped('--resume: {} does not match this model ({}: saved {}, now {}); resume with the '
                                  'options the run started with'.format(path, variable.op.name,
                                                                        saved.get(variable.op.name),
                                                                        variable.shape.as_list()))
    saver.restore(sess, path)
    return int(sess.run(tf.train.get_global_step()))


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


def _raise_keyboard_interrupt(signum, frame):
    """A signal handler: stop the way Ctrl-C does."""
    raise KeyboardInterrupt(signal.Signals(signum).name)


@contextlib.contextmanager
def signals_as_keyboard_interrupt():
    """
    While the block runs (start-up, before interrupt_flag), SIGTERM and SIGHUP raise KeyboardInterrupt as
    Ctrl-C does, so the one handler at the top stops the program quietly
    """
    with _handling([signum for signum in _STOP_SIGNALS if signum != signal.SIGINT], _raise_keyboard_interrupt):
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

    def losses(self, step, d_loss, g_loss, d_real, d_fake):
        """
        Record one line of losses, and the mean discriminator outputs on real and generated images
        """
        self._record(self.losses_path, step, [('d_loss', d_loss), ('g_loss', g_loss), ('d_real', d_real),
                                              ('d_fake', d_fake)])

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
        grid = helper.images_square_grid(images, self.image_mode)
        path = os.path.join(self.output_dir, name or 'samples_step_{:05d}.png'.format(step))
        grid.save(path)
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

    def animation(self, scale=3, frame_ms=400):
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
                frames.append(frame.convert('RGB').resize((frame.width * scale, frame.height * scale),
                                                         Image.Resampling.NEAREST))
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


def write_images(images, output_dir, image_mode):
    """
    Write each image as face_NNN.png and all of them as grid.png, from generator output in [-1, 1]
    :return: (list of face paths, grid path)
    """
    os.makedirs(output_dir, exist_ok=True)
    pixels = np.clip(np.round((images + 1) * 127.5), 0, 255).astype(np.uint8)
    paths = []
    for i, image in enumerate(pixels):
        paths.append(os.path.join(output_dir, 'face_{:03d}.png'.format(i)))
        Image.fromarray(image[:, :, 0] if image_mode == 'L' else image).save(paths[-1])
    side = math.ceil(math.sqrt(len(images)))  # every image, in rows of side; blank tiles at the end
    padded = np.concatenate([pixels, np.zeros((side * side - len(images),) + pixels.shape[1:], np.uint8)])
    grid_path = os.path.join(output_dir, 'grid.png')
    grid = padded.reshape(side, side, *pixels.shape[1:]).swapaxes(1, 2).reshape(
        side * pixels.shape[1], side * pixels.shape[2], pixels.shape[3])
    Image.fromarray(grid[:, :, 0] if image_mode == 'L' else grid).save(grid_path)
    return paths, grid_path
