"""
The command line (`python dlnd_face_generation.py`, run in this process as the script runs, or in its own
process where exit codes and signals are what is tested): --help, one-line errors, the runs the flags
make, one run to a folder (--resume goes on with it and checks its settings, --restart starts it
over), and the problem tests in the cells. A run whose networks' widths do not matter to what is tested
has tiny_networks.py's narrower ones in the script's cells (narrow_script.py); the default run has the
script's own.
"""
import argparse
import filecmp
import functools
import json
import os
import re
import runpy
import shutil
import signal
import subprocess
import sys
import threading

import numpy as np
import pytest
from PIL import Image

import dlnd_face_generation as dlnd
import narrow_script
from conftest import (GUARD_SECONDS, ROOT, SHARED_RUN, child_env, copy_run, faces, run_script,
                      terminal_signals)
from facegan.app import interrupts, parsing
from facegan.core import environment, files, machine
from facegan.core.errors import TrainingStopped, UserError

tf = dlnd.tf
# Each flag of --help, and a word its help must hold: what the value is, in the words a user looks for
TRAINING_HELP = {'--dataset': 'download', '--data-dir': 'folder', '--channels': 'grayscale', '--epochs': 'passes',
                 '--batch-size': 'images per step', '--z-dim': 'noise', '--learning-rate': 'Adam',
                 '--beta1': 'Adam', '--max-steps': 'steps', '--output-dir': 'checkpoints', '--seed': 'data order',
                 '--show-every': 'grid', '--save-every': 'checkpoint', '--resume': 'newest checkpoint',
                 '--restart': 'moved aside', '--eval-every': 'Wasserstein', '--eval-images': 'held-out',
                 '--logdir': 'TensorBoard', '--precision': 'bfloat16', '--update-order': 'session.run',
                 '--keep-checkpoints': 'newest', '--no-fast-layers': 'transposed convolutions',
                 '--average-decay': "average of the generator's weights", '--raw-weights': 'own weights'}
SUBCOMMAND_HELP = {
    'generate': {'--checkpoint': 'output-dir', '--n': 'faces', '--seed': 'same faces', '--output-dir': 'PNGs',
                 '--no-fast-layers': 'transposed convolutions', '--z': 'saved z', '--walk': 'slerped',
                 '--raw-weights': 'own weights', '--precision': 'trained with'},
    'evaluate': {'--checkpoint': 'output-dir', '--dataset': 'download', '--data-dir': 'folder',
                 '--channels': 'grayscale', '--eval-images': 'images', '--seed': 'metric',
                 '--no-fast-layers': 'transposed convolutions', '--nearest': 'memorisation',
                 '--output-dir': 'nearest.png', '--raw-weights': 'own weights', '--precision': 'trained with'},
}


def help_texts(out):
    """
    :param out: What --help printed
    :return: {flag: its help text on one line}, read as argparse lays it out: the flag (and its value)
             two spaces in, its text beside it or on the lines below, indented further
    """
    texts, flag = {}, None
    for line in out.splitlines():
        if line.startswith('  -'):
            invocation, _, text = line.strip().partition('  ')
            flag = invocation.split(', ')[-1].split()[0]
            texts[flag] = text.strip()
        elif flag and line.startswith(' ' * 6):
            texts[flag] = (texts[flag] + ' ' + line.strip()).strip()
        else:
            flag = None
    return texts


def check_every_flag_explained(out, words, parser, run_settings=True):
    """
    Each flag's help is a phrase (three words or more) holding its word, and says its default where it has one:
    the parser's own, or with run_settings (training's), RunConfig's (the parser's is None: RunConfig's applies)
    """
    texts = help_texts(out)
    assert set(words) <= set(texts), set(words) - set(texts)
    for flag, word in words.items():
        assert word in texts[flag] and len(texts[flag].split()) >= 3, (flag, texts[flag])
    for action in parser._actions:
        name = action.option_strings[-1] if action.option_strings else None
        default = action.default if action.default not in (None, False, True, argparse.SUPPRESS) else \
            parsing.DEFAULTS.get(action.dest) if run_settings and action.dest in parsing.DEFAULTS \
            and not isinstance(parsing.DEFAULTS.get(action.dest), bool) else None
        if name and default is not None:
            assert '(default: {})'.format(default) in texts[name], (name, texts[name])


def test_help_explains_every_flag(capsys):
    assert run_script(['--help']) == 0
    out = capsys.readouterr().out
    check_every_flag_explained(out, TRAINING_HELP, parsing.build_parser())
    words = ' '.join(out.split())  # argparse wraps the epilog
    assert 'generate --checkpoint' in words and 'evaluate --checkpoint' in words


@pytest.mark.parametrize('command', ['generate', 'evaluate'])
def test_subcommand_help_explains_every_flag(command, capsys):
    assert run_script([command, '--help']) == 0
    out = capsys.readouterr().out
    assert out.startswith('usage: dlnd_face_generation.py {}'.format(command))
    check_every_flag_explained(out, SUBCOMMAND_HELP[command], parsing.PARSERS[command](), run_settings=False)


