"""
The command line's three parsers: training (`python dlnd_face_generation.py [flags]`), `generate` and
`evaluate`. Each value is checked as it is read, and a bad one is one line and exit code 2. A flag
left out is None: the run's setting then comes from the notebook's cells (the hyperparameters) or
from RunConfig's defaults, which each flag's help shows.
"""
import argparse
import dataclasses

from facegan.core.errors import one_line
from facegan.core.run_config import CHOICES, RunConfig

MAX_SEED = 2 ** 32 - 1  # numpy's seeds are 32-bit
COMMANDS = ('generate', 'evaluate')  # besides training
DATASETS = CHOICES['dataset']
DEFAULTS = {field.name: field.default for field in dataclasses.fields(RunConfig)
            if field.default is not dataclasses.MISSING}


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


def int_in(low, high=None):
    """:return: An argparse type: a whole number from low to high (None: no limit)"""
    def check(text):
        value = _number(text, int, 'a whole number')
        if value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(
                'must be at least {}, got {}'.format(low, value) if high is None else
                'must be from {} to {}, got {}'.format(low, high, value))
        return value
    return check


def positive_float(text):
    """:param text: Command-line value :return: It as a float, if it is above 0 and finite"""
    value = _number(text, float, 'a number')
    if not 0 < value < float('inf'):  # also rejects nan
        raise argparse.ArgumentTypeError('must be a number above 0, got {}'.format(text))
    return value


def fraction(text):
    """:param text: Command-line value :return: It as a float, if it is in [0, 1)"""
    value = _number(text, float, 'a number')
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError('must be in [0, 1), got {}'.format(text))
    return value


positive_int = int_in(1)
seed = int_in(0, MAX_SEED)


def path(text):
    """:param text: Command-line value :return: It, if it is not empty (an empty one would silently be the default)"""
    if not text:
        raise argparse.ArgumentTypeError('expected a path, got an empty one')
    return text


def tensorflow_path(text):
    """
    :param text: Command-line value
    :return: It, if it is not empty and TensorFlow can write and read files under it: its C++ file system takes
             UTF-8 paths only, so a name that is not (bytes Python kept as surrogates) would fail at the first save
    """
    try:
        path(text).encode('utf-8')
    except UnicodeEncodeError:
        raise argparse.ArgumentTypeError('TensorFlow saves and reads checkpoints only under a UTF-8 path, and {} is '
                                         'not one: rename the folder or give another'.format(one_line(text))) from None
    return text


