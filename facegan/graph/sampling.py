"""
The solution's show_generator_output draws through here: the template's built a new inference-mode
generator at each call, so the graph grew all through training, and drew from batch norm's moving
averages, which lag the weights by hundreds of steps (docs/batch_norm.md). Here the generator is
built once per graph, on the first call, with an op that recomputes batch norm's averages from its
current weights; each call runs that op, then draws the same z, so the grids show one set of faces
as they improve.
"""
import weakref

import numpy as np
import tensorflow.compat.v1 as tf

from facegan.graph import batch_norm
from facegan.graph.learner_code import call_generator
from facegan.output import display, pictures

SAMPLE_SEED = 0  # the z shown are the same in every run

_BUILT = weakref.WeakKeyDictionary()  # {graph: {(z_dim, n_images, channels): (calibrate op, images tensor)}}


def _build(generator, z_dim, n_images, out_channel_dim):
    """:return: (the op that recomputes batch norm's averages, the tensor of n_images generated from fixed z)"""
    z = np.random.RandomState(SAMPLE_SEED).uniform(-1, 1, size=(n_images, z_dim)).astype(np.float32)
    with tf.name_scope('show_generator_output'):
        calibrate = batch_norm.build_calibration(generator, z_dim, out_channel_dim)
        images = call_generator(generator, tf.constant(z), out_channel_dim, 'to show its output', is_train=False)
    return calibrate, images


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
    key = (input_z.shape.as_list()[-1], n_images, out_channel_dim)
    built = _BUILT.setdefault(sess.graph, {})
    if key not in built:
        with sess.graph.as_default():
            built[key] = _build(generator, *key)
    calibrate, images = built[key]
    sess.run(calibrate)
    return sess.run(images)


def show(sess, generator, input_z, n_images, out_channel_dim, image_mode):
    """
    Show fixed_z_samples as the template's show_generator_output shows its grid (helper.images_square_grid's),
    inline in a notebook, or in a window that does not wait on a desktop (output/display.py)
    :param image_mode: The mode to use for images ("RGB" or "L")
    """
    samples = fixed_z_samples(sess, generator, input_z, n_images, out_channel_dim)
    display.show_grid(pictures.square_grid(samples, image_mode), image_mode)
