"""
Checkpoints that survive damage, a lost index file, a full disk, NaN, resumes and signals:
facegan/graph/checkpoints.py and facegan/core/signals.py alone, on real checkpoints of a tiny graph (a
few small variables) written by tf.train.Saver.
"""
import contextlib
import errno
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import types

import numpy as np
import pytest

import tensorflow.compat.v1 as tf

from conftest import ROOT, child_env, terminal_signals
from facegan.core import errors
from facegan.graph import checkpoints

KEEP = 3
HINT, UNUSABLE = 'train first', 'start it over'


@contextlib.contextmanager
def _model(rows=3, names=('generator/w', 'discriminator/w'), finite_check=False, finalize=True):
    """
    A tiny model in its own graph, initialized, with a session and a Saver
    :param rows: Rows of each variable (4 float32 columns: 16 bytes a row)
    :param finite_check: Build checkpoints.non_finite_check() with the graph
    :param finalize: Finalize the graph (no more ops) before the session starts
    :return: Namespace: sess, saver, weights, set_step(step) (the step and every weight become step),
             poison() (the first weight becomes NaN), check
    """
    with tf.Graph().as_default() as graph:
        weights = [tf.Variable(tf.zeros([rows, 4]), name=name) for name in names]
        global_step = tf.train.get_or_create_global_step()
        step_in = tf.placeholder(tf.int64, [])
        set_all = [global_step.assign(step_in)] + [w.assign(tf.fill([rows, 4], tf.cast(step_in, tf.float32)))
                                                    for w in weights]
        nan = weights[0].assign(tf.fill([rows, 4], np.nan))
        saver = tf.train.Saver(max_to_keep=None)  # as a run's: checkpoint_files.keep_newest decides
        check = checkpoints.non_finite_check() if finite_check else None
        initialize = tf.global_variables_initializer()
        if finalize:
            graph.finalize()
        with tf.Session() as sess:
            sess.run(initialize)
            yield types.SimpleNamespace(sess=sess, saver=saver, weights=weights, check=check,
                                        set_step=lambda step: sess.run(set_all, {step_in: step}),
                                        poison=lambda: sess.run(nan))


def _save(model, folder, step, nan=False):
    """
    Save step as a run does, all kept: folder/model-STEP (folder a run's checkpoints folder), weights all equal to
    step (NaN with nan, which save_checkpoint without its finite check writes as it is)
    """
    model.set_step(step)
    if nan:
        model.poison()
    return checkpoints.save_checkpoint(model.sess, model.saver, os.path.dirname(str(folder)), step, 100)


def _resume(model, folder):
    """Restore the newest usable checkpoint in folder as a resumed run does: :return: its step"""
    path = checkpoints.find_checkpoint(str(folder), HINT, UNUSABLE)
    checkpoints.restore(model.sess, path, {var.op.name: var for var in model.sess.graph.get_collection('variables')})
    return int(model.sess.run(tf.train.get_global_step(model.sess.graph)))


def _files(folder):
    return sorted(os.listdir(str(folder)))


