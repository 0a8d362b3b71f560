"""
Property: whatever the command line holds (any of the flags the parsers know, in any order, with
any values: out of range, nan, empty, paths to files, folders and missing places, '-', very long,
bytes that are not UTF-8), the program either starts its work (or prints --help) or stops with ONE
line on stderr that names a flag the user gave, exit code 1 or 2: never a traceback.

The flags come from the argparse parsers themselves (facegan/command_line.py), so a new flag is
covered without editing this file. Every example stops before any training or download: a
stand-in raises ReachedTheWork where the work would begin.
"""
import os

import pytest
from hypothesis import given, settings, strategies as st

import helper
from conftest import run_script, use_few_synthetic_faces
from facegan import command_line, fast_layers, generation
from facegan.errors import UserError

PARSERS = {'train': command_line.build_parser, 'generate': command_line.build_generate_parser,
           'evaluate': command_line.build_evaluate_parser}


class ReachedTheWork(Exception):
    """Raised by the stand-ins where the work (a download, training, drawing faces) would begin."""


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
    :return: The flags an error about argv may name: those given (with the full name of an abbreviation
             argparse accepts) and the command's required ones
    """
    options = parser_options(command)
    given_flags = {token for token in argv if token.startswith('--')}
    expanded = {option for option in options for token in given_flags if option.startswith(token) and len(token) > 2}
    return given_flags | expanded | required_options(command)


def check_one_line_naming_a_flag(code, err, argv):
    """
    :param code: The exit code
    :param err: What went to stderr
    :param argv: The command line
    """
    command = argv[0] if argv[:1] and argv[0] in command_line.COMMANDS else 'train'
    assert 'Traceback' not in err
    if code == 0:
        return
    assert code in (1, 2), (code, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    names = named_flags(argv, command)
    assert any(flag in lines[0] for flag in names) or 'unrecognized arguments: ' in lines[0], (lines[0], names)


@pytest.fixture
def places(tmp_path, monkeypatch):
    """
    A regular file, an empty folder and a missing place; the working folder is tmp_path, so
    the default --output-dir and --data-dir are made there. Downloads, the synthetic faces' thousands,
    training and drawing faces are replaced by stand-ins.
    :return: {name: path}
    """
    monkeypatch.chdir(tmp_path)
    (tmp_path / 'a_file.txt').write_text('not an image, not a folder')
    (tmp_path / 'folder').mkdir()
    use_few_synthetic_faces(monkeypatch, 4)
    monkeypatch.setattr(helper, 'download_extract', _stand_in)
    monkeypatch.setattr(fast_layers, 'use_fast_layers', _stand_in)  # the first call after the data cell
    monkeypatch.setattr(generation, 'generate', _stand_in)
    monkeypatch.setattr(generation, 'evaluate', _stand_in)
    return {'file': str(tmp_path / 'a_file.txt'), 'folder': str(tmp_path / 'folder'),
            'missing': str(tmp_path / 'missing')}


def _stand_in(*args, **kwargs):
    """Where the work begins: stop the example here."""
    raise ReachedTheWork()


def parse_and_check(argv):
    """
    What the command line checks before the notebook's cells: parse, the output folders, and
    generate's checkpoint (with a stand-in generator)
    :return: (exit code, stderr line or '') as the script would end
    """
    try:
        flags = command_line.parse(argv)
        if flags.command == 'generate':
            command_line.generate(flags, generator=None)
    except SystemExit as err:
        return err.code, None
    except UserError as err:
        return err.exit_code, 'error: {}\n'.format(err)
    except ReachedTheWork:
        pass
    return 0, None


@given(data=st.data())
def test_any_command_line_is_work_or_one_line_naming_a_flag(data, places, capsys):
    argv = data.draw(command_lines(places), label='argv')
    capsys.readouterr()
    code, line = parse_and_check(argv)
    err = capsys.readouterr().err if line is None else line
    check_one_line_naming_a_flag(code, err, argv)


@settings(max_examples=max(3, settings().max_examples // 5))
@given(data=st.data())
def test_any_command_line_through_the_script_is_work_or_one_line(data, places, capsys):
    """End to end: the script's cells as `python dlnd_face_generation.py ARGV` runs them, up to its data."""
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
    check_one_line_naming_a_flag(code, '\n'.join(err_lines), argv)


def test_the_strategy_knows_every_flag_of_the_three_parsers():
    """The flags come from the parsers: one they all have, and one of each, are there."""
    assert '--seed' in parser_options('train') and '--seed' in parser_options('generate')
    assert '--learning-rate' in parser_options('train') and '--n' in parser_options('generate')
    assert parser_options('train')['--update-order'] == (True, ['simultaneous', 'alternating'])
    assert required_options('generate') == {'--checkpoint'} and required_options('train') == set()
