"""
Running a notebook in a Jupyter kernel of the tests' own Python, on small local data: the kernels'
environment and working folder, and reading what the cells printed and showed.
"""
import os

import ipykernel.kernelspec
import nbclient
import pytest

from conftest import ROOT, child_env

KERNEL = 'dlnd-test'
CELL_TIMEOUT = 600  # seconds; only a guard against a hang


def outputs(notebook, output_type):
    """:return: The notebook's outputs of that type ('stream', 'display_data', 'error', ...)"""
    return [output for cell in notebook.cells if cell.cell_type == 'code'
            for output in cell.outputs if output.output_type == output_type]


def stdout(cell):
    return ''.join(output.get('text', '') for output in cell.outputs if output.get('name') == 'stdout')


def tensorflows_notes(notebook):
    """:return: The lines of TensorFlow's C++ start-up notes the notebook's cells show (import helper drops them)"""
    return [line for output in outputs(notebook, 'stream') if output.name == 'stderr'
            for line in output.text.splitlines() if line.startswith(('I0000', 'WARNING: All log messages before'))]


def kernel_env(problem_tests=False, **variables):
    """
    :param problem_tests: Run the five problem tests in their cells (seconds each); otherwise they are switched
                          off, as for the script's runs that test something else (test_template_notebook.py
                          keeps them on: the template's calls of them must work)
    :return: Environment of a kernel: no MPLBACKEND (so ipykernel picks the inline backend), the project on the
             path
    """
    # Without PYTEST_CURRENT_TEST, which ipykernel reads as "under pytest": then it would leave what is written to the
    # file descriptors (TensorFlow's C++ code, a C library) out of the cells, where a learner's Jupyter shows it
    env = child_env(MPLBACKEND=None, PYTEST_CURRENT_TEST=None, **variables)
    if problem_tests:
        env.pop('DLND_SKIP_PROBLEM_TESTS')
    env['PYTHONPATH'] = ROOT
    return env


def execute(notebook, cwd, env, tmp_path, monkeypatch, allow_errors=False):
    """
    Run a notebook in a kernel of this Python (the venv's), found before any other Jupyter knows
    :param notebook: nbformat notebook; its outputs are filled in
    :param cwd: Folder the kernel starts in
    :param env: The kernel's environment
    :param allow_errors: False: stop at the first error (nbclient.exceptions.CellExecutionError)
    """
    monkeypatch.setenv('JUPYTER_PATH', install_kernel(tmp_path / 'jupyter'))
    nbclient.NotebookClient(notebook, kernel_name=KERNEL, timeout=CELL_TIMEOUT, allow_errors=allow_errors,
                            resources={'metadata': {'path': str(cwd)}}).execute(env=env)


def install_kernel(prefix):
    """
    Write the kernel spec of this Python (the venv's) as `python -m ipykernel install --prefix` does, straight into
    its folder: ipykernel.kernelspec.install stages it in a tempfile.mkdtemp folder and removes only what it put in
    it, leaving an empty tmpXXXXXXXX_kernels folder in the user's temporary folder each time
    :param prefix: pathlib.Path of the install prefix
    :return: The folder for JUPYTER_PATH (prefix/share/jupyter), whose kernels/ holds KERNEL
    """
    jupyter_path = prefix / 'share' / 'jupyter'
    # -Xfrozen_modules=off: the argument install() gives a kernel, for its debugger
    ipykernel.kernelspec.write_kernel_spec(jupyter_path / 'kernels' / KERNEL, overrides={'display_name': KERNEL},
                                           python_arguments=['-Xfrozen_modules=off'])
    return str(jupyter_path)


@pytest.fixture
def notebook_cwd(tmp_path, notebook_data):
    """A folder for a kernel to work in, its data/ the small MNIST and CelebA"""
    cwd = tmp_path / 'work'
    cwd.mkdir()
    os.symlink(notebook_data, str(cwd / 'data'))
    return cwd


