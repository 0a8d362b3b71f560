"""
The problems a user can fix. Each message is one line that says what is wrong and how to fix it,
naming the flag or file the user gave; the command line prints it after 'error: ' and exits with
the exception's exit_code.
"""


class UserError(Exception):
    """A problem the user can fix; its message is one line that says how."""
    exit_code = 1


class DatasetError(UserError):
    """A data problem the user can fix; its message is one line that says how."""


class DiskFullError(DatasetError):
    """Not enough disk space for what was being written; the message says where and how much."""


class TrainingStopped(UserError):
    """Training stopped early; the message says why and what to do."""


class TrainingInterrupted(TrainingStopped):
    """Ctrl-C, kill or a closed terminal during training: a checkpoint was saved."""
    exit_code = 130


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
