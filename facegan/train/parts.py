"""
The run's own ops, built into train()'s graph at its first batch: the fixed z of the sample grids and
the held-out images' z, the generator drawn in inference mode on its raw weights and on their average
(each with batch norm recalibrated from its weights before a use, where they changed: graph/sampling.py), and the
checkpoints of every variable, restored when the run resumes.
"""
import os
import sys

import numpy as np
import tensorflow.compat.v1 as tf

from facegan.core import run_config
from facegan.core.errors import one_line
from facegan.graph import averaging, checkpoint_files, checkpoints, sampling
from facegan.graph.learner_code import call_generator

N_SAMPLES = 25  # faces in each grid


class Drawing(object):
    """The generator in inference mode, on the raw weights or their average, with its batch-norm calibration."""

    def __init__(self, sess, generator, config, z, averages=None):
        """
        Build it into sess's graph
        :param sess: train()'s session
        :param generator: The notebook's generator function
        :param config: The run's RunConfig (z_dim, channels)
        :param z: {name: the z to draw ('samples', 'scored'), a numpy array or a variable}
        :param averages: graph/averaging.py's Averages to draw on (None: the generator's own weights, drawn through
                         the session's shared Inference, which the solution's show_generator_output draws through too)
        """
        why = 'to draw the grids and scores'
        if averages:
            with averaging.on_averaged_weights(averages), \
                    tf.variable_scope(tf.get_variable_scope(), reuse=tf.AUTO_REUSE):
                # a training-mode call makes the averaged generator's own batch-norm statistics
                call_generator(generator, z['samples'], config.channels, 'to make the averaged generator')
                self._inference = sampling.Inference(generator, config.z_dim, config.channels, why)
        else:
            self._inference = sampling.shared_inference(sess, generator, config.z_dim, config.channels, why)
        self._z = z

    def calibrate(self, sess):
        """Recompute batch norm's averages from the weights where they changed (graph/sampling.py's Inference)."""
        self._inference.calibrate(sess)

    def draw(self, sess, which):
        """:return: The images ('samples' or 'scored') of the current weights, batch norm calibrated, in [-1, 1]"""
        self.calibrate(sess)
        z = self._z[which]
        return self._inference.draw(sess, z if isinstance(z, np.ndarray) else sess.run(z))


class RunParts(object):
    """The run's ops in train()'s graph and session: drawing, saving and restoring."""

    def __init__(self, sess, config, generator, averages, scored):
        """
        Build them into sess's graph (train() has built its model) and initialize their new variables
        :param sess: train()'s session
        :param config: The run's RunConfig
        :param generator: The notebook's generator function
        :param averages: The Averages train()'s optimizers made (None: none, or the raw weights asked for)
        :param scored: How many images a score draws (0: no scores)
        """
        self.session, self.config, self.averages = sess, config, averages
        before = set(tf.global_variables())
        # From numpy's generator, which the run seeded, before train() draws its first batch of z, in the order
        # the project has always drawn them (the grids' z, then the scores'): a seed's run draws the same z
        z = {'samples': tf.Variable(np.random.uniform(-1, 1, (N_SAMPLES, config.z_dim)).astype(np.float32),
                                    trainable=False, name='sample_z')}  # a variable: resumed runs draw the same z
        if scored:
            z['scored'] = np.random.uniform(-1, 1, (scored, config.z_dim)).astype(np.float32)
        self.raw = Drawing(sess, generator, config, z)
        self.average = Drawing(sess, generator, config, z, averages) if averages else None
        self._step = tf.train.get_or_create_global_step()
        self._step_value = tf.placeholder(tf.int64, ())
        self._set_step = tf.assign(self._step, self._step_value)
        self._finite_check = checkpoints.non_finite_check()
        self._variables = {var.op.name: var for var in tf.global_variables()}
        self._saver = tf.train.Saver(var_list=self._variables, max_to_keep=None)
        sess.run(tf.variables_initializer([var for var in tf.global_variables() if var not in before]))
        self.saved_at = None
        self._noted_unaveraged = False

    def restore(self, path):
        """
        Restore a resumed run's checkpoint (one saved without the averaged generator too)
        :return: Its step
        """
        saved = checkpoints.saved_names(path)
        optional = {name for name in self._variables if name.startswith(averaging.SCOPE + '/')}
        if optional and not optional <= saved:
            print('note: {} holds no averaged generator (its run kept none): the average starts at this step'
                  .format(one_line(path)), file=sys.stderr)
        checkpoints.restore(self.session, path, {name: var for name, var in self._variables.items()
                                                 if name not in optional or name in saved})
        return int(self.session.run(self._step))

    def drawing(self, step):
        """
        :param step: The step done
        :return: The averaged generator once it has averaged a step, else the raw one (with one note, once, when
                 train()'s steps never update the average)
        """
        if self.average is not None and averaging.weights_used(self.averages, self.session) == 'averaged':
            return self.average
        if self.average is not None and step > 0 and not self._noted_unaveraged:
            print('note: train()\'s steps never updated the averaged generator (its optimizers were built outside the '
                  'run): the grids and scores draw the generator\'s own weights', file=sys.stderr)
            self._noted_unaveraged = True
        return self.raw

    def weights(self, step):
        """:return: 'averaged' or 'raw': which weights the grids and scores draw at this step"""
        return 'raw' if self.drawing(step) is self.raw else 'averaged'

    def save(self, step):
        """:return: Path of a checkpoint of every variable, batch norm calibrated for each generator first"""
        for drawing in (self.raw, self.average):
            if drawing:
                drawing.calibrate(self.session)
        self.session.run(self._set_step, {self._step_value: step})
        path = checkpoints.save_checkpoint(self.session, self._saver, self.config.folder, step,
                                           self.config.keep_checkpoints, self._finite_check)
        self.saved_at = step
        return path

    def write_settings(self):
        """Write the run's settings as run.json in its folder (after a checkpoint is restored, or a new run starts)."""
        checkpoints.remove_stale_temporary_files(os.path.join(self.config.folder, checkpoints.CHECKPOINT_FOLDER))
        run_config.save(self.config, self.config.folder)


# Step 1's losses come from the initial weights (moved by one update at most: the alternating order's generator loss
# follows the discriminator's first update), so no training diverged to make them NaN: the learner's code did, or a
# learning rate big enough to break the weights in one update
FIRST_STEP_NOT_FINITE = ('they come from the initial weights, moved by one update at most: look in model_loss, '
                         'generator and discriminator for a log or a division that reaches 0 '
                         '(tf.nn.sigmoid_cross_entropy_with_logits on the logits has neither), or for a learning '
                         'rate so large that one update breaks them')


def after_nan(folder, step):
    """
    :param step: The step whose losses became NaN or infinite
    :return: What to do: at step 1, look in the code (FIRST_STEP_NOT_FINITE); later, lower the learning rate and
             resume from the last good checkpoint, or start again
    """
    return FIRST_STEP_NOT_FINITE if step == 1 else checkpoints.what_to_do_after_nan(folder)


def resume_checkpoint(folder):
    """:return: The newest usable checkpoint of the run in folder, to resume from (TrainingStopped: none)"""
    return checkpoints.find_checkpoint(folder, hint=checkpoint_files.RESUME_HINT,
                                       unusable_hint='start it over')
