"""
Make both notebooks from dlnd_face_generation.py, their one source (jupytext percent format):

    python tools/make_notebooks.py

- dlnd_face_generation.ipynb, the solution: the script's cells, without the `# BEGIN SOLUTION`
  and `# END SOLUTION` lines;
- exercise/dlnd_face_generation.ipynb, the exercise: each graded function's code between those
  lines becomes the Udacity template's stub, `# TODO: Implement Function` and `return None`.

Edit the script, never the notebooks: tests/test_notebooks.py fails when they are out of date.
"""
import os

import jupytext
import nbformat

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, 'dlnd_face_generation.py')
SOLUTION = os.path.join(ROOT, 'dlnd_face_generation.ipynb')
EXERCISE = os.path.join(ROOT, 'exercise', 'dlnd_face_generation.ipynb')

BEGIN, END = '# BEGIN SOLUTION', '# END SOLUTION'
STUB = ['# TODO: Implement Function', '', 'return None']
# The exercise sits one folder down: its kernel starts there, so it finds the project's modules
# (helper, problem_unittests and the facegan package) one folder up
EXERCISE_PATH_CELL = """\
# This notebook is in exercise/: the project's modules are one folder up
import os
import sys

sys.path.insert(0, os.path.abspath('..'))"""
METADATA = {'kernelspec': {'name': 'python3', 'display_name': 'Python 3', 'language': 'python'},
            'language_info': {'name': 'python'}}


def solution_blocks(lines):
    """
    Find the solution blocks of a cell
    :param lines: The cell's source lines
    :return: List of (index of the BEGIN line, index of the END line, BEGIN's indentation)
    """
    blocks, begin = [], None
    for i, line in enumerate(lines):
        if line.strip() == BEGIN and begin is None:
            begin = i
        elif line.strip() == END and begin is not None:
            blocks.append((begin, i, lines[begin][:len(lines[begin]) - len(lines[begin].lstrip())]))
            begin = None
        elif line.strip() in (BEGIN, END):
            raise ValueError('unmatched {!r} in {}'.format(line.strip(), os.path.basename(SCRIPT)))
    if begin is not None:
        raise ValueError('{!r} with no {!r} in {}'.format(BEGIN, END, os.path.basename(SCRIPT)))
    return blocks


def without_markers(source):
    """
    :param source: A code cell's source
    :return: The source without its BEGIN and END SOLUTION lines (the solution stays)
    """
    lines = source.split('\n')
    markers = {i for begin, end, _ in solution_blocks(lines) for i in (begin, end)}
    return '\n'.join(line for i, line in enumerate(lines) if i not in markers)


def stubbed(source):
    """
    :param source: A code cell's source
    :return: The source with each solution block, markers included, replaced by the stub
    """
    lines = source.split('\n')
    for begin, end, indent in reversed(solution_blocks(lines)):
        lines[begin:end + 1] = [indent + line if line else line for line in STUB]
    return '\n'.join(lines)


def build(edit, first_code=None):
    """
    Read the script and make a notebook of its cells
    :param edit: Function of a code cell's source that returns the notebook's source
    :param first_code: Source of a code cell to put before the script's first code cell, or None
    :return: nbformat notebook (version 4), with no outputs and cell ids that stay the same
    """
    cells = []
    for cell in jupytext.read(SCRIPT, fmt='py:percent').cells:
        if cell.cell_type == 'code' and first_code and not any(c.cell_type == 'code' for c in cells):
            cells.append(nbformat.v4.new_code_cell(first_code))
        if cell.cell_type == 'code':
            cells.append(nbformat.v4.new_code_cell(edit(cell.source)))
        else:
            cells.append(nbformat.v4.new_markdown_cell(cell.source))
    for i, cell in enumerate(cells):
        cell.id = 'cell-{:02d}'.format(i)  # random ids would change the file at each run
    return nbformat.v4.new_notebook(cells=cells, metadata=METADATA)


def solution_notebook():
    """:return: The solution notebook, built from the script"""
    return build(without_markers)


def exercise_notebook():
    """:return: The exercise notebook, built from the script"""
    return build(stubbed, first_code=EXERCISE_PATH_CELL)


def main():
    """
    Write both notebooks
    :return: The paths written
    """
    written = []
    for path, notebook in ((SOLUTION, solution_notebook()), (EXERCISE, exercise_notebook())):
        nbformat.validate(notebook)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        nbformat.write(notebook, path)
        written.append(path)
        print('wrote {}'.format(os.path.relpath(path, ROOT)))
    return written


if __name__ == '__main__':
    main()
