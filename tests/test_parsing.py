"""
The command line without TensorFlow: the three parsers (facegan/app/parsing.py; each bad value one line and exit
code 2, defaults from RunConfig) and what facegan/app/command_line.py makes of them (parse: the command, the
output folders checked, the combinations refused; Flags; naming a flag in an error).
"""
import argparse
import dataclasses
import errno
import os
import re
import subprocess
import sys
import types

import pytest
from hypothesis import given, strategies as st

from conftest import child_env
from facegan.app import command_line, parsing
from facegan.core import run_config
from facegan.core.errors import DatasetError, SettingChanged, TrainingStopped, UserError
from facegan.core.run_config import RunConfig
from facegan.data import datasets

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _refused(capsys, parser, argv):
    """:return: The one line a parser prints when it refuses argv (with exit code 2)"""
    with pytest.raises(SystemExit) as stopped:
        parser.parse_args(argv)
    err = capsys.readouterr().err
    assert stopped.value.code == 2 and err.count('\n') == 1, err
    return err.rstrip('\n')


# --- the value checks -----------------------------------------------------------------------------

def int_in(*limits):
    """:return: A factory of the check parsing.int_in(*limits) makes, called in the test (not at its collection)"""
    return lambda: parsing.int_in(*limits)


def as_is(check):
    return lambda: check


@pytest.mark.parametrize('check,text,value', [
    (as_is(parsing.positive_int), '1', 1), (as_is(parsing.positive_int), '64', 64), (int_in(0), '0', 0),
    (int_in(1), '1', 1), (int_in(2, 5), '5', 5), (int_in(2, 5), '2', 2), (int_in(2, 5), '4', 4),
    (as_is(parsing.seed), str(2 ** 32 - 1), 2 ** 32 - 1), (int_in(0, 2 ** 32 - 1), str(2 ** 32 - 1), 2 ** 32 - 1),
    (as_is(parsing.positive_float), '0.0005', 0.0005), (as_is(parsing.positive_float), '1e-9', 1e-9),
    (as_is(parsing.fraction), '0', 0.0), (as_is(parsing.fraction), '0.999', 0.999),
])
def test_values_in_range_are_taken(check, text, value):
    assert check()(text) == value and type(check()(text)) is type(value)


@pytest.mark.parametrize('check,text,message', [
    (as_is(parsing.positive_int), '0', 'must be at least 1, got 0'),
    (int_in(1), '-3', 'must be at least 1, got -3'),
    (int_in(1), '2.5', "expected a whole number, got '2.5'"),
    (int_in(1), 'ten', "expected a whole number, got 'ten'"),
    (int_in(2, 5), '6', 'must be from 2 to 5, got 6'),
    (int_in(2, 5), '1', 'must be from 2 to 5, got 1'),
    (int_in(0, 2 ** 32 - 1), str(2 ** 32), 'must be from 0 to 4294967295, got 4294967296'),
    (as_is(parsing.seed), '-1', 'must be from 0 to 4294967295, got -1'),
    (as_is(parsing.positive_float), '0', 'must be a number above 0, got 0'),
    (as_is(parsing.positive_float), '-0.1', 'must be a number above 0, got -0.1'),
    (as_is(parsing.positive_float), 'nan', 'must be a number above 0, got nan'),
    (as_is(parsing.positive_float), 'inf', 'must be a number above 0, got inf'),
    (as_is(parsing.positive_float), 'fast', "expected a number, got 'fast'"),
    (as_is(parsing.fraction), '1', 'must be in [0, 1), got 1'),
    (as_is(parsing.fraction), '-0.5', 'must be in [0, 1), got -0.5'),
    (as_is(parsing.fraction), 'nan', 'must be in [0, 1), got nan'),
    (as_is(parsing.fraction), 'half', "expected a number, got 'half'"),
])
def test_values_out_of_range_are_refused_saying_what_was_expected(check, text, message):
    with pytest.raises(argparse.ArgumentTypeError) as err:
        check()(text)
    assert str(err.value) == message
    assert err.value.__suppress_context__ or err.value.__context__ is None  # no "During handling..." chain


def test_the_largest_seed_is_numpys():
    assert parsing.MAX_SEED == 2 ** 32 - 1


@given(st.integers(-10 ** 12, 10 ** 12))
def test_a_seed_is_any_whole_number_numpy_takes(value):
    if 0 <= value <= parsing.MAX_SEED:
        assert parsing.seed(str(value)) == value
    else:
        with pytest.raises(argparse.ArgumentTypeError):
            parsing.seed(str(value))


# --- the parsers ------------------------------------------------------------------------------------

def test_a_bad_value_is_one_line_with_the_program_and_exit_code_2(capsys):
    assert _refused(capsys, parsing.build_parser(), ['--batch-size', '0']) == (
        'dlnd_face_generation.py: error: argument --batch-size: must be at least 1, got 0 (see --help)')
    assert _refused(capsys, parsing.build_generate_parser(), ['--checkpoint', 'x', '--walk', '1']) == (
        'dlnd_face_generation.py generate: error: argument --walk: must be at least 2, got 1 (see --help)')
    assert _refused(capsys, parsing.build_evaluate_parser(), []) == (
        'dlnd_face_generation.py evaluate: error: the following arguments are required: --checkpoint (see --help)')


