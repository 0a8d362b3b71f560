"""
Test set-up: the project's modules on the path, TensorFlow prepared as the learner's files prepare it (and the
test process's garbage collector set for building graphs), a matplotlib backend that needs no display; a run of
the script in this process with the problem tests switched off (one test keeps them on); fixtures for race tests
(real processes started in step), a real full disk (a small tmpfs), and the trained runs several tests share,
each made once a session whatever the number of workers.
"""
import contextlib
import errno
import fcntl
import gc
import json
import os
import queue
import runpy
import shutil
import signal
import subprocess
import sys
import threading

import pytest
from hypothesis import HealthCheck, settings

# numpy's matrix products on one thread, in every test process and in the processes they start (they inherit it;
# OpenBLAS reads it when numpy is first imported, below): the two workers share the cores, and after each product
# OpenBLAS's idle threads spin on the core the other worker trains on (docs/testing.md: the runs' and scores' tests
# take 0.92 of the CPU time). The products' rounding then no longer depends on how many cores the machine has either.
os.environ['OPENBLAS_NUM_THREADS'] = '1'

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault('MPLBACKEND', 'Agg')
sys.path.insert(0, ROOT)

from facegan.core import environment  # noqa: E402  (must follow the path set-up)


def pytest_configure(config):
    """
    Load TensorFlow as helper.py prepares it, without the notes its C++ code prints on load, in each process that
    runs tests: not in pytest-xdist's controller, which only hands the tests out (its workers start seconds sooner);
    then set that process's garbage collector for building graphs test after test (GC_THRESHOLDS)
    """
    config.pluginmanager.import_plugin('pytester')  # pytest's own: a pytest session in a test (test_problem_unittests)
    if config.getoption('numprocesses', default=None) and not hasattr(config, 'workerinput'):
        return
    environment.load_tensorflow()
    gc.freeze()  # TensorFlow's modules live as long as the process: no pass need walk them
    gc.set_threshold(*GC_THRESHOLDS)


# A worker builds a TensorFlow graph in most of its tests, tens of thousands of objects that live until it ends, and at
# Python's thresholds (700, 10, 10) its collector ran about 4,000 times, 20 of them full passes over everything left
# from the tests before. Higher ones (and TensorFlow's objects frozen) leave it about 700 runs and 5 full passes:
# 0.92 of the suite's CPU time (docs/testing.md). Only the test processes: what the tests start keeps Python's own.
GC_THRESHOLDS = (20000, 20, 20)


# Hypothesis profiles: 'ci' (the default: 30 examples, derandomized so a run is repeatable, no deadline: a
# step's time swings with other tenants) and 'thorough', ten times the examples, for a developer:
# --hypothesis-profile=thorough (docs/testing.md gives the command)
_PROFILE = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
settings.register_profile('ci', max_examples=30, derandomize=True, print_blob=True, **_PROFILE)
settings.register_profile('thorough', max_examples=300, **_PROFILE)
settings.load_profile('ci')

import helper  # noqa: E402
import narrow_script  # noqa: E402
from facegan.app import interrupts  # noqa: E402
from facegan.core.errors import UserError  # noqa: E402
from facegan.core.signals import STOP_SIGNALS  # noqa: E402

SCRIPT = os.path.join(ROOT, 'dlnd_face_generation.py')
# The switch that leaves the five problem tests out of a run of the script (problem_unittests.py reads it):
# a test that is about something else need not wait for them; test_cli.py checks that they do run without it
SKIP_PROBLEM_TESTS = 'DLND_SKIP_PROBLEM_TESTS'

# Variables a process the tests start would otherwise inherit from whoever runs pytest, and that
# change what it prints or does: TensorFlow's C++ log level, the notebook's flags, Keras' choice
# (environment.prepare sets it), Python's warnings, hash seed and module path.
_CALLERS_VARIABLES = ('TF_CPP_MIN_LOG_LEVEL', 'TF_CPP_MAX_VLOG_LEVEL', 'TF_CPP_VMODULE', 'TF_USE_LEGACY_KERAS',
                      'DLND_ARGS', 'PYTHONWARNINGS', 'PYTHONPATH', 'PYTHONSTARTUP', 'PYTHONIOENCODING',
                      'LANGUAGE', 'DISPLAY', SKIP_PROBLEM_TESTS)


