"""
What TensorFlow needs before it loads, set by one explicit call: the learner's files (helper.py,
problem_unittests.py) and the entry points make it once. Importing a module of the package never
changes anything global; calling prepare() does, on purpose and only this.
"""
import contextlib
import importlib.abc
import importlib.util
import logging
import os
import sys
import tempfile
import warnings

from facegan.core.errors import UserError

KERAS_PROBLEM = ('tf.compat.v1.layers is unavailable: TensorFlow was loaded with Keras 3 before TF_USE_LEGACY_KERAS=1 '
                 'was set. Restart Python (in a notebook, the kernel) and import helper before anything imports '
                 'tensorflow, or `export TF_USE_LEGACY_KERAS=1` first (and `pip install -r requirements.txt` '
                 'for tf-keras)')


def prepare():
    """
    Set up what TensorFlow needs before it loads (again is harmless):
    - TF_USE_LEGACY_KERAS=1, so that tf.compat.v1.layers, the article's API, comes from tf-keras;
    - TF_CPP_MIN_LOG_LEVEL=3 unless it is set: TensorFlow's C++ log would bury the training log
      (TF_CPP_MIN_LOG_LEVEL=0 brings it back);
    - tf.layers' deprecation warnings left out: the project uses them on purpose, and TensorFlow's own
      logger at errors only;
    - the notes TensorFlow's C++ code prints as it loads dropped, wherever it is imported later (a notebook's
      `import tensorflow.compat.v1 as tf` after `import helper`), as load_tensorflow drops them.
    :raise UserError: TensorFlow was already loaded with Keras 3, which nothing can change in this process
    """
    os.environ['TF_USE_LEGACY_KERAS'] = '1'
    os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
    warnings.filterwarnings('ignore', message=r'`tf\.layers\.', category=UserWarning)
    logging.getLogger('tensorflow').setLevel(logging.ERROR)
    if 'tensorflow' in sys.modules:
        require_legacy_layers()
    elif not any(isinstance(finder, _QuietStartUp) for finder in sys.meta_path):
        sys.meta_path.insert(0, _QuietStartUp())


class _QuietStartUp(importlib.abc.MetaPathFinder):
    """Finds TensorFlow as Python would and has it load with its C++ start-up notes dropped; then leaves."""

    def __init__(self):
        self._searching = False

    def find_spec(self, name, path=None, target=None):
        """:return: None (Python looks on) but for TensorFlow: its own spec, to be loaded by _QuietLoader"""
        del path, target
        if name != 'tensorflow' or self._searching:
            return None
        self._searching = True  # the search below is Python's own, through every other finder (not only sys.path's)
        try:
            spec = importlib.util.find_spec(name)
        finally:
            self._searching = False
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietLoader(spec.loader, self)
        return spec


class _QuietLoader(importlib.abc.Loader):
    """TensorFlow's own loader, run with the notes dropped; the module keeps that loader."""

    def __init__(self, loader, finder):
        self._loader, self._finder = loader, finder

    def create_module(self, spec):
        """:return: What TensorFlow's loader creates"""
        return self._loader.create_module(spec)

    def exec_module(self, module):
        """Load TensorFlow: the notes its C++ code prints meanwhile are dropped, anything else passed on"""
        module.__loader__ = module.__spec__.loader = self._loader
        if self._finder in sys.meta_path:
            sys.meta_path.remove(self._finder)
        with _native_notes_dropped():
            self._loader.exec_module(module)


def require_legacy_layers():
    """:raise UserError: the loaded TensorFlow has Keras 3 (it loaded before prepare()), which nothing can change"""
    if not legacy_layers_available():
        raise UserError(KERAS_PROBLEM)


def legacy_layers_available():
    """:return: Whether the loaded TensorFlow's tf.compat.v1.layers works (it resolves Keras on first use)"""
    try:
        sys.modules['tensorflow'].compat.v1.layers.Layer  # pylint: disable=pointless-statement
    except (AttributeError, ImportError):
        return False
    return True


def in_notebook_kernel():
    """:return: True inside a Jupyter kernel (Jupyter, VS Code, Spyder): its sys.argv is the kernel's own, and it shows
             errors (a UserError as its one line) and handles signals itself"""
    kernel_app = sys.modules.get('ipykernel.kernelapp')
    return kernel_app is not None and kernel_app.IPKernelApp.initialized()


def load_tensorflow():
    """
    Import TensorFlow now, after prepare(), without the notes its C++ code writes to stderr before it
    reads TF_CPP_MIN_LOG_LEVEL (oneDNN, CUDA probes); every other line written meanwhile is passed on
    :return: The tensorflow.compat.v1 module
    """
    prepare()
    import tensorflow.compat.v1 as tf  # pylint: disable=import-outside-toplevel
    return tf


@contextlib.contextmanager
def _native_notes_dropped():
    """While the block runs, the lines written to stderr's file descriptor are held, then passed on but the notes."""
    if os.environ.get('TF_CPP_MIN_LOG_LEVEL') == '0':
        yield
        return
    sys.stderr.flush()
    saved_fd = os.dup(2)
    with tempfile.TemporaryFile(mode='w+b') as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved_fd, 2)
            os.close(saved_fd)
            captured.seek(0)
            for line in captured.read().decode(errors='replace').splitlines(keepends=True):
                if not line.startswith(('I0000', 'WARNING: All log messages before absl::InitializeLog()')):
                    sys.stderr.write(line)
