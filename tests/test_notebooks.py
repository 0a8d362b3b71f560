"""
The two notebooks made by tools/make_notebooks.py from dlnd_face_generation.py: up to date with the
script; the exercise is Udacity's project (six TODO functions, two cells of None hyperparameters,
nothing of the package before the graded cells); its stubs fail their problem tests with a message
for the learner while the solution's code passes them; and, in a Jupyter kernel on small local data,
the exercise filled with the solution, and filled with a plain tf.Session train(), runs every cell,
and a training cell run again starts its run over; the solution notebook runs top to bottom.
"""
import base64
import os
import re
import shlex
import sys
import tempfile

import jupyter_client.kernelspec
import nbformat
import pytest
import tensorflow

import dlnd_face_generation as dlnd
import problem_unittests
from conftest import ROOT, child_env, faces
from kernels import (  # noqa: F401  (notebook_cwd: a fixture)
    KERNEL, execute, install_kernel, kernel_env, notebook_cwd, outputs as _outputs, stdout as _stdout,
    tensorflows_notes)
from facegan.core.errors import DatasetError
from facegan.data import downloads
from learners import plain_train
import narrow_script
from tools import make_notebooks

GRADED = ['model_inputs', 'discriminator', 'generator', 'model_loss', 'model_opt']
HYPERPARAMETERS = {'batch_size': '8', 'z_dim': '100', 'learning_rate': '0.0005', 'beta1': '0.5'}

PLAIN_TRAIN = plain_train(print_every=1, show_every=3)  # a learner's, as the template's usual solution writes it


def _sources(notebook):
    """:return: The notebook's cells as (type, source) pairs: what the tool makes, not outputs or metadata"""
    return [(cell.cell_type, cell.source) for cell in notebook.cells]


def test_the_test_kernel_is_this_python_and_its_install_leaves_nothing_in_the_temporary_folder(tmp_path,
                                                                                               monkeypatch):
    """The notebook tests' kernel spec: Jupyter finds it under the prefix, it starts this Python, and nothing is left
    in the temporary folder (ipykernel's own install left an empty folder there for each notebook test)"""
    temporary = tmp_path / 'tmp'
    temporary.mkdir()
    monkeypatch.setattr(tempfile, 'tempdir', str(temporary))
    monkeypatch.setenv('JUPYTER_PATH', install_kernel(tmp_path / 'jupyter'))
    spec = jupyter_client.kernelspec.KernelSpecManager().get_kernel_spec(KERNEL)
    assert spec.argv[0] == sys.executable and spec.argv[-4:-2] == ['-m', 'ipykernel_launcher']
    assert os.path.dirname(spec.resource_dir) == str(tmp_path / 'jupyter' / 'share' / 'jupyter' / 'kernels')
    assert os.listdir(str(temporary)) == []


@pytest.mark.parametrize('path,build', [(make_notebooks.SOLUTION, make_notebooks.solution_notebook),
                                        (make_notebooks.EXERCISE, make_notebooks.exercise_notebook)],
                         ids=['solution', 'exercise'])
def test_committed_notebook_is_up_to_date_with_the_script(path, build):
    committed = nbformat.read(path, as_version=4)
    assert _sources(committed) == _sources(build()), \
        '{} is out of date with dlnd_face_generation.py: run python tools/make_notebooks.py'.format(
            os.path.relpath(path, ROOT))


@pytest.mark.parametrize('source,problem', [
    ('def f():\n    # BEGIN SOLUTION\n    return 1\n', 'with no'),
    ('def f():\n    return 1\n    # END SOLUTION\n', 'unmatched'),
    ('# EXERCISE\nx = 1\n', 'unmatched'),
    ('# BEGIN SOLUTION\nx = 1\n# EXERCISE\nx = None\n# END SOLUTION\n', 'commented out'),
])
def test_a_marker_out_of_place_is_an_error(source, problem):
    with pytest.raises(ValueError, match=problem):
        make_notebooks.exercise_source(source)


