"""
Variables that cannot fit in memory, said while the graph is built: a run's variables (the networks'
weights, Adam's two moments of each, the averaged generator) are all allocated at once when train()
initializes them, and where the process's memory has no limit of its own (or a container's limit holds
it: its control group's) Linux may kill it there before TensorFlow can say anything. A variable that
takes the total past the memory free when the run began raises the error TensorFlow raises when its
memory runs out (ResourceExhaustedError), so the run says it as it says TensorFlow's own: one line
naming the settings that ask for too much.
"""
import contextlib

import tensorflow.compat.v1 as tf

from facegan.core.files import size_text


@contextlib.contextmanager
def within(available):
    """
    While the block runs (train()'s graph being built), each variable created counts towards a total that must
    stay within available
    :param available: Bytes this process may take (machine.memory_available()), or None where that is not known:
                      then nothing is checked
    :raise tf.errors.ResourceExhaustedError: where the total goes past it, as the variable that takes it there is
                                             created
    """
    if available is None:
        yield
        return
    total = 0

    def count(next_creator, **kwargs):
        nonlocal total
        variable = next_creator(**kwargs)
        total += variable_bytes(variable)
        if total > available:
            raise tf.errors.ResourceExhaustedError(None, None, 'its variables would take {}, and {} is free'.format(
                size_text(total), size_text(available)))
        return variable

    with tf.variable_creator_scope(count):
        yield


def variable_bytes(variable):
    """:return: The bytes a variable's value takes; 0 for one whose shape is not known before it runs"""
    elements = variable.shape.num_elements()
    return 0 if elements is None else elements * variable.dtype.base_dtype.size
