"""
facegan/core/errors.py: the errors a user can fix, their exit codes, what IPython shows of them, and the one
way a message becomes one line (one_line) and an exception becomes one line (error_line).
"""
import pytest
from hypothesis import given, strategies as st

from facegan.core import errors
from facegan.core.errors import (DatasetError, DiskFullError, LearnerCodeError, SettingChanged, TrainingInterrupted,
                                 TrainingStopped, UserError, error_line, one_line)


@pytest.mark.parametrize('error,parents,exit_code', [
    (UserError, (Exception,), 1),
    (DatasetError, (UserError,), 1),
    (DiskFullError, (DatasetError, UserError), 1),
    (TrainingStopped, (UserError,), 1),
    (TrainingInterrupted, (TrainingStopped, UserError), 130),  # as a shell reports Ctrl-C
    (LearnerCodeError, (UserError,), 1),
])
def test_each_error_is_a_user_error_with_its_exit_code(error, parents, exit_code):
    assert issubclass(error, parents) and error('x').exit_code == exit_code


def test_a_changed_setting_names_it():
    err = SettingChanged('the run was trained with batch_size 8, not 16', 'batch_size')
    assert isinstance(err, UserError) and err.setting == 'batch_size'
    assert str(err) == 'the run was trained with batch_size 8, not 16' and err.exit_code == 1


def test_ipython_shows_the_one_line_not_a_traceback():
    assert DatasetError('no images in\nthere')._render_traceback_() == ['error: no images in\\nthere']
    assert TrainingInterrupted('interrupted')._render_traceback_() == ['error: interrupted']


@pytest.mark.parametrize('message,expected', [
    ('plain text, spaces and accents: café Ñ', 'plain text, spaces and accents: café Ñ'),
    ('a\nb', 'a\\nb'),
    ('tab\there', 'tab\\there'),
    ('cr\r', 'cr\\r'),
    ('nul\x00', 'nul\\x00'),
    ('bell\x07', 'bell\\x07'),
    ('zero width\u200b', 'zero width\\u200b'),
    ('caf\udce9.png', 'caf\\xe9.png'),  # os.listdir's surrogate for the byte 0xe9
    ('\udc80 \udcff', '\\x80 \\xff'),  # the first and last bytes os.fsdecode escapes
    ('\udc7f', '\\udc7f'),  # a lone surrogate that is no escaped byte
    ('\udd00', '\\udd00'),
    ('', ''),
])
def test_one_line_escapes_what_would_not_print(message, expected):
    assert one_line(message) == expected


@given(st.text())
def test_one_line_of_any_text_is_one_printable_line_that_keeps_what_prints(text):
    line = one_line(text)
    assert line.isprintable()
    if text.isprintable():
        assert line == text


@given(st.binary(max_size=40))
def test_one_line_of_any_file_name_as_the_file_system_gives_it_prints(name):
    decoded = name.decode('utf-8', errors='surrogateescape')
    line = one_line(decoded)
    assert line.isprintable()
    assert line.encode('utf-8').decode('utf-8') == line  # no surrogate left: a strict UTF-8 stream takes it


@pytest.mark.parametrize('where', ['Graph execution error:', 'Detected at node model/x defined at', 'Node: x',
                                   'File "/x.py", line 3, in f', '[[{{node x}}]]', 'Hint: if you want to see',
                                   'Original stack trace for x:', 'Traceback (most recent call last):'])
def test_error_line_skips_the_lines_that_say_where_the_graph_failed(where):
    err = ValueError('{}\n\n  {}\n  the real problem  \n more'.format(where, where))
    assert error_line(err) == 'the real problem'


def test_error_line_reads_tensorflows_message_attribute():
    class TensorFlowError(Exception):
        message = 'Graph execution error:\nIncompatible shapes: [8] vs. [4]'

    assert error_line(TensorFlowError('the str() of it')) == 'Incompatible shapes: [8] vs. [4]'


