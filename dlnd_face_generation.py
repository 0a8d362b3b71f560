"""
Face Generation: a DCGAN trained on MNIST and CelebA at 28x28, in TensorFlow 1 graph style.

The Udacity deep-learning project (written up as "Celebrity face generation using GANs,
TensorFlow implementation"), as a script laid out in the notebook's cells. Run it:

    python dlnd_face_generation.py                      # synthetic faces, no download, ~3 min on CPU
    python dlnd_face_generation.py --dataset mnist      # then --dataset celeba, as the notebook did

or step through the `# %%` cells in an editor that runs them (VS Code, Jupyter, Spyder).
"""
import argparse
import os
import sys

import numpy as np

import helper

tf = helper.import_tensorflow()  # tensorflow.compat.v1, with tf-keras behind tf.layers


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


def _positive_int(text):
    """:param text: Command-line value :return: It as an int, if it is at least 1"""
    value = _number(text, int, 'a whole number')
    if value < 1:
        raise argparse.ArgumentTypeError('must be at least 1, got {}'.format(value))
    return value


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


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line and exit with code 2."""

    def error(self, message):
        self.exit(2, '{}: error: {} (see --help)\n'.format(self.prog, message))


def build_parser():
    """
    :return: The command-line parser
    """
    parser = OneLineParser(
        description='Train the face-generation DCGAN (Udacity DLND project) in TF1 graph style.',
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('--dataset', choices=['synthetic', 'mnist', 'celeba', 'folder'], default='synthetic',
                        help='synthetic: drawn faces made on first use, no download; mnist and '
                             'celeba are downloaded into --data-dir; folder: every jpg, jpeg and png '
                             'under --data-dir')
    parser.add_argument('--data-dir', default='./data',
                        help='folder for datasets; with --dataset folder, the folder of images')
    parser.add_argument('--channels', type=int, choices=[1, 3], default=3,
                        help='with --dataset folder: 1 trains on grayscale, 3 on colour')
    parser.add_argument('--epochs', type=_positive_int, default=None,
                        help='passes over the data (default: 1, or 2 for mnist as in the notebook)')
    parser.add_argument('--batch-size', type=_positive_int, default=16,
                        help='images per step (16 learned faster per second than 64 on a CPU: see the README)')
    parser.add_argument('--z-dim', type=_positive_int, default=100, help='length of the noise vector z')
    parser.add_argument('--learning-rate', type=_positive_float, default=0.0005,
                        help="Adam learning rate for both networks (0.0005 learned faster than the DCGAN "
                             "paper's 0.0002: see the README)")
    parser.add_argument('--beta1', type=_beta1, default=0.5, help="Adam's beta1 for both networks")
    parser.add_argument('--max-steps', type=_positive_int, default=None,
                        help='stop after this many steps (default: run every epoch to the end)')
    parser.add_argument('--output-dir', default='./output', help='folder for sample grids')
    parser.add_argument('--seed', type=int, default=0,
                        help='seed for numpy, the data order, the synthetic faces and TensorFlow')
    return parser


# %% [markdown]
# # Face Generation
# Generative adversarial networks generate new images of faces. First a run on MNIST shows the
# network trains, then CelebA. With no network at hand, the synthetic dataset stands in for
# CelebA: drawn faces of the same size, cropped and resized by the same code.
#
# ## Get the Data

# %%
SYNTHETIC_FACES = 9600  # 600 steps per epoch at batch 16: about 3 minutes on 2 CPU cores


def get_data_files(dataset, data_dir, seed):
    """
    Download (or draw) a dataset and list its image files
    :param dataset: 'synthetic', 'mnist', 'celeba' or 'folder'
    :param data_dir: Folder for datasets; for 'folder', the folder of images itself
    :param seed: Seed of the synthetic faces
    :return: Sorted list of image paths
    """
    if dataset == 'synthetic':
        folder = helper.make_synthetic_faces(data_dir, SYNTHETIC_FACES, seed)
    elif dataset == 'folder':
        if not os.path.isdir(data_dir):
            raise helper.DatasetError('--data-dir {} is not a folder: point it at a folder of images'
                                      .format(data_dir))
        folder = data_dir
    else:
        helper.download_extract(dataset, data_dir)
        folder = os.path.join(data_dir, helper.DATASETS[dataset]['folder'])
    return helper.list_image_files(folder)


# %% [markdown]
# ## Explore the Data
# MNIST's images are 28x28 grayscale digits. CelebA's are 178x218 colour photos; get_image crops
# the centre 108x108 (the face) and resizes it to 28x28.

# %%
def save_real_grid(dataset, output_dir, show_n_images=25):
    """
    Save a 5x5 grid of real images, as the notebook's "Explore the Data" cell showed
    :param dataset: helper.Dataset
    :param output_dir: Folder for the PNG
    :param show_n_images: How many images to put in the grid
    :return: Path of the PNG
    """
    images = dataset.images(range(min(show_n_images, dataset.shape[0])))
    path = os.path.join(output_dir, 'real_images.png')
    helper.images_square_grid(images, dataset.image_mode).save(path)
    return path


# %% [markdown]
# ## Check the Version of TensorFlow and Access to GPU

# %%
def check_tensorflow():
    """
    Print the TensorFlow version and whether a GPU is visible
    :return: True when a GPU is visible
    """
    version = tuple(int(part) for part in tf.__version__.split('.')[:2])
    assert version >= (2, 16), 'Please use TensorFlow 2.16 or newer, found {}'.format(tf.__version__)
    print('TensorFlow Version: {}'.format(tf.__version__))
    gpus = tf.config.list_physical_devices('GPU')
    if gpus:
        print('Default GPU Device: {}'.format(gpus[0].name))
    else:
        print('No GPU found. Training runs on the CPU: about 50 images/s on 2 cores.')
    return bool(gpus)


# %% [markdown]
# ## Build the Neural Network
# ### Input

# %%
def model_inputs(image_width, image_height, image_channels, z_dim):
    """
    Create the model inputs
    :param image_width: The input image width
    :param image_height: The input image height
    :param image_channels: The number of image channels
    :param z_dim: The dimension of Z
    :return: Tuple of (tensor of real input images, tensor of z data, learning rate)
    """
    input_real = tf.placeholder(tf.float32, (None, image_width, image_height, image_channels),
                                name='input_real')
    input_z = tf.placeholder(tf.float32, (None, z_dim), name='input_z')
    learning_rate = tf.placeholder(tf.float32, name='learning_rate')
    return input_real, input_z, learning_rate


# %% [markdown]
# ### Discriminator
# Three strided convolutions, leaky ReLU, batch norm on all but the first, then one logit.

# %%
LEAKY_ALPHA = 0.2


def discriminator(images, reuse=False):
    """
    Create the discriminator network
    :param images: Tensor of input image(s), 28x28xC in [-1, 1]
    :param reuse: Boolean if the weights should be reused
    :return: Tuple of (tensor output of the discriminator, tensor logits of the discriminator)
    """
    with tf.variable_scope('discriminator', reuse=reuse):
        x = tf.layers.conv2d(images, 64, 5, strides=2, padding='same',
                             kernel_initializer=tf.glorot_uniform_initializer())
        x = tf.nn.leaky_relu(x, alpha=LEAKY_ALPHA)
        # 14x14x64
        x = tf.layers.conv2d(x, 128, 5, strides=2, padding='same', use_bias=False)
        # Batch statistics: the discriminator only ever runs in training (the article never
        # passed `training`, so its batch norm used frozen statistics and normalised nothing)
        x = tf.layers.batch_normalization(x, training=True)
        x = tf.nn.leaky_relu(x, alpha=LEAKY_ALPHA)
        # 7x7x128
        x = tf.layers.conv2d(x, 256, 5, strides=2, padding='same', use_bias=False)
        x = tf.layers.batch_normalization(x, training=True)
        x = tf.nn.leaky_relu(x, alpha=LEAKY_ALPHA)
        # 4x4x256
        flat = tf.reshape(x, (-1, 4 * 4 * 256))
        logits = tf.layers.dense(flat, 1)
        # 1
        return tf.sigmoid(logits), logits


# %% [markdown]
# ### Generator
# A dense projection to 4x4x1024, then transposed convolutions up to 28x28xC with tanh.

# %%
KEEP_PROB = 0.5


def _generator_batch_norm(x, is_train, batch_stats):
    """
    Batch norm for the generator: training statistics, moving averages, or sample statistics
    :param x: Tensor to normalise
    :param is_train: Training: batch statistics, and the moving averages are updated
    :param batch_stats: When not training, normalise with this batch's own statistics
    :return: Normalised tensor
    """
    if is_train or not batch_stats:
        return tf.layers.batch_normalization(x, training=is_train)
    # Sampling with batch statistics must not move the averages that training keeps, so the
    # update ops this call registers are taken back out of UPDATE_OPS.
    update_ops = tf.get_collection_ref(tf.GraphKeys.UPDATE_OPS)
    registered = len(update_ops)
    x = tf.layers.batch_normalization(x, training=True)
    del update_ops[registered:]
    return x


def generator(z, out_channel_dim, is_train=True, batch_stats=False):
    """
    Create the generator network
    :param z: Input z
    :param out_channel_dim: The number of channels in the output image
    :param is_train: Boolean if generator is being used for training
    :param batch_stats: When not training, normalise with the batch's own statistics instead of
                        the moving averages (what show_generator_output uses; see the README)
    :return: The tensor output of the generator, 28x28xout_channel_dim in [-1, 1]
    """
    dropout_rate = 1 - KEEP_PROB
    with tf.variable_scope('generator', reuse=not is_train):
        x = tf.layers.dense(z, 4 * 4 * 1024, use_bias=False)
        x = tf.reshape(x, (-1, 4, 4, 1024))
        x = _generator_batch_norm(x, is_train, batch_stats)
        x = tf.nn.leaky_relu(x, alpha=LEAKY_ALPHA)
        x = tf.layers.dropout(x, rate=dropout_rate, training=is_train)
        # 4x4x1024
        x = tf.layers.conv2d_transpose(x, 512, 4, strides=1, padding='valid')
        x = _generator_batch_norm(x, is_train, batch_stats)
        x = tf.nn.leaky_relu(x, alpha=LEAKY_ALPHA)
        x = tf.layers.dropout(x, rate=dropout_rate, training=is_train)
        # 7x7x512
        x = tf.layers.conv2d_transpose(x, 256, 5, strides=2, padding='same')
        x = _generator_batch_norm(x, is_train, batch_stats)
        x = tf.nn.leaky_relu(x, alpha=LEAKY_ALPHA)
        x = tf.layers.dropout(x, rate=dropout_rate, training=is_train)
        # 14x14x256
        logits = tf.layers.conv2d_transpose(x, out_channel_dim, 5, strides=2, padding='same')
        # 28x28xout_channel_dim
        return tf.tanh(logits)


# %% [markdown]
# ### Loss
# Sigmoid cross-entropy; the real images' labels are smoothed from 1 to 0.9 so the discriminator
# does not grow over-confident.

# %%
LABEL_SMOOTHING = 0.1


def model_loss(input_real, input_z, out_channel_dim):
    """
    Get the loss for the discriminator and generator
    :param input_real: Images from the real dataset
    :param input_z: Z input
    :param out_channel_dim: The number of channels in the output image
    :return: A tuple of (discriminator loss, generator loss)
    """
    g_model = generator(input_z, out_channel_dim)
    d_model_real, d_logits_real = discriminator(input_real)
    d_model_fake, d_logits_fake = discriminator(g_model, reuse=True)

    d_loss_real = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(
        logits=d_logits_real, labels=tf.ones_like(d_model_real) * (1 - LABEL_SMOOTHING)))
    d_loss_fake = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(
        logits=d_logits_fake, labels=tf.zeros_like(d_model_fake)))
    g_loss = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(
        logits=d_logits_fake, labels=tf.ones_like(d_model_fake)))

    return d_loss_real + d_loss_fake, g_loss


# %% [markdown]
# ### Optimization
# Two Adam optimizers, each over its own network's variables. The batch-norm moving averages
# are updated with every step (the UPDATE_OPS dependency).

# %%
def model_opt(d_loss, g_loss, learning_rate, beta1):
    """
    Get optimization operations
    :param d_loss: Discriminator loss Tensor
    :param g_loss: Generator loss Tensor
    :param learning_rate: Learning Rate Placeholder
    :param beta1: The exponential decay rate for the 1st moment in the optimizer
    :return: A tuple of (discriminator training operation, generator training operation)
    """
    t_vars = tf.trainable_variables()
    d_vars = [var for var in t_vars if var.name.startswith('discriminator/')]
    g_vars = [var for var in t_vars if var.name.startswith('generator/')]

    with tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS)):
        d_train_opt = tf.train.AdamOptimizer(learning_rate, beta1=beta1).minimize(d_loss, var_list=d_vars)
        g_train_opt = tf.train.AdamOptimizer(learning_rate, beta1=beta1).minimize(g_loss, var_list=g_vars)

    return d_train_opt, g_train_opt


# %% [markdown]
# ## Neural Network Training
# ### Show Output
# The sampling op is built once, before training, so the graph does not grow with each grid.

# %%
def build_sampler(input_z, out_channel_dim):
    """
    Build the op that draws samples: the trained generator, without dropout, normalised with
    each sample batch's own statistics
    :param input_z: Z input
    :param out_channel_dim: The number of channels in the output image
    :return: Tensor of generated images
    """
    return generator(input_z, out_channel_dim, is_train=False, batch_stats=True)


def show_generator_output(sess, samples, input_z, sample_z, image_mode, path):
    """
    Save (and show, where there is a display) a grid of generator output
    :param sess: TensorFlow session
    :param samples: Op from build_sampler
    :param input_z: Input Z Tensor
    :param sample_z: The z values to draw, shape (n, z_dim)
    :param image_mode: The mode to use for images ("RGB" or "L")
    :param path: Where to save the PNG
    :return: The generated images, shape (n, 28, 28, C)
    """
    images = sess.run(samples, feed_dict={input_z: sample_z})
    grid = helper.images_square_grid(images, image_mode)
    grid.save(path)
    if _display_available():
        from matplotlib import pyplot  # pylint: disable=import-outside-toplevel
        pyplot.imshow(grid, cmap='gray' if image_mode == 'L' else None)
        pyplot.axis('off')
        pyplot.show()
    return images


def _display_available():
    """:return: True when matplotlib can show a window or a notebook figure"""
    import matplotlib  # pylint: disable=import-outside-toplevel
    return matplotlib.get_backend().lower() not in ('agg', 'pdf', 'ps', 'svg', 'cairo', 'template')


# %% [markdown]
# ### Train
# Each step updates the discriminator, then the generator, on the same batch and the same z.

# %%
def train(epoch_count, batch_size, z_dim, learning_rate, beta1, get_batches, data_shape, data_image_mode,
          print_every=10, show_every=100, *, output_dir='output', max_steps=None):
    """
    Train the GAN
    :param epoch_count: Number of epochs
    :param batch_size: Batch Size
    :param z_dim: Z dimension
    :param learning_rate: Learning Rate
    :param beta1: The exponential decay rate for the 1st moment in the optimizer
    :param get_batches: Function to get batches
    :param data_shape: Shape of the data
    :param data_image_mode: The image mode to use for images ("RGB" or "L")
    :param print_every: Print the losses every this many steps
    :param show_every: Save a sample grid every this many steps
    :param output_dir: Folder for the sample grids
    :param max_steps: Stop after this many steps (None: run every epoch)
    :return: List of (step, discriminator loss, generator loss) as printed
    """
    n_samples = 25
    _, image_width, image_height, image_channels = data_shape
    input_real, input_z, lr = model_inputs(image_width, image_height, image_channels, z_dim)
    d_loss, g_loss = model_loss(input_real, input_z, image_channels)
    d_opt, g_opt = model_opt(d_loss, g_loss, lr, beta1)
    samples = build_sampler(input_z, image_channels)
    sample_z = np.random.uniform(-1, 1, size=(n_samples, z_dim))  # the same z for every grid
    os.makedirs(output_dir, exist_ok=True)

    losses = []
    steps = 0
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        tf.get_default_graph().finalize()  # nothing may add ops from here on
        for epoch_i in range(epoch_count):
            for batch_images in get_batches(batch_size):
                if max_steps is not None and steps >= max_steps:
                    break
                steps += 1
                batch_images = batch_images * 2  # [-0.5, 0.5] -> [-1, 1], the range of tanh
                batch_z = np.random.uniform(-1, 1, size=(batch_size, z_dim))
                feed = {input_real: batch_images, input_z: batch_z, lr: learning_rate}
                sess.run(d_opt, feed_dict=feed)
                sess.run(g_opt, feed_dict=feed)

                if steps % print_every == 0:
                    train_loss_d, train_loss_g = sess.run([d_loss, g_loss], feed_dict=feed)
                    losses.append((steps, train_loss_d, train_loss_g))
                    print('Epoch {}/{}... Discriminator Loss: {:.4f}... Generator Loss: {:.4f}'
                          .format(epoch_i + 1, epoch_count, train_loss_d, train_loss_g))
                if steps % show_every == 0:
                    show_generator_output(sess, samples, input_z, sample_z, data_image_mode,
                                          os.path.join(output_dir, 'samples_step_{:05d}.png'.format(steps)))
        show_generator_output(sess, samples, input_z, sample_z, data_image_mode,
                              os.path.join(output_dir, 'samples_final.png'))
    return losses


# %% [markdown]
# ## Run
# MNIST for 2 epochs, then CelebA for 1, as the notebook did; or the synthetic faces by default.

# %%
def main(argv=None):
    """
    Train on the dataset the command line names
    :param argv: Command-line arguments (None: sys.argv)
    :return: Process exit code
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    epochs = args.epochs or (2 if args.dataset == 'mnist' else 1)
    np.random.seed(args.seed)
    try:
        os.makedirs(args.output_dir, exist_ok=True)
        data_files = get_data_files(args.dataset, args.data_dir, args.seed)
        image_mode = {1: 'L', 3: 'RGB'}[args.channels] if args.dataset == 'folder' else None
        dataset = helper.Dataset(args.dataset, data_files, seed=args.seed, image_mode=image_mode)
        if args.batch_size > dataset.shape[0]:
            parser.error('--batch-size {} is larger than the {} images in {}'
                         .format(args.batch_size, dataset.shape[0], args.dataset))
        print('Real images: {}'.format(save_real_grid(dataset, args.output_dir)))
    except (helper.DatasetError, OSError) as err:
        print('error: {}'.format(err), file=sys.stderr)
        return 1

    check_tensorflow()
    with tf.Graph().as_default():
        tf.set_random_seed(args.seed)
        train(epochs, args.batch_size, args.z_dim, args.learning_rate, args.beta1, dataset.get_batches,
              dataset.shape, dataset.image_mode, output_dir=args.output_dir, max_steps=args.max_steps)
    print('Samples: {}'.format(os.path.join(args.output_dir, 'samples_final.png')))
    return 0


if __name__ == '__main__':
    # In a notebook kernel sys.argv holds the kernel's own arguments, not this script's
    exit_code = main([] if 'ipykernel' in sys.modules else None)
    if exit_code:
        sys.exit(exit_code)
