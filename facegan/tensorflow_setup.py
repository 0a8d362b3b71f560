"""
TensorFlow 1 graph mode on TensorFlow 2: import it with the legacy Keras that tf.compat.v1.layers
needs, without the C++ log that would bury the training log, and set up a session for this CPU.
"""
import contextlib
import functools
import os
import random
import sys
import tempfile
import warnings

import numpy as np

from facegan import interrupts


@contextlib.contextmanager
def _native_info_lines_dropped():
    """
    Drop the INFO lines TensorFlow's C++ code writes to stderr while it loads, before it reads
    TF_CPP_MIN_LOG_LEVEL; every other line written meanwhile is passed on. Level 0 keeps all.
    """
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


@functools.lru_cache(maxsize=None)  # once: later calls return the module
def import_tensorflow():
    """
    Import TensorFlow so that tf.compat.v1.layers works under Keras 3.

    TensorFlow routes tf.compat.v1.layers to the tf-keras package only when TF_USE_LEGACY_KERAS=1
    is set before its Keras loader first resolves, so every entry point calls this first.
    :return: The tensorflow.compat.v1 module, used as `tf` throughout the project
    """
    os.environ['TF_USE_LEGACY_KERAS'] = '1'
    interrupts.install_one_line_errors()
    # TensorFlow's C++ log (CUDA probes, graph-optimizer notes) would bury the training log;
    # TF_CPP_MIN_LOG_LEVEL=0 brings it back.
    os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
    with _native_info_lines_dropped():
        import tensorflow  # pylint: disable=import-outside-toplevel

    try:
        tensorflow.compat.v1.layers.Layer  # resolves the lazy loader: Keras 3 or tf-keras
    except (AttributeError, ImportError):
        raise RuntimeError(
            'tf.compat.v1.layers is unavailable: TensorFlow was set up with Keras 3 before '
            'TF_USE_LEGACY_KERAS=1 was set. Restart Python with `export TF_USE_LEGACY_KERAS=1` '
            '(and `pip install -r requirements.txt` for tf-keras), or import this project '
            'before anything imports tensorflow.') from None
    # The project uses tf.layers on purpose (it is the article's API); its deprecation
    # warnings would bury the training log.
    warnings.filterwarnings('ignore', message=r'`tf\.layers\.', category=UserWarning)
    tensorflow.get_logger().setLevel('ERROR')
    return tensorflow.compat.v1


# /proc/cpuinfo's flags for bfloat16 arithmetic in hardware, which oneDNN's bfloat16 rewrite uses:
# Intel AMX tiles, or AVX-512's bfloat16 dot products (Intel since Cooper Lake, AMD since Zen 4)
BFLOAT16_FLAGS = ('amx_bf16', 'avx512_bf16')


def cpu_bfloat16_support(cpuinfo='/proc/cpuinfo'):
    """
    :param cpuinfo: The file that lists the CPU's flags (a test gives a fake one)
    :return: The flag that makes bfloat16 native here, as 'AMX_BF16' or 'AVX512_BF16', or None
             (neither, or no such file: off Linux)
    """
    try:
        with open(cpuinfo) as text:
            flags = set(text.read().split())
    except OSError:
        return None
    return next((flag.upper() for flag in BFLOAT16_FLAGS if flag in flags), None)


def usable_cores():
    """:return: The number of cores this process may use (a container may get fewer than the machine has)"""
    return len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count()


def session_config(precision='float32'):
    """
    Session settings for this machine
    :param precision: 'float32', or 'bfloat16': oneDNN then runs the convolutions and matmuls in
                      bfloat16 while the variables, and Adam, stay float32
    :return: tf.ConfigProto
    """
    tf = import_tensorflow()
    # The cores this process may use, all on each op, one op at a time: a step is a chain of large
    # convolutions. On 2 cores no setting measured faster.
    config = tf.ConfigProto(intra_op_parallelism_threads=usable_cores(), inter_op_parallelism_threads=1)
    if precision == 'bfloat16':
        rewrites = config.graph_options.rewrite_options
        rewrites.auto_mixed_precision_onednn_bfloat16 = rewrites.ON
    return config


def set_seeds(seed):
    """
    Seed numpy, Python's random (tf-keras draws its initializers' seeds from it) and the graph
    :param seed: The seed; call inside the graph's `with` block
    """
    np.random.seed(seed)
    random.seed(seed)
    import_tensorflow().set_random_seed(seed)
