"""The model in graph mode: the article's layers, batch-norm calibration, and real training steps."""
import contextlib
import inspect
import os
import re

import numpy as np
import pytest
from PIL import Image

import dlnd_face_generation as dlnd
import helper
from facegan import batch_norm, generation, tensorflow_setup, training_run

tf = dlnd.tf


def _trainable_shapes(scope):
    return {var.name[len(scope) + 1:]: var.shape.as_list()
            for var in tf.trainable_variables() if var.name.startswith(scope + '/')}


def test_generator_and_discriminator_layers_are_the_articles():
    """The article's layers: no bias where batch norm follows (the generator's dense layer and its two
    middle transposed convolutions, the discriminator's last two convolutions)."""
    with tf.Graph().as_default():
        input_real, input_z, _ = dlnd.model_inputs(28, 28, 3, 100)
        dlnd.model_loss(input_real, input_z, 3)
        g = _trainable_shapes('generator')
        d = _trainable_shapes('discriminator')
    assert g == {
        'dense/kernel:0': [100, 4 * 4 * 1024],
        'batch_normalization/gamma:0': [1024], 'batch_normalization/beta:0': [1024],
        'conv2d_transpose/kernel:0': [4, 4, 512, 1024],
        'batch_normalization_1/gamma:0': [512], 'batch_normalization_1/beta:0': [512],
        'conv2d_transpose_1/kernel:0': [5, 5, 256, 512],
        'batch_normalization_2/gamma:0': [256], 'batch_normalization_2/beta:0': [256],
        'conv2d_transpose_2/kernel:0': [5, 5, 3, 256], 'conv2d_transpose_2/bias:0': [3],
    }
    assert d == {
        'conv2d/kernel:0': [5, 5, 3, 64], 'conv2d/bias:0': [64],
        'conv2d_1/kernel:0': [5, 5, 64, 128],
        'batch_normalization/gamma:0': [128], 'batch_normalization/beta:0': [128],
        'conv2d_2/kernel:0': [5, 5, 128, 256],
        'batch_normalization_1/gamma:0': [256], 'batch_normalization_1/beta:0': [256],
        'dense/kernel:0': [4 * 4 * 256, 1], 'dense/bias:0': [1],
    }


@pytest.mark.parametrize('function,keywords', [
    (dlnd.generator, {'is_train': True, 'alpha': 0.2, 'keep_prob': 0.5}),
    (dlnd.discriminator, {'reuse': False, 'alpha': 0.2}),
    (dlnd.model_loss, {'alpha': 0.2, 'smooth_factor': 0.1}),
])
def test_the_articles_keyword_arguments_and_defaults(function, keywords):
    parameters = inspect.signature(function).parameters
    assert {name: parameters[name].default for name in keywords} == keywords


def test_alpha_reaches_every_leaky_relu():
    with tf.Graph().as_default():
        input_real, input_z, _ = dlnd.model_inputs(28, 28, 1, 10)
        dlnd.model_loss(input_real, input_z, 1, alpha=0.3)
        alphas = [op.get_attr('alpha') for op in tf.get_default_graph().get_operations() if op.type == 'LeakyRelu']
    assert len(alphas) == 3 + 3 + 3 and all(abs(a - 0.3) < 1e-6 for a in alphas)  # G, D(real), D(fake)


def test_smooth_factor_sets_the_real_images_label():
    """The real images' cross-entropy is linear in their label, 1 - smooth_factor."""
    def d_loss_at(smooth_factor):
        with tf.Graph().as_default():
            tensorflow_setup.set_seeds(0)
            input_real, input_z, _ = dlnd.model_inputs(28, 28, 1, 10)
            d_loss, _ = dlnd.model_loss(input_real, input_z, 1, smooth_factor=smooth_factor)
            with tf.Session() as sess:
                sess.run(tf.global_variables_initializer())
                rng = np.random.default_rng(0)
                feed = {input_real: rng.uniform(-1, 1, (4, 28, 28, 1)), input_z: rng.uniform(-1, 1, (4, 10))}
                return sess.run(d_loss, feed)
    # Same weights and inputs: only the real label moves, and d_loss is linear in it
    low, high = d_loss_at(0.0), d_loss_at(0.2)
    assert abs(high - low) > 1e-4 and abs(d_loss_at(0.1) - (low + high) / 2) < 1e-5


