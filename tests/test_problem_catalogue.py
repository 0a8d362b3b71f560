"""
A catalogue of what learners get wrong in the five graded functions, each a small function: the
matching problem test must fail with a one-line message that names the mistake, raised from the
test's own wrapper (no harness traceback, no chained exception). And the right answers, in every
form a learner may write them, must pass: the solution's, the article's with its slip fixed, an
AUTO_REUSE one, a tf.maximum leaky ReLU one, the Udacity template's signatures.
"""
import inspect
import re
import traceback

import pytest
import tensorflow

import dlnd_face_generation as dlnd
import problem_unittests as tests
from tests import article_code
from tools import make_notebooks

tf = dlnd.tf


# --- Small right answers: fast networks of the right shapes; model_loss below calls these ------------

def generator(z, out_channel_dim, is_train=True, alpha=0.2, keep_prob=0.5):
    """A small correct generator: dense 7x7x16, batch norm, leaky ReLU, dropout, one transposed conv, tanh"""
    with tf.variable_scope('generator', reuse=not is_train):
        x = tf.reshape(tf.layers.dense(z, 7 * 7 * 16), (-1, 7, 7, 16))
        x = tf.nn.leaky_relu(tf.layers.batch_normalization(x, training=is_train), alpha=alpha)
        x = tf.layers.dropout(x, rate=1 - keep_prob, training=is_train)
        return tf.tanh(tf.layers.conv2d_transpose(x, out_channel_dim, 5, strides=4, padding='same'))


def discriminator(images, reuse=False, alpha=0.2):
    """A small correct discriminator: one strided conv, leaky ReLU, one logit"""
    with tf.variable_scope('discriminator', reuse=reuse):
        x = tf.nn.leaky_relu(tf.layers.conv2d(images, 8, 5, strides=4, padding='same'), alpha=alpha)
        logits = tf.layers.dense(tf.reshape(x, (-1, 7 * 7 * 8)), 1)
        return tf.sigmoid(logits), logits


def generator_auto_reuse(z, out_channel_dim, is_train=True):
    """The template's signature, AUTO_REUSE, tf.maximum for the leaky ReLU, no dropout"""
    with tf.variable_scope('generator', reuse=tf.AUTO_REUSE):
        x = tf.reshape(tf.layers.dense(z, 7 * 7 * 16), (-1, 7, 7, 16))
        x = tf.layers.batch_normalization(x, training=is_train)
        x = tf.maximum(0.2 * x, x)
        return tf.tanh(tf.layers.conv2d_transpose(x, out_channel_dim, 5, strides=4, padding='same'))


def discriminator_auto_reuse(images, reuse=False):
    """AUTO_REUSE whatever reuse says, tf.maximum for the leaky ReLU, positional arguments"""
    with tf.variable_scope('discriminator', reuse=tf.AUTO_REUSE):
        x = tf.layers.conv2d(images, 8, 5, 4, 'same')
        x = tf.maximum(0.2 * x, x)
        logits = tf.layers.dense(tf.layers.flatten(x), 1)
        return tf.nn.sigmoid(logits), logits


def _scores(input_real, input_z, out_channel_dim):
    """:return: The discriminator's logits on real and on generated images"""
    _, d_logits_real = discriminator(input_real)
    _, d_logits_fake = discriminator(generator(input_z, out_channel_dim), reuse=True)
    return d_logits_real, d_logits_fake


def _entropy(logits, label):
    """:return: Mean sigmoid cross-entropy of the logits against a constant label"""
    return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(logits=logits, labels=tf.ones_like(logits) * label))


def loss_template_signature(input_real, input_z, out_channel_dim):
    """No label smoothing, the template's signature"""
    d_logits_real, d_logits_fake = _scores(input_real, input_z, out_channel_dim)
    return _entropy(d_logits_real, 1.0) + _entropy(d_logits_fake, 0.0), _entropy(d_logits_fake, 1.0)


def _adam(loss, var_list, learning_rate, beta1=0.5):
    """:return: An Adam step of loss over var_list"""
    return tf.train.AdamOptimizer(learning_rate, beta1=beta1).minimize(loss, var_list=var_list)