def test_the_exercise_takes_each_blocks_exercise_text_and_drops_the_guards():
    source = ("x = 1\n"
              "if __name__ == '__main__' and flags.uses('mnist'):\n"
              "    # BEGIN SOLUTION\n"
              "    y = solve(x)\n"
              "    # EXERCISE\n"
              "    # y = None  # TODO\n"
              "    #\n"
              "    # END SOLUTION\n"
              "    print(y)\n"
              "# BEGIN SOLUTION\n"
              "z = only_the_solution()\n"
              "# END SOLUTION\n"
              "if __name__ == '__main__':\n"
              "    tests.test(x)\n")
    assert make_notebooks.exercise_source(source) == 'x = 1\ny = None  # TODO\n\nprint(y)\ntests.test(x)'
    assert make_notebooks.solution_source(source) == source.replace(
        "    # BEGIN SOLUTION\n", '').replace("    # EXERCISE\n    # y = None  # TODO\n    #\n    # END SOLUTION\n",
                                            '').replace("# BEGIN SOLUTION\n", '').replace("# END SOLUTION\n", '')


def _code_cells(notebook):
    return [cell.source for cell in notebook.cells if cell.cell_type == 'code']


def _index_defining(cells, name):
    """:return: The index among cells of the one that defines function `name`"""
    found = [i for i, source in enumerate(cells) if 'def {}('.format(name) in source]
    assert len(found) == 1, 'expected one cell that defines {}, found {}'.format(name, len(found))
    return found[0]


def test_the_exercise_is_udacitys_project():
    cells = _code_cells(make_notebooks.exercise_notebook())
    todo = [name for name in GRADED + ['train'] if '# TODO' in cells[_index_defining(cells, name)]]
    assert todo == GRADED + ['train']
    assert all('# TODO: Implement Function' in cells[_index_defining(cells, name)] for name in GRADED)
    train = cells[_index_defining(cells, 'train')]
    assert train.startswith('def train(epoch_count, batch_size, z_dim, learning_rate, beta1, get_batches, data_shape, '
                            'data_image_mode):')  # the template's signature
    assert re.search(r'# TODO: Build Model\n+    with tf.Session\(\) as sess:\n        sess.run\(tf.global_variables_'
                     r'initializer\(\)\)\n        for epoch_i in range\(epoch_count\):\n            for batch_images in '
                     r'get_batches\(batch_size\):\n                # TODO: Train Model', train)
    hyperparameters = [source for source in cells if 'batch_size = None' in source]
    assert [re.search(r'epochs = (\d)', source).group(1) for source in hyperparameters] == ['2', '1']
    assert all('{} = None'.format(name) in source for source in hyperparameters for name in HYPERPARAMETERS)
    first_graded = _index_defining(cells, 'model_inputs')
    for source in cells[:first_graded]:
        assert 'facegan' not in source and '__name__' not in source and 'flags' not in source
    assert [i for i, source in enumerate(cells) if 'facegan' in source] == [len(cells) - 1]  # the optional cell
    show = cells[_index_defining(cells, 'show_generator_output')]
    assert 'generator(input_z, out_channel_dim, False)' in show and 'pyplot.show()' in show
    assert not any('__name__' in source or 'interrupts' in source or 'DLND_ARGS' in source for source in cells)


def _run_cell(source, namespace=None):
    """
    Run a cell as the notebook runs it
    :return: The cell's namespace
    """
    namespace = dict(namespace or {}, tf=dlnd.tf, tests=problem_unittests, generator=dlnd.generator,
                     discriminator=dlnd.discriminator)  # model_loss calls them
    exec(compile(source, '<cell>', 'exec'), namespace)
    return namespace


@pytest.mark.parametrize('name', GRADED)
def test_exercise_stub_fails_its_problem_test_saying_what_to_do(name, capsys):
    cells = _code_cells(make_notebooks.exercise_notebook())
    with pytest.raises(AssertionError, match=r'^{} returned None: implement it where it says TODO and '
                                             r'return \S'.format(name)):
        _run_cell(cells[_index_defining(cells, name)])
    assert 'Tests Passed' not in capsys.readouterr().out


