"""fast_layers computes tf.layers.conv2d_transpose: the same variables, outputs, gradients and training."""
import functools

import numpy as np
import pytest

import dlnd_face_generation as dlnd
from facegan import fast_layers, training_run

tf = dlnd.tf


def _straightforward(inputs, filters, kernel_size, strides=1, padding='valid', use_bias=True):
    return tf.layers.conv2d_transpose(inputs, filters, kernel_size, strides=strides, padding=padding,
                                      use_bias=use_bias)


def _layer_and_gradients(layer, x, kernel_size, strides, padding, use_bias):
    """:return: ([output, d/dx, d/dkernel(, d/dbias)] for a random upstream gradient, the layer's variables)"""
    rng = np.random.default_rng(0)
    inputs = tf.constant(x)
    outputs = layer(inputs, 6, kernel_size, strides=strides, padding=padding, use_bias=use_bias)
    variables = tf.trainable_variables()
    upstream = tf.constant(rng.standard_normal(outputs.shape.as_list()).astype(np.float32))
    return [outputs] + tf.gradients(tf.reduce_sum(outputs * upstream), [inputs] + variables), variables


@pytest.mark.parametrize('kernel_size,strides,padding,use_bias,output_size', [
    (3, 1, 'valid', False, (5, 7)),  # the generator's first transposed convolution's kind
    (3, 1, 'valid', True, (5, 7)),
    (5, 2, 'same', False, (6, 10)),  # its second's
    (4, 2, 'same', False, (6, 10)),  # an even kernel: the phases get two taps each
    (5, 3, 'same', True, (9, 15)),  # 'same' crops 1 before: tap k reaches phase (k - 1) mod 3
    (3, 2, 'valid', True, (7, 11)),
    (3, 3, 'same', False, (9, 15)),
    (2, 3, 'valid', True, (9, 15)),  # a kernel smaller than the stride: every third row and column is the bias
])
def test_conv2d_transpose_computes_what_tf_layers_does(kernel_size, strides, padding, use_bias, output_size):
    x = np.random.default_rng(1).standard_normal((2, 3, 5, 4)).astype(np.float32)  # not square: rows and columns apart
    results, names = [], []
    for layer in (_straightforward, fast_layers.as_matrix_products):
        with tf.Graph().as_default():
            fetches, variables = _layer_and_gradients(layer, x, kernel_size, strides, padding, use_bias)
            names.append([(var.name, var.shape.as_list()) for var in variables])
            with tf.Session() as sess:
                sess.run(tf.global_variables_initializer())
                if results:  # the same weights as the straightforward layer's
                    for var, value in zip(variables, weights):
                        var.load(value, sess)
                weights = sess.run(variables)
                results.append(sess.run(fetches))
    assert names[0] == names[1] == [('conv2d_transpose/kernel:0', [kernel_size, kernel_size, 6, 4])] + (
        [('conv2d_transpose/bias:0', [6])] if use_bias else [])
    assert results[0][0].shape == results[1][0].shape == (2,) + output_size + (6,)
    for straightforward, fast in zip(*results):
        np.testing.assert_allclose(fast, straightforward, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('keywords', [{'strides': (1, 2)}, {'kernel_size': (3, 2)}, {'padding': 'causal'}])
def test_conv2d_transpose_refuses_what_it_does_not_compute(keywords):
    arguments = dict(filters=2, kernel_size=3)
    arguments.update(keywords)
    with tf.Graph().as_default(), pytest.raises(ValueError, match='tf.layers.conv2d_transpose computes the others'):
        fast_layers.as_matrix_products(tf.zeros((1, 4, 4, 3)), **arguments)


def _weights_after_steps(fast, batches):
    """
    Build the notebook's model_loss and model_opt (dropout off), with fast_layers in tf.layers or
    without, start from the same weights, train
    :param fast: True: built inside fast_layers.in_tf_layers(), as train() builds it
    :param batches: [(images, z)] for each step
    :return: ([(d_loss, g_loss)] for each step, {variable name: value} at the start, the same after the last)
    """
    with tf.Graph().as_default():
        tf.set_random_seed(0)
        with fast_layers.in_tf_layers(fast):
            input_real, input_z, lr = dlnd.model_inputs(28, 28, 3, 16)
            d_loss, g_loss = dlnd.model_loss(input_real, input_z, 3)
            d_opt, g_opt = dlnd.model_opt(d_loss, g_loss, lr, 0.5)
        assert _transposed_convolutions_by_kernel(tf.get_default_graph()) == ([0, 0, 1] if fast else [1, 1, 1])
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            start = np.random.default_rng(2)
            for var in tf.global_variables():  # the same start for both graphs, whatever the seeds gave
                if 'Adam' not in var.name and 'power' not in var.name:
                    var.load(start.normal(0, 0.05, var.shape.as_list()).astype(np.float32), sess)
            names = [var.op.name for var in tf.trainable_variables()]
            before = dict(zip(names, sess.run(tf.trainable_variables())))
            losses = [sess.run([d_opt, g_opt, d_loss, g_loss], {input_real: images, input_z: z, lr: 0.0005})[2:]
                      for images, z in batches]
            return losses, before, dict(zip(names, sess.run(tf.trainable_variables())))


def _transposed_convolutions_by_kernel(graph):
    """
    :return: For each of the generator's three transposed convolutions, in order, how many of
             TensorFlow's own transposed-convolution ops (Conv2DBackpropInput) its forward pass has
    """
    layers = ['generator/conv2d_transpose/', 'generator/conv2d_transpose_1/', 'generator/conv2d_transpose_2/']
    ops = [op for op in graph.get_operations() if op.type == 'Conv2DBackpropInput' and 'gradients' not in op.name]
    return [sum(op.name.startswith(layer) for op in ops) for layer in layers]


def test_training_with_it_gives_the_weights_the_straightforward_graph_gives(monkeypatch):
    """Three steps of the notebook's model: the same losses and all 21 weights as with tf.layers' layer."""
    monkeypatch.setattr(dlnd, 'generator', functools.partial(dlnd.generator, keep_prob=1.0))  # no random masks
    rng = np.random.default_rng(3)
    batches = [(rng.uniform(-1, 1, (8, 28, 28, 3)).astype(np.float32), rng.uniform(-1, 1, (8, 16)))
               for _ in range(3)]
    fast_losses, start, fast = _weights_after_steps(True, batches)
    losses, same_start, weights = _weights_after_steps(False, batches)
    assert sorted(fast) == sorted(weights) and len(weights) == 21
    np.testing.assert_allclose(fast_losses, losses, rtol=1e-5)
    for name, value in weights.items():
        np.testing.assert_array_equal(start[name], same_start[name])
        # Adam moves each weight up to 3 x 0.0005 in three steps; float rounding moved them apart by
        # at most 1.3e-6 (measured), in 1 of the 19,200 weights of the last layer
        assert np.abs(value - start[name]).max() > 1e-4, name + ' did not train'
        np.testing.assert_allclose(fast[name], value, rtol=1e-4, atol=1e-5, err_msg=name)


def test_in_tf_layers_puts_it_in_tf_layers_for_the_block_only():
    tf_own = tf.layers.conv2d_transpose
    with fast_layers.in_tf_layers():
        assert tf.layers.conv2d_transpose is fast_layers.conv2d_transpose
        with fast_layers.in_tf_layers():  # nested: the outer block restores
            pass
        assert tf.layers.conv2d_transpose is fast_layers.conv2d_transpose
    assert tf.layers.conv2d_transpose is tf_own
    with fast_layers.in_tf_layers(False):
        assert tf.layers.conv2d_transpose is tf_own
    with pytest.raises(KeyError), fast_layers.in_tf_layers():
        raise KeyError('an error while the graph is built')
    assert tf.layers.conv2d_transpose is tf_own


@pytest.mark.parametrize('filters,kernel_size,strides,fast', [
    (256, 5, 2, True), (512, 4, 1, True), (3, 5, 2, False), (256, (5, 3), 2, False), (256, 5, (2, 1), False)])
def test_conv2d_transpose_takes_products_only_where_they_are_faster(filters, kernel_size, strides, fast):
    with tf.Graph().as_default():
        outputs = fast_layers.conv2d_transpose(tf.zeros((2, 7, 7, 8)), filters, kernel_size, strides=strides,
                                               padding='same', use_bias=False)
        own = [op for op in tf.get_default_graph().get_operations() if op.type == 'Conv2DBackpropInput']
        assert (not own) == fast
        assert outputs.shape.as_list()[-1] == filters


def test_a_learners_generator_gets_it_through_train(tmp_path):
    """train() builds the graph with fast_layers; --no-fast-layers (RunOptions.fast_layers=False) without."""
    for fast in (True, False):
        with tf.Graph().as_default() as graph:
            images = np.zeros((4, 28, 28, 3), np.float32)
            options = training_run.RunOptions(output_dir=str(tmp_path / str(fast)), max_steps=1, eval_every=0,
                                              fast_layers=fast, calibration_z=4)
            dlnd.train(1, 4, 8, 0.0005, 0.5, lambda batch_size: iter([images]), (4, 28, 28, 3), 'RGB',
                       options=options)
            assert _transposed_convolutions_by_kernel(graph) == ([0, 0, 1] if fast else [1, 1, 1])
        assert tf.layers.conv2d_transpose is not fast_layers.conv2d_transpose  # put back after train()