@pytest.mark.parametrize('argv,expected', [
    (['--epochs', '-1'], '--epochs: must be at least 1, got -1'),
    (['--batch-size', '0'], '--batch-size: must be at least 1, got 0'),
    (['--dataset', 'cifar'], "--dataset: invalid choice: 'cifar'"),
    (['--learning-rate', '-1'], '--learning-rate: must be a number above 0, got -1'),
    (['--learning-rate', 'nan'], '--learning-rate: must be a number above 0, got nan'),
    (['--beta1', '1'], '--beta1: must be in [0, 1), got 1'),
    (['--average-decay', '1'], '--average-decay: must be in [0, 1), got 1'),
    (['--epochs', 'two'], "--epochs: expected a whole number, got 'two'"),
    (['--precision', 'float16'], "--precision: invalid choice: 'float16'"),
    (['--seed', '-1'], '--seed: must be from 0 to 4294967295, got -1'),
    (['--seed', str(2 ** 32)], '--seed: must be from 0 to 4294967295, got 4294967296'),
    (['--update-order', 'random'], "--update-order: invalid choice: 'random'"),
    (['--resume', '--restart'], '--resume goes on with the run in --output-dir and --restart starts it over'),
])
def test_bad_values_get_one_line_and_exit_code_2(argv, expected, capsys, tmp_path):
    assert run_script(argv + ['--data-dir', str(tmp_path / 'data'), '--output-dir', str(tmp_path / 'out')]) == 2
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and expected in err and 'Traceback' not in err
    assert not os.path.exists(str(tmp_path / 'data'))  # rejected before any work


@pytest.mark.parametrize('flag', ['--logdir', '--output-dir'])
def test_a_file_where_a_folder_flag_points_names_that_flag(flag, tmp_path, capsys):
    a_file = tmp_path / 'a_file'
    a_file.write_text('not a folder')
    argv = ['--data-dir', str(tmp_path / 'data'), '--output-dir', str(tmp_path / 'out'), flag, str(a_file)]
    assert run_script(argv) == 1
    assert capsys.readouterr().err == 'error: cannot write to {} {} (it is a file, not a folder): choose another folder\n'.format(
        flag, a_file)
    assert not os.path.exists(str(tmp_path / 'data'))  # refused before any work


# The ways root can have a folder no one writes to, root included, tried in turn, each with what undoes it: a
# read-only tmpfs mounted on it (needs the right to mount), or the folder made immutable (needs
# CAP_LINUX_IMMUTABLE and a file system with the flag: ext4, xfs, btrfs), which root's permissions do not pass
_READ_ONLY_AS_ROOT = ((['mount', '-t', 'tmpfs', '-o', 'ro,size=16k', 'tmpfs'], ['umount']),
                      (['chattr', '+i'], ['chattr', '-i']))


def _make_read_only(folder):
    """
    Make folder one that nothing can write to
    :return: A function that undoes it
    """
    if os.geteuid() != 0:  # not root: permissions are enough
        os.chmod(folder, 0o555)
        return functools.partial(os.chmod, folder, 0o755)
    failures = []
    for make, undo in _READ_ONLY_AS_ROOT:
        try:
            made = subprocess.run(make + [folder], capture_output=True, text=True, env=child_env())
        except OSError as err:  # the command is missing
            failures.append('{}: {}'.format(make[0], err.strerror))
            continue
        if made.returncode == 0:
            return functools.partial(subprocess.run, undo + [folder], check=True, env=child_env())
        failures.append('{}: {}'.format(make[0], made.stderr.strip() or made.returncode))
    pytest.skip('root cannot make a read-only folder here: {}'.format('; '.join(failures)))


@pytest.fixture
def read_only_folder(tmp_path):
    """A folder in tmp_path that no one, root included, can write to (as root: _READ_ONLY_AS_ROOT's ways)"""
    folder = str(tmp_path / 'read_only')
    os.makedirs(folder)
    undo = _make_read_only(folder)
    try:
        with pytest.raises(OSError):  # the fixture's own check: a test of an unwritable folder must get one
            open(os.path.join(folder, 'probe'), 'w').close()
        yield folder
    finally:
        undo()


def test_a_logdir_that_cannot_be_written_is_one_line_naming_it(read_only_folder, tmp_path, capsys):
    code = run_script(['--data-dir', str(tmp_path / 'data'), '--output-dir', str(tmp_path / 'out' / 'run'),
                       '--logdir', read_only_folder])
    assert code == 1
    err = capsys.readouterr().err
    assert err.startswith('error: cannot write to --logdir {} ('.format(read_only_folder))
    assert err.endswith('): choose another folder\n') and err.count('\n') == 1
    assert not os.path.exists(str(tmp_path / 'out'))  # --output-dir was checked first, and its folders made to check


@pytest.mark.parametrize('inside', [True, False], ids=['to make inside it', 'itself'])
def test_a_synthetic_data_folder_that_cannot_be_written_is_one_line_naming_it(inside, read_only_folder, tmp_path,
                                                                              capsys):
    data = os.path.join(read_only_folder, 'data') if inside else read_only_folder
    code = run_script(['--data-dir', data, '--output-dir', str(tmp_path / 'out')])
    assert code == 1
    err = capsys.readouterr().err
    assert re.fullmatch(r'error: the data folder {} cannot be written \([^)]+\): give a folder you can write, such as '
                        r'one in your home folder\n'.format(re.escape(data)), err), err
    assert not os.path.exists(str(tmp_path / 'out'))  # a run that stops before it writes leaves no empty folder


@pytest.mark.parametrize('made', [False, True], ids=['no folder', 'an empty folder'])
def test_resuming_where_no_run_was_saved_is_one_line_before_the_data_is_made(made, tmp_path, capsys):
    out = tmp_path / 'runs' / 'never'
    if made:
        out.mkdir(parents=True)
    assert run_script(['--resume', '--data-dir', str(tmp_path / 'data'), '--output-dir', str(out)]) == 1
    captured = capsys.readouterr()
    assert captured.err == 'error: no checkpoint in {}: train it first, without resuming\n'.format(out)
    assert 'Training on' not in captured.out
    assert sorted(os.listdir(str(tmp_path))) == (['runs'] if made else [])  # no synthetic faces drawn, no folder made
    assert not made or os.listdir(str(out)) == []


