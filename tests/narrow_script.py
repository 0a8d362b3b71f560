"""
dlnd_face_generation.py with tiny_networks.py's generator and discriminator in place of its own, as a
learner who wrote narrower networks has it: for the tests of what a run of the script does whatever the
networks' widths (its flags, one run to a folder, resuming, the same seed, signals). Each of those runs
then takes about half the time; the script's own networks run in the default run, the desktop run and
the solution notebook. narrow_functions() gives the same networks as a learner's cells, for the
exercise notebook filled in.

`python tests/narrow_script.py ARGS` runs it as `python dlnd_face_generation.py ARGS` runs the script
(the same sys.path, sys.argv[0] and __main__), and imports nothing before the script's own first line:
signal and start-up tests see the script's own start.
"""
import ast
import functools
import os
import sys
import types

TESTS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(TESTS)
SCRIPT = os.path.join(ROOT, 'dlnd_face_generation.py')
NARROW = os.path.join(TESTS, 'tiny_networks.py')


def _definitions(path):
    """:return: (the file's lines, {name: (first line, last line)} of its top-level functions and assignments)"""
    with open(path, encoding='utf-8') as file:
        text = file.read()
    spans = {}
    for node in ast.parse(text).body:
        names = [node.name] if isinstance(node, ast.FunctionDef) else [
            target.id for target in getattr(node, 'targets', []) if isinstance(target, ast.Name)]
        for name in names:
            spans[name] = (node.lineno, node.end_lineno)
    return text.splitlines(keepends=True), spans


def _source(lines, spans, name):
    first, last = spans[name]
    return ''.join(lines[first - 1:last])


def narrow_functions():
    """
    :return: {name: source} of the narrow generator (with the WIDTH and _normalised it uses) and discriminator,
             as a learner's cells define them
    """
    lines, spans = _definitions(NARROW)
    helpers = '{}\n\n{}\n\n'.format(_source(lines, spans, 'WIDTH'), _source(lines, spans, '_normalised'))
    return {'generator': helpers + _source(lines, spans, 'generator'),
            'discriminator': _source(lines, spans, 'discriminator')}


def script_source():
    """
    :return: The script's source with each of its two networks' functions replaced by the narrow one, padded with
             blank lines to the lines the script's took: every other line keeps its number (in a traceback, in a
             message saying where a learner's code failed, and for coverage)
    """
    lines, spans = _definitions(SCRIPT)
    for name, source in narrow_functions().items():
        first, last = spans[name]
        narrow = source.splitlines(keepends=True)
        assert len(narrow) <= last - first + 1, '{} is longer than the script\'s {}'.format(NARROW, name)
        lines[first - 1:last] = narrow + ['\n'] * (last - first + 1 - len(narrow))
    return ''.join(lines)


@functools.lru_cache(maxsize=1)
def compiled():
    """:return: script_source() compiled under the script's own file name (made once a process: neither file changes)"""
    return compile(script_source(), SCRIPT, 'exec')


def run_as_main():
    """Run script_source() as `python dlnd_face_generation.py` runs the script, with this process's sys.argv[1:]."""
    sys.path[0] = ROOT  # the script's folder, first, as Python puts it
    sys.argv[0] = SCRIPT
    main = types.ModuleType('__main__')
    main.__file__ = SCRIPT
    sys.modules['__main__'] = main
    exec(compiled(), main.__dict__)


if __name__ == '__main__':
    run_as_main()
