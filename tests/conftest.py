"""
Test set-up: the project's modules on the path, TensorFlow imported with legacy Keras, and a
matplotlib backend that needs no display.
"""
import os
import sys

os.environ.setdefault('MPLBACKEND', 'Agg')
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import helper  # noqa: E402  (must follow the path set-up)

helper.import_tensorflow()  # before any test module imports tensorflow


import pytest  # noqa: E402
import run_tools  # noqa: E402


@pytest.fixture(autouse=True)
def small_batch_norm_calibration(monkeypatch):
    """Recompute batch norm's statistics from 64 z, not 1024: the tests' runs are a few steps long."""
    monkeypatch.setattr(run_tools, 'CALIBRATION_Z', 64)