def test_a_value_with_a_line_break_is_still_one_line(capsys):
    assert _refused(capsys, parsing.build_parser(), ['--dataset', 'mnist\nceleba']) == (
        "dlnd_face_generation.py: error: argument --dataset: invalid choice: 'mnist\\nceleba' (choose from "
        "'synthetic', 'mnist', 'celeba', 'folder') (see --help)")


def test_training_flags_left_out_are_none_so_the_cells_or_runconfig_decide():
    args = parsing.build_parser().parse_args([])
    assert vars(args) == {'dataset': None, 'data_dir': None, 'channels': 3, 'epochs': None, 'max_steps': None,
                          'batch_size': None, 'z_dim': None, 'learning_rate': None, 'beta1': None,
                          'update_order': None, 'seed': None, 'output_dir': None, 'resume': False, 'restart': False,
                          'show_every': None, 'save_every': None, 'keep_checkpoints': None, 'eval_every': None,
                          'eval_images': None, 'logdir': None, 'precision': None, 'average_decay': None,
                          'raw_weights': None, 'fast_layers': None}


def test_every_training_flag_is_read_into_its_setting():
    argv = ['--dataset', 'folder', '--data-dir', 'pics', '--channels', '1', '--epochs', '2', '--max-steps', '30',
            '--batch-size', '8', '--z-dim', '64', '--learning-rate', '0.0002', '--beta1', '0.3', '--update-order',
            'alternating', '--seed', '7', '--output-dir', 'out', '--resume', '--show-every', '5', '--save-every', '6',
            '--keep-checkpoints', '2', '--eval-every', '0', '--eval-images', '16', '--logdir', 'tb', '--precision',
            'bfloat16', '--average-decay', '0.99', '--raw-weights', '--no-fast-layers']
    args = vars(parsing.build_parser().parse_args(argv))
    assert args == {'dataset': 'folder', 'data_dir': 'pics', 'channels': 1, 'epochs': 2, 'max_steps': 30,
                    'batch_size': 8, 'z_dim': 64, 'learning_rate': 0.0002, 'beta1': 0.3,
                    'update_order': 'alternating', 'seed': 7, 'output_dir': 'out', 'resume': True, 'restart': False,
                    'show_every': 5, 'save_every': 6, 'keep_checkpoints': 2, 'eval_every': 0, 'eval_images': 16,
                    'logdir': 'tb', 'precision': 'bfloat16', 'average_decay': 0.99, 'raw_weights': True,
                    'fast_layers': False}
    assert parsing.build_parser().parse_args(['--restart']).restart is True


@pytest.mark.parametrize('argv,message', [
    (['--dataset', 'cifar'], "argument --dataset: invalid choice: 'cifar'"),
    (['--channels', '2'], 'argument --channels: invalid choice: 2'),
    (['--update-order', 'random'], "argument --update-order: invalid choice: 'random'"),
    (['--precision', 'float16'], "argument --precision: invalid choice: 'float16'"),
    (['--epochs', '0'], 'argument --epochs: must be at least 1, got 0'),
    (['--max-steps', '0'], 'argument --max-steps: must be at least 1, got 0'),
    (['--z-dim', '0'], 'argument --z-dim: must be at least 1, got 0'),
    (['--learning-rate', '0'], 'argument --learning-rate: must be a number above 0, got 0'),
    (['--beta1', '1'], 'argument --beta1: must be in [0, 1), got 1'),
    (['--seed', '-1'], 'argument --seed: must be from 0 to 4294967295, got -1'),
    (['--show-every', '0'], 'argument --show-every: must be at least 1, got 0'),
    (['--save-every', '0'], 'argument --save-every: must be at least 1, got 0'),
    (['--keep-checkpoints', '0'], 'argument --keep-checkpoints: must be at least 1, got 0'),
    (['--eval-every', '-1'], 'argument --eval-every: must be at least 0, got -1'),
    (['--eval-images', '0'], 'argument --eval-images: must be at least 1, got 0'),
    (['--average-decay', '1'], 'argument --average-decay: must be in [0, 1), got 1'),
])
def test_each_training_flag_checks_its_value(capsys, argv, message):
    assert _refused(capsys, parsing.build_parser(), argv).startswith('dlnd_face_generation.py: error: ' + message)


@pytest.mark.parametrize('command,flag,choices', [
    ('train', '--dataset', ['synthetic', 'mnist', 'celeba', 'folder']), ('evaluate', '--dataset', ['mnist', 'folder']),
    ('train', '--precision', ['auto', 'float32', 'bfloat16']), ('generate', '--precision', ['auto', 'float32', 'bfloat16']),
    ('evaluate', '--precision', ['auto', 'float32', 'bfloat16']), ('train', '--update-order', ['simultaneous', 'alternating']),
])
def test_each_choice_is_taken(command, flag, choices):
    required = [] if command == 'train' else ['--checkpoint', 'r']
    for choice in choices:
        args = parsing.PARSERS[command]().parse_args(required + [flag, choice])
        assert getattr(args, flag[2:].replace('-', '_')) == choice


