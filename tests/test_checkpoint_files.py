"""
facegan/graph/checkpoint_files.py, on files a test writes (no TensorFlow): checkpoints' names, the 'checkpoint'
index file (read, written, damaged), which checkpoints are kept, and what an interrupted save leaves.
"""
import ast
import os
import re
import subprocess
import sys

import pytest
from hypothesis import given, strategies as st

from conftest import GUARD_SECONDS, ROOT, child_env
from facegan.core import errors
from facegan.graph import checkpoint_files as cf

DATA = '.data-00000-of-00001'


def _checkpoint(folder, step, name='model', meta=False):
    """Write a checkpoint's files as a save does: NAME-STEP.index and its data shard (and .meta). :return: prefix"""
    prefix = os.path.join(str(folder), '{}-{}'.format(name, step))
    for suffix in ('.index', DATA) + (('.meta',) if meta else ()):
        with open(prefix + suffix, 'w') as f:
            f.write('{} {}'.format(name, step))
    return prefix


def _index(folder, newest, listed):
    """Write an index file as TensorFlow's Saver does: the newest, then every kept one, oldest first."""
    with open(os.path.join(str(folder), 'checkpoint'), 'w') as f:
        f.write('model_checkpoint_path: "{}"\n'.format(newest))
        f.writelines('all_model_checkpoint_paths: "{}"\n'.format(name) for name in listed)


# --- names --------------------------------------------------------------------------------------

def test_the_checkpoints_folder_of_a_run_or_of_itself(tmp_path):
    assert cf.checkpoints_folder(str(tmp_path)) == str(tmp_path)
    (tmp_path / 'checkpoints').mkdir()
    assert cf.checkpoints_folder(str(tmp_path)) == str(tmp_path / 'checkpoints')
    (tmp_path / 'other' / 'checkpoints').mkdir(parents=True)
    (tmp_path / 'other' / 'checkpoints' / 'checkpoints').write_text('a file, not a folder')
    assert cf.checkpoints_folder(str(tmp_path / 'other' / 'checkpoints')) == str(tmp_path / 'other' / 'checkpoints')


def test_no_checkpoint_is_a_stop_naming_the_path_on_one_line_and_what_to_do():
    err = cf.no_checkpoint('runs/a\nb', 'train first')
    assert isinstance(err, errors.TrainingStopped)
    assert str(err) == 'no checkpoint in runs/a\\nb: train first'


def test_files_are_grouped_by_checkpoint(tmp_path):
    _checkpoint(tmp_path, 5, meta=True)
    _checkpoint(tmp_path, 12)
    _checkpoint(tmp_path, 3, name='other-run')
    for name in ('checkpoint', 'model-7.index.tempstate123', 'model-8.txt', 'model.index', 'notes.txt',
                 'model-x.index', 'model-9.data-0-of-1x'):
        (tmp_path / name).write_text('x')
    (tmp_path / 'model-6.data-00000-of-00002').write_text('x')
    (tmp_path / 'model-6.data-00001-of-00002').write_text('x')
    assert cf.files_by_checkpoint(str(tmp_path)) == {
        ('model', 5): ['model-5.data-00000-of-00001', 'model-5.index', 'model-5.meta'],
        ('model', 6): ['model-6.data-00000-of-00002', 'model-6.data-00001-of-00002'],
        ('model', 12): ['model-12.data-00000-of-00001', 'model-12.index'],
        ('other-run', 3): ['other-run-3.data-00000-of-00001', 'other-run-3.index']}


def test_a_missing_folder_has_no_checkpoints(tmp_path):
    assert cf.files_by_checkpoint(str(tmp_path / 'missing')) == {}
    (tmp_path / 'a_file').write_text('x')
    assert cf.files_by_checkpoint(str(tmp_path / 'a_file')) == {}


@pytest.mark.parametrize('path,prefix', [
    ('run/checkpoints/model-5.index', 'run/checkpoints/model-5'),
    ('run/checkpoints/model-5' + DATA, 'run/checkpoints/model-5'),
    ('model-5.data-00003-of-00004', 'model-5'),
    ('model-5.meta', 'model-5'),
    ('run/checkpoints/model-5', 'run/checkpoints/model-5'),
    ('run/faces.png', 'run/faces.png'),
    ('model-5.index.tempstate1', 'model-5.index.tempstate1'),
])
def test_a_checkpoint_files_suffix_is_taken_off(path, prefix):
    assert cf.strip_suffix(path) == prefix