def child_env(**overrides):
    """
    The environment of a process a test starts, the same whatever the caller's shell exported:
    the program's defaults (no TF_CPP_MIN_LOG_LEVEL, so the program's own rule, quiet, applies; no
    DLND_ARGS, no display), the C locale with Python in UTF-8 mode, a fixed hash seed and a backend that
    needs no display; the problem tests switched off (SKIP_PROBLEM_TESTS=None keeps them). Kept from the
    caller: PATH, HOME and the like, CUDA_VISIBLE_DEVICES and oneDNN's settings (ONEDNN_MAX_CPU_ISA,
    TF_ENABLE_ONEDNN_OPTS: the numerical tests are run under each on purpose).
    :param overrides: Variables to set (a str) or to remove (None)
    :return: A new dict for subprocess's env=
    """
    env = {key: value for key, value in os.environ.items() if key not in _CALLERS_VARIABLES}
    env.update(LC_ALL='C', LANG='C', PYTHONUTF8='1', PYTHONHASHSEED='0', MPLBACKEND='Agg')
    env[SKIP_PROBLEM_TESTS] = '1'
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def terminal_signals():
    """
    A preexec_fn for a child the tests send signals to: Ctrl-C, kill and a closing terminal start at their defaults,
    as a terminal gives them, whatever the tests' own caller left ignored (a shell starts a background job with
    Ctrl-C ignored, nohup ignores a closing terminal, and children inherit both)
    """
    for signum in STOP_SIGNALS:
        signal.signal(signum, signal.SIG_DFL)


CALIBRATION_Z = 64  # z drawn to recompute batch norm's statistics in the tests' runs, not 512: they are short


def calibrate_small(patch):
    """Make the runs recompute batch norm's statistics from CALIBRATION_Z z until patch (a MonkeyPatch) undoes it"""
    patch.setattr('facegan.graph.batch_norm.CALIBRATION_Z', CALIBRATION_Z)  # named: importing it loads TensorFlow


@pytest.fixture(autouse=True)
def small_batch_norm_calibration(monkeypatch):
    """Recompute batch norm's statistics from CALIBRATION_Z z: the tests' runs are a few steps long."""
    calibrate_small(monkeypatch)


def run_script(argv, problem_tests=False, narrow=False):
    """
    Run the notebook script in this process, every cell, as `python dlnd_face_generation.py ARGV`
    runs it (monkeypatches of the modules it imports apply)
    :param argv: Its command line
    :param problem_tests: Run the five problem tests in their cells too (they take seconds)
    :param narrow: Run it with tiny_networks.py's networks in its cells (narrow_script.py): for a test of what the
                   script does whatever the networks' widths
    :return: The exit code: 0, argparse's, or a one-line error's (printed on stderr as the script prints it)
    """
    saved_argv, saved_switch = sys.argv, os.environ.get(SKIP_PROBLEM_TESTS)
    sys.argv = [SCRIPT] + list(argv)
    os.environ.pop(SKIP_PROBLEM_TESTS, None) if problem_tests else os.environ.update({SKIP_PROBLEM_TESTS: '1'})
    try:
        if narrow:
            exec(narrow_script.compiled(), {'__name__': '__main__', '__file__': SCRIPT})
        else:
            runpy.run_path(SCRIPT, run_name='__main__')
    except SystemExit as err:
        return err.code
    except UserError as err:
        return interrupts.report(err)
    finally:
        sys.argv = saved_argv
        os.environ.pop(SKIP_PROBLEM_TESTS, None)
        if saved_switch is not None:
            os.environ[SKIP_PROBLEM_TESTS] = saved_switch
    return 0


def faces(folder, count, seed=0):
    """:return: A folder of count synthetic faces (drawn once a folder), as --dataset folder takes it"""
    return helper.make_synthetic_faces(str(folder), count, seed)


# --- The trained runs several tests share ------------------------------------------------------------

SHARED_FACES = 48  # 40 to train on at batch 8 (5 steps an epoch), 8 held out for the scores
# The run every test of a saved run through the script starts from: 4 steps, checkpoints at steps 2 and 4, scores
# at steps 0, 2 and 4, grids at 2 and 4, TensorBoard's events; no averaged generator (the default)
SHARED_RUN = ['--dataset', 'folder', '--batch-size', '8', '--max-steps', '4', '--save-every', '2',
              '--keep-checkpoints', '2', '--eval-every', '2', '--eval-images', '8', '--show-every', '2',
              '--precision', 'float32']  # float32: the same run on every CPU


