"""
The command line of dlnd_face_generation.py: its flags, and the `generate` and `evaluate`
commands. Kept out of the notebook's cells, which hold the model; everything here takes the
notebook's functions from `model` (the module, or the notebook kernel's namespace), so an edit to
a cell changes what the command line trains.

    python dlnd_face_generation.py [--dataset mnist|celeba|folder|synthetic] [flags]
    python dlnd_face_generation.py generate --checkpoint OUTPUT_DIR --n 10
    python dlnd_face_generation.py evaluate --checkpoint OUTPUT_DIR
"""
import argparse
import importlib
import math
import os
import random
import sys

import numpy as np

import helper
import run_tools
import sliced_wasserstein

tf = helper.import_tensorflow()

MAX_SEED = 2 ** 32 - 1  # numpy's seeds are 32-bit
GENERATE_BATCH = 256  # generate draws and writes this many faces at a time: memory does not grow with --n
GRID_FACES = 100  # generate's grid.png shows the first this many faces


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
    """Show defaults, except where there is none to show (None, or an off switch)."""

    def _get_help_string(self, action):
        if action.default is None or action.default is False:
            return action.help
        return super()._get_help_string(action)


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line and exit with code 2."""

    def error(self, message):
        self.exit(2, '{}: error: {} (see --help)\n'.format(self.prog, message))


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


def build_parser(model):
    """
    :param model: The notebook's module: its hyperparameter cell gives the defaults
    :return: The command-line parser of training
    """
    parser = OneLineParser(
        prog='dlnd_face_generation.py',
        description='Train the face-generation DCGAN (Udacity DLND project) in TF1 graph style.',
        formatter_class=_HelpFormatter,
        epilog='To draw faces from a trained run: %(prog)s generate --checkpoint OUTPUT_DIR --n 10; to score '
               'it: %(prog)s evaluate --checkpoint OUTPUT_DIR (each has --help). Ctrl-C (or SIGTERM) saves a '
               'checkpoint; --resume continues.')
    add_data_arguments(parser)
    parser.add_argument('--epochs', type=_positive_int, default=None,
                        help='passes over the data (default: {}; with --max-steps alone, as many as its steps '
                             'take)'.format(', '.join('{} {}'.format(k, v) for k, v in model.epochs.items())))
    parser.add_argument('--max-steps', type=_positive_int, default=None,
                        help='train this many steps in all; with --epochs too, stop at whichever comes first')
    parser.add_argument('--batch-size', type=_positive_int, default=model.batch_size, help='images per step')
    parser.add_argument('--z-dim', type=_positive_int, default=model.z_dim, help='length of the noise vector z')
    parser.add_argument('--learning-rate', type=_positive_float, default=model.learning_rate,
                        help='Adam learning rate for both networks')
    parser.add_argument('--beta1', type=_beta1, default=model.beta1, help="Adam's beta1 for both networks")
    parser.add_argument('--update-order', choices=['simultaneous', 'alternating'], default='simultaneous',
                        help='simultaneous: both updates from one forward pass, one session.run a step; '
                             "alternating: the Udacity template's two runs, the generator's through the "
                             'updated discriminator (about 1.3x slower)')
    parser.add_argument('--output-dir', default='./output',
                        help='folder for the grids, losses, plots and checkpoints of this run')
    parser.add_argument('--seed', type=_seed, default=0,
                        help='seed for numpy, the data order, the synthetic faces and TensorFlow')
    parser.add_argument('--show-every', type=_positive_int, default=100,
                        help='save a grid of samples from the fixed z every this many steps')
    parser.add_argument('--save-every', type=_positive_int, default=500,
                        help='save a checkpoint in OUTPUT_DIR/checkpoints every this many steps (and at the end)')
    parser.add_argument('--keep-checkpoints', type=_positive_int, default=run_tools.KEEP_CHECKPOINTS,
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
    return parser


def build_generate_parser():
    """
    :return: The parser of `dlnd_face_generation.py generate`
    """
    parser = OneLineParser(prog='dlnd_face_generation.py generate',
                           description='Draw new faces from a trained generator (inference mode).',
                           formatter_class=_HelpFormatter)
    parser.add_argument('--checkpoint', required=True,
                        help="a run's --output-dir (its newest checkpoint is used), or a checkpoint path")
    parser.add_argument('--n', type=_positive_int, default=10,
                        help='how many faces (face_NNN.png); grid.png shows the first {}'.format(GRID_FACES))
    parser.add_argument('--seed', type=_seed, default=0, help='seed for z: the same seed draws the same faces')
    parser.add_argument('--output-dir', default=None, help='folder for the PNGs (default: CHECKPOINT/generated)')
    parser.add_argument('--channels', type=int, choices=[1, 3], default=None,
                        help="expected channels (default: the checkpoint's)")
    parser.add_argument('--z-dim', type=_positive_int, default=None, help="expected z length (default: the checkpoint's)")
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
    return parser


def main(argv=None, model=None):
    """
    Train on the dataset the command line names, or `generate` or `evaluate` from a checkpoint
    :param argv: Command-line arguments (None: sys.argv)
    :param model: The notebook's functions: its module, or the kernel's namespace (None: import it)
    :return: Process exit code
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    model = model or importlib.import_module('dlnd_face_generation')
    try:
        # Until training's loop takes them over, kill and a closing terminal stop as Ctrl-C does
        with run_tools.signals_as_keyboard_interrupt():
            if argv[:1] == ['generate']:
                return _generate_main(argv[1:], model)
            if argv[:1] == ['evaluate']:
                return _evaluate_main(argv[1:], model)
            return _train_main(argv, model)
    except (helper.DatasetError, run_tools.TrainingStopped) as err:
        print('error: {}'.format(err), file=sys.stderr)
        return getattr(err, 'exit_code', 1)
    except KeyboardInterrupt:  # outside training's steps: no step was under way, so nothing to save
        print(helper.INTERRUPTED, file=sys.stderr)
        return 130