def test_solution_cells_pass_their_problem_tests(capsys):
    cells = _code_cells(make_notebooks.solution_notebook())
    for name in GRADED:
        source = cells[_index_defining(cells, name)]
        assert 'TODO' not in source and 'SOLUTION' not in source
        namespace = _run_cell(source, {'__name__': '__main__'})
        assert namespace[name].__doc__ == getattr(dlnd, name).__doc__
    assert capsys.readouterr().out.count('Tests Passed') == len(GRADED)


def test_offline_the_data_cell_stops_with_one_line_saying_how_to_get_each_dataset(tmp_path, monkeypatch):
    unreachable = {name: dict(source, urls=['http://127.0.0.1:9/' + source['archive']])  # port 9: refused
                   for name, source in downloads.DATASETS.items()}
    monkeypatch.setattr(downloads, 'DATASETS', unreachable)
    monkeypatch.chdir(tmp_path)
    data_cell = _code_cells(make_notebooks.exercise_notebook())[1]
    with pytest.raises(DatasetError) as failure:
        exec(compile(data_cell, '<cell>', 'exec'), {})
    shown = failure.value._render_traceback_()  # what Jupyter shows: this, not a traceback
    assert len(shown) == 1 and '\n' not in shown[0] and shown[0].startswith('error: cannot download mnist: no network')
    assert 'mnist: put train-images-idx3-ubyte.gz' in shown[0] and 'celeba: put img_align_celeba.zip' in shown[0]
    assert 'synthetic' in shown[0]


def test_the_exercise_finds_the_project_from_its_folder():
    path_cell = _code_cells(make_notebooks.exercise_notebook())[0]
    # helper imported, problem_unittests found where the project has it (importing it would load TensorFlow:
    # seconds, and nothing more about the path)
    code = path_cell + ('\nimport importlib.util, helper\nprint(helper.__file__)\n'
                        'print(importlib.util.find_spec("problem_unittests").origin)')
    import subprocess
    result = subprocess.run([sys.executable, '-c', code], cwd=os.path.dirname(make_notebooks.EXERCISE),
                            capture_output=True, text=True, env=child_env())
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [os.path.join(ROOT, 'helper.py'), os.path.join(ROOT, 'problem_unittests.py')]


# --- In a kernel ----------------------------------------------------------------------------------------

def _function_source(cells, name):
    """:return: The source of function `name` as a cell defines it (up to its first unindented line after)"""
    source = cells[_index_defining(cells, name)]
    start = source.index('def {}('.format(name))
    end = re.search(r'\n(?=\S)', source[start + 4:])
    return source[start:start + 4 + end.start()] if end else source[start:]


def filled_exercise(answers):
    """
    :param answers: {function name: its source} for the six TODO functions
    :return: The exercise notebook with them in place of its stubs, and the hyperparameters set
    """
    notebook = make_notebooks.exercise_notebook()
    cells = [cell for cell in notebook.cells if cell.cell_type == 'code']
    sources = _code_cells(notebook)
    for name, answer in answers.items():
        cell = cells[_index_defining(sources, name)]
        cell.source = cell.source.replace(_function_source(sources, name), answer.rstrip())
    for cell in cells:
        for name, value in HYPERPARAMETERS.items():
            cell.source = cell.source.replace('{} = None'.format(name), '{} = {}'.format(name, value))
    return notebook


def solution_answers():
    """:return: {name: source} of the solution's six functions, as the solution notebook has them"""
    cells = _code_cells(make_notebooks.solution_notebook())
    return {name: _function_source(cells, name) for name in GRADED + ['train']}