def test_generate_reads_its_flags_with_its_defaults():
    parser = parsing.build_generate_parser()
    assert vars(parser.parse_args(['--checkpoint', 'run'])) == {
        'checkpoint': 'run', 'n': None, 'z': None, 'walk': None, 'seed': 0, 'output_dir': None,
        'raw_weights': False, 'precision': None, 'fast_layers': None}
    args = parser.parse_args(['--checkpoint', 'run', '--z', 'a.npy', '--z', 'b.npy', '--walk', '3', '--seed', '4',
                              '--output-dir', 'o', '--raw-weights', '--precision', 'float32', '--no-fast-layers',
                              '--n', '5'])
    assert (args.z, args.walk, args.seed, args.output_dir, args.raw_weights, args.precision, args.fast_layers,
            args.n) == (['a.npy', 'b.npy'], 3, 4, 'o', True, 'float32', False, 5)


def test_evaluate_reads_its_flags_with_its_defaults():
    parser = parsing.build_evaluate_parser()
    assert vars(parser.parse_args(['--checkpoint', 'run'])) == {
        'checkpoint': 'run', 'dataset': None, 'data_dir': None, 'channels': 3, 'eval_images': None, 'seed': 0,
        'nearest': False, 'output_dir': None, 'raw_weights': False, 'precision': None, 'fast_layers': None}
    args = parser.parse_args(['--checkpoint', 'run', '--dataset', 'mnist', '--data-dir', 'd', '--channels', '1',
                              '--eval-images', '8', '--seed', '2', '--nearest', '--output-dir', 'o'])
    assert (args.dataset, args.data_dir, args.channels, args.eval_images, args.seed, args.nearest, args.output_dir) \
        == ('mnist', 'd', 1, 8, 2, True, 'o')


@pytest.mark.parametrize('command,argv,message', [
    ('generate', ['--checkpoint', 'r', '--n', '0'], 'argument --n: must be at least 1, got 0'),
    ('generate', ['--checkpoint', 'r', '--seed', 'x'], "argument --seed: expected a whole number, got 'x'"),
    ('generate', ['--checkpoint', 'r', '--precision', 'auto16'], 'argument --precision: invalid choice'),
    ('generate', [], 'the following arguments are required: --checkpoint'),
    ('evaluate', ['--checkpoint', 'r', '--eval-images', '0'], 'argument --eval-images: must be at least 1, got 0'),
    ('evaluate', ['--checkpoint', 'r', '--seed', str(2 ** 32)], 'argument --seed: must be from 0 to 4294967295'),
    ('evaluate', ['--checkpoint', 'r', '--channels', '4'], 'argument --channels: invalid choice: 4'),
])
def test_generate_and_evaluate_check_their_values(capsys, command, argv, message):
    line = _refused(capsys, parsing.PARSERS[command](), argv)
    assert line.startswith('dlnd_face_generation.py {}: error: {}'.format(command, message))


NOT_UTF8 = os.fsdecode(b'out-\xe9')  # a folder name in Latin-1, as Python keeps it (a surrogate for the byte)


@pytest.mark.parametrize('command,flag', [('train', '--data-dir'), ('train', '--output-dir'), ('train', '--logdir'),
                                          ('generate', '--checkpoint'), ('generate', '--output-dir'),
                                          ('evaluate', '--checkpoint'), ('evaluate', '--data-dir'),
                                          ('evaluate', '--output-dir')])
def test_an_empty_path_is_refused_not_taken_for_the_default(capsys, command, flag):
    argv = ([] if command == 'train' or flag == '--checkpoint' else ['--checkpoint', 'r']) + [flag, '']
    line = _refused(capsys, parsing.PARSERS[command](), argv)
    assert line.endswith('error: argument {}: expected a path, got an empty one (see --help)'.format(flag))


@pytest.mark.parametrize('command,flag', [('train', '--output-dir'), ('train', '--logdir'),
                                          ('generate', '--checkpoint'), ('evaluate', '--checkpoint')])
def test_a_path_tensorflow_cannot_write_or_read_is_refused_before_any_work(capsys, command, flag):
    line = _refused(capsys, parsing.PARSERS[command](), [flag, NOT_UTF8])
    assert line.endswith('error: argument {}: TensorFlow saves and reads checkpoints only under a UTF-8 path, and '
                         'out-\\xe9 is not one: rename the folder or give another (see --help)'.format(flag))


def test_data_and_pictures_may_be_under_any_name():
    """PIL reads and writes under any name the file system has (test_cli.py trains on such a --data-dir)"""
    assert parsing.build_parser().parse_args(['--data-dir', NOT_UTF8]).data_dir == NOT_UTF8
    flags = parsing.build_generate_parser().parse_args(['--checkpoint', 'r', '--output-dir', NOT_UTF8])
    assert flags.output_dir == NOT_UTF8


def test_the_parsers_are_named_by_command():
    assert set(parsing.PARSERS) == {'train'} | set(parsing.COMMANDS) == {'train', 'generate', 'evaluate'}
    assert parsing.DATASETS == ('synthetic', 'mnist', 'celeba', 'folder')


# --- help: the defaults it shows are RunConfig's ----------------------------------------------------

def _helps(parser):
    """:return: {dest: help text} of a parser's flags"""
    return {action.dest: action.help for action in parser._actions if action.help and action.option_strings}


def test_the_defaults_are_runconfigs():
    assert parsing.DEFAULTS == {field.name: field.default for field in dataclasses.fields(RunConfig)
                                if field.default is not dataclasses.MISSING}
    assert 'epochs' not in parsing.DEFAULTS and parsing.DEFAULTS['seed'] == 0