def _network_variables(name):
    """:return: The trainable variables under that scope"""
    return [var for var in tf.trainable_variables() if var.name.startswith(name + '/')]


def opt_split_update_ops(d_loss, g_loss, learning_rate, beta1):
    """Each op under its own network's UPDATE_OPS, variables picked with the scope argument"""
    with tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS, scope='discriminator')):
        d_opt = _adam(d_loss, tf.trainable_variables(scope='discriminator'), learning_rate, beta1)
    with tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS, scope='generator')):
        g_opt = _adam(g_loss, tf.trainable_variables(scope='generator'), learning_rate, beta1)
    return d_opt, g_opt


def opt_one_adam(d_loss, g_loss, learning_rate, beta1):
    """One optimizer for both networks, variables picked by name"""
    optimizer = tf.train.AdamOptimizer(learning_rate=learning_rate, beta1=beta1)
    with tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS)):
        return (optimizer.minimize(d_loss, var_list=[v for v in tf.trainable_variables() if 'discriminator' in v.name]),
                optimizer.minimize(g_loss, var_list=[v for v in tf.trainable_variables() if 'generator' in v.name]))


def inputs_unnamed(image_width, image_height, image_channels, z_dim):
    return (tf.placeholder(tf.float32, (None, image_width, image_height, image_channels)),
            tf.placeholder(tf.float32, (None, z_dim)), tf.placeholder(tf.float32))


def inputs_batch_16(image_width, image_height, image_channels, z_dim):
    return (tf.placeholder(tf.float32, (16, image_width, image_height, image_channels), name='input_real'),
            tf.placeholder(tf.float32, (16, z_dim), name='input_z'), tf.placeholder(tf.float32, name='learning_rate'))


def inputs_int32(image_width, image_height, image_channels, z_dim):
    return (tf.placeholder(tf.int32, (None, image_width, image_height, image_channels), name='input_real'),
            tf.placeholder(tf.int32, (None, z_dim), name='input_z'), tf.placeholder(tf.int32, name='learning_rate'))


def inputs_height_first(image_width, image_height, image_channels, z_dim):
    return (tf.placeholder(tf.float32, (None, image_height, image_width, image_channels), name='input_real'),
            tf.placeholder(tf.float32, (None, z_dim), name='input_z'), tf.placeholder(tf.float32, name='learning_rate'))


def inputs_square(image_width, image_height, image_channels, z_dim):
    return (tf.placeholder(tf.float32, (None, 28, 28, image_channels)), tf.placeholder(tf.float32, (None, z_dim)),
            tf.placeholder(tf.float32))


# The solution's five pass in test_problem_unittests.py, as the notebook calls them
RIGHT = [
    ('placeholders unnamed, as the template allows', tests.test_model_inputs, inputs_unnamed),
    ("TensorFlow's (height, width) order: the same on square images", tests.test_model_inputs, inputs_height_first),
    ('article', tests.test_discriminator, article_code.discriminator),
    ('article fixed', tests.test_generator, article_code.generator_fixed),
    ('article', tests.test_model_loss, article_code.model_loss),
    ('small', tests.test_generator, generator),
    ('small', tests.test_discriminator, discriminator),
    ('AUTO_REUSE, tf.maximum', tests.test_generator, generator_auto_reuse),
    ('AUTO_REUSE, tf.maximum', tests.test_discriminator, discriminator_auto_reuse),
    ('template signature', tests.test_model_loss, loss_template_signature),
    ('split UPDATE_OPS', tests.test_model_opt, opt_split_update_ops),
    ('one Adam', tests.test_model_opt, opt_one_adam),
]


def _call(problem_test, function, tf_module=tf):
    """Call a problem test as the notebook does: with tf for the three that take it"""
    if problem_test in (tests.test_discriminator, tests.test_generator, tests.test_model_opt):
        return problem_test(function, tf_module)
    return problem_test(function)


@pytest.mark.parametrize('label,problem_test,function', RIGHT,
                         ids=['{}: {}'.format(label, function.__name__) for label, _, function in RIGHT])
def test_right_answers_pass(label, problem_test, function, capsys):
    _call(problem_test, function)
    assert capsys.readouterr().out.count('Tests Passed') == 1


