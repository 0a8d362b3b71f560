"""
Tools around a training run, kept out of the notebook script so that it reads as the model:
checkpoints that survive a crash, Ctrl-C that saves, and what a learner watches (sample grids,
a loss log and curve, an animated GIF of the fixed-z grids, TensorBoard event files).
"""
import contextlib
import csv
import dataclasses
import glob
import io
import math
import os
import signal
import tempfile

import numpy as np
from matplotlib.figure import Figure
from PIL import Image
from tqdm import tqdm

import helper

tf = helper.import_tensorflow()

CHECKPOINT_FOLDER = 'checkpoints'
KEEP_CHECKPOINTS = 3
GRID_SCALE = 4  # grids are saved enlarged (nearest neighbour): a 5x5 grid of 28x28 faces is 560x560
CALIBRATION_Z = 1024  # z drawn to recompute the generator's batch-norm statistics before each use


class TrainingStopped(Exception):
    """Training stopped early; the message says why and what to do. exit_code is the process's."""
    exit_code = 1


class TrainingInterrupted(TrainingStopped):
    """Ctrl-C: a checkpoint was saved."""
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
def interrupt_flag():
    """
    While the block runs, Ctrl-C (SIGINT) sets a flag instead of stopping mid-step
    :return: A function that tells whether Ctrl-C was pressed
    """
    pressed = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: pressed.append(signum))
    try:
        yield lambda: bool(pressed)
    finally:
        signal.signal(signal.SIGINT, previous)


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
    enlarged(Image.fromarray(grid[:, :, 0] if image_mode == 'L' else grid)).save(grid_path)
    return paths, grid_path


def enlarged(image, scale=GRID_SCALE):
    """
    :param image: PIL image of a grid of 28x28 faces
    :return: The same, scale times larger with every pixel a square of pixels, so it can be seen
    """
    return image.resize((image.width * scale, image.height * scale), Image.Resampling.NEAREST)


def cpu_has_amx_bfloat16():
    """
    :return: True when the CPU multiplies bfloat16 matrices in hardware (Intel AMX; read from
             /proc/cpuinfo, so False off Linux)
    """
    try:
        with open('/proc/cpuinfo') as cpuinfo:
            return 'amx_bf16' in cpuinfo.read().split()
    except OSError:
        return False


def session_config(precision='float32'):
    """
    Session settings for this machine
    :param precision: 'float32', or 'bfloat16': oneDNN then runs the convolutions and matmuls in
                      bfloat16 while the variables, and Adam, stay float32
    :return: tf.ConfigProto
    """
    # The cores this process may use (a container may get fewer than the machine has), all on each op,
    # one op at a time: a step is a chain of large convolutions. On 2 cores no setting measured faster.
    cores = len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count()
    config = tf.ConfigProto(intra_op_parallelism_threads=cores, inter_op_parallelism_threads=1)
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
        self._saver = tf.train.Saver(max_to_keep=KEEP_CHECKPOINTS)
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
        return save_checkpoint(sess, self._saver, self.options.output_dir, self.step)

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