@pytest.mark.parametrize('prefix,step', [('model-12', 12), ('run/model-3', 3), ('model-0', 0), ('my-model-7', 7),
                                         ('model', None), ('model-3x', None), ('model-', None)])
def test_the_step_of_a_checkpoint(prefix, step):
    assert cf.step_of(prefix) == step


# --- the index file -----------------------------------------------------------------------------

def test_the_index_file_round_trips_newest_last(tmp_path):
    prefixes = [os.path.join(str(tmp_path), name) for name in ('model-9', 'model-4', 'model-6')]  # newest first
    cf.write_index(str(tmp_path), prefixes)
    assert cf.read_index(str(tmp_path)) == ['model-6', 'model-4', 'model-9']
    assert os.listdir(str(tmp_path)) == ['checkpoint']  # written under a temporary name, then renamed


def test_the_index_file_is_tensorflows_text_format_with_names_alone(tmp_path):
    cf.write_index(str(tmp_path), [os.path.join(str(tmp_path), 'model-6'), os.path.join(str(tmp_path), 'model-4')])
    assert (tmp_path / 'checkpoint').read_text() == ('model_checkpoint_path: "model-6"\n'
                                                     'all_model_checkpoint_paths: "model-4"\n'
                                                     'all_model_checkpoint_paths: "model-6"\n')


@given(st.lists(st.from_regex(r'[a-z_]{1,8}-[0-9]{1,5}', fullmatch=True), min_size=1, max_size=6, unique=True))
def test_any_list_of_checkpoints_round_trips(tmp_path_factory, names):
    folder = str(tmp_path_factory.mktemp('checkpoints'))
    cf.write_index(folder, [os.path.join(folder, name) for name in names])
    assert cf.read_index(folder) == list(reversed(names))


def test_tensorflows_absolute_paths_are_read_as_names(tmp_path):
    """A folder moved since: the names still hold."""
    _index(tmp_path, '/elsewhere/run/checkpoints/model-6', ['/elsewhere/run/checkpoints/model-5',
                                                            '/elsewhere/run/checkpoints/model-6'])
    assert cf.read_index(str(tmp_path)) == ['model-5', 'model-6']


def test_the_newest_is_last_wherever_the_file_lists_it(tmp_path):
    (tmp_path / 'checkpoint').write_text('all_model_checkpoint_paths: "model-6"\n\n  model_checkpoint_path: "model-6"  \n'
                                         'all_model_checkpoint_paths: "model-4"\n')
    assert cf.read_index(str(tmp_path)) == ['model-4', 'model-6']


def test_an_index_listing_only_the_newest_gives_it(tmp_path):
    (tmp_path / 'checkpoint').write_text('model_checkpoint_path: "model-2"\n')
    assert cf.read_index(str(tmp_path)) == ['model-2']


@pytest.mark.parametrize('content', [
    b'',
    b'\n \n',
    b'model_checkpoint_path: "model-6"\nall_model_checkpoint_paths: "model-5\n',  # a line cut short
    b'model_checkpoint_path: "model-6"\nall_model_checkpoint_paths: "model-\x005"\n'[:40] + b'\x00' * 8,
    b'all_model_checkpoint_paths: "model-5"\n',  # no newest named
    b'model_checkpoint_path: "model-6"\nmodel_checkpoint_path: "model-7"\n',  # two
    b'model_checkpoint_path: "model-6"\nsomething_else: "model-5"\n',
    b'model_checkpoint_path: "model-\\"6"\n',
    b'model_checkpoint_path: "model-6"\x00\n',
    b'model_checkpoint_path: "model-\xff"\n',  # not UTF-8
    b'model_checkpoint_path: model-6\n',
], ids=['empty', 'blank', 'cut', 'nul-bytes', 'no-newest', 'two-newest', 'other-field', 'escaped-quote',
        'trailing-nul', 'not-utf8', 'unquoted'])
def test_a_damaged_index_file_is_no_index(tmp_path, content):
    (tmp_path / 'checkpoint').write_bytes(content)
    assert cf.read_index(str(tmp_path)) is None


