"""
Property: whatever the command line holds (any of the flags the parsers know, in any order, with
any values: out of range, nan, empty, paths to files, folders and missing places, '-', '--', very
long, bytes that are not UTF-8), the program either starts its work with every value in its domain,
or stops with ONE line on stderr that names a flag the user gave (a real flag, not any token starting
with '--'), exit code 1 or 2: never a traceback.

The flags come from the argparse parsers themselves (facegan/app/parsing.py), so a new flag is covered
without editing this file; their domains are written here, apart from the parsers, so that a parser
that let a bad value through would fail. Every example stops before any training, drawing or
download: a stand-in raises ReachedTheWork where the work would begin.
"""
import math
import os

import pytest
from hypothesis import given, strategies as st

import helper
from conftest import run_script
from facegan.app import command_line, parsing, runs
from facegan.core.errors import UserError
from facegan.data import datasets

PARSERS = parsing.PARSERS


class ReachedTheWork(Exception):
    """Raised by the stand-ins where the work (a download, training, drawing faces) would begin."""


def _int(text, low, high=None):
    """:return: Whether text is a whole number from low to high, as a user means one"""
    try:
        value = int(text)
    except ValueError:
        return False
    return low <= value and (high is None or value <= high)


def _float(text, low, high, low_open=True):
    """:return: Whether text is a finite number in (low, high) (or [low, high) where low_open is False)"""
    try:
        value = float(text)
    except ValueError:
        return False
    return math.isfinite(value) and (low < value if low_open else low <= value) and value < high


# What each flag's value may be, written from the flags' help, not from the parsers' code
DOMAINS = {
    '--epochs': lambda v: _int(v, 1), '--max-steps': lambda v: _int(v, 1), '--batch-size': lambda v: _int(v, 1),
    '--z-dim': lambda v: _int(v, 1), '--show-every': lambda v: _int(v, 1), '--save-every': lambda v: _int(v, 1),
    '--keep-checkpoints': lambda v: _int(v, 1), '--eval-every': lambda v: _int(v, 0),
    '--eval-images': lambda v: _int(v, 1), '--seed': lambda v: _int(v, 0, 2 ** 32 - 1), '--n': lambda v: _int(v, 1),
    '--walk': lambda v: _int(v, 2), '--learning-rate': lambda v: _float(v, 0, math.inf),
    '--beta1': lambda v: _float(v, 0, 1, low_open=False), '--average-decay': lambda v: _float(v, 0, 1, low_open=False),
    '--channels': lambda v: v in ('1', '3'), '--dataset': lambda v: v in ('synthetic', 'mnist', 'celeba', 'folder'),
    '--update-order': lambda v: v in ('simultaneous', 'alternating'),
    '--precision': lambda v: v in ('auto', 'float32', 'bfloat16'),
    # Paths: never empty; where TensorFlow writes or reads, UTF-8 (training's --output-dir too, which generate's
    # and evaluate's, PNGs only, need not be: the weaker domain is the one a flag name can hold to)
    '--data-dir': lambda v: v != '', '--output-dir': lambda v: v != '', '--logdir': lambda v: _utf8_path(v),
    '--checkpoint': lambda v: _utf8_path(v),
}


def _utf8_path(value):
    """:return: Whether value is a path TensorFlow can use: not empty, and UTF-8"""
    try:
        value.encode('utf-8')
    except UnicodeEncodeError:
        return False
    return value != ''


def parser_options(command):
    """
    :param command: 'train', 'generate' or 'evaluate'
    :return: {option string: (takes a value, its choices or None)} of the command's parser, read from argparse
    """
    options = {}
    for action in PARSERS[command]()._actions:
        for option in action.option_strings:
            options[option] = (action.nargs != 0, [str(choice) for choice in action.choices or []] or None)
    return options


def required_options(command):
    """:return: The option strings of the command's required flags (generate's and evaluate's --checkpoint)"""
    return {option for action in PARSERS[command]()._actions if action.required for option in action.option_strings}


def _not_utf8(raw):
    """:return: The argument Python makes of bytes that are not UTF-8 (surrogateescape), without NUL"""
    return raw.replace(b'\0', b'').decode('utf-8', 'surrogateescape')