def test_right_answers_pass_with_the_tensorflow_module(capsys):
    """The notebook may pass `tensorflow` itself as tf to the three problem tests that take it"""
    _call(tests.test_discriminator, discriminator_auto_reuse, tensorflow)
    _call(tests.test_generator, generator_auto_reuse, tensorflow)
    _call(tests.test_model_opt, opt_split_update_ops, tensorflow)
    assert capsys.readouterr().out.count('Tests Passed') == 3


# --- Wrong answers ---------------------------------------------------------------------------------

def discriminator_logits_first(images, reuse=False):
    output, logits = discriminator(images, reuse)
    return logits, output


def discriminator_no_sigmoid(images, reuse=False):
    _, logits = discriminator(images, reuse)
    return logits, logits


def discriminator_ignores_reuse(images, reuse=False):
    return discriminator(images)


def _small_generator(z, out_channel_dim, reuse, bn_training, dropout_rate, dropout_training, end=tf.tanh):
    """The small generator with each of its switches set by the caller"""
    with tf.variable_scope('generator', reuse=reuse):
        x = tf.reshape(tf.layers.dense(z, 7 * 7 * 16), (-1, 7, 7, 16))
        x = tf.nn.leaky_relu(tf.layers.batch_normalization(x, training=bn_training))
        x = tf.layers.dropout(x, rate=dropout_rate, training=dropout_training)
        return end(tf.layers.conv2d_transpose(x, out_channel_dim, 5, strides=4, padding='same'))


def generator_no_tanh(z, out_channel_dim, is_train=True, keep_prob=0.5):
    return _small_generator(z, out_channel_dim, not is_train, is_train, 1 - keep_prob, is_train, end=tf.identity)


def generator_sigmoid(z, out_channel_dim, is_train=True, keep_prob=0.5):
    return _small_generator(z, out_channel_dim, not is_train, is_train, 1 - keep_prob, is_train, end=tf.sigmoid)


def generator_dropout_always(z, out_channel_dim, is_train=True, keep_prob=0.5):
    return _small_generator(z, out_channel_dim, not is_train, is_train, 1 - keep_prob, True)


def generator_batch_norm_always_training(z, out_channel_dim, is_train=True, keep_prob=0.5):
    return _small_generator(z, out_channel_dim, not is_train, True, 1 - keep_prob, is_train)


def generator_batch_norm_never_training(z, out_channel_dim, is_train=True, keep_prob=0.5):
    return _small_generator(z, out_channel_dim, not is_train, False, 1 - keep_prob, is_train)


def generator_keep_prob_as_rate(z, out_channel_dim, is_train=True, keep_prob=0.5):
    """The article's slip, in the small generator"""
    return _small_generator(z, out_channel_dim, not is_train, is_train, keep_prob, is_train)


def generator_fixed_rate(z, out_channel_dim, is_train=True, keep_prob=0.5):
    """keep_prob accepted and ignored"""
    return _small_generator(z, out_channel_dim, not is_train, is_train, 0.5, is_train)


def generator_no_dropout_in_training(z, out_channel_dim, is_train=True, keep_prob=0.5):
    return _small_generator(z, out_channel_dim, not is_train, is_train, 1 - keep_prob, False)


def generator_ignores_reuse(z, out_channel_dim, is_train=True, keep_prob=0.5):
    return _small_generator(z, out_channel_dim, False, is_train, 1 - keep_prob, is_train)


def loss_g_labels_0(input_real, input_z, out_channel_dim):
    d_logits_real, d_logits_fake = _scores(input_real, input_z, out_channel_dim)
    return _entropy(d_logits_real, 1.0) + _entropy(d_logits_fake, 0.0), _entropy(d_logits_fake, 0.0)


def loss_real_0_fake_1(input_real, input_z, out_channel_dim):
    d_logits_real, d_logits_fake = _scores(input_real, input_z, out_channel_dim)
    return _entropy(d_logits_real, 0.0) + _entropy(d_logits_fake, 1.0), _entropy(d_logits_fake, 1.0)