@pytest.mark.parametrize('log_level', [None, '2', '0'])
def test_script_exit_code_and_message_from_a_shell(log_level, tmp_path):
    """
    With TF_CPP_MIN_LOG_LEVEL unset the program keeps TensorFlow's C++ log quiet: the error is all
    of stderr. A user who set a level gets what they asked for, and the one-line error is still the last line.
    """
    result = subprocess.run([sys.executable, 'dlnd_face_generation.py', '--batch-size', '0'], cwd=ROOT,
                            capture_output=True, text=True, timeout=300,
                            env=child_env(TF_CPP_MIN_LOG_LEVEL=log_level))
    assert result.returncode == 2
    error = 'dlnd_face_generation.py: error: argument --batch-size: must be at least 1, got 0 (see --help)'
    lines = result.stderr.strip().splitlines()
    if log_level is None:
        assert lines == [error]
    else:
        assert lines[-1] == error and lines.count(error) == 1 and 'Traceback' not in result.stderr


def test_importing_the_script_trains_and_downloads_nothing(tmp_path, monkeypatch):
    """Its every line run as `import dlnd_face_generation` runs them (under the module's name, not __main__), in this
    process: in an empty folder, which stays empty"""
    monkeypatch.chdir(tmp_path)
    namespace = runpy.run_path(dlnd.__file__, run_name='dlnd_face_generation')
    assert callable(namespace['train']) and callable(namespace['generator'])
    assert os.listdir('.') == []


# TensorFlow as a process has it when something imported it with Keras 3 before the project could set
# TF_USE_LEGACY_KERAS: tf.compat.v1.layers then fails on first use (faked: no second Keras is installed)
_KERAS_3_TENSORFLOW = """
import types


class Keras3Layers:
    def __getattr__(self, name):
        raise ImportError('tf.compat.v1.layers is not available with Keras 3')


tensorflow = types.ModuleType('tensorflow')
tensorflow.compat = types.SimpleNamespace(v1=types.SimpleNamespace(layers=Keras3Layers()))
"""
_SCRIPT_AFTER_KERAS_3 = _KERAS_3_TENSORFLOW + """
import runpy, sys
sys.modules['tensorflow'] = tensorflow
sys.path.insert(0, {root!r})
sys.argv = [{script!r}]
runpy.run_path({script!r}, run_name='__main__')
"""


def test_tensorflow_loaded_with_keras_3_first_is_the_one_line_that_says_what_to_do(monkeypatch):
    """From the script: its one line and exit code 1; in a notebook, IPython shows the error as that line too"""
    code = _SCRIPT_AFTER_KERAS_3.format(root=ROOT, script=os.path.join(ROOT, 'dlnd_face_generation.py'))
    result = subprocess.run([sys.executable, '-c', code], cwd=ROOT, capture_output=True, text=True, timeout=300,
                            env=child_env())
    assert (result.returncode, result.stdout, result.stderr) == (1, '', 'error: {}\n'.format(environment.KERAS_PROBLEM))
    fake = {}
    exec(compile(_KERAS_3_TENSORFLOW, 'keras_3_tensorflow', 'exec'), fake)
    monkeypatch.setitem(sys.modules, 'tensorflow', fake['tensorflow'])  # in this process, until the test ends
    with pytest.raises(UserError) as err:
        environment.prepare()  # as `import helper` calls it in a notebook
    assert err.value._render_traceback_() == ['error: ' + environment.KERAS_PROBLEM]


_RUNS_CELL_FIRST = """
import sys
sys.path.insert(0, {root!r})
from facegan.core.errors import UserError
try:
    from facegan.app import runs  # the run cell's import, in a kernel just restarted: before helper's cell
except UserError as err:
    print(err._render_traceback_())
"""


def test_the_run_cells_import_before_helpers_is_the_line_that_says_to_restart_and_import_helper_first():
    """The real Keras 3 of TensorFlow's own requirements, loaded by the package's import of tensorflow"""
    result = subprocess.run([sys.executable, '-c', _RUNS_CELL_FIRST.format(root=ROOT)], cwd=ROOT, capture_output=True,
                            text=True, timeout=300, env=child_env())
    assert (result.returncode, result.stdout) == (0, str(['error: ' + environment.KERAS_PROBLEM]) + '\n'), \
        result.stderr[-2000:]


def _synthetic(monkeypatch, count):
    """The script's synthetic dataset: count faces rather than thousands, for this test"""
    from facegan.data import datasets
    real = datasets.make_synthetic_faces
    monkeypatch.setattr(datasets, 'make_synthetic_faces', lambda data_path: real(data_path, count))