def test_each_default_a_training_flag_shows_is_the_settings_default():
    helps = _helps(parsing.build_parser())
    shown = {dest: re.search(r'\(default: ([^)]*)\)$', text).group(1) for dest, text in helps.items()
             if re.search(r'\(default: ([^)]*)\)$', text)}
    for dest in ('update_order', 'seed', 'show_every', 'save_every', 'keep_checkpoints', 'eval_every', 'eval_images',
                 'precision', 'average_decay'):
        assert shown.pop(dest) == str(getattr(RunConfig, dest)), dest
    assert shown.pop('dataset') == 'synthetic' and shown.pop('channels') == '3'
    assert shown.pop('output_dir') == 'output/DATASET'
    assert sorted(shown) == ['batch_size', 'beta1', 'epochs', 'learning_rate', 'z_dim']  # the cells' values
    assert all(text.startswith("the notebook's") for text in shown.values()), shown
    assert 'previous-runs/ (the newest {} kept)'.format(RunConfig.keep_previous) in helps['restart']


def test_the_command_line_page_is_each_commands_help(monkeypatch):
    """docs/command_line.md shows the three --help texts: after a change, python tools/command_line_doc.py remakes it."""
    monkeypatch.syspath_prepend(ROOT)
    from tools import command_line_doc
    with open(command_line_doc.PAGE, encoding='utf-8') as f:
        assert f.read() == command_line_doc.page(), 'docs/command_line.md is out of date: python tools/command_line_doc.py'


def test_the_epilog_says_how_to_draw_and_score_a_run():
    parser = parsing.build_parser()
    assert parser.prog == 'dlnd_face_generation.py'
    shown = ' '.join(parser.format_help().split())
    assert 'dlnd_face_generation.py generate --checkpoint output/synthetic' in shown
    assert 'dlnd_face_generation.py evaluate --checkpoint output/synthetic' in shown


# --- command_line.parse ------------------------------------------------------------------------------

@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    """Run in an empty folder: parse makes the default output folder (output/DATASET) where it runs."""
    monkeypatch.chdir(str(tmp_path))
    return tmp_path


def test_training_is_the_command_without_one_on_synthetic_faces_into_output_dataset(in_tmp):
    flags = command_line.parse([])
    assert (flags.command, flags.dataset, flags.output_dir) == ('train', 'synthetic', os.path.join('output', 'synthetic'))
    assert os.listdir(str(in_tmp)) == []  # checked writable before any work; the run makes its folder when it writes
    flags = command_line.parse(['--dataset', 'mnist', '--batch-size', '8'])
    assert (flags.dataset, flags.output_dir, flags.batch_size) == ('mnist', os.path.join('output', 'mnist'), 8)


@pytest.mark.parametrize('error,said', [
    (OSError(errno.ENOTDIR, 'Not a directory'), 'Not a directory'),  # the file in its path went away since
    (OSError('no errno'), 'no errno'),
])
def test_a_folder_that_cannot_be_made_with_no_file_in_its_path_is_told_in_the_systems_words(error, said, in_tmp,
                                                                                          monkeypatch):
    def failing(*args, **kwargs):
        raise error

    monkeypatch.setattr(os, 'makedirs', failing)
    with pytest.raises(UserError) as err:
        command_line.parse(['--output-dir', 'nowhere/out'])
    assert str(err.value) == 'cannot write to --output-dir nowhere/out ({}): choose another folder'.format(said)


def test_a_first_argument_that_is_no_command_is_a_training_flag(in_tmp, capsys):
    with pytest.raises(SystemExit) as stopped:
        command_line.parse(['train', '--max-steps', '3'])
    assert stopped.value.code == 2 and 'unrecognized arguments: train' in capsys.readouterr().err


def test_the_output_folders_are_checked_before_any_work(in_tmp):
    blocker = in_tmp / 'a_file'
    blocker.write_text('x')
    with pytest.raises(UserError) as err:
        command_line.parse(['--output-dir', str(blocker / 'out')])
    assert str(err.value) == 'cannot write to --output-dir {} ({} is a file, not a folder): choose another ' \
                             'folder'.format(blocker / 'out', blocker)
    with pytest.raises(UserError, match=r'^cannot write to --logdir .*a_file/tb \(.*a_file is a file, not a folder\)'):
        command_line.parse(['--output-dir', str(in_tmp / 'out'), '--logdir', str(blocker / 'tb')])
    with pytest.raises(UserError, match=r'^cannot write to --output-dir .*a_file \(it is a file, not a folder\)'):
        command_line.parse(['--output-dir', str(blocker)])
    flags = command_line.parse(['--output-dir', str(in_tmp / 'out'), '--logdir', str(in_tmp / 'tb')])
    assert flags.logdir == str(in_tmp / 'tb') and sorted(os.listdir(str(in_tmp))) == ['a_file']


