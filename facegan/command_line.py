"""
The command line of dlnd_face_generation.py: it turns flags into the values the notebook's cells
use. Nothing here imports the notebook; the run cell hands down what is needed.

    python dlnd_face_generation.py [--dataset mnist|celeba|folder|synthetic] [flags]
    python dlnd_face_generation.py generate --checkpoint OUTPUT_DIR --n 10
    python dlnd_face_generation.py evaluate --checkpoint OUTPUT_DIR

In a notebook kernel sys.argv holds the kernel's own arguments, so there the flags come from the
environment variable DLND_ARGS (for a short run, DLND_ARGS="--max-steps 20").
"""
import argparse
import math
import os
import shlex
import sys
import tempfile

import numpy as np

from facegan import checkpoints, fast_layers, generation, latent_walk, nearest, tensorflow_setup
from facegan.errors import UserError, one_line
from facegan.training_run import RunOptions

MAX_SEED = 2 ** 32 - 1  # numpy's seeds are 32-bit
COMMANDS = ('generate', 'evaluate')  # besides training


def _number(text, convert, kind):
    """
    :param text: Command-line value
    :param convert: int or float
    :param kind: What the value should be, for the message
    :return: The converted value
    """
    try:
        return convert(text)
    except ValueError:
        raise argparse.ArgumentTypeError('expected {}, got {!r}'.format(kind, text)) from None


def _int_in(low, high=None):
    """:return: An argparse type: a whole number from low to high (None: no limit)"""
    def check(text):
        value = _number(text, int, 'a whole number')
        if value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(
                'must be at least {}, got {}'.format(low, value) if high is None else
                'must be from {} to {}, got {}'.format(low, high, value))
        return value
    return check


def _positive_float(text):
    """:param text: Command-line value :return: It as a float, if it is above 0 and finite"""
    value = _number(text, float, 'a number')
    if not 0 < value < float('inf'):  # also rejects nan
        raise argparse.ArgumentTypeError('must be a number above 0, got {}'.format(text))
    return value


def _beta1(text):
    """:param text: Command-line value :return: It as a float, if it is in [0, 1)"""
    value = _number(text, float, 'a number')
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError('must be in [0, 1), got {}'.format(text))
    return value


_positive_int = _int_in(1)
_seed = _int_in(0, MAX_SEED)


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Show defaults, except where there is none to show (None, or a switch)."""

    def _get_help_string(self, action):
        if action.default is None or isinstance(action.default, bool):
            return action.help
        return super()._get_help_string(action)


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line and exit with code 2."""

    def error(self, message):
        self.exit(2, '{}: error: {} (see --help)\n'.format(self.prog, one_line(message)))


def add_data_arguments(parser):
    """Add --dataset, --data-dir and --channels, which training and evaluate share."""
    parser.add_argument('--dataset', choices=['synthetic', 'mnist', 'celeba', 'folder'], default='synthetic',
                        help='synthetic: drawn faces made on first use, no download; mnist and '
                             'celeba are downloaded into --data-dir; folder: every jpg, jpeg and png '
                             'under --data-dir')
    parser.add_argument('--data-dir', default='./data',
                        help='folder for datasets; with --dataset folder, the folder of images')
    parser.add_argument('--channels', type=int, choices=[1, 3], default=3,
                        help='with --dataset folder: 1 trains on grayscale, 3 on colour')


def add_fast_layers_argument(parser):
    """Add --no-fast-layers, which training, generate and evaluate share."""
    parser.add_argument('--no-fast-layers', dest='fast_layers', action='store_false',
                        help="build the generator's transposed convolutions with TensorFlow's own kernel, not as "
                             'the matrix products of facegan/fast_layers.py (the same layer, slower on a CPU)')


