"""
The model in graph mode: the article's layers and keyword arguments, batch norm in each network, the
generator's batch-norm calibration, and bfloat16 where oneDNN can compute it.
"""
import inspect

import numpy as np
import pytest

import dlnd_face_generation as dlnd
import tiny_networks
from facegan.core import machine
from facegan.graph import batch_norm, checkpoints, session_settings

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
            session_settings.set_seeds(0)
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


@pytest.mark.numerical
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


@pytest.mark.numerical
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



@pytest.mark.numerical
def test_calibration_sets_the_averages_to_a_large_batchs_statistics(shared_run):
    """
    Precise batch norm: the checkpoint's generator moving averages are the statistics of a large z batch (the
    run calibrates them before each save). The shared run's networks are tiny_networks.py's: what is tested is the
    run's calibration, which does not depend on the widths. (That inference mode then draws what training mode
    draws is batch norm's own definition: test_calibration_assigns_each_batch_norm_the_exact_statistics_of_its_input
    checks the assignment exactly)
    """
    path = checkpoints.latest_checkpoint(shared_run[0])
    with tf.Graph().as_default():
        z = tf.placeholder(tf.float32, (None, 100))
        tiny_networks.generator(z, 3, keep_prob=1.0)  # training mode: batch statistics
        graph = tf.get_default_graph()
        norms = [op for op in graph.get_operations() if op.type == 'FusedBatchNormV3' and op.get_attr('is_training')]
        normalised = [op.inputs[0] for op in norms]  # each batch norm's input, to take its statistics in numpy
        moving = [var for var in tf.global_variables() if 'moving_' in var.name]
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            initial = sess.run(moving)
            tf.train.Saver(var_list=tf.global_variables()).restore(sess, path)
            restored = sess.run(moving)
            feed = {z: np.random.default_rng(5).uniform(-1, 1, (512, 100))}
            inputs = sess.run(normalised, feed)
    # Per channel, over the batch and the positions, in float64: the reference the averages must match
    statistics = [(x.astype(np.float64).mean(axis=(0, 1, 2)), x.astype(np.float64).var(axis=(0, 1, 2)))
                  for x in inputs]
    assert len(moving) == 6 and len(norms) == 3
    # The run calibrated on n = 64 fresh z (conftest), these statistics are of 512 others: a mean from n draws is
    # off by sigma / sqrt(n), so the two differ by sqrt(1/64 + 1/512) = 0.13 sigma in one standard deviation; the
    # largest of the 112 channels' differences is under 4.5 of those (a normal deviate's 1 in 100,000) = 0.6
    # sigma. A variance from n draws is off by sqrt(2/n) of itself: sqrt(2/64 + 2/512) = 0.19, 4.5 of those 0.85
    for (saved_mean, saved_variance), (mean, variance) in zip(zip(restored[::2], restored[1::2]), statistics):
        assert (np.abs(saved_mean - mean) < 0.6 * np.sqrt(variance)).all()
        assert (np.abs(saved_variance - variance) < 0.85 * variance).all()
    # Training's own averages would still be near their start (mean 0, variance 1) after 4 steps
    assert max(np.abs(saved - start).max() for saved, start in zip(restored, initial)) > 0.5


def test_calibration_adds_no_variables_and_no_update_ops():
    with tf.Graph().as_default():
        z = tf.placeholder(tf.float32, (None, 10))
        dlnd.generator(z, 1)
        variables, updates = tf.global_variables(), tf.get_collection(tf.GraphKeys.UPDATE_OPS)
        batch_norm.build_calibration(dlnd.generator, 10, 1, count=64)
        assert tf.global_variables() == variables and tf.get_collection(tf.GraphKeys.UPDATE_OPS) == updates


def _float32_sum_bound(n):
    """:return: Higham's gamma_n = n u / (1 - n u), u = 2^-24: a float32 sum of n terms, in any order, is within
             gamma_n x the sum of their absolute values of the exact sum"""
    return n * 2.0 ** -24 / (1 - n * 2.0 ** -24)


