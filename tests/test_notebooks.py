"""
The two notebooks made by tools/make_notebooks.py from dlnd_face_generation.py: up to date with
the script; the exercise's stubs fail their problem tests with a message for the learner while the
solution's code passes them; and the solution notebook runs top to bottom in a Jupyter kernel.
"""
import base64
import os
import shlex
import sys

import ipykernel.kernelspec
import nbclient
import nbformat
import pytest
import tensorflow

import dlnd_face_generation as dlnd
import helper
import problem_unittests
from tools import make_notebooks
from conftest import child_env

GRADED = ['model_inputs', 'discriminator', 'generator', 'model_loss', 'model_opt']
KERNEL = 'dlnd-test'
CELL_TIMEOUT = 600  # seconds; only a guard against a hang (the run cell takes under a minute)
CI_STEPS = 4
CI_FACES = 32  # a folder of 32 synthetic faces: 2 steps an epoch at batch 16, drawn in a moment


def _sources(notebook):
    """:return: The notebook's cells as (type, source) pairs: what the tool makes, not outputs or metadata"""
    return [(cell.cell_type, cell.source) for cell in notebook.cells]


@pytest.mark.parametrize('path,build', [(make_notebooks.SOLUTION, make_notebooks.solution_notebook),
                                        (make_notebooks.EXERCISE, make_notebooks.exercise_notebook)],
                         ids=['solution', 'exercise'])
def test_committed_notebook_is_up_to_date_with_the_script(path, build):
    committed = nbformat.read(path, as_version=4)
    assert _sources(committed) == _sources(build()), \
        '{} is out of date with dlnd_face_generation.py: run python tools/make_notebooks.py'.format(
            os.path.relpath(path, make_notebooks.ROOT))


def test_an_unmatched_marker_is_an_error():
    with pytest.raises(ValueError, match='with no'):
        make_notebooks.stubbed('def f():\n    # BEGIN SOLUTION\n    return 1\n')
    with pytest.raises(ValueError, match='unmatched'):
        make_notebooks.without_markers('def f():\n    return 1\n    # END SOLUTION\n')


def _cell_index(notebook, name):
    """:return: The index of the code cell that defines function `name`"""
    cells = [i for i, cell in enumerate(notebook.cells)
             if cell.cell_type == 'code' and 'def {}('.format(name) in cell.source]
    assert len(cells) == 1, 'expected one cell that defines {}, found {}'.format(name, len(cells))
    return cells[0]


def _cell_defining(notebook, name):
    """:return: The source of the code cell that defines function `name`"""
    return notebook.cells[_cell_index(notebook, name)].source


def _run_cell(source):
    """
    Run a cell as the notebook runs it: its problem unit test runs too (__name__ is '__main__')
    :param source: The cell's source
    :return: The cell's namespace
    """
    namespace = {'__name__': '__main__', 'tf': dlnd.tf, 'tests': problem_unittests,
                 'generator': dlnd.generator, 'discriminator': dlnd.discriminator}  # model_loss calls them
    exec(compile(source, '<cell>', 'exec'), namespace)
    return namespace


@pytest.mark.parametrize('name', GRADED)
def test_exercise_stub_fails_its_problem_test_saying_what_to_do(name, capsys):
    source = _cell_defining(make_notebooks.exercise_notebook(), name)
    assert '# TODO: Implement Function' in source and 'SOLUTION' not in source
    with pytest.raises(AssertionError, match=r'^{} returned None: implement it where it says TODO and '
                                             r'return \S'.format(name)):
        _run_cell(source)
    assert 'Tests Passed' not in capsys.readouterr().out


@pytest.mark.parametrize('name', GRADED)
def test_solution_cell_passes_its_problem_test(name, capsys):
    source = _cell_defining(make_notebooks.solution_notebook(), name)
    assert 'TODO' not in source and 'SOLUTION' not in source
    namespace = _run_cell(source)
    assert capsys.readouterr().out.count('Tests Passed') == 1
    assert namespace[name].__doc__ == getattr(dlnd, name).__doc__


def test_problem_tests_name_what_is_missing_from_a_partial_answer():
    def half_inputs(image_width, image_height, image_channels, z_dim):
        real, z, _ = dlnd.model_inputs(image_width, image_height, image_channels, z_dim)
        return real, z

    with pytest.raises(AssertionError, match=r'model_inputs returned 2 values: return \(input_real, input_z, '):
        problem_unittests.test_model_inputs(half_inputs)
    with pytest.raises(AssertionError, match='model_opt returned None'):
        problem_unittests.test_model_opt(lambda d_loss, g_loss, learning_rate, beta1: (None, None), dlnd.tf)


def _outputs(notebook, output_type):
    """:return: The notebook's outputs of that type ('stream', 'display_data', 'error', ...)"""
    return [output for cell in notebook.cells if cell.cell_type == 'code'
            for output in cell.outputs if output.output_type == output_type]