def test_discriminator_batch_norm_normalises_with_batch_statistics():
    """The article's discriminator batch norm had no training flag and left activations as they were."""
    with tf.Graph().as_default():
        images = tf.placeholder(tf.float32, (None, 28, 28, 3))
        dlnd.discriminator(images)
        graph = tf.get_default_graph()
        bn_input = graph.get_tensor_by_name('discriminator/conv2d_1/Conv2D:0')
        bn_output = graph.get_operation_by_name('discriminator/batch_normalization/FusedBatchNormV3').outputs[0]
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            batch = np.random.default_rng(0).uniform(-1, 1, (16, 28, 28, 3)) * 5 + 3
            before, after = sess.run([bn_input, bn_output], {images: batch})
    assert np.abs(before.mean(axis=(0, 1, 2))).max() > 0.05 or before.std() > 2
    np.testing.assert_allclose(after.mean(axis=(0, 1, 2)), 0, atol=1e-3)
    np.testing.assert_allclose(after.std(axis=(0, 1, 2)), 1, atol=1e-2)


def test_generator_dropout_is_on_in_training_and_off_in_inference():
    with tf.Graph().as_default():
        tf.set_random_seed(1)
        z = tf.placeholder(tf.float32, (None, 10))
        train_out = dlnd.generator(z, 3)
        sample_out = dlnd.generator(z, 3, is_train=False)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            batch_z = np.random.default_rng(0).uniform(-1, 1, (8, 10))
            t1, t2 = sess.run(train_out, {z: batch_z}), sess.run(train_out, {z: batch_z})
            s1, s2 = sess.run(sample_out, {z: batch_z}), sess.run(sample_out, {z: batch_z})
    assert train_out.shape.as_list() == [None, 28, 28, 3]
    assert np.abs(t1 - t2).max() > 1e-3  # dropout masks differ between runs
    np.testing.assert_array_equal(s1, s2)
    assert s1.min() >= -1 and s1.max() <= 1


def test_model_opt_updates_batch_norm_averages_with_each_step():
    with tf.Graph().as_default():
        input_real, input_z, lr = dlnd.model_inputs(28, 28, 1, 10)
        d_loss, g_loss = dlnd.model_loss(input_real, input_z, 1)
        d_opt, _ = dlnd.model_opt(d_loss, g_loss, lr, 0.5)
        moving_mean = [v for v in tf.global_variables() if v.name == 'generator/batch_normalization/moving_mean:0'][0]
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            before = sess.run(moving_mean)
            sess.run(d_opt, {input_real: np.zeros((4, 28, 28, 1)), input_z: np.ones((4, 10)), lr: 0.001})
            assert np.abs(sess.run(moving_mean) - before).max() > 0


def _synthetic_dataset(tmp_path, count=24):
    folder = helper.make_synthetic_faces(str(tmp_path / 'data'), count=count, seed=0)
    files = sorted(os.path.join(folder, name) for name in os.listdir(folder))
    return helper.Dataset('synthetic', files, seed=0)


def _train(dataset, out, steps, **kwargs):
    """Train on a tiny dataset in a fresh graph, seeded as the command line seeds it."""
    options = training_run.RunOptions(output_dir=str(out), max_steps=steps, eval_every=0, **kwargs)
    with tf.Graph().as_default():
        tensorflow_setup.set_seeds(0)
        return dlnd.train(1, 8, 16, 0.0005, 0.5, dataset.get_batches, dataset.shape, dataset.image_mode,
                          print_every=1, show_every=100, options=options)