def build_parser():
    """
    :return: The command-line parser of training. The hyperparameters' defaults are the notebook's
             (its Hyperparameters cell): a flag given replaces them
    """
    parser = OneLineParser(
        prog='dlnd_face_generation.py',
        description='Train the face-generation DCGAN (Udacity DLND project) in TF1 graph style.',
        formatter_class=_HelpFormatter,
        epilog='To draw faces from a trained run: %(prog)s generate --checkpoint OUTPUT_DIR --n 10; to score '
               'it: %(prog)s evaluate --checkpoint OUTPUT_DIR (each has --help). Ctrl-C (or SIGTERM) saves a '
               'checkpoint; --resume continues.')
    add_data_arguments(parser)
    _add_schedule_arguments(parser)
    _add_output_arguments(parser)
    add_fast_layers_argument(parser)
    return parser


def _add_schedule_arguments(parser):
    """Add the flags of how training goes: its length, the hyperparameters, the update order, the seed."""
    parser.add_argument('--epochs', type=_positive_int, default=None,
                        help="passes over the data (default: the notebook's epochs for the dataset; with "
                             '--max-steps alone, as many as its steps take)')
    parser.add_argument('--max-steps', type=_positive_int, default=None,
                        help='train this many steps in all; with --epochs too, stop at whichever comes first')
    parser.add_argument('--batch-size', type=_positive_int, help="images per step (default: the notebook's batch_size)")
    parser.add_argument('--z-dim', type=_positive_int, help="length of the noise vector z (default: the notebook's "
                                                            'z_dim)')
    parser.add_argument('--learning-rate', type=_positive_float,
                        help="Adam learning rate for both networks (default: the notebook's learning_rate)")
    parser.add_argument('--beta1', type=_beta1, help="Adam's beta1 for both networks (default: the notebook's beta1)")
    parser.add_argument('--update-order', choices=['simultaneous', 'alternating'], default='simultaneous',
                        help='simultaneous: both updates from one forward pass, one session.run a step; '
                             "alternating: two session.run calls, the generator's through the updated "
                             'discriminator, as in the article\'s repository (about 1.3x slower)')
    parser.add_argument('--seed', type=_seed, default=0,
                        help='seed for numpy, the data order, the synthetic faces and TensorFlow')


def _add_output_arguments(parser):
    """Add the flags of what a run leaves: grids, checkpoints, scores, TensorBoard, and its precision."""
    parser.add_argument('--output-dir', default='./output',
                        help='folder for the grids, losses, plots and checkpoints of this run')
    parser.add_argument('--show-every', type=_positive_int, default=100,
                        help='save a grid of samples from the fixed z every this many steps')
    parser.add_argument('--save-every', type=_positive_int, default=500,
                        help='save a checkpoint in OUTPUT_DIR/checkpoints every this many steps (and at the end)')
    parser.add_argument('--keep-checkpoints', type=_positive_int, default=checkpoints.KEEP_CHECKPOINTS,
                        help='keep this many of the newest checkpoints in OUTPUT_DIR/checkpoints, across --resume')
    parser.add_argument('--resume', action='store_true',
                        help='continue from the newest checkpoint in --output-dir: same step, optimizer state '
                             'and sample z')
    parser.add_argument('--eval-every', type=_int_in(0), default=100,
                        help='score the samples with the sliced Wasserstein distance every this many steps '
                             '(0: never)')
    parser.add_argument('--eval-images', type=_positive_int, default=256,
                        help='held-out real images (not trained on) and generated images per score')
    parser.add_argument('--logdir', default=None,
                        help='write TensorBoard event files here (losses, sample grids, scores)')
    parser.add_argument('--precision', choices=['auto', 'float32', 'bfloat16'], default='auto',
                        help='bfloat16: convolutions in bfloat16, variables in float32 (faster on a CPU with '
                             'AMX or AVX512_BF16; slower without); auto: bfloat16 where the CPU has either, '
                             'else float32')


