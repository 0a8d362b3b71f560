"""
facegan/app/interrupts.py in this process: what its hook and signal handler do, which test_cli.py sees only from
outside, in child processes that end by os._exit (so no line of them is counted there). os._exit and
signal.signal are replaced here (conftest.exits): nothing ends this process or changes its handlers.
"""
import signal
import sys

import pytest

from facegan.app import interrupts
from facegan.core.errors import DatasetError, UserError


def test_a_signal_stops_as_ctrl_c_does_and_is_remembered(exits):
    with pytest.raises(KeyboardInterrupt, match='^SIGTERM$'):
        interrupts.stop_as_ctrl_c(signal.SIGTERM, None)
    assert interrupts._STOPPED_BY == [signal.SIGTERM]
    assert interrupts.is_reported(RuntimeError('what TensorFlow made of it'))  # after a signal, any error


def test_an_interruption_is_one_line_and_exit_code_130(capsys):
    assert interrupts.report(KeyboardInterrupt()) == 130
    assert capsys.readouterr().err == interrupts.INTERRUPTED + '\n'


def test_a_users_error_is_its_one_line_and_its_exit_code(capsys):
    assert interrupts.report(DatasetError('no images in\ndata/x')) == DatasetError('').exit_code
    assert capsys.readouterr().err == 'error: no images in\\ndata/x\n'


def test_the_hook_reports_in_one_line_ignores_further_signals_and_exits(exits, capsys):
    exited, handlers = exits
    interrupts.install()
    assert sys.excepthook.one_line_errors
    handlers.clear()
    with pytest.raises(exited) as code:
        sys.excepthook(UserError, UserError('the data folder is empty'), None)
    assert code.value.args == (UserError('').exit_code,)
    assert capsys.readouterr().err == 'error: the data folder is empty\n'
    assert handlers and set(handlers.values()) == {signal.SIG_IGN}  # a second Ctrl-C cannot interrupt the report


def test_the_hook_leaves_any_other_error_to_the_hook_before_it(exits, monkeypatch):
    seen = []
    monkeypatch.setattr(sys, 'excepthook', lambda kind, value, traceback: seen.append(value))
    interrupts.install()
    error = ValueError('a bug: its traceback is wanted')
    sys.excepthook(ValueError, error, None)
    assert seen == [error]


def test_a_call_interrupted_outside_trainings_steps_is_the_same_one_line_in_a_notebook(capsys):
    """A kernel shows a UserError as its one line (its _render_traceback_) and a KeyboardInterrupt as a traceback"""
    def stopped(error):
        raise error

    for error in (KeyboardInterrupt(), _raised_from(RuntimeError('TensorFlow made this of it'), KeyboardInterrupt())):
        with pytest.raises(interrupts.Interrupted) as err:
            interrupts.as_one_line(stopped)(error)
        assert err.value._render_traceback_() == [interrupts.INTERRUPTED] and err.value.exit_code == 130
        assert err.value.__suppress_context__
        assert interrupts.report(err.value) == 130  # and on the command line, the hook's own line and code
        assert capsys.readouterr().err == interrupts.INTERRUPTED + '\n'
    for error in (DatasetError('no images'), ValueError('not an interruption')):
        with pytest.raises(type(error)) as err:
            interrupts.as_one_line(stopped)(error)
        assert err.value is error  # as it was: a user's error is one line already; another is not this one's
    assert interrupts.as_one_line(lambda a, b=2: (a, b))(1, b=3) == (1, 3)
    assert interrupts.as_one_line(stopped).__name__ == 'stopped'
    with pytest.raises(interrupts.Interrupted) as err:  # a command's own line
        interrupts.as_one_line(stopped, 'interrupted (nothing drawn)')(KeyboardInterrupt())
    assert err.value._render_traceback_() == ['error: interrupted (nothing drawn)'] and err.value.exit_code == 130


def _raised_from(error, cause):
    """:return: error, raised from cause (as TensorFlow raises its own error from a KeyboardInterrupt)"""
    error.__cause__ = cause
    return error


def test_an_error_raised_from_an_interruption_is_one_the_hook_reports(monkeypatch):
    """Outside the run's calls (a data cell, say), TensorFlow's error made of a Ctrl-C reaches the hook as it is"""
    monkeypatch.setattr(interrupts, '_STOPPED_BY', [])  # no signal came: the chain alone says it
    assert interrupts.is_reported(_raised_from(RuntimeError('TensorFlow made this of it'), KeyboardInterrupt()))
    assert not interrupts.is_reported(RuntimeError('a bug'))