def test_checking_a_folder_removes_the_folders_it_made_and_nothing_else(in_tmp):
    (in_tmp / 'yours' / 'empty').mkdir(parents=True)
    command_line.check_writable(str(in_tmp / 'yours' / 'new' / 'deeper'), '--output-dir')
    command_line.check_writable(str(in_tmp / 'yours' / 'empty'), '--output-dir')
    command_line.check_writable('relative', '--logdir')
    assert os.listdir(str(in_tmp)) == ['yours'] and os.listdir(str(in_tmp / 'yours')) == ['empty']
    assert os.listdir(str(in_tmp / 'yours' / 'empty')) == []  # the check's file gone too


def test_a_folder_on_a_read_only_file_system_is_refused(in_tmp):
    """Made, but not writable: a read-only tmpfs (even root cannot write there)."""
    folder = in_tmp / 'read-only'
    folder.mkdir()
    mounted = subprocess.run(['mount', '-t', 'tmpfs', '-o', 'ro,size=64k', 'tmpfs', str(folder)], capture_output=True,
                             text=True, env=child_env())
    if mounted.returncode != 0:
        pytest.skip('cannot mount a tmpfs here: {}'.format(mounted.stderr.strip()))
    try:
        with pytest.raises(UserError) as err:
            command_line.parse(['--output-dir', str(folder)])
        assert str(err.value) == 'cannot write to --output-dir {} (Read-only file system): choose another folder'.format(
            folder)
    finally:
        subprocess.run(['umount', str(folder)], check=True)


def test_resume_or_restart_alone_is_taken(in_tmp):
    saved = in_tmp / 'output' / 'synthetic' / 'checkpoints'
    saved.mkdir(parents=True)
    (saved / 'model-4.index').write_text('')
    assert command_line.parse(['--resume']).resume and command_line.parse(['--restart']).restart


@pytest.mark.parametrize('made', [False, True], ids=['no folder', 'a checkpoint without its index file'])
def test_resume_where_no_checkpoint_was_saved_stops_in_one_line_before_any_work(made, in_tmp):
    if made:
        (in_tmp / 'run' / 'checkpoints').mkdir(parents=True)
        (in_tmp / 'run' / 'checkpoints' / 'model-4.data-00000-of-00001').write_text('cut short')
    with pytest.raises(TrainingStopped) as err:
        command_line.parse(['--resume', '--output-dir', 'run'])
    assert str(err.value) == 'no checkpoint in run: train it first, without resuming'
    assert os.listdir(str(in_tmp)) == (['run'] if made else [])


def test_resume_and_restart_together_are_refused(in_tmp, capsys):
    with pytest.raises(SystemExit) as stopped:
        command_line.parse(['--resume', '--restart'])
    assert stopped.value.code == 2
    assert capsys.readouterr().err == (
        'dlnd_face_generation.py: error: --resume goes on with the run in --output-dir and --restart starts it over: '
        'give one (see --help)\n')


def test_generate_writes_beside_the_run_and_draws_ten_faces_by_default(in_tmp):
    (in_tmp / 'runs' / 'a' / 'checkpoints').mkdir(parents=True)
    flags = command_line.parse(['generate', '--checkpoint', 'runs/a'])
    assert (flags.command, flags.output_dir, flags.n, flags.dataset, flags.data_dir) == (
        'generate', os.path.join('runs/a', 'generated'), 10, None, None)
    for checkpoint in ('runs/a/checkpoints', 'runs/a/checkpoints/', 'runs/a/checkpoints/model-584',
                       'runs/a/checkpoints/model-584.index'):  # never among the checkpoints, nor in a folder named
        assert command_line.parse(['generate', '--checkpoint', checkpoint]).output_dir == os.path.join(  # as one
            'runs/a', 'generated'), checkpoint
    (in_tmp / 'checkpoints').mkdir()
    assert command_line.parse(['generate', '--checkpoint', 'checkpoints']).output_dir == os.path.join('.', 'generated')
    assert command_line.parse(['generate', '--checkpoint', 'model-3']).output_dir == os.path.join('.', 'generated')
    assert command_line.parse(['generate', '--checkpoint', 'r', '--n', '3', '--output-dir', 'o']).n == 3
    assert command_line.parse(['generate', '--checkpoint', 'r', '--walk', '3']).n == 10


@pytest.mark.parametrize('argv,expected', [
    (['--walk', '1'], 'argument --walk: must be at least 2, got 1'),
    (['--walk', '3', '--n', '4'], '--n draws random faces: leave it out with --walk'),
    (['--z', 'a.npy', '--n', '4'], '--n draws random faces: leave it out with --z'),
    (['--z', 'a.npy', '--walk', '3', '--n', '4'], '--n draws random faces: leave it out with --walk'),
])
def test_walk_and_z_usage_errors_are_one_line(argv, expected, capsys):
    with pytest.raises(SystemExit) as stopped:
        command_line.parse(['generate', '--checkpoint', 'x'] + argv)
    assert stopped.value.code == 2
    assert capsys.readouterr().err == 'dlnd_face_generation.py generate: error: {} (see --help)\n'.format(expected)


