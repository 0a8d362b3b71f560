"""The command line: --help, one-line errors with exit code 2, and a tiny end-to-end run."""
import argparse
import functools
import os
import signal
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

import dlnd_face_generation as dlnd
from conftest import child_env, run_script, use_few_synthetic_faces
from facegan import command_line, generation, interrupts, tensorflow_setup, training_run
from facegan.errors import TrainingStopped

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Each flag of --help, and a word its help must hold: what the value is, in the words a user looks for
TRAINING_HELP = {'--dataset': 'download', '--data-dir': 'folder', '--channels': 'grayscale', '--epochs': 'passes',
                 '--batch-size': 'images per step', '--z-dim': 'noise', '--learning-rate': 'Adam',
                 '--beta1': 'Adam', '--max-steps': 'steps', '--output-dir': 'checkpoints', '--seed': 'numpy',
                 '--show-every': 'grid', '--save-every': 'checkpoint', '--resume': 'newest checkpoint',
                 '--eval-every': 'Wasserstein', '--eval-images': 'held-out', '--logdir': 'TensorBoard',
                 '--precision': 'bfloat16', '--update-order': 'session.run', '--keep-checkpoints': 'newest',
                 '--no-fast-layers': 'transposed convolutions'}
SUBCOMMAND_HELP = {
    'generate': {'--checkpoint': 'output-dir', '--n': 'faces', '--seed': 'same faces', '--output-dir': 'PNGs',
                 '--channels': 'channels', '--z-dim': 'z length', '--no-fast-layers': 'transposed convolutions',
                 '--z': 'saved z', '--walk': 'slerped'},
    'evaluate': {'--checkpoint': 'output-dir', '--dataset': 'download', '--data-dir': 'folder',
                 '--channels': 'grayscale', '--eval-images': 'images', '--seed': 'metric',
                 '--no-fast-layers': 'transposed convolutions', '--nearest': 'memorisation',
                 '--output-dir': 'nearest.png'},
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


def check_every_flag_explained(out, words, parser):
    """
    Each flag's help is a phrase (three words or more) holding its word, and shows the default where
    the flag has one
    :param out: What --help printed
    :param words: {flag: a word its help must hold}
    :param parser: The parser that printed it, for which flags have a default
    """
    texts = help_texts(out)
    assert set(words) <= set(texts), set(words) - set(texts)
    for flag, word in words.items():
        assert word in texts[flag] and len(texts[flag].split()) >= 3, (flag, texts[flag])
    for action in parser._actions:
        if action.default not in (None, False, True, argparse.SUPPRESS):
            assert texts[action.option_strings[-1]].endswith('(default: {})'.format(action.default)), action


def test_help_explains_every_flag(capsys):
    assert run_script(['--help']) == 0
    out = capsys.readouterr().out
    check_every_flag_explained(out, TRAINING_HELP, command_line.build_parser())
    words = ' '.join(out.split())  # argparse wraps the epilog
    assert 'generate --checkpoint' in words and 'evaluate --checkpoint' in words


@pytest.mark.parametrize('command', ['generate', 'evaluate'])
def test_subcommand_help_explains_every_flag(command, capsys):
    assert run_script([command, '--help']) == 0
    out = capsys.readouterr().out
    assert out.startswith('usage: dlnd_face_generation.py {}'.format(command))
    parser = {'generate': command_line.build_generate_parser, 'evaluate': command_line.build_evaluate_parser}
    check_every_flag_explained(out, SUBCOMMAND_HELP[command], parser[command]())


@pytest.mark.parametrize('argv,expected', [
    (['--epochs', '-1'], '--epochs: must be at least 1, got -1'),
    (['--batch-size', '0'], '--batch-size: must be at least 1, got 0'),
    (['--dataset', 'cifar'], "--dataset: invalid choice: 'cifar'"),
    (['--learning-rate', '-1'], '--learning-rate: must be a number above 0, got -1'),
    (['--learning-rate', 'nan'], '--learning-rate: must be a number above 0, got nan'),
    (['--beta1', '1'], '--beta1: must be in [0, 1), got 1'),
    (['--epochs', 'two'], "--epochs: expected a whole number, got 'two'"),
    (['--precision', 'float16'], "--precision: invalid choice: 'float16'"),
    (['--seed', '-1'], '--seed: must be from 0 to 4294967295, got -1'),
    (['--seed', str(2 ** 32)], '--seed: must be from 0 to 4294967295, got 4294967296'),
    (['--update-order', 'random'], "--update-order: invalid choice: 'random'"),
])
def test_bad_values_get_one_line_and_exit_code_2(argv, expected, capsys, tmp_path):
    assert run_script(argv + ['--data-dir', str(tmp_path / 'data')]) == 2
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and expected in err and 'Traceback' not in err
    assert not os.path.exists(str(tmp_path / 'data'))  # rejected before any work


@pytest.mark.parametrize('flag', ['--logdir', '--output-dir'])
def test_a_file_where_a_folder_flag_points_names_that_flag(flag, tmp_path, capsys):
    a_file = tmp_path / 'a_file'
    a_file.write_text('not a folder')
    argv = ['--data-dir', str(tmp_path / 'data'), '--output-dir', str(tmp_path / 'out'), flag, str(a_file)]
    assert run_script(argv) == 1
    assert capsys.readouterr().err == 'error: cannot write to {} {} (File exists): choose another folder\n'.format(
        flag, a_file)
    assert not os.path.exists(str(tmp_path / 'data'))  # refused before any work


@pytest.mark.skipif(not hasattr(os, 'geteuid') or os.geteuid() == 0, reason='root may write to any folder')
def test_a_logdir_without_write_permission_is_one_line_naming_it(tmp_path, capsys):
    logdir = tmp_path / 'read_only'
    logdir.mkdir()
    logdir.chmod(0o555)
    try:
        code = run_script(['--data-dir', str(tmp_path / 'data'), '--output-dir', str(tmp_path / 'out'),
                           '--logdir', str(logdir)])
    finally:
        logdir.chmod(0o755)
    assert code == 1
    assert capsys.readouterr().err == 'error: cannot write to --logdir {} (Permission denied): choose another ' \
                                      'folder\n'.format(logdir)


def test_batch_larger_than_dataset_is_a_usage_error(tmp_path, capsys, monkeypatch):
    use_few_synthetic_faces(monkeypatch, 12)
    assert run_script(['--batch-size', '13', '--data-dir', str(tmp_path / 'data'), '--output-dir', str(tmp_path / 'out')]) == 2
    err_lines = capsys.readouterr().err.strip().splitlines()  # after the progress bar's line
    assert err_lines[-1].endswith('error: --batch-size 13 is larger than the 12 images in synthetic (see --help)')
    assert not os.path.exists(str(tmp_path / 'out' / 'samples_final.png'))


@pytest.mark.parametrize('log_level', [None, '2', '0'])
def test_script_exit_code_and_message_from_a_shell(log_level, tmp_path):
    """
    With TF_CPP_MIN_LOG_LEVEL unset the program keeps TensorFlow's C++ log quiet: the error is all
    of stderr. A user who set a level gets what they asked for (at 2 TensorFlow's cuInit error, at 0
    its INFO lines too, where there is no GPU), and the one-line error is still the last line.
    """
    result = subprocess.run([sys.executable, 'dlnd_face_generation.py', '--batch-size', '0'], cwd=ROOT,
                            capture_output=True, text=True, timeout=300,
                            env=child_env(TF_CPP_MIN_LOG_LEVEL=log_level))
    assert result.returncode == 2
    assert 'Tests Passed' not in result.stdout  # the flags are read first: nothing ran
    error = 'dlnd_face_generation.py: error: argument --batch-size: must be at least 1, got 0 (see --help)'
    lines = result.stderr.strip().splitlines()
    if log_level is None:
        assert lines == [error]
    else:
        assert lines[-1] == error and lines.count(error) == 1 and 'Traceback' not in result.stderr


def test_importing_the_script_trains_and_downloads_nothing(tmp_path):
    code = 'import dlnd_face_generation, os; print(sorted(os.listdir(".")))'
    result = subprocess.run([sys.executable, '-c', 'import sys; sys.path.insert(0, {!r}); '.format(ROOT) + code],
                            cwd=str(tmp_path), capture_output=True, text=True, timeout=300, env=child_env())
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == '[]'


def test_main_runs_end_to_end_on_tiny_synthetic_data(tmp_path, capsys, monkeypatch):
    use_few_synthetic_faces(monkeypatch, 16)
    out = str(tmp_path / 'out')
    code = run_script(['--batch-size', '8', '--max-steps', '2', '--data-dir', str(tmp_path / 'data'),
                      '--output-dir', out])
    assert code == 0
    assert sorted(os.listdir(out)) == ['checkpoints', 'loss_curve.png', 'losses.csv', 'real_images.png',
                                       'samples.gif', 'samples_final.png']
    stdout = capsys.readouterr().out
    assert 'TensorFlow Version: ' in stdout
    assert 'Done at step 2 (--max-steps 2 reached). In {}: samples_final.png, loss_curve.png, samples.gif, ' \
           'checkpoints/'.format(out) in stdout


@pytest.mark.parametrize('flags,precision,why', [
    ('avx512f avx512_bf16', 'bfloat16', 'the CPU has AVX512_BF16'),
    ('avx512f amx_tile amx_bf16', 'bfloat16', 'the CPU has AMX_BF16'),
    ('avx2 avx512f', 'float32', 'the CPU has neither AMX_BF16 nor AVX512_BF16'),
])
def test_precision_auto_follows_the_cpu_and_says_so(flags, precision, why, tmp_path, capsys, monkeypatch):
    use_few_synthetic_faces(monkeypatch, 16)
    cpuinfo = tmp_path / 'cpuinfo'  # the CPU's flags, faked
    cpuinfo.write_text('processor\t: 0\nflags\t\t: fpu sse2 {}\n'.format(flags))
    monkeypatch.setattr(tensorflow_setup, 'cpu_bfloat16_support',
                        functools.partial(tensorflow_setup.cpu_bfloat16_support, str(cpuinfo)))
    chosen = []

    def session_config(value='float32'):
        chosen.append(value)  # what the session would compute in; no need to train a step to see it
        raise TrainingStopped('stopped where the session starts')
    monkeypatch.setattr(training_run, 'session_config', session_config)
    argv = ['--batch-size', '8', '--max-steps', '1', '--data-dir', str(tmp_path / 'data'), '--output-dir',
            str(tmp_path / 'out')]
    assert run_script(argv) == 1
    assert chosen == [precision]
    assert 'Precision: {} (--precision auto: {})\n'.format(precision, why) in capsys.readouterr().out
    assert run_script(argv + ['--precision', 'float32', '--output-dir', str(tmp_path / 'out2')]) == 1
    assert chosen == [precision, 'float32']


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
                      '--batch-size', '4', '--max-steps', '1', '--output-dir', out])
    assert code == 0
    with Image.open(os.path.join(out, 'samples_final.png')) as grid, \
            Image.open(os.path.join(out, 'real_images.png')) as real:
        assert grid.mode == 'L' and real.mode == 'L' and real.size == (4 * 3 * 28, 4 * 3 * 28)


