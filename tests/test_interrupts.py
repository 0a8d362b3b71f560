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