def test_evaluate_scores_beside_the_run_on_the_dataset_it_trained_on(in_tmp):
    run = in_tmp / 'runs' / 'a'
    (run / 'checkpoints').mkdir(parents=True)
    (run / 'checkpoints' / 'model-5.index').write_text('x')
    run_config.save(RunConfig(epochs=1, batch_size=8, z_dim=100, learning_rate=0.001, beta1=0.5, dataset='mnist',
                              image_mode='L'), str(run))
    for checkpoint in (str(run), str(run / 'checkpoints' / 'model-5')):
        flags = command_line.parse(['evaluate', '--checkpoint', checkpoint])
        assert (flags.command, flags.dataset, flags.output_dir) == ('evaluate', 'mnist', str(run))
    flags = command_line.parse(['evaluate', '--checkpoint', str(run), '--dataset', 'celeba', '--output-dir', 'o'])
    assert (flags.dataset, flags.output_dir) == ('celeba', 'o')


def test_evaluate_without_a_saved_run_scores_on_synthetic_faces(in_tmp):
    flags = command_line.parse(['evaluate', '--checkpoint', 'missing/model-5'])
    assert (flags.dataset, flags.output_dir) == ('synthetic', 'missing')
    (in_tmp / 'model-3.index').write_text('x')  # a checkpoint in the working folder
    assert command_line.parse(['evaluate', '--checkpoint', 'model-3']).output_dir == '.'
    (in_tmp / 'old').mkdir()  # a run folder of an older version: no run.json
    flags = command_line.parse(['evaluate', '--checkpoint', 'old'])
    assert (flags.dataset, flags.output_dir) == ('synthetic', 'old')


# --- Flags ------------------------------------------------------------------------------------------

def test_flags_say_which_datasets_a_command_uses(in_tmp):
    train = command_line.parse(['--dataset', 'mnist'])
    assert train.uses('mnist') and train.uses('celeba', 'mnist') and not train.uses('celeba')
    evaluate = command_line.parse(['evaluate', '--checkpoint', 'r', '--dataset', 'celeba'])
    assert evaluate.uses('celeba')
    generate = command_line.parse(['generate', '--checkpoint', 'r'])
    assert not generate.uses('mnist', 'celeba', 'synthetic', 'folder', None)


def test_the_image_mode_is_the_channels_for_a_folder_and_the_datasets_own_otherwise(in_tmp):
    assert command_line.parse(['--dataset', 'folder', '--data-dir', 'd', '--channels', '1']).image_mode == 'L'
    assert command_line.parse(['--dataset', 'folder', '--data-dir', 'd']).image_mode == 'RGB'
    assert command_line.parse(['--dataset', 'mnist', '--channels', '1']).image_mode is None


def test_settings_are_the_flags_given_and_nothing_else(in_tmp):
    flags = command_line.parse(['--batch-size', '8', '--learning-rate', '0.001', '--no-fast-layers',
                                '--output-dir', 'o', '--seed', '0', '--eval-every', '0'])
    assert flags.settings() == {'batch_size': 8, 'learning_rate': 0.001, 'fast_layers': False, 'output_dir': 'o',
                                'seed': 0, 'eval_every': 0}
    assert set(command_line.SETTINGS) <= set(run_config.SETTINGS)
    generate = command_line.parse(['generate', '--checkpoint', 'r', '--seed', '3', '--output-dir', 'g'])  # has none
    assert generate.settings() == {'seed': 3, 'output_dir': 'g', 'raw_weights': False}  # of training's flags


@pytest.mark.parametrize('setting,flag', [('batch_size', '--batch-size'), ('z_dim', '--z-dim'), ('seed', '--seed')])
def test_the_flag_of_a_setting(setting, flag):
    assert command_line.flag(setting) == flag


def test_training_on_a_folder_of_images_without_data_dir_is_one_line_and_makes_nothing(in_tmp, capsys):
    """Without it the folder would be ./data, the datasets' own (the synthetic faces, MNIST, CelebA)"""
    with pytest.raises(SystemExit) as stopped:
        command_line.parse(['--dataset', 'folder'])
    assert stopped.value.code == 2 and capsys.readouterr().err == (
        'dlnd_face_generation.py: error: --dataset folder trains on your own images: give their folder with '
        '--data-dir (see --help)\n')
    assert os.listdir(str(in_tmp)) == []  # no output/folder made for it


def test_the_faces_of_a_folder_are_its_images(in_tmp):
    (in_tmp / 'pics' / 'sub').mkdir(parents=True)
    for name in ('b.png', 'sub/a.jpg', 'notes.txt'):
        (in_tmp / 'pics' / name).write_bytes(b'')
    flags = command_line.parse(['--dataset', 'folder', '--data-dir', 'pics'])
    assert flags.face_files(str(in_tmp / 'pics')) == [str(in_tmp / 'pics' / 'b.png'),
                                                      str(in_tmp / 'pics' / 'sub' / 'a.jpg')]


@pytest.mark.parametrize('what', ['missing', 'a file', 'no images'])
def test_a_folder_without_images_is_one_line_naming_data_dir(in_tmp, what):
    folder = in_tmp / 'pics\nnew'
    if what == 'a file':
        folder.write_text('x')
    elif what == 'no images':
        folder.mkdir()
        (folder / 'notes.txt').write_text('x')
    with pytest.raises(DatasetError) as err:
        command_line.parse(['--dataset', 'folder', '--data-dir', str(folder)]).face_files(str(folder))
    shown = str(folder).replace('\n', '\\n')
    assert str(err.value) == ('--data-dir {} has no jpg, jpeg or png files: point it at a folder of images'.format(shown)
                              if what == 'no images' else
                              '--data-dir {} is not a folder: point it at a folder of images'.format(shown))


