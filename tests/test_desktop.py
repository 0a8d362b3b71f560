"""
On a desktop nothing waits on the learner: under a real X server (Xvfb), where matplotlib picks an
interactive backend of its own, the script shows its grids in a window that does not block and
finishes by itself. (The other tests force the Agg backend, which never opens a window.)
"""
import os
import shutil
import subprocess
import sys

import pytest

from conftest import GUARD_SECONDS, ROOT, child_env, faces

pytestmark = pytest.mark.skipif(shutil.which('Xvfb') is None,
                                reason='no X server to test on: apt-get install xvfb (.ci/run does)')


@pytest.fixture
def x_display():
    """A real X server (Xvfb) on a display number it picks itself: :return: the DISPLAY value"""
    read, write = os.pipe()
    server = subprocess.Popen(['Xvfb', '-displayfd', str(write), '-screen', '0', '1280x1024x24', '-nolisten', 'tcp'],
                              pass_fds=(write,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write)
    with os.fdopen(read) as numbers:
        number = numbers.readline().strip()  # written once the server accepts clients
    try:
        assert number, 'Xvfb did not start'
        yield ':' + number
    finally:
        server.terminate()
        server.wait(timeout=GUARD_SECONDS)


def test_a_desktop_run_shows_its_grids_without_waiting_and_ends_by_itself(x_display, tmp_path):
    env = child_env(MPLBACKEND=None, DISPLAY=x_display)  # matplotlib chooses, as on a learner's desktop
    backend = subprocess.run([sys.executable, '-c', 'from matplotlib import pyplot; print(pyplot.get_backend())'],
                             capture_output=True, text=True, env=env, timeout=GUARD_SECONDS)
    assert backend.stdout.strip().lower() in ('tkagg', 'qtagg', 'gtk4agg', 'gtk3agg', 'wxagg'), backend.stdout
    # The run `--max-steps 2 --show-every 2 --eval-every 0` (a grid shown at step 2, then the walk of what it learned),
    # on 16 faces at batch 1, its fastest steps; a window that waited would hold it past the guard
    argv = ['--max-steps', '2', '--show-every', '2', '--eval-every', '0', '--dataset', 'folder',
            '--data-dir', faces(tmp_path / 'data', 16), '--batch-size', '1', '--output-dir', str(tmp_path / 'out')]
    result = subprocess.run([sys.executable, os.path.join(ROOT, 'dlnd_face_generation.py')] + argv, cwd=str(tmp_path),
                            capture_output=True, text=True, env=env, timeout=GUARD_SECONDS)
    assert result.returncode == 0, result.stderr[-3000:]
    assert 'Done at step 2 (max_steps 2 reached)' in result.stdout
    assert (tmp_path / 'out' / 'walk.png').exists()  # What did it learn? ran: there is a display
