"""
Everything around train()'s loop, so that the loop reads as the Udacity template's: the fixed sample
z, the session, resuming, the progress bar, when to stop, checkpoints, batch-norm calibration,
scores, the run's log and Ctrl-C. Each job is a small class; TrainingRun puts them together.
"""
import contextlib
import dataclasses
import glob
import os

import numpy as np
from tqdm import tqdm

from facegan import batch_norm, checkpoints, interrupts, run_plots
from facegan.run_warnings import RunWatcher
from facegan.errors import TrainingInterrupted, TrainingStopped
from facegan.learner_code import call_generator
from facegan.run_log import RunLog
from facegan.tensorflow_setup import import_tensorflow, session_config

tf = import_tensorflow()


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
    precision: str = 'float32'  # 'float32' or 'bfloat16' (see tensorflow_setup.session_config)
    update_order: str = 'simultaneous'  # or 'alternating': two session.run calls a step
    fast_layers: bool = True  # tf.layers.conv2d_transpose as matrix products while train() builds its graph
    n_samples: int = 25  # images in each grid
    keep_checkpoints: int = checkpoints.KEEP_CHECKPOINTS  # the newest checkpoints kept, across resumes too
    calibration_z: int = None  # z drawn to recompute the generator's batch-norm statistics (None: CALIBRATION_Z)


class Schedule(object):
    """Which batches to train on, when to stop, and the progress bar that shows it."""

    def __init__(self, epoch_count, steps_per_epoch, max_steps, step):
        """
        :param epoch_count: Number of epochs
        :param steps_per_epoch: Batches in an epoch
        :param max_steps: Stop at this step (None: when the last epoch ends)
        :param step: Steps done before (a resumed run)
        """
        self.epoch_count, self.steps_per_epoch = epoch_count, steps_per_epoch
        self.last_step = epoch_count * steps_per_epoch
        self.stop_reason = '{} epoch{} done'.format(epoch_count, 's' if epoch_count > 1 else '')
        if max_steps is not None and max_steps <= self.last_step:
            self.last_step = max_steps
            self.stop_reason = '--max-steps {} reached'.format(max_steps)
        self.step = step
        self.bar = tqdm(total=self.last_step, initial=min(step, self.last_step), unit='step', leave=False)

    def untrained(self, batches, epoch_i):
        """
        :param batches: The epoch's batches, get_batches(batch_size)
        :param epoch_i: The epoch's index
        :return: Generator of the batches not trained on yet: a resumed run skips those it did, and
                 the last epoch ends at --max-steps
        """
        first, end = epoch_i * self.steps_per_epoch, min((epoch_i + 1) * self.steps_per_epoch, self.last_step)
        if self.step >= end:
            return
        self.bar.set_description('Epoch {}/{}'.format(epoch_i + 1, self.epoch_count))
        for batch_i, batch in enumerate(batches):
            if first + batch_i >= self.step:  # resumed mid-epoch: the batches before were trained on
                yield batch
            if self.step >= end:
                return

    def step_done(self, d_loss, g_loss, d_view=None):
        """
        :param d_view: discriminator_view.DiscriminatorView of the step's per-image D(x) and D(G(z)), or None
        :return: The number of steps done, one more; the bar shows it, the losses and the means of D's outputs
        """
        self.step += 1
        shown = {'d_loss': d_loss, 'g_loss': g_loss}
        if d_view:
            shown.update({'D(x)': np.mean(d_view.real), 'D(G(z))': np.mean(d_view.fake)})
        self.bar.set_postfix({name: '{:.3f}'.format(value) for name, value in shown.items()}, refresh=False)
        self.bar.update()
        return self.step

    def close(self):
        """Take the progress bar off the screen."""
        self.bar.close()


class Saving(object):
    """Checkpoints of every variable, with the step and calibrated batch-norm averages, refusing NaN."""

    def __init__(self, options):
        """:param options: RunOptions. Build it with the graph, after every variable."""
        self.options = options
        self._step_value = tf.placeholder(tf.int64, ())
        self._set_step = tf.assign(tf.train.get_or_create_global_step(), self._step_value)
        self._finite_check = checkpoints.non_finite_check()  # no checkpoint of NaN weights
        self._saver = tf.train.Saver(max_to_keep=options.keep_checkpoints)

    def start(self, sess):
        """:return: The step to continue from: 0, or a resumed checkpoint's"""
        return checkpoints.restore_or_initialize(sess, self._saver, self.options.output_dir, self.options.resume)

    def save(self, sess, step):
        """:return: Path of a checkpoint of every variable at this step"""
        sess.run(self._set_step, {self._step_value: step})
        return checkpoints.save_checkpoint(sess, self._saver, self.options.output_dir, step,
                                           keep=self.options.keep_checkpoints, finite_check=self._finite_check)


