"""
The script's command line, read once at its start: the command (train, generate or evaluate), the
dataset, and the settings that flags replace. In a notebook kernel, whose own arguments are in
sys.argv, the flags come from the environment variable DLND_ARGS instead. The cells ask it which
dataset the run uses (flags.uses); facegan/app/runs.py carries the rest to the run.

    python dlnd_face_generation.py [--dataset mnist|celeba|folder|synthetic] [flags]
    python dlnd_face_generation.py generate --checkpoint output/synthetic --n 10
    python dlnd_face_generation.py evaluate --checkpoint output/synthetic
"""
import contextlib
import os
import shlex
import sys
import tempfile

from facegan.core import environment, files, run_config
from facegan.core.errors import DatasetError, UserError, one_line
from facegan.data import datasets
from facegan.graph import checkpoint_files
from facegan.app import parsing

# The flags that are a RunConfig setting of the same name (hyperparameters and the run's extras)
SETTINGS = ('epochs', 'max_steps', 'batch_size', 'z_dim', 'learning_rate', 'beta1', 'update_order', 'seed',
            'output_dir', 'show_every', 'save_every', 'keep_checkpoints', 'eval_every', 'eval_images', 'logdir',
            'precision', 'average_decay', 'raw_weights', 'fast_layers')


def flag(setting):
    """:return: The flag of a run's setting: '--batch-size' for 'batch_size'"""
    return '--' + setting.replace('_', '-')


def arguments():
    """:return: The command line's arguments: the script's, or in a notebook kernel DLND_ARGS's"""
    if environment.in_notebook_kernel():
        try:
            return shlex.split(os.environ.get('DLND_ARGS', ''))
        except ValueError as err:  # an unclosed quote
            raise UserError('the variable DLND_ARGS ({}) cannot be split into flags ({}): close its quotes, as in a '
                            'shell'.format(one_line(os.environ['DLND_ARGS']), err)) from None
    return sys.argv[1:]


class Flags(object):
    """The command line, as the cells and the run ask for it."""

    def __init__(self, command, namespace):
        """
        :param command: 'train', 'generate' or 'evaluate'
        :param namespace: argparse's Namespace of the command's parser
        """
        self.command = command
        self.dataset = self.data_dir = None  # generate has neither
        self.in_notebook = False  # read from DLND_ARGS in a notebook kernel, where a cell is run, not a command
        self.__dict__.update(vars(namespace))

    def uses(self, *datasets):
        """:return: Whether this command trains on or scores against one of these datasets ('mnist', 'celeba', ...)"""
        return self.command in ('train', 'evaluate') and self.dataset in datasets

    @property
    def image_mode(self):
        """:return: 'L' or 'RGB' for --dataset folder (--channels), else None: the dataset's own"""
        return {1: 'L', 3: 'RGB'}[self.channels] if self.dataset == 'folder' else None

    def face_files(self, data_dir):
        """
        :param data_dir: The data folder (--data-dir, or the notebook's data_dir)
        :return: The image files of a dataset of faces: CelebA's (downloaded), the synthetic faces (drawn on first
                 use) or, with --dataset folder, every jpg, jpeg and png under --data-dir
        """
        if self.dataset == 'folder' and not os.path.isdir(data_dir):
            raise DatasetError('--data-dir {} is not a folder: point it at a folder of images'.format(
                one_line(data_dir)))
        found = datasets.face_files(self.dataset, data_dir)
        if self.dataset == 'folder' and not found:
            raise DatasetError('--data-dir {} has no jpg, jpeg or png files: point it at a folder of images'
                               .format(one_line(data_dir)))
        return found

    def settings(self):
        """:return: {RunConfig setting: value} of the flags given: each replaces the cell's value or the default"""
        given = {name: getattr(self, name) for name in SETTINGS if getattr(self, name, None) is not None}
        if self.data_dir:  # recorded where it is, so that evaluate finds the run's images from anywhere
            given['data_dir'] = os.path.abspath(self.data_dir)
        return given


