"""
Calling the notebook's functions from the machinery: a learner's own generator may take other
arguments or fail in ways the problem tests did not see. Whatever it does, the run stops with one
line naming the function, the call and what was expected, never with a traceback.
"""
import inspect

from facegan.errors import UserError
from facegan.tensorflow_setup import import_tensorflow

tf = import_tensorflow()


class LearnerCodeError(UserError):
    """A function of the notebook failed, or returned something else than expected, when the run called it."""


def _accepted(function, arguments):
    """
    :param function: The learner's function
    :param arguments: {name: value} the machinery would like to pass
    :return: The arguments the function takes (the Udacity template's generator has no keep_prob)
    """
    try:
        parameters = inspect.signature(function).parameters
    except (TypeError, ValueError):  # no signature to read: pass them all
        return dict(arguments)
    if any(p.kind == p.VAR_KEYWORD for p in parameters.values()):
        return dict(arguments)
    return {name: value for name, value in arguments.items() if name in parameters}


def _first_line(err):
    """:return: 'ValueError: the first line of its message'"""
    lines = str(err).strip().splitlines()
    return '{}: {}'.format(type(err).__name__, lines[0] if lines else '')


def call_generator(generator, z, out_channel_dim, why, **arguments):
    """
    Call the notebook's generator and check that it returned images
    :param generator: The notebook's generator function
    :param z: Tensor of z, (batch, z_dim)
    :param out_channel_dim: The number of channels in the output image
    :param why: What the run calls it for, for the message: 'to draw the sample grids'
    :param arguments: is_train, keep_prob: passed where the function takes them
    :return: Its output, a Tensor (batch, 28, 28, out_channel_dim)
    :raise LearnerCodeError: it failed, or returned something else
    """
    passed = _accepted(generator, arguments)
    call = 'generator(z, {}{})'.format(out_channel_dim, ''.join(', {}={!r}'.format(k, v) for k, v in passed.items()))
    try:
        images = generator(z, out_channel_dim, **passed)
    except Exception as err:  # the learner's code: anything can come out of it
        raise LearnerCodeError('{}, called {}, failed with {}; fix generator() (its problem test shows how) '
                               'and run again'.format(call, why, _first_line(err))) from None
    shape = images.shape.as_list() if isinstance(images, tf.Tensor) else None
    if shape is None or shape[1:] != [28, 28, out_channel_dim]:
        raise LearnerCodeError('{}, called {}, returned {}; it must return one tensor of images, shape '
                               '(batch, 28, 28, {})'.format(call, why, shape or type(images).__name__,
                                                            out_channel_dim))
    return images
