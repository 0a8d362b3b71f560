"""fast_layers computes tf.layers.conv2d_transpose: the same variables, outputs, gradients and training."""
import functools

import numpy as np
import pytest
import tensorflow

import dlnd_face_generation as dlnd
import tiny_networks
from facegan.graph import fast_layers

tf = dlnd.tf


def _straightforward(inputs, filters, kernel_size, strides=1, padding='valid', use_bias=True):
    return tf.layers.conv2d_transpose(inputs, filters, kernel_size, strides=strides, padding=padding,
                                      use_bias=use_bias)


# Unit roundoff of float32: every product or sum is rounded to within a relative 2^-24
U = 2.0 ** -24


def gamma(n):
    """Higham's gamma_n = n u / (1 - n u): a float32 sum of n products, added in any order or blocking, is within
    gamma_n x (the same sum of the products' absolute values) of the exact sum (Accuracy and Stability of
    Numerical Algorithms, 2nd ed., eq. 3.5)."""
    return n * U / (1 - n * U)


def _layer_and_gradients(layer, x, kernel_size, strides, padding, use_bias, absolute=False):
    """
    :param absolute: True: with |upstream gradient| (the caller feeds |x| and loads |weights|), so that every
        fetch is the sum of its products' absolute values, for the rounding bound
    :return: ([output, d/dx, d/dkernel(, d/dbias)] for a random upstream gradient, the layer's variables)
    """
    rng = np.random.default_rng(0)
    inputs = tf.constant(x)
    outputs = layer(inputs, 6, kernel_size, strides=strides, padding=padding, use_bias=use_bias)
    variables = tf.trainable_variables()
    upstream = rng.standard_normal(outputs.shape.as_list()).astype(np.float32)
    upstream = tf.constant(np.abs(upstream) if absolute else upstream)
    return [outputs] + tf.gradients(tf.reduce_sum(outputs * upstream), [inputs] + variables), variables


def _run(layer, x, kernel_size, strides, padding, use_bias, weights=None, absolute=False):
    """:return: (the fetches' values, the variables' values, their (name, shape))"""
    with tf.Graph().as_default():
        fetches, variables = _layer_and_gradients(layer, x, kernel_size, strides, padding, use_bias, absolute)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            for var, value in zip(variables, weights or []):
                var.load(value, sess)
            return sess.run(fetches), sess.run(variables), [(var.name, var.shape.as_list()) for var in variables]


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
@pytest.mark.numerical
def test_conv2d_transpose_computes_what_tf_layers_does(kernel_size, strides, padding, use_bias, output_size):
    x = np.random.default_rng(1).standard_normal((2, 3, 5, 4)).astype(np.float32)  # not square: rows and columns apart
    config = (kernel_size, strides, padding, use_bias)
    straightforward, weights, names = _run(_straightforward, x, *config)
    fast, _, fast_names = _run(fast_layers.as_matrix_products, x, *config, weights=weights)  # the same weights
    assert names == fast_names == [('conv2d_transpose/kernel:0', [kernel_size, kernel_size, 6, 4])] + (
        [('conv2d_transpose/bias:0', [6])] if use_bias else [])
    assert straightforward[0].shape == fast[0].shape == (2,) + output_size + (6,)
    # Each value is a sum of products, which both layers add in their own order: each is within gamma_n x the
    # sum of the products' absolute values of the exact sum, so within twice that of each other. That sum is
    # what the straightforward layer computes from |x|, |weights| and |upstream gradient| (its own rounding
    # of it, relative u n, is far below the bound's margin). n, the most products in one sum: an output adds
    # k x k x 4 inputs and the bias, d/dx k x k x 6 gradients, d/dkernel and d/dbias one per batch and position.
    absolute, _, _ = _run(_straightforward, np.abs(x), *config, weights=[np.abs(w) for w in weights], absolute=True)
    n = max(kernel_size * kernel_size * 6 + 1, x.shape[0] * output_size[0] * output_size[1])
    for name, ours, theirs, bound in zip(['output', 'd/dx', 'd/dkernel', 'd/dbias'], fast, straightforward, absolute):
        excess = np.abs(ours - theirs) - 2 * gamma(n) * bound
        assert excess.max() <= 0, '{}: {} of {} values differ by more than the rounding bound, by up to {}'.format(
            name, (excess > 0).sum(), excess.size, excess.max())