def build_generate_parser():
    """
    :return: The parser of `dlnd_face_generation.py generate`
    """
    parser = OneLineParser(prog='dlnd_face_generation.py generate',
                           description='Draw new faces from a trained generator (inference mode).',
                           formatter_class=_HelpFormatter)
    parser.add_argument('--checkpoint', required=True,
                        help="a run's --output-dir (its newest checkpoint is used), or a checkpoint path")
    parser.add_argument('--n', type=_positive_int, default=None,
                        help='how many faces (face_NNN.png, each with its z in face_NNN.npy; default 10); grid.png '
                             'shows the first {}'.format(generation.GRID_FACES))
    parser.add_argument('--z', action='append', metavar='FILE',
                        help='draw the faces of these saved z (a face_NNN.npy; repeat for more) rather than random '
                             'ones; with --walk, start the walk at them')
    parser.add_argument('--walk', type=_int_in(2), metavar='K',
                        help='walk through K z (random ones after any --z), each slerped into the next in {} steps '
                             'and the last back to the first: walk.png (a row a leg), walk.gif and walk_z.npy'
                        .format(latent_walk.STEPS))
    parser.add_argument('--seed', type=_seed, default=0, help='seed for z: the same seed draws the same faces')
    parser.add_argument('--output-dir', default=None, help='folder for the PNGs (default: CHECKPOINT/generated)')
    parser.add_argument('--channels', type=int, choices=[1, 3], default=None,
                        help="expected channels (default: the checkpoint's)")
    parser.add_argument('--z-dim', type=_positive_int, default=None, help="expected z length (default: the checkpoint's)")
    add_fast_layers_argument(parser)
    return parser


def build_evaluate_parser():
    """
    :return: The parser of `dlnd_face_generation.py evaluate`
    """
    parser = OneLineParser(prog='dlnd_face_generation.py evaluate',
                           description='Print the sliced Wasserstein distance of a saved generator against '
                                       'held-out real images, with the real-vs-real and untrained baselines.',
                           formatter_class=_HelpFormatter)
    parser.add_argument('--checkpoint', required=True, help="a run's --output-dir, or a checkpoint path")
    add_data_arguments(parser)
    parser.add_argument('--eval-images', type=_positive_int, default=256, help='images on each side')
    parser.add_argument('--seed', type=_seed, default=0, help='seed of z and of the metric')
    parser.add_argument('--nearest', action='store_true',
                        help='also check for memorisation: print how near generated and held-out real faces are to '
                             'the training images, and write nearest.png (generated faces beside their {} nearest '
                             'training images)'.format(nearest.NEIGHBOURS))
    parser.add_argument('--output-dir', default=None,
                        help="folder for nearest.png (default: the --checkpoint folder, or a checkpoint path's folder)")
    add_fast_layers_argument(parser)
    return parser


def _in_notebook_kernel():
    """:return: True inside a Jupyter kernel (Jupyter, VS Code, Spyder), whose sys.argv is the kernel's own"""
    kernel_app = sys.modules.get('ipykernel.kernelapp')
    return kernel_app is not None and kernel_app.IPKernelApp.initialized()


def arguments():
    """:return: The command line's arguments: the script's, or in a notebook kernel DLND_ARGS's"""
    if _in_notebook_kernel():
        return shlex.split(os.environ.get('DLND_ARGS', ''))
    return sys.argv[1:]