def test_folder_with_fewer_images_than_a_batch_is_refused_before_training(tmp_path, capsys):
    _folder_of_images(str(tmp_path / 'pics'), 3)
    assert run_script(['--dataset', 'folder', '--data-dir', str(tmp_path / 'pics'), '--output-dir', str(tmp_path / 'out')]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].endswith('error: --batch-size 16 is larger than the 3 images in folder (see --help)')


@pytest.mark.parametrize('make,expected', [
    (lambda path: os.makedirs(path), 'No images for the folder dataset: --data-dir {} has no jpg, jpeg or png files'),
    (lambda path: None, 'is not a folder: point it at a folder of images'),
])
def test_empty_or_missing_folder_is_one_line_error(tmp_path, capsys, make, expected):
    folder = str(tmp_path / 'pics')
    make(folder)
    code = run_script(['--dataset', 'folder', '--data-dir', folder, '--output-dir', str(tmp_path / 'out')])
    err = capsys.readouterr().err
    assert code == 1 and err.count('\n') == 1 and expected.format(folder) in err


def _tiny_synthetic_run(tmp_path, monkeypatch, *flags):
    """Train on 16 synthetic faces at batch 8 (2 steps an epoch, no scores): :return: (exit code, stdout)"""
    use_few_synthetic_faces(monkeypatch, 16)
    out = tmp_path / 'out'
    code = run_script(['--batch-size', '8', '--data-dir', str(tmp_path / 'data'), '--output-dir', str(out),
                     '--show-every', '1000'] + list(flags))
    return code, out