@pytest.mark.numerical
@pytest.mark.numerical
def test_calibration_assigns_each_batch_norm_the_exact_statistics_of_its_input():
    """
    Each moving mean and variance becomes its batch norm's input's mean and variance per channel, over the whole
    calibration batch and the positions at once, the variance divided by n (the one batch norm normalises with in
    training mode). Two z, so n = 32, 98 and 392 values a channel: a variance divided by n - 1 is 1/391 or more
    too large, and the average of each image's own variance misses the spread of the two images' means, both far
    beyond float32's rounding of the statistics (the test takes them in float64 from the very inputs the op saw,
    fetched in the same run)
    """
    with tf.Graph().as_default():
        tf.set_random_seed(0)
        dlnd.generator(tf.placeholder(tf.float32, (None, 10)), 1)
        graph = tf.get_default_graph()
        known = set(graph.get_operations())
        calibrate = batch_norm.build_calibration(dlnd.generator, 10, 1, count=2)
        norms = [op for op in graph.get_operations() if op not in known and op.type == 'FusedBatchNormV3']
        variables = {var.op.name: var for var in tf.global_variables()}
        layers = [op.name.split('/')[-2] for op in norms]  # batch_normalization, batch_normalization_1, ...
        moving = [[variables['generator/{}/moving_{}'.format(layer, name)] for name in ('mean', 'variance')]
                  for layer in layers]
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            inputs, _ = sess.run([[op.inputs[0] for op in norms], calibrate])
            assigned = sess.run(moving)
    assert layers == ['batch_normalization', 'batch_normalization_1', 'batch_normalization_2']
    for layer, x, (mean, variance) in zip(layers, inputs, assigned):
        x = x.astype(np.float64).reshape(-1, x.shape[-1])  # (batch x positions, channels)
        n = len(x)
        # The float32 mean is within gamma_(n+1) (n additions, one division) x mean |x| of the exact one; each
        # squared difference from it is within 3u of itself, their sum within gamma_n, the division u more; and
        # the float32 mean's error m' - m adds (m' - m)^2 to the variance
        mean_bound = _float32_sum_bound(n + 1) * np.abs(x).mean(axis=0)
        np.testing.assert_array_less(np.abs(mean - x.mean(axis=0)), mean_bound, err_msg=layer + ' moving_mean')
        variance_bound = _float32_sum_bound(n + 4) * x.var(axis=0) + mean_bound ** 2
        np.testing.assert_array_less(np.abs(variance - x.var(axis=0)), variance_bound,
                                     err_msg=layer + ' moving_variance')


# The ops that do a step's arithmetic, in the names oneDNN's kernels take in the graph TensorFlow runs
ARITHMETIC = ('Conv2D', 'MatMul', 'Conv2DBackpropInput', 'Conv2DBackpropFilter', 'FusedConv2D', 'FusedMatMul')


def _arithmetic_types(precision):
    """:return: {the step's arithmetic op types, as run: the types of their inputs}, one training step"""
    with tf.Graph().as_default():
        session_settings.set_seeds(0)
        real = tf.placeholder(tf.float32, (None, 28, 28, 3))
        z = tf.placeholder(tf.float32, (None, 10))
        d_loss, g_loss = dlnd.model_loss(real, z, 3)
        step = dlnd.model_opt(d_loss, g_loss, 0.001, 0.5)
        with tf.Session(config=session_settings.session_config(precision)) as sess:
            sess.run(tf.global_variables_initializer())
            metadata = tf.RunMetadata()
            sess.run(step, {real: np.zeros((4, 28, 28, 3)), z: np.zeros((4, 10))},
                     options=tf.RunOptions(output_partition_graphs=True), run_metadata=metadata)
        assert all(var.dtype.base_dtype == tf.float32 for var in tf.global_variables())
    found = {}
    for graph in metadata.partition_graphs:
        for node in graph.node:
            if node.op.split('Native')[-1].lstrip('_').replace('Mkl', '') in ARITHMETIC:
                found.setdefault(node.op, set()).add(tf.as_dtype(node.attr['T'].type).name)
    return found


@pytest.mark.skipif(not machine.bfloat16_possible(),
                    reason='oneDNN computes bfloat16 with AVX-512 only (natively with AMX_BF16 or AVX512_BF16, '
                           'emulated without): this CPU, ONEDNN_MAX_CPU_ISA or TF_ENABLE_ONEDNN_OPTS=0 leaves it out')
@pytest.mark.numerical
def test_a_bfloat16_session_runs_the_steps_arithmetic_in_bfloat16_and_keeps_float32_variables():
    """
    What --precision bfloat16 changes, read from the graph TensorFlow ran: oneDNN's rewrite gives every
    convolution and matrix product of the training step bfloat16 inputs; float32 leaves them float32
    """
    as_float32, as_bfloat16 = _arithmetic_types('float32'), _arithmetic_types('bfloat16')
    assert sum(1 for op in as_float32 if 'Conv2D' in op) >= 3 and any('MatMul' in op for op in as_float32)
    assert set(as_float32) == set(as_bfloat16)
    assert all(types == {'float32'} for types in as_float32.values())
    assert all(types == {'bfloat16'} for types in as_bfloat16.values())