def loss_swapped(input_real, input_z, out_channel_dim):
    d_loss, g_loss = loss_template_signature(input_real, input_z, out_channel_dim)
    return g_loss, d_loss


def loss_constant_g(input_real, input_z, out_channel_dim):
    d_loss, _ = loss_template_signature(input_real, input_z, out_channel_dim)
    return d_loss, tf.constant(0.0)


def loss_saturating(input_real, input_z, out_channel_dim):
    d_logits_real, d_logits_fake = _scores(input_real, input_z, out_channel_dim)
    return _entropy(d_logits_real, 1.0) + _entropy(d_logits_fake, 0.0), -_entropy(d_logits_fake, 0.0)


def loss_smoothing_ignored(input_real, input_z, out_channel_dim, alpha=0.2, smooth_factor=0.1):
    return loss_template_signature(input_real, input_z, out_channel_dim)


def loss_without_reuse(input_real, input_z, out_channel_dim):
    _, d_logits_real = discriminator(input_real)
    _, d_logits_fake = discriminator(generator(input_z, out_channel_dim))
    return _entropy(d_logits_real, 1.0) + _entropy(d_logits_fake, 0.0), _entropy(d_logits_fake, 1.0)


def loss_g_per_image(input_real, input_z, out_channel_dim):
    """g_loss without tf.reduce_mean: one cross-entropy an image (its targets and slopes are right)"""
    d_logits_real, d_logits_fake = _scores(input_real, input_z, out_channel_dim)
    g_loss = tf.nn.sigmoid_cross_entropy_with_logits(logits=d_logits_fake, labels=tf.ones_like(d_logits_fake))
    return _entropy(d_logits_real, 1.0) + _entropy(d_logits_fake, 0.0), g_loss


def loss_probabilities_as_logits(input_real, input_z, out_channel_dim):
    """The discriminator's sigmoid output passed as logits=: its targets still look right"""
    d_model_real, _ = discriminator(input_real)
    d_model_fake, _ = discriminator(generator(input_z, out_channel_dim), reuse=True)
    return _entropy(d_model_real, 1.0) + _entropy(d_model_fake, 0.0), _entropy(d_model_fake, 1.0)


def opt_wrong_scope_names(d_loss, g_loss, learning_rate, beta1):
    """Variables picked by prefixes the networks' scopes do not have (another notebook's 'd_' and 'g_')"""
    with tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS)):
        return (_adam(d_loss, [v for v in tf.trainable_variables() if v.name.startswith('d_')], learning_rate, beta1),
                _adam(g_loss, [v for v in tf.trainable_variables() if v.name.startswith('g_')], learning_rate, beta1))


def _with_the_generators_stub(model_loss):
    """:return: model_loss (and _scores, which it calls) in a notebook whose generator is still the exercise's TODO"""
    notebook = dict(globals(), generator=lambda z, out_channel_dim, is_train=True: None)
    for function in (_scores, model_loss):
        exec(compile(inspect.getsource(function), __file__, 'exec'), notebook)
    return notebook[model_loss.__name__]


loss_with_the_generators_stub = _with_the_generators_stub(loss_template_signature)  # model_loss right
loss_with_the_generators_stub.__name__ = 'loss_with_the_generators_stub'


def opt_all_variables(d_loss, g_loss, learning_rate, beta1):
    with tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS)):
        return (_adam(d_loss, tf.trainable_variables(), learning_rate, beta1),
                _adam(g_loss, tf.trainable_variables(), learning_rate, beta1))


def opt_no_update_ops(d_loss, g_loss, learning_rate, beta1):
    return (_adam(d_loss, _network_variables('discriminator'), learning_rate, beta1),
            _adam(g_loss, _network_variables('generator'), learning_rate, beta1))


def opt_default_learning_rate(d_loss, g_loss, learning_rate, beta1):
    return dlnd.model_opt(d_loss, g_loss, 0.001, beta1)


def opt_default_beta1(d_loss, g_loss, learning_rate, beta1):
    return dlnd.model_opt(d_loss, g_loss, learning_rate, 0.9)


def opt_swapped(d_loss, g_loss, learning_rate, beta1):
    d_opt, g_opt = dlnd.model_opt(d_loss, g_loss, learning_rate, beta1)
    return g_opt, d_opt