def test_the_default_run_runs_the_problem_tests_in_the_cells_and_trains(tmp_path, capsys, monkeypatch):
    """The script without flags, as the README shows it (16 synthetic faces here): its cells, the five problem
    tests among them, then the run in output/synthetic"""
    _synthetic(monkeypatch, 16)
    monkeypatch.chdir(tmp_path)
    assert run_script(['--batch-size', '8', '--max-steps', '2'], problem_tests=True) == 0
    out = tmp_path / 'output' / 'synthetic'
    assert sorted(os.listdir(str(out))) == ['checkpoints', 'loss_curve.png', 'losses.csv', 'real_images.png',
                                            'run.json', 'samples.gif', 'samples_final.png']
    stdout = capsys.readouterr().out
    assert 'TensorFlow Version: ' in stdout and stdout.count('Tests Passed') == 5
    assert 'Done at step 2 (max_steps 2 reached). In output/synthetic: samples_final.png, loss_curve.png, ' \
           'samples.gif, checkpoints/, run.json' in stdout
    assert os.listdir(str(tmp_path / 'data')) == ['synthetic_faces_16_seed0']  # no download


@pytest.mark.parametrize('flags,environ,precision,why', [
    ('avx512f avx512_bf16', {}, 'bfloat16', 'the CPU has AVX512_BF16'),
    ('avx512f amx_tile amx_bf16', {}, 'bfloat16', 'the CPU has AMX_BF16'),
    ('avx512f amx_tile amx_bf16', {'ONEDNN_MAX_CPU_ISA': 'AVX2'}, 'float32',
     'the CPU has AMX_BF16, but ONEDNN_MAX_CPU_ISA=AVX2 caps oneDNN below it'),
    ('avx2 avx512f', {}, 'float32', 'the CPU has neither AMX_BF16 nor AVX512_BF16'),
])
def test_precision_auto_follows_the_cpu_and_says_so(flags, environ, precision, why, tmp_path, capsys, monkeypatch):
    cpuinfo = tmp_path / 'cpuinfo'  # the CPU's flags, faked
    cpuinfo.write_text('processor\t: 0\nflags\t\t: fpu sse2 {}\n'.format(flags))
    monkeypatch.setattr(machine, 'resolve_precision', functools.partial(machine.resolve_precision, cpuinfo=str(cpuinfo),
                                                                        environ=environ))
    argv = ['--dataset', 'folder', '--data-dir', faces(tmp_path / 'data', 8), '--batch-size', '8', '--max-steps', '1',
            '--eval-every', '0', '--output-dir', str(tmp_path / 'out')]
    from facegan.app import training
    chosen = []

    def stop_where_the_run_starts(config, *args):
        chosen.append(config.precision_used)  # the choice is what is tested: no need to train a step
        raise TrainingStopped('stopped where the run starts')
    monkeypatch.setattr(training.run, 'TrainingRun', stop_where_the_run_starts)
    assert run_script(argv) == 1
    assert chosen == [precision]
    assert 'Precision: {} (--precision auto: {})\n'.format(precision, why) in capsys.readouterr().out


def test_bfloat16_asked_for_where_it_cannot_run_is_one_line(tmp_path, capsys, monkeypatch):
    cpuinfo = tmp_path / 'cpuinfo'
    cpuinfo.write_text('flags\t\t: fpu sse2 avx2\n')
    monkeypatch.setattr(machine, 'resolve_precision', functools.partial(machine.resolve_precision, cpuinfo=str(cpuinfo)))
    argv = ['--dataset', 'folder', '--data-dir', faces(tmp_path / 'data', 8), '--batch-size', '8',
            '--precision', 'bfloat16', '--output-dir', str(tmp_path / 'out')]
    assert run_script(argv) == 1
    assert capsys.readouterr().err.splitlines()[-1] == 'error: bfloat16 cannot run here: oneDNN computes it with ' \
                                                       'AVX-512 only, and this CPU has none; use float32'


def _folder_of_images(folder, count):
    rng = np.random.default_rng(count)
    for i in range(count):
        sub = os.path.join(folder, 'part{}'.format(i % 2))  # found recursively
        os.makedirs(sub, exist_ok=True)
        size = (28, 28) if i % 3 == 0 else (178, 218)  # 28x28 kept, others cropped and resized
        Image.fromarray(rng.integers(0, 256, size[::-1] + (3,), dtype=np.uint8)).save(
            os.path.join(sub, '{}.{}'.format(i, 'png' if i % 2 else 'jpg')))


def test_folder_dataset_trains_in_grayscale(tmp_path, capsys):
    _folder_of_images(str(tmp_path / 'pics'), 10)
    out = str(tmp_path / 'out')
    code = run_script(['--dataset', 'folder', '--data-dir', str(tmp_path / 'pics'), '--channels', '1',
                       '--batch-size', '4', '--max-steps', '1', '--output-dir', out], narrow=True)
    assert code == 0
    with Image.open(os.path.join(out, 'samples_final.png')) as grid, \
            Image.open(os.path.join(out, 'real_images.png')) as real:
        assert grid.mode == 'L' and real.mode == 'L' and real.size == (4 * 3 * 28, 4 * 3 * 28)


@pytest.mark.parametrize('dataset,mode', [('mnist', 'L'), ('celeba', 'RGB')])
def test_mnist_and_celeba_train_from_their_extracted_folders(dataset, mode, notebook_data, tmp_path, capsys):
    """The data cell finds each dataset extracted (its completion marker: no download), the Explore cell shows it,
    and the dataset's own cells set the run up: grayscale digits, colour faces"""
    out = str(tmp_path / 'out')
    code = run_script(['--dataset', dataset, '--data-dir', notebook_data, '--batch-size', '8', '--max-steps', '1',
                       '--eval-every', '0', '--output-dir', out], narrow=True)
    assert code == 0
    saved = json.loads(open(os.path.join(out, 'run.json')).read())
    assert (saved['dataset'], saved['image_mode'], saved['data_dir']) == (dataset, mode, os.path.abspath(notebook_data))
    assert 'Training on {} images of {}'.format(32 if dataset == 'mnist' else 48, dataset) in capsys.readouterr().out
    with Image.open(os.path.join(out, 'samples_final.png')) as grid:
        assert grid.mode == mode


