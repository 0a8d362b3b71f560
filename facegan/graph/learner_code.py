"""
Calling the notebook's functions, a learner's own included, from the machinery and from the problem
tests: whatever the function does, the caller gets its result or one line naming the function, the
call and what was expected, never a traceback. The run calls the generator (call_generator, a
LearnerCodeError); problem_unittests.py calls each graded function through `calling` (an
AssertionError) and builds its graphs from the stand-ins here (networks whose logits a test sets, a
toy GAN); its checks and their messages are its own.
"""
import inspect
import os
import sys
import traceback

import numpy as np
import tensorflow.compat.v1 as tf

from facegan.core.errors import LearnerCodeError, error_line, interrupted, one_line

PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # facegan/
# The project's own files beside the notebook: a learner's call may fail inside them, but they are not the learner's
PROJECT_FILES = tuple(os.path.join(os.path.dirname(PACKAGE), name) for name in ('helper.py', 'problem_unittests.py'))
STANDARD_LIBRARY = os.path.dirname(os.__file__)


def _in_a_library(filename):
    """:return: Whether a traceback's file is an installed library's or the standard library's (Python 3.11 and
             later run some of the latter frozen: '<frozen genericpath>', '<frozen os>')"""
    return os.sep + 'site-packages' + os.sep in filename or filename.startswith((STANDARD_LIBRARY, '<frozen '))


def _in_package(filename):
    """:return: Whether a traceback's file is one of the package's (facegan/)"""
    return os.path.abspath(filename).startswith(PACKAGE + os.sep)


def _frames_outside_libraries(err):
    """:return: The frames of err's traceback in the package's and the learner's files, in order"""
    return [frame for frame in traceback.extract_tb(err.__traceback__) if not _in_a_library(frame.filename)]


def raised_in_package(err):
    """
    :param err: An exception that came out of a call of the learner's code
    :return: Whether it was raised in the package (a bug of the project's, to show with its traceback), rather than
             in the learner's code or in a library it called (the learner's to fix): the last frame of its traceback
             outside the libraries tells
    """
    frames = _frames_outside_libraries(err)
    return bool(frames) and _in_package(frames[-1].filename)


def learner_frame(err):
    """
    :return: The last frame of err's traceback in the learner's files (outside the package, helper.py,
             problem_unittests.py and the libraries), or None
    """
    frames = [frame for frame in _frames_outside_libraries(err)
              if not (_in_package(frame.filename) or os.path.abspath(frame.filename) in PROJECT_FILES)]
    return frames[-1] if frames else None


def place(frame):
    """
    :param frame: A traceback frame in the learner's code (learner_frame's)
    :return: Where it is, as the learner knows it: 'cell In[12] line 4' in a notebook kernel (whose cells IPython
             compiles as temporary files: its tracebacks name them so), else 'dlnd_face_generation.py line 4'
    """
    shell = getattr(sys.modules.get('IPython'), 'get_ipython', lambda: None)()
    cell = getattr(getattr(shell, 'compile', None), 'format_code_name', lambda name: None)(frame.filename)
    return '{} line {}'.format('cell ' + cell[1] if cell else os.path.basename(frame.filename), frame.lineno)


def accepts(function, parameter):
    """
    :return: True when function names a parameter so (the article's keep_prob, smooth_factor); False where its
             signature cannot be read (a builtin): then it is called as the template calls it
    """
    try:
        return parameter in inspect.signature(function).parameters
    except (TypeError, ValueError):
        return False


def accepted(function, arguments):
    """
    :param function: The learner's function
    :param arguments: {name: value} the machinery would like to pass
    :return: The arguments the function takes (the Udacity template's generator has no keep_prob); where its
             signature cannot be read, or it takes **kwargs, all of them
    """
    try:
        parameters = inspect.signature(function).parameters
    except (TypeError, ValueError):  # no signature to read: pass them all
        return dict(arguments)
    if any(p.kind == p.VAR_KEYWORD for p in parameters.values()):
        return dict(arguments)
    return {name: value for name, value in arguments.items() if name in parameters}


def check_call(function, name, args, kwargs, parameters):
    """
    Stop before the run calls a learner's function whose parameters cannot take what it passes (one left out or
    added): Python's TypeError would be raised in the run's code, not at a line of the learner's
    :param name: The function's name, for the message: 'train'
    :param args: The positional arguments the run passes
    :param kwargs: The arguments it passes by name
    :param parameters: The parameters the function should have, for the message: '(epoch_count, ...)'
    :raise LearnerCodeError: they cannot be bound
    """
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):  # no signature to read: the call itself will tell
        return
    try:
        signature.bind(*args, **kwargs)
    except TypeError as err:
        raise LearnerCodeError('{}{} cannot take what the run passes it ({}): give it the parameters {}{}'.format(
            name, one_line(str(signature)), err, name, parameters)) from None


