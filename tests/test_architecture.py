"""
The layout a learner meets, and the package beneath it: the notebook, the Udacity helper and the
problem tests on top; imports only go down the layers of docs/architecture.md, which names every
module and whose picture is the imports'; no module imports more than 7 of the project's; the lower
layers never name a command-line flag; importing any module changes nothing global; and the graded
cells are the article's tf.layers.
"""
import ast
import glob
import os
import sys

import pytest

from conftest import ROOT, SCRIPT
from tools import module_map

ARCHITECTURE = os.path.join(ROOT, 'docs', 'architecture.md')
MAX_PROJECT_IMPORTS = 7
# Where no message may name a command-line flag: the command layer names it, these say what went wrong
FLAGLESS = [os.path.join(ROOT, 'facegan', folder) for folder in ('data', 'output')] + \
    [os.path.join(ROOT, 'facegan', 'graph', name) for name in ('checkpoints.py', 'checkpoint_files.py')]


def test_every_module_is_on_the_architecture_page_with_what_it_does():
    with open(ARCHITECTURE) as f:
        page = f.read()
    modules = sorted(path for path in glob.glob(os.path.join(ROOT, 'facegan', '*', '*.py'))
                     if not path.endswith('__init__.py'))
    assert len(modules) > 40
    missing = [os.path.relpath(path, os.path.join(ROOT, 'facegan')) for path in modules
               if '- `{}`: '.format(os.path.relpath(path, os.path.join(ROOT, 'facegan'))) not in page]
    assert not missing, 'docs/architecture.md does not say what these do: {}'.format(missing)


def test_imports_only_go_down_the_layers():
    graph = module_map.import_graph()
    assert len(graph) > 40 and sum(len(imported) for imported in graph.values()) > 80  # the imports were read
    assert module_map.upward_imports(graph) == []


def test_upward_imports_are_found():
    """The rule itself: each kind of wrong import is caught"""
    graph = {'facegan.core.files': {'facegan.app.runs'}, 'facegan.data.images': {'facegan.output.pictures'},
             'facegan.graph.sampling': {'helper'}, 'facegan.app.runs': {'facegan.core.files'},
             'facegan.train.run': {'facegan.train.schedule'}}
    assert module_map.upward_imports(graph) == [
        ('facegan.core.files', 'facegan.app.runs'), ('facegan.data.images', 'facegan.output.pictures'),
        ('facegan.graph.sampling', 'helper')]


def test_no_module_imports_more_than_seven_of_the_projects():
    crowded = {module: sorted(imported) for module, imported in module_map.import_graph().items()
               if len(imported) > MAX_PROJECT_IMPORTS}
    assert not crowded


def test_the_module_map_is_drawn_from_todays_imports():
    assert module_map.recorded_digest() == module_map.digest(module_map.import_graph()), \
        'docs/module_map.png is stale: run python tools/module_map.py'


def _string_constants(path):
    """:return: The string constants of a Python file (f-strings' literal parts included)"""
    with open(path) as f:
        tree = ast.parse(f.read(), path)
    return [node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)]


def test_the_lower_layers_never_name_a_command_line_flag():
    paths = [path for place in FLAGLESS for path in (glob.glob(os.path.join(place, '*.py')) if os.path.isdir(place)
                                                      else [place])]
    assert len(paths) > 8
    import re
    named = {os.path.relpath(path, ROOT): hits for path in paths
             for hits in [[text for text in _string_constants(path) if re.search(r'--[a-z]', text)]] if hits}
    assert not named


