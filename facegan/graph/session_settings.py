"""
How sessions run: at the precision asked for (float32, or oneDNN's bfloat16 rewrite, which
core/machine.py says the CPU can run), on the cores this process may use, one op at a time, for the
sessions a run opens, the template's plain tf.Session() included, and for the sessions that draw from
a saved run; and the seeds.
"""
import contextlib
import random

import numpy as np
import tensorflow.compat.v1 as tf

from facegan.core import machine

BFLOAT16_REWRITE = 'auto_mixed_precision_onednn_bfloat16'  # the rewrite's name among grappler's options


def _threads():
    """
    :return: (intra-op, inter-op) threads: every core this process may use on each op, one op at a time (a
             step is a chain of large convolutions; on 2 cores no other setting was faster in every round:
             docs/speed.md)
    """
    return machine.usable_cores(), 1


def session_config(precision='float32'):
    """
    Settings for a session the project opens itself (one drawing from a saved run)
    :param precision: 'float32', or 'bfloat16': oneDNN then runs the convolutions and matmuls in
                      bfloat16 while the variables stay float32
    :return: tf.ConfigProto
    """
    intra, inter = _threads()
    config = tf.ConfigProto(intra_op_parallelism_threads=intra, inter_op_parallelism_threads=inter)
    if precision == 'bfloat16':
        setattr(config.graph_options.rewrite_options, BFLOAT16_REWRITE, config.graph_options.rewrite_options.ON)
    return config


@contextlib.contextmanager
def for_plain_sessions(precision):
    """
    While the block runs, a session opened without a config of its own (the template's tf.Session(), whose
    config is then the process's, tf.config's) runs at this precision and on session_config's threads; as
    before, after it
    :param precision: 'float32' or 'bfloat16'
    """
    before = tf.config.optimizer.get_experimental_options().get(BFLOAT16_REWRITE, False)
    threads_before = _set_threads(_threads())
    tf.config.optimizer.set_experimental_options({BFLOAT16_REWRITE: precision == 'bfloat16'})
    try:
        yield
    finally:
        tf.config.optimizer.set_experimental_options({BFLOAT16_REWRITE: before})
        if threads_before:
            _set_threads(threads_before)


def _set_threads(threads):
    """
    :param threads: (intra-op, inter-op) threads for sessions opened without a config
    :return: The ones set before, or None where TensorFlow no longer lets them change (its runtime started:
             sessions then keep its own choice, the same threads on 2 cores but for the inter-op ones)
    """
    before = (tf.config.threading.get_intra_op_parallelism_threads(),
              tf.config.threading.get_inter_op_parallelism_threads())
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads[0])
        tf.config.threading.set_inter_op_parallelism_threads(threads[1])
    except RuntimeError:
        return None
    return before


def set_seeds(seed):
    """
    Seed numpy, Python's random (tf-keras draws its initializers' seeds from it) and the default graph
    :param seed: The seed; call inside the graph's `with` block
    """
    np.random.seed(seed)
    random.seed(seed)
    tf.set_random_seed(seed)
