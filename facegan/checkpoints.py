"""
Checkpoints that survive a crash, a damaged file, a full disk and NaN: saving every variable under
the step's name and keeping the newest few, finding the newest usable one (each tensor read, so a
damaged file shows), and restoring it.
"""
import errno
import glob
import os
import re
import shutil
import sys

import numpy as np
from google.protobuf import text_format

from facegan import safe_files
from facegan.errors import TrainingStopped
from facegan.tensorflow_setup import import_tensorflow

tf = import_tensorflow()

CHECKPOINT_FOLDER = 'checkpoints'
CHECKPOINT_NAME = 'model'  # save_checkpoint writes checkpoints/model-STEP.index and .data-* files
KEEP_CHECKPOINTS = 3
# A checkpoint's own files: NAME-STEP.index, its data shards NAME-STEP.data-00000-of-00001, ..., a .meta graph
_CHECKPOINT_FILE = re.compile(r'^(?P<name>.+)-(?P<step>\d+)\.(?P<kind>index|data-\d+-of-\d+|meta)$')
# What a save killed part-way leaves: TensorFlow's NAME-STEP.data-*.tempstateN and .index.tempstateN files,
# a sharded Saver's NAME-STEP_temp folder, and the 'checkpoint' index file under a temporary name
# (safe_files.temp_path's checkpoint.tmp-PID-RANDOM; older versions wrote checkpoint.tmpHEX)
_TEMPORARY_FILE = re.compile(r'^(.+-\d+(\..+\.tempstate\d+|_temp)|checkpoint\.tmp-?[0-9a-f-]+)$')


def _checkpoints_folder(folder):
    """
    :param folder: A run's output folder or its checkpoints folder
    :return: The folder that holds the checkpoint files
    """
    inner = os.path.join(folder, CHECKPOINT_FOLDER)
    return inner if os.path.isdir(inner) else folder


def _files_by_checkpoint(folder):
    """
    :param folder: A checkpoints folder (missing: none)
    :return: {(name, step): [file names]} of the checkpoint files in it
    """
    found = {}
    for entry in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
        match = _CHECKPOINT_FILE.match(entry)
        if match:
            found.setdefault((match.group('name'), int(match.group('step'))), []).append(entry)
    return found


def checkpoint_prefixes(folder):
    """
    Find checkpoints by their files (NAME-STEP.index), whether or not the 'checkpoint' index file lists them
    :param folder: A checkpoints folder
    :return: Their path prefixes, the highest step first
    """
    found = _files_by_checkpoint(folder)
    complete = [(step, name) for (name, step), files in found.items() if '{}-{}.index'.format(name, step) in files]
    return [os.path.join(folder, '{}-{}'.format(name, step)) for step, name in sorted(complete, reverse=True)]


def _error_line(err):
    """
    :param err: An exception, TensorFlow's included (whose message starts with where the graph failed)
    :return: The line of its message that says what went wrong
    """
    lines = [line.strip() for line in str(getattr(err, 'message', None) or err).splitlines()]
    noise = ('Graph execution error', 'Detected at node', 'Node:', 'File "', '[[', 'Hint:', 'Original stack')
    useful = [line for line in lines if line and not line.startswith(noise)]
    return (useful or lines or [type(err).__name__])[0]


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
        return 'unreadable: {}'.format(_error_line(err))
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
        print('warning: skipped checkpoint {}; using {}'.format(_describe(skipped), used or 'none'), file=sys.stderr)


def latest_checkpoint(folder):
    """
    :param folder: A run's output folder or its checkpoints folder
    :return: Path prefix of the newest complete, readable checkpoint without NaN or infinity, or None;
             newer ones skipped are named in one warning line on stderr
    """
    path, skipped = _first_usable(checkpoint_prefixes(_checkpoints_folder(folder)))
    _warn_skipped(skipped, path)
    return path


def _strip_checkpoint_suffix(path):
    """:return: path without .index, .data-NNNNN-of-NNNNN or .meta, if it names one of a checkpoint's files"""
    match = _CHECKPOINT_FILE.match(os.path.basename(path))
    return path[:-len(match.group('kind')) - 1] if match else path


def find_checkpoint(path, hint="train first, or point at a run's output folder",
                    unusable_hint="train again in another output folder, or point at another run's"):
    """
    :param path: A run's output folder, its checkpoints folder, or a checkpoint's path prefix (or one of its files)
    :param hint: What to do when there is no checkpoint there
    :param unusable_hint: What to do when every checkpoint there is damaged (a new run in the same folder would
                          keep the damaged ones, of higher steps, and delete its own)
    :return: Path prefix of the newest complete, readable checkpoint without NaN or infinity there
    :raise TrainingStopped: none there, or none usable
    """
    if os.path.isdir(path):
        prefixes = checkpoint_prefixes(_checkpoints_folder(path))
    else:
        prefix = _strip_checkpoint_suffix(path)
        prefixes = [prefix] if os.path.isfile(prefix + '.index') else []
        if not prefixes and os.path.exists(path):
            raise TrainingStopped('{} is not a checkpoint (no {}.index beside it): {}'.format(path, prefix, hint))
    if not prefixes:
        raise TrainingStopped('no checkpoint in {}: {}'.format(path, hint))
    found, skipped = _first_usable(prefixes)
    if found is None:
        raise TrainingStopped('no usable checkpoint in {}: {}; {}'.format(path, _describe(skipped), unusable_hint))
    _warn_skipped(skipped, found)
    return found