def set_seeds(seed):
    """
    Seed numpy, Python's random (tf-keras draws its initializers' seeds from it) and the graph
    :param seed: The seed; call inside the graph's `with` block
    """
    np.random.seed(seed)
    random.seed(seed)
    tf.set_random_seed(seed)


def _train_main(argv, model):
    """Training: parse, get the data, train. :return: exit code"""
    parser = build_parser(model)
    args = parser.parse_args(argv)
    run_tools.check_writable(args.output_dir)
    if args.logdir:
        run_tools.check_writable(args.logdir)
    np.random.seed(args.seed)
    dataset = load_dataset(args, model)
    tracker = None
    if args.eval_every and dataset.shape[0] >= 2 * args.eval_images + args.batch_size:
        tracker = make_tracker(dataset, args.eval_images, args.seed)
    elif args.eval_every:
        print('note: no sample-quality scores: they need {} images or more (2 x --eval-images + a batch)'
              .format(2 * args.eval_images + args.batch_size))
    if args.batch_size > dataset.shape[0]:
        parser.error('--batch-size {} is larger than the {} images in {}'
                     .format(args.batch_size, dataset.shape[0], args.dataset))
    print('Real images: {}'.format(model.save_real_grid(dataset, args.output_dir)))

    model.check_tensorflow()
    options = run_tools.RunOptions(
        output_dir=args.output_dir, max_steps=args.max_steps, save_every=args.save_every, resume=args.resume,
        logdir=args.logdir, tracker=tracker, eval_every=args.eval_every, precision=_precision(args.precision),
        update_order=args.update_order, keep_checkpoints=args.keep_checkpoints)
    with tf.Graph().as_default():
        set_seeds(args.seed)
        model.train(_epochs(args, model, dataset.shape[0]), args.batch_size, args.z_dim, args.learning_rate,
                    args.beta1, dataset.get_batches, dataset.shape, dataset.image_mode,
                    show_every=args.show_every, options=options)
    return 0