def test_error_line_with_only_where_lines_gives_the_first_line():
    assert error_line(RuntimeError('\n  Node: x\nNode: y')) == 'Node: x'


@pytest.mark.parametrize('err,with_type,expected', [
    (ValueError('bad shape'), True, 'ValueError: bad shape'),
    (ValueError('bad shape'), False, 'bad shape'),
    (KeyError(), False, 'KeyError'),
    (KeyError(), True, 'KeyError'),
    (RuntimeError('\n \n'), False, 'RuntimeError'),
    (OSError('a\tb\nsecond line'), False, 'a\\tb'),
])
def test_error_line_names_the_type_when_asked_or_when_there_is_no_message(err, with_type, expected):
    assert error_line(err, with_type=with_type) == expected


def test_error_line_is_one_line_whatever_the_message():
    assert error_line(OSError('caf\udce9\x1b[31m')) == 'caf\\xe9\\x1b[31m'


def test_the_message_escaper_is_the_modules_one():
    """_escaped writes an undecodable byte as \\xNN and any other character as Python's unicode_escape does."""
    assert errors._escaped('\udcab') == '\\xab'
    assert errors._escaped('\n') == '\\n' and errors._escaped('\x85') == '\\x85'


# --- interrupted ----------------------------------------------------------------------------------------

def _raised(make):
    """:return: The exception make() raises"""
    try:
        make()
    except BaseException as err:  # noqa: B902  (a KeyboardInterrupt among them)
        return err
    raise AssertionError('make() raised nothing')


def _from_interrupt():
    try:
        raise KeyboardInterrupt
    except KeyboardInterrupt as interrupt:
        raise RuntimeError('as TensorFlow raises it') from interrupt


def _while_handling_interrupt():
    try:
        raise KeyboardInterrupt
    except KeyboardInterrupt:
        raise RuntimeError('as TensorFlow raises it')


def _wrapped_again():
    try:
        _while_handling_interrupt()
    except RuntimeError as err:
        raise ValueError('a wrapper of the learner\'s errors') from err


def _suppressed():
    try:
        _from_interrupt()
    except RuntimeError:
        raise AssertionError('shown without its context') from None


def _not_interrupted():
    try:
        raise OSError('no interrupt here')
    except OSError as err:
        raise RuntimeError('wrapped') from err


@pytest.mark.parametrize('make,expected', [
    (lambda: _raised_plain(KeyboardInterrupt()), True),
    (_from_interrupt, True),  # its __cause__
    (_while_handling_interrupt, True),  # its __context__
    (_wrapped_again, True),  # two errors down
    (_suppressed, True),  # `from None` hides it from the traceback, not from what happened
    (_not_interrupted, False),
    (lambda: _raised_plain(RuntimeError('alone')), False),
])
def test_an_error_raised_because_of_a_ctrl_c_is_an_interruption(make, expected):
    assert errors.interrupted(_raised(make)) is expected


def _raised_plain(err):
    raise err


def test_an_error_chain_that_loops_ends():
    first, second = RuntimeError('a'), RuntimeError('b')
    first.__context__, second.__context__ = second, first
    assert errors.interrupted(first) is False


def test_every_branch_of_the_chain_is_searched_past_a_missing_link():
    """The interrupt behind the cause, with no context (None) looked at first: the search goes on past it"""
    outer, middle = RuntimeError('the wrapper'), RuntimeError("TensorFlow's own error")
    middle.__context__ = KeyboardInterrupt()
    outer.__cause__, outer.__context__ = middle, None
    assert errors.interrupted(outer) is True


def test_the_cause_is_searched_after_the_context_too():
    """The interrupt as the cause and a harmless context beside it: looking into the context keeps the cause"""
    outer = RuntimeError('the wrapper')
    outer.__cause__, outer.__context__ = KeyboardInterrupt(), ValueError('handled while it was raised')
    assert errors.interrupted(outer) is True
