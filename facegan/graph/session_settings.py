"""
How sessions run: at the precision asked for (float32, or oneDNN's bfloat16 rewrite, which
core/cpu.py says the CPU can run fast), for the sessions a run opens, the template's plain
tf.Session() included, and for the sessions that draw from a saved run; and the seeds.
"""
import contextlib
import random

import numpy as np
import tensorflow.compat.v1 as tf

BFLOAT16_REWRITE = 'auto_mixed_precision_onednn_bfloat16'  # the rewrite's name among grappler's options


def session_config(precision='float32'):
    """
    Settings for a session the project opens itself (one drawing from a saved run)
    :param precision: 'float32', or 'bfloat16': oneDNN then runs the convolutions and matmuls in
                      bfloat16 while the variables stay float32
    :return: tf.ConfigProto
    """
    config = tf.ConfigProto()
    if precision == 'bfloat16':
        setattr(config.graph_options.rewrite_options, BFLOAT16_REWRITE, config.graph_options.rewrite_options.ON)
    return config


@contextlib.contextmanager
def for_plain_sessions(precision):
    """
    While the block runs, a session opened without a config of its own (the template's tf.Session(), whose
    config is then the process's, tf.config's) runs at this precision; as before, after it
    :param precision: 'float32' or 'bfloat16'
    """
    before = tf.config.optimizer.get_experimental_options().get(BFLOAT16_REWRITE, False)
    tf.config.optimizer.set_experimental_options({BFLOAT16_REWRITE: precision == 'bfloat16'})
    try:
        yield
    finally:
        tf.config.optimizer.set_experimental_options({BFLOAT16_REWRITE: before})


def set_seeds(seed):
    """
    Seed numpy, Python's random (tf-keras draws its initializers' seeds from it) and the default graph
    :param seed: The seed; call inside the graph's `with` block
    """
    np.random.seed(seed)
    random.seed(seed)
    tf.set_random_seed(seed)