def _takes_a_third_argument(function):
    """:return: Whether function takes a third positional argument (the template's is_train); True where its
             signature cannot be read"""
    try:
        inspect.signature(function).bind_partial(None, None, None)
    except TypeError:  # too many positional arguments
        return False
    except ValueError:  # no signature to read
        pass
    return True


def call_generator(generator, z, out_channel_dim, why, is_train=None, **arguments):
    """
    Call the notebook's generator and check that it returned images
    :param generator: The notebook's generator function
    :param z: Tensor of z, (batch, z_dim)
    :param out_channel_dim: The number of channels in the output image
    :param why: What the run calls it for, for the message: 'to draw the sample grids'
    :param is_train: Passed third, by position, as the template's show_generator_output and the problem test pass
                     it (whatever the learner named it), where the function takes a third argument; None: not passed
    :param arguments: keep_prob: passed by name where the function takes it
    :return: Its output, a Tensor (batch, 28, 28, out_channel_dim)
    :raise LearnerCodeError: it failed, or returned something else
    """
    passed = accepted(generator, arguments)
    positional = (is_train,) if is_train is not None and _takes_a_third_argument(generator) else ()
    call = 'generator(z, {}{})'.format(out_channel_dim, ''.join(', {}={!r}'.format(k, v) for k, v in
                                                                 dict(zip(['is_train'], positional), **passed).items()))
    try:
        images = generator(z, out_channel_dim, *positional, **passed)
    except Exception as err:  # the learner's code: anything can come out of it
        if raised_in_package(err) or interrupted(err):  # the project's bug; a Ctrl-C TensorFlow turned into an error
            raise
        raise LearnerCodeError('{}, called {}, failed with {}{}; fix generator() (its problem test shows how) '
                               'and run again'.format(call, why, error_line(err, with_type=True), hint(err))) from None
    shape = images.shape.as_list() if isinstance(images, tf.Tensor) and images.shape.ndims is not None else None
    if shape is None or shape[1:] != [28, 28, out_channel_dim]:
        raise LearnerCodeError('{}, called {}, returned {}; it must return one tensor of images, shape '
                               '(batch, 28, 28, {})'.format(call, why, shape or type(images).__name__,
                                                            out_channel_dim))
    return images


# --- The problem tests' machinery --------------------------------------------------------------------

def v1(tf_module):
    """
    :param tf_module: tensorflow or tensorflow.compat.v1, as the notebook passed it
    :return: The tensorflow.compat.v1 module the code under test calls into
    """
    # tensorflow.compat.v1 has its own compat.v1, a different module object: use it as given
    return tf_module if hasattr(tf_module, 'variable_scope') else tf_module.compat.v1


def calling(what, function, *args, **kwargs):
    """
    Call the learner's code in a problem test; an exception it raises becomes a one-line AssertionError
    :param what: The call as the message names it, e.g. 'generator(z, 5, is_train=False)'
    :param function: The function to call
    :return: What the function returned
    """
    try:
        return function(*args, **kwargs)
    except AssertionError:
        raise
    except Exception as error:  # the learner's bug, whatever it is, becomes one line
        raise AssertionError('{} raised {}{}'.format(what, error_line(error, with_type=True), hint(error))) from None


# What a message of TensorFlow's means in the exercise, said beside it
_HINTS = (("already exists", "the second call must reuse the first one's variables: pass reuse to tf.variable_scope"),
          ("No variables to optimize", "the var_list is empty: pick each network's variables by the scope its "
                                       "function builds them in, 'generator' or 'discriminator'"),
          ("Got 'None'", "a function it calls returned None: is one of them still the exercise's TODO?"),
          ("Iterating over a symbolic", "a function returned one tensor where two values are unpacked: "
                                        "discriminator returns (output, logits), model_loss (d_loss, g_loss)"))


def hint(error):
    """:return: ' (what the error means in the exercise)', or '' for an error none of _HINTS explains"""
    return ''.join(' ({})'.format(meaning) for text, meaning in _HINTS if text in str(error))


# TensorFlow's words for a tensor larger than it can hold at all (beyond 2**32 elements, hundreds of gigabytes)
_TOO_LARGE_TO_HOLD = 'Cannot parse tensor from proto'


def out_of_memory(error):
    """
    :return: What did not fit where a TensorFlow error says a tensor did not (out of memory, or larger than TensorFlow
             can hold: no mistake in the code that asked for it, but settings that ask for too much); else None
    """
    if isinstance(error, tf.errors.ResourceExhaustedError):
        return error_line(error)
    if isinstance(error, tf.errors.InvalidArgumentError) and _TOO_LARGE_TO_HOLD in str(error):
        return 'a tensor larger than TensorFlow can hold'
    return None