def values(places):
    """
    :param places: {name: path} of a regular file, a folder and a missing place
    :return: Strategy of command-line values (never NUL, which no command line can hold)
    """
    special = ['', '-', '--', 'nan', '-nan', 'inf', '-inf', '1e400', '0', '-0', '-1', '0.0', '1e-320', '１',
               'x' * 300, '/'.join(['y' * 200] * 30), 'a\nnew line']
    plausible = st.sampled_from(['1', '2', '3', '0.5', '0.001', '-1'] + sorted(places.values()))
    spaces = st.sampled_from(['', '', ' ', '\n', '\t'])
    return st.one_of(
        plausible, plausible,
        st.builds(lambda before, value, after: before + value + after, spaces, plausible, spaces),
        st.sampled_from(special + sorted(places.values())),
        st.integers(-2 ** 70, 2 ** 70).map(str),
        st.floats(allow_nan=True, allow_infinity=True).map(str),
        st.text(st.characters(blacklist_characters='\0'), max_size=20),
        st.binary(max_size=12).map(_not_utf8),
        st.sampled_from(sorted(places.values())).map(lambda path: os.path.join(path, 'sub')))


@st.composite
def command_lines(draw, places):
    """
    :param places: See values()
    :return: Strategy of argv lists: an optional command, then flags of its parser with values (a
             choice of theirs, or any value), and now and then a stray token
    """
    command = draw(st.sampled_from(sorted(PARSERS)))
    options = parser_options(command)
    argv = [] if command == 'train' else [command]
    if required_options(command) and draw(st.integers(0, 4)):  # mostly given: the work is reached more often
        argv += [sorted(required_options(command))[0], draw(values(places))]
    for _ in range(draw(st.integers(0, 5))):
        kind = draw(st.sampled_from(['flag', 'flag', 'flag', 'stray']))
        if kind == 'stray':
            argv.append(draw(values(places)))
            continue
        option = draw(st.sampled_from(sorted(o for o in options if o not in ('-h', '--help'))))
        takes_value, choices = options[option]
        argv.append(option)
        if takes_value:
            argv.append(draw(st.sampled_from(choices) if choices and draw(st.booleans()) else values(places)))
    return argv


def named_flags(argv, command):
    """
    :return: The flags an error about argv may name: the parser's flags the user gave (with the full name of an
             abbreviation argparse accepts) and the command's required ones; not any token that starts with '--'
    """
    options = parser_options(command)
    given_flags = {token.split('=')[0] for token in argv if token.startswith('--') and len(token) > 2}
    return {option for option in options for token in given_flags if option.startswith(token)} | \
        required_options(command)


def _given_values(argv, command):
    """:return: {flag: the last value given to it} of the flags with a domain, as argparse pairs them"""
    options, given = parser_options(command), {}
    for i, token in enumerate(argv[:-1]):
        matches = [option for option in options if option.startswith(token) and len(token) > 2]
        if len(matches) == 1 and options[matches[0]][0]:
            given[matches[0]] = argv[i + 1]
    return {flag: value for flag, value in given.items() if flag in DOMAINS}


