"""
The problems a user can fix, and the one way an exception becomes one line. Each message says what
is wrong and how to fix it, naming the file it is about; the command line prints it after 'error: '
(naming the flag too) and exits with the exception's exit_code; a notebook shows the same line.
"""


class UserError(Exception):
    """A problem the user can fix; its message is one line that says how."""
    exit_code = 1

    def _render_traceback_(self):
        """:return: What IPython (Jupyter, VS Code) shows for it: the one line, not a traceback"""
        return ['error: ' + one_line(str(self))]


class DatasetError(UserError):
    """A data problem the user can fix; its message is one line that says how."""


class DiskFullError(DatasetError):
    """Not enough disk space for what was being written; the message says where and how much."""


class FileSystemError(UserError):
    """The file system refused a file the program needed (full disk or quota, permission, read-only); the message
    names the file and says what to do."""


class TrainingStopped(UserError):
    """Training stopped early, or a saved run cannot be used; the message says why and what to do."""


class TrainingInterrupted(TrainingStopped):
    """Ctrl-C, kill or a closed terminal during training: a checkpoint was saved."""
    exit_code = 130


class LearnerCodeError(UserError):
    """A function of the notebook failed, or returned something else than expected, when the run called it."""


def interrupted(err):
    """
    :param err: An exception
    :return: Whether it is a KeyboardInterrupt or was raised because of one: TensorFlow turns a Ctrl-C that lands
             inside some of its calls (session.run, nest.flatten) into an error of its own, raised from the interrupt
             (its __cause__) or while handling it (its __context__), and a wrapper may have raised another from that
    """
    behind, seen = [err], set()
    while behind:
        err = behind.pop()
        if err is None or id(err) in seen:
            continue
        if isinstance(err, KeyboardInterrupt):
            return True
        seen.add(id(err))
        behind += [err.__cause__, err.__context__]
    return False


class SettingChanged(UserError):
    """A run was resumed with a setting that would silently change it; .setting names it ('batch_size')."""

    def __init__(self, message, setting):
        super().__init__(message)
        self.setting = setting


def one_line(message):
    """
    :param message: A message that may quote what the user gave: a file name with a line break, bytes
                    that are not UTF-8 (os.listdir and sys.argv hold them as surrogates), control characters
    :return: It as one line that prints in any encoding's error mode: an undecodable byte as \\xNN,
             other unprintable characters as Python escapes them ('\\n'); spaces and accents as they are
    """
    return ''.join(char if char.isprintable() else _escaped(char) for char in message)


def _escaped(char):
    """:return: \\xNN for a surrogate-escaped byte, else the character as Python's unicode_escape writes it"""
    if '\udc80' <= char <= '\udcff':
        return '\\x{:02x}'.format(ord(char) - 0xdc00)
    return char.encode('unicode_escape').decode('ascii')


# Lines of TensorFlow's messages that say where the graph failed, not what went wrong
_WHERE_LINES = ('Graph execution error', 'Detected at node', 'Node:', 'File "', '[[', 'Hint:', 'Original stack',
                'Traceback')


def error_line(err, with_type=False):
    """
    The one way an exception becomes one line, for every message that quotes one
    :param err: Any exception, TensorFlow's included (whose message starts with where the graph failed)
    :param with_type: Start with its type's name: 'ValueError: ...' (for errors of a learner's code)
    :return: The first line of its message that says what went wrong, as one_line prints it; its type's
             name when the message is empty
    """
    lines = [line.strip() for line in str(getattr(err, 'message', None) or err).splitlines()]
    useful = [line for line in lines if line and not line.startswith(_WHERE_LINES)]
    text = (useful or [line for line in lines if line] or [''])[0]
    if with_type or not text:
        text = '{}: {}'.format(type(err).__name__, text) if text else type(err).__name__
    return one_line(text)
