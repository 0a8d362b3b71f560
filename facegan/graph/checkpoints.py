"""
Checkpoints that survive a crash, a damaged file, a full disk and NaN: saving every variable under
the step's name and keeping the newest few (checkpoint_files.py: names, the index file, what to
keep), finding the newest usable one (each tensor read, so a damaged file shows), and restoring it.
"""
import glob
import os
import shutil
import sys

import numpy as np
import tensorflow.compat.v1 as tf

from facegan.core import files
from facegan.core.errors import TrainingStopped, error_line, one_line
from facegan.graph import checkpoint_files
from facegan.graph.checkpoint_files import CHECKPOINT_FOLDER, CHECKPOINT_NAME, remove_stale_temporary_files  # noqa: F401


def checkpoint_problem(prefix, finite=True):
    """
    Read every tensor of a checkpoint: each read checks the tensor's checksum, so a truncated or damaged
    file shows. On a 170 MB checkpoint: 0.12 s from the page cache, 0.35-0.4 s from disk; the NaN check adds 0.05 s
    :param prefix: Path prefix of a checkpoint (its path without .index)
    :param finite: Count floating-point values that are NaN or infinite as a problem too
    :return: None for a complete, readable checkpoint, or what is wrong with it, in one line
    """
    try:
        reader = tf.train.NewCheckpointReader(prefix)
        dtypes = reader.get_variable_to_dtype_map()
        values = ((name, reader.get_tensor(name)) for name in sorted(dtypes))  # each one is read
        non_finite = [name for name, value in values
                      if finite and dtypes[name].is_floating and not np.isfinite(value).all()]
    except (tf.errors.OpError, IndexError, ValueError) as err:  # a short read is an IndexError
        return 'unreadable: {}'.format(error_line(err))
    if non_finite:
        return '{} variable(s) hold NaN or infinity (e.g. {})'.format(len(non_finite), non_finite[0])
    return None


def _first_usable(prefixes):
    """
    :param prefixes: Checkpoint path prefixes, the preferred first
    :return: (the first without a problem or None, [(prefix, problem)] of those before it)
    """
    skipped = []
    for prefix in prefixes:
        problem = checkpoint_problem(prefix)
        if problem is None:
            return prefix, skipped
        skipped.append((prefix, problem))
    return None, skipped


def _describe(skipped):
    """:return: 'model-9 (its problem); model-8 (...)' for [(prefix, problem)]"""
    return '; '.join('{} ({})'.format(os.path.basename(prefix), problem) for prefix, problem in skipped)


def _warn_skipped(skipped, used):
    """One line on stderr naming the checkpoints skipped and the one used instead (nothing if none skipped)."""
    if skipped:
        print('warning: skipped checkpoint {}; using {}'.format(_describe(skipped), one_line(used or 'none')),
              file=sys.stderr)


def latest_checkpoint(folder):
    """
    :param folder: A run's output folder or its checkpoints folder
    :return: Path prefix of the newest complete, readable checkpoint without NaN or infinity that the index file
             lists, or None; newer ones skipped are named in one warning line on stderr
    """
    path, skipped = _first_usable(checkpoint_files.listed_checkpoints(checkpoint_files.checkpoints_folder(folder)))
    _warn_skipped(skipped, path)
    return path