def test_folder_with_fewer_images_than_a_batch_is_refused_before_training(tmp_path, capsys):
    _folder_of_images(str(tmp_path / 'pics'), 3)
    assert run_script(['--dataset', 'folder', '--data-dir', str(tmp_path / 'pics'), '--output-dir',
                       str(tmp_path / 'out')]) == 1
    assert capsys.readouterr().err.strip().splitlines()[-1] == \
        'error: --batch-size 16 is larger than the 3 images of folder it would train on'


@pytest.mark.parametrize('make,expected', [
    (lambda path: os.makedirs(path), 'error: --data-dir {} has no jpg, jpeg or png files: point it at a folder of '
                                     'images\n'),
    (lambda path: None, 'error: --data-dir {} is not a folder: point it at a folder of images\n'),
])
def test_empty_or_missing_folder_is_one_line_error(tmp_path, capsys, make, expected):
    folder = str(tmp_path / 'pics')
    make(folder)
    code = run_script(['--dataset', 'folder', '--data-dir', folder, '--output-dir', str(tmp_path / 'out')])
    assert code == 1 and capsys.readouterr().err == expected.format(folder)


def test_a_folder_dataset_whose_name_is_not_utf8_trains_and_its_messages_print(tmp_path, capsys):
    """
    Bytes that are not UTF-8 in --data-dir's name: Python's argv and os.walk hold them as surrogates, which no
    stream encodes (capsys's is strict UTF-8, as a terminal's is); a message that quotes it prints them as \\xNN
    """
    data = os.path.join(str(tmp_path), os.fsdecode(b'pics-\xe9\xff'))
    shutil.copytree(faces(tmp_path / 'drawn', 8), data)
    with open(os.path.join(data, 'broken.jpg'), 'wb') as broken:  # its warning quotes the folder
        broken.write(b'not an image')
    out = tmp_path / 'out'
    code = run_script(['--dataset', 'folder', '--data-dir', data, '--batch-size', '4', '--max-steps', '1',
                       '--eval-every', '0', '--precision', 'float32', '--output-dir', str(out)], narrow=True)
    captured = capsys.readouterr()
    assert code == 0 and 'Traceback' not in captured.err, captured.err[-2000:]
    assert 'warning: skipped 1 unreadable image of 9 (first: {})'.format(
        os.path.join(str(tmp_path), 'pics-\\xe9\\xff', 'broken.jpg')) in captured.err
    assert 'Training on 8 images of folder, into {}'.format(out) in captured.out
    assert 'Done at step 1 (max_steps 1 reached)' in captured.out and (out / 'samples_final.png').exists()


def _small_run(tmp_path, *flags, name='out'):
    """
    Train on 16 synthetic faces at batch 8 (2 steps an epoch, no scores, float32), the script's networks narrow
    :return: (exit code, folder)
    """
    out = tmp_path / name
    code = run_script(['--dataset', 'folder', '--data-dir', faces(tmp_path / 'data', 16), '--batch-size', '8',
                       '--output-dir', str(out), '--show-every', '1000', '--eval-every', '0', '--precision',
                       'float32'] + list(flags), narrow=True)
    return code, out


def _losses_steps(folder):
    return np.genfromtxt(str(folder / 'losses.csv'), delimiter=',', names=True)['step'].tolist()


def test_max_steps_alone_trains_that_many_steps_over_as_many_epochs(tmp_path, capsys):
    # 4 of the 16 faces held out for the scores: an epoch is the 12 it trains on, 1 step at batch 8 (not 16's 2)
    code, out = _small_run(tmp_path, '--max-steps', '5', '--eval-every', '1000', '--eval-images', '4')
    assert code == 0 and _losses_steps(out) == [1, 2, 3, 4, 5]
    captured = capsys.readouterr()
    assert 'Training on 12 images of folder (4 held out for the scores)' in captured.out
    assert 'Done at step 5 (max_steps 5 reached)' in captured.out
    # One bar for the whole run: the fifth epoch's is drawn (its description is drawn as it is set) out of 5 steps,
    # not an epoch's 1 (its last drawing, 5/5, comes only when tqdm's redraw interval has passed)
    assert re.search(r'\rEpoch 5/5: +\d+%\|[^|]*\| [0-4]/5 \[', captured.err), captured.err


def test_epochs_and_max_steps_stop_at_whichever_comes_first(tmp_path, capsys):
    code, _ = _small_run(tmp_path, '--max-steps', '5', '--epochs', '2')
    assert code == 0 and 'Done at step 4 (2 epochs done)' in capsys.readouterr().out
    code, _ = _small_run(tmp_path, '--max-steps', '3', '--epochs', '2', name='b')
    assert code == 0 and 'Done at step 3 (max_steps 3 reached)' in capsys.readouterr().out


# --- One run to a folder -----------------------------------------------------------------------------------

def _files(folder):
    """:return: {path relative to folder: its bytes' identity (size, mtime)} of every file under it"""
    return {os.path.relpath(os.path.join(parent, name), str(folder)): (os.stat(os.path.join(parent, name)).st_size,
                                                                       os.stat(os.path.join(parent, name)).st_mtime_ns)
            for parent, _, names in os.walk(str(folder)) for name in names}