def test_the_exercise_filled_with_the_solution_runs_and_its_training_cell_again_starts_over(
        notebook_cwd, tmp_path, monkeypatch):
    # The networks narrow (16 times; their output shapes pass the problem tests), as in the test below: what is
    # tested here is the exercise's cells around them, the solution's train() and a training cell run again. The
    # solution's own networks run in a kernel in the solution notebook's test, as the template's do in
    # test_template_notebook.py
    notebook = filled_exercise(dict(solution_answers(), **narrow_script.narrow_functions()))
    optional = notebook.cells[-1].source
    notebook.cells.append(nbformat.v4.new_code_cell(optional))  # the training cell, run a second time
    execute(notebook, notebook_cwd, kernel_env(), tmp_path, monkeypatch)

    assert not _outputs(notebook, 'error')
    first, second = (_stdout(cell) for cell in notebook.cells[-2:])
    trained = [re.search(r'Training on (\d+) images of celeba', out).group(1) for out in (first, second)]
    assert trained[0] == trained[1] == str(48)  # no scores: too few images to hold out; the dataset stays whole
    assert 'note: started the run in output/celeba over: the previous one is in output/celeba/previous-runs/' in second
    previous = os.listdir(str(notebook_cwd / 'output' / 'celeba' / 'previous-runs'))
    assert len(previous) == 1
    for folder in (notebook_cwd / 'output' / 'celeba', notebook_cwd / 'output' / 'celeba' / 'previous-runs' /
                   previous[0]):
        assert (folder / 'checkpoints' / 'model-6.index').exists() and (folder / 'losses.csv').exists()


def test_the_exercise_filled_with_a_plain_train_runs_every_cell(notebook_cwd, tmp_path, monkeypatch):
    # The networks narrow, as in the test above: what is tested here is the plain loop
    answers = dict(solution_answers(), train=PLAIN_TRAIN, **narrow_script.narrow_functions())
    notebook = filled_exercise(answers)
    execute(notebook, notebook_cwd, kernel_env(), tmp_path, monkeypatch)

    assert not _outputs(notebook, 'error')
    assert not tensorflows_notes(notebook)  # its version cell imports TensorFlow after helper: quiet
    cells = [cell for cell in notebook.cells if cell.cell_type == 'code']
    mnist, celeba, optional = cells[-3:]
    assert _stdout(mnist).count('Epoch 2/2... Discriminator Loss') == 4  # 32 digits at batch 8, the second epoch
    assert _stdout(celeba).count('Epoch 1/1... Discriminator Loss') == 6
    shown = [output for output in celeba.outputs if 'image/png' in output.get('data', {})]
    assert len(shown) == 2  # show_generator_output at steps 3 and 6, inline
    run = notebook_cwd / 'output' / 'celeba'
    assert (run / 'checkpoints' / 'model-6.index').exists() and (run / 'samples_final.png').exists()
    assert not (run / 'losses.csv').exists()  # a train() without `run` reports no losses


def test_solution_notebook_runs_top_to_bottom(tmp_path, monkeypatch):
    notebook = nbformat.read(make_notebooks.SOLUTION, as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell('import sys, tensorflow\nprint(sys.executable)\n'
                                                    'print(tensorflow.__file__)'))  # which Python ran it
    (tmp_path / 'cwd').mkdir()  # the kernel works here: nothing is written into the repository
    data = faces(tmp_path / 'data', 24)
    # Two steps, the grid shown at the second, the last: the show and the run's final grid share one batch-norm
    # calibration of the full-width generator (seconds on a laptop's CPU); then the walk
    args = ['--max-steps', '2', '--eval-every', '0', '--show-every', '2', '--batch-size', '8', '--dataset', 'folder',
            '--data-dir', data, '--output-dir', str(tmp_path / 'output')]
    execute(notebook, tmp_path / 'cwd', kernel_env(DLND_ARGS=' '.join(shlex.quote(arg) for arg in args)), tmp_path,
            monkeypatch)

    assert not _outputs(notebook, 'error')
    stdout = ''.join(output.text for output in _outputs(notebook, 'stream') if output.name == 'stdout')
    assert 'Done at step 2 (max_steps 2 reached)' in stdout
    stderr = ''.join(output.text for output in _outputs(notebook, 'stream') if output.name == 'stderr')
    assert 'Warning' not in stderr and 'WARNING' not in stderr, stderr  # only the bars (tqdm's IProgress warning)
    assert stdout.split('\n')[-3:-1] == [sys.executable, tensorflow.__file__]
    grids = [output.data['image/png'] for output in _outputs(notebook, 'display_data') if 'image/png' in output.data]
    assert len(grids) == 2 and all(base64.b64decode(grid).startswith(b'\x89PNG') for grid in grids)  # step 2; walk
    assert os.listdir(str(tmp_path / 'cwd')) == []
    assert os.path.getsize(str(tmp_path / 'output' / 'walk.gif')) > 0
