"""
TensorBoard reads what --logdir writes: a real `tensorboard` server, started on a free port, serves
the shared run's d_loss and g_loss over its HTTP API, the same values as losses.csv.
"""
import json
import os
import queue
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import numpy as np
import pytest

from conftest import child_env

DEADLINE_SECONDS = 120  # only a guard: the waits end as soon as TensorBoard answers
POLL_SECONDS = 0.2
STEPS = 4
SERVING = re.compile(r'TensorBoard \S+ at (http://127\.0\.0\.1:\d+/)')


def _lines_of(process):
    """
    :param process: A subprocess.Popen with text stdout
    :return: A queue that gets each line the process prints (None at the end), read by a thread
    """
    lines = queue.Queue()

    def read():
        for line in iter(process.stdout.readline, ''):
            lines.put(line)
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    return lines


def _wait_for_url(lines, deadline):
    """
    :param lines: The server's output lines, from _lines_of
    :param deadline: time.monotonic() by which it must say where it serves
    :return: The server's URL, from its 'TensorBoard 2.x at http://...' line
    """
    seen = []
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=max(0, deadline - time.monotonic()))
        except queue.Empty:
            break
        if line is None:
            raise AssertionError('tensorboard exited before serving: {}'.format(''.join(seen)))
        seen.append(line)
        match = SERVING.search(line)
        if match:
            return match.group(1)
    raise AssertionError('tensorboard did not say where it serves within {} s: {}'.format(DEADLINE_SECONDS,
                                                                                           ''.join(seen)))


def _scalars(url, tag):
    """
    :param url: The server's URL
    :param tag: 'd_loss' or 'g_loss'
    :return: The run's [wall time, step, value] rows for the tag, or None while TensorBoard has not
        loaded them (it reads the event files in the background after it starts)
    """
    query = urllib.parse.urlencode({'run': '.', 'tag': tag})  # '.': the events are in the logdir itself
    try:
        with urllib.request.urlopen('{}data/plugin/scalars/scalars?{}'.format(url, query), timeout=10) as reply:
            return json.loads(reply.read().decode('utf-8'))
    except urllib.error.HTTPError as err:
        if err.code in (400, 404):  # no such run or tag yet
            return None
        raise


def _poll_scalars(url, tag, server, deadline):
    """
    Ask TensorBoard for a tag's scalars until it has all STEPS of them
    :param url: The server's URL
    :param tag: 'd_loss' or 'g_loss'
    :param server: The server's process: the polls stop if it exits
    :param deadline: time.monotonic() by which the scalars must be there
    :return: The rows, sorted by step
    """
    rows = None
    while time.monotonic() < deadline and server.poll() is None:
        rows = _scalars(url, tag)
        if rows and len(rows) >= STEPS:
            return sorted(rows, key=lambda row: row[1])
        time.sleep(POLL_SECONDS)  # between polls of a deadline-bounded loop
    raise AssertionError('tensorboard served {} for {} (exit code {})'.format(rows, tag, server.poll()))


def test_tensorboard_serves_the_losses_of_a_run(shared_run, tmp_path):
    out, _, logdir = shared_run
    written = np.genfromtxt(os.path.join(out, 'losses.csv'), delimiter=',', names=True)
    # TMPDIR: TensorBoard keeps a folder of its running servers (.tensorboard-info) in the temporary folder, and
    # leaves it there; the test's own, not the user's
    server = subprocess.Popen([sys.executable, '-m', 'tensorboard.main', '--logdir', logdir,
                               '--host', '127.0.0.1', '--port', '0'], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, env=child_env(TMPDIR=str(tmp_path)))
    try:
        deadline = time.monotonic() + DEADLINE_SECONDS
        url = _wait_for_url(_lines_of(server), deadline)
        for tag in ('d_loss', 'g_loss'):
            rows = _poll_scalars(url, tag, server, deadline)
            assert [step for _, step, _ in rows] == list(range(1, STEPS + 1))
            assert [value for _, _, value in rows] == pytest.approx(written[tag].tolist(), abs=1e-5)
    finally:
        server.terminate()
        server.wait(timeout=DEADLINE_SECONDS)
    assert os.listdir(str(tmp_path)) == ['.tensorboard-info']  # what it wrote there: nothing in the user's