def test_a_new_run_in_a_used_folder_stops_in_one_line_and_changes_nothing(shared_run, tmp_path, capsys):
    out = copy_run(shared_run[0], tmp_path / 'out')
    before = _files(out)
    code = run_script(SHARED_RUN + ['--data-dir', shared_run[1], '--output-dir', out], narrow=True)
    assert code == 1
    assert capsys.readouterr().err == 'error: --output-dir {} holds a run (checkpoints, loss_curve.png, losses.csv, ' \
                                      'real_images.png, ...): add --resume to go on with it, give another ' \
                                      '--output-dir, or --restart to move it aside and start over\n'.format(out)
    assert _files(out) == before


def test_a_second_run_into_a_folder_another_run_is_training_in_is_refused_at_once(tmp_path, capsys):
    """A real second process holds the folder (as a run does while it trains): this one stops, writing nothing"""
    out = tmp_path / 'out'
    out.mkdir()
    holder = subprocess.Popen(
        [sys.executable, '-c', 'import sys; sys.path.insert(0, {!r}); from facegan.core import files\n'
                               'with files.one_at_a_time(files.lock_beside({!r}), "training", ValueError()):\n'
                               '    print("ready", flush=True); sys.stdin.readline()'.format(ROOT, str(out))],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=child_env())
    try:
        assert holder.stdout.readline() == 'ready\n'
        code = _small_run(tmp_path, '--max-steps', '1')[0]
    finally:
        holder.communicate('go\n', timeout=60)
    assert code == 1
    assert capsys.readouterr().err.splitlines()[-1] == 'error: --output-dir {} is in use by another run, training ' \
                                                       'there now: wait for it to end, or give another ' \
                                                       '--output-dir'.format(out)
    assert os.listdir(str(out)) == [] and not os.path.exists(files.lock_beside(str(out)))  # the holder's, removed


def test_a_new_run_whose_logdir_holds_another_runs_events_does_not_suggest_resuming(shared_run, tmp_path, capsys):
    """--resume would go on with the run in --output-dir, which has none: only another --logdir or --restart help"""
    logs = copy_run(shared_run[2], tmp_path / 'logs')
    code = run_script(SHARED_RUN + ['--data-dir', shared_run[1], '--output-dir', str(tmp_path / 'new'), '--logdir',
                                    logs], narrow=True)
    assert code == 1
    err = capsys.readouterr().err
    assert err.startswith('error: --logdir {} holds a run (events.out.tfevents.'.format(logs))
    assert err.endswith('): give another --logdir, or --restart to move it aside and start over\n')


@pytest.mark.parametrize('flag,value,saved', [('--batch-size', '4', 8), ('--z-dim', '32', 100), ('--seed', '5', 0),
                                              ('--eval-images', '16', 8), ('--eval-every', '0', 8)])
def test_resuming_with_a_setting_that_would_change_the_run_is_refused_naming_its_flag(flag, value, saved, shared_run,
                                                                                   tmp_path, capsys):
    out = copy_run(shared_run[0], tmp_path / 'out')
    before = _files(out)
    code = run_script(SHARED_RUN + ['--data-dir', shared_run[1], '--output-dir', out, '--resume', '--max-steps', '5',
                                    flag, value], narrow=True)
    err = capsys.readouterr().err
    setting = 'held_out' if flag.startswith('--eval-') else flag[2:].replace('-', '_')  # --eval-every 0 holds none
    assert code == 1 and err.count('\n') == 1
    assert err.startswith('error: {} {}: the run in {} was trained with {} {}, not {}: resuming would '.format(
        flag, value, out, setting, saved, value))
    assert err.endswith("give the run's own, or start it over (--restart)\n")
    assert _files(out) == before


def test_resuming_with_another_learning_rate_carries_on_with_a_note(shared_run, tmp_path, capsys):
    out = copy_run(shared_run[0], tmp_path / 'out')
    code = run_script(SHARED_RUN + ['--data-dir', shared_run[1], '--output-dir', out, '--resume', '--max-steps', '5',
                                    '--learning-rate', '0.0002'], narrow=True)
    assert code == 0
    notes = [line for line in capsys.readouterr().err.splitlines() if line.startswith('note: resuming')]
    assert len(notes) == 1 and notes[0].startswith(
        'note: resuming with other settings: learning_rate 0.0005 -> 0.0002, max_steps 4 -> 5')
    assert _losses_steps(tmp_path / 'out') == [1, 2, 3, 4, 5]
    saved = json.loads((tmp_path / 'out' / 'run.json').read_text())
    assert saved['learning_rate'] == 0.0002 and saved['max_steps'] == 5


def test_a_restarted_run_is_the_one_generate_and_resume_use(tmp_path, capsys):
    """A 7-step run, then a 5-step one in the same folder with --restart: the first is moved aside, and
    generate and --resume take the second's checkpoint (found by the index file, not by a higher step)"""
    code, out = _small_run(tmp_path, '--max-steps', '7', '--save-every', '7', '--batch-size', '2')
    assert code == 0
    code, _ = _small_run(tmp_path, '--max-steps', '5', '--restart', '--batch-size', '2')
    assert code == 0
    assert sorted(os.listdir(str(out / 'checkpoints'))) == ['checkpoint', 'model-5.data-00000-of-00001',
                                                            'model-5.index']
    previous = out / 'previous-runs' / os.listdir(str(out / 'previous-runs'))[0]
    assert (previous / 'checkpoints' / 'model-7.index').exists() and _losses_steps(previous)[-1] == 7
    for name in ('model-7.index', 'model-7.data-00000-of-00001'):  # a higher step's files, not this run's
        shutil.copy(str(previous / 'checkpoints' / name), str(out / 'checkpoints' / name))
    capsys.readouterr()
    assert run_script(['generate', '--checkpoint', str(out), '--n', '1'], narrow=True) == 0
    restored = []
    real_restore = tf.train.Saver.restore
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tf.train.Saver, 'restore', lambda saver, sess, path: restored.append(path) or real_restore(
            saver, sess, path))
        code, _ = _small_run(tmp_path, '--max-steps', '6', '--resume', '--batch-size', '2')
    assert code == 0 and restored == [str(out / 'checkpoints' / 'model-5')]
    assert _losses_steps(out) == [1, 2, 3, 4, 5, 6]


