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
import os
import sys
import tempfile

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import dlnd_face_generation as dlnd  # noqa: E402  (after the path set-up)
import helper  # noqa: E402
from facegan import checkpoints, command_line, generation  # noqa: E402

tf = dlnd.tf


def parse_args():
    """:return: Parsed command line"""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--run', required=True, help="a training run's --output-dir")
    command_line.add_data_arguments(parser)
    parser.add_argument('--eval-images', type=int, default=256, help='held-out images, as the run had')
    parser.add_argument('--seed', type=int, default=0, help="the run's --seed")
    parser.add_argument('--n', type=int, default=500, help='faces generate draws')
    return parser.parse_args()


def model_scores(prefix, tracker, z_dim, channels, seed):
    """
    :return: (SWD with batch statistics, SWD in inference mode) of the checkpoint's generator
    """
    with tf.Graph().as_default():
        z = tf.constant(np.random.default_rng(seed).uniform(-1, 1, (len(tracker.held_out), z_dim)), tf.float32)
        inference, saver = generation.restorable_generator(dlnd.generator, z, channels)
        with tf.variable_scope(tf.get_variable_scope(), reuse=True):
            batch_stats = dlnd.generator(z, channels, is_train=True, keep_prob=1.0)
        with tf.Session() as sess:
            saver.restore(sess, prefix)
            batch_images, inference_images = sess.run([batch_stats, inference])
    return tracker.score(batch_images)[0], tracker.score(inference_images)[0]


def generate_score(prefix, tracker, n, seed):
    """:return: SWD of the first faces `generate --n n` writes, read back from their PNG files"""
    with tempfile.TemporaryDirectory() as folder:
        found = generation.find_generator(dlnd.generator, prefix)
        faces, _ = generation.generate(dlnd.generator, found, n, seed, folder)
        count = len(tracker.held_out)
        images = np.stack([np.asarray(Image.open(path), np.float32) for path in faces[:count]])
    return tracker.score(images.reshape(tracker.held_out.shape) / 127.5 - 1)[0]


def main():
    """Score every checkpoint of the run and print the table."""
    args = parse_args()
    args.channels = args.channels if args.dataset == 'folder' else 3
    image_mode = {1: 'L', 3: 'RGB'}[args.channels] if args.dataset == 'folder' else None
    dataset = helper.Dataset(args.dataset, dlnd.get_data_files(args.dataset, args.data_dir, args.seed), seed=args.seed,
                             image_mode=image_mode)
    tracker = generation.make_tracker(dataset, args.eval_images, args.seed)
    tracker.ceiling = 1.0  # unused: only distances are printed
    print('real vs real: {:.4f}\n'.format(tracker.floor))
    print('| step | batch statistics | inference mode | generate --n {} (PNG) | generate / batch statistics |'
          .format(args.n))
    print('|---|---|---|---|---|')
    for prefix in reversed(checkpoints.checkpoint_prefixes(os.path.join(args.run, checkpoints.CHECKPOINT_FOLDER))):
        _, z_dim, channels = generation.find_generator(dlnd.generator, prefix)
        batch_stats, inference = model_scores(prefix, tracker, z_dim, channels, args.seed)
        generated = generate_score(prefix, tracker, args.n, args.seed)
        print('| {} | {:.4f} | {:.4f} | {:.4f} | {:.2f} |'.format(
            prefix.rsplit('-', 1)[1], batch_stats, inference, generated, generated / batch_stats), flush=True)


if __name__ == '__main__':
    main()