_IN_A_C_LOCALE = """
import os, sys
sys.path.insert(0, {root!r})
from facegan.graph import checkpoint_files as cf
folder = {folder!r}
with open(os.path.join(folder, 'checkpoint'), 'w', encoding='utf-8') as f:
    f.write('model_checkpoint_path: "/home/jos\\u00e9/run/model-6"\\n'
            'all_model_checkpoint_paths: "/home/jos\\u00e9/run/model-5"\\n')
print(cf.read_index(folder))
cf.write_index(folder, [os.path.join(folder, 'mod\\u00e8le-7')])
print(open(os.path.join(folder, 'checkpoint'), 'rb').read())
"""


def test_the_index_file_is_utf8_whatever_the_locale(tmp_path):
    """TensorFlow writes the index in UTF-8: a run under /home/josé/ read and written in a C locale, UTF-8 mode off."""
    cf.write_index(str(tmp_path), [str(tmp_path / 'mod\u00e8le-7')])  # here, and in a process of a C locale:
    assert cf.read_index(str(tmp_path)) == ['mod\u00e8le-7']
    result = subprocess.run([sys.executable, '-c', _IN_A_C_LOCALE.format(root=ROOT, folder=str(tmp_path))],
                            capture_output=True, text=True, timeout=GUARD_SECONDS, env=child_env(PYTHONUTF8='0'))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "['model-5', 'model-6']",
        repr('model_checkpoint_path: "mod\u00e8le-7"\nall_model_checkpoint_paths: "mod\u00e8le-7"\n'.encode())]


def test_no_index_file_or_one_that_cannot_be_read_is_no_index(tmp_path):
    assert cf.read_index(str(tmp_path)) is None
    (tmp_path / 'checkpoint').mkdir()
    assert cf.read_index(str(tmp_path)) is None


# --- the checkpoints to try -----------------------------------------------------------------------

def test_the_checkpoints_the_index_lists_are_tried_newest_first_not_by_step(tmp_path, capsys):
    """The index's newest is the one the run saved last, though a checkpoint of a higher step is there."""
    for step in (3, 5, 8, 10):
        _checkpoint(tmp_path, step)
    _index(tmp_path, 'model-5', ['model-8', 'model-3', 'model-5'])
    assert cf.listed_checkpoints(str(tmp_path)) == [str(tmp_path / name) for name in ('model-5', 'model-3', 'model-8')]
    assert capsys.readouterr().err == ''


def test_a_listed_checkpoint_whose_index_file_is_gone_is_not_tried(tmp_path, capsys):
    _checkpoint(tmp_path, 4)
    os.remove(_checkpoint(tmp_path, 5) + '.index')
    _index(tmp_path, 'model-5', ['model-4', 'model-5', 'model-6'])
    assert cf.listed_checkpoints(str(tmp_path)) == [str(tmp_path / 'model-4')]
    _index(tmp_path, 'model-5', ['model-5'])
    assert cf.listed_checkpoints(str(tmp_path)) == []  # the index says what there is: nothing usable, no note
    assert capsys.readouterr().err == ''


@pytest.mark.parametrize('index', [None, b'model_checkpoint_path: "model-\n'], ids=['no-index', 'damaged-index'])
def test_without_a_readable_index_the_checkpoints_are_taken_by_step_with_one_note(tmp_path, capsys, index):
    for step in (2, 10, 9):
        _checkpoint(tmp_path, step)
    os.remove(_checkpoint(tmp_path, 11) + '.index')  # a data file alone is no checkpoint
    if index is not None:
        (tmp_path / 'checkpoint').write_bytes(index)
    assert cf.listed_checkpoints(str(tmp_path)) == [str(tmp_path / name) for name in ('model-10', 'model-9', 'model-2')]
    assert capsys.readouterr().err == ('note: {} has no readable checkpoint index file: its checkpoints are taken by '
                                       'their steps\n'.format(tmp_path))


def test_an_empty_folder_has_nothing_to_try_and_says_nothing(tmp_path, capsys):
    assert cf.listed_checkpoints(str(tmp_path)) == []
    assert cf.listed_checkpoints(str(tmp_path / 'missing')) == []
    assert capsys.readouterr().err == ''


