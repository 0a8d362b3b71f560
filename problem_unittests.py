"""
The project's five problem unit tests, as the notebook called them:

    import problem_unittests as tests
    tests.test_model_inputs(model_inputs)
    tests.test_discriminator(discriminator, tf)
    tests.test_generator(generator, tf)
    tests.test_model_loss(model_loss)
    tests.test_model_opt(model_opt, tf)

`tf` may be `tensorflow` or `tensorflow.compat.v1`; the tests work in TF1 graph mode through its
`compat.v1` either way. Each builds its graph in a fresh tf.Graph and prints "Tests Passed". A
function that still returns the exercise's stub (None) fails with what to implement and return.
"""
from unittest import mock

from facegan.tensorflow_setup import import_tensorflow

tf = import_tensorflow()


DISCRIMINATOR_RETURNS = ('output', 'logits')  # what each graded function returns, for the messages
GENERATOR_RETURNS = ('the output tensor (tanh of the last layer)',)


def test_safe(func):
    """
    Isolate tests: run each in its own graph
    """
    def func_wrapper(*args):
        with tf.Graph().as_default():
            result = func(*args)
        print('Tests Passed')
        return result

    return func_wrapper


class TmpMock(object):
    """
    Mock an attribute of a module for the length of a with block. The mock wraps the original,
    so the code under test still works (real scopes, real variables) while calls are recorded.
    """
    def __init__(self, module, attrib_name):
        self.original_attrib = getattr(module, attrib_name)
        self.module = module
        self.attrib_name = attrib_name
        setattr(module, attrib_name, mock.MagicMock(wraps=self.original_attrib))

    def __enter__(self):
        return getattr(self.module, self.attrib_name)

    def __exit__(self, exc_type, exc_value, traceback):
        setattr(self.module, self.attrib_name, self.original_attrib)


def _v1(tf_module):
    """
    :param tf_module: tensorflow or tensorflow.compat.v1, as the notebook passed it
    :return: The tensorflow.compat.v1 module the code under test calls into
    """
    # tensorflow.compat.v1 has its own compat.v1, a different module object: use it as given
    return tf_module if hasattr(tf_module, 'variable_scope') else tf_module.compat.v1


def _check_returns(result, function_name, names):
    """
    Fail with a message for a learner when a graded function returns None (the exercise's stub)
    or the wrong number of values
    :param result: What the function returned
    :param function_name: Its name, for the message
    :param names: Names of the values it should return, in order
    :return: result, as a tuple of len(names) values, none of them None
    """
    expected = names[0] if len(names) == 1 else '({})'.format(', '.join(names))
    values = (result,) if len(names) == 1 else result
    if result is None or (isinstance(values, (tuple, list)) and any(value is None for value in values)):
        raise AssertionError('{} returned None: implement it where it says TODO and return {}'
                             .format(function_name, expected))
    if not (isinstance(values, (tuple, list)) and len(values) == len(names)):
        found = ('{} values'.format(len(values)) if isinstance(values, (tuple, list))
                 else 'a {}'.format(type(result).__name__))
        raise AssertionError('{} returned {}: return {}'.format(function_name, found, expected))
    return tuple(values)


def _assert_tensor_shape(tensor, shape, display_name):
    rank = tensor.get_shape().ndims  # None when the graph does not know it
    assert rank is None or rank == len(shape), \
        '{} has wrong rank.  Found rank {}, expected {}'.format(display_name, rank, len(shape))

    tensor_shape = tensor.get_shape().as_list() if len(shape) else []

    wrong_dimension = [ten_dim for ten_dim, cor_dim in zip(tensor_shape, shape)
                       if cor_dim is not None and ten_dim != cor_dim]
    assert not wrong_dimension, \
        '{} has wrong shape.  Found {}'.format(display_name, tensor_shape)


def _check_input(tensor, shape, display_name, tf_name=None):
    assert tensor.op.type == 'Placeholder', \
        '{} is not a Placeholder.'.format(display_name)

    _assert_tensor_shape(tensor, shape, display_name)

    if tf_name:
        assert tensor.name == tf_name, \
            '{} has bad name.  Found name {}'.format(display_name, tensor.name)


def _trainable_names():
    return {var.name for var in tf.trainable_variables()}


def _check_scope(mock_variable_scope, scope, reuse, display_name):
    assert mock_variable_scope.called, \
        'tf.variable_scope not called in {}'.format(display_name)
    assert mock_variable_scope.call_args == mock.call(scope, reuse=reuse), \
        'tf.variable_scope called with wrong arguments in {}'.format(display_name)


@test_safe
def test_model_inputs(model_inputs):
    image_width = 28
    image_height = 28
    image_channels = 3
    z_dim = 100
    input_real, input_z, learn_rate = _check_returns(
        model_inputs(image_width, image_height, image_channels, z_dim),
        'model_inputs', ('input_real', 'input_z', 'learning_rate'))

    _check_input(input_real, [None, image_width, image_height, image_channels], 'Real Input')
    _check_input(input_z, [None, z_dim], 'Z Input')
    _check_input(learn_rate, [], 'Learning Rate')