def test_the_faces_of_celeba_are_its_extracted_images(in_tmp):
    (in_tmp / 'data' / 'img_align_celeba').mkdir(parents=True)
    (in_tmp / 'data' / 'img_align_celeba' / '000001.jpg').write_bytes(b'')
    (in_tmp / 'data' / 'mnist').mkdir()
    (in_tmp / 'data' / 'mnist' / 'image_0.jpg').write_bytes(b'')  # another dataset's, in the same data folder
    flags = command_line.parse(['--dataset', 'celeba'])
    assert flags.face_files(str(in_tmp / 'data')) == [str(in_tmp / 'data' / 'img_align_celeba' / '000001.jpg')]


def test_the_synthetic_faces_are_drawn_on_first_use(in_tmp, monkeypatch):
    drawn = []

    def make(data_dir):
        drawn.append(data_dir)
        folder = os.path.join(data_dir, 'faces')
        os.makedirs(folder)
        open(os.path.join(folder, '1.jpg'), 'w').close()
        return folder

    monkeypatch.setattr(datasets, 'make_synthetic_faces', make)
    flags = command_line.parse([])
    assert flags.face_files(str(in_tmp / 'data')) == [str(in_tmp / 'data' / 'faces' / '1.jpg')]
    assert drawn == [str(in_tmp / 'data')]


def test_a_dataset_that_is_not_of_faces_has_no_face_files(in_tmp):
    (in_tmp / 'data' / 'mnist').mkdir(parents=True)
    (in_tmp / 'data' / 'mnist' / 'image_0.jpg').write_bytes(b'')
    with pytest.raises(ValueError, match="^no dataset of faces is called 'mnist'$"):
        datasets.face_files('mnist', str(in_tmp / 'data'))


# --- where the arguments come from, and errors naming a flag -------------------------------------------

def _kernel(initialized):
    """:return: A stand-in for ipykernel.kernelapp, its IPKernelApp initialized or not"""
    return types.SimpleNamespace(IPKernelApp=types.SimpleNamespace(initialized=lambda: initialized))


def test_the_arguments_are_the_scripts_or_in_a_notebook_dlnd_args(monkeypatch):
    monkeypatch.setattr(sys, 'argv', ['dlnd_face_generation.py', '--seed', '3'])
    monkeypatch.setenv('DLND_ARGS', "--max-steps 20 --output-dir 'my runs/a'")
    monkeypatch.delitem(sys.modules, 'ipykernel.kernelapp', raising=False)
    assert command_line.arguments() == ['--seed', '3']
    monkeypatch.setitem(sys.modules, 'ipykernel.kernelapp', _kernel(False))  # imported, not a kernel
    assert command_line.arguments() == ['--seed', '3']
    monkeypatch.setitem(sys.modules, 'ipykernel.kernelapp', _kernel(True))
    assert command_line.arguments() == ['--max-steps', '20', '--output-dir', 'my runs/a']
    monkeypatch.delenv('DLND_ARGS')
    assert command_line.arguments() == []


def test_read_parses_the_arguments_and_says_whether_they_are_a_notebooks(monkeypatch, in_tmp):
    monkeypatch.setattr(sys, 'argv', ['dlnd_face_generation.py', 'generate', '--checkpoint', 'r'])
    monkeypatch.delitem(sys.modules, 'ipykernel.kernelapp', raising=False)
    flags = command_line.read()
    assert (flags.command, flags.checkpoint, flags.in_notebook) == ('generate', 'r', False)
    monkeypatch.setitem(sys.modules, 'ipykernel.kernelapp', _kernel(True))
    monkeypatch.setenv('DLND_ARGS', '--seed 4')
    flags = command_line.read()
    assert (flags.command, flags.seed, flags.in_notebook) == ('train', 4, True)
    assert command_line.parse(['--seed', '4']).in_notebook is False  # the flags alone say nothing of a kernel


def test_an_unclosed_quote_in_dlnd_args_is_one_line_naming_the_variable(monkeypatch):
    monkeypatch.setattr(command_line.environment, 'in_notebook_kernel', lambda: True)
    monkeypatch.setenv('DLND_ARGS', '--output-dir "a\nbc')
    with pytest.raises(UserError) as err:
        command_line.arguments()
    assert str(err.value) == 'the variable DLND_ARGS (--output-dir "a\\nbc) cannot be split into flags (No closing ' \
                             'quotation): close its quotes, as in a shell'
    assert err.value.__suppress_context__


@pytest.mark.parametrize('made', [None, 'folder', 'file', 'prefix'])
def test_read_stops_evaluate_on_a_checkpoint_that_is_not_there_before_the_data_cells(made, monkeypatch, in_tmp):
    """The script's first cell reads the flags; its data cells would draw or download evaluate's dataset next"""
    checkpoint = in_tmp / 'run'
    if made == 'folder':
        checkpoint.mkdir()
    elif made:
        (in_tmp / ('run.index' if made == 'prefix' else 'run')).write_text('x')
    monkeypatch.setattr(sys, 'argv', ['dlnd_face_generation.py', 'evaluate', '--checkpoint', 'run'])
    monkeypatch.delitem(sys.modules, 'ipykernel.kernelapp', raising=False)
    if made:
        assert command_line.read().checkpoint == 'run'
        return
    with pytest.raises(TrainingStopped) as err:
        command_line.read()
    assert str(err.value) == "--checkpoint run: no checkpoint in run: train first, or point --checkpoint at a run's " \
                             "output folder"
    assert os.listdir(str(in_tmp)) == []