@pytest.mark.parametrize('inside', [True, False], ids=['a run folder', 'its checkpoints folder'])
def test_a_folder_has_a_checkpoint_once_one_has_its_index_file_without_a_note(inside, tmp_path, capsys):
    run = tmp_path / 'run'
    held = run / 'checkpoints' if inside else run
    assert not cf.has_checkpoint(str(run))  # missing
    held.mkdir(parents=True)
    (held / 'model-3.data-00000-of-00001').write_text('a save cut short before its index file')
    (held / 'model-3.meta').write_text('')
    _index(held, 'model-3', ['model-3'])
    assert not cf.has_checkpoint(str(run))
    (held / 'model-3.index').write_text('')
    (held / 'checkpoint').unlink()  # found by its files, as resuming would find it
    assert cf.has_checkpoint(str(run)) and cf.has_checkpoint(str(held))
    assert capsys.readouterr().err == ''


# --- keeping the newest ---------------------------------------------------------------------------

def test_keep_newest_keeps_the_saved_one_and_the_newest_the_index_lists(tmp_path):
    for step in (1, 2, 3, 4):
        _checkpoint(tmp_path, step)
    _index(tmp_path, 'model-3', ['model-1', 'model-2', 'model-3'])
    saved = _checkpoint(tmp_path, 4)  # just saved: not listed yet
    kept = cf.keep_newest(str(tmp_path), 3, saved)
    assert kept == [str(tmp_path / name) for name in ('model-4', 'model-3', 'model-2')]
    assert sorted(os.listdir(str(tmp_path))) == ['checkpoint'] + sorted(
        'model-{}{}'.format(step, suffix) for step in (2, 3, 4) for suffix in ('.index', DATA))
    assert cf.read_index(str(tmp_path)) == ['model-2', 'model-3', 'model-4']


def test_keep_newest_deletes_checkpoints_the_index_does_not_list_whatever_their_step(tmp_path):
    """A higher step left by another run in the folder belongs to no save of this run."""
    _checkpoint(tmp_path, 99)
    _checkpoint(tmp_path, 50, name='elsewhere')
    (tmp_path / 'notes.txt').write_text('mine')
    _checkpoint(tmp_path, 1)
    _index(tmp_path, 'model-1', ['model-1'])
    saved = _checkpoint(tmp_path, 2)
    assert cf.keep_newest(str(tmp_path), 5, saved) == [saved, str(tmp_path / 'model-1')]
    assert sorted(os.listdir(str(tmp_path))) == ['checkpoint', 'model-1' + DATA, 'model-1.index', 'model-2' + DATA,
                                                 'model-2.index', 'notes.txt']


def test_keep_newest_without_an_index_keeps_the_highest_steps(tmp_path, capsys):
    for step in (1, 5, 3):
        _checkpoint(tmp_path, step)
    saved = _checkpoint(tmp_path, 2)  # a resumed run saves a lower step than a damaged later one
    assert cf.keep_newest(str(tmp_path), 2, saved) == [saved, str(tmp_path / 'model-5')]
    assert cf.read_index(str(tmp_path)) == ['model-5', 'model-2']
    assert [line for line in capsys.readouterr().err.splitlines()] == []  # keeping the newest says nothing


def test_keep_one_keeps_the_saved_one_alone(tmp_path):
    _checkpoint(tmp_path, 1)
    saved = _checkpoint(tmp_path, 2)
    _index(tmp_path, 'model-1', ['model-1'])
    assert cf.keep_newest(str(tmp_path), 1, saved) == [saved]
    assert sorted(os.listdir(str(tmp_path))) == ['checkpoint', 'model-2' + DATA, 'model-2.index']


def test_keep_newest_needs_one_to_keep(tmp_path):
    saved = _checkpoint(tmp_path, 1)
    with pytest.raises(ValueError, match='^keep must be at least 1, not 0$'):
        cf.keep_newest(str(tmp_path), 0, saved)
    assert sorted(os.listdir(str(tmp_path))) == ['model-1' + DATA, 'model-1.index']


def test_keep_newest_deletes_a_checkpoints_sharded_folder_too(tmp_path):
    saved = _checkpoint(tmp_path, 2)
    (tmp_path / 'model-1.data-00000-of-00001').mkdir()  # whatever a file of that name is
    (tmp_path / 'model-1.data-00000-of-00001' / 'x').write_text('x')
    cf.keep_newest(str(tmp_path), 3, saved)
    assert sorted(os.listdir(str(tmp_path))) == ['checkpoint', 'model-2' + DATA, 'model-2.index']