def check_writable(folder, flag_name):
    """
    Fail early, before any graph is built, when a run's output cannot be written. The folders it makes to find out
    are removed again: what writes there makes them, so a run that stops before it writes leaves no empty folder
    :param folder: The folder
    :param flag_name: The flag that named it, for the message: '--output-dir'
    """
    made = _missing_folders(folder)
    try:
        os.makedirs(folder, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as err:
        raise UserError('cannot write to {} {} ({}): choose another folder'
                        .format(flag_name, one_line(folder), _why_unwritable(folder, err))) from None
    finally:
        for each in made:  # the deepest first; one that is not empty now (another process writes there) stays
            with contextlib.suppress(OSError):
                os.rmdir(each)


def _why_unwritable(folder, err):
    """
    :param err: The OSError making or writing in folder raised
    :return: Why, for the message: where a file stands in the folder's path, that it is a file (the system's words,
             'File exists' or 'Not a directory', do not say which); else the system's words
    """
    in_the_way = files.file_in_the_way(folder, err)
    if in_the_way is not None:
        return '{} is a file, not a folder'.format('it' if in_the_way == os.path.normpath(folder) else
                                                   one_line(in_the_way))
    return err.strerror or str(err)


def _missing_folders(folder):
    """:return: The folders of the path that do not exist yet, the deepest first"""
    missing, path = [], os.path.abspath(folder)
    while not os.path.exists(path) and os.path.dirname(path) != path:
        missing.append(path)
        path = os.path.dirname(path)
    return missing


CHECKPOINT_HINT = "train first, or point --checkpoint at a run's output folder"


def _check_checkpoint_exists(checkpoint):
    """Stop when --checkpoint names nothing at all, before TensorFlow loads (graph/checkpoints.find_checkpoint would
    say the same, later)"""
    if not (os.path.exists(checkpoint) or os.path.exists(checkpoint + '.index')):
        with naming('--checkpoint', checkpoint):
            raise checkpoint_files.no_checkpoint(checkpoint, CHECKPOINT_HINT)


def _checkpoint_folder(checkpoint):
    """:return: The run's output folder of --checkpoint (the run's folder, its checkpoints folder, or a checkpoint's
             path): where its run.json is, and where generate and evaluate write by default"""
    folder = checkpoint if os.path.isdir(checkpoint) else os.path.dirname(checkpoint)
    if os.path.basename(os.path.normpath(folder)) == checkpoint_files.CHECKPOINT_FOLDER:
        folder = os.path.dirname(os.path.normpath(folder))
    return folder or '.'


def parse(argv):
    """
    Read the command line, and check what can be checked before any work: values, output folders
    :param argv: The arguments (see arguments())
    :return: Flags
    """
    command = argv[0] if argv[:1] and argv[0] in parsing.COMMANDS else 'train'
    parser = parsing.PARSERS[command]()
    flags = Flags(command, parser.parse_args(argv[1:] if command != 'train' else argv))
    if command == 'train':
        flags.dataset = flags.dataset or 'synthetic'
        if flags.dataset == 'folder' and not flags.data_dir:  # else it would train on ./data, the datasets' folder
            parser.error('--dataset folder trains on your own images: give their folder with --data-dir')
        flags.output_dir = flags.output_dir or os.path.join('output', flags.dataset)
        if flags.resume and flags.restart:
            parser.error('--resume goes on with the run in --output-dir and --restart starts it over: give one')
        if flags.resume and not checkpoint_files.has_checkpoint(flags.output_dir):  # before the data is made ready
            raise checkpoint_files.no_checkpoint(flags.output_dir, checkpoint_files.RESUME_HINT)
        check_writable(flags.output_dir, '--output-dir')
        if flags.logdir:
            check_writable(flags.logdir, '--logdir')
    elif command == 'generate':
        flags.output_dir = flags.output_dir or os.path.join(_checkpoint_folder(flags.checkpoint), 'generated')
        if flags.n and (flags.z or flags.walk):
            parser.error('--n draws random faces: leave it out with {}'.format('--walk' if flags.walk else '--z'))
        flags.n = flags.n or 10
    else:
        flags.output_dir = flags.output_dir or _checkpoint_folder(flags.checkpoint)
        saved = run_config.load(_checkpoint_folder(flags.checkpoint))  # None without run.json (or a folder)
        flags.dataset = flags.dataset or (saved.dataset if saved else 'synthetic')
        if not flags.data_dir and saved and saved.data_dir and saved.dataset == flags.dataset:
            if not os.path.isdir(saved.data_dir):
                parser.error('the run in --checkpoint {} trained on the images in {} (its {}), which is not a folder '
                             'now: give them with --data-dir'.format(one_line(flags.checkpoint),
                                                                     one_line(saved.data_dir), run_config.RUN_FILE))
            flags.data_dir = saved.data_dir  # where the run found its data
        if flags.dataset == 'folder' and not flags.data_dir:  # run.json does not say which folder
            parser.error('the run in --checkpoint {} trained on a folder of images: give that folder with '
                         '--data-dir'.format(one_line(flags.checkpoint)))
    return flags


def read():
    """
    :return: Flags of the script's command line (in a notebook, of DLND_ARGS); a bad flag ends the script in one
             line with exit code 2, an output folder that cannot be written in one line too
    """
    flags = parse(arguments())
    flags.in_notebook = environment.in_notebook_kernel()
    if flags.command == 'evaluate':  # before the data cells draw or download its dataset
        _check_checkpoint_exists(flags.checkpoint)
    return flags


def usage_error(command, message):
    """Stop as argparse does for a bad flag: one line, exit code 2."""
    parsing.PARSERS[command]().error(message)


@contextlib.contextmanager
def naming(flag_name, value):
    """
    While the block runs, a UserError it raises is said again naming the flag it is about: 'FLAG VALUE: message'
    :param flag_name: '--checkpoint'
    :param value: The flag's value
    """
    prefix = '{} {}: '.format(flag_name, one_line(str(value)))
    try:
        yield
    except UserError as err:
        if not str(err).startswith(prefix):
            err.args = (prefix + str(err),) + err.args[1:]
        raise
