"""
The package's module map, read from the code's imports: which module imports which, layer by layer.

    python tools/module_map.py     # writes docs/module_map.png

Each layer is a row, the application at the top and the core at the bottom; each package of a layer
is a box of its modules; an arrow goes from a module to each project module it imports (at module
level or in a function). Imports only go down a layer, or stay in a package. The picture records
a digest of the imports it was drawn from, so tests/test_architecture.py can tell when it is stale.
"""
import ast
import glob
import hashlib
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = os.path.join(ROOT, 'facegan')
PICTURE = os.path.join(ROOT, 'docs', 'module_map.png')
LEARNERS_FILES = ('dlnd_face_generation', 'helper', 'problem_unittests')
# The layers, the top first: a module imports only from its own package or a package of a lower layer
LAYERS = (('app',), ('train', 'inspect'), ('graph',), ('data', 'output', 'metrics'), ('core',))
RANK = {package: len(LAYERS) - i for i, packages in enumerate(LAYERS) for package in packages}


def module_name(path):
    """:return: The dotted name of a project file: 'facegan.core.files', 'helper'"""
    name = os.path.relpath(path, ROOT)[:-len('.py')].replace(os.sep, '.')
    return name[:-len('.__init__')] if name.endswith('.__init__') else name


def project_files():
    """:return: {dotted name: path} of the package's modules (its __init__ files too) and the learner's files"""
    found = {module_name(path): path for path in glob.glob(os.path.join(PACKAGE, '**', '*.py'), recursive=True)}
    found.update({name: os.path.join(ROOT, name + '.py') for name in LEARNERS_FILES})
    return found


def imported_project_modules(path, known):
    """
    :param path: A Python file
    :param known: The project's module names
    :return: The project modules it imports anywhere in it (module level or in a function): for `from a import b`,
             a.b where that is a module, else a
    """
    with open(path) as f:
        tree = ast.parse(f.read(), path)
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                full = '{}.{}'.format(node.module, alias.name)
                found.add(full if full in known else node.module)
    return {name for name in found if name in known and name != module_name(path)}


def import_graph():
    """:return: {project module: set of the project modules it imports}"""
    files = project_files()
    return {name: imported_project_modules(path, set(files)) for name, path in files.items()}


def package_of(module):
    """:return: The package ('core', 'app', ...) of a facegan module, or None for the learner's files and __init__s"""
    parts = module.split('.')
    return parts[1] if parts[0] == 'facegan' and len(parts) == 3 else None


def upward_imports(graph):
    """:return: [(module, imported)] where an import runs up a layer or across packages of one layer, or into the
             learner's files"""
    wrong = []
    for module, imported in sorted(graph.items()):
        package = package_of(module)
        if package is None and module.startswith('facegan'):
            package = module.split('.')[1] if module.count('.') == 1 else None
        for name in sorted(imported):
            if module.startswith('facegan') and name in LEARNERS_FILES:
                wrong.append((module, name))
            elif package and package_of(name) and package_of(name) != package and \
                    RANK[package_of(name)] >= RANK[package]:
                wrong.append((module, name))
    return wrong


def digest(graph):
    """:return: A digest of the import graph: the picture records the one it was drawn from"""
    text = '\n'.join('{} -> {}'.format(module, ' '.join(sorted(imported))) for module, imported in sorted(graph.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _positions(graph):
    """:return: {module: (x, y)}, {package: (x0, y0, width, height)}: the layers as rows, packages as boxes"""
    positions, boxes = {}, {}
    row_height = 1.0 / len(LAYERS)
    for row, packages in enumerate(LAYERS):
        y_top = 1 - row * row_height
        modules = {package: sorted(m for m in graph if package_of(m) == package) for package in packages}
        total = sum(len(names) + 1 for names in modules.values())
        x = 0.0
        for package in packages:
            width = (len(modules[package]) + 1) / total
            boxes[package] = (x + 0.005, y_top - row_height + 0.02, width - 0.01, row_height - 0.04)
            for i, module in enumerate(modules[package]):
                positions[module] = (x + width * (i + 1) / (len(modules[package]) + 1),
                                     y_top - row_height / 2 - (0.12 * row_height if i % 2 else -0.12 * row_height))
            x += width
    return positions, boxes


def draw(graph, path=PICTURE):
    """Draw the package's modules and their imports to a PNG, recording the graph's digest in it."""
    from matplotlib.figure import Figure  # pylint: disable=import-outside-toplevel  (only to draw)
    from matplotlib.patches import FancyArrowPatch, Rectangle  # pylint: disable=import-outside-toplevel

    positions, boxes = _positions(graph)
    fig = Figure(figsize=(16, 9))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.axis('off')
    colours = dict(zip([p for packages in LAYERS for p in packages],
                       ['#fde2e4', '#e2ece9', '#dfe7fd', '#fff1e6', '#f0efeb', '#eae4e9', '#bee1e6', '#cddafd']))
    for package, (x, y, width, height) in boxes.items():
        ax.add_patch(Rectangle((x, y), width, height, facecolor=colours[package], edgecolor='#888888'))
        ax.text(x + 0.005, y + height - 0.01, 'facegan/{}/'.format(package), va='top', fontsize=9, weight='bold')
    for module, imported in graph.items():
        for name in imported:
            if module in positions and name in positions:
                ax.add_patch(FancyArrowPatch(positions[module], positions[name], arrowstyle='-|>', mutation_scale=7,
                                             color='#5a5a5a', alpha=0.35, linewidth=0.6,
                                             connectionstyle='arc3,rad=0.08'))
    for module, (x, y) in positions.items():
        ax.text(x, y, module.split('.')[-1], ha='center', va='center', fontsize=7.5,
                bbox=dict(boxstyle='round,pad=0.25', facecolor='white', edgecolor='#444444', linewidth=0.6))
    fig.savefig(path, dpi=100, metadata={'Description': 'imports digest ' + digest(graph)})
    return path


def recorded_digest(path=PICTURE):
    """:return: The imports digest the picture was drawn from, or None"""
    from PIL import Image  # pylint: disable=import-outside-toplevel
    with Image.open(path) as picture:
        return picture.info.get('Description', '').replace('imports digest ', '') or None


if __name__ == '__main__':
    print('wrote {}'.format(os.path.relpath(draw(import_graph()), ROOT)))