def _kernel_env(tmp_path, project_on_path=True):
    """
    :param tmp_path: The test's folder, for the run's data and output
    :param project_on_path: Put the project's modules on the kernel's path (the exercise finds them itself)
    :return: Environment of the kernel: no MPLBACKEND (the tests' Agg), so that ipykernel picks the
        inline backend; a short run (DLND_ARGS) on a small folder of synthetic faces (the default
        9,600 take longer to draw than the run)
    """
    env = child_env(MPLBACKEND=None)
    if project_on_path:
        env['PYTHONPATH'] = os.pathsep.join([make_notebooks.ROOT] + [p for p in [env.get('PYTHONPATH')] if p])
    faces = helper.make_synthetic_faces(str(tmp_path / 'data'), CI_FACES, seed=0)
    env['DLND_ARGS'] = ' '.join(shlex.quote(arg) for arg in [
        '--max-steps', str(CI_STEPS), '--eval-every', '0',  # no scores: they take longer than the steps
        '--dataset', 'folder', '--data-dir', faces, '--output-dir', str(tmp_path / 'output')])
    return env


def _execute(notebook, cwd, env, tmp_path, monkeypatch, allow_errors=False):
    """
    Run a notebook in a kernel of this Python (the venv's), found before any other Jupyter knows
    :param notebook: nbformat notebook; its outputs are filled in
    :param cwd: Folder the kernel starts in
    :param env: The kernel's environment
    :param tmp_path: The test's folder, for the kernel spec
    :param monkeypatch: pytest's, to point JUPYTER_PATH at the kernel spec
    :param allow_errors: False: stop at the first error (nbclient.exceptions.CellExecutionError)
    """
    prefix = tmp_path / 'jupyter'
    ipykernel.kernelspec.install(kernel_name=KERNEL, prefix=str(prefix))
    monkeypatch.setenv('JUPYTER_PATH', str(prefix / 'share' / 'jupyter'))
    nbclient.NotebookClient(notebook, kernel_name=KERNEL, timeout=CELL_TIMEOUT, allow_errors=allow_errors,
                            resources={'metadata': {'path': str(cwd)}}).execute(env=env)


def test_solution_notebook_runs_top_to_bottom(tmp_path, monkeypatch):
    notebook = nbformat.read(make_notebooks.SOLUTION, as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell('import sys, tensorflow\nprint(sys.executable)\n'
                                                    'print(tensorflow.__file__)'))  # which Python ran it
    (tmp_path / 'cwd').mkdir()  # the kernel works here: nothing is written into the repository
    _execute(notebook, tmp_path / 'cwd', _kernel_env(tmp_path), tmp_path, monkeypatch)

    assert not _outputs(notebook, 'error')
    stdout = ''.join(output.text for output in _outputs(notebook, 'stream') if output.name == 'stdout')
    assert stdout.count('Tests Passed') == 5
    assert 'Done at step {} (--max-steps {} reached)'.format(CI_STEPS, CI_STEPS) in stdout
    assert stdout.split('\n')[-3:-1] == [sys.executable, tensorflow.__file__]
    grids = [output.data['image/png'] for output in _outputs(notebook, 'display_data') if 'image/png' in output.data]
    assert grids and base64.b64decode(grids[-1]).startswith(b'\x89PNG'), 'no sample grid shown inline'
    assert os.listdir(str(tmp_path / 'cwd')) == []
    # Each cell does what its heading says: Explore shows real images, the check prints the version
    explore = notebook.cells[_cell_index(notebook, 'show_images')]
    assert any('image/png' in output.get('data', {}) for output in explore.outputs), 'Explore showed no images'
    check = notebook.cells[_cell_index(notebook, 'check_tensorflow')]
    assert 'TensorFlow Version: ' in ''.join(output.get('text', '') for output in check.outputs)
    learned = notebook.cells[_cell_index(notebook, 'show_picture')]  # What did it learn?: the walk
    assert any('image/png' in output.get('data', {}) for output in learned.outputs), 'no walk shown'
    assert 'note: no memorisation check' in ''.join(output.get('text', '') for output in learned.outputs)
    assert os.path.getsize(str(tmp_path / 'output' / 'walk.gif')) > 0


def test_exercise_notebook_finds_the_project_from_its_folder_and_stops_at_the_first_stub(tmp_path, monkeypatch):
    notebook = nbformat.read(make_notebooks.EXERCISE, as_version=4)
    first_stub = _cell_index(notebook, 'model_inputs')
    notebook.cells = notebook.cells[:first_stub + 1]  # up to the first stub: the run cell would train
    _execute(notebook, os.path.dirname(make_notebooks.EXERCISE), _kernel_env(tmp_path, project_on_path=False),
             tmp_path, monkeypatch, allow_errors=True)
    assert [(error.ename, error.evalue) for error in _outputs(notebook, 'error')] == [
        ('AssertionError', 'model_inputs returned None: implement it where it says TODO and return '
                           '(input_real, input_z, learning_rate)')]