def check_returns(result, function_name, names):
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


def assert_tensor_shape(tensor, shape, display_name, why):
    """
    :param tensor: A tensor the learner's function returned
    :param shape: The shape it must have; None for a dimension that may be anything
    :param display_name: What the message calls it, e.g. 'generator: Generator output'
    :param why: Why the shape matters, for the message
    """
    assert isinstance(tensor, tf.Tensor), '{} is a {}, not a tensor: {}'.format(
        display_name, type(tensor).__name__, why)
    found = tensor.get_shape().as_list() if tensor.get_shape().ndims is not None else None
    fits = found is None or (len(found) == len(shape) and all(
        want is None or got == want for got, want in zip(found, shape)))
    assert fits, '{} has shape {}, expected {}: {}'.format(display_name, found, shape, why)


def run(what, sess, fetches, feed_dict=None):
    """:return: sess.run(fetches, feed_dict); an error in the learner's graph becomes one line"""
    return calling(what, sess.run, fetches, feed_dict)


def new_trainable(before, scope, function_name):
    """
    :param before: Names of the trainable variables before the call
    :param scope: The variable scope the function must create its variables in
    :param function_name: For the message
    :return: Names of the trainable variables the call created
    """
    created = sorted({var.name for var in tf.trainable_variables()} - before)
    assert created, '{}: it created no variables; build the network with tf.layers inside ' \
                    'tf.variable_scope(\'{}\')'.format(function_name, scope)
    outside = [name for name in created if not name.startswith(scope + '/')]
    assert not outside, '{}: variables {} are outside the \'{}/\' scope; create them inside ' \
                        'tf.variable_scope(\'{}\', ...) so model_opt can pick this network\'s variables by ' \
                        'name'.format(function_name, outside[:2], scope, scope)
    return set(created)


def no_new_variables(before, function_name, call, scope):
    """Fail when a reusing call created variables: the two calls would not share their weights"""
    created = sorted({var.name for var in tf.trainable_variables()} - before)
    assert not created, '{}: {} created new variables ({}) instead of reusing them; open ' \
                        'tf.variable_scope(\'{}\', reuse=...) with that reuse so both calls share one set ' \
                        'of weights'.format(function_name, call, created[0], scope)


class ControlledNetworks(object):
    """
    Stand-ins for the notebook's generator and discriminator, put in model_loss's globals for the
    length of a with block: the discriminator's logits on real and on generated images are
    placeholders the test feeds, so it can read the loss's targets from its gradients.
    """
    def __init__(self, input_real, out_channel_dim):
        self.input_real = input_real
        self.out_channel_dim = out_channel_dim
        self.real_logits = tf.placeholder(tf.float32, [None, 1], name='controlled_real_logits')
        self.fake_logits = tf.placeholder(tf.float32, [None, 1], name='controlled_fake_logits')
        self.fake_images = None
        self.namespace, self.saved = None, {}

    def generator(self, z, *args, **kwargs):
        """:return: Images of the right shape that depend on z (their values do not matter)"""
        shape = tf.stack([tf.shape(z)[0], 28, 28, self.out_channel_dim])
        self.fake_images = tf.tanh(tf.zeros(shape) + tf.reshape(z[:, 0], [-1, 1, 1, 1]))
        return self.fake_images

    def discriminator(self, images, *args, **kwargs):
        """:return: (sigmoid, logits) with logits the test's, for the real or for the generated images"""
        if images is self.input_real:
            logits = self.real_logits
        elif self.fake_images is not None and images is self.fake_images:
            logits = self.fake_logits
        else:
            raise AssertionError('model_loss: discriminator was called on {}, which is neither input_real nor '
                                 'the generator\'s output; score the real images and the generated ones as they '
                                 'are'.format(getattr(images, 'name', images)))
        return tf.sigmoid(logits), logits

    def __enter__(self):
        return self

    def install(self, function):
        """Put the stand-ins in function's globals, where model_loss finds generator and discriminator"""
        self.namespace = function.__globals__
        for name in ('generator', 'discriminator'):
            self.saved[name] = self.namespace.get(name, self)  # self: there was none
            self.namespace[name] = getattr(self, name)
        return self

    def __exit__(self, exc_type, exc_value, traceback):
        for name, original in self.saved.items():
            if original is self:
                del self.namespace[name]
            else:
                self.namespace[name] = original


