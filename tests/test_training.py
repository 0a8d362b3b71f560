"""The model in graph mode: the article's layers, the sampler, and a few real training steps."""
import os
import re

import numpy as np
import pytest

import dlnd_face_generation as dlnd
import helper

tf = dlnd.tf


def _trainable_shapes(scope):
    return {var.name[len(scope) + 1:]: var.shape.as_list()
            for var in tf.trainable_variables() if var.name.startswith(scope + '/')}


def test_generator_and_discriminator_layers_are_the_articles():
    with tf.Graph().as_default():
        input_real, input_z, _ = dlnd.model_inputs(28, 28, 3, 100)
        dlnd.model_loss(input_real, input_z, 3)
        g = _trainable_shapes('generator')
        d = _trainable_shapes('discriminator')
    assert g == {
        'dense/kernel:0': [100, 4 * 4 * 1024],  # no bias: batch norm follows
        'batch_normalization/gamma:0': [1024], 'batch_normalization/beta:0': [1024],
        'conv2d_transpose/kernel:0': [4, 4, 512, 1024], 'conv2d_transpose/bias:0': [512],
        'batch_normalization_1/gamma:0': [512], 'batch_normalization_1/beta:0': [512],
        'conv2d_transpose_1/kernel:0': [5, 5, 256, 512], 'conv2d_transpose_1/bias:0': [256],
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


def test_generator_dropout_is_on_in_training_and_off_in_the_sampler():
    with tf.Graph().as_default():
        tf.set_random_seed(1)
        z = tf.placeholder(tf.float32, (None, 10))
        train_out = dlnd.generator(z, 3)
        sample_out = dlnd.build_sampler(z, 3)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            batch_z = np.random.default_rng(0).uniform(-1, 1, (8, 10))
            t1, t2 = sess.run(train_out, {z: batch_z}), sess.run(train_out, {z: batch_z})
            s1, s2 = sess.run(sample_out, {z: batch_z}), sess.run(sample_out, {z: batch_z})
    assert train_out.shape.as_list() == [None, 28, 28, 3]
    assert np.abs(t1 - t2).max() > 1e-3  # dropout masks differ between runs
    np.testing.assert_array_equal(s1, s2)
    assert s1.min() >= -1 and s1.max() <= 1


def test_sampler_does_not_move_the_moving_averages():
    """Sampling with batch statistics must leave training's batch-norm averages alone."""
    with tf.Graph().as_default():
        z = tf.placeholder(tf.float32, (None, 10))
        dlnd.generator(z, 1)
        updates_before = list(tf.get_collection(tf.GraphKeys.UPDATE_OPS))
        samples = dlnd.build_sampler(z, 1)
        assert tf.get_collection(tf.GraphKeys.UPDATE_OPS) == updates_before
        moving = [v for v in tf.global_variables() if 'moving_' in v.name]
        assert len(moving) == 6  # mean and variance of three generator batch norms
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            before = sess.run(moving)
            sess.run(samples, {z: np.ones((4, 10))})
            after = sess.run(moving)
    for b, a in zip(before, after):
        np.testing.assert_array_equal(b, a)


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


def test_train_smoke_losses_finite_pngs_written_graph_fixed(tmp_path, capsys, monkeypatch):
    dataset = _synthetic_dataset(tmp_path)
    out = str(tmp_path / 'out')
    calls = []
    real_show = dlnd.show_generator_output

    def counting_show(sess, samples, log, step, final=False):
        calls.append(len(sess.graph.get_operations()))
        return real_show(sess, samples, log, step, final)

    monkeypatch.setattr(dlnd, 'show_generator_output', counting_show)
    with tf.Graph().as_default():
        tf.set_random_seed(0)
        losses = dlnd.train(2, 8, 16, 0.0002, 0.5, dataset.get_batches, dataset.shape, dataset.image_mode,
                            print_every=2, show_every=2, output_dir=out, max_steps=4)
    printed = [line for line in capsys.readouterr().out.splitlines() if 'Discriminator Loss' in line]
    assert [step for step, _, _ in losses] == [2, 4]
    assert all(np.isfinite(d) and np.isfinite(g) for _, d, g in losses)
    line = r'Epoch {}/2\.\.\. Discriminator Loss: \d+\.\d{{4}}\.\.\. Generator Loss: \d+\.\d{{4}}'
    assert re.fullmatch(line.format(1), printed[0])
    assert re.fullmatch(line.format(2), printed[1])  # 24 images at batch 8: 3 steps an epoch
    assert [name for name in sorted(os.listdir(out)) if name.startswith('samples_')] == [
        'samples_final.png', 'samples_step_00002.png', 'samples_step_00004.png']
    assert len(calls) == 3 and len(set(calls)) == 1  # sampling added no ops to the graph
    from PIL import Image
    with Image.open(os.path.join(out, 'samples_final.png')) as grid:
        assert grid.size == (5 * 28, 5 * 28) and grid.mode == 'RGB'


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
    with tf.Graph().as_default():
        dlnd.train(1, 8, 8, 0.0002, 0.5, dataset.get_batches, dataset.shape, dataset.image_mode,
                   output_dir=str(tmp_path / 'out'), max_steps=1)
    assert seen and min(lo for lo, _ in seen) < -0.6 and max(hi for _, hi in seen) > 0.6
    assert all(-1 <= lo and hi <= 1 for lo, hi in seen)


def _train_two_ways(monkeypatch, steps=3, batch=8, z_dim=10):
    """
    Train the same initial weights on the same batches with the article's two session.run calls and
    with model_step's one. Dropout is off: the article's two runs draw two dropout masks, the fused
    step one, so only without dropout can the updates be equal.
    :return: {fused: (list of (d_loss, g_loss), {variable name: value after the steps}, g_loss before any update)}
    """
    monkeypatch.setattr(dlnd, 'KEEP_PROB', 1.0)
    rng = np.random.default_rng(0)
    batches = [(rng.uniform(-1, 1, (batch, 28, 28, 3)), rng.uniform(-1, 1, (batch, z_dim))) for _ in range(steps)]
    initial, results = None, {}
    for fused in (False, True):
        with tf.Graph().as_default():
            dlnd.set_seeds(0)
            input_real, input_z, lr = dlnd.model_inputs(28, 28, 3, z_dim)
            if fused:
                step_opt, d_loss, g_loss = dlnd.model_step(input_real, input_z, 3, lr, 0.5)
            else:
                d_loss, g_loss = dlnd.model_loss(input_real, input_z, 3)
                d_opt, g_opt = dlnd.model_opt(d_loss, g_loss, lr, 0.5)
            trainable = tf.trainable_variables()
            with tf.Session() as sess:
                sess.run(tf.global_variables_initializer())
                initial = initial or {var.name: sess.run(var) for var in trainable}
                for var in trainable:
                    var.load(initial[var.name], sess)
                first = {input_real: batches[0][0], input_z: batches[0][1], lr: 0.001}
                g_loss_before = sess.run(g_loss, first) if not fused else None
                losses = []
                for images, z in batches:
                    feed = {input_real: images, input_z: z, lr: 0.001}
                    if fused:
                        losses.append(sess.run([step_opt, d_loss, g_loss], feed)[1:])
                    else:
                        d_value = sess.run([d_opt, d_loss], feed)[1]
                        losses.append([d_value, sess.run([g_opt, g_loss], feed)[1]])
                results[fused] = losses, {var.name: sess.run(var) for var in trainable}, g_loss_before
    return results


def test_fused_step_makes_the_articles_updates(monkeypatch):
    """One session.run, one generator pass: the same losses and weights as the article's two runs."""
    results = _train_two_ways(monkeypatch)
    (article_losses, article_vars, g_loss_before), (fused_losses, fused_vars, _) = results[False], results[True]
    # Same kernels on the same numbers; the tolerance allows for float32 sums added in another order
    np.testing.assert_allclose(fused_losses, article_losses, rtol=1e-5)
    assert article_vars.keys() == fused_vars.keys() and len(fused_vars) == 23
    for name, value in article_vars.items():
        np.testing.assert_allclose(fused_vars[name], value, rtol=1e-4, atol=1e-6, err_msg=name)
    # The generator's first loss is taken through the updated discriminator, not the one before it
    assert abs(fused_losses[0][1] - g_loss_before) > 1e-3


def test_train_runs_the_session_once_per_step(tmp_path, monkeypatch):
    """The printed losses come from the step's own run, not from evaluating the losses again."""
    dataset = _synthetic_dataset(tmp_path, count=16)
    runs_fed_images = []
    real_run = tf.Session.run

    def spy_run(self, fetches, feed_dict=None, **kwargs):
        if any(getattr(key, 'name', '') == 'input_real:0' for key in (feed_dict or {})):
            runs_fed_images.append(fetches)
        return real_run(self, fetches, feed_dict=feed_dict, **kwargs)

    monkeypatch.setattr(tf.Session, 'run', spy_run)
    with tf.Graph().as_default():
        losses = dlnd.train(1, 4, 8, 0.0002, 0.5, dataset.get_batches, dataset.shape, dataset.image_mode,
                            print_every=1, show_every=100, output_dir=str(tmp_path / 'out'), max_steps=3)
    assert len(runs_fed_images) == 3 and [step for step, _, _ in losses] == [1, 2, 3]
    with open(tmp_path / 'out' / 'losses.csv') as csv:
        rows = csv.read().splitlines()
    assert len(rows) == 4  # a header and one row per printed step


@pytest.mark.skipif(not dlnd.cpu_has_amx_bfloat16(), reason='bfloat16 is rewritten only where the CPU has AMX')
def test_bfloat16_session_computes_in_bfloat16_and_keeps_float32_variables():
    with tf.Graph().as_default():
        dlnd.set_seeds(0)
        z = tf.placeholder(tf.float32, (None, 10))
        dlnd.generator(z, 3)
        samples = dlnd.build_sampler(z, 3)
        init = tf.global_variables_initializer()
        batch_z = np.random.default_rng(0).uniform(-1, 1, (16, 10))
        outputs = {}
        for precision in ('float32', 'bfloat16'):
            with tf.Session(config=dlnd.session_config(precision)) as sess:
                sess.run(init)
                outputs[precision] = sess.run(samples, {z: batch_z})
        assert all(var.dtype.base_dtype == tf.float32 for var in tf.global_variables())
    difference = np.abs(outputs['bfloat16'] - outputs['float32'])
    assert outputs['bfloat16'].dtype == np.float32
    # bfloat16 keeps 8 bits of mantissa: the samples move by about 1e-2, not 1e-7, and not wholesale
    assert 1e-3 < difference.max() < 0.1