class Scoring(object):
    """The sliced Wasserstein distance of generated images, drawn as generate draws them, to held-out real ones."""

    def __init__(self, tracker, generator, z_dim, out_channel_dim):
        """
        :param tracker: sliced_wasserstein.Tracker of held-out real images
        :param generator: The notebook's generator function (its variables exist already)
        """
        self.tracker = tracker
        eval_z = np.random.uniform(-1, 1, size=(len(tracker.held_out), z_dim))
        self._images = call_generator(generator, tf.constant(eval_z, tf.float32), out_channel_dim,
                                      'to draw the images that are scored', is_train=False)

    def score(self, sess, step, log):
        """
        Score generated images against held-out real ones; print, log and plot the number
        :return: The score (sliced Wasserstein distance)
        """
        tracker = self.tracker
        distance, closed = tracker.score(sess.run(self._images))
        log.swd(step, distance, tracker.floor, tracker.ceiling, closed)
        tqdm.write('Step {}... SWD: {:.4f} (real vs real {:.4f}, untrained {:.4f}): {:.0%} of the gap closed'
                   .format(step, distance, tracker.floor, tracker.ceiling, closed))
        return distance


class TrainingRun(object):
    """
    Everything around train()'s loop. Build it after model_opt (all variables exist), then
    `with run.session(epoch_count, steps_per_epoch) as sess:`, train on `run.untrained(...)`'s
    batches, fetch `run.d_view` with the discriminator's update and call step_done after each step.
    """

    def __init__(self, options, generator, z_dim, out_channel_dim, image_mode, d_view=None):
        """
        :param options: RunOptions
        :param generator: The notebook's generator function (its variables exist already)
        :param z_dim: The dimension of Z
        :param out_channel_dim: The number of channels in the output image
        :param image_mode: 'RGB' or 'L'
        :param d_view: discriminator_view.find's tensors of D(x) and D(G(z)), or None (not found)
        """
        self.options = options
        self.d_view = d_view or ()  # what train() fetches: an empty fetch when D's outputs were not found
        self._last_d_view = self._histograms_at = None
        # A variable, so checkpoints keep it: grids stay comparable across --resume
        sample_z = tf.Variable(np.random.uniform(-1, 1, size=(options.n_samples, z_dim)).astype(np.float32),
                               trainable=False, name='sample_z')
        self._samples = call_generator(generator, sample_z, out_channel_dim, 'to draw the sample grids',
                                       is_train=False)
        self._scoring = Scoring(options.tracker, generator, z_dim, out_channel_dim) if options.tracker else None
        self._calibrate = batch_norm.build_calibration(generator, z_dim, out_channel_dim,
                                                       options.calibration_z or batch_norm.CALIBRATION_Z)
        self._calibrated_at = None
        self._saving = Saving(options)
        self.log = RunLog(options.output_dir, image_mode, options.logdir, tf.get_default_graph())
        self.watcher = RunWatcher(options.tracker.held_out if options.tracker else None)  # failure warnings
        self.schedule = self._interrupted = None
        self.step = 0

    @contextlib.contextmanager
    def session(self, epoch_count, steps_per_epoch):
        """
        A session with every variable initialized or restored (--resume) and the graph finalized; on a
        normal exit it saves the last checkpoint and scores the last samples, then prints a summary
        :param epoch_count: Number of epochs
        :param steps_per_epoch: Batches in an epoch
        :return: The tf.Session
        """
        with contextlib.closing(self.log), tf.Session(config=session_config(self.options.precision)) as sess:
            self.step = self._saving.start(sess)
            if self.options.resume:
                self.log.resume_at(self.step)  # the rows of the steps after it go, and damaged ones
            tf.get_default_graph().finalize()  # nothing may add ops from here on
            self._first_score(sess)
            self.schedule = Schedule(epoch_count, steps_per_epoch, self.options.max_steps, self.step)
            with contextlib.closing(self.schedule), interrupts.interrupt_flag() as self._interrupted:
                yield sess
            self._save(sess)
            if self._scoring and self.step % self.options.eval_every:
                self._score(sess)  # the final score
        self._print_summary()

    def untrained(self, batches, epoch_i):
        """
        :param batches: The epoch's batches, get_batches(batch_size)
        :param epoch_i: The epoch's index
        :return: The batches to train on: a resumed run skips those it did; the run ends at --max-steps
        """
        return self.schedule.untrained(batches, epoch_i)

    def step_done(self, sess, d_loss, g_loss, d_view=None):
        """
        After each step: log the losses and D's outputs, stop on NaN, score and save when due, stop on Ctrl-C
        :param sess: TensorFlow session
        :param d_loss: The step's discriminator loss
        :param g_loss: The step's generator loss
        :param d_view: The values of run.d_view fetched in the step's discriminator update (D(x) and
                       D(G(z)) of each image), or None
        :return: The number of steps done
        """
        self._stop_unless_finite(d_loss, g_loss)
        self.step = self.schedule.step_done(d_loss, g_loss, d_view)
        self.log.losses(self.step, d_loss, g_loss, d_view)
        self.watcher.losses(self.step, d_loss, g_loss)
        self._last_d_view = d_view
        if self._scoring and self.step % self.options.eval_every == 0:
            self._score(sess)
        if self.step % self.options.save_every == 0:
            self._save(sess)
        if self._interrupted():
            self._save_and_stop(sess)
        return self.step

    def samples(self, sess, final=False):
        """
        Draw the fixed-z samples in inference mode, as generate draws them, and save their grid; with
        them, TensorBoard gets histograms of D's outputs on the last step's images
        :param final: Save it as samples_final.png rather than samples_step_NNNNN.png
        :return: The images, shape (n_samples, 28, 28, C), in [-1, 1]
        """
        self._calibrate_batch_norm(sess)
        images = sess.run(self._samples)
        self.log.grid(self.step, images, name='samples_final.png' if final else None)
        self.watcher.samples(self.step, images)
        if self._histograms_at != self.step:  # once a step: the final grid may follow a step's grid
            self.log.d_view_histograms(self.step, self._last_d_view)
            self._histograms_at = self.step
        return images

    def _calibrate_batch_norm(self, sess):
        """Set the generator's batch-norm averages from its current weights, once per step at most."""
        if self._calibrated_at != self.step:
            sess.run(self._calibrate)
            self._calibrated_at = self.step

    def _save(self, sess):
        """:return: Path of a checkpoint of every variable, with calibrated batch-norm averages"""
        self._calibrate_batch_norm(sess)
        return self._saving.save(sess, self.step)

    def _first_score(self, sess):
        """The untrained generator's score sets the ceiling (a resumed run reads the one it recorded)."""
        if self._scoring:
            self._scoring.tracker.ceiling = self.log.untrained_swd()  # None for a new run: its first score sets it
            if self.step == 0:
                self._score(sess)

    def _score(self, sess):
        """Score the samples as they are now."""
        self._calibrate_batch_norm(sess)
        self.watcher.score(self.step, self._scoring.score(sess, self.step, self.log))

    def _stop_unless_finite(self, d_loss, g_loss):
        """A NaN or infinite loss stops training without saving the broken weights."""
        if np.isfinite(d_loss) and np.isfinite(g_loss):
            return
        self.schedule.close()
        raise TrainingStopped('the losses became {}/{} at step {}: stopped without saving; {}'.format(
            d_loss, g_loss, self.step + 1, checkpoints.lower_learning_rate(self.options.output_dir, 'good')))

    def _save_and_stop(self, sess):
        """Ctrl-C: save a checkpoint, then stop with the command to resume."""
        self.schedule.close()
        path = self._save(sess)
        raise TrainingInterrupted('interrupted at step {}: saved {}. Resume with the same command and '
                                  '--resume (its --output-dir {})'.format(self.step, path, self.options.output_dir))

    def _print_summary(self):
        """Write the loss curve and the GIF, close TensorBoard's file, and say where everything is."""
        output_dir, logdir = self.options.output_dir, self.options.logdir
        names = ['samples_final.png']
        grids = len(glob.glob(os.path.join(glob.escape(output_dir), 'samples_step_*.png')))
        if grids:
            names.append('{} x samples_step_*.png'.format(grids))
        names += [os.path.basename(path) for path in (run_plots.loss_curve(output_dir),
                                                       run_plots.animation(output_dir)) if path]
        names.append(checkpoints.CHECKPOINT_FOLDER + '/')
        self.log.close()
        print('Done at step {} ({}). In {}: {}{}'.format(
            self.step, self.schedule.stop_reason if self.schedule else 'nothing left to do', output_dir,
            ', '.join(names), '; TensorBoard: tensorboard --logdir {}'.format(logdir) if logdir else ''))