WRONG = [
    (tests.test_model_inputs, inputs_batch_16, r'Real Input has batch dimension 16, expected None'),
    (tests.test_model_inputs, inputs_int32, r'Real Input is int32, expected float32'),
    (tests.test_model_inputs, inputs_square,
     r'Real Input has shape \[None, 28, 28, 3\], expected \[None, 28, 20, 3\] or \[None, 20, 28, 3\]'),
    (tests.test_discriminator, discriminator_logits_first, r'returned \(logits, output\)'),
    (tests.test_discriminator, discriminator_no_sigmoid, r'the output equals the logits'),
    (tests.test_discriminator, discriminator_ignores_reuse, r'reuse=True\) raised ValueError: Variable '
                                                            r'discriminator/\S+ already exists'),
    (tests.test_generator, generator_no_tanh, r'generator: outputs reach \d+\.\d\d; the generator must end in tanh'),
    (tests.test_generator, generator_sigmoid, r'outputs are all in \[0\.\d\d, \d\.\d\d\]; .* end in tanh'),
    (tests.test_generator, generator_dropout_always, r'is_train=False the same z gives faces that differ by'),
    (tests.test_generator, generator_batch_norm_always_training,
     r'is_train=False a face changes by \d\.\d+ when the rest of its batch changes'),
    (tests.test_generator, generator_batch_norm_never_training, r'is_train=True its batch norm updates no moving'),
    (tests.test_generator, generator_keep_prob_as_rate,
     r'^generator: keep_prob=1\.0 in training mode raised .*rate.*; .*tf\.layers\.dropout takes the rate to drop: '
     r'pass rate=1 - keep_prob$'),
    (tests.test_generator, generator_fixed_rate,
     r'keep_prob=1\.0 in training mode gives faces of the same z that differ by .*pass rate=1 - keep_prob$'),
    (tests.test_generator, generator_no_dropout_in_training,
     r'keep_prob below 1 in training mode the same z gives the same face'),
    (tests.test_generator, generator_ignores_reuse, r'is_train=False\) raised ValueError: Variable generator/\S+ '
                                                    r'already exists.* \(the second call must reuse'),
    (tests.test_model_loss, loss_g_labels_0, r'g_loss labels generated images 0\.00'),
    (tests.test_model_loss, loss_real_0_fake_1, r'd_loss labels real images 0\.00 and generated ones 1\.00; swap'),
    (tests.test_model_loss, loss_swapped, r'returned \(g_loss, d_loss\)'),
    (tests.test_model_loss, loss_constant_g, r'g_loss does not change .*\(found constant\)'),
    (tests.test_model_loss, loss_saturating, r'saturating minimax form'),
    (tests.test_model_loss, loss_smoothing_ignored, r'smooth_factor=0\.3 real images are labelled 1\.00, '
                                                    r'expected 0\.70'),
    (tests.test_model_loss, loss_without_reuse, r'with your generator and discriminator raised ValueError: '
                                                r'Variable discriminator/\S+ already exists'),
    (tests.test_model_loss, loss_probabilities_as_logits, r"^model_loss: d_loss's gradient fades as the "
                                                           r"discriminator's logits on real images move away from its "
                                                           r"labels.*not its sigmoid output, as logits="),
    (tests.test_model_loss, loss_g_per_image, r'^model_loss: Generator Loss has shape \[None, 1\], expected \[\]: '
                                               r'return one number'),
    (tests.test_model_loss, loss_with_the_generators_stub, r"with your generator and discriminator raised .*'None'.* "
                                                           r"\(a function it calls returned None: is one of them still "
                                                           r"the exercise's TODO\?\)$"),
    (tests.test_model_opt, opt_wrong_scope_names, r"raised ValueError: No variables to optimize\. \(the var_list is "
                                                  r"empty: pick each network's variables by the scope its function "
                                                  r"builds them in, 'generator' or 'discriminator'\)$"),
    (tests.test_model_opt, opt_all_variables, r'discriminator training op changed the generator\'s variables'),
    (tests.test_model_opt, opt_no_update_ops, r'discriminator training op left batch norm\'s moving averages'),
    (tests.test_model_opt, opt_default_learning_rate, r'first step was 0\.00100, expected the learning_rate'),
    (tests.test_model_opt, opt_default_beta1, r'steps as Adam with beta1 = 0\.90, expected the beta1 passed in'),
    (tests.test_model_opt, opt_swapped, r'the discriminator training op trains the generator: return '
                                        r'\(d_train_opt, g_train_opt\)'),
]


