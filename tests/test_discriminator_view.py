"""
The discriminator's view: D(x) and D(G(z)) found in d_loss's graph without a second forward pass,
and a short run's losses.csv, progress bar and TensorBoard event file carrying them.
"""
import contextlib
import io
import os

import numpy as np
import pytest
from tensorboard.backend.event_processing import event_accumulator

import dlnd_face_generation as dlnd
import helper
from facegan import discriminator_view, run_log, tensorflow_setup, training_run

tf = dlnd.tf
BATCH, Z_DIM, STEPS, SHOW_EVERY = 8, 16, 4, 2


def _conv_count():
    return sum(op.type == 'Conv2D' for op in tf.get_default_graph().get_operations())


def _tiny_generator(z, reuse=False):
    """A generator without randomness: dense z -> 4x4x1 image in [-1, 1]"""
    with tf.variable_scope('generator', reuse=reuse):
        return tf.reshape(tf.tanh(tf.layers.dense(z, 16)), (-1, 4, 4, 1))


def _tiny_discriminator(images, reuse=False, use_bias=True):
    """:return: (sigmoid, logits) of one dense layer over the flattened image"""
    with tf.variable_scope('discriminator', reuse=reuse):
        logits = tf.layers.dense(tf.reshape(images, (-1, 16)), 1, use_bias=use_bias)
        return tf.sigmoid(logits), logits


def _tiny_gan(use_bias=True, weight_decay=0.0):
    """
    :param use_bias: Give D's last dense layer a bias (its logits a BiasAdd) or not (a MatMul)
    :param weight_decay: Add this times the L2 norm of D's weights to d_loss (ops that read D's variables too)
    :return: (input_real, input_z, d_loss, D's logits on the real images, D's logits on the generated ones)
    """
    input_real = tf.placeholder(tf.float32, (None, 4, 4, 1), name='input_real')
    input_z = tf.placeholder(tf.float32, (None, 3), name='input_z')
    _, logits_real = _tiny_discriminator(input_real, use_bias=use_bias)
    _, logits_fake = _tiny_discriminator(_tiny_generator(input_z), reuse=True, use_bias=use_bias)
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


@pytest.mark.parametrize('use_bias, weight_decay', [(True, 0.0), (False, 0.0), (True, 0.01)])
def test_find_gives_the_sigmoid_of_each_images_logits(use_bias, weight_decay):
    """With or without a bias on D's last layer, and with D's weights in d_loss (weight decay)."""
    rng = np.random.default_rng(0)
    with tf.Graph().as_default():
        input_real, input_z, d_loss, logits_real, logits_fake = _tiny_gan(use_bias, weight_decay)
        view = discriminator_view.find(d_loss, input_real, input_z)
        assert view is not None and view.real.shape.as_list() == view.fake.shape.as_list() == [None]
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            feed = {input_real: rng.uniform(-1, 1, (5, 4, 4, 1)), input_z: rng.uniform(-1, 1, (5, 3))}
            (real, fake), expected_real, expected_fake = sess.run([view, logits_real, logits_fake], feed)
    np.testing.assert_allclose(real, _sigmoid(expected_real[:, 0]), rtol=1e-6)
    np.testing.assert_allclose(fake, _sigmoid(expected_fake[:, 0]), rtol=1e-6)
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


@pytest.fixture(scope='module')
def short_run(tmp_path_factory):
    """
    STEPS steps with TensorBoard, recording the first training step's feed and D's weights before it
    :return: (output dir, logdir, stderr the run printed, {D variable name: value before step 1}, batch of step 1)
    """
    folder = tmp_path_factory.mktemp('d_view')
    data = helper.make_synthetic_faces(str(folder / 'data'), count=BATCH * STEPS, seed=0)
    dataset = helper.Dataset('synthetic', helper.list_image_files(data), seed=0)
    out, logdir = folder / 'out', folder / 'tb'
    first_step = {}
    real_run = tf.Session.run

    def recording_run(self, fetches, feed_dict=None, **kwargs):
        fed_images = [value for key, value in (feed_dict or {}).items() if getattr(key, 'name', '') == 'input_real:0']
        if fed_images and not first_step:
            d_vars = [var for var in tf.global_variables() if var.op.name.startswith('discriminator/')]
            first_step.update(weights=dict(zip([var.op.name for var in d_vars], real_run(self, d_vars))),
                              images=fed_images[0])
        return real_run(self, fetches, feed_dict=feed_dict, **kwargs)

    options = training_run.RunOptions(output_dir=str(out), logdir=str(logdir), max_steps=STEPS, eval_every=0)
    stderr = io.StringIO()
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stderr(stderr), tf.Graph().as_default():
        patch.setattr(tf.Session, 'run', recording_run)
        tensorflow_setup.set_seeds(0)
        dlnd.train(1, BATCH, Z_DIM, 0.0005, 0.5, dataset.get_batches, dataset.shape, dataset.image_mode,
                   print_every=100, show_every=SHOW_EVERY, options=options)
    return out, logdir, stderr.getvalue(), first_step['weights'], first_step['images']


