"""The command line: --help, one-line errors with exit code 2, and a tiny end-to-end run."""
import os
import subprocess
import sys

import pytest

import dlnd_face_generation as dlnd

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FLAGS = ['--dataset', '--data-dir', '--epochs', '--batch-size', '--z-dim', '--learning-rate', '--beta1',
         '--max-steps', '--output-dir', '--seed']


def test_help_explains_every_flag(capsys):
    with pytest.raises(SystemExit) as exit_info:
        dlnd.main(['--help'])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for flag in FLAGS:
        assert flag in out
    assert 'synthetic' in out and 'mnist' in out and 'celeba' in out


@pytest.mark.parametrize('argv,expected', [
    (['--epochs', '-1'], '--epochs: must be at least 1, got -1'),
    (['--batch-size', '0'], '--batch-size: must be at least 1, got 0'),
    (['--dataset', 'cifar'], "--dataset: invalid choice: 'cifar'"),
    (['--learning-rate', '-1'], '--learning-rate: must be a number above 0, got -1'),
    (['--learning-rate', 'nan'], '--learning-rate: must be a number above 0, got nan'),
    (['--beta1', '1'], '--beta1: must be in [0, 1), got 1'),
    (['--epochs', 'two'], "--epochs: expected a whole number, got 'two'"),
])
def test_bad_values_get_one_line_and_exit_code_2(argv, expected, capsys, tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        dlnd.main(argv + ['--data-dir', str(tmp_path / 'data')])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and expected in err and 'Traceback' not in err
    assert not os.path.exists(str(tmp_path / 'data'))  # rejected before any work


def test_batch_larger_than_dataset_is_a_usage_error(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(dlnd, 'SYNTHETIC_FACES', 12)
    with pytest.raises(SystemExit) as exit_info:
        dlnd.main(['--batch-size', '13', '--data-dir', str(tmp_path / 'data'), '--output-dir', str(tmp_path / 'out')])
    assert exit_info.value.code == 2
    err_lines = capsys.readouterr().err.strip().splitlines()  # after the progress bar's line
    assert err_lines[-1].endswith('error: --batch-size 13 is larger than the 12 images in synthetic (see --help)')
    assert not os.path.exists(str(tmp_path / 'out' / 'samples_final.png'))


def test_script_exit_code_and_message_from_a_shell(tmp_path):
    result = subprocess.run([sys.executable, 'dlnd_face_generation.py', '--batch-size', '0'], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        'dlnd_face_generation.py: error: argument --batch-size: must be at least 1, got 0 (see --help)']


def test_importing_the_script_trains_and_downloads_nothing(tmp_path):
    code = 'import dlnd_face_generation, os; print(sorted(os.listdir(".")))'
    result = subprocess.run([sys.executable, '-c', 'import sys; sys.path.insert(0, {!r}); '.format(ROOT) + code],
                            cwd=str(tmp_path), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == '[]'


def test_main_runs_end_to_end_on_tiny_synthetic_data(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(dlnd, 'SYNTHETIC_FACES', 16)
    out = str(tmp_path / 'out')
    code = dlnd.main(['--batch-size', '8', '--max-steps', '2', '--data-dir', str(tmp_path / 'data'),
                      '--output-dir', out])
    assert code == 0
    assert sorted(os.listdir(out)) == ['real_images.png', 'samples_final.png']
    stdout = capsys.readouterr().out
    assert 'TensorFlow Version: ' in stdout and 'samples_final.png' in stdout
