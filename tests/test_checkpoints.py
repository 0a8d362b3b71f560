"""
Checkpoints that survive damage, a lost index file, a full disk, NaN, resumes and signals: run_tools alone, on
real checkpoints of a tiny graph (a few small variables) written by tf.train.Saver.
"""
import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import threading

import run_tools

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@contextlib.contextmanager
def _child(script):
    """
    Run a small Python script that imports run_tools, in its own process (killed after 120 s whatever happens)
    :return: The subprocess.Popen, its stdout and stderr as text pipes
    """
    env = dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL='3')
    proc = subprocess.Popen([sys.executable, '-c', textwrap.dedent(script)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, universal_newlines=True, env=env, cwd=ROOT)
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
        import run_tools
        before = [signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)]
        for name in ('SIGTERM', 'SIGHUP'):
            with run_tools.interrupt_flag() as stop:
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


def test_sigterm_during_start_up_stops_without_a_traceback():
    script = """
        import signal, sys
        import run_tools

        def start_up():
            with run_tools.signals_as_keyboard_interrupt():
                print('ready', flush=True)
                signal.pause()  # building the graph, reading the data set...

        try:
            start_up()
        except KeyboardInterrupt:  # what the program's top level does
            print('stopped during start-up', file=sys.stderr)
            sys.exit(130)
    """
    with _child(script) as proc:
        assert proc.stdout.readline() == 'ready\n'
        os.kill(proc.pid, signal.SIGTERM)
        _, err = _rest(proc)
    assert proc.returncode == 130 and 'Traceback' not in err and err.endswith('stopped during start-up\n'), err
