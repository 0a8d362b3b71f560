"""
Everything a run adds around a train() loop, so that the loop can stay the Udacity template's. The
run hands train() its batches, and between two batches, in the session train() opened (the default
session of its `with tf.Session() as sess:`), it does the rest: on the first, it builds its own ops
(train/parts.py), restores a resumed run's checkpoint and scores the untrained generator; after each
step it moves the progress bar and, when due, saves a grid of samples, scores them against held-out
real images and saves a checkpoint; Ctrl-C saves one and stops. So a learner's plain train() gets
all of it. A train() that takes `run` also hands it each step's losses and what the discriminator
said of each image (losses.csv, TensorBoard, the warnings).

    run = TrainingRun(config, generator, training, held_out, resume)
    with run.around_train():
        train(..., run.get_batches, ..., run=run)   # run=run only where train() takes it
"""
import contextlib
import sys

import numpy as np
import tensorflow.compat.v1 as tf

from facegan.core import signals
from facegan.core.errors import LearnerCodeError, TrainingInterrupted, TrainingStopped, one_line
from facegan.graph import discriminator_view
from facegan.train import build_contexts
from facegan.train.parts import N_SAMPLES, RunParts, after_nan, resume_checkpoint
from facegan.train.records import Records
from facegan.train.schedule import Schedule


