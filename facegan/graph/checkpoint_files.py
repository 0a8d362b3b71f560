"""
A run's checkpoints as files, needing no TensorFlow: their names (checkpoints/model-STEP.index and
.data-* files), the 'checkpoint' index file that lists them (written by each save, the newest last),
which ones to keep, and what a save killed part-way leaves behind. Checkpoints are found by what
the index file lists, not by the highest step in a file name; only a folder without a readable
index file is read by its files.
"""
import os
import re
import shutil
import sys

from facegan.core import files
from facegan.core.errors import TrainingStopped, one_line

CHECKPOINT_FOLDER = 'checkpoints'
CHECKPOINT_NAME = 'model'  # a save writes checkpoints/model-STEP.index and .data-* files
INDEX_FILE = 'checkpoint'  # the index file's name, as TensorFlow names it
# A checkpoint's own files: NAME-STEP.index, its data shards NAME-STEP.data-00000-of-00001, ..., a .meta graph
_CHECKPOINT_FILE = re.compile(r'^(?P<name>.+)-(?P<step>\d+)\.(?P<kind>index|data-\d+-of-\d+|meta)$')
# What TensorFlow leaves when a save is killed part-way: NAME-STEP.data-*.tempstateN and .index.tempstateN
# files, and a sharded save's NAME-STEP_temp folder (the index file's temporary names are files.temp_path's)
_TENSORFLOW_TEMPORARY = re.compile(r'^.+-\d+(\..+\.tempstate\d+|_temp)$')
# A line of the index file: a field and a quoted path
_INDEX_LINE = re.compile(r'^(model_checkpoint_path|all_model_checkpoint_paths): "([^"\\]*)"$')


RESUME_HINT = 'train it first, without resuming'  # what to do when a run to resume has no checkpoint


def no_checkpoint(path, hint):
    """:return: The error that stops a run or a command when path holds no checkpoint, saying what to do (hint)"""
    return TrainingStopped('no checkpoint in {}: {}'.format(one_line(path), hint))


def checkpoints_folder(folder):
    """
    :param folder: A run's output folder or its checkpoints folder
    :return: The folder that holds the checkpoint files
    """
    inner = os.path.join(folder, CHECKPOINT_FOLDER)
    return inner if os.path.isdir(inner) else folder


def files_by_checkpoint(folder):
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


def strip_suffix(path):
    """:return: path without .index, .data-NNNNN-of-NNNNN or .meta, if it names one of a checkpoint's files"""
    match = _CHECKPOINT_FILE.match(os.path.basename(path))
    return path[:-len(match.group('kind')) - 1] if match else path


def step_of(prefix):
    """:return: The step in a checkpoint's name (model-STEP), or None"""
    match = re.search(r'-(\d+)$', prefix)
    return int(match.group(1)) if match else None


def read_index(folder):
    """
    :param folder: A checkpoints folder
    :return: The names the index file lists, the oldest first and the newest last; None when there is no
             index file, or it is not one (a damaged line, no newest named)
    """
    try:
        with open(os.path.join(folder, INDEX_FILE), encoding='utf-8') as f:
            lines = [line.strip() for line in f if line.strip()]
    except (OSError, UnicodeDecodeError):
        return None
    matches = [_INDEX_LINE.match(line) for line in lines]
    if not lines or not all(matches):
        return None
    newest = [m.group(2) for m in matches if m.group(1) == 'model_checkpoint_path']
    listed = [os.path.basename(m.group(2)) for m in matches if m.group(1) == 'all_model_checkpoint_paths']
    if len(newest) != 1:
        return None
    newest = os.path.basename(newest[0])  # TensorFlow's Saver writes absolute paths: a moved folder's still hold
    return [name for name in listed if name != newest] + [newest]


def _present(folder):
    """:return: {name-step} of the checkpoints in a checkpoints folder whose .index file is there"""
    return {'{}-{}'.format(name, step) for (name, step), names in files_by_checkpoint(folder).items()
            if '{}-{}.index'.format(name, step) in names}