@pytest.mark.parametrize('keywords', [{'strides': (1, 2)}, {'kernel_size': (3, 2)}, {'padding': 'causal'}])
def test_conv2d_transpose_refuses_what_it_does_not_compute(keywords):
    arguments = dict(filters=2, kernel_size=3)
    arguments.update(keywords)
    with tf.Graph().as_default(), pytest.raises(ValueError, match='tf.layers.conv2d_transpose computes the others'):
        fast_layers.as_matrix_products(tf.zeros((1, 4, 4, 3)), **arguments)


SGD_RATE = 0.5  # large enough that every weight moves more than the check below needs in three steps


def _weights_after_steps(fast, batches):
    """
    Build the notebook's model_loss and model_opt (dropout off), with fast_layers in tf.layers or
    without, start from the same weights, train
    :param fast: True: built inside fast_layers.in_tf_layers(), as train() builds it
    :param batches: [(images, z)] for each step
    :return: ([(d_loss, g_loss)] for each step, {variable name: value} at the start, the same after the last,
        {name: largest |gradient| over the steps})
    """
    with tf.Graph().as_default():
        tf.set_random_seed(0)
        with fast_layers.in_tf_layers(fast):
            input_real, input_z, lr = dlnd.model_inputs(28, 28, 3, 16)
            d_loss, g_loss = dlnd.model_loss(input_real, input_z, 3)
            d_opt, g_opt = dlnd.model_opt(d_loss, g_loss, lr, 0.5)
        assert _transposed_convolutions_by_kernel(tf.get_default_graph()) == ([0, 0, 1] if fast else [1, 1, 1])
        trained = tf.trainable_variables()
        names = [var.op.name for var in trained]
        is_d = [name.startswith('discriminator/') for name in names]  # each weight's gradient of its own loss
        d_gradients = iter(tf.gradients(d_loss, [var for var, d in zip(trained, is_d) if d]))
        g_gradients = iter(tf.gradients(g_loss, [var for var, d in zip(trained, is_d) if not d]))
        gradients = [next(d_gradients) if d else next(g_gradients) for d in is_d]
        with tf.Session() as sess:
            start = np.random.default_rng(2)  # the same start for both graphs, whatever the seeds gave
            sess.run(tf.global_variables_initializer(), {var.initial_value: start.normal(
                0, 0.05, var.shape.as_list()).astype(np.float32) for var in tf.global_variables()})
            before = dict(zip(names, sess.run(trained)))
            losses, largest = [], {name: 0.0 for name in names}
            for images, z in batches:
                feed = {input_real: images, input_z: z, lr: SGD_RATE}
                for name, value in zip(names, sess.run(gradients, feed)):
                    largest[name] = max(largest[name], float(np.abs(value).max()))
                losses.append(sess.run([d_opt, g_opt, d_loss, g_loss], feed)[2:])
            return losses, before, dict(zip(names, sess.run(trained))), largest


def _transposed_convolutions_by_kernel(graph):
    """
    :return: For each of the generator's three transposed convolutions, in order, how many of
             TensorFlow's own transposed-convolution ops (Conv2DBackpropInput) its forward pass has
    """
    layers = ['generator/conv2d_transpose/', 'generator/conv2d_transpose_1/', 'generator/conv2d_transpose_2/']
    ops = [op for op in graph.get_operations() if op.type == 'Conv2DBackpropInput' and 'gradients' not in op.name]
    return [sum(op.name.startswith(layer) for op in ops) for layer in layers]


class _PlainSGD(tf.train.GradientDescentOptimizer):
    """model_opt's Adam, as plain gradient descent: a weight's step is its gradient times the rate."""

    def __init__(self, learning_rate, beta1):
        del beta1
        super().__init__(learning_rate)


# The longest chain of dependent sums in one training step: forward through the generator's and the
# discriminator's 4 layers each and back through both (16 layers), each summing at most 6,400 products (at
# tiny_networks.FAST_LAYER_WIDTH, 256, the longest sums are the last layer's bias gradient, 8 x 28 x 28 = 6,272, and
# the first transposed convolution, 4 x 4 taps x 256 channels = 4,096)
CHAIN_PRODUCTS = 16 * 6400