class TrainingRun(object):
    """One run of train(): its batches, its ops between them, its records."""

    def __init__(self, config, generator, training, held_out=None, resume=False):
        """
        :param config: The run's RunConfig (precision_used and held_out set)
        :param generator: The notebook's generator function (the grids and scores draw with it)
        :param training: helper.Dataset of the images the run trains on
        :param held_out: Real images kept out of training for the scores, 0-255 (None: no scores)
        :param resume: Go on from the newest usable checkpoint in the run's folder (TrainingStopped: none)
        """
        self.config, self.generator, self.training = config, generator, training
        self.resume_from = resume_checkpoint(config.folder) if resume else None
        self.records = Records(config, held_out,
                               None if held_out is None else training.images(range(len(held_out))))
        self.tracker = self.records.tracker
        self.schedule = Schedule(config.epochs, training.shape[0], config.batch_size, config.max_steps, config.seed)
        self._stack = contextlib.ExitStack()
        self._made = []  # the Averages train()'s optimizers make (graph/averaging.py)
        self._parts = self._interrupted = self._shown = self._resumed_at = None
        self._epochs_asked = 0
        self._started = False  # _start ran (at the first batch, once, whether or not it found a session)
        self.finished = False

    @contextlib.contextmanager
    def around_train(self):
        """Around the call of train(): the run's layers, averages and precision (train/build_contexts.py); at the
        end, the bar and the event file closed, the loss curve drawn and the summary printed"""
        with self._stack, build_contexts.around_train(self.config) as self._made:
            yield
        self.records.close()
        if not self._started:  # it trained nothing the run could see: a learner's train() to fix, not a done run
            raise LearnerCodeError('train() returned without asking the get_batches it was given for a batch, so the '
                                   'run trained and saved nothing: loop over get_batches(batch_size)')
        print(self.records.summary(self.schedule.step, self.schedule.stop_reason if self.finished else
                                   'train() returned before its last step', self.finished))
        if self._interrupted and self._interrupted():  # it came after the last step's check: the run is saved, and
            raise KeyboardInterrupt  # the stop asked for stops what the cell or script does next

    def get_batches(self, batch_size):
        """
        What train() gets as get_batches: an epoch's batches, the run's work between them (see the module)
        :param batch_size: The run's batch size (train() is given it)
        :return: Generator of batches, float32 in [-0.5, 0.5]
        """
        if batch_size != self.config.batch_size:
            raise TrainingStopped('train() asked get_batches for batches of {} images, but was given batch_size {}: '
                                  'pass it the batch_size it gets'.format(batch_size, self.config.batch_size))
        epoch_i, self._epochs_asked = self._epochs_asked, self._epochs_asked + 1
        return self._epoch(epoch_i)

    def d_view(self, d_loss, input_real, input_z):
        """
        :return: D's outputs on each real and each generated image of a step (graph/discriminator_view.py), to
                 fetch with the step; () when they cannot be found (an empty fetch)
        :raise LearnerCodeError: one of them is not a tensor (a function still the TODO returns None)
        """
        for name, value in (('d_loss', d_loss), ('input_real', input_real), ('input_z', input_z)):
            if not isinstance(value, tf.Tensor):
                raise LearnerCodeError('train() gave run.d_view() {} {}, not a tensor: pass it what model_loss and '
                                       'model_inputs return, once they are done (as given, they return None)'
                                       .format(name, one_line(repr(value))))
        return discriminator_view.find(d_loss, input_real, input_z) or ()

    def losses(self, d_loss, g_loss, d_view=None):
        """
        A step's losses and D's outputs, from a train() that takes `run`; NaN or infinity stops the run without
        saving the broken weights
        :param d_view: The values fetched of d_view() (D(x) and D(G(z)) of each image), or () / None
        """
        step = self.schedule.step + 1
        for name, value in (('d_loss', d_loss), ('g_loss', g_loss)):
            if not _one_number(value):
                raise LearnerCodeError('train() gave run.losses() {} {}, not one number: model_loss must return one '
                                       'loss a network (tf.reduce_mean of its cross-entropies; its problem test '
                                       'checks it)'.format(name, _described(value)))
        if not (np.isfinite(d_loss) and np.isfinite(g_loss)):
            self.schedule.close()
            raise TrainingStopped('the losses became {}/{} at step {}: stopped without saving; {}'.format(
                d_loss, g_loss, step, after_nan(self.config.folder, step)))
        self._shown = self.records.losses(step, d_loss, g_loss, d_view)

    # --- Between the batches, in train()'s session ----------------------------------------------------

    def _epoch(self, epoch_i):
        """
        The batches of one epoch, with the run's work between them. The steps are counted whether or not train()
        opened a default session: the schedule picks each epoch's batches, and its stop, from that count
        """
        if not self._started:
            self._started = True
            self._start(tf.get_default_session())
        for batch in self.schedule.epoch(epoch_i, self._batches):
            yield batch
            self._step_done()
        if self.schedule.done() and not self.finished:
            self._finish()

    def _batches(self, order, first):
        """:return: The training images' batches in this order, from batch first on"""
        return self.training.batches(self.config.batch_size, order, first)

    def _start(self, sess):
        """
        On the first batch: build the run's ops into train()'s graph, restore a resumed run (or write a new run's
        settings), score the untrained generator, start the bar and the Ctrl-C flag
        Without a default session (train() opened its session without `with`) only the steps are counted: the run
        then hands train() its batches alone
        """
        if sess is None:
            print('note: train() opened its session without `with tf.Session() as sess:`, so the run cannot save '
                  'checkpoints, grids or scores there: it only hands train() its batches', file=sys.stderr)
            self.schedule.start(0)
            self._stack.callback(self.schedule.close)
            return
        if not sess.graph.get_collection(tf.GraphKeys.TRAINABLE_VARIABLES):
            raise LearnerCodeError('train() asked get_batches for its first batch with no model built: its graph has '
                                   'no variables; build it where it says TODO: Build Model (model_inputs, '
                                   'model_loss, model_opt)')
        with sess.graph.as_default(), build_contexts.for_drawing(self.config):
            averages = self._made[0] if self._made and not self.config.raw_weights else None
            self._parts = RunParts(sess, self.config, self.generator, averages,
                                   0 if self.tracker is None else len(self.tracker.held_out))
            step = self._parts.restore(self.resume_from) if self.resume_from else 0
        self._resumed_at = step
        self._parts.write_settings()
        if self.resume_from:
            self.records.resume_at(step)
        self.records.open_events(sess.graph)
        self.schedule.start(step)
        self._stack.callback(self.schedule.close)
        self._interrupted = self._stack.enter_context(signals.interrupt_flag())
        self.records.real_grid(self.training.images(range(min(N_SAMPLES, self.training.shape[0]))) / 127.5 - 1)
        if self.tracker and step == 0:
            self._score()

    def _step_done(self):
        """After each step: the bar; with a session, a grid, a score and a checkpoint when due; stop on Ctrl-C."""
        step, config = self.schedule.step_done(self._shown), self.config
        if self._parts is None:  # no session to work in: the step is counted, nothing more
            return
        if step % config.show_every == 0:
            self.records.grid(step, self._parts.drawing(step).draw(self._parts.session, 'samples'))
        if self.tracker and config.eval_every and step % config.eval_every == 0:
            self._score()
        if step % config.save_every == 0:
            self._parts.save(step)
        if self._interrupted():
            self.schedule.close()
            path = self._parts.save(step)
            raise TrainingInterrupted('interrupted at step {}: saved {}; resume the run in {} to go on'.format(
                step, one_line(path), one_line(config.folder)))

    def _finish(self):
        """The last step is done: the final score, grid and checkpoint (with a session to draw and save in)."""
        self.finished = True
        if self._parts is None:
            return
        step, config = self.schedule.step, self.config
        if step == self._resumed_at and self.records.has_final_grid():
            print('note: the run in {} had trained its {} steps already: nothing to add; give more epochs or max_steps '
                  'to go on with it'.format(one_line(config.folder), step), file=sys.stderr)
            return  # it ended there: its final score, grid and checkpoint are made, and would differ made again
        if self.tracker and not (config.eval_every and step % config.eval_every == 0):
            self._score()
        self.records.grid(step, self._parts.drawing(step).draw(self._parts.session, 'samples'), final=True)
        if self._parts.saved_at != step:
            self._parts.save(step)

    def _score(self):
        """Score the samples as they are now."""
        step = self.schedule.step
        self.records.score(step, self._parts.drawing(step).draw(self._parts.session, 'scored'),
                           self._parts.weights(step))


def _one_number(value):
    """:return: Whether value is one real number (what session.run fetches of a scalar loss), not an array of them"""
    return np.ndim(value) == 0 and isinstance(np.asarray(value).item(), (int, float))


def _described(value):
    """:return: An array by its shape ('of shape [4]'), anything else as Python shows it"""
    return 'of shape {}'.format(list(np.shape(value))) if np.ndim(value) else one_line(repr(value))
