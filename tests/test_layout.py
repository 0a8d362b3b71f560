"""
The layout a learner meets: the notebook, the Udacity helper and the problem tests on top, the
facegan package beneath them; imports only go down, and the graded cells are the article's tf.layers.
"""
import ast
import glob
import os

import pytest

from conftest import ROOT, SCRIPT, run_script, use_few_synthetic_faces
from facegan import fast_layers

PACKAGE = os.path.join(ROOT, 'facegan')
LEARNERS_FILES = ['dlnd_face_generation', 'helper', 'problem_unittests']


def _imported_modules(path):
    """:return: The names of the modules a Python file imports ('facegan.checkpoints', 'numpy', ...)"""
    with open(path) as f:
        tree = ast.parse(f.read(), path)
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update('{}.{}'.format(node.module, alias.name) for alias in node.names)
    return names


def _package_graph():
    """:return: {facegan module: set of the facegan modules it imports}"""
    modules = {os.path.basename(path)[:-3] for path in glob.glob(os.path.join(PACKAGE, '*.py'))} - {'__init__'}
    return {module: {name.split('.')[1] for name in _imported_modules(os.path.join(PACKAGE, module + '.py'))
                     if name.startswith('facegan.') and name.split('.')[1] in modules and name.split('.')[1] != module}
            for module in modules}


def test_the_package_never_imports_the_files_above_it():
    for path in glob.glob(os.path.join(PACKAGE, '*.py')) + [os.path.join(ROOT, 'helper.py'),
                                                             os.path.join(ROOT, 'problem_unittests.py')]:
        upward = {name for name in _imported_modules(path) if name.split('.')[0] in LEARNERS_FILES}
        assert not upward, '{} imports {}'.format(os.path.relpath(path, ROOT), sorted(upward))


def test_no_import_cycle_in_the_package():
    graph = _package_graph()
    done, visiting = set(), []

    def visit(module):
        assert module not in visiting, 'import cycle: ' + ' -> '.join(visiting[visiting.index(module):] + [module])
        if module in done:
            return
        visiting.append(module)
        for imported in graph[module]:
            visit(imported)
        visiting.pop()
        done.add(module)

    for module in sorted(graph):
        visit(module)
    assert len(graph) >= 10  # the graph was read: the package has its modules


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


def test_the_run_cell_calls_train_with_the_hyperparameters():
    with open(SCRIPT) as f:
        source = ' '.join(f.read().split())
    assert ('train(epoch_count, batch_size, z_dim, learning_rate, beta1, dataset.get_batches, dataset.shape, '
            'dataset.image_mode,') in source


@pytest.mark.parametrize('flags,enabled', [([], True), (['--no-fast-layers'], False)])
def test_no_fast_layers_reaches_train(flags, enabled, tmp_path, monkeypatch, capsys):
    real = fast_layers.in_tf_layers
    seen = []

    def recording(on=True):
        seen.append(on)
        return real(on)

    monkeypatch.setattr(fast_layers, 'in_tf_layers', recording)
    use_few_synthetic_faces(monkeypatch, 16)
    assert run_script(['--batch-size', '8', '--max-steps', '1', '--eval-every', '0', '--data-dir',
                       str(tmp_path / 'data'), '--output-dir', str(tmp_path / 'out')] + flags) == 0
    assert seen == [enabled]