def _saved_run(folder, dataset='folder', data_dir=None):
    """:return: A run's folder holding only its run.json, of a run on this dataset from data_dir"""
    folder.mkdir(parents=True)
    run_config.save(RunConfig(epochs=1, batch_size=8, z_dim=100, learning_rate=0.001, beta1=0.5, dataset=dataset,
                              image_mode='RGB', data_dir=data_dir), str(folder))
    return folder


def test_evaluate_of_a_run_on_a_folder_of_images_needs_its_data_dir(in_tmp, capsys):
    """A run.json without the folder (a run from a notebook, or from an older version) cannot say where it is"""
    run = _saved_run(in_tmp / 'runs' / 'a')
    assert command_line.parse(['evaluate', '--checkpoint', str(run), '--data-dir', 'faces']).data_dir == 'faces'
    with pytest.raises(SystemExit) as stopped:
        command_line.parse(['evaluate', '--checkpoint', str(run)])
    assert stopped.value.code == 2 and capsys.readouterr().err == (
        'dlnd_face_generation.py evaluate: error: the run in --checkpoint {} trained on a folder of images: give that '
        'folder with --data-dir (see --help)\n'.format(run))


@pytest.mark.parametrize('dataset', ['folder', 'celeba'])
def test_evaluate_finds_the_data_where_the_run_found_it_unless_given_another(dataset, in_tmp):
    (in_tmp / 'pics').mkdir()
    run = _saved_run(in_tmp / 'runs' / 'a', dataset, str(in_tmp / 'pics'))
    assert command_line.parse(['evaluate', '--checkpoint', str(run)]).data_dir == str(in_tmp / 'pics')
    assert command_line.parse(['evaluate', '--checkpoint', str(run), '--data-dir', 'other']).data_dir == 'other'
    other = 'synthetic' if dataset == 'folder' else 'folder'  # another dataset than the run's: not its folder
    flags = command_line.parse(['evaluate', '--checkpoint', str(run), '--dataset', other, '--data-dir', 'd'])
    assert flags.data_dir == 'd'
    if dataset == 'celeba':
        assert command_line.parse(['evaluate', '--checkpoint', str(run), '--dataset', 'synthetic']).data_dir is None


def test_evaluate_of_a_run_whose_data_has_gone_asks_for_it_in_one_line(in_tmp, capsys):
    run = _saved_run(in_tmp / 'runs' / 'a', 'celeba', str(in_tmp / 'moved\naway'))
    assert command_line.parse(['evaluate', '--checkpoint', str(run), '--data-dir', 'here']).data_dir == 'here'
    with pytest.raises(SystemExit) as stopped:
        command_line.parse(['evaluate', '--checkpoint', str(run)])
    assert stopped.value.code == 2 and capsys.readouterr().err == (
        'dlnd_face_generation.py evaluate: error: the run in --checkpoint {} trained on the images in {} (its '
        'run.json), which is not a folder now: give them with --data-dir (see --help)\n'.format(
            run, os.path.join(str(in_tmp), 'moved\\naway')))


def test_a_training_runs_data_dir_is_recorded_where_it_is_and_only_when_given(in_tmp):
    assert 'data_dir' not in command_line.parse([]).settings()
    assert command_line.parse(['--data-dir', 'pics']).settings()['data_dir'] == str(in_tmp / 'pics')
    assert command_line.parse(['--data-dir', str(in_tmp)]).settings()['data_dir'] == str(in_tmp)


def test_a_usage_error_found_later_is_one_line_and_exit_code_2(capsys):
    with pytest.raises(SystemExit) as stopped:
        command_line.usage_error('evaluate', '--eval-images 100 needs at least 200 images')
    assert stopped.value.code == 2
    assert capsys.readouterr().err == ('dlnd_face_generation.py evaluate: error: --eval-images 100 needs at least 200 '
                                       'images (see --help)\n')


def test_an_error_in_a_block_is_said_again_naming_the_flag():
    with pytest.raises(DatasetError) as err:
        with command_line.naming('--checkpoint', 'runs/a\nb'):
            raise DatasetError('no checkpoint there')
    assert str(err.value) == '--checkpoint runs/a\\nb: no checkpoint there'
    with pytest.raises(UserError) as err:
        with command_line.naming('--z', 'z.npy'):
            raise UserError('--z z.npy: already named')
    assert err.value.args == ('--z z.npy: already named',)  # not named twice
    with pytest.raises(SettingChanged) as err:
        with command_line.naming('--output-dir', 'runs/a'):
            raise SettingChanged('trained with batch_size 8, not 16', 'batch_size')
    assert str(err.value) == '--output-dir runs/a: trained with batch_size 8, not 16'
    assert err.value.setting == 'batch_size' and err.value.args == ('--output-dir runs/a: trained with batch_size 8, '
                                                                    'not 16',)
    with pytest.raises(KeyError):
        with command_line.naming('--z', 'z.npy'):
            raise KeyError('not a user error: as it is')
    with command_line.naming('--z', 'z.npy'):
        pass
