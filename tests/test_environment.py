"""
TensorFlow as the project prepares it (core/environment.py, graph/session_settings.py): the notes its C++
code prints while it loads are dropped and anything else it prints is passed on, all of it when the user
asked for TensorFlow's log; and sessions keep running where TensorFlow no longer lets their threads change.
"""
import os
import subprocess
import sys

import pytest

from conftest import ROOT, child_env

from facegan.core import environment
from facegan.graph import session_settings

tf = session_settings.tf

NOTES = b'I0000 00:00:1712 cpu_feature_guard.cc:210] This TensorFlow binary is optimized\n' \
        b'WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n'


@pytest.mark.parametrize('log_level,shown', [(None, 'a real problem\n'),
                                             ('0', NOTES.decode() + 'a real problem\n')])
def test_the_notes_tensorflow_prints_on_load_are_dropped_unless_its_log_was_asked_for(log_level, shown, capfd,
                                                                                       monkeypatch):
    if log_level is None:
        monkeypatch.delenv('TF_CPP_MIN_LOG_LEVEL', raising=False)
    else:
        monkeypatch.setenv('TF_CPP_MIN_LOG_LEVEL', log_level)
    capfd.readouterr()
    with environment._native_notes_dropped():
        os.write(2, NOTES + b'a real problem\n')  # as TensorFlow's C++ code writes: to the file descriptor
    assert capfd.readouterr().err == shown


def test_tensorflow_imported_after_prepare_loads_without_its_notes_and_as_itself(tmp_path):
    """A notebook's `import tensorflow.compat.v1 as tf` after `import helper`: a package named tensorflow that
    prints as TensorFlow's C++ code does while it loads, imported in a Python of its own"""
    fake = tmp_path / 'tensorflow'
    fake.mkdir()
    (fake / '__init__.py').write_text('import os\nos.write(2, {!r})\n'.format(NOTES + b'a real problem\n'))
    code = ('import sys\nsys.path[:0] = [{!r}, {!r}]\nfrom facegan.core import environment\n'
            'environment.prepare()\nimport tensorflow\n'
            'print(type(tensorflow.__loader__).__name__, tensorflow.__spec__.loader is tensorflow.__loader__, '
            'any(type(finder).__name__ == "_QuietStartUp" for finder in sys.meta_path))').format(str(tmp_path), ROOT)
    result = subprocess.run([sys.executable, '-c', code], env=child_env(), capture_output=True, text=True)
    assert (result.stdout, result.stderr) == ('SourceFileLoader True False\n', 'a real problem\n')


def test_a_plain_session_runs_at_the_precision_asked_where_its_threads_can_no_longer_change(monkeypatch):
    """Once TensorFlow's runtime has started it refuses new thread counts: the sessions keep its own, and the
    precision is still set, then put back"""
    calls = []

    def refused(threads):
        calls.append(threads)
        raise RuntimeError('Intra op parallelism cannot be modified after initialization.')
    monkeypatch.setattr(tf.config.threading, 'set_intra_op_parallelism_threads', refused)
    with session_settings.for_plain_sessions('bfloat16'):
        assert tf.config.optimizer.get_experimental_options().get(session_settings.BFLOAT16_REWRITE) is True
    assert not tf.config.optimizer.get_experimental_options().get(session_settings.BFLOAT16_REWRITE, False)
    assert len(calls) == 1  # asked once; nothing to put back afterwards