@test_safe
def test_discriminator(discriminator, tf_module):
    v1 = _v1(tf_module)
    with TmpMock(v1, 'variable_scope') as mock_variable_scope:
        image = tf.placeholder(tf.float32, [None, 28, 28, 3])

        output, logits = _check_returns(discriminator(image), 'discriminator', DISCRIMINATOR_RETURNS)
        _assert_tensor_shape(output, [None, 1], 'Discriminator Training(reuse=false) output')
        _assert_tensor_shape(logits, [None, 1], 'Discriminator Training(reuse=false) Logits')
        _check_scope(mock_variable_scope, 'discriminator', False, 'Discriminator Training(reuse=false)')
        assert _trainable_names(), 'Discriminator Training(reuse=false) created no variables'
        variables = _trainable_names()

        mock_variable_scope.reset_mock()
        output_reuse, logits_reuse = _check_returns(discriminator(image, True), 'discriminator(reuse=True)',
                                                    DISCRIMINATOR_RETURNS)
        _assert_tensor_shape(output_reuse, [None, 1], 'Discriminator Inference(reuse=True) output')
        _assert_tensor_shape(logits_reuse, [None, 1], 'Discriminator Inference(reuse=True) Logits')
        _check_scope(mock_variable_scope, 'discriminator', True, 'Discriminator Inference(reuse=True)')
        assert _trainable_names() == variables, \
            'Discriminator Inference(reuse=True) created new variables instead of reusing them'


@test_safe
def test_generator(generator, tf_module):
    v1 = _v1(tf_module)
    with TmpMock(v1, 'variable_scope') as mock_variable_scope:
        z = tf.placeholder(tf.float32, [None, 100])
        out_channel_dim = 5

        output, = _check_returns(generator(z, out_channel_dim), 'generator', GENERATOR_RETURNS)
        _assert_tensor_shape(output, [None, 28, 28, out_channel_dim], 'Generator output (is_train=True)')
        _check_scope(mock_variable_scope, 'generator', False, 'Generator Training(reuse=false)')
        assert _trainable_names(), 'Generator Training(reuse=false) created no variables'
        variables = _trainable_names()

        mock_variable_scope.reset_mock()
        output, = _check_returns(generator(z, out_channel_dim, False), 'generator(is_train=False)',
                                 GENERATOR_RETURNS)
        _assert_tensor_shape(output, [None, 28, 28, out_channel_dim], 'Generator output (is_train=False)')
        _check_scope(mock_variable_scope, 'generator', True, 'Generator Inference(reuse=True)')
        assert _trainable_names() == variables, \
            'Generator Inference(reuse=True) created new variables instead of reusing them'


@test_safe
def test_model_loss(model_loss):
    out_channel_dim = 4
    input_real = tf.placeholder(tf.float32, [None, 28, 28, out_channel_dim])
    input_z = tf.placeholder(tf.float32, [None, 100])

    d_loss, g_loss = _check_returns(model_loss(input_real, input_z, out_channel_dim), 'model_loss',
                                    ('d_loss', 'g_loss'))

    _assert_tensor_shape(d_loss, [], 'Discriminator Loss')
    _assert_tensor_shape(g_loss, [], 'Generator Loss')


@test_safe
def test_model_opt(model_opt, tf_module):
    v1 = _v1(tf_module)
    with TmpMock(v1, 'trainable_variables') as mock_trainable_variables:
        with v1.variable_scope('discriminator'):
            discriminator_logits = v1.Variable(tf.zeros([3, 3]))
        with v1.variable_scope('generator'):
            generator_logits = v1.Variable(tf.zeros([3, 3]))

        mock_trainable_variables.return_value = [discriminator_logits, generator_logits]
        d_loss = tf.reduce_mean(
            tf.nn.sigmoid_cross_entropy_with_logits(
                logits=discriminator_logits,
                labels=[[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]))
        g_loss = tf.reduce_mean(
            tf.nn.sigmoid_cross_entropy_with_logits(
                logits=generator_logits,
                labels=[[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]))

        learning_rate = 0.001
        beta1 = 0.9
        d_train_opt, g_train_opt = _check_returns(model_opt(d_loss, g_loss, learning_rate, beta1), 'model_opt',
                                                  ('d_train_opt', 'g_train_opt'))
        assert mock_trainable_variables.called,\
            'tf.mock_trainable_variables not called'
        assert d_train_opt.type == 'NoOp' or d_train_opt.type == 'AssignAddVariableOp', \
            'Discriminator training op is a {}, not a training op'.format(d_train_opt.type)
        assert g_train_opt.type == 'NoOp' or g_train_opt.type == 'AssignAddVariableOp', \
            'Generator training op is a {}, not a training op'.format(g_train_opt.type)

        # Each optimizer must update its own network only
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            d_before, g_before = sess.run([discriminator_logits, generator_logits])
            sess.run(d_train_opt)
            d_after, g_after = sess.run([discriminator_logits, generator_logits])
            assert (d_after != d_before).any(), 'Discriminator training op did not change its variables'
            assert (g_after == g_before).all(), 'Discriminator training op changed the generator'
            sess.run(g_train_opt)
            d_last, g_last = sess.run([discriminator_logits, generator_logits])
            assert (g_last != g_after).any(), 'Generator training op did not change its variables'
            assert (d_last == d_after).all(), 'Generator training op changed the discriminator'