def check_work_or_one_line_naming_a_flag(code, err, argv):
    """
    :param code: The exit code: 0 when the work was reached
    :param err: What went to stderr
    :param argv: The command line
    """
    command = argv[0] if argv[:1] and argv[0] in parsing.COMMANDS else 'train'
    assert 'Traceback' not in err
    if code == 0:
        wrong = {flag: value for flag, value in _given_values(argv, command).items() if not DOMAINS[flag](value)}
        assert not wrong, 'the work began with values out of their domain: {}'.format(wrong)
        return
    assert code in (1, 2), (code, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    names = named_flags(argv, command)
    assert any(flag in lines[0] for flag in names) or 'unrecognized arguments: ' in lines[0], (lines[0], names)


@pytest.fixture
def places(tmp_path, monkeypatch):
    """
    A regular file, an empty folder and a missing place; the working folder is tmp_path, so the default
    --output-dir and --data-dir are made there. Downloads, the synthetic faces' thousands, training, drawing
    and scoring are replaced by stand-ins.
    :return: {name: path}
    """
    monkeypatch.chdir(tmp_path)
    (tmp_path / 'a_file.txt').write_text('not an image, not a folder')
    (tmp_path / 'folder').mkdir()
    real_faces = datasets.make_synthetic_faces
    monkeypatch.setattr(datasets, 'make_synthetic_faces', lambda data_path: real_faces(data_path, 4))
    for module, name in ((helper, 'download_extract'), (runs, 'train'), (runs, 'generate'), (runs, 'evaluate')):
        monkeypatch.setattr(module, name, _stand_in)
    return {'file': str(tmp_path / 'a_file.txt'), 'folder': str(tmp_path / 'folder'),
            'missing': str(tmp_path / 'missing')}


def _stand_in(*args, **kwargs):
    """Where the work begins: stop the example here."""
    raise ReachedTheWork()


def parse_and_check(argv):
    """
    What the command line checks before the notebook's cells: its values and its output folders
    :return: (exit code, stderr line or None) as the script would end
    """
    try:
        command_line.parse(argv)
    except SystemExit as err:
        return err.code, None
    except UserError as err:
        return err.exit_code, 'error: {}\n'.format(err)
    return 0, None


@given(data=st.data())
def test_any_command_line_is_parsed_or_one_line_naming_a_flag(data, places, capsys):
    argv = data.draw(command_lines(places), label='argv')
    capsys.readouterr()
    code, line = parse_and_check(argv)
    err = capsys.readouterr().err if line is None else line
    check_work_or_one_line_naming_a_flag(code, err, argv)


@given(data=st.data())
def test_any_command_line_through_the_script_is_work_or_one_line(data, places, capsys):
    """End to end: the script's cells as `python dlnd_face_generation.py ARGV` runs them, up to its work."""
    argv = data.draw(command_lines(places), label='argv')
    if argv[:1] != ['generate'] and data.draw(st.booleans(), label='data flags first'):  # reach the data more often
        start = 1 if argv[:1] == ['evaluate'] else 0
        argv[start:start] = ['--dataset', data.draw(st.sampled_from(['synthetic', 'folder', 'mnist'])),
                             '--data-dir', data.draw(values(places))]
    capsys.readouterr()
    try:
        code = run_script(argv)
    except ReachedTheWork:
        code = 0
    err = capsys.readouterr().err
    err_lines = [line for line in err.splitlines() if not line.startswith(('Caching images', 'Drawing'))]
    check_work_or_one_line_naming_a_flag(code, '\n'.join(err_lines), argv)


def test_the_strategy_knows_every_flag_of_the_three_parsers():
    """The flags come from the parsers: one they all have, and one of each, are there; each with a value type has
    a domain here"""
    assert '--seed' in parser_options('train') and '--seed' in parser_options('generate')
    assert '--learning-rate' in parser_options('train') and '--n' in parser_options('generate')
    assert parser_options('train')['--update-order'] == (True, ['simultaneous', 'alternating'])
    assert required_options('generate') == {'--checkpoint'} and required_options('train') == set()
    typed = {option for command in PARSERS for action in PARSERS[command]()._actions if action.type is not None
             for option in action.option_strings}
    assert typed <= set(DOMAINS), typed - set(DOMAINS)


@pytest.mark.parametrize('argv', [['--batch-size', '--'], ['--', '--batch-size', '3'], ['--seed', '--', 'x']])
def test_a_lone_double_dash_is_never_taken_for_a_flag(argv):
    """Found in the old test: a '--' drawn as a value counted as a flag named; only the parsers' flags are"""
    assert '--' not in named_flags(argv, 'train')
    assert named_flags(argv, 'train') <= set(parser_options('train'))


def test_a_parser_that_lets_a_bad_value_through_is_caught():
    """The domains are the test's own: a batch size of 0 reaching the work is a failure"""
    with pytest.raises(AssertionError, match='out of their domain'):
        check_work_or_one_line_naming_a_flag(0, '', ['--batch-size', '0'])
    check_work_or_one_line_naming_a_flag(0, '', ['--batch-size', '3'])