def _checkpoint_differences(one, other):
    """:return: The names of the variables whose values differ between two checkpoints (of the same variables)"""
    first, second = tf.train.load_checkpoint(one), tf.train.load_checkpoint(other)
    names = sorted(first.get_variable_to_shape_map())
    assert names == sorted(second.get_variable_to_shape_map())
    return [name for name in names if not np.array_equal(first.get_tensor(name), second.get_tensor(name))]


# The discriminator's batch-norm moving averages: model_loss calls the discriminator twice, so two update ops a
# step read and write each of them, in an order TensorFlow leaves open. Nothing reads them: the discriminator
# always normalises with its batch's own statistics (training=True).
DISCRIMINATOR_MOVING_AVERAGE = re.compile(r'^discriminator/batch_normalization(_\d+)?/moving_(mean|variance)$')


def test_the_same_seed_gives_the_same_files_and_weights(shared_run, tmp_path):
    """Every file byte for byte but run.json and the checkpoints, and every checkpoint variable bit for bit but the
    discriminator's moving averages"""
    out = str(tmp_path / 'again')
    assert run_script(SHARED_RUN + ['--data-dir', shared_run[1], '--output-dir', out], narrow=True) == 0
    files = sorted(_files(out))
    assert files == sorted(_files(shared_run[0]))
    different = [name for name in files if name != 'run.json' and not name.startswith('checkpoints' + os.sep) and
                 not filecmp.cmp(os.path.join(out, name), os.path.join(shared_run[0], name), shallow=False)]
    assert different == []
    saved = sorted(name[:-len('.index')] for name in files if name.endswith('.index'))
    assert len(saved) == 2
    for name in saved:
        differ = _checkpoint_differences(os.path.join(out, name), os.path.join(shared_run[0], name))
        assert [variable for variable in differ if not DISCRIMINATOR_MOVING_AVERAGE.match(variable)] == [], name
    settings = [json.loads(open(os.path.join(folder, 'run.json')).read()) for folder in (out, shared_run[0])]
    assert [dict(s, output_dir=None, logdir=None) for s in settings][0] == \
        [dict(s, output_dir=None, logdir=None) for s in settings][1]


# --- Signals -------------------------------------------------------------------------------------------------

def _start(argv, cwd):
    """
    Start the script in its own process, its networks narrow (narrow_script.py: a signal's handling does not depend
    on them); :return: the Popen, its stdout read line by line
    """
    return subprocess.Popen([sys.executable, narrow_script.__file__] + argv, cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=child_env(PYTHONUNBUFFERED='1'), preexec_fn=terminal_signals)


def _wait_for(proc, text):
    """
    Read the process's stdout until a line holds text (never a sleep); a process that has not printed it within
    GUARD_SECONDS is killed, so a script that never gets there fails the test instead of hanging the suite
    :return: The lines read
    """
    lines, watchdog = [], threading.Timer(GUARD_SECONDS, proc.kill)
    watchdog.start()
    try:
        for line in proc.stdout:
            lines.append(line)
            if text in line:
                return lines
    finally:
        watchdog.cancel()
    raise AssertionError('the process ended (or was killed after {} s) before printing {!r}: {}'.format(
        GUARD_SECONDS, text, ''.join(lines)))


def _stderr_at_end(proc):
    """:return: The process's stderr once it has ended (after a signal); one still running after GUARD_SECONDS is
    killed and fails the test, rather than training on after the suite"""
    try:
        return proc.communicate(timeout=GUARD_SECONDS)[1]
    except subprocess.TimeoutExpired:
        proc.kill()
        raise AssertionError('the process had not ended {} s after the signal: {}'.format(
            GUARD_SECONDS, proc.communicate()[1][-2000:])) from None


_PAUSE_AT_IMPORT = """
import importlib.abc, runpy, sys


class PauseAtImport(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == {module!r}:
            sys.meta_path.remove(self)
            print('importing', name, flush=True)
            sys.stdin.readline()  # until the test has sent its signal
        return None


sys.meta_path.insert(0, PauseAtImport())
sys.path.insert(0, {root!r})
sys.argv = [{script!r}] + {argv!r}
runpy.run_path({script!r}, run_name='__main__')
"""


def _start_paused_at_import(module, argv, cwd):
    """
    Start the script in its own process, as _start does, that pauses when it first imports module
    (printing 'importing MODULE') until a line comes on its stdin: :return: the Popen
    """
    script = os.path.join(ROOT, 'dlnd_face_generation.py')
    code = _PAUSE_AT_IMPORT.format(module=module, root=ROOT, script=script, argv=argv)
    return subprocess.Popen([sys.executable, '-c', code], cwd=cwd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=child_env(PYTHONUNBUFFERED='1'),
                            preexec_fn=terminal_signals)


