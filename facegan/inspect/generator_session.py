"""
A saved run's generator restored in a fresh graph and session, in inference mode, at the precision it
trained with (or another asked for): on its averaged weights or its raw ones (restore.py says which
variables), or untrained, as a run starts, for the score's ceiling.
"""
import contextlib
import sys

import numpy as np
import tensorflow.compat.v1 as tf

from facegan.core import machine
from facegan.graph import batch_norm, checkpoints, fast_layers, session_settings
from facegan.graph.learner_code import call_generator
from facegan.inspect import restore

GENERATE_BATCH = 256  # faces drawn at a time: memory does not grow with n, and a face depends on its z alone


@contextlib.contextmanager
def drawing(generator, saved, seed, fast=True, weights=None, precision=None):
    """
    Restore a saved run's generator in a fresh graph and session, in inference mode
    :param generator: The notebook's generator function
    :param saved: find_run's SavedRun
    :param seed: Seed of numpy (for z drawn inside the block) and of the graph
    :param fast: Build the generator with fast_layers (graph/fast_layers.py) where it has no GPU
    :param weights: 'averaged' (the averaged generator, where the run has one), 'raw', 'untrained' (newly
                    initialized, batch norm calibrated: as a run starts), or None: the run's own (restore.weights_of)
    :param precision: 'float32' or 'bfloat16' (None: the precision the run trained with)
    :return: (yields) A function from z (n, z length) to the generator's images (n, 28, 28, channels) in [-1, 1]
    """
    weights = weights or restore.weights_of(saved)
    with tf.Graph().as_default():
        session_settings.set_seeds(seed)
        input_z = tf.placeholder(tf.float32, (None, saved.z_dim), name='input_z')
        with fast_layers.in_tf_layers(fast_layers.wanted(fast)):
            # The training-mode call creates the variables; inference mode reuses them
            call_generator(generator, input_z, saved.channels, 'to create its variables', is_train=True)
            images = call_generator(generator, input_z, saved.channels, 'to draw faces', is_train=False)
            calibrate = batch_norm.build_calibration(generator, saved.z_dim, saved.channels) \
                if weights == 'untrained' else None
        config = session_settings.session_config(_precision_here(precision or saved.precision))
        with tf.Session(config=config) as sess:
            if calibrate is None:
                checkpoints.restore(sess, saved.checkpoint,
                                    restore.restore_map(saved, tf.global_variables('generator'), weights)[0])
            else:
                sess.run(tf.global_variables_initializer())
                sess.run(calibrate)
            yield lambda z: np.concatenate([_draw_batch(sess, images, input_z, z[first:first + GENERATE_BATCH])
                                            for first in range(0, len(z), GENERATE_BATCH)] or
                                           [np.zeros((0, 28, 28, saved.channels), np.float32)])


def _draw_batch(sess, images, input_z, z):
    """
    :param z: At most GENERATE_BATCH rows
    :return: Their images. The batch is always GENERATE_BATCH rows (the rest zeros), so a face depends on its z
             alone, not on how many are drawn with it: the matrix products round the same way for one batch shape
    """
    padded = np.zeros((GENERATE_BATCH, z.shape[1]), np.float32)
    padded[:len(z)] = z
    return sess.run(images, {input_z: padded})[:len(z)]


def _precision_here(precision):
    """:return: The precision, or float32 (with a note) for a run trained in bfloat16 where bfloat16 cannot run"""
    if precision == 'bfloat16' and not machine.bfloat16_possible():
        print('note: the run trained in bfloat16, which cannot run here: drawing in float32', file=sys.stderr)
        return 'float32'
    return precision
