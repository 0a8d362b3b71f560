"""
Make both notebooks from dlnd_face_generation.py, their one source (jupytext percent format):

    python tools/make_notebooks.py

- dlnd_face_generation.ipynb, the solution: the script's cells as they are, less the lines that mark
  its solution blocks and their exercise text;
- exercise/dlnd_face_generation.ipynb, the exercise, Udacity's project: the script with its
  `if __name__ == '__main__'...:` guards removed (their blocks dedented), each solution block
  replaced by the exercise text written in it, and the cells tagged "solution" left out.

In the script, a solution block is the code between `# BEGIN SOLUTION` and `# END SOLUTION`; the
exercise's text for it follows a `# EXERCISE` line inside it, each line commented out (`# ` before
it, at the block's indentation): the template's stub (`# TODO: Implement Function`, `return None`),
its train() skeleton, its `None` hyperparameters, or nothing. Edit the script, never the notebooks:
tests/test_notebooks.py fails when they are out of date.
"""
import os
import re

import jupytext
import nbformat

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, 'dlnd_face_generation.py')
SOLUTION = os.path.join(ROOT, 'dlnd_face_generation.ipynb')
EXERCISE = os.path.join(ROOT, 'exercise', 'dlnd_face_generation.ipynb')

BEGIN, EXERCISE_TEXT, END = '# BEGIN SOLUTION', '# EXERCISE', '# END SOLUTION'
GUARD = re.compile(r"^(?P<indent>\s*)if __name__ == '__main__'( and .*)?:\s*$")
SOLUTION_TAG = 'solution'  # cells only the solution has (the command line's generate and evaluate)
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
    :return: List of (index of the BEGIN line, of the EXERCISE line or None, of the END line, BEGIN's indentation)
    """
    blocks, begin, exercise = [], None, None
    for i, line in enumerate(lines):
        marker = line.strip()
        if marker == BEGIN and begin is None:
            begin, exercise = i, None
        elif marker == EXERCISE_TEXT and begin is not None and exercise is None:
            exercise = i
        elif marker == END and begin is not None:
            blocks.append((begin, exercise, i, lines[begin][:len(lines[begin]) - len(lines[begin].lstrip())]))
            begin = None
        elif marker in (BEGIN, EXERCISE_TEXT, END):
            raise ValueError('unmatched {!r} in {}'.format(marker, os.path.basename(SCRIPT)))
    if begin is not None:
        raise ValueError('{!r} with no {!r} in {}'.format(BEGIN, END, os.path.basename(SCRIPT)))
    return blocks


def _uncommented(line, indent):
    """:return: An exercise line as the exercise has it: the '# ' after the block's indentation taken off"""
    if line.strip() == '#':
        return ''
    if not line.startswith(indent + '# '):
        raise ValueError('exercise text must be commented out at its block\'s indentation: {!r}'.format(line))
    return indent + line[len(indent) + 2:]


def solution_source(source):
    """
    :param source: A code cell's source
    :return: The solution's source: each block's solution kept, its markers and exercise text left out
    """
    lines = source.split('\n')
    for begin, exercise, end, _ in reversed(solution_blocks(lines)):
        lines[begin:end + 1] = lines[begin + 1:exercise if exercise is not None else end]
    return '\n'.join(lines)


def _exercise_lines(lines):
    """:return: The lines with each solution block replaced by its exercise text"""
    for begin, exercise, end, indent in reversed(solution_blocks(lines)):
        lines[begin:end + 1] = [_uncommented(line, indent) for line in lines[exercise + 1:end]] \
            if exercise is not None else []
    return lines


def _unguarded(lines):
    """:return: The lines with each `if __name__ == '__main__'...:` line removed and its block dedented"""
    result, dedent_below = [], None
    for line in lines:
        indent = len(line) - len(line.lstrip())
        if dedent_below is not None and line.strip() and indent <= dedent_below:
            dedent_below = None
        guard = GUARD.match(line)
        if guard:
            dedent_below = len(guard.group('indent'))
            continue
        result.append(line[4:] if dedent_below is not None and line.startswith(' ' * (dedent_below + 4)) else line)
    return result


def _tidy(lines):
    """:return: The lines without blank lines at the start or end, or more than two in a row"""
    tidy = []
    for line in lines:
        if not line.strip() and (not tidy or tidy[-2:] == ['', '']):
            continue
        tidy.append('' if not line.strip() else line)
    while tidy and not tidy[-1]:
        tidy.pop()
    return tidy


def exercise_source(source):
    """
    :param source: A code cell's source
    :return: The exercise's source: solution blocks replaced by their exercise text, the `__main__` guards removed
    """
    return '\n'.join(_tidy(_unguarded(_exercise_lines(source.split('\n')))))


def build(edit, exercise):
    """
    Read the script and make a notebook of its cells
    :param edit: Function of a code cell's source that returns the notebook's source
    :param exercise: Make the exercise: leave out the cells tagged solution, start with the path cell
    :return: nbformat notebook (version 4), with no outputs and cell ids that stay the same
    """
    cells = []
    for cell in jupytext.read(SCRIPT, fmt='py:percent').cells:
        if exercise and SOLUTION_TAG in cell.metadata.get('tags', []):
            continue
        if cell.cell_type == 'code' and exercise and not any(c.cell_type == 'code' for c in cells):
            cells.append(nbformat.v4.new_code_cell(EXERCISE_PATH_CELL))
        if cell.cell_type == 'code':
            cells.append(nbformat.v4.new_code_cell(edit(cell.source)))
        else:
            cells.append(nbformat.v4.new_markdown_cell(cell.source))
    for i, cell in enumerate(cells):
        cell.id = 'cell-{:02d}'.format(i)  # random ids would change the file at each run
    return nbformat.v4.new_notebook(cells=cells, metadata=METADATA)


def solution_notebook():
    """:return: The solution notebook, built from the script"""
    return build(solution_source, exercise=False)


def exercise_notebook():
    """:return: The exercise notebook, built from the script"""
    return build(exercise_source, exercise=True)


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
