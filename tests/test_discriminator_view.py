"""
The discriminator's view: D(x) and D(G(z)) found in d_loss's graph without a second forward pass (a
run's records of them are tested on the shared run, in test_saved_runs.py).
"""
import numpy as np
import pytest

import dlnd_face_generation as dlnd
from facegan.graph import discriminator_view

tf = dlnd.tf
BATCH, Z_DIM = 8, 16


def _conv_count():
    return sum(op.type == 'Conv2D' for op in tf.get_default_graph().get_operations())


def _tiny_generator(z, reuse=False):
    """A generator without randomness: dense z -> 4x4x1 image in [-1, 1]"""
    with tf.variable_scope('generator', reuse=reuse):
        return tf.reshape(tf.tanh(tf.layers.dense(z, 16)), (-1, 4, 4, 1))


def _tiny_discriminator(images, reuse=False, use_bias=True, flat=False):
    """
    :param flat: Logits of shape (batch,), not (batch, 1): a weighted sum of the pixels plus a bias, without tf.layers
    :return: (sigmoid, logits) of one dense layer over the flattened image
    """
    with tf.variable_scope('discriminator', reuse=reuse):
        if flat:
            pixels = tf.reshape(images, (-1, 16))
            logits = tf.reduce_sum(pixels * tf.get_variable('weights', (16,)), axis=1) + tf.get_variable('bias', ())
        else:
            logits = tf.layers.dense(tf.reshape(images, (-1, 16)), 1, use_bias=use_bias)
        return tf.sigmoid(logits), logits


def _tiny_gan(use_bias=True, weight_decay=0.0, flat=False):
    """
    :param use_bias: Give D's last dense layer a bias (its logits a BiasAdd) or not (a MatMul)
    :param weight_decay: Add this times the L2 norm of D's weights to d_loss (ops that read D's variables too)
    :param flat: D's logits of shape (batch,), not (batch, 1)
    :return: (input_real, input_z, d_loss, D's logits on the real images, D's logits on the generated ones)
    """
    input_real = tf.placeholder(tf.float32, (None, 4, 4, 1), name='input_real')
    input_z = tf.placeholder(tf.float32, (None, 3), name='input_z')
    _, logits_real = _tiny_discriminator(input_real, use_bias=use_bias, flat=flat)
    _, logits_fake = _tiny_discriminator(_tiny_generator(input_z), reuse=True, use_bias=use_bias, flat=flat)
    d_loss = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(logits=logits_real,
                                                                    labels=tf.ones_like(logits_real) * 0.9))
    d_loss += tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(logits=logits_fake,
                                                                     labels=tf.zeros_like(logits_fake)))
    if weight_decay:
        d_vars = [var for var in tf.trainable_variables() if var.name.startswith('discriminator/')]
        d_loss += weight_decay * tf.add_n([tf.nn.l2_loss(var) for var in d_vars])
    return input_real, input_z, d_loss, logits_real, logits_fake


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


@pytest.mark.parametrize('use_bias, weight_decay, flat', [(True, 0.0, False), (False, 0.0, False),
                                                           (True, 0.01, False), (True, 0.0, True)])
def test_find_gives_the_sigmoid_of_each_images_logits(use_bias, weight_decay, flat):
    """With or without a bias on D's last layer, with D's weights in d_loss (weight decay), logits (batch,)."""
    rng = np.random.default_rng(0)
    with tf.Graph().as_default():
        input_real, input_z, d_loss, logits_real, logits_fake = _tiny_gan(use_bias, weight_decay, flat)
        view = discriminator_view.find(d_loss, input_real, input_z)
        assert view is not None and view.real.shape.as_list() == view.fake.shape.as_list() == [None]
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            feed = {input_real: rng.uniform(-1, 1, (5, 4, 4, 1)), input_z: rng.uniform(-1, 1, (5, 3))}
            (real, fake), expected_real, expected_fake = sess.run([view, logits_real, logits_fake], feed)
    np.testing.assert_allclose(real, _sigmoid(expected_real.reshape(5)), rtol=1e-6)
    np.testing.assert_allclose(fake, _sigmoid(expected_fake.reshape(5)), rtol=1e-6)
    assert not np.allclose(real, fake)


def test_find_on_the_notebooks_model_adds_no_forward_pass_and_tells_real_from_generated():
    rng = np.random.default_rng(1)
    with tf.Graph().as_default():
        input_real, input_z, lr = dlnd.model_inputs(28, 28, 3, Z_DIM)
        d_loss, g_loss = dlnd.model_loss(input_real, input_z, 3)
        dlnd.model_opt(d_loss, g_loss, lr, 0.5)
        convolutions = _conv_count()
        view = discriminator_view.find(d_loss, input_real, input_z)
        assert _conv_count() == convolutions  # no second pass through the discriminator
        _, logits = dlnd.discriminator(input_real, reuse=True)  # an independent pass, for the test only
        images = rng.uniform(-1, 1, (BATCH, 28, 28, 3))
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            real, fake, expected = sess.run([view.real, view.fake, logits],
                                            {input_real: images, input_z: rng.uniform(-1, 1, (BATCH, Z_DIM))})
            real_again, fake_again = sess.run(view, {input_real: images,
                                                     input_z: rng.uniform(-1, 1, (BATCH, Z_DIM))})
    np.testing.assert_allclose(real, _sigmoid(expected[:, 0]), rtol=1e-5)
    np.testing.assert_allclose(real_again, real, rtol=1e-5)  # other z: the same D(x) ...
    assert not np.allclose(fake_again, fake)  # ... and another D(G(z))


def test_an_unusual_discriminator_is_not_guessed_at_and_is_said_once(capsys):
    """D called once on real and generated images together: no view, one line, and the run goes on."""
    with tf.Graph().as_default():
        input_real = tf.placeholder(tf.float32, (None, 4, 4, 1))
        input_z = tf.placeholder(tf.float32, (None, 3))
        both = tf.concat([input_real, _tiny_generator(input_z)], axis=0)
        _, logits = _tiny_discriminator(both)
        d_loss = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(logits=logits, labels=tf.ones_like(logits)))
        assert discriminator_view.find(d_loss, input_real, input_z) is None
        no_discriminator = tf.reduce_mean(input_real) + tf.reduce_mean(input_z)
        assert discriminator_view.find(no_discriminator, input_real, input_z, quiet=True) is None
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and 'go without D(x) and D(G(z))' in err