@contextlib.contextmanager
def _locked(path):
    """While the block runs, this process holds an exclusive lock on path (other workers wait)."""
    with open(path, 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@pytest.fixture(scope='session')
def shared_folder(tmp_path_factory, worker_id):
    """A folder this session's workers share (the tests' base folder's parent under xdist)."""
    base = tmp_path_factory.getbasetemp()
    folder = (base.parent if worker_id != 'master' else base) / 'shared'
    folder.mkdir(exist_ok=True)
    return folder


def shared(shared_folder, name, make):
    """
    :param name: The shared thing's folder name
    :param make: Function that makes it in the folder it is given
    :return: The folder, made once a session by whichever worker asks first (the others wait for it)
    """
    folder, done = shared_folder / name, shared_folder / (name + '.done')
    with _locked(str(shared_folder / (name + '.lock'))):
        if not done.exists():
            shutil.rmtree(str(folder), ignore_errors=True)
            folder.mkdir()
            make(folder)
            done.write_text(json.dumps({'made by': os.getpid()}))
    return folder


@pytest.fixture(scope='session')
def shared_run(shared_folder):
    """
    :return: (the run's output folder, its data folder, its logdir): SHARED_RUN trained once a session through
             the script's cells with the narrow networks (narrow_script.py; in a worker's process), never written
             to by a test: copy_run it first. A test that runs the script on it runs it narrow too
    """
    def make(folder):
        data = faces(folder / 'data', SHARED_FACES)
        with pytest.MonkeyPatch.context() as patch:  # as small_batch_norm_calibration sets it for each test
            calibrate_small(patch)
            code = run_script(SHARED_RUN + ['--data-dir', data, '--output-dir', str(folder / 'run'),
                                            '--logdir', str(folder / 'logs')], narrow=True)
        assert code == 0, 'the shared run did not train'

    folder = shared(shared_folder, 'run', make)
    return str(folder / 'run'), faces(folder / 'data', SHARED_FACES), str(folder / 'logs')


# SHARED_RUN's settings, with a checkpoint every step (3 MB each: tests damage several) and an averaged generator
NARROW_RUN = dict(max_steps=4, save_every=1, keep_checkpoints=4, eval_every=2, eval_images=8, show_every=2,
                  precision='float32', average_decay=0.995)


def train_narrow(data, output_dir, resume=False, **settings):
    """
    Train as the run cell does (runs.train with the notebook module's train and generator, as a test left them:
    narrow_networks makes them narrow), in notebook mode: epochs 1, batch 8, z 100, the notebook's learning rate
    :param data: A folder of faces (--dataset folder)
    :param settings: train()'s keywords, over NARROW_RUN's
    :return: The run's RunConfig
    """
    import dlnd_face_generation as dlnd
    from facegan.app import runs

    dataset = helper.Dataset('folder', helper.list_image_files(data), image_mode='RGB')
    return runs.train(dlnd.train, dlnd.generator, 1, 8, 100, 0.0005, 0.5, dataset, output_dir=output_dir,
                      resume=resume, **dict(NARROW_RUN, **settings))


def run_command(argv):
    """
    Run `dlnd_face_generation.py generate|evaluate ...` as the script's cells do (command_line.parse; for
    evaluate, the CelebA cell's dataset from the flags; then the last cell's runs.generate or runs.evaluate with
    the notebook module's generator, as a test left it: narrow_networks makes it narrow), in this process
    :param argv: The command line, from 'generate' or 'evaluate' on
    :return: The exit code: 0, argparse's, or a one-line error's (printed on stderr as the script prints it)
    """
    import dlnd_face_generation as dlnd
    from facegan.app import command_line, runs

    try:
        flags = command_line.parse(list(argv))
        if flags.command == 'generate':
            runs.generate(dlnd.generator, flags)
        else:
            files = flags.face_files(flags.data_dir or './data')
            runs.evaluate(dlnd.generator, helper.Dataset(flags.dataset, files, image_mode=flags.image_mode), flags)
    except SystemExit as err:
        return err.code
    except UserError as err:
        return interrupts.report(err)
    return 0


def generate(argv):
    """:return: run_command(['generate'] + argv)"""
    return run_command(['generate'] + list(argv))


@pytest.fixture(scope='session')
def narrow_run(shared_folder):
    """
    :return: (the run's output folder, its data folder, its logdir), as shared_run's: NARROW_RUN trained once a
             session with the narrow networks (tiny_networks.py), never written to by a test: copy_run it first
    """
    import tiny_networks

    def make(folder):
        with pytest.MonkeyPatch.context() as patch:
            calibrate_small(patch)
            tiny_networks.narrow_networks(patch)
            train_narrow(faces(folder / 'data', SHARED_FACES), str(folder / 'run'), logdir=str(folder / 'logs'))

    folder = shared(shared_folder, 'narrow_run', make)
    return str(folder / 'run'), faces(folder / 'data', SHARED_FACES), str(folder / 'logs')


def copy_run(source, target):
    """
    Copy a run's output folder for a test to change: checkpoint files as hard links (a test replaces a file it
    damages, never writes into one), the rest as copies
    :return: The copy's path
    """
    shutil.copytree(source, str(target), copy_function=lambda src, dst: (
        os.link(src, dst) if os.sep + 'checkpoints' + os.sep in src else shutil.copy2(src, dst)))
    return str(target)


# --- Race tests: real Python processes that import helper and are started in step ------------

GUARD_SECONDS = 120  # only a guard against a hang: every wait ends on an event, never on a clock

_CHILD_CODE = '''
import importlib, json, sys, threading
sys.path.insert(0, {root!r})
import helper
if {pause_at!r}:
    module_name, _, name = {pause_at!r}.rpartition('.')
    module = importlib.import_module(module_name)
    real, lock, paused = getattr(module, name), threading.Lock(), []
    def pausing(*args, **kwargs):
        with lock:
            if not paused:
                paused.append(True)
                print('paused', flush=True)
                sys.stdin.readline()
        return real(*args, **kwargs)
    setattr(module, name, pausing)
print('ready', flush=True)
sys.stdin.readline()
try:
    result = {call}
except helper.DatasetError as err:
    result = 'DatasetError: {{}}'.format(err)
print('result', json.dumps(result), flush=True)
'''


class Children:
    """
    Python processes that each import helper, say 'ready', wait for a line on stdin, then evaluate
    one expression and print 'result <json>'. With pause_at, a function's dotted name where it is
    looked up ('facegan.data.images.decode_or_none'), each pauses at its first call of that function
    (printing 'paused') until it gets another line or its stdin closes. Every line
    they print goes to one queue, so a test can wait for whichever comes first.
    """

    def __init__(self, calls, pause_at=None):
        self.events = queue.Queue()
        self.output = [[] for _ in calls]
        self.procs = []
        self._readers = []
        for i, call in enumerate(calls):
            code = _CHILD_CODE.format(root=ROOT, pause_at=pause_at, call=call)
            proc = subprocess.Popen([sys.executable, '-c', code], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True, env=child_env())
            self.procs.append(proc)
            for name, stream in (('out', proc.stdout), ('err', proc.stderr)):
                reader = threading.Thread(target=self._read, args=(i, name, stream), daemon=True)
                reader.start()
                self._readers.append(reader)
        ready = set()
        while len(ready) < len(calls):
            ready.add(self.wait_for(lambda event: event[1:] == ('out', 'ready'), 'every child to start')[0])

    def _read(self, i, name, stream):
        for line in iter(stream.readline, ''):
            for part in line.rstrip('\n').split('\r'):  # progress bars redraw with a carriage return
                self.output[i].append((name, part))
                self.events.put((i, name, part.strip()))

    def wait_for(self, predicate, what):
        """
        Take events off the queue until one matches; the others are dropped
        :param predicate: Function of an event (child index or 'server', 'out'/'err', line)
        :param what: What is awaited, for the message if nothing comes
        :return: The first event that matches
        """
        while True:
            try:
                event = self.events.get(timeout=GUARD_SECONDS)
            except queue.Empty:
                raise AssertionError('no sign of {} after {} s: {}'.format(what, GUARD_SECONDS, self.output)) from None
            if predicate(event):
                return event

    @staticmethod
    def held_back(event, i):
        """
        :return: True when child i paused inside its call, or said it waits for a peer that holds
            the lock (the one-line note 'note: another process is ...; waiting for it to finish')
        """
        return event[0] == i and (event[1:] == ('out', 'paused') or
                                  (event[1] == 'err' and event[2].startswith('note:') and 'waiting for it' in event[2]))

    def send(self, i):
        """Let child i go on (start its call, or go on from its pause)."""
        self.procs[i].stdin.write('go\n')
        self.procs[i].stdin.flush()

    def finish(self):
        """
        Close every stdin (which ends any pause) and wait for the children
        :return: For each child, (return code, its result, its stderr lines)
        """
        for proc in self.procs:
            proc.stdin.close()
        for proc in self.procs:
            proc.wait(timeout=GUARD_SECONDS)
        for reader in self._readers:
            reader.join(timeout=GUARD_SECONDS)
        return [(proc.returncode,
                 [json.loads(line[len('result '):]) for name, line in out if line.startswith('result ')],
                 [line for name, line in out if name == 'err'])
                for proc, out in zip(self.procs, self.output)]

    def kill(self):
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


@pytest.fixture
def exits(monkeypatch):
    """
    The script's last word (facegan/app/interrupts.py) in this process: os._exit raises Exited, the signals'
    handlers are set on a dict (this process's stay as they are), no signal has come, and install() installs its hook
    again
    :return: (Exited, the handlers set: {signal: handler})
    """
    class Exited(Exception):
        pass

    def exit_(code):
        raise Exited(code)

    handlers = {}
    monkeypatch.setattr(interrupts.os, '_exit', exit_)
    monkeypatch.setattr(interrupts.signal, 'signal', lambda signum, handler: handlers.__setitem__(signum, handler))
    monkeypatch.setattr(interrupts, '_STOPPED_BY', [])
    monkeypatch.setattr(sys, 'excepthook', sys.__excepthook__)
    return Exited, handlers


@pytest.fixture
def children():
    """Start Children(calls, pause_at); any still running when the test ends are killed."""
    started = []

    def start(calls, pause_at=None):
        started.append(Children(calls, pause_at))
        return started[-1]

    yield start
    for group in started:
        group.kill()


@pytest.fixture
def small_disk(tmp_path):
    """
    A 64 KB tmpfs mounted in tmp_path, for real full-disk errors; skipped where mounting is not
    allowed (not root, or a sandbox without mount rights): the injected-ENOSPC tests still run
    """
    mount_point = str(tmp_path / 'small_disk')
    os.makedirs(mount_point)
    try:
        result = subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', mount_point],
                                capture_output=True, text=True, timeout=GUARD_SECONDS, env=child_env())
    except OSError as err:
        pytest.skip('cannot mount a tmpfs here: {}'.format(err))
    if result.returncode != 0:
        pytest.skip('cannot mount a tmpfs here: {}'.format(result.stderr.strip() or result.returncode))
    yield mount_point
    subprocess.run(['umount', mount_point], check=True, timeout=GUARD_SECONDS)


