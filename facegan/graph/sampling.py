"""
The generator drawn in inference mode, built once per training session and shared: the run's grids and scores
(train/parts.py) and the solution's show_generator_output draw through here. The template's
show_generator_output built a new inference-mode generator at each call, so the graph grew all
through training, and drew from batch norm's moving averages, which lag the weights by hundreds of
steps (docs/batch_norm.md). Here the generator is built once per session, on a z fed at each draw, with
an op that recomputes batch norm's averages from its current weights, run wherever they changed since; the show
draws the same z each time, so the grids show one set of faces as they improve.
"""
import hashlib
import weakref

import numpy as np
import tensorflow.compat.v1 as tf

from facegan.graph import batch_norm, dependencies
from facegan.graph.learner_code import call_generator
from facegan.output import display, pictures

SAMPLE_SEED = 0  # the z shown are the same in every run

# {session: {(generator, z_dim, channels): its Inference}}: each goes with its session. Keyed by the session, not the
# graph: an Inference's tensors hold their graph, so the graph would never go; and not in a graph collection, which a
# learner's Saver.save would try to write into its .meta file, with a warning
_BUILT = weakref.WeakKeyDictionary()


class Inference(object):
    """The generator in inference mode on a fed z, and the op that recomputes its batch-norm averages first."""

    def __init__(self, generator, z_dim, out_channel_dim, why):
        """
        Build both into the default graph (the generator's variables must exist)
        :param generator: The notebook's generator function
        :param z_dim: The dimension of Z
        :param out_channel_dim: The number of channels in the output image
        :param why: What it is built for, for a learner's error: 'to draw the grids and scores'
        """
        self._calibration = batch_norm.build_calibration(generator, z_dim, out_channel_dim)
        self._z = tf.placeholder(tf.float32, (None, z_dim), name='drawn_z')
        self._images = call_generator(generator, self._z, out_channel_dim, why, is_train=False)
        self._state = variables_read(self._images)  # the weights and batch norm's averages a draw reads
        self._calibrated = None  # their digest just after the last calibration

    def calibrate(self, sess):
        """
        Recompute batch norm's averages from the current weights, unless what a draw reads is bit for bit what the
        last calibration left (a show and a grid of the same step share one: 512 z through the generator)
        """
        if self._digest(sess) != self._calibrated:
            sess.run(self._calibration)
            self._calibrated = self._digest(sess)

    def _digest(self, sess):
        """:return: A digest of the values of what a draw reads (SHA-1 for its speed: nothing here is a secret)"""
        digest = hashlib.sha1(usedforsecurity=False)
        for value in sess.run(self._state):
            digest.update(np.ascontiguousarray(value))
        return digest.digest()

    def draw(self, sess, z):
        """
        :param z: The z to draw, (n, z_dim); call calibrate first for averages of the current weights
        :return: Their images, (n, 28, 28, channels) in [-1, 1]
        """
        return sess.run(self._images, {self._z: z})


def variables_read(tensor):
    """:return: The variables whose values tensor is computed from, in the order they were made"""
    behind = dependencies.ops_behind(tensor, control=True)
    return [var for var in tf.global_variables() if var.op in behind]


def shared_inference(sess, generator, z_dim, out_channel_dim, why):
    """
    :param sess: The training session (its graph holds the generator's variables)
    :param why: Inference's, used where it is built
    :return: The session's Inference of this generator on its own weights, built into its graph at the first call
    """
    built = _BUILT.setdefault(sess, {})
    key = (generator, z_dim, out_channel_dim)
    if key not in built:
        with sess.graph.as_default(), tf.variable_scope(tf.get_variable_scope(), reuse=True), tf.name_scope('drawn'):
            built[key] = Inference(generator, z_dim, out_channel_dim, why)
    return built[key]


def fixed_z_samples(sess, generator, input_z, n_images, out_channel_dim):
    """
    Draw the same n_images z each time, in inference mode, batch norm's averages recomputed first
    :param sess: The training session (its graph holds the generator's variables)
    :param generator: The notebook's generator function
    :param input_z: The z placeholder (its length is z's)
    :param n_images: How many images
    :param out_channel_dim: The number of channels in the output image
    :return: The images, (n_images, 28, 28, out_channel_dim) in [-1, 1]
    """
    z_dim = input_z.shape.as_list()[-1]
    inference = shared_inference(sess, generator, z_dim, out_channel_dim, 'to show its output')
    z = np.random.RandomState(SAMPLE_SEED).uniform(-1, 1, (n_images, z_dim)).astype(np.float32)
    inference.calibrate(sess)
    return inference.draw(sess, z)


def show(sess, generator, input_z, n_images, out_channel_dim, image_mode):
    """
    Show fixed_z_samples as the template's show_generator_output shows its grid (helper.images_square_grid's),
    inline in a notebook, or in a window that does not wait on a desktop (output/display.py)
    :param image_mode: The mode to use for images ("RGB" or "L")
    """
    samples = fixed_z_samples(sess, generator, input_z, n_images, out_channel_dim)
    display.show_grid(pictures.square_grid(samples, image_mode), image_mode)