def check_writable(folder, flag):
    """
    Fail early, before any graph is built, when a run's output cannot be written
    :param folder: The folder (created if missing)
    :param flag: The flag that named it, for the message: '--output-dir'
    """
    try:
        os.makedirs(folder, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as err:
        raise UserError('cannot write to {} {} ({}): choose another folder'
                        .format(flag, folder, err.strerror or err)) from None


def parse(argv):
    """
    Read the command line, and check what can be checked before any work: values, output folders
    :param argv: The arguments (see arguments())
    :return: argparse.Namespace of the flags, with .command: 'train', 'generate' or 'evaluate',
             and .image_mode: 'L' or 'RGB' for --dataset folder, else None (the dataset's own)
    """
    command = argv[0] if argv[:1] and argv[0] in COMMANDS else 'train'
    parser = {'train': build_parser, 'generate': build_generate_parser, 'evaluate': build_evaluate_parser}[command]()
    flags = parser.parse_args(argv[1:] if command != 'train' else argv)
    flags.command = command
    if command == 'train':
        check_writable(flags.output_dir, '--output-dir')
        if flags.logdir:
            check_writable(flags.logdir, '--logdir')
    if command == 'generate':
        flags.output_dir = flags.output_dir or os.path.join(flags.checkpoint, 'generated')
        if flags.n and (flags.z or flags.walk):
            parser.error('--n draws random faces: leave it out with {}'.format('--walk' if flags.walk else '--z'))
        flags.n = flags.n or 10
    if command == 'evaluate' and flags.output_dir is None:
        checkpoint_folder = flags.checkpoint if os.path.isdir(flags.checkpoint) else os.path.dirname(flags.checkpoint)
        flags.output_dir = checkpoint_folder or '.'

    if command in ('train', 'evaluate'):
        flags.image_mode = {1: 'L', 3: 'RGB'}[flags.channels] if flags.dataset == 'folder' else None
    return flags


def usage_error(message):
    """Stop as argparse does for a bad flag: one line, exit code 2."""
    build_parser().error(message)


def hyperparameters(flags, batch_size, z_dim, learning_rate, beta1):
    """
    :param flags: From parse()
    :return: (batch_size, z_dim, learning_rate, beta1): the notebook's values, each replaced by its flag if given
    """
    given = (flags.batch_size, flags.z_dim, flags.learning_rate, flags.beta1)
    notebook = (batch_size, z_dim, learning_rate, beta1)
    return tuple(notebook_value if flag is None else flag for flag, notebook_value in zip(given, notebook))


def epoch_count(flags, epochs, steps_per_epoch):
    """
    :param flags: From parse()
    :param epochs: The notebook's epochs for the dataset
    :param steps_per_epoch: Batches in an epoch
    :return: --epochs; with --max-steps alone, the epochs its steps take; else the notebook's
    """
    if flags.epochs:
        return flags.epochs
    if flags.max_steps:
        return math.ceil(flags.max_steps / steps_per_epoch)
    return epochs


def precision(choice):
    """:return: 'float32' or 'bfloat16' for --precision's choice, saying which when it was auto"""
    if choice != 'auto':
        return choice
    support = tensorflow_setup.cpu_bfloat16_support()
    chosen = 'bfloat16' if support else 'float32'
    print('Precision: {} (--precision auto: {})'.format(
        chosen, 'the CPU has ' + support if support else 'the CPU has neither AMX_BF16 nor AVX512_BF16'))
    return chosen


def fast_layers_wanted(flag):
    """
    :param flag: --no-fast-layers not given (True) or given (False)
    :return: Whether train() builds the generator with fast_layers: where the flag allows and the device suits them
    """
    gpus = tensorflow_setup.import_tensorflow().config.list_physical_devices('GPU')
    return flag and fast_layers.use_fast_layers(gpus)[0]


def run_options(flags, dataset, batch_size):
    """
    What the run does beyond the hyperparameters. Holds --eval-images images out of training for the scores.
    :param flags: From parse()
    :param dataset: helper.Dataset of the run's data
    :param batch_size: Images per step
    :return: training_run.RunOptions
    """
    if batch_size > dataset.shape[0]:
        usage_error('--batch-size {} is larger than the {} images in {}'.format(batch_size, dataset.shape[0],
                                                                              flags.dataset))
    tracker = None
    if flags.eval_every and dataset.shape[0] >= 2 * flags.eval_images + batch_size:
        tracker = generation.make_tracker(dataset, flags.eval_images, flags.seed)
    elif flags.eval_every:
        print('note: no sample-quality scores: they need {} images or more (2 x --eval-images + a batch)'
              .format(2 * flags.eval_images + batch_size))
    return RunOptions(
        output_dir=flags.output_dir, max_steps=flags.max_steps, save_every=flags.save_every, resume=flags.resume,
        logdir=flags.logdir, tracker=tracker, eval_every=flags.eval_every, precision=precision(flags.precision),
        update_order=flags.update_order, keep_checkpoints=flags.keep_checkpoints,
        fast_layers=fast_layers_wanted(flags.fast_layers))


def generate(flags, generator):
    """`generate`: draw the faces (or the walk) the flags ask for from a checkpoint, and say where they are."""
    found = generation.find_generator(generator, flags.checkpoint, flags.channels, flags.z_dim)
    saved_z = generation.load_z(flags.z, found[1]) if flags.z else np.zeros((0, found[1]), np.float32)
    if flags.walk and len(saved_z) > flags.walk:
        build_generate_parser().error('--walk {} passes through fewer z than the {} in --z: give --walk {} or more'
                                      .format(flags.walk, len(saved_z), len(saved_z)))
    check_writable(flags.output_dir, '--output-dir')
    fast = fast_layers_wanted(flags.fast_layers)
    if flags.walk:
        strip, gif = generation.walk(generator, found, flags.walk, saved_z, flags.seed, flags.output_dir, fast)
        print('Wrote a walk through {} z: {} and {}'.format(flags.walk, strip, os.path.basename(gif)))
        return
    faces, grid = generation.generate(generator, found, saved_z if flags.z else flags.n, flags.seed,
                                      flags.output_dir, fast)
    print('Wrote {} faces ({} ... {}), each with its z (face_NNN.npy, for --z), and {}'
          .format(len(faces), faces[0], os.path.basename(faces[-1]), grid))


WALK_AFTER_TRAINING = 4  # z the notebook's walk passes through, as generate --walk 4


def what_it_learned(flags, generator, dataset, held_out):
    """
    After training, in the notebook: a walk through z and the memorisation check of the run just
    trained, made as `generate --walk 4` and `evaluate --nearest` make them, into its --output-dir
    :param flags: From parse()
    :param generator: The notebook's generator function
    :param dataset: helper.Dataset of the run's data, before hold_out
    :param held_out: Whether training held the dataset's last --eval-images out (it does when it scores)
    :return: (paths of the pictures, lines to print)
    """
    found = generation.find_generator(generator, flags.output_dir, dataset.shape[3])
    fast = fast_layers_wanted(flags.fast_layers)
    no_saved_z = np.zeros((0, found[1]), np.float32)
    strip, _ = generation.walk(generator, found, WALK_AFTER_TRAINING, no_saved_z, flags.seed, flags.output_dir, fast)
    if not held_out:
        return [strip], ['note: no memorisation check: it compares generated faces with real ones training held '
                         'out, which it does when it scores (--eval-every, and 2 x --eval-images images or more)']
    path = os.path.join(flags.output_dir, 'nearest.png')
    result = generation.nearest_picture(generator, found, dataset, flags.eval_images, flags.seed, path, fast)
    return [strip, path], nearest.verdict(result)


def evaluate(flags, generator, dataset):
    """`evaluate`: score a checkpoint against the dataset's held-out images, and print the score."""
    needed = max(2 * flags.eval_images, flags.eval_images + nearest.NEIGHBOURS if flags.nearest else 0)
    if dataset.shape[0] < needed:
        build_evaluate_parser().error('--eval-images {} needs at least {} images; {} has {}'.format(
            flags.eval_images, needed, flags.dataset, dataset.shape[0]))
    if flags.nearest:
        check_writable(flags.output_dir, '--output-dir')
        found = generation.find_generator(generator, flags.checkpoint, dataset.shape[3])
        path = os.path.join(flags.output_dir, 'nearest.png')
        result = generation.nearest_picture(generator, found, dataset, flags.eval_images, flags.seed, path,
                                            fast_layers_wanted(flags.fast_layers))
        print('\n'.join(nearest.verdict(result) + ['Wrote {}'.format(path)]))
    distance, floor, ceiling, closed = generation.evaluate(generator, flags.checkpoint, dataset, flags.eval_images,
                                                           flags.seed, fast_layers_wanted(flags.fast_layers))
    print('SWD: {:.4f} (real vs real {:.4f}, untrained {:.4f}): {:.0%} of the gap closed'
          .format(distance, floor, ceiling, closed))