def _signal_at(stage, signum, tmp_path):
    """
    Run the script on a folder of images and send it signum at a stage of its start
    :param stage: 'numpy' or 'tensorflow' (while the script imports it), or 'cells' (TensorFlow is loaded, the
                  notebook's cells run: the check cell printed the version; the run is long, so still going)
    :return: (exit code, stderr)
    """
    argv = ['--dataset', 'folder', '--data-dir', faces(tmp_path / 'data', 8), '--batch-size', '4',
            '--max-steps', '100000', '--output-dir', str(tmp_path / 'out')]
    if stage == 'cells':
        proc = _start(argv, str(tmp_path))
        _wait_for(proc, 'TensorFlow Version:')
    else:
        proc = _start_paused_at_import(stage, argv, str(tmp_path))
        _wait_for(proc, 'importing ' + stage)
    proc.send_signal(signum)
    err = _stderr_at_end(proc)
    return proc.returncode, err


# A progress bar's drawing (tqdm's 'DESCRIPTION: NN%|bar| n/total [...]'), which is not a message: the image cache's
# and training's bars are on stderr before the cells' stage is interrupted
PROGRESS_BAR = re.compile(r'(.*: )?\s*\d{1,3}%\|')


def _messages(stderr):
    """
    :param stderr: What a run of the script wrote on stderr
    :return: Its messages: each line, and each part of a line a carriage return sets apart (a progress bar redraws
             itself after one, and clears itself with spaces), less the progress bars' drawings and blank parts
    """
    parts = [part.strip() for line in stderr.split('\n') for part in line.split('\r')]
    return [part for part in parts if part and not PROGRESS_BAR.match(part)]


# Each stage once and each signal once: interrupts.install gives the three signals one handler, so a signal
# at another stage would run the same code again
@pytest.mark.parametrize('stage,signum', [('numpy', signal.SIGHUP), ('tensorflow', signal.SIGTERM),
                                          ('cells', signal.SIGINT)])
def test_a_signal_during_start_up_is_one_line_and_exit_130(stage, signum, tmp_path):
    """
    From the script's first line on: while it imports numpy (its first), TensorFlow, or runs the cells. One line is
    promised: before the cells it is all of stderr; in the cells the progress bars may come before it, and the line
    is the only message (the run may have begun its first step: then it saved a checkpoint and says where)
    """
    exit_code, err = _signal_at(stage, signum, tmp_path)
    assert exit_code == 130 and 'Traceback' not in err
    if stage != 'cells':
        assert err.strip().splitlines() == [interrupts.INTERRUPTED]
        return
    messages = _messages(err)
    assert len(messages) == 1, messages
    assert messages[0] == interrupts.INTERRUPTED or re.fullmatch(
        r'error: interrupted at step \d+: saved .+; resume the run in .+ to go on: run the same command with --resume',
        messages[0]), messages
    assert err.endswith(messages[0] + '\n')  # the last thing said


@pytest.mark.parametrize('chained', ['cause', 'context'])
def test_ctrl_c_that_tensorflow_turns_into_its_own_error_in_session_run_is_one_line_and_exit_130(
        chained, tmp_path, capsys, monkeypatch, exits):
    """
    Ctrl-C while TensorFlow runs Python code of its own inside session.run: TensorFlow raises its own error, the
    KeyboardInterrupt its cause (raise ... from) or its context (raised while handling it). Faked at train()'s first
    session.run (its initializer), where no step is under way and the run's flag has not taken Ctrl-C over yet. In
    this process: the error must leave runs.train as the interruption it is, interrupts.Interrupted (not as a failure
    of the learner's train()), which the script's last word says in one line, exit code 130 (conftest.run_script
    says it as interrupts.install's hook does, which the signal tests run in processes of their own)
    """
    def interrupted_run(self, *args, **kwargs):
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt as interrupt:
            if chained == 'cause':
                raise dlnd.tf.errors.UnknownError(None, None, 'KeyboardInterrupt') from interrupt
            raise dlnd.tf.errors.UnknownError(None, None, 'KeyboardInterrupt')

    monkeypatch.setattr(dlnd.tf.Session, 'run', interrupted_run)  # no signal comes: the error's chain alone says it
    argv = ['--dataset', 'folder', '--data-dir', faces(tmp_path / 'data', 8), '--batch-size', '4', '--max-steps', '1',
            '--output-dir', str(tmp_path / 'out')]
    assert run_script(argv, narrow=True) == 130
    err = capsys.readouterr().err
    assert 'Traceback' not in err and 'train() failed' not in err, err[-2000:]
    assert err.splitlines()[-1] == interrupts.INTERRUPTED


def test_a_signal_during_training_saves_a_checkpoint_and_says_how_to_resume(tmp_path, signum=signal.SIGTERM):
    out = tmp_path / 'out'
    proc = _start(['--dataset', 'folder', '--data-dir', faces(tmp_path / 'data', 8), '--batch-size', '4',
                   '--max-steps', '100000', '--output-dir', str(out), '--eval-every', '0'], str(tmp_path))
    _wait_for(proc, 'Discriminator Loss')  # step 10 is done
    proc.send_signal(signum)
    err = _stderr_at_end(proc)
    assert proc.returncode == 130 and 'Traceback' not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith('error: interrupted at step ') and last.endswith('run the same command with --resume')
    assert _messages(err) == [last]  # the one message: the rest of stderr is progress bars
    step = int(last.split('interrupted at step ')[1].split(':')[0])
    assert step >= 10 and (out / 'checkpoints' / 'model-{}.index'.format(step)).exists()
