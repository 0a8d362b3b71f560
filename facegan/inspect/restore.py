"""
Finding a saved run to draw from: its newest usable checkpoint, and how it was trained, from its
run.json (the length of z, the channels, the precision); and which of its variables fill a drawing
generator, the averaged generator's or the raw one's. A run saved without run.json (an older
version's) is read from its checkpoint instead.
"""
import collections
import os
import sys

import tensorflow.compat.v1 as tf

from facegan.core import run_config
from facegan.core.errors import LearnerCodeError, TrainingStopped, one_line
from facegan.graph import averaging, checkpoints
from facegan.graph.learner_code import call_generator

SavedRun = collections.namedtuple('SavedRun', ['checkpoint', 'z_dim', 'channels', 'precision', 'config'])
SavedRun.__doc__ = 'A saved run to draw from: its checkpoint, z length, channels, precision and RunConfig (or None)'


def _run_folder(checkpoint):
    """:return: The run's output folder of a checkpoint path prefix (it sits in OUTPUT/checkpoints/)"""
    folder = os.path.dirname(checkpoint)
    return os.path.dirname(folder) if os.path.basename(folder) == checkpoints.CHECKPOINT_FOLDER else folder


def _generator_variables(generator, z_dim, channels):
    """:return: {name: shape} of the variables generator makes for this z length and channel count"""
    with tf.Graph().as_default():
        call_generator(generator, tf.placeholder(tf.float32, (None, z_dim)), channels, 'to list its variables')
        return {var.op.name: var.shape.as_list() for var in tf.global_variables()}


def _read_from_checkpoint(generator, path):
    """:return: (z length, channels) of a checkpoint saved without run.json, from its variables' shapes"""
    checkpoints.check_variables(path, {'sample_z': None})  # the fixed z of every training run's grids
    saved = checkpoints.saved_shapes(path)
    z_dim = saved['sample_z'][1]
    matching = [c for c in (1, 3) if all(saved.get(name) == shape for name, shape
                                         in _generator_variables(generator, z_dim, c).items())]
    if not matching:
        raise TrainingStopped('{} holds no generator that this generator() can restore: was it trained with another '
                              'version of the model?'.format(one_line(path)))
    return z_dim, matching[0]


def find_run(generator, checkpoint, hint):
    """
    :param generator: The notebook's generator function
    :param checkpoint: A run's output folder, its checkpoints folder, or a checkpoint path
    :param hint: What to do when there is no usable checkpoint there
    :return: SavedRun
    :raise TrainingStopped: no usable checkpoint, a damaged run.json, or a generator that does not fit
    """
    path = checkpoints.find_checkpoint(checkpoint, hint=hint, unusable_hint=hint)
    config = run_config.load(_run_folder(path))
    if config is None:
        z_dim, channels = _read_from_checkpoint(generator, path)
        return SavedRun(path, z_dim, channels, 'float32', None)
    return SavedRun(path, config.z_dim, config.channels, config.precision_used or 'float32', config)


def weights_of(saved):
    """:return: The weights a saved run draws with unless told otherwise: 'averaged' if it kept an average, else 'raw'"""
    return 'averaged' if saved.config is not None and saved.config.average_decay else 'raw'


def restore_map(saved, variables, weights):
    """
    :param saved: SavedRun
    :param variables: The drawing graph's generator variables
    :param weights: 'averaged' or 'raw'
    :return: ({name in the checkpoint: variable}, the weights restored): the averaged generator's where asked
             for and updated at least once, else the raw ones, with one note saying why
    :raise LearnerCodeError: there are none (the generator builds its layers in another scope)
    """
    if not variables:  # its layers are built in another scope (renamed since the run, or never 'generator')
        raise LearnerCodeError("generator() made no variables under 'generator/', where the run's are saved: build its "
                               "layers inside tf.variable_scope('generator', ...)")
    plain = {var.op.name: var for var in variables}
    if weights == 'raw':
        return plain, 'raw'
    names = checkpoints.saved_names(saved.checkpoint)
    averaged = {'{}/{}'.format(averaging.SCOPE, name): var for name, var in plain.items()}
    if not set(averaged) <= names:
        why = 'it holds no averaged generator'
    elif tf.train.load_variable(saved.checkpoint, averaging.SCOPE + '/steps') == 0:
        why = 'its train() never updated the averaged generator'
    else:
        return averaged, 'averaged'
    print('note: {}: {}; drawing the generator\'s own weights'.format(one_line(saved.checkpoint), why),
          file=sys.stderr)
    return plain, 'raw'
