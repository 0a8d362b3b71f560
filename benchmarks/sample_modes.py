"""
How should a short run draw its samples? Train the article's model and, every --report-every
steps, draw 64 samples from a fixed z in three ways:

- inference: generator(is_train=False): no dropout, batch norm with the moving averages
- batch-stats: what train() shows (build_sampler): no dropout, each batch's own statistics
- training: the training op itself: dropout on, batch statistics

For each it prints the diversity (mean over pixels of the standard deviation across samples; the
real images' value is printed at the end), the mean-image distance (mean absolute difference
between the samples' mean image and held-out real images' mean image, in [-1, 1] units) and, with
--swd, the sliced Wasserstein distance to 256 held-out real images, and saves a 5x5 grid per mode.
Used for the README's tables:

    python benchmarks/sample_modes.py                     # synthetic faces, the default run's settings
    python benchmarks/sample_modes.py --dataset-dir DIR --mode L --batch-size 64 \
        --learning-rate 0.0002 --steps 200 --report-every 50  # DIR: MNIST digits as PNGs
"""
import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import dlnd_face_generation as dlnd  # noqa: E402  (after the path set-up)
import helper  # noqa: E402
import sliced_wasserstein  # noqa: E402

tf = dlnd.tf


def parse_args():
    """:return: Parsed command line"""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--dataset-dir', default=None, help='folder of images (default: synthetic faces)')
    parser.add_argument('--mode', choices=['RGB', 'L'], default='RGB')
    parser.add_argument('--data-dir', default='./data', help='where the synthetic faces are drawn')
    parser.add_argument('--steps', type=int, default=600)
    parser.add_argument('--batch-size', type=int, default=16)
    parser.add_argument('--learning-rate', type=float, default=0.0005)
    parser.add_argument('--beta1', type=float, default=0.5)
    parser.add_argument('--report-every', type=int, default=100)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--output-dir', default='./output/sample_modes')
    parser.add_argument('--swd', action='store_true', help='also score each mode with the SWD (256 samples)')
    return parser.parse_args()


def diversity_and_distance(images, real):
    """
    :param images: Samples in [-1, 1]
    :param real: Held-out real images in [-1, 1]
    :return: (mean per-pixel std across images, mean |mean image - real mean image|)
    """
    return float(images.std(axis=0).mean()), float(np.abs(images.mean(axis=0) - real.mean(axis=0)).mean())


def main():
    """Train and report."""
    args = parse_args()
    if args.dataset_dir:
        folder = args.dataset_dir
    else:
        folder = helper.make_synthetic_faces(args.data_dir, dlnd.SYNTHETIC_FACES, args.seed)
    dataset = helper.Dataset('mnist' if args.mode == 'L' else 'celeba', helper.list_image_files(folder),
                             seed=args.seed)
    real = dataset.hold_out(256) / 127.5 - 1  # the same split training uses for its scores
    channels = dataset.shape[3]
    os.makedirs(args.output_dir, exist_ok=True)
    with tf.Graph().as_default():
        dlnd.set_seeds(args.seed)  # numpy, Python's random (tf-keras initializers) and the graph
        input_real, input_z, lr = dlnd.model_inputs(28, 28, channels, 100)
        d_loss, g_loss = dlnd.model_loss(input_real, input_z, channels)
        d_opt, g_opt = dlnd.model_opt(d_loss, g_loss, lr, args.beta1)
        modes = {'inference': dlnd.generator(input_z, channels, is_train=False),
                 'batch-stats': dlnd.build_sampler(input_z, channels),
                 'training': tf.get_default_graph().get_tensor_by_name('generator/Tanh:0')}
        fixed_z = np.random.uniform(-1, 1, (256 if args.swd else 64, 100))
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            step, start = 0, time.time()
            print('step  seconds  ' + '  '.join('{:>22}'.format(name + ' div/dist') for name in modes))

            def report():
                cells = []
                for name, op in modes.items():
                    images = sess.run(op, {input_z: fixed_z})
                    helper.images_square_grid(images[:25], args.mode).save(
                        os.path.join(args.output_dir, '{}_{:05d}.png'.format(name, step)))
                    cells.append('{:>11.3f}/{:<10.3f}'.format(*diversity_and_distance(images[:64], real)))
                    if args.swd:
                        cells[-1] += ' swd {:.4f}'.format(sliced_wasserstein.sliced_wasserstein(real, images))
                print('{:>4}  {:>7.0f}  {}'.format(step, time.time() - start, '  '.join(cells)), flush=True)

            report()
            while step < args.steps:
                for batch in dataset.get_batches(args.batch_size):
                    step += 1
                    z = np.random.uniform(-1, 1, (args.batch_size, 100))
                    feed = {input_real: batch * 2, input_z: z, lr: args.learning_rate}
                    sess.run(d_opt, feed)
                    sess.run(g_opt, feed)
                    if step % args.report_every == 0:
                        report()
                    if step >= args.steps:
                        break
    print('real images: diversity {:.3f}, distance between two real halves {:.3f}'.format(
        real.std(axis=0).mean(), diversity_and_distance(real[:128], real[128:])[1]))


if __name__ == '__main__':
    main()