def test_max_steps_alone_trains_that_many_steps_over_as_many_epochs(tmp_path, capsys, monkeypatch):
    code, out = _tiny_synthetic_run(tmp_path, monkeypatch, '--max-steps', '5')
    assert code == 0
    assert np.genfromtxt(str(out / 'losses.csv'), delimiter=',', names=True)['step'].tolist() == [1, 2, 3, 4, 5]
    captured = capsys.readouterr()
    assert 'Done at step 5 (--max-steps 5 reached)' in captured.out
    assert 'Epoch 3/3' in captured.err and '5/5' in captured.err  # one bar for the whole run


def test_epochs_and_max_steps_stop_at_whichever_comes_first(tmp_path, capsys, monkeypatch):
    code, _ = _tiny_synthetic_run(tmp_path, monkeypatch, '--max-steps', '5', '--epochs', '2')
    assert code == 0 and 'Done at step 4 (2 epochs done)' in capsys.readouterr().out
    code, _ = _tiny_synthetic_run(tmp_path / 'b', monkeypatch, '--max-steps', '3', '--epochs', '2')
    assert code == 0 and 'Done at step 3 (--max-steps 3 reached)' in capsys.readouterr().out


def _trained_run(tmp_path, monkeypatch):
    code, out = _tiny_synthetic_run(tmp_path, monkeypatch, '--max-steps', '1')
    assert code == 0
    return out


