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
                    that are not UTF-8 (which Python holds as surrogates), control characters
    :return: It as one printable line: each such character written as a Python escape ('\\n', '\\udce9')
    """
    return ''.join(char if char.isprintable() else repr(char)[1:-1] for char in message)