def _slope(sess, gradient, logits, feed, logit):
    """:return: The loss's gradient summed over the 4 images, every logit set to logit"""
    values = dict(feed)
    values[logits] = np.full((4, 1), logit, np.float32)
    return float(np.sum(run('running model_loss', sess, gradient, values)))


def slopes_and_targets(sess, gradient, logits, feed):
    """
    A sigmoid cross-entropy's gradient with respect to a logit l is weight * (sigmoid(l) - target).
    Measured at l = -1 and l = 1 (the same logit for every image), it gives the loss's weight and target
    :param gradient: tf.gradients(loss, [logits])[0] of a scalar loss (None: it does not depend on them)
    :param logits: The placeholder of the logits it is read against
    :param feed: The rest of the feed
    :return: (weight, target); weight 0 (and target None) when the loss does not depend on them
    """
    if gradient is None:
        return 0.0, None
    slopes = [_slope(sess, gradient, logits, feed, logit) for logit in (-1.0, 1.0)]
    sigmoids = 1 / (1 + np.exp([1.0, -1.0]))
    weight = (slopes[1] - slopes[0]) / (sigmoids[1] - sigmoids[0])
    # A cross-entropy averaged over the 4 images has weight 1/4 (summed, 4); rounding alone leaves under 1e-6
    if abs(weight) < 1e-6:  # a gradient that is there but does not depend on the logit: a constant loss
        return 0.0, None
    return weight, round(float(sigmoids[0] - slopes[0] / weight), 6) + 0.0  # + 0.0: no -0.00 in messages


def fades_away_from_target(sess, gradient, logits, feed, target):
    """
    A sigmoid cross-entropy's gradient, weight * (sigmoid(l) - target), grows as the logit moves away from the target
    (for any target from 0 to 1, |sigmoid(l) - target| is larger at l = -8 than at -1 when the target is above one
    half, and at 8 than at 1 below it). A loss of sigmoid(l) instead (the discriminator's probabilities passed as
    logits=) carries sigmoid's own slope, 3e-4 at |l| = 8 against 0.2 at 1: its gradient fades there instead.
    :param gradient: tf.gradients(loss, [logits])[0], as slopes_and_targets was given it
    :param target: The loss's target, from slopes_and_targets
    :return: Whether the gradient is smaller 8 logits away from the target than 1 logit away
    """
    away = -1.0 if target > 0.5 else 1.0
    near, far = (abs(_slope(sess, gradient, logits, feed, logit)) for logit in (away, 8 * away))
    return far < near


def toy_gan():
    """
    A small GAN whose losses couple both networks, with a batch norm in each and one probe variable
    per network whose gradient is the value fed to its placeholder
    :return: dict of d_loss, g_loss, the probe feeds and variables, and each network's moving averages
    """
    rng = np.random.RandomState(0)
    z = tf.constant(rng.uniform(-1, 1, (4, 3)), tf.float32)
    real = tf.constant(rng.uniform(0, 1, (4, 3)), tf.float32)
    toy = {net + '_feed': tf.placeholder(tf.float32, []) for net in ('discriminator', 'generator')}
    with tf.variable_scope('generator'):
        fake = tf.layers.batch_normalization(tf.layers.dense(z, 3), training=True)
        toy['generator_probe'] = tf.get_variable('probe', [], initializer=tf.zeros_initializer())

    def discriminator(images, reuse):
        with tf.variable_scope('discriminator', reuse=reuse):
            logits = tf.layers.dense(tf.layers.batch_normalization(images, training=True), 1)
            return logits, tf.get_variable('probe', [], initializer=tf.zeros_initializer())

    d_real, toy['discriminator_probe'] = discriminator(real, False)
    d_fake, _ = discriminator(fake, True)
    entropy = tf.nn.sigmoid_cross_entropy_with_logits
    toy['d_loss'] = (tf.reduce_mean(entropy(logits=d_real, labels=tf.ones_like(d_real))) +
                     tf.reduce_mean(entropy(logits=d_fake, labels=tf.zeros_like(d_fake))) +
                     toy['discriminator_probe'] * toy['discriminator_feed'])
    toy['g_loss'] = (tf.reduce_mean(entropy(logits=d_fake, labels=tf.ones_like(d_fake))) +
                     toy['generator_probe'] * toy['generator_feed'])
    for net in ('discriminator', 'generator'):
        toy[net] = [var for var in tf.trainable_variables() if var.name.startswith(net + '/')]
        toy[net + '_averages'] = [var for var in tf.global_variables()
                                  if var.name.startswith(net + '/') and 'moving_' in var.name]
    return toy


def moved(before, after):
    """:return: The names of the variables whose values differ"""
    return [name for name in before if (before[name] != after[name]).any()]