def test_generate_draws_in_batches_the_same_faces(tmp_path, capsys, monkeypatch):
    """Memory does not grow with --n: faces are drawn and written GENERATE_BATCH at a time, the same faces."""
    run = _trained_run(tmp_path, monkeypatch)
    batch_sizes = []
    real_run = dlnd.tf.Session.run

    def spy_run(self, fetches, feed_dict=None, **kwargs):
        batch_sizes.extend(len(value) for key, value in (feed_dict or {}).items() if getattr(key, 'name', '') == 'input_z:0')
        return real_run(self, fetches, feed_dict=feed_dict, **kwargs)

    assert run_script(['generate', '--checkpoint', str(run), '--n', '10', '--output-dir', str(tmp_path / 'one')]) == 0
    monkeypatch.setattr(dlnd.tf.Session, 'run', spy_run)
    monkeypatch.setattr(generation, 'GENERATE_BATCH', 4)
    monkeypatch.setattr(generation, 'GRID_FACES', 4)
    assert run_script(['generate', '--checkpoint', str(run), '--n', '10', '--output-dir', str(tmp_path / 'four')]) == 0
    assert batch_sizes == [4, 4, 4]  # the last batch padded: one batch shape, whatever --n
    for i in range(10):
        name = 'face_{:03d}.png'.format(i)
        with Image.open(str(tmp_path / 'one' / name)) as one, Image.open(str(tmp_path / 'four' / name)) as four:
            # The same face, to the pixel: the matrix products round the same way for one batch shape
            assert (np.asarray(one) == np.asarray(four)).all()
    with Image.open(str(tmp_path / 'four' / 'grid.png')) as grid:
        assert grid.size == (4 * 2 * 28, 4 * 2 * 28)  # the first GRID_FACES, 4x enlarged
    assert sorted(os.listdir(str(tmp_path / 'four'))) == sorted(os.listdir(str(tmp_path / 'one')))  # no temp files


@pytest.mark.parametrize('what,expected', [
    ('output-dir is a file', 'cannot write to --output-dir'),
    ('checkpoint is a file', 'is not a checkpoint'),
    ('another model', 'lacks 1 of the 1 variables this model needs (e.g. sample_z)'),
    ('negative seed', None),
])
def test_generate_problems_are_one_line(what, expected, tmp_path, capsys, monkeypatch):
    run = _trained_run(tmp_path, monkeypatch)
    capsys.readouterr()
    a_file = tmp_path / 'a_file.txt'
    a_file.write_text('not a checkpoint')
    argv = ['generate', '--checkpoint', str(run)]
    if what == 'output-dir is a file':
        argv += ['--output-dir', str(a_file)]
    elif what == 'checkpoint is a file':
        argv = ['generate', '--checkpoint', str(a_file)]
    elif what == 'another model':
        with dlnd.tf.Graph().as_default():
            dlnd.tf.Variable([1.0], name='something_else')
            with dlnd.tf.Session() as sess:
                sess.run(dlnd.tf.global_variables_initializer())
                prefix = dlnd.tf.train.Saver().save(sess, str(tmp_path / 'other' / 'model'), global_step=1)
        argv = ['generate', '--checkpoint', prefix]
    else:
        assert run_script(argv + ['--seed', '-1']) == 2 and capsys.readouterr().err.count('\n') == 1
        return
    assert run_script(argv) == 1
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and expected in err and 'Traceback' not in err


