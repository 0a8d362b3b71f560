"""
What the discriminator said about each image of a step, D(x) on the real batch and D(G(z)) on the
generated one, without a second forward pass: model_loss returns only the two losses, so its
logits are found in the graph by structure. D's variables are the trainable variables whose names
start with 'discriminator' (the rule model_opt uses); walking back from d_loss, the first op on each
path that reads one of them is the last op of the discriminator, its logits (tf.layers.dense's
BiasAdd, or its MatMul without a bias). The call on generated images depends on input_z, the call
on real ones does not. A sigmoid on those logits costs nothing next to the step.
"""
import collections
import sys

import tensorflow.compat.v1 as tf

from facegan.graph import dependencies

# Ops that only pass a variable's value on: ref variables' `read` Identity, resource variables' reads
_VARIABLE_READS = ('Identity', 'ReadVariableOp')
_VARIABLE_OPS = ('VariableV2', 'VarHandleOp', 'Variable')

NOT_FOUND = ('note: the discriminator\'s logits were not found in d_loss\'s graph (two calls of a '
             'discriminator/ network, one on input_real and one on generated images): losses.csv, the '
             'progress bar and TensorBoard go without D(x) and D(G(z)) for this run')

DiscriminatorView = collections.namedtuple('DiscriminatorView', ['real', 'fake'])
DiscriminatorView.__doc__ = 'Per-image D(x) on the real batch and D(G(z)) on the generated one, shape (batch,)'


def _discriminator_variable_ops():
    """:return: The set of the ops that hold the discriminator's trainable variables"""
    return {var.op for var in tf.trainable_variables() if var.op.name.startswith('discriminator')}


def _reads_variable(op, variable_ops):
    """
    :param op: A graph op
    :param variable_ops: Ops that hold variables
    :return: Whether one of op's inputs is one of those variables (directly or through a read)
    """
    for tensor in op.inputs:
        source = tensor.op
        while source not in variable_ops and source.type in _VARIABLE_READS and source.inputs:
            source = source.inputs[0].op
        if source in variable_ops:
            return True
    return False


def _last_ops_reading(loss, variable_ops):
    """
    :param loss: A loss Tensor
    :param variable_ops: Ops that hold variables
    :return: The ops nearest the loss, on each path back from it, that read one of those variables
    """
    found, seen, to_visit = [], {loss.op}, [loss.op]
    while to_visit:
        op = to_visit.pop()
        if _reads_variable(op, variable_ops):
            found.append(op)
            continue
        for tensor in op.inputs:
            if tensor.op not in seen and tensor.op.type != 'Placeholder' and tensor.op.type not in _VARIABLE_OPS:
                seen.add(tensor.op)
                to_visit.append(tensor.op)
    return found


def _per_image(logits):
    """
    :param logits: The discriminator's logits, (batch,), (batch, 1) or (batch, ...) for a patch discriminator
    :return: sigmoid(logits) per image, shape (batch,), averaged over the other axes
    """
    probabilities = tf.sigmoid(logits)
    if logits.shape.ndims == 1:
        return probabilities
    return tf.reduce_mean(probabilities, axis=list(range(1, logits.shape.ndims)))


def find(d_loss, input_real, input_z, quiet=False):
    """
    Find D's logits on the real and the generated batch in d_loss's graph
    :param d_loss: The discriminator's loss Tensor, from model_loss
    :param input_real: The real images' placeholder
    :param input_z: The z placeholder
    :param quiet: Print no note when they are not found
    :return: DiscriminatorView of per-image probability tensors, or None (with a one-line note on
             stderr) when the graph has not exactly one call on each
    """
    candidates = [op.outputs[0] for op in _last_ops_reading(d_loss, _discriminator_variable_ops())]
    candidates = [logits for logits in candidates
                  if logits.dtype.is_floating and logits.shape.ndims is not None and logits.shape.ndims >= 1]
    fake, real = [], []
    for logits in candidates:
        behind = dependencies.ops_behind(logits)
        if input_z.op in behind:
            fake.append(logits)
        elif input_real.op in behind:
            real.append(logits)
    if len(fake) != 1 or len(real) != 1:
        if not quiet:
            print(NOT_FOUND, file=sys.stderr)
        return None
    with tf.name_scope('discriminator_view'):
        return DiscriminatorView(_per_image(real[0]), _per_image(fake[0]))