def _assert_one_line_from_the_wrapper(failure):
    """
    :param failure: pytest's ExceptionInfo of a problem test's failure
    """
    assert '\n' not in str(failure.value)
    assert failure.value._render_traceback_() == ['AssertionError: ' + str(failure.value)]  # Jupyter shows that alone
    assert failure.value.__cause__ is None and failure.value.__suppress_context__
    frames = traceback.extract_tb(failure.value.__traceback__)
    assert frames[-1].name == 'func_wrapper' and frames[-1].filename == tests.__file__, \
        'raised from {}, not the wrapper: a harness traceback'.format(frames[-1].name)


@pytest.mark.parametrize('problem_test,function,message', WRONG, ids=[function.__name__ for _, function, _ in WRONG])
def test_wrong_answer_fails_its_problem_test_in_one_line(problem_test, function, message, capsys):
    with pytest.raises(AssertionError, match=message) as failure:
        _call(problem_test, function)
    _assert_one_line_from_the_wrapper(failure)
    assert 'Tests Passed' not in capsys.readouterr().out


def test_the_test_puts_model_loss_networks_back():
    """The stand-in networks live in model_loss's globals only while the test runs, pass or fail"""
    originals = generator, discriminator
    tests.test_model_loss(loss_template_signature)
    with pytest.raises(AssertionError):
        tests.test_model_loss(loss_swapped)
    assert (globals()['generator'], globals()['discriminator']) == originals


# --- The article's generator as printed -----------------------------------------------------------

def test_the_articles_generator_fails_with_the_dropout_explanation_and_the_fixed_one_passes(capsys):
    with pytest.raises(AssertionError, match=r'^generator: keep_prob=1\.0 in training mode raised "`rate` must be '
                                             r'a scalar tensor or a float in the range \[0, 1\)\. Received: '
                                             r'rate=1\.0"; .* pass rate=1 - keep_prob$') as failure:
        tests.test_generator(article_code.generator, tf)
    _assert_one_line_from_the_wrapper(failure)
    tests.test_generator(article_code.generator_fixed, tf)
    assert capsys.readouterr().out.count('Tests Passed') == 1


def _exercise_cell_filled_with(function):
    """
    :param function: A generator from tests/article_code.py
    :return: The exercise notebook's generator cell, its stub (the template's signature and TODO) replaced by that
             function, as a learner pastes the article's
    """
    cell = [c.source for c in make_notebooks.exercise_notebook().cells if 'def generator(' in c.source][0]
    stub, tests_call = cell.split('\n\n\n')
    assert stub.startswith('def generator(z, out_channel_dim, is_train=True):') and stub.endswith('return None')
    return re.sub(r'^def \w+\(', 'def generator(', inspect.getsource(function), count=1) + '\n\n' + tests_call


@pytest.mark.parametrize('function,outcome', [(article_code.generator, 'fails'),
                                              (article_code.generator_fixed, 'passes')], ids=['as printed', 'fixed'])
def test_the_exercise_cell_filled_with_the_articles_generator(function, outcome, capsys):
    """The learner's view: the generator cell, run as the notebook runs it, stops at the slip in one line"""
    namespace = {'__name__': '__main__', 'tf': tf, 'tests': tests}
    source = _exercise_cell_filled_with(function)
    if outcome == 'fails':
        with pytest.raises(AssertionError, match=r'^generator: keep_prob=1\.0 .* pass rate=1 - keep_prob$'):
            exec(compile(source, '<cell>', 'exec'), namespace)
        assert 'Tests Passed' not in capsys.readouterr().out
    else:
        exec(compile(source, '<cell>', 'exec'), namespace)
        assert capsys.readouterr().out.count('Tests Passed') == 1