def find_checkpoint(path, hint, unusable_hint):
    """
    :param path: A run's output folder, its checkpoints folder, or a checkpoint's path prefix (or one of its files)
    :param hint: What to do when there is no checkpoint there
    :param unusable_hint: What to do when every checkpoint there is damaged
    :return: Path prefix of the newest complete, readable checkpoint without NaN or infinity there
    :raise TrainingStopped: none there, or none usable
    """
    if os.path.isdir(path):
        prefixes = checkpoint_files.listed_checkpoints(checkpoint_files.checkpoints_folder(path))
    else:
        prefix = checkpoint_files.strip_suffix(path)
        prefixes = [prefix] if os.path.isfile(prefix + '.index') else []
        if not prefixes and os.path.exists(path):
            raise TrainingStopped('{} is not a checkpoint (no {}.index beside it): {}'.format(
                one_line(path), one_line(prefix), hint))
    if not prefixes:
        raise checkpoint_files.no_checkpoint(path, hint)
    found, skipped = _first_usable(prefixes)
    if found is None:
        raise TrainingStopped('no usable checkpoint in {}: {}; {}'.format(one_line(path), _describe(skipped),
                                                                          unusable_hint))
    _warn_skipped(skipped, found)
    return found


def check_variables(path, expected):
    """
    :param path: Path prefix of a readable checkpoint
    :param expected: {variable name: shape as a list, or None for any shape}
    :raise TrainingStopped: a variable is missing from the checkpoint, or saved with another shape
    """
    saved = saved_shapes(path)
    missing = sorted(name for name in expected if name not in saved)
    if missing:
        raise TrainingStopped('{} lacks {} of the {} variables this model needs (e.g. {}): is it a checkpoint '
                              'of this model?'.format(one_line(path), len(missing), len(expected), missing[0]))
    for name, shape in sorted(expected.items()):
        if shape is not None and saved[name] != list(shape):
            raise TrainingStopped('{} does not match this model ({}: saved {}, now {}); use the settings (z_dim, '
                                  'channels) and the network code the run started with'.format(
                                      one_line(path), name, saved[name], list(shape)))


def non_finite_check(variables=None):
    """
    Build one check of all the floating-point variables at once (TensorFlow's check_numerics on each, grouped:
    two ops a variable where a check and a reduction of each took four)
    :param variables: The variables to watch (None: the default graph's global variables)
    :return: A function of a session: names of the watched variables holding NaN or infinity (one sess.run when
             all are finite; only when one is not, their values are read to name them)
    """
    variables = tf.global_variables() if variables is None else variables
    watched = [v for v in variables if v.dtype.base_dtype.is_floating]
    with tf.name_scope('non_finite_check'):
        check = tf.group(*[tf.debugging.check_numerics(v, v.op.name) for v in watched])

    def non_finite_variables(sess):
        try:
            sess.run(check)
            return []
        except tf.errors.InvalidArgumentError:  # check_numerics found NaN or infinity: which variables hold it
            return [v.op.name for v, value in zip(watched, sess.run(watched)) if not np.isfinite(value).all()]
    return non_finite_variables


def _checkpoint_bytes(prefix, graph):
    """
    :param prefix: Path prefix of a checkpoint, or None
    :return: Bytes its files take, or with None, the bytes of graph's global variables
    """
    if prefix:
        return sum(os.path.getsize(path) for path in glob.glob(glob.escape(prefix) + '.*'))
    return sum(v.dtype.base_dtype.size * (v.shape.num_elements() or 0)
               for v in graph.get_collection(tf.GraphKeys.GLOBAL_VARIABLES))


def _remove_partial_save(folder, prefix):
    """
    After a failed save: delete temporary files, and prefix's files unless they make a complete checkpoint
    (the failure came after them, writing the index file)
    """
    checkpoint_files.remove(folder, checkpoint_files.temporary_files(folder))
    if not os.path.isfile(prefix + '.index') or checkpoint_problem(prefix, finite=False):
        name, step = os.path.basename(prefix).rsplit('-', 1)
        checkpoint_files.remove(folder, checkpoint_files.files_by_checkpoint(folder).get((name, int(step)), []))