def _truncate_data(prefix):
    os.truncate(prefix + '.data-00000-of-00001', os.path.getsize(prefix + '.data-00000-of-00001') // 2)


def _truncate_index(prefix):
    os.truncate(prefix + '.index', os.path.getsize(prefix + '.index') // 2)


@pytest.mark.parametrize('damage', [_truncate_data, _truncate_index], ids=['truncated data', 'damaged index'])
def test_a_damaged_newest_checkpoint_is_skipped_with_one_warning(tmp_path, capsys, damage):
    folder = tmp_path / 'checkpoints'
    with _model() as model:
        prefixes = [_save(model, folder, step) for step in (1, 2, 3)]
    damage(prefixes[2])
    assert checkpoints.latest_checkpoint(str(tmp_path)) == prefixes[1]
    warning = capsys.readouterr().err.splitlines()
    assert len(warning) == 1 and 'model-3 (unreadable: ' in warning[0] and warning[0].endswith('using ' + prefixes[1])
    with _model(finalize=False) as model:
        assert _resume(model, tmp_path) == 2
        assert (model.sess.run(model.weights[0]) == 2).all()


def test_no_usable_checkpoint_stops_with_one_line_that_says_what_to_do(tmp_path):
    with _model() as model:
        for step in (1, 2):
            _truncate_data(_save(model, tmp_path / 'checkpoints', step))
        with pytest.raises(errors.TrainingStopped) as err:
            checkpoints.find_checkpoint(str(tmp_path), HINT, UNUSABLE)
    message = str(err.value)
    assert '\n' not in message and message.startswith('no usable checkpoint in {}: model-2 (unreadable: '
                                                       .format(tmp_path))
    assert '; model-1 (unreadable: ' in message and message.endswith('; ' + UNUSABLE)


def test_checkpoints_are_found_by_their_files_without_the_index_file(tmp_path, capsys):
    with _model() as model:
        _save(model, tmp_path / 'checkpoints', 1)
        newest = _save(model, tmp_path / 'checkpoints', 2)
    os.remove(str(tmp_path / 'checkpoints' / 'checkpoint'))
    assert checkpoints.latest_checkpoint(str(tmp_path)) == newest
    assert capsys.readouterr().err == 'note: {} has no readable checkpoint index file: its checkpoints are taken by ' \
                                      'their steps\n'.format(tmp_path / 'checkpoints')
    with _model(finalize=False) as model:
        assert _resume(model, tmp_path) == 2


def test_a_checkpoint_the_index_file_does_not_list_is_not_this_runs(tmp_path):
    """A folder holds one run: files of a higher step that the index does not list (another run's) are not used"""
    with _model() as model:
        listed = checkpoints.save_checkpoint(model.sess, model.saver, str(tmp_path), 5, KEEP)
        _save(model, tmp_path / 'elsewhere' / 'checkpoints', 30)
    for name in ('model-30.index', 'model-30.data-00000-of-00001'):
        shutil.copy(str(tmp_path / 'elsewhere' / 'checkpoints' / name), str(tmp_path / 'checkpoints' / name))
    assert checkpoints.latest_checkpoint(str(tmp_path)) == listed
    assert checkpoints.find_checkpoint(str(tmp_path), HINT, UNUSABLE) == listed
    with _model() as model:  # the next save of the run keeps its own, and removes what is not its run's
        checkpoints.save_checkpoint(model.sess, model.saver, str(tmp_path), 6, KEEP)
    assert _files(tmp_path / 'checkpoints') == ['checkpoint', 'model-5.data-00000-of-00001', 'model-5.index',
                                                'model-6.data-00000-of-00001', 'model-6.index']


@contextlib.contextmanager
def _tmpfs(folder, size_kb):
    """Mount a tmpfs of size_kb on folder for the block (skip the test where mounting is not permitted)."""
    os.makedirs(str(folder))
    if shutil.which('mount') is None:
        pytest.skip('no mount command here to make a small full disk')
    mounted = subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size={}k'.format(size_kb), 'tmpfs', str(folder)],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, env=child_env())
    if mounted.returncode:
        pytest.skip('cannot mount a tmpfs here (needs root): ' + mounted.stdout.strip())
    try:
        yield
    finally:
        subprocess.run(['umount', str(folder)], check=True)


PAGE = os.sysconf('SC_PAGE_SIZE')  # a tmpfs stores each file in whole pages: 4 KB on x86-64, 16 or 64 KB elsewhere


@pytest.mark.parametrize('pages, rows, saved_before', [
    # 10 pages of data (16 bytes a row) and 1 each for the index and the 'checkpoint' file: the first save
    # fits in 16 pages, the second runs out of space writing its data
    (16, 10 * PAGE // 16, [1]),
    # 11 pages of data less one row, and 1 of index, fill 12 pages: the 'checkpoint' index file does not fit
    (12, 11 * PAGE // 16 - 1, []),
], ids=['data write fails', 'index file write fails'])
def test_a_full_disk_stops_with_one_line_and_keeps_the_last_good_checkpoint(tmp_path, pages, rows, saved_before):
    disk = tmp_path / 'disk'
    size_kb = pages * PAGE // 1024
    with _tmpfs(disk, size_kb), _model(rows=rows, names=('generator/w',)) as model:
        for step in saved_before:
            checkpoints.save_checkpoint(model.sess, model.saver, str(disk), step, KEEP)
        with pytest.raises(errors.TrainingStopped) as err:
            checkpoints.save_checkpoint(model.sess, model.saver, str(disk), len(saved_before) + 1, KEEP)
        files = _files(disk / 'checkpoints')
    message = str(err.value)
    assert '\n' not in message and message.startswith('the disk is full: could not save ')
    needed = re.search(r'\(a checkpoint needs about (\d+\.\d) kB; \d+\.\d kB free\)', message)
    assert needed and rows * 16 / 1000 <= float(needed.group(1)) < rows * 16 / 1000 + 1, message  # data + index
    assert message.endswith('the last good checkpoint is {}. Free some space, then resume'
                            .format(disk / 'checkpoints' / 'model-1'))
    assert [name for name in files if 'tmp' in name or 'temp' in name] == []  # partial files removed
    assert 'model-1.index' in files and 'model-2.index' not in files


def test_a_full_disk_at_the_first_checkpoint_says_to_start_again_not_to_resume(tmp_path, monkeypatch):
    """With no checkpoint saved yet there is nothing to resume from"""
    with _model() as model:
        monkeypatch.setattr(model.saver, 'save', lambda *args, **kwargs: (_ for _ in ()).throw(
            OSError(errno.ENOSPC, 'No space left on device')))
        with pytest.raises(errors.TrainingStopped) as err:
            checkpoints.save_checkpoint(model.sess, model.saver, str(tmp_path), 1, KEEP)
    assert str(err.value).endswith('there is no good checkpoint yet. Free some space, then start the run again')


@pytest.mark.parametrize('failure', [tf.errors.ResourceExhaustedError(None, None, 'No space left on device'),
                                     OSError(errno.ENOSPC, 'No space left on device')], ids=['tf', 'os'])
def test_a_failed_write_removes_its_partial_files(tmp_path, monkeypatch, failure):
    folder = tmp_path / 'checkpoints'
    with _model() as model:
        checkpoints.save_checkpoint(model.sess, model.saver, str(tmp_path), 1, KEEP)

        def write_half_then_fail(*args, **kwargs):
            (folder / 'model-2.data-00000-of-00001.tempstate8609270055886370178').write_bytes(b'\0' * 64)
            raise failure
        monkeypatch.setattr(model.saver, 'save', write_half_then_fail)
        with pytest.raises(errors.TrainingStopped, match=r'^the disk is full: .*\(a checkpoint needs about 0\.\d kB'):
            checkpoints.save_checkpoint(model.sess, model.saver, str(tmp_path), 2, KEEP)
    assert _files(folder) == ['checkpoint', 'model-1.data-00000-of-00001', 'model-1.index']


def test_what_a_killed_save_left_is_removed_at_the_start_of_a_run_saying_so(tmp_path, capsys):
    folder = tmp_path / 'checkpoints'
    folder.mkdir()
    # What kill -9 during a save left here (TensorFlow 2.21, a plain and a sharded Saver), and a failed index write
    (folder / 'model-5.data-00000-of-00001.tempstate1248466144390351060').write_bytes(b'\0' * 64)
    (folder / 'model-5_temp').mkdir()
    (folder / 'model-5_temp' / 'part-00000-of-00001.data-00000-of-00001.tempstate8609270055886370178').write_bytes(b'1')
    (folder / 'checkpoint.tmpfd11b9979aa843318334f3651bb8d987').write_text('')  # an older version's temporary name
    (folder / 'checkpoint.tmp-4242-0badcafe').write_text('')
    (folder / 'notes.txt').write_text("the learner's own file stays")
    assert checkpoints.remove_stale_temporary_files(str(folder)) == [
        'checkpoint.tmp-4242-0badcafe', 'checkpoint.tmpfd11b9979aa843318334f3651bb8d987',
        'model-5.data-00000-of-00001.tempstate1248466144390351060', 'model-5_temp']
    said = capsys.readouterr().err.splitlines()
    assert len(said) == 1 and said[0].startswith('note: removed 4 temporary file(s) an interrupted save left in ')
    assert _files(folder) == ['notes.txt']


def test_resumed_runs_keep_only_the_newest_checkpoints_and_list_them(tmp_path):
    folder = tmp_path / 'checkpoints'
    for steps in ([1, 2], [3, 4], [5, 6]):  # three runs, each with its own Saver as after --resume
        with _model() as model:
            for step in steps:
                checkpoints.save_checkpoint(model.sess, model.saver, str(tmp_path), step, KEEP)
    assert [name for name in _files(folder) if name.endswith('.index')] == ['model-4.index', 'model-5.index',
                                                                            'model-6.index']
    state = tf.train.get_checkpoint_state(str(folder))  # TensorFlow reads the index file the run wrote
    assert [os.path.basename(path) for path in state.all_model_checkpoint_paths] == ['model-4', 'model-5', 'model-6']
    assert state.model_checkpoint_path == str(folder / 'model-6')
    moved = tmp_path / 'moved'
    shutil.copytree(str(folder), str(moved))  # names alone: the folder can move
    assert tf.train.latest_checkpoint(str(moved)) == str(moved / 'model-6')
    with _model() as model:
        checkpoints.save_checkpoint(model.sess, model.saver, str(tmp_path), 7, 1)
    assert _files(folder) == ['checkpoint', 'model-7.data-00000-of-00001', 'model-7.index']


def test_save_refuses_nan_weights_and_names_the_last_finite_checkpoint(tmp_path):
    with _model(finite_check=True) as model:  # the check's ops are built before the graph is finalized
        model.set_step(1)
        checkpoints.save_checkpoint(model.sess, model.saver, str(tmp_path), 1, KEEP, model.check)
        model.poison()
        assert model.check(model.sess) == ['generator/w']
        with pytest.raises(errors.TrainingStopped) as err:
            checkpoints.save_checkpoint(model.sess, model.saver, str(tmp_path), 2, KEEP, model.check)
    assert str(err.value) == ('1 variable(s) hold NaN or infinity at step 2 (e.g. generator/w): not saved; the last '
                              'good checkpoint is {}: lower the learning rate and resume from it'
                              .format(tmp_path / 'checkpoints' / 'model-1'))
    assert not os.path.exists(str(tmp_path / 'checkpoints' / 'model-2.index'))


def test_latest_checkpoint_skips_one_holding_nan(tmp_path, capsys):
    with _model() as model:
        finite = _save(model, tmp_path / 'checkpoints', 1)
        _save(model, tmp_path / 'checkpoints', 2, nan=True)
    assert checkpoints.latest_checkpoint(str(tmp_path)) == finite
    assert capsys.readouterr().err == ('warning: skipped checkpoint model-2 (1 variable(s) hold NaN or infinity '
                                       '(e.g. generator/w)); using {}\n'.format(finite))


def test_find_checkpoint_takes_a_folder_or_a_checkpoint_and_refuses_other_files(tmp_path):
    folder = tmp_path / 'checkpoints'
    with _model() as model:
        older, newest = _save(model, folder, 1), _save(model, folder, 2)
    assert [checkpoints.find_checkpoint(str(path), HINT, UNUSABLE) for path in (tmp_path, folder, older,
                                                                               older + '.index')] == \
        [newest, newest, older, older]
    (tmp_path / 'faces.png').write_bytes(b'\x89PNG not a checkpoint')
    with pytest.raises(errors.TrainingStopped, match=r'faces.png is not a checkpoint \(no .*faces.png.index '):
        checkpoints.find_checkpoint(str(tmp_path / 'faces.png'), HINT, UNUSABLE)
    (tmp_path / 'model-9.index').write_bytes(b'\0' * 100)
    with pytest.raises(errors.TrainingStopped, match=r'^no usable checkpoint in .*model-9.index: model-9 '
                                                       r'\(unreadable: .*sstable'):
        checkpoints.find_checkpoint(str(tmp_path / 'model-9.index'), HINT, UNUSABLE)
    with pytest.raises(errors.TrainingStopped, match='^no checkpoint in .*nothing: train first'):
        checkpoints.find_checkpoint(str(tmp_path / 'nothing'), HINT, UNUSABLE)


def test_a_folder_named_as_a_checkpoint_beside_it_does_not_hide_it(tmp_path):
    """An older version's `generate --checkpoint .../model-7` made .../model-7/generated/: TensorFlow's own
    list_variables takes such a path for a folder of checkpoints"""
    with _model() as model:
        prefix = _save(model, tmp_path / 'checkpoints', 7)
    os.makedirs(os.path.join(prefix, 'generated'))
    assert checkpoints.saved_shapes(prefix) == {'generator/w': [3, 4], 'discriminator/w': [3, 4], 'global_step': []}
    assert checkpoints.saved_names(prefix) == {'generator/w', 'discriminator/w', 'global_step'}
    checkpoints.check_variables(prefix, {'generator/w': [3, 4]})
    with _model(finalize=False) as model:
        assert _resume(model, tmp_path) == 7


def test_restoring_another_model_or_a_file_that_is_no_checkpoint_is_one_line(tmp_path):
    with _model(names=('discriminator/w',)) as model:
        prefix = _save(model, tmp_path / 'checkpoints', 1)
    with pytest.raises(errors.TrainingStopped, match=r'lacks 1 of the 2 variables .*\(e.g. generator/w\)'):
        checkpoints.check_variables(prefix, {'generator/w': None, 'discriminator/w': [3, 4]})
    with pytest.raises(errors.TrainingStopped) as err:
        checkpoints.check_variables(prefix, {'discriminator/w': [3, 5]})
    assert str(err.value) == '{} does not match this model (discriminator/w: saved [3, 4], now [3, 5]); use the ' \
                             'settings (z_dim, channels) and the network code the run started with'.format(prefix)
    with _model(finalize=False) as model:
        with pytest.raises(errors.TrainingStopped, match=r'lacks 1 of the 3 variables .*\(e.g. generator/w\)'):
            _resume(model, tmp_path)


@contextlib.contextmanager
def _child(script, ignored=()):
    """
    Run a small Python script in its own process (killed after 120 s whatever happens), the stop signals at their
    defaults as a terminal gives them
    :param ignored: Signals it starts with ignored instead, as nohup starts a program with SIGHUP ignored
    :return: The subprocess.Popen, its stdout and stderr as text pipes
    """
    def signals_at_start():
        terminal_signals()
        for signum in ignored:
            signal.signal(signum, signal.SIG_IGN)

    env = child_env(PYTHONPATH=ROOT)
    proc = subprocess.Popen([sys.executable, '-c', textwrap.dedent(script)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, universal_newlines=True, env=env, cwd=ROOT,
                            preexec_fn=signals_at_start)
    watchdog = threading.Timer(120, proc.kill)
    watchdog.start()
    try:
        yield proc
    finally:
        watchdog.cancel()
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


def _rest(proc):
    """
    Wait for the child to end (communicate() would miss what readline() has buffered)
    :return: (the rest of its stdout, its stderr)
    """
    out, err = proc.stdout.read(), proc.stderr.read()
    proc.wait()
    return out, err


def test_sigterm_and_sighup_set_the_flag_as_ctrl_c_does_and_the_handlers_come_back():
    script = """
        import signal, time
        from facegan.core import signals
        before = [signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)]
        for name in ('SIGTERM', 'SIGHUP'):
            with signals.interrupt_flag() as stop:
                print('ready', name, flush=True)
                while not stop():
                    time.sleep(0.01)  # a training step, then a look at the flag
            print('flag set by', name, flush=True)
        print('restored', before == [signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)])
    """
    with _child(script) as proc:
        for name in ('SIGTERM', 'SIGHUP'):
            assert proc.stdout.readline() == 'ready {}\n'.format(name)
            os.kill(proc.pid, getattr(signal, name))
            assert proc.stdout.readline() == 'flag set by {}\n'.format(name)
        out, err = _rest(proc)
    assert (proc.returncode, out) == (0, 'restored True\n'), err


def test_a_signal_ignored_when_the_flag_is_set_up_stays_ignored_as_under_nohup():
    """Started as nohup starts it, SIGHUP ignored: a closing terminal does not stop training; kill still does"""
    script = """
        import signal
        from facegan.core import signals
        with signals.interrupt_flag() as stop:
            print('ready', flush=True)
            signal.raise_signal(signal.SIGHUP)  # handled (or ignored) before the call returns
            print('after SIGHUP', stop(), flush=True)
            signal.raise_signal(signal.SIGTERM)
            print('after SIGTERM', stop(), flush=True)
        print('SIGHUP ignored after', signal.getsignal(signal.SIGHUP) is signal.SIG_IGN)
    """
    with _child(script, ignored=(signal.SIGHUP,)) as proc:
        out, err = _rest(proc)
    assert proc.returncode == 0, err
    assert out.splitlines() == ['ready', 'after SIGHUP False', 'after SIGTERM True', 'SIGHUP ignored after True']
