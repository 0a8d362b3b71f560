"""
Are generate's faces as good as the training grids? For each checkpoint of a training run, the
sliced Wasserstein distance (the project's metric; lower is better) against the run's held-out real
images of:

- batch statistics: the generator in training mode without dropout on the scoring batch, so batch
  norm uses that batch's own statistics (what the grids used before batch norm was calibrated);
- inference mode: the generator as generate and the grids run it, with the checkpoint's calibrated
  batch-norm averages;
- generate's faces: `generate --n 500` run on the checkpoint, its PNG files read back (the first
  as many as are held out).

    python benchmarks/generate_quality.py --run /tmp/uo/default-simultaneous-seed0 --data-dir /tmp/uo/data
    python benchmarks/generate_quality.py --run RUN --dataset folder --data-dir CELEBA_COPY
"""
import argparse
import glob
import os
import sys
import tempfile

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from facegan.core import environment  # noqa: E402  (after the path set-up)

tf = environment.load_tensorflow()  # prepare()d first (tf.layers on tf-keras), without TensorFlow's C++ notes
import dlnd_face_generation as dlnd  # noqa: E402  (after TensorFlow's set-up)
import helper  # noqa: E402
from facegan.app import command_line, generating, parsing  # noqa: E402
from facegan.graph import checkpoint_files  # noqa: E402
from facegan.graph.learner_code import call_generator  # noqa: E402
from facegan.inspect import checks, drawing, generator_session, restore  # noqa: E402


def parse_args():
    """:return: Parsed command line"""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--run', required=True, help="a training run's --output-dir")
    parsing.add_data_arguments(parser, 'synthetic')
    parser.set_defaults(dataset='synthetic', data_dir='./data')  # the script's defaults
    parser.add_argument('--eval-images', type=int, default=256, help='held-out images, as the run had')
    parser.add_argument('--seed', type=int, default=0, help="the run's --seed")
    parser.add_argument('--n', type=int, default=500, help='faces generate draws')
    return parser.parse_args()


def data_files(args):
    """:return: The image files of the run's dataset, as the script's cells list them (downloaded, or drawn)"""
    if args.dataset == 'mnist':
        helper.download_extract('mnist', args.data_dir)
        return glob.glob(os.path.join(args.data_dir, 'mnist/*.jpg'))
    if args.dataset == 'celeba':
        helper.download_extract('celeba', args.data_dir)
    return command_line.Flags('evaluate', args).face_files(args.data_dir)


def checkpoint_prefixes(folder):
    """:return: The path prefixes of the checkpoints in a folder, by their .index files, the highest step first"""
    found = checkpoint_files.files_by_checkpoint(folder)
    complete = [(step, name) for (name, step), files in found.items() if '{}-{}.index'.format(name, step) in files]
    return [os.path.join(folder, '{}-{}'.format(name, step)) for step, name in sorted(complete, reverse=True)]


def model_scores(prefix, tracker, z_dim, channels, seed):
    """
    :return: (SWD with batch statistics, SWD in inference mode) of the checkpoint's generator
    """
    with tf.Graph().as_default():
        z = tf.constant(np.random.default_rng(seed).uniform(-1, 1, (len(tracker.held_out), z_dim)), tf.float32)
        # The training-mode call creates the variables; inference mode reuses them
        call_generator(dlnd.generator, z, channels, 'to create its variables', is_train=True)
        inference = call_generator(dlnd.generator, z, channels, 'to draw faces', is_train=False)
        saver = tf.train.Saver(var_list=tf.global_variables('generator'))
        with tf.variable_scope(tf.get_variable_scope(), reuse=True):
            batch_stats = dlnd.generator(z, channels, is_train=True, keep_prob=1.0)
        with tf.Session() as sess:
            saver.restore(sess, prefix)
            batch_images, inference_images = sess.run([batch_stats, inference])
    return tracker.score(batch_images)[0], tracker.score(inference_images)[0]


def generate_score(prefix, tracker, n, seed):
    """:return: SWD of the first faces `generate --n n` writes, read back from their PNG files"""
    with tempfile.TemporaryDirectory() as folder:
        saved = restore.find_run(dlnd.generator, prefix, generating.HINT)
        with generator_session.drawing(dlnd.generator, saved, seed) as draw:  # as generate draws them
            z = np.random.uniform(-1, 1, size=(n, saved.z_dim)).astype(np.float32)
            faces, _ = drawing.generate(draw, saved, z, folder)
        count = len(tracker.held_out)
        images = np.stack([np.asarray(Image.open(path), np.float32) for path in faces[:count]])
    return tracker.score(images.reshape(tracker.held_out.shape) / 127.5 - 1)[0]


def main():
    """Score every checkpoint of the run and print the table."""
    args = parse_args()
    args.channels = args.channels if args.dataset == 'folder' else 3
    image_mode = {1: 'L', 3: 'RGB'}[args.channels] if args.dataset == 'folder' else None
    dataset = helper.Dataset(args.dataset, data_files(args), seed=args.seed, image_mode=image_mode)
    tracker = checks.tracker(dataset, args.eval_images, args.seed)
    tracker.ceiling = 1.0  # unused: only distances are printed
    print('real vs real: {:.4f}\n'.format(tracker.floor))
    print('| step | batch statistics | inference mode | generate --n {} (PNG) | generate / batch statistics |'
          .format(args.n))
    print('|---|---|---|---|---|')
    for prefix in reversed(checkpoint_prefixes(os.path.join(args.run, checkpoint_files.CHECKPOINT_FOLDER))):
        saved = restore.find_run(dlnd.generator, prefix, generating.HINT)
        z_dim, channels = saved.z_dim, saved.channels
        batch_stats, inference = model_scores(prefix, tracker, z_dim, channels, args.seed)
        generated = generate_score(prefix, tracker, args.n, args.seed)
        print('| {} | {:.4f} | {:.4f} | {:.4f} | {:.2f} |'.format(
            prefix.rsplit('-', 1)[1], batch_stats, inference, generated, generated / batch_stats), flush=True)


if __name__ == '__main__':
    main()
