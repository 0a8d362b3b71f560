"""
The generator's batch-norm averages, recomputed from its current weights before each use ("precise
batch norm": Wu & Johnson, Rethinking "Batch" in BatchNorm, 2021). docs/batch_norm.md says why.
"""
import contextlib

import tensorflow.compat.v1 as tf

from facegan.graph.learner_code import call_generator

CALIBRATION_Z = 512  # z drawn to recompute the generator's batch-norm statistics before each use


@contextlib.contextmanager
def _no_new_update_ops():
    """Take the batch-norm update ops registered inside this block back out of UPDATE_OPS."""
    update_ops = tf.get_collection_ref(tf.GraphKeys.UPDATE_OPS)
    registered = len(update_ops)
    yield
    del update_ops[registered:]


def build_calibration(generator, z_dim, out_channel_dim, count=None):
    """
    Build the op that sets the generator's batch-norm moving averages to the exact statistics of its
    current weights ("precise batch norm": Wu & Johnson, Rethinking "Batch" in BatchNorm, 2021)
    The averages that training keeps (momentum 0.99) lag the weights by hundreds of steps, so
    inference mode drew washed-out faces after a short run. This op runs the generator in training
    mode, without dropout, on count fresh z, and assigns each batch norm the mean and variance of
    its input over that batch. Inference mode then equals training mode on a large batch, and each
    image still depends on its own z only.
    :param generator: The notebook's generator function; its variables must exist already
    :param z_dim: The dimension of Z
    :param out_channel_dim: The number of channels in the output image
    :param count: How many z to draw (None: CALIBRATION_Z)
    :return: The op
    """
    graph = tf.get_default_graph()
    known = set(graph.get_operations())
    z = tf.random_uniform((count or CALIBRATION_Z, z_dim), -1, 1)
    with tf.variable_scope(tf.get_variable_scope(), reuse=True), _no_new_update_ops():
        call_generator(generator, z, out_channel_dim, 'to recompute batch norm\'s averages without dropout',
                       is_train=True, keep_prob=1.0)
    variables = {var.op: var for var in tf.global_variables()}
    assignments = []
    for op in graph.get_operations():
        if op in known or not op.type.startswith('FusedBatchNorm'):
            continue
        # A batch norm op's inputs: x, gamma, beta, then reads of the moving mean and variance
        axes = [0, 1, 2] if op.get_attr('data_format') == b'NHWC' else [0, 2, 3]
        mean, variance = tf.nn.moments(op.inputs[0], axes)
        for read, value in ((op.inputs[3], mean), (op.inputs[4], variance)):
            assignments.append(tf.assign(variables[read.op.inputs[0].op], value))
    return tf.group(*assignments)