def _epochs(args, model, image_count):
    """:return: --epochs; with --max-steps alone, the epochs its steps take; else the dataset's default"""
    if args.epochs:
        return args.epochs
    if args.max_steps:
        return math.ceil(args.max_steps / (image_count // args.batch_size))
    return model.epochs[args.dataset]


def _precision(choice):
    """:return: 'float32' or 'bfloat16' for --precision's choice, saying which when it was auto"""
    if choice != 'auto':
        return choice
    support = run_tools.cpu_bfloat16_support()
    precision = 'bfloat16' if support else 'float32'
    print('Precision: {} (--precision auto: {})'.format(
        precision, 'the CPU has ' + support if support else 'the CPU has neither AMX_BF16 nor AVX512_BF16'))
    return precision


def load_dataset(args, model):
    """
    Get the data the command line names, as a helper.Dataset
    :return: The Dataset
    """
    data_files = model.get_data_files(args.dataset, args.data_dir, args.seed)
    image_mode = {1: 'L', 3: 'RGB'}[args.channels] if args.dataset == 'folder' else None
    return helper.Dataset(args.dataset, data_files, seed=args.seed, image_mode=image_mode)


def make_tracker(dataset, eval_images, seed):
    """
    Hold the dataset's last eval_images out of training and set up the metric on them
    :return: sliced_wasserstein.Tracker
    """
    held_out = dataset.hold_out(eval_images) / 127.5 - 1
    other_real = dataset.images(range(eval_images)) / 127.5 - 1  # training images: disjoint from held_out
    return sliced_wasserstein.Tracker(held_out, other_real, seed)


def _generate_main(argv, model):
    """`generate`: parse, draw, say where the images are. :return: exit code"""
    args = build_generate_parser().parse_args(argv)
    output_dir = args.output_dir or os.path.join(args.checkpoint, 'generated')
    faces, grid = generate(model, args.checkpoint, args.n, args.seed, output_dir, args.channels, args.z_dim)
    print('Wrote {} faces ({} ... {}) and {}'.format(len(faces), faces[0], os.path.basename(faces[-1]), grid))
    return 0


def _evaluate_main(argv, model):
    """`evaluate`: parse, score, print. :return: exit code"""
    parser = build_evaluate_parser()
    args = parser.parse_args(argv)
    dataset = load_dataset(args, model)
    if dataset.shape[0] < 2 * args.eval_images:
        parser.error('--eval-images {} needs at least {} images; {} has {}'.format(
            args.eval_images, 2 * args.eval_images, args.dataset, dataset.shape[0]))
    distance, floor, ceiling, closed = evaluate(model, args.checkpoint, dataset, args.eval_images, args.seed)
    print('SWD: {:.4f} (real vs real {:.4f}, untrained {:.4f}): {:.0%} of the gap closed'
          .format(distance, floor, ceiling, closed))
    return 0


def _generator_variables(model, z_dim, channels):
    """
    :return: {name: shape} of the variables model.generator makes for this z length and channel count
    """
    with tf.Graph().as_default():
        model.generator(tf.placeholder(tf.float32, (None, z_dim)), channels)
        return {var.op.name: var.shape.as_list() for var in tf.global_variables()}


def find_generator(model, checkpoint, channels=None, z_dim=None):
    """
    Find a checkpoint of a training run and the generator it holds
    :param model: The notebook's functions
    :param checkpoint: A run's output folder, its checkpoints folder, or a checkpoint path
    :param channels: Channels expected (None: the checkpoint's)
    :param z_dim: Length of z expected (None: the checkpoint's)
    :return: (checkpoint path, z length, channels)
    """
    path = run_tools.find_checkpoint(checkpoint, hint="train first, or point --checkpoint at a run's --output-dir")
    run_tools.check_variables(path, {'sample_z': None})  # the fixed z of every training run's grids
    saved = dict(tf.train.list_variables(path))
    found_z = saved['sample_z'][1]
    matching = [c for c in (1, 3) if all(saved.get(name) == shape for name, shape
                                         in _generator_variables(model, found_z, c).items())]
    if not matching:
        raise run_tools.TrainingStopped('{} holds no generator that this generator() can restore: was it trained '
                                        'with another version of the model?'.format(path))
    found_channels = matching[0]
    if (channels or found_channels) != found_channels or (z_dim or found_z) != found_z:
        raise run_tools.TrainingStopped('{} holds a generator for {} channel(s) and z of {}; asked for {} channel(s) '
                                        'and z of {}'.format(path, found_channels, found_z, channels or found_channels,
                                                             z_dim or found_z))
    return path, found_z, found_channels


def restorable_generator(model, z, channels):
    """
    In a fresh graph: the generator's variables, an inference-mode op on them, and a Saver to fill them
    :return: (tensor of generated images, Saver of the generator's variables)
    """
    model.generator(z, channels)  # the training-mode call creates the variables; inference mode reuses them
    images = model.generator(z, channels, is_train=False)
    return images, tf.train.Saver(var_list=tf.global_variables('generator'))


def generate(model, checkpoint, n, seed, output_dir, channels=None, z_dim=None):
    """
    Draw n images from a checkpoint's generator in inference mode, as the article's last step does
    (the checkpoint's batch-norm averages were recomputed from its weights when it was saved)
    :param model: The notebook's functions
    :param checkpoint: A run's output folder, its checkpoints folder, or a checkpoint path
    :param n: Number of images
    :param seed: Seed for z
    :param output_dir: Folder for face_NNN.png and grid.png
    :param channels: Channels expected (None: the checkpoint's)
    :param z_dim: Length of z expected (None: the checkpoint's)
    :return: (list of face paths, grid path)
    """
    path, found_z, found_channels = find_generator(model, checkpoint, channels, z_dim)
    run_tools.check_writable(output_dir)
    image_mode = 'L' if found_channels == 1 else 'RGB'
    with tf.Graph().as_default():
        set_seeds(seed)
        input_z = tf.placeholder(tf.float32, (None, found_z), name='input_z')
        images, saver = restorable_generator(model, input_z, found_channels)
        with tf.Session() as sess:
            saver.restore(sess, path)
            faces, shown = [], []
            for first in range(0, n, GENERATE_BATCH):  # z row by row: the same faces whatever the batch
                drawn = sess.run(images, {input_z: np.random.uniform(-1, 1, size=(min(GENERATE_BATCH, n - first),
                                                                                   found_z))})
                faces += run_tools.write_faces(drawn, output_dir, image_mode, first)
                shown += list(drawn[:GRID_FACES - len(shown)])
    return faces, run_tools.write_grid(np.array(shown), output_dir, image_mode)


def evaluate(model, checkpoint, dataset, eval_images=256, seed=0):
    """
    Score a checkpoint's generator with the sliced Wasserstein distance, next to its baselines
    :param model: The notebook's functions
    :param checkpoint: A run's output folder, its checkpoints folder, or a checkpoint path
    :param dataset: helper.Dataset of the run's data (its last eval_images are the held-out set)
    :param eval_images: Images on each side
    :param seed: Seed of z and of the metric
    :return: (SWD, real-vs-real floor, untrained ceiling, fraction of the gap closed)
    """
    path, found_z, found_channels = find_generator(model, checkpoint, dataset.shape[3])
    tracker = make_tracker(dataset, eval_images, seed)
    with tf.Graph().as_default():
        set_seeds(seed)
        z = tf.constant(np.random.uniform(-1, 1, size=(eval_images, found_z)), tf.float32)
        samples, saver = restorable_generator(model, z, found_channels)  # inference mode, as training scores
        calibrate = run_tools.build_batch_norm_calibration(model.generator, found_z, found_channels)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            sess.run(calibrate)  # the untrained generator, as training scores it at step 0: the ceiling
            tracker.score(sess.run(samples))
            saver.restore(sess, path)
            distance, closed = tracker.score(sess.run(samples))
    return distance, tracker.floor, tracker.ceiling, closed
