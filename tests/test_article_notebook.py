"""
The exercise notebook filled in as a learner would, with the article's functions as printed (only
the gone tf.contrib initializer replaced): the problem tests stop the keep_prob-as-rate slip
before training, in one line; with the slip fixed, the notebook trains.
"""
import inspect
import os
import re
import sys

import pytest

import article_code
import dlnd_face_generation as dlnd
import helper
from conftest import SCRIPT
from tools import make_notebooks


def _source_named(function, name):
    """:return: function's source, as a top-level function called name"""
    source = inspect.getsource(function)
    return re.sub(r'^def \w+\(', 'def {}('.format(name), source, count=1)


def _filled_exercise(generator):
    """
    :param generator: The article's generator, as printed or fixed
    :return: The exercise notebook's code cells, one script, with its five stubs filled in: the
             article's discriminator, generator and model_loss, the template's model_inputs and
             model_opt as the solution writes them
    """
    answers = {'model_inputs': dlnd.model_inputs, 'discriminator': article_code.discriminator,
               'generator': generator, 'model_loss': article_code.model_loss, 'model_opt': dlnd.model_opt}
    cells = []
    for cell in make_notebooks.exercise_notebook().cells:
        if cell.cell_type != 'code':
            continue
        source = cell.source
        for name, function in answers.items():
            if 'def {}('.format(name) in source:
                stub, _, rest = source.partition("\n\n\nif __name__ == '__main__':")
                assert 'return None' in stub
                source = _source_named(function, name) + "\n\nif __name__ == '__main__':" + rest
        cells.append(source)
    return '\n\n'.join(cells)


def _run_notebook(source, argv, tmp_path, monkeypatch):
    """Run the filled notebook in this process, as its cells run in a kernel, with the command line argv."""
    monkeypatch.setattr(sys, 'argv', [SCRIPT] + argv)
    monkeypatch.chdir(tmp_path)
    exec(compile(source, 'exercise/dlnd_face_generation.ipynb', 'exec'), {'__name__': '__main__'})


def _small_run(tmp_path):
    """:return: The command line of a 3-step run on a folder of 24 synthetic faces"""
    faces = helper.make_synthetic_faces(str(tmp_path / 'data'), 24, seed=0)
    return ['--dataset', 'folder', '--data-dir', faces, '--batch-size', '8', '--max-steps', '3', '--eval-every', '0',
            '--output-dir', str(tmp_path / 'out')]


def test_the_articles_code_as_printed_stops_at_the_generators_problem_test(tmp_path, monkeypatch, capsys):
    with pytest.raises(AssertionError) as err:
        _run_notebook(_filled_exercise(article_code.generator), _small_run(tmp_path), tmp_path, monkeypatch)
    message = str(err.value)
    assert '\n' not in message and message.startswith('generator: keep_prob=1.0 in training mode')
    assert 'pass rate=1 - keep_prob' in message
    assert capsys.readouterr().out.count('Tests Passed') == 2  # model_inputs and discriminator passed first
    assert not os.path.exists(str(tmp_path / 'out' / 'checkpoints'))  # stopped before training


def test_the_articles_code_with_the_slip_fixed_trains(tmp_path, monkeypatch, capsys):
    _run_notebook(_filled_exercise(article_code.generator_fixed), _small_run(tmp_path), tmp_path, monkeypatch)
    out = capsys.readouterr().out
    assert out.count('Tests Passed') == 5
    assert 'Done at step 3 (--max-steps 3 reached)' in out
    assert os.path.exists(str(tmp_path / 'out' / 'checkpoints' / 'model-3.index'))
