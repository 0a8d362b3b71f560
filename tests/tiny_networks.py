"""
The notebook's generator and discriminator, 16 times narrower, for the tests of a run's machinery
(checkpoints, resume, the averaged generator, the batches a train() is handed, damaged saved state).

The machinery does not depend on the networks' widths: it sees the same layers, scopes, batch norm,
dropout and optimizers. A checkpoint of these is about 3 MB instead of 225 MB, and a short run takes half
the time. The full-width networks are run where their widths matter or where the script runs as a learner
runs it: test_model.py, the default run (test_cli.py), the desktop run, the solution notebook, Udacity's
template and the article's code. test_fast_layers.py trains them at a quarter of the widths (FAST_LAYER_WIDTH),
where both of the generator's middle layers still take the fast layer.

`narrow_networks(monkeypatch)` puts them in the notebook module (dlnd_face_generation): its model_loss,
train and show_generator_output look generator and discriminator up there, so they build these.
narrow_script.py puts their source in the script's cells instead, for a run of the script itself.
"""
import sys

import dlnd_face_generation as dlnd
from facegan.graph import fast_layers

tf = dlnd.tf
WIDTH = 64  # the generator's first feature map is 4x4xWIDTH (the notebook's is 4x4x1024)
# The narrowest width whose two middle layers (WIDTH/2 and WIDTH/4 filters) the fast layer takes: 256, a quarter of
# the notebook's
FAST_LAYER_WIDTH = 4 * fast_layers.MIN_FILTERS


def discriminator(images, reuse=False, alpha=0.2):
    """The notebook's discriminator with WIDTH/16, WIDTH/8 and WIDTH/4 filters instead of 64, 128 and 256."""
    with tf.variable_scope('discriminator', reuse=reuse):
        x = tf.layers.conv2d(images, WIDTH // 16, 5, strides=2, padding='same')
        x = tf.nn.leaky_relu(x, alpha=alpha)
        # 14x14x4
        x = tf.layers.conv2d(x, WIDTH // 8, 5, strides=2, padding='same', use_bias=False)
        x = tf.nn.leaky_relu(tf.layers.batch_normalization(x, training=True), alpha=alpha)
        # 7x7x8
        x = tf.layers.conv2d(x, WIDTH // 4, 5, strides=2, padding='same', use_bias=False)
        x = tf.nn.leaky_relu(tf.layers.batch_normalization(x, training=True), alpha=alpha)
        # 4x4x16
        logits = tf.layers.dense(tf.reshape(x, (-1, 4 * 4 * (WIDTH // 4))), 1)
        return tf.sigmoid(logits), logits


def generator(z, out_channel_dim, is_train=True, alpha=0.2, keep_prob=0.5):
    """The notebook's generator from a 4x4xWIDTH feature map, with WIDTH/2 and WIDTH/4 filters, not 512 and 256."""
    with tf.variable_scope('generator', reuse=not is_train):
        x = tf.reshape(tf.layers.dense(z, 4 * 4 * WIDTH, use_bias=False), (-1, 4, 4, WIDTH))
        x = _normalised(x, alpha, keep_prob, is_train)
        # 4x4x64
        x = tf.layers.conv2d_transpose(x, WIDTH // 2, 4, strides=1, padding='valid', use_bias=False)
        x = _normalised(x, alpha, keep_prob, is_train)
        # 7x7x32
        x = tf.layers.conv2d_transpose(x, WIDTH // 4, 5, strides=2, padding='same', use_bias=False)
        x = _normalised(x, alpha, keep_prob, is_train)
        # 14x14x16
        logits = tf.layers.conv2d_transpose(x, out_channel_dim, 5, strides=2, padding='same')
        return tf.tanh(logits)


def _normalised(x, alpha, keep_prob, is_train):
    """:return: x after the generator's batch norm, leaky ReLU and dropout, as each of its layers but the last"""
    x = tf.layers.batch_normalization(x, training=is_train)
    x = tf.nn.leaky_relu(x, alpha=alpha)
    return tf.layers.dropout(x, rate=1 - keep_prob, training=is_train)


def narrow_networks(monkeypatch, width=None):
    """
    Make the notebook module's generator and discriminator these, until monkeypatch undoes it
    :param width: Their WIDTH instead (FAST_LAYER_WIDTH, say), None: WIDTH
    """
    if width:
        monkeypatch.setattr(sys.modules[__name__], 'WIDTH', width)
    monkeypatch.setattr(dlnd, 'generator', generator)
    monkeypatch.setattr(dlnd, 'discriminator', discriminator)