def _start(argv, cwd):
    """Start the script in its own process; :return: the Popen, its stdout read line by line"""
    env = child_env(PYTHONUNBUFFERED='1')
    # A shell starts a background job with Ctrl-C ignored, and its children inherit that: give the
    # script the default, as a terminal would
    return subprocess.Popen([sys.executable, os.path.join(ROOT, 'dlnd_face_generation.py')] + argv, cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def _wait_for(proc, text):
    """Read the process's stdout until a line holds text (never a sleep): :return: the lines read"""
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if text in line:
            return lines
    raise AssertionError('the process ended before printing {!r}: {}'.format(text, ''.join(lines)))


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
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def _signal_at(stage, signum, tmp_path):
    """
    Run the script on a folder of images and send it signum at a stage of its start
    :param stage: 'numpy' or 'tensorflow' (while the first cell imports it), or 'cells' (the first
                  cell's problem test has passed: TensorFlow is loaded, the notebook's cells run)
    :return: (exit code, stderr)
    """
    _folder_of_images(str(tmp_path / 'pics'), 8)
    argv = ['--dataset', 'folder', '--data-dir', str(tmp_path / 'pics'), '--batch-size', '4',
            '--output-dir', str(tmp_path / 'out')]
    if stage == 'cells':
        proc = _start(argv, str(tmp_path))
        _wait_for(proc, 'Tests Passed')
    else:
        proc = _start_paused_at_import(stage, argv, str(tmp_path))
        _wait_for(proc, 'importing ' + stage)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=300)
    return proc.returncode, err


@pytest.mark.parametrize('stage,signum', [('numpy', signal.SIGTERM), ('numpy', signal.SIGHUP),
                                          ('tensorflow', signal.SIGTERM), ('tensorflow', signal.SIGHUP),
                                          ('cells', signal.SIGINT), ('cells', signal.SIGTERM), ('cells', signal.SIGHUP)])
def test_a_signal_during_start_up_is_one_line_and_exit_130(stage, signum, tmp_path):
    """From the script's first line on: while it imports numpy (its first), TensorFlow, or runs the cells."""
    exit_code, err = _signal_at(stage, signum, tmp_path)
    lines = err.strip().splitlines()
    assert exit_code == 130 and lines[-1] == interrupts.INTERRUPTED
    # Before the cells run the line is all of stderr; after, the image cache's progress bar comes first
    assert lines == [interrupts.INTERRUPTED] if stage != 'cells' else 'Traceback' not in err and len(lines) <= 3


@pytest.mark.parametrize('signum', [signal.SIGTERM, signal.SIGHUP])
def test_a_signal_during_training_saves_a_checkpoint_and_says_how_to_resume(signum, tmp_path):
    _folder_of_images(str(tmp_path / 'pics'), 8)
    out = tmp_path / 'out'
    proc = _start(['--dataset', 'folder', '--data-dir', str(tmp_path / 'pics'), '--batch-size', '4',
                   '--max-steps', '100000', '--output-dir', str(out), '--eval-every', '0'], str(tmp_path))
    _wait_for(proc, 'Discriminator Loss')  # step 10 is done
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 130 and 'Traceback' not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith('error: interrupted at step ') and '--resume' in last
    step = int(last.split('interrupted at step ')[1].split(':')[0])
    assert step >= 10 and (out / 'checkpoints' / 'model-{}.index'.format(step)).exists()


def test_the_script_opens_with_the_notebook_and_keeps_the_command_line_out_of_its_cells():
    with open(os.path.join(ROOT, 'dlnd_face_generation.py')) as f:
        lines = f.read().splitlines()
    cells = [i for i, line in enumerate(lines) if line.startswith('# %%')]
    assert cells[0] < 30 and lines[cells[0]] == '# %% [markdown]'
    assert not any('argparse' in line or 'add_argument' in line for line in lines)
    # the graded functions, each followed by its problem unit test, in the notebook's order
    order = [line.split('(')[0] for line in lines if line.startswith(('def ', '    tests.test_'))]
    graded = ['model_inputs', 'discriminator', 'generator', 'model_loss', 'model_opt']
    assert [name for name in order if name.split()[-1] in graded or 'tests.' in name] == [
        item for name in graded for item in ('def ' + name, '    tests.test_' + name)]
