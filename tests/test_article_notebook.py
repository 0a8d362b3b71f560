"""
The exercise notebook filled in as a learner would, with the article's functions as printed (only the
gone tf.contrib initializer replaced), its cells run in order in this process: the problem tests stop
the keep_prob-as-rate slip before training, in one line; with the slip fixed, the cells pass and the
run cell trains.
"""
import inspect
import os
import re

import pytest

import article_code
from kernels import notebook_cwd  # noqa: F401  (a fixture)
from test_notebooks import filled_exercise, solution_answers


def _article(function, name):
    """:return: The article's function's source, named as the notebook names it"""
    return re.sub(r'^def \w+\(', 'def {}('.format(name), inspect.getsource(function), count=1)


def _cells(generator):
    """:return: The filled exercise's code cells up to train()'s, magics left out (this process is no kernel)"""
    answers = dict(solution_answers(), discriminator=_article(article_code.discriminator, 'discriminator'),
                   generator=_article(generator, 'generator'), model_loss=_article(article_code.model_loss,
                                                                                   'model_loss'))
    cells = [cell.source for cell in filled_exercise(answers).cells if cell.cell_type == 'code']
    last = next(i for i, source in enumerate(cells) if 'def train(' in source)
    return ['\n'.join(line for line in source.split('\n') if not line.startswith('%')) for source in cells[:last + 1]]


def _run(cells, cwd, monkeypatch):
    """Run cells in order in one namespace, in cwd: :return: the namespace"""
    monkeypatch.chdir(cwd)
    namespace = {'__name__': '__main__'}
    for source in cells:
        exec(compile(source, '<cell>', 'exec'), namespace)
    return namespace


def test_the_articles_code_as_printed_stops_at_the_generators_problem_test(notebook_cwd, monkeypatch, capsys):
    with pytest.raises(AssertionError) as err:
        _run(_cells(article_code.generator), notebook_cwd, monkeypatch)
    message = str(err.value)
    assert '\n' not in message and message.startswith('generator: keep_prob=1.0 in training mode')
    assert 'pass rate=1 - keep_prob' in message
    assert capsys.readouterr().out.count('Tests Passed') == 2  # model_inputs and discriminator passed first


def test_the_articles_code_with_the_slip_fixed_trains(notebook_cwd, monkeypatch, capsys):
    namespace = _run(_cells(article_code.generator_fixed), notebook_cwd, monkeypatch)
    assert capsys.readouterr().out.count('Tests Passed') == 5
    from facegan.app import runs
    dataset = namespace['helper'].Dataset('celeba', namespace['glob'](os.path.join('data', 'img_align_celeba',
                                                                                   '*.jpg')))
    run = runs.train(namespace['train'], namespace['generator'], 1, 8, 100, 0.0005, 0.5, dataset,
                     output_dir='output/celeba', max_steps=2, precision='float32')
    assert os.path.exists(os.path.join(run.folder, 'checkpoints', 'model-2.index'))
    assert 'Done at step 2 (max_steps 2 reached)' in capsys.readouterr().out
