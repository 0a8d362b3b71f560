"""
The script's last word: a problem the user can fix (UserError), and Ctrl-C, kill or a closing
terminal while the script starts (TensorFlow takes seconds to load) or between steps, end it with
one line on stderr and its exit code, never a traceback. The entry points call install() once;
during training's steps facegan/core/signals.py's flag takes over, so that a checkpoint is saved.
"""
import functools
import os
import signal
import sys
import threading

from facegan.core import environment
from facegan.core.errors import UserError, interrupted, one_line
from facegan.core.signals import STOP_SIGNALS

NOTHING_SAVED = 'interrupted (no training step was under way: nothing to save)'
INTERRUPTED = 'error: ' + NOTHING_SAVED  # report()'s line
# What an interruption of the script's other commands says (as_one_line's stopped)
GENERATING_STOPPED = 'interrupted (the files written before the stop are whole): run generate again for them all'
EVALUATING_STOPPED = 'interrupted before the score was done (nothing was written): run evaluate again'


class Interrupted(UserError):
    """Ctrl-C, kill, a closing terminal or a notebook's stop button outside training's steps: INTERRUPTED's line."""
    exit_code = 130


def as_one_line(function, stopped=NOTHING_SAVED):
    """
    For the calls a notebook cell makes (runs.train, runs.what_it_learned, ...): an interruption outside training's
    steps (while the graph is built, or what the run learned is drawn) is one line, an Interrupted, where a kernel
    would show a long traceback; on the command line install()'s hook says the same line
    :param stopped: What the line says: NOTHING_SAVED (INTERRUPTED's), or the command's own
    """
    @functools.wraps(function)
    def stopped_in_one_line(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except UserError:
            raise
        except (KeyboardInterrupt, Exception) as err:
            if interrupted(err):
                raise Interrupted(stopped) from None
            raise
    return stopped_in_one_line

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
    :param err: The exception nothing caught: a UserError, a KeyboardInterrupt or an error raised because of one,
                or after a signal any
    :return: The exit code: the error's own, or 130 for an interruption
    """
    if isinstance(err, UserError):
        print('error: {}'.format(one_line(str(err))), file=sys.stderr)
        return err.exit_code
    print(INTERRUPTED, file=sys.stderr)
    return 130


def is_reported(err):
    """:return: True for what report() says in one line: a user's error, or an interruption (or one behind the error)"""
    return isinstance(err, UserError) or interrupted(err) or bool(_STOPPED_BY)


def _ignore_stop_signals():
    """Ignore Ctrl-C, kill and a closing terminal from now on (in the main thread; elsewhere nothing changes)."""
    if threading.current_thread() is threading.main_thread():
        for signum in STOP_SIGNALS:
            signal.signal(signum, signal.SIG_IGN)


def install():
    """
    From now on, an exception nothing caught that is a UserError or an interruption ends the script
    with report()'s one line; the signals go through stop_as_ctrl_c, which remembers them: TensorFlow
    turns a KeyboardInterrupt raised inside some of its calls into another error, raised from it or while
    handling it (errors.interrupted finds it there) or with no trace of it (RuntimeError in nest.flatten), and
    after a remembered signal that error is the interruption too. Only what no one catches
    changes, and nothing at all in a notebook kernel (it shows a UserError as one line itself).
    """
    if environment.in_notebook_kernel() or getattr(sys.excepthook, 'one_line_errors', False):
        return
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
    sys.excepthook = hook
    if threading.current_thread() is threading.main_thread():
        if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            signal.signal(signal.SIGINT, stop_as_ctrl_c)
        for signum in STOP_SIGNALS:
            if signum != signal.SIGINT and signal.getsignal(signum) is signal.SIG_DFL:
                signal.signal(signum, stop_as_ctrl_c)