def has_checkpoint(folder):
    """:return: Whether a run's output folder (or its checkpoints folder) holds a checkpoint to resume from or try"""
    return bool(_present(checkpoints_folder(folder)))


def _listed(folder):
    """
    :return: (path prefixes of the checkpoints whose .index file is there, the newest first: those the index
             file lists, or without a readable one, all, the highest step first; whether the index file listed them)
    """
    listed = read_index(folder)
    present = _present(folder)
    if listed is not None:
        return [os.path.join(folder, name) for name in reversed(listed) if name in present], True
    return [os.path.join(folder, name) for name in sorted(present, key=step_of, reverse=True)], False


def listed_checkpoints(folder):
    """
    The checkpoints to try, the newest first: those the index file lists whose .index file is there; without
    a readable index file (a folder saved by hand, or one whose index a crash damaged), those found by their
    files, the highest step first, with one note saying so
    :param folder: A checkpoints folder
    :return: Their path prefixes, the newest first
    """
    prefixes, from_index = _listed(folder)
    if prefixes and not from_index:
        print('note: {} has no readable checkpoint index file: its checkpoints are taken by their steps'
              .format(one_line(folder)), file=sys.stderr)
    return prefixes


def write_index(folder, prefixes):
    """
    Write the index file (under a temporary name, then renamed) to list these checkpoints, by their names
    alone, so that the folder can be moved
    :param prefixes: Path prefixes in folder, the newest first
    """
    names = [os.path.basename(prefix) for prefix in prefixes]
    text = 'model_checkpoint_path: "{}"\n'.format(names[0]) + ''.join(
        'all_model_checkpoint_paths: "{}"\n'.format(name) for name in reversed(names))

    def write(temporary):
        with open(temporary, 'w', encoding='utf-8') as f:
            f.write(text)
    files.write_atomically(os.path.join(folder, INDEX_FILE), write)


def remove(folder, names):
    """Delete these files and folders of folder (already gone: fine)."""
    for name in names:
        path = os.path.join(folder, name)
        if os.path.isdir(path):
            shutil.rmtree(path, ignore_errors=True)
        elif os.path.lexists(path):
            os.remove(path)


def keep_newest(folder, keep, saved):
    """
    Keep the checkpoint just saved and the newest others the index file lists (without a readable index
    file, the highest steps), keep in all; delete the other NAME-STEP files (a checkpoint the index does
    not list belongs to no save of this run); list the kept ones in the index file
    :param folder: A checkpoints folder
    :param keep: How many to keep, at least 1
    :param saved: Path prefix of the checkpoint just saved, kept whatever its step
    :return: Path prefixes of the checkpoints kept, the newest first (saved first)
    """
    if keep < 1:
        raise ValueError('keep must be at least 1, not {}'.format(keep))
    kept = ([saved] + [prefix for prefix in _listed(folder)[0] if prefix != saved])[:keep]
    for (name, step), names in files_by_checkpoint(folder).items():
        if os.path.join(folder, '{}-{}'.format(name, step)) not in kept:
            remove(folder, names)
    write_index(folder, kept)
    return kept


def temporary_files(folder):
    """:return: Names of what interrupted saves left in folder: TensorFlow's temporary files, and the index file's"""
    return sorted(entry for entry in os.listdir(folder) if _TENSORFLOW_TEMPORARY.match(entry)
                  or (files.is_temporary(entry) and files.without_temporary_suffix(entry) == INDEX_FILE)) \
        if os.path.isdir(folder) else []


def remove_stale_temporary_files(folder):
    """
    Delete what a save killed part-way (kill -9, a crash) left behind, saying so in one line on stderr
    :param folder: A checkpoints folder
    :return: Names of the files and folders removed
    """
    stale = temporary_files(folder)
    if stale:
        remove(folder, stale)
        print('note: removed {} temporary file(s) an interrupted save left in {}: {}'.format(
            len(stale), one_line(folder), one_line(', '.join(stale))), file=sys.stderr)
    return stale