def test_a_folder_that_cannot_be_wholly_removed_does_not_stop_the_cleaning(tmp_path, stuck, capsys):
    """A file inside a sharded save's folder that cannot be removed (a network file system keeps it)."""
    (tmp_path / 'model-5_temp').mkdir()
    (tmp_path / 'model-5_temp' / 'stuck').write_text('x')
    (tmp_path / 'checkpoint.tmp-1-0a1b2c3d').write_text('x')
    assert cf.remove_stale_temporary_files(str(tmp_path)) == ['checkpoint.tmp-1-0a1b2c3d', 'model-5_temp']
    assert os.listdir(str(tmp_path)) == ['model-5_temp']
    assert 'removed 2 temporary file(s)' in capsys.readouterr().err


def test_remove_deletes_files_and_folders_and_what_is_gone_is_fine(tmp_path):
    (tmp_path / 'a').write_text('x')
    (tmp_path / 'b').mkdir()
    (tmp_path / 'b' / 'c').write_text('x')
    os.symlink(str(tmp_path / 'nowhere'), str(tmp_path / 'dangling'))
    cf.remove(str(tmp_path), ['a', 'b', 'gone', 'dangling'])
    assert os.listdir(str(tmp_path)) == []


# --- what an interrupted save leaves --------------------------------------------------------------

def test_what_interrupted_saves_left_is_found_and_nothing_else(tmp_path):
    left = ['checkpoint.tmp-77-0a1b2c3d', 'checkpoint.tmpfd11b9979aa843318334f3651bb8d987',
            'model-5.data-00000-of-00001.tempstate1248466144390351060', 'model-5.index.tempstate8609270055886370178',
            'model-5_temp']
    kept = ['checkpoint', 'model-5.index', 'model-5' + DATA, 'notes.tmp-77-0a1b2c3d', 'run.json.tmp-1-0a1b2c3d',
            'model_temp', 'model-5_temp.txt', 'model-5.index.tempstate', 'notes.txt']
    for name in left[:-1] + kept:
        (tmp_path / name).write_text('x')
    (tmp_path / 'model-5_temp').mkdir()
    (tmp_path / 'model-5_temp' / 'part-00000-of-00001.data-00000-of-00001.tempstate1').write_text('x')
    assert cf.temporary_files(str(tmp_path)) == sorted(left)
    assert cf.temporary_files(str(tmp_path / 'missing')) == []


def test_stale_temporary_files_are_removed_saying_so_in_one_line(tmp_path, capsys):
    (tmp_path / 'model-5_temp').mkdir()
    (tmp_path / 'model-5_temp' / 'part').write_text('x')
    (tmp_path / 'checkpoint.tmp-1-0a1b2c3d').write_text('x')
    (tmp_path / 'model-4.index').write_text('x')
    assert cf.remove_stale_temporary_files(str(tmp_path)) == ['checkpoint.tmp-1-0a1b2c3d', 'model-5_temp']
    assert os.listdir(str(tmp_path)) == ['model-4.index']
    assert capsys.readouterr().err == ('note: removed 2 temporary file(s) an interrupted save left in {}: '
                                       'checkpoint.tmp-1-0a1b2c3d, model-5_temp\n'.format(tmp_path))
    assert cf.remove_stale_temporary_files(str(tmp_path)) == []
    assert capsys.readouterr().err == ''


def flags_named(module):
    """
    :param module: A module of the package
    :return: Its string constants (its messages, docstrings left out) that name a command-line flag ('--resume')
    """
    with open(module.__file__, encoding='utf-8') as f:
        tree = ast.parse(f.read())
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr)}
    return [node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)
            and id(node) not in docstrings and re.search(r'--[a-z]', node.value)]


def test_flags_named_finds_a_flag_in_a_message_and_not_in_a_docstring():
    from facegan.app import command_line  # the command line's own messages name its flags
    assert '--data-dir {} is not a folder: point it at a folder of images' in flags_named(command_line)
    assert flags_named(cf) == []  # its docstrings may say --resume; its messages do not