# --- MNIST and CelebA as download_extract leaves them, small: the notebooks' data cells find them -----------

NOTEBOOK_DIGITS = 32  # 2 steps an epoch at batch 16
NOTEBOOK_FACES = 48


def _extracted(folder, write):
    """Make an extracted dataset's folder: its images, then the marker download_extract writes last."""
    os.makedirs(folder)
    write(folder)
    open(os.path.join(folder, '.complete'), 'w').close()


@pytest.fixture(scope='session')
def notebook_data(shared_folder):
    """
    :return: A data folder holding mnist/ (NOTEBOOK_DIGITS digits, image_N.jpg as the template names them) and
             img_align_celeba/ (NOTEBOOK_FACES CelebA-sized faces), each with download_extract's completion marker
    """
    import numpy as np
    from PIL import Image

    def digits(folder):
        rng = np.random.default_rng(0)
        for i in range(NOTEBOOK_DIGITS):
            pixels = np.zeros((28, 28), np.uint8)
            pixels[rng.integers(4, 10):rng.integers(18, 24), rng.integers(8, 13):rng.integers(15, 20)] = 255
            Image.fromarray(pixels).save(os.path.join(folder, 'image_{}.jpg'.format(i)), quality=100)

    def celeba(folder):
        drawn = faces(os.path.join(os.path.dirname(os.path.dirname(folder)), 'drawn'), NOTEBOOK_FACES)
        for i, name in enumerate(sorted(os.listdir(drawn))):
            shutil.copy(os.path.join(drawn, name), os.path.join(folder, '{:06d}.jpg'.format(i + 1)))

    def make(folder):
        _extracted(str(folder / 'data' / 'mnist'), digits)
        _extracted(str(folder / 'data' / 'img_align_celeba'), celeba)

    return str(shared(shared_folder, 'notebook_data', make) / 'data')


# --- Watching what a process says, and files that cannot be removed -----------------------------------------

class NoteWatcher:
    """sys.stderr for a test: keeps what is written, and sets an event at the first note."""

    def __init__(self):
        self.text, self.noted = '', threading.Event()

    def write(self, text):
        self.text += text
        if 'note:' in self.text:
            self.noted.set()

    def flush(self):
        pass


@pytest.fixture
def stuck(monkeypatch):
    """A file named 'stuck' cannot be removed (an immutable file, or one a network file system keeps)."""
    real_unlink = os.unlink

    def unlink(path, *args, **kwargs):
        if os.path.basename(path) == 'stuck':
            raise PermissionError(errno.EPERM, 'Operation not permitted', path)
        return real_unlink(path, *args, **kwargs)

    monkeypatch.setattr(os, 'unlink', unlink)