def _save_failed(err, folder, prefix, graph):
    """
    :param err: What the save raised
    :return: One line: what failed, what a checkpoint needs and what is free, the last good checkpoint
    """
    last = latest_checkpoint(folder)
    kept = 'the last good checkpoint is {}'.format(one_line(last)) if last else 'there is no good checkpoint yet'
    if isinstance(err, tf.errors.ResourceExhaustedError) or files.is_disk_full(err):
        return ('the disk is full: could not save {} (a checkpoint needs about {}; {} free); partial files removed, '
                '{}. Free some space, then {}'.format(one_line(prefix), files.size_text(_checkpoint_bytes(
                    last, graph)), files.size_text(shutil.disk_usage(folder).free), kept,
                    'resume' if last else 'start the run again'))
    return 'could not save {} ({}); partial files removed, {}'.format(one_line(prefix), error_line(err), kept)


def what_to_do_after_nan(output_dir):
    """
    :param output_dir: A run's output folder
    :return: What to do after NaN: resume from the newest usable checkpoint, or, with none, start again
    """
    last = latest_checkpoint(output_dir)
    if last:
        return 'the last good checkpoint is {}: lower the learning rate and resume from it'.format(one_line(last))
    return 'there is no checkpoint to resume from: lower the learning rate and start again'


def save_checkpoint(sess, saver, output_dir, step, keep, finite_check=None):
    """
    Save every variable (weights, Adam's moments, batch-norm averages, the averaged generator, the sample z,
    the step), then keep only the newest keep checkpoints of the run and list them in the index file
    :param saver: A tf.train.Saver of every variable (max_to_keep=None: keep_newest decides)
    :param finite_check: From non_finite_check(): refuse to save NaN or infinity
    :return: Path prefix of the checkpoint
    :raise TrainingStopped: variables are not finite; the disk is full or the write failed (partial files removed)
    """
    folder = os.path.join(output_dir, CHECKPOINT_FOLDER)
    prefix = os.path.join(folder, '{}-{}'.format(CHECKPOINT_NAME, step))
    os.makedirs(folder, exist_ok=True)
    checkpoint_files.remove_stale_temporary_files(folder)
    non_finite = finite_check(sess) if finite_check else []
    if non_finite:
        raise TrainingStopped('{} variable(s) hold NaN or infinity at step {} (e.g. {}): not saved; {}'
                              .format(len(non_finite), step, non_finite[0], what_to_do_after_nan(output_dir)))
    try:
        saver.save(sess, prefix, write_meta_graph=False, write_state=False)
    except (tf.errors.OpError, OSError) as err:
        _remove_partial_save(folder, prefix)
        raise TrainingStopped(_save_failed(err, folder, prefix, sess.graph)) from None
    try:
        checkpoint_files.keep_newest(folder, keep, saved=prefix)
    except OSError as err:  # rewriting the index file on a full disk; the checkpoint itself is complete
        raise TrainingStopped(_save_failed(err, folder, prefix, sess.graph)) from None
    return prefix


def saved_shapes(path):
    """:return: {name: shape as a list} of the variables a checkpoint holds, read by its path prefix (so a folder of
             the same name beside it, as an older version's generate left one, is not taken for the checkpoint)"""
    return tf.train.NewCheckpointReader(path).get_variable_to_shape_map()


def saved_names(path):
    """:return: The names of the variables a checkpoint holds"""
    return set(saved_shapes(path))


def restore(sess, path, variables, saver=None):
    """
    Restore a checkpoint into a session, its variables' shapes checked first (restoring does not check them)
    :param path: Path prefix of a usable checkpoint (find_checkpoint's)
    :param variables: {name in the checkpoint: variable to fill}
    :param saver: A tf.train.Saver of exactly these variables (None: one is made: the graph must not be finalized)
    :raise TrainingStopped: the checkpoint lacks a variable, holds one of another shape, or cannot be restored
    """
    check_variables(path, {name: var.shape.as_list() for name, var in variables.items()})
    try:
        (saver or tf.train.Saver(var_list=variables)).restore(sess, path)
    except tf.errors.OpError as err:
        raise TrainingStopped('cannot restore {}: {}'.format(one_line(path), error_line(err))) from None