@pytest.mark.numerical
def test_training_with_it_gives_the_weights_the_straightforward_graph_gives(monkeypatch):
    """
    Three steps of the notebook's model_loss and model_opt on its networks at a quarter of their widths
    (tiny_networks.FAST_LAYER_WIDTH: 4x4x256, then 128 and 64 filters, so both middle layers still take the fast
    layer): the same losses and all 21 weights as with tf.layers' layer. Trained with plain gradient descent, not
    the notebook's Adam: Adam moves a weight by about +-rate whatever its gradient's size, so a rounding difference
    in a near-zero gradient flips a whole step, while a gradient-descent step differs only by the rate times the
    gradients' difference.
    """
    tiny_networks.narrow_networks(monkeypatch, tiny_networks.FAST_LAYER_WIDTH)
    monkeypatch.setattr(dlnd, 'generator', functools.partial(dlnd.generator, keep_prob=1.0))  # no random masks
    monkeypatch.setattr(tf.train, 'AdamOptimizer', _PlainSGD)
    rng = np.random.default_rng(3)
    batches = [(rng.uniform(-1, 1, (8, 28, 28, 3)).astype(np.float32), rng.uniform(-1, 1, (8, 16)))
               for _ in range(3)]
    fast_losses, start, fast, _ = _weights_after_steps(True, batches)
    losses, same_start, weights, largest = _weights_after_steps(False, batches)
    assert sorted(fast) == sorted(weights) and len(weights) == 21
    # Every value carries at most gamma(CHAIN_PRODUCTS) (about 0.6%) relative rounding from the sums it came
    # through, in either graph: the losses and each gradient agree to twice that, relative to the largest
    # gradient of the weight (a wrong layer is off by the order of the values themselves). Three steps of
    # rate x gradient then move a weight apart by at most 3 x rate x that (to first order: the weights'
    # own difference changes the next gradients by a second-order amount).
    relative = 2 * gamma(CHAIN_PRODUCTS)
    np.testing.assert_allclose(fast_losses, losses, rtol=relative)
    for name, value in weights.items():
        np.testing.assert_array_equal(start[name], same_start[name])
        assert np.abs(value - start[name]).max() > 10 * len(batches) * SGD_RATE * relative * largest[name], \
            name + ' did not train (by more than the rounding bound)'
        bound = len(batches) * SGD_RATE * relative * largest[name]
        assert np.abs(fast[name] - value).max() <= bound, '{}: differs by {} > {}'.format(
            name, np.abs(fast[name] - value).max(), bound)


def test_fast_layers_are_for_a_cpu_and_a_gpu_keeps_cudnns_layer():
    gpu = tensorflow.config.PhysicalDevice(name='/physical_device:GPU:0', device_type='GPU')  # faked: none here
    assert fast_layers.use_fast_layers([]) == (True, "a CPU: matrix products, faster than oneDNN's transposed "
                                                     'convolution')
    assert fast_layers.use_fast_layers([gpu]) == (False, "a GPU: cuDNN's own transposed convolution")
    assert fast_layers.use_fast_layers([gpu, gpu])[0] is False


@pytest.mark.parametrize('gpus,asked,batch_size,expected', [(0, True, fast_layers.MIN_BATCH, True),
                                                             (1, True, fast_layers.MIN_BATCH, False),
                                                             (0, False, fast_layers.MIN_BATCH, False),
                                                             (0, True, fast_layers.MIN_BATCH - 1, False)])
def test_a_run_takes_them_where_asked_for_there_is_no_gpu_and_a_step_has_min_batch_images(gpus, asked, batch_size,
                                                                                          expected, monkeypatch):
    """What a run's train() builds with, and its draws and generate's (any batch): a GPU's listing faked (none here)"""
    from facegan.core.run_config import RunConfig
    from facegan.train import build_contexts

    gpu = tensorflow.config.PhysicalDevice(name='/physical_device:GPU:0', device_type='GPU')
    monkeypatch.setattr(tf.config, 'list_physical_devices', lambda kind=None: [gpu] * gpus if kind == 'GPU' else [])
    assert fast_layers.wanted(asked, batch_size) is expected
    assert fast_layers.wanted(asked) is (asked and not gpus)
    config = RunConfig(dataset='synthetic', epochs=1, batch_size=batch_size, z_dim=4, learning_rate=0.1, beta1=0.5,
                       image_mode='RGB', fast_layers=asked, precision_used='float32')
    with build_contexts.around_train(config):
        assert (tf.layers.conv2d_transpose is fast_layers.conv2d_transpose) is expected
        with build_contexts.for_drawing(config):
            assert (tf.layers.conv2d_transpose is fast_layers.conv2d_transpose) is (asked and not gpus)
        assert (tf.layers.conv2d_transpose is fast_layers.conv2d_transpose) is expected


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
