"""
Ctrl-C (SIGINT), kill (SIGTERM) and a closing terminal (SIGHUP): outside training's steps they end
the program with one line and exit code 130; during training a flag is set instead, so the step
finishes and a checkpoint is saved (interrupt_flag).
"""
import contextlib
import os
import signal
import sys
import threading

from facegan.errors import UserError, one_line

INTERRUPTED = 'error: interrupted (no training step was under way: nothing to save)'
# Signals that ask a run to stop: Ctrl-C, kill or timeout, and a closing terminal
STOP_SIGNALS = tuple(getattr(signal, name) for name in ('SIGINT', 'SIGTERM', 'SIGHUP') if hasattr(signal, name))

_STOPPED_BY = []  # the signals that stopped the program outside training's steps


def stop_as_ctrl_c(signum, frame):
    """
    A signal handler: stop the way Ctrl-C does, and remember the signal
    :param signum: The signal's number
    :param frame: The frame it interrupted (unused)
    """
    del frame
    _STOPPED_BY.append(signum)
    raise KeyboardInterrupt(signal.Signals(signum).name)


def report(err):
    """
    Say what stopped the program in one line on stderr
    :param err: The exception nothing caught: a UserError, a KeyboardInterrupt, or after a signal any
    :return: The exit code: the error's own, or 130 for an interruption
    """
    if isinstance(err, UserError):
        print('error: {}'.format(one_line(str(err))), file=sys.stderr)
        return err.exit_code
    print(INTERRUPTED, file=sys.stderr)
    return 130


def is_reported(err):
    """:return: True for what report() says in one line: a user's error, or an interruption"""
    return isinstance(err, (UserError, KeyboardInterrupt)) or bool(_STOPPED_BY)


def _ignore_stop_signals():
    """Ignore Ctrl-C, kill and a closing terminal from now on (in the main thread; elsewhere nothing changes)."""
    if threading.current_thread() is threading.main_thread():
        for signum in STOP_SIGNALS:
            signal.signal(signum, signal.SIG_IGN)


def install_one_line_errors():
    """
    A problem the user can fix (UserError), and Ctrl-C, kill or a closing terminal while the script
    starts (TensorFlow takes seconds to load) or between steps, end the script with one line and
    its exit code, not a traceback. It changes only what happens to an exception nothing caught,
    so notebooks and test runners, which catch their own, are unaffected. The signals go through
    stop_as_ctrl_c, which remembers them: TensorFlow turns a KeyboardInterrupt raised inside some
    of its calls into another error (RuntimeError, its cause lost), and after a remembered signal
    that error is the interruption too.
    """
    previous = sys.excepthook

    def hook(kind, value, traceback):
        if not is_reported(value):
            return previous(kind, value, traceback)
        _ignore_stop_signals()  # a second Ctrl-C or kill while this reports would be a traceback in the hook
        exit_code = report(value)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(exit_code)  # nothing is left to clean up: the error said what was kept

    hook.one_line_errors = True
    if getattr(previous, 'one_line_errors', False):  # once, however often this is called
        return
    sys.excepthook = hook
    if threading.current_thread() is threading.main_thread():
        if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            signal.signal(signal.SIGINT, stop_as_ctrl_c)
        for signum in STOP_SIGNALS:
            if signum != signal.SIGINT and signal.getsignal(signum) is signal.SIG_DFL:
                signal.signal(signum, stop_as_ctrl_c)


@contextlib.contextmanager
def _handling(signals, handler):
    """While the block runs, handler handles these signals; their handlers before are restored after."""
    previous = {signum: signal.signal(signum, handler) for signum in signals}
    try:
        yield
    finally:
        for signum, before in previous.items():
            signal.signal(signum, signal.SIG_DFL if before is None else before)


@contextlib.contextmanager
def interrupt_flag():
    """
    While the block runs, Ctrl-C (SIGINT), kill (SIGTERM) and a closing terminal (SIGHUP) set a flag instead of
    stopping mid-step
    :return: A function that tells whether one of them came
    """
    received = []
    with _handling(STOP_SIGNALS, lambda signum, frame: received.append(signum)):
        yield lambda: bool(received)


@contextlib.contextmanager
def signals_as_keyboard_interrupt():
    """
    While the block runs, SIGTERM and SIGHUP raise KeyboardInterrupt as Ctrl-C does, so the one
    handler at the top stops the program quietly
    """
    with _handling([signum for signum in STOP_SIGNALS if signum != signal.SIGINT], stop_as_ctrl_c):
        yield