def test_train_smoke_losses_finite_pngs_written_graph_fixed(tmp_path, capsys, monkeypatch):
    dataset = _synthetic_dataset(tmp_path)
    out = str(tmp_path / 'out')
    calls = []
    real_samples = training_run.TrainingRun.samples

    def counting_samples(self, sess, final=False):
        calls.append(len(sess.graph.get_operations()))
        return real_samples(self, sess, final)

    monkeypatch.setattr(training_run.TrainingRun, 'samples', counting_samples)
    with tf.Graph().as_default():
        tf.set_random_seed(0)
        losses = dlnd.train(2, 8, 16, 0.0002, 0.5, dataset.get_batches, dataset.shape, dataset.image_mode,
                            print_every=2, show_every=2,
                            options=training_run.RunOptions(output_dir=out, max_steps=4))
    printed = [line for line in capsys.readouterr().out.splitlines() if 'Discriminator Loss' in line]
    assert [step for step, _, _ in losses] == [2, 4]
    assert all(np.isfinite(d) and np.isfinite(g) for _, d, g in losses)
    line = r'Epoch {}/2\.\.\. Discriminator Loss: \d+\.\d{{4}}\.\.\. Generator Loss: \d+\.\d{{4}}'
    assert re.fullmatch(line.format(1), printed[0])
    assert re.fullmatch(line.format(2), printed[1])  # 24 images at batch 8: 3 steps an epoch
    assert [name for name in sorted(os.listdir(out)) if name.startswith('samples_')] == [
        'samples_final.png', 'samples_step_00002.png', 'samples_step_00004.png']
    assert len(calls) == 3 and len(set(calls)) == 1  # sampling added no ops to the graph
    with Image.open(os.path.join(out, 'samples_final.png')) as grid:
        assert grid.size == (5 * 28 * 4, 5 * 28 * 4) and grid.mode == 'RGB'  # enlarged 4x to be seen
        tile = np.asarray(grid)[:4, :4]
        assert (tile == tile[0, 0]).all()  # nearest neighbour: each pixel a 4x4 square


def test_train_feeds_the_discriminator_images_in_tanh_range(tmp_path, monkeypatch):
    """get_batches gives [-0.5, 0.5]; the generator's tanh gives [-1, 1]; train doubles the batches."""
    dataset = _synthetic_dataset(tmp_path, count=8)
    seen = []
    real_run = tf.Session.run

    def spy_run(self, fetches, feed_dict=None, **kwargs):
        for key, value in (feed_dict or {}).items():
            if getattr(key, 'name', '') == 'input_real:0':
                seen.append((np.min(value), np.max(value)))
        return real_run(self, fetches, feed_dict=feed_dict, **kwargs)

    monkeypatch.setattr(tf.Session, 'run', spy_run)
    _train(dataset, tmp_path / 'out', 1)
    assert seen and min(lo for lo, _ in seen) < -0.6 and max(hi for _, hi in seen) > 0.6
    assert all(-1 <= lo and hi <= 1 for lo, hi in seen)


def _trained_weights(dataset, out, monkeypatch, **replaced):
    """
    :param replaced: Model functions to replace in the notebook's module, as a learner's edit would
    :return: ({variable name: value} before training, the same after 3 steps)
    """
    for name, function in replaced.items():
        monkeypatch.setattr(dlnd, name, function)
    snapshots = []
    real_session = training_run.TrainingRun.session

    @contextlib.contextmanager
    def snapshotting_session(self, *args):
        with real_session(self, *args) as sess:
            trainable = tf.trainable_variables()
            snapshots.append({var.op.name: sess.run(var) for var in trainable})
            yield sess
            snapshots.append({var.op.name: sess.run(var) for var in trainable})

    monkeypatch.setattr(training_run.TrainingRun, 'session', snapshotting_session)
    _train(dataset, out, 3)
    return snapshots


def _moved(before, after, scope):
    """:return: Names of the variables in scope that training changed"""
    return sorted(name for name in before if name.startswith(scope) and not np.array_equal(before[name], after[name]))


def test_training_runs_the_notebooks_model_loss(tmp_path, monkeypatch):
    """A learner's edit to model_loss changes training: a generator loss of 0 freezes the generator."""
    dataset = _synthetic_dataset(tmp_path, count=24)
    real_model_loss = dlnd.model_loss

    def model_loss_without_generator_loss(input_real, input_z, out_channel_dim):
        d_loss, g_loss = real_model_loss(input_real, input_z, out_channel_dim)
        return d_loss, g_loss * 0

    before, after = _trained_weights(dataset, tmp_path / 'edited', monkeypatch,
                                     model_loss=model_loss_without_generator_loss)
    assert _moved(before, after, 'generator/') == [] and _moved(before, after, 'discriminator/')
    before, after = _trained_weights(dataset, tmp_path / 'as_is', monkeypatch, model_loss=real_model_loss)
    assert len(_moved(before, after, 'generator/')) == 11  # every generator weight moves without the edit