def _losses(out):
    return np.genfromtxt(str(out / 'losses.csv'), delimiter=',', names=True)


def test_losses_csv_has_each_steps_mean_d_real_and_d_fake(short_run):
    out, _, bar, _, _ = short_run
    rows = _losses(out)
    assert rows.dtype.names == ('step', 'd_loss', 'g_loss', 'd_real', 'd_fake')
    assert rows['step'].tolist() == list(range(1, STEPS + 1))
    for name in ('d_real', 'd_fake'):
        assert ((rows[name] >= 0) & (rows[name] <= 1)).all() and 0 < rows[name][0] < 1, name
    assert 'D(x)=' in bar and 'D(G(z))=' in bar  # the progress bar shows them


def test_d_real_of_step_1_is_the_discriminator_on_the_batch_fed(short_run):
    """Recomputed in a graph of its own: the notebook's discriminator, step 1's weights and batch."""
    out, _, _, weights, images = short_run
    with tf.Graph().as_default():
        _, logits = dlnd.discriminator(tf.constant(images, tf.float32))
        with tf.Session() as sess:
            for var in tf.global_variables():
                var.load(weights[var.op.name], sess)
            recomputed = _sigmoid(sess.run(logits)).mean()
    assert _losses(out)['d_real'][0] == pytest.approx(recomputed, abs=2e-6)  # the CSV keeps 6 decimals


def test_event_file_has_d_scalars_histograms_and_sample_grids(short_run):
    out, logdir, _, _, _ = short_run
    events = event_accumulator.EventAccumulator(str(logdir), size_guidance={'scalars': 0, 'histograms': 0,
                                                                            'images': 0})
    events.Reload()
    rows = _losses(out)
    for name in ('d_real', 'd_fake'):
        scalars = events.Scalars(name)
        assert [event.step for event in scalars] == list(range(1, STEPS + 1))
        np.testing.assert_allclose([event.value for event in scalars], rows[name], atol=1e-6)
        histograms = events.Histograms(name + '_per_image')
        assert [event.step for event in histograms] == list(range(SHOW_EVERY, STEPS + 1, SHOW_EVERY))
        for event in histograms:
            histogram = event.histogram_value
            assert histogram.num == BATCH and sum(histogram.bucket) == BATCH
            assert 0 <= histogram.min <= histogram.max <= 1  # float32's sigmoid reaches 1.0
            assert histogram.sum / histogram.num == pytest.approx(rows[name][event.step - 1], abs=2e-6)
    assert [event.step for event in events.Images('samples')] == [2, 4, 4]  # each grid, and the final one


def test_a_resumed_run_adds_the_columns_to_an_older_losses_csv(tmp_path):
    """
    An older run's losses.csv (no d_real, d_fake) gets the columns on --resume, nan in its rows; a
    step without D's outputs (an unusual discriminator) has nan in them too.
    """
    (tmp_path / 'losses.csv').write_text('step,d_loss,g_loss\n1,0.500000,2.000000\n')
    view = discriminator_view.DiscriminatorView(np.array([0.25, 0.75]), np.array([0.5, 0.0]))
    log = run_log.RunLog(str(tmp_path), 'RGB')
    log.resume_at(1)  # as TrainingRun.session does on --resume
    log.losses(2, 0.4, 1.5, view)
    log.losses(3, 0.3, 1.25)
    rows = _losses(tmp_path)
    assert rows.dtype.names == ('step', 'd_loss', 'g_loss', 'd_real', 'd_fake')
    assert rows['step'].tolist() == [1, 2, 3] and rows['g_loss'].tolist() == [2.0, 1.5, 1.25]
    np.testing.assert_array_equal(rows['d_real'], [np.nan, 0.5, np.nan])
    np.testing.assert_array_equal(rows['d_fake'], [np.nan, 0.25, np.nan])
    assert not any(name.startswith('.') for name in os.listdir(str(tmp_path)))  # no temporary file left
