"""
Write docs/command_line.md: the --help of the three commands, as the parsers print them at 100 columns.

    python tools/command_line_doc.py   # after changing a flag or its help; tests/test_parsing.py checks the page
"""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from facegan.app import parsing  # noqa: E402  (after the project's folder is on the path)

PAGE = os.path.join(ROOT, 'docs', 'command_line.md')
COLUMNS = '100'  # argparse wraps the help to $COLUMNS


def page():
    """:return: The page's text: a heading, then each command's --help in a block"""
    saved = os.environ.get('COLUMNS')
    os.environ['COLUMNS'] = COLUMNS
    try:
        blocks = ['## {}\n\n```\n{}```\n'.format(heading, parsing.PARSERS[command]().format_help())
                  for command, heading in (('train', 'Training (no command: `python dlnd_face_generation.py`)'),
                                           ('generate', 'generate'), ('evaluate', 'evaluate'))]
    finally:
        if saved is None:
            os.environ.pop('COLUMNS', None)
        else:
            os.environ['COLUMNS'] = saved
    return ('# The command line\n\nEach command\'s `--help` (made by `python tools/command_line_doc.py`; '
            'tests/test_parsing.py checks that it is current).\n\n' +
            '\n'.join(blocks))


if __name__ == '__main__':
    with open(PAGE, 'w', encoding='utf-8') as f:
        f.write(page())
    print(PAGE)