def test_training_runs_the_notebooks_model_opt(tmp_path, monkeypatch):
    """A learner's edit to model_opt changes training: a learning rate of 0 freezes both networks."""
    dataset = _synthetic_dataset(tmp_path, count=24)
    real_model_opt = dlnd.model_opt

    def model_opt_standing_still(d_loss, g_loss, learning_rate, beta1):
        return real_model_opt(d_loss, g_loss, learning_rate * 0, beta1)

    before, after = _trained_weights(dataset, tmp_path / 'out', monkeypatch, model_opt=model_opt_standing_still)
    assert len(before) == 21 and _moved(before, after, '') == []


def test_training_runs_the_notebooks_generator(tmp_path, monkeypatch):
    """The samples, the scores and generate draw from the notebook's generator, not a copy of it."""
    dataset = _synthetic_dataset(tmp_path, count=24)
    calls = []
    real_generator = dlnd.generator

    def recorded_generator(z, out_channel_dim, is_train=True, alpha=0.2, keep_prob=0.5):
        calls.append((is_train, keep_prob))
        return real_generator(z, out_channel_dim, is_train=is_train, alpha=alpha, keep_prob=keep_prob)

    _trained_weights(dataset, tmp_path / 'out', monkeypatch, generator=recorded_generator)
    # model_loss's training call, the grid's inference call, calibration's training call without dropout
    assert calls == [(True, 0.5), (False, 0.5), (True, 1.0)]


def _session_runs_fed_images(tmp_path, monkeypatch, order):
    """:return: (the fetches of each session.run fed real images, the losses train returned) over 3 steps"""
    dataset = _synthetic_dataset(tmp_path / order, count=24)
    runs_fed_images = []
    real_run = tf.Session.run

    def spy_run(self, fetches, feed_dict=None, **kwargs):
        if any(getattr(key, 'name', '') == 'input_real:0' for key in (feed_dict or {})):
            runs_fed_images.append(fetches)
        return real_run(self, fetches, feed_dict=feed_dict, **kwargs)

    monkeypatch.setattr(tf.Session, 'run', spy_run)
    losses = _train(dataset, tmp_path / order / 'out', 3, update_order=order)
    return runs_fed_images, losses


def test_simultaneous_order_runs_the_session_once_per_step(tmp_path, monkeypatch):
    """
    Both optimizers, both losses and D's outputs in one run: the printed losses are the ones the
    updates used.
    """
    runs, losses = _session_runs_fed_images(tmp_path, monkeypatch, 'simultaneous')
    assert len(runs) == 3 and all(len(fetches) == 5 for fetches in runs)
    assert [step for step, _, _ in losses] == [1, 2, 3]
    with open(tmp_path / 'simultaneous' / 'out' / 'losses.csv') as csv:
        assert len(csv.read().splitlines()) == 4  # a header and one row per step


def test_alternating_order_runs_the_udacity_templates_two_runs(tmp_path, monkeypatch):
    simultaneous, _ = _session_runs_fed_images(tmp_path, monkeypatch, 'simultaneous')
    monkeypatch.undo()
    alternating, losses = _session_runs_fed_images(tmp_path, monkeypatch, 'alternating')
    # D's outputs come with the discriminator's update
    assert [len(fetches) for fetches in alternating] == [3, 2] * 3
    assert [fetches[0].name for fetches in alternating[:2]] != [fetches[0].name for fetches in simultaneous[:2]]
    assert [step for step, _, _ in losses] == [1, 2, 3]