def check_variables(path, expected):
    """
    :param path: Path prefix of a readable checkpoint
    :param expected: {variable name: shape as a list, or None for any shape}
    :raise TrainingStopped: a variable is missing from the checkpoint, or saved with another shape
    """
    saved = dict(tf.train.list_variables(path))
    missing = sorted(name for name in expected if name not in saved)
    if missing:
        raise TrainingStopped('{} lacks {} of the {} variables this model needs (e.g. {}): is it a checkpoint '
                              'of this model?'.format(path, len(missing), len(expected), missing[0]))
    for name, shape in sorted(expected.items()):
        if shape is not None and saved[name] != list(shape):
            raise TrainingStopped('{} does not match this model ({}: saved {}, now {}); use the options the run '
                                  'started with'.format(path, name, saved[name], list(shape)))


def _remove(folder, names):
    """Delete these files and folders of folder (already gone: fine)."""
    for name in names:
        path = os.path.join(folder, name)
        if os.path.isdir(path):
            shutil.rmtree(path, ignore_errors=True)
        elif os.path.lexists(path):
            os.remove(path)


def _temporary_files(folder):
    """:return: Names of what interrupted saves left in folder (see _TEMPORARY_FILE)"""
    return sorted(entry for entry in os.listdir(folder) if _TEMPORARY_FILE.match(entry)) if os.path.isdir(folder) \
        else []


def remove_stale_temporary_files(folder):
    """
    Delete what a save killed part-way (kill -9, a crash) left behind, saying so in one line on stderr
    :param folder: A checkpoints folder
    :return: Names of the files and folders removed
    """
    stale = _temporary_files(folder)
    if stale:
        _remove(folder, stale)
        print('removed {} temporary file(s) an interrupted save left in {}: {}'.format(len(stale), folder,
                                                                                       ', '.join(stale)),
              file=sys.stderr)
    return stale


def _write_checkpoint_index(folder, prefixes):
    """
    Rewrite the 'checkpoint' index file (under a temporary name, then renamed) to list these checkpoints
    :param prefixes: Path prefixes in folder, the newest first
    """
    names = [os.path.basename(prefix) for prefix in prefixes]
    state = tf.train.generate_checkpoint_state_proto(os.path.abspath(folder), names[0], names[::-1])
    text = text_format.MessageToString(state)

    def write(temporary):
        with open(temporary, 'w') as f:
            f.write(text)
    safe_files.write_atomically(os.path.join(folder, 'checkpoint'), write)


def keep_newest_checkpoints(folder, keep=KEEP_CHECKPOINTS, name=CHECKPOINT_NAME, saved=None):
    """
    Keep the keep NAME-STEP checkpoints with the highest steps, across runs and resumes, delete the other
    NAME-STEP files, and list the kept ones in the 'checkpoint' index file
    :param folder: A checkpoints folder
    :param keep: How many to keep, at least 1
    :param name: The checkpoints' name: others in the folder are left alone
    :param saved: Path prefix of the checkpoint just saved, kept whatever its step: a run resumed past damaged
                  checkpoints of higher steps would otherwise delete what it saved and keep them
    :return: Path prefixes of the checkpoints kept, the newest first (saved first)
    """
    if keep < 1:
        raise ValueError('keep must be at least 1, not {}'.format(keep))
    found = [prefix for prefix in checkpoint_prefixes(folder) if os.path.basename(prefix).rsplit('-', 1)[0] == name]
    kept = ([saved] if saved else []) + [prefix for prefix in found if prefix != saved]
    kept = kept[:keep]
    for (found_name, step), files in _files_by_checkpoint(folder).items():
        if found_name == name and os.path.join(folder, '{}-{}'.format(name, step)) not in kept:
            _remove(folder, files)
    if kept:
        _write_checkpoint_index(folder, kept)
    return kept


def non_finite_check(variables=None):
    """
    Build, while the graph can still grow, one op per floating-point variable telling whether all of it is finite
    :param variables: The variables to watch (None: the default graph's global variables)
    :return: A function of a session: names of the watched variables holding NaN or infinity (one sess.run)
    """
    variables = tf.global_variables() if variables is None else variables
    watched = [v for v in variables if v.dtype.base_dtype.is_floating]
    with tf.name_scope('non_finite_check'):
        finite = [tf.reduce_all(tf.is_finite(v)) for v in watched]

    def non_finite_variables(sess):
        return [v.op.name for v, ok in zip(watched, sess.run(finite)) if not ok]
    return non_finite_variables