def _default(name):
    """:return: ' (default: VALUE)' of a RunConfig setting, for a flag's help"""
    return ' (default: {})'.format(DEFAULTS[name])


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line and exit with code 2."""

    def error(self, message):
        self.exit(2, '{}: error: {} (see --help)\n'.format(self.prog, one_line(message)))


def add_data_arguments(parser, default_help, data_dir_help="the notebook's data_dir, ./data"):
    """
    Add --dataset, --data-dir and --channels, which training and evaluate share
    :param default_help: What --dataset's help says of its default
    :param data_dir_help: What --data-dir's help says of its default
    """
    parser.add_argument('--dataset', choices=DATASETS, default=None,
                        help='synthetic: drawn faces made on first use, no download; mnist and celeba are downloaded '
                             'into --data-dir; folder: every jpg, jpeg and png under --data-dir (default: {})'
                        .format(default_help))
    parser.add_argument('--data-dir', type=path, default=None,
                        help='folder for datasets (default: {}); with --dataset folder, the folder of images'
                        .format(data_dir_help))
    parser.add_argument('--channels', type=int, choices=[1, 3], default=3,
                        help='with --dataset folder: 1 trains on grayscale, 3 on colour (default: 3)')


def add_drawing_arguments(parser):
    """Add the flags of how generate and evaluate draw: the weights, the precision, the layers."""
    parser.add_argument('--raw-weights', action='store_true',
                        help="draw from the generator's own weights, not their average (for a run trained with "
                             '--average-decay)')
    parser.add_argument('--precision', choices=CHOICES['precision'], default=None,
                        help='float32 or bfloat16 (default: the precision the run trained with; auto: bfloat16 where '
                             'the CPU has AMX or AVX512_BF16)')
    add_fast_layers_argument(parser)


def add_fast_layers_argument(parser):
    """Add --no-fast-layers, which training, generate and evaluate share."""
    parser.add_argument('--no-fast-layers', dest='fast_layers', action='store_false', default=None,
                        help="build the generator's transposed convolutions with TensorFlow's own kernel, not as "
                             'the matrix products of facegan/graph/fast_layers.py (the same layer, slower on a CPU)')


def build_parser():
    """:return: The command-line parser of training"""
    parser = OneLineParser(
        prog='dlnd_face_generation.py',
        description='Train the face-generation DCGAN (Udacity DLND project) in TF1 graph style.',
        epilog='To draw faces from a trained run: %(prog)s generate --checkpoint output/synthetic; to score it: '
               '%(prog)s evaluate --checkpoint output/synthetic (each has --help). Ctrl-C (or SIGTERM) saves a '
               'checkpoint; --resume continues.')
    add_data_arguments(parser, 'synthetic')
    _add_schedule_arguments(parser)
    _add_output_arguments(parser)
    add_fast_layers_argument(parser)
    return parser


def _add_schedule_arguments(parser):
    """Add the flags of how training goes: its length, the hyperparameters, the update order, the seed."""
    parser.add_argument('--epochs', type=positive_int, default=None,
                        help="passes over the data (default: the notebook's epochs for the dataset; with "
                             '--max-steps alone, as many as its steps take)')
    parser.add_argument('--max-steps', type=positive_int, default=None,
                        help='train this many steps in all; with --epochs too, stop at whichever comes first')
    parser.add_argument('--batch-size', type=positive_int, help="images per step (default: the notebook's batch_size)")
    parser.add_argument('--z-dim', type=positive_int, help="length of the noise vector z (default: the notebook's "
                                                           'z_dim)')
    parser.add_argument('--learning-rate', type=positive_float,
                        help="Adam learning rate for both networks (default: the notebook's learning_rate)")
    parser.add_argument('--beta1', type=fraction, help="Adam's beta1 for both networks (default: the notebook's beta1)")
    parser.add_argument('--update-order', choices=CHOICES['update_order'], default=None,
                        help='simultaneous: both updates from one forward pass, one session.run a step; '
                             "alternating: two session.run calls, the generator's through the updated "
                             "discriminator, as in the article's repository" + _default('update_order'))
    parser.add_argument('--seed', type=seed, default=None,
                        help='seed of the data order, z and the initial weights' + _default('seed'))


def _add_output_arguments(parser):
    """Add the flags of what a run leaves: its folder, grids, checkpoints, scores, TensorBoard; its precision."""
    parser.add_argument('--output-dir', type=tensorflow_path, default=None,
                        help="folder for the run's grids, losses, plots and checkpoints (default: output/DATASET)")
    parser.add_argument('--resume', action='store_true',
                        help='continue the run in --output-dir from its newest checkpoint: same step, optimizer '
                             'state, averaged generator and sample z')
    parser.add_argument('--restart', action='store_true',
                        help='start over in an --output-dir that holds a run: its files are moved aside into '
                             '{}/previous-runs/ (the newest {} kept)'.format('OUTPUT_DIR', DEFAULTS['keep_previous']))
    parser.add_argument('--show-every', type=positive_int, default=None,
                        help='save a grid of samples from the fixed z every this many steps' + _default('show_every'))
    parser.add_argument('--save-every', type=positive_int, default=None,
                        help='save a checkpoint in OUTPUT_DIR/checkpoints every this many steps (and at the end)' +
                             _default('save_every'))
    parser.add_argument('--keep-checkpoints', type=positive_int, default=None,
                        help='keep this many of the newest checkpoints, across --resume' + _default('keep_checkpoints'))
    parser.add_argument('--eval-every', type=int_in(0), default=None,
                        help='score the samples with the sliced Wasserstein distance every this many steps '
                             '(0: never)' + _default('eval_every'))
    parser.add_argument('--eval-images', type=positive_int, default=None,
                        help='held-out real images (not trained on) and generated images per score' +
                             _default('eval_images'))
    parser.add_argument('--logdir', type=tensorflow_path, default=None,
                        help='write TensorBoard event files here (losses, grids, scores)')
    parser.add_argument('--precision', choices=CHOICES['precision'], default=None,
                        help='bfloat16: convolutions in bfloat16, variables in float32 (faster on a CPU with AMX or '
                             'AVX512_BF16; slower without); auto: bfloat16 where the CPU has either, else float32' +
                             _default('precision'))
    parser.add_argument('--average-decay', type=fraction, default=None,
                        help="keep an average of the generator's weights with this decay per step, and draw the "
                             'grids and scores from it (0: none; docs/averaging.md: 0.995 drew better faces at 600 '
                             'steps, not at 1,200)' + _default('average_decay'))
    parser.add_argument('--raw-weights', action='store_true', default=None,
                        help="draw the grids and scores from the generator's own weights, not their average")


def build_generate_parser():
    """:return: The parser of `dlnd_face_generation.py generate`"""
    parser = OneLineParser(prog='dlnd_face_generation.py generate',
                           description='Draw new faces from a trained generator (inference mode).')
    parser.add_argument('--checkpoint', type=tensorflow_path, required=True,
                        help="a run's --output-dir (its newest checkpoint is used), or a checkpoint path")
    parser.add_argument('--n', type=positive_int, default=None,
                        help='how many faces (face_NNN.png, each with its z in face_NNN.npy; default 10); grid.png '
                             'shows the first 100')
    parser.add_argument('--z', action='append', metavar='FILE',
                        help='draw the faces of these saved z (a face_NNN.npy; repeat for more) rather than random '
                             'ones; with --walk, start the walk at them')
    parser.add_argument('--walk', type=int_in(2), metavar='K',
                        help='walk through K z (random ones after any --z), each slerped into the next in 8 steps '
                             'and the last back to the first: walk.png (a row a leg), walk.gif and walk_z.npy')
    parser.add_argument('--seed', type=seed, default=0, help='seed for z: the same seed draws the same faces '
                                                            '(default: 0)')
    parser.add_argument('--output-dir', type=path, default=None,
                        help='folder for the PNGs (default: CHECKPOINT/generated)')
    add_drawing_arguments(parser)
    return parser


def build_evaluate_parser():
    """:return: The parser of `dlnd_face_generation.py evaluate`"""
    parser = OneLineParser(prog='dlnd_face_generation.py evaluate',
                           description='Print the sliced Wasserstein distance of a saved generator against '
                                       'held-out real images, with the real-vs-real and untrained baselines.')
    parser.add_argument('--checkpoint', type=tensorflow_path, required=True,
                        help="a run's --output-dir, or a checkpoint path")
    add_data_arguments(parser, "the run's, from its run.json",
                       "the run's --data-dir, from its run.json; else the notebook's data_dir, ./data")
    parser.add_argument('--eval-images', type=positive_int, default=None,
                        help="images on each side (default: as many as the run held out, from its run.json; 256 if "
                             "it held none out)")
    parser.add_argument('--seed', type=seed, default=0, help='seed of z and of the metric (default: 0)')
    parser.add_argument('--nearest', action='store_true',
                        help='also check for memorisation: print how near generated and held-out real faces are to '
                             'the training images, and write nearest.png (generated faces beside their 3 nearest '
                             'training images)')
    parser.add_argument('--output-dir', type=path, default=None,
                        help="folder for nearest.png (default: the --checkpoint folder, or a checkpoint path's folder)")
    add_drawing_arguments(parser)
    return parser


PARSERS = {'train': build_parser, 'generate': build_generate_parser, 'evaluate': build_evaluate_parser}