def test_calibration_sets_the_averages_to_a_large_batchs_statistics(tmp_path):
    """
    Precise batch norm: after a few steps and a checkpoint, the restored generator's moving averages
    are the statistics of a fresh large z batch, and its inference-mode samples equal training mode's
    (batch statistics, no dropout) on a large batch.
    """
    dataset = _synthetic_dataset(tmp_path, count=24)
    _train(dataset, tmp_path / 'run', 3, calibration_z=256)
    path, z_dim, channels = generation.find_generator(dlnd.generator, str(tmp_path / 'run'))
    with tf.Graph().as_default():
        z = tf.placeholder(tf.float32, (None, z_dim))
        batch_stats = dlnd.generator(z, channels, keep_prob=1.0)
        inference = dlnd.generator(z, channels, is_train=False)
        graph = tf.get_default_graph()
        norms = [op for op in graph.get_operations() if op.type == 'FusedBatchNormV3' and op.get_attr('is_training')]
        normalised = [op.inputs[0] for op in norms]  # each batch norm's input, to take its statistics in numpy
        moving = [var for var in tf.global_variables() if 'moving_' in var.name]
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            initial = sess.run(moving)
            tf.train.Saver().restore(sess, path)
            restored = sess.run(moving)
            feed = {z: np.random.default_rng(5).uniform(-1, 1, (512, z_dim))}
            inputs, trained, drawn = sess.run([normalised, batch_stats, inference], feed)
    # Per channel, over the batch and the positions, in float64: the reference the averages must match
    statistics = [(x.astype(np.float64).mean(axis=(0, 1, 2)), x.astype(np.float64).var(axis=(0, 1, 2)))
                  for x in inputs]
    assert len(moving) == 6 and len(norms) == 3
    # moving holds each batch norm's mean, then its variance; the means are compared in standard deviations
    for (saved_mean, saved_variance), (mean, variance) in zip(zip(restored[::2], restored[1::2]), statistics):
        np.testing.assert_allclose(saved_variance, variance, rtol=0.1)
        assert (np.abs(saved_mean - mean) < 0.1 * np.sqrt(variance)).all()
    # Training's own averages would still be near their start (mean 0, variance 1) after 3 steps
    assert max(np.abs(saved - start).max() for saved, start in zip(restored, initial)) > 0.5
    # 256 z set the averages, 512 others are drawn: the limits are for sampling noise (a batch norm's mean
    # from n draws is off by about sigma/sqrt(n): sqrt(1/256 + 1/512) = 0.077 sigma between the two, and tanh's
    # slope is at most 1), fixed by the seeds, not for the CPU: float32 rounding moves the samples by
    # gamma_n (n <= 6,400 products a sum: 4e-4 relative) at most, 25x below the 0.01 limit; training's
    # own averages would be off by far more
    difference = np.abs(drawn - trained)
    assert difference.mean() < 0.01 and np.quantile(difference, 0.999) < 0.05


def test_calibration_adds_no_variables_and_no_update_ops():
    with tf.Graph().as_default():
        z = tf.placeholder(tf.float32, (None, 10))
        dlnd.generator(z, 1)
        variables, updates = tf.global_variables(), tf.get_collection(tf.GraphKeys.UPDATE_OPS)
        batch_norm.build_calibration(dlnd.generator, 10, 1, count=64)
        assert tf.global_variables() == variables and tf.get_collection(tf.GraphKeys.UPDATE_OPS) == updates


@pytest.mark.skipif(not tensorflow_setup.cpu_bfloat16_support(),
                    reason='bfloat16 is native (and --precision auto picks it) only where the CPU has AMX_BF16 or '
                           'AVX512_BF16: this one has neither')
def test_bfloat16_session_computes_in_bfloat16_and_keeps_float32_variables():
    with tf.Graph().as_default():
        tensorflow_setup.set_seeds(0)
        z = tf.placeholder(tf.float32, (None, 10))
        dlnd.generator(z, 3)
        samples = dlnd.generator(z, 3, is_train=False)
        init = tf.global_variables_initializer()
        batch_z = np.random.default_rng(0).uniform(-1, 1, (16, 10))
        outputs = {}
        for precision in ('float32', 'bfloat16'):
            with tf.Session(config=tensorflow_setup.session_config(precision)) as sess:
                sess.run(init)
                outputs[precision] = sess.run(samples, {z: batch_z})
        assert all(var.dtype.base_dtype == tf.float32 for var in tf.global_variables())
    difference = np.abs(outputs['bfloat16'] - outputs['float32'])
    assert outputs['bfloat16'].dtype == np.float32
    # bfloat16 keeps 8 significant bits: each rounded input and weight is off by up to u = 2^-8 = 3.9e-3
    # relative, so over 37,632 samples' values some move by more than u / 4 = 1e-3, where float32 alone
    # would move them by gamma_n (4e-4 relative) or less; and by less than 0.1 = 25 u through the three
    # layers (batch norm rescales, tanh's slope is at most 1): not wholesale
    assert 1e-3 < difference.max() < 0.1