def _size(n_bytes):
    """:return: A size for people: '0.4 kB', '170.2 MB', '82.8 GB'"""
    for unit, scale in (('GB', 1e9), ('MB', 1e6)):
        if n_bytes >= scale:
            return '{:.1f} {}'.format(n_bytes / scale, unit)
    return '{:.1f} kB'.format(n_bytes / 1e3)


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
    (the failure came after them, writing the 'checkpoint' index file)
    """
    _remove(folder, _temporary_files(folder))
    if not os.path.isfile(prefix + '.index') or checkpoint_problem(prefix, finite=False):
        name, step = os.path.basename(prefix).rsplit('-', 1)
        _remove(folder, _files_by_checkpoint(folder).get((name, int(step)), []))


def _save_failed(err, folder, prefix, graph):
    """
    :param err: What the save raised
    :return: One line: what failed, what a checkpoint needs and what is free, the last good checkpoint
    """
    last = latest_checkpoint(folder)
    kept = 'the last good checkpoint is {}'.format(last) if last else 'there is no good checkpoint yet'
    if isinstance(err, tf.errors.ResourceExhaustedError) or getattr(err, 'errno', None) == errno.ENOSPC \
            or 'No space left' in str(err):
        return ('the disk is full: could not save {} (a checkpoint needs about {}; {} free); partial files removed, '
                '{}. Free some space, then --resume'.format(prefix, _size(_checkpoint_bytes(last, graph)),
                                                            _size(shutil.disk_usage(folder).free), kept))
    return 'could not save {} ({}); partial files removed, {}'.format(prefix, _error_line(err), kept)


def lower_learning_rate(output_dir, kind):
    """
    :param output_dir: A run's output folder
    :param kind: What its usable checkpoints are called in the message: 'finite', 'good'
    :return: What to do after NaN: resume from the newest usable checkpoint, or, with none, start again
    """
    last = latest_checkpoint(output_dir)
    if last:
        return 'the last {} checkpoint is {}. Lower --learning-rate and --resume from it'.format(kind, last)
    return 'there is no {}checkpoint to resume from. Lower --learning-rate and start again'.format(
        'finite ' if kind == 'finite' else '')


def save_checkpoint(sess, saver, output_dir, step, *, keep=KEEP_CHECKPOINTS, finite_check=None):
    """
    Save every variable (weights, Adam's moments, batch-norm averages, the sample z, the step), then keep only
    the newest keep checkpoints in the folder (the Saver's max_to_keep forgets those of earlier runs)
    :param finite_check: From non_finite_check(), built with the graph: refuse to save NaN or infinity
    :return: Path prefix of the checkpoint
    :raise TrainingStopped: variables are not finite; the disk is full or the write failed (partial files removed)
    """
    folder = os.path.join(output_dir, CHECKPOINT_FOLDER)
    prefix = os.path.join(folder, '{}-{}'.format(CHECKPOINT_NAME, step))
    os.makedirs(folder, exist_ok=True)
    remove_stale_temporary_files(folder)
    non_finite = finite_check(sess) if finite_check else []
    if non_finite:
        raise TrainingStopped('{} variable(s) hold NaN or infinity at step {} (e.g. {}): not saved; {}'
                              .format(len(non_finite), step, non_finite[0], lower_learning_rate(output_dir, 'finite')))
    try:
        path = saver.save(sess, os.path.join(folder, CHECKPOINT_NAME), global_step=step, write_meta_graph=False)
    except (tf.errors.OpError, OSError) as err:
        _remove_partial_save(folder, prefix)
        raise TrainingStopped(_save_failed(err, folder, prefix, sess.graph)) from None
    try:
        keep_newest_checkpoints(folder, keep, saved=prefix)
    except OSError as err:  # rewriting the index file on a full disk; the checkpoint itself is complete
        raise TrainingStopped(_save_failed(err, folder, prefix, sess.graph)) from None
    return path


def restore_or_initialize(sess, saver, output_dir, resume):
    """
    Start a run: remove what an interrupted save left, then restore the newest usable checkpoint or initialize
    :param resume: Continue from the newest usable checkpoint in output_dir (or, a path: from that checkpoint)
    :return: The step to continue from (0 for a new run)
    :raise TrainingStopped: no usable checkpoint, or one of another model
    """
    remove_stale_temporary_files(os.path.join(output_dir, CHECKPOINT_FOLDER))
    if not resume:
        sess.run(tf.global_variables_initializer())
        return 0
    path = find_checkpoint(resume if isinstance(resume, str) else output_dir, hint='train without --resume first',
                           unusable_hint='train without --resume, with another --output-dir')
    # Restoring does not check shapes, so compare them first (say, another --z-dim)
    variables = sess.graph.get_collection(tf.GraphKeys.GLOBAL_VARIABLES)
    check_variables(path, {v.op.name: v.shape.as_list() for v in variables})
    try:
        saver.restore(sess, path)
    except tf.errors.OpError as err:
        raise TrainingStopped('cannot restore {}: {}'.format(path, _error_line(err))) from None
    return int(sess.run(tf.train.get_global_step(sess.graph)))