_CHECK_IMPORT = '''
import importlib, logging, os, pickle, signal, sys, warnings
os.environ['TF_USE_LEGACY_KERAS'] = '1'
import tensorflow  # the baseline: what importing TensorFlow alone leaves

def state():
    return (id(sys.excepthook), signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM),
            list(warnings.filters), logging.getLogger().level)

changed = {}
for module in sys.argv[1:]:
    before = state()
    child = os.fork()  # each module imported in a process of its own, forked from this one
    if child == 0:
        importlib.import_module(module)
        os._exit(0 if state() == before else 3)
    changed[module] = os.waitpid(child, 0)[1] >> 8
    # Then here, so that the next children start with it and what it imports loaded: each runs only its own
    # module's lines (a module another one imports first is judged with it, as a part of what importing that does)
    importlib.import_module(module)
print(repr(changed))
'''


def test_importing_any_module_changes_nothing_global():
    import subprocess
    from conftest import child_env
    modules = sorted(name for name in module_map.project_files() if name.startswith('facegan'))
    result = subprocess.run([sys.executable, '-c', _CHECK_IMPORT] + modules, capture_output=True, text=True,
                            cwd=ROOT, env=child_env(PYTHONPATH=ROOT))
    assert result.returncode == 0, result.stderr[-2000:]
    changed = ast.literal_eval(result.stdout.strip().splitlines()[-1])
    assert sorted(changed) == modules
    assert {module: code for module, code in changed.items() if code} == {}


def test_importing_the_learners_helper_prepares_tensorflow_explicitly():
    """helper.py is where the set-up happens, once, in plain sight: one call at its top"""
    with open(os.path.join(ROOT, 'helper.py')) as f:
        tree = ast.parse(f.read())
    calls = [ast.unparse(node) for node in tree.body if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)]
    assert calls == ['environment.prepare()']


def test_helper_is_the_udacity_helper_in_one_sitting():
    with open(os.path.join(ROOT, 'helper.py')) as f:
        source = f.read()
    tree = ast.parse(source)
    public = {node.name for node in tree.body if isinstance(node, (ast.FunctionDef, ast.ClassDef))
              and not node.name.startswith('_')}
    assert {'download_extract', 'get_image', 'get_batch', 'images_square_grid', 'Dataset'} <= public
    assert len(source.splitlines()) <= 300


def _function(name):
    """:return: The ast of the notebook's function `name`"""
    with open(SCRIPT) as f:
        tree = ast.parse(f.read())
    return next(node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == name)


def _root_name(func):
    """:return: The name a call's function starts from: 'tf' for tf.layers.dense, 'print' for print"""
    while isinstance(func, ast.Attribute):
        func = func.value
    return func.id if isinstance(func, ast.Name) else None


@pytest.mark.parametrize('name', ['generator', 'discriminator'])
def test_the_graded_networks_call_only_tensorflow(name):
    calls = [node for node in ast.walk(_function(name)) if isinstance(node, ast.Call)]
    assert calls and {_root_name(call.func) for call in calls} == {'tf'}
    layers = {ast.unparse(call.func) for call in calls if ast.unparse(call.func).startswith('tf.layers.')}
    expected = {'generator': {'tf.layers.dense', 'tf.layers.batch_normalization', 'tf.layers.dropout',
                              'tf.layers.conv2d_transpose'},
                'discriminator': {'tf.layers.conv2d', 'tf.layers.batch_normalization', 'tf.layers.dense'}}
    assert layers == expected[name]


def test_the_script_reads_as_the_templates_notebook():
    """The cells in the template's order; each graded function followed by its test; train the template's loop"""
    with open(SCRIPT) as f:
        lines = f.read().split('\n')
    order = [line.split('(')[0] for line in lines if line.startswith(('def ', '    tests.test_'))]
    graded = ['model_inputs', 'discriminator', 'generator', 'model_loss', 'model_opt']
    assert order == [item for name in graded for item in ('def ' + name, '    tests.test_' + name)] + \
        ['def show_generator_output', 'def train']
    train = ast.unparse(_function('train'))
    assert 'with tf.Session() as sess:\n        sess.run(tf.global_variables_initializer())\n        for epoch_i in ' \
           'range(epoch_count):\n            for batch_images in get_batches(batch_size):' in train
