"""
Face Generation: a DCGAN trained on MNIST and CelebA at 28x28, in TensorFlow 1 graph style.

The Udacity deep-learning project (written up as "Celebrity face generation using GANs,
TensorFlow implementation"), as a script laid out in the notebook's cells. Run it:

    python dlnd_face_generation.py                      # synthetic faces, no download, 2-3 min on CPU
    python dlnd_face_generation.py --dataset mnist      # then --dataset celeba, as the notebook did

or step through the `# %%` cells in an editor that runs them (VS Code, Jupyter, Spyder).
"""
import argparse
import contextlib
import glob
import os
import random
import sys
import types

import numpy as np
from tqdm import tqdm

import helper
import run_tools
import sliced_wasserstein

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


def _non_negative_int(text):
    """:param text: Command-line value :return: It as an int, if it is at least 0"""
    value = _number(text, int, 'a whole number')
    if value < 0:
        raise argparse.ArgumentTypeError('must be 0 or more, got {}'.format(value))
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


def _add_data_arguments(parser):
    """Add --dataset, --data-dir and --channels, which training and evaluate share."""
    parser.add_argument('--dataset', choices=['synthetic', 'mnist', 'celeba', 'folder'], default='synthetic',
                        help='synthetic: drawn faces made on first use, no download; mnist and '
                             'celeba are downloaded into --data-dir; folder: every jpg, jpeg and png '
                             'under --data-dir')
    parser.add_argument('--data-dir', default='./data',
                        help='folder for datasets; with --dataset folder, the folder of images')
    parser.add_argument('--channels', type=int, choices=[1, 3], default=3,
                        help='with --dataset folder: 1 trains on grayscale, 3 on colour')


def build_parser():
    """
    :return: The command-line parser
    """
    parser = OneLineParser(
        description='Train the face-generation DCGAN (Udacity DLND project) in TF1 graph style.',
        formatter_class=_HelpFormatter,
        epilog='To draw faces from a trained run: %(prog)s generate --checkpoint OUTPUT_DIR --n 10; to score '
               'it: %(prog)s evaluate --checkpoint OUTPUT_DIR (each has --help). Ctrl-C saves a checkpoint; '
               '--resume continues.')
    _add_data_arguments(parser)
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
    parser.add_argument('--output-dir', default='./output',
                        help='folder for the grids, losses, plots and checkpoints of this run')
    parser.add_argument('--seed', type=int, default=0,
                        help='seed for numpy, the data order, the synthetic faces and TensorFlow')
    parser.add_argument('--show-every', type=_positive_int, default=100,
                        help='save a grid of samples from the fixed z every this many steps')
    parser.add_argument('--save-every', type=_positive_int, default=500,
                        help='save a checkpoint in OUTPUT_DIR/checkpoints every this many steps (and at the end)')
    parser.add_argument('--resume', action='store_true',
                        help='continue from the newest checkpoint in --output-dir: same step, optimizer state '
                             'and sample z')
    parser.add_argument('--eval-every', type=_non_negative_int, default=100,
                        help='score the samples with the sliced Wasserstein distance every this many steps '
                             '(0: never)')
    parser.add_argument('--eval-images', type=_positive_int, default=256,
                        help='held-out real images (not trained on) and generated images per score')
    parser.add_argument('--logdir', default=None,
                        help='write TensorBoard event files here (losses, D(x), D(G(z)), sample grids)')
    parser.add_argument('--precision', choices=['auto', 'float32', 'bfloat16'], default='auto',
                        help='bfloat16: convolutions in bfloat16, variables in float32 (1.3x faster at batch '
                             '16, 1.8x at 64 on a CPU with AMX; slower without); auto: bfloat16 where the CPU '
                             'has AMX, else float32')
    return parser


# %% [markdown]
# # Face Generation
# Generative adversarial networks generate new images of faces. First a run on MNIST shows the
# network trains, then CelebA. With no network at hand, the synthetic dataset stands in for
# CelebA: drawn faces of the same size, cropped and resized by the same code.
#
# ## Get the Data

# %%
SYNTHETIC_FACES = 9600  # 600 steps per epoch at batch 16: 2-3 minutes on 2 CPU cores


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
        print('No GPU found. Training runs on the CPU: about 70-85 images/s on 2 cores in float32, '
              '1.3-1.8x that with bfloat16 on a CPU with AMX.')
    return bool(gpus)


def cpu_has_amx_bfloat16():
    """
    :return: True when the CPU multiplies bfloat16 matrices in hardware (Intel AMX; read from
             /proc/cpuinfo, so False off Linux)
    """
    try:
        with open('/proc/cpuinfo') as cpuinfo:
            return 'amx_bf16' in cpuinfo.read().split()
    except OSError:
        return False


def session_config(precision='float32'):
    """
    Session settings for this machine
    :param precision: 'float32', or 'bfloat16': oneDNN then runs the convolutions and matmuls in
                      bfloat16 while the variables, and Adam, stay float32
    :return: tf.ConfigProto
    """
    # The cores this process may use (a container may get fewer than the machine has), all on each op,
    # one op at a time: a step is a chain of large convolutions. On 2 cores no setting measured faster.
    cores = len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count()
    config = tf.ConfigProto(intra_op_parallelism_threads=cores, inter_op_parallelism_threads=1)
    if precision == 'bfloat16':
        rewrites = config.graph_options.rewrite_options
        rewrites.auto_mixed_precision_onednn_bfloat16 = rewrites.ON
    return config


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


@contextlib.contextmanager
def _no_new_update_ops():
    """Take the batch-norm update ops registered inside this block back out of UPDATE_OPS."""
    update_ops = tf.get_collection_ref(tf.GraphKeys.UPDATE_OPS)
    registered = len(update_ops)
    yield
    del update_ops[registered:]


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
    # Sampling with batch statistics must not move the averages that training keeps
    with _no_new_update_ops():
        return tf.layers.batch_normalization(x, training=True)


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


def _cross_entropy(logits, label):
    """:return: Mean sigmoid cross-entropy of the logits against one label for every image"""
    labels = tf.ones_like(logits) * label
    return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(logits=logits, labels=labels))


def _discriminator_loss(input_real, g_model):
    """
    :param input_real: Images from the real dataset
    :param g_model: Images from the generator
    :return: Tuple of (discriminator loss, logits of the discriminator on the generated images)
    """
    _, d_logits_real = discriminator(input_real)
    _, d_logits_fake = discriminator(g_model, reuse=True)
    d_loss = _cross_entropy(d_logits_real, 1 - LABEL_SMOOTHING) + _cross_entropy(d_logits_fake, 0.0)
    return d_loss, d_logits_fake


def model_loss(input_real, input_z, out_channel_dim):
    """
    Get the loss for the discriminator and generator
    :param input_real: Images from the real dataset
    :param input_z: Z input
    :param out_channel_dim: The number of channels in the output image
    :return: A tuple of (discriminator loss, generator loss)
    """
    g_model = generator(input_z, out_channel_dim)
    d_loss, d_logits_fake = _discriminator_loss(input_real, g_model)
    g_loss = _cross_entropy(d_logits_fake, 1.0)
    return d_loss, g_loss


# %% [markdown]
# ### Optimization
# Two Adam optimizers, each over its own network's variables. The batch-norm moving averages
# are updated with every step (the UPDATE_OPS dependency).

# %%
def _adam(loss, scope, learning_rate, beta1):
    """
    :param scope: 'discriminator' or 'generator': the variables this optimizer may change
    :return: The training operation
    """
    var_list = [var for var in tf.trainable_variables() if var.name.startswith(scope + '/')]
    return tf.train.AdamOptimizer(learning_rate, beta1=beta1).minimize(loss, var_list=var_list)


def model_opt(d_loss, g_loss, learning_rate, beta1):
    """
    Get optimization operations
    :param d_loss: Discriminator loss Tensor
    :param g_loss: Generator loss Tensor
    :param learning_rate: Learning Rate Placeholder
    :param beta1: The exponential decay rate for the 1st moment in the optimizer
    :return: A tuple of (discriminator training operation, generator training operation)
    """
    with tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS)):
        d_train_opt = _adam(d_loss, 'discriminator', learning_rate, beta1)
        g_train_opt = _adam(g_loss, 'generator', learning_rate, beta1)

    return d_train_opt, g_train_opt


# %% [markdown]
# ### One step, one generator pass
# The article runs its two updates as two `session.run` calls, so each step computes the
# generator's forward pass twice (plus twice more for every printed loss). `model_step` builds the
# same two updates into one op: the discriminator's update, then the generator's through the
# *updated* discriminator, both from one generated batch. train() runs it once per step and
# fetches the losses from that same run.

# %%
def model_step(input_real, input_z, out_channel_dim, learning_rate, beta1):
    """
    Build a whole training step as one op, with one generator forward pass
    :param input_real: Images from the real dataset
    :param input_z: Z input
    :param out_channel_dim: The number of channels in the output image
    :param learning_rate: Learning Rate Placeholder
    :param beta1: The exponential decay rate for the 1st moment in the optimizer
    :return: A tuple of (step operation, discriminator loss, generator loss), each loss the one its update used
    """
    g_model = generator(input_z, out_channel_dim)
    d_loss, _ = _discriminator_loss(input_real, g_model)
    with tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS)):
        d_train_opt = _adam(d_loss, 'discriminator', learning_rate, beta1)

    # Built under the update, so it reads the discriminator's new weights, as the article's second
    # run did. Its batch-norm averages are left alone: the discriminator never uses them.
    with tf.control_dependencies([d_train_opt]), _no_new_update_ops():
        _, d_logits_fake = discriminator(g_model, reuse=True)
    g_loss = _cross_entropy(d_logits_fake, 1.0)
    g_train_opt = _adam(g_loss, 'generator', learning_rate, beta1)

    return g_train_opt, d_loss, g_loss


# %% [markdown]
# ## Neural Network Training
# ### Show Output
# The sampling op is built once, before training, so the graph does not grow with each grid.

# %%
def build_sampler(input_z, out_channel_dim):
    """
    Build the op that draws samples: the trained generator, without dropout, normalised with
    each sample batch's own statistics
    :param input_z: Z input (train passes a variable holding the fixed sample z)
    :param out_channel_dim: The number of channels in the output image
    :return: Tensor of generated images
    """
    return generator(input_z, out_channel_dim, is_train=False, batch_stats=True)


def show_generator_output(sess, samples, log, step, final=False):
    """
    Save (and show, where there is a display) a grid of the fixed-z samples
    :param sess: TensorFlow session
    :param samples: Op from build_sampler
    :param log: run_tools.RunLog, which saves the grid (and sends it to TensorBoard)
    :param step: The training step, for the file name
    :param final: Save it as samples_final.png
    :return: The generated images, shape (n, 28, 28, C)
    """
    images = sess.run(samples)
    _, grid = log.grid(step, images, name='samples_final.png' if final else None)
    if _display_available():
        from matplotlib import pyplot  # pylint: disable=import-outside-toplevel
        pyplot.imshow(grid, cmap='gray' if log.image_mode == 'L' else None)
        pyplot.axis('off')
        pyplot.show()
    return images


def _display_available():
    """:return: True when matplotlib can show a window or a notebook figure"""
    import matplotlib  # pylint: disable=import-outside-toplevel
    return matplotlib.get_backend().lower() not in ('agg', 'pdf', 'ps', 'svg', 'cairo', 'template')


# %% [markdown]
# ### Train
# Each step updates the discriminator, then the generator, on the same batch and the same z, in
# one session.run of model_step that also returns the losses to print.
# Checkpoints are saved every save_every steps and at the end; Ctrl-C saves one and stops.

# %%
def set_seeds(seed):
    """
    Seed numpy, Python's random (tf-keras draws its initializers' seeds from it) and the graph
    :param seed: The seed; call inside the graph's `with` block
    """
    np.random.seed(seed)
    random.seed(seed)
    tf.set_random_seed(seed)


def _build_training_graph(data_shape, z_dim, beta1, n_samples=25, n_eval=0):
    """
    Build everything train() runs, before the graph is finalized
    :param n_eval: Generated images per evaluation (0: no evaluation)
    :return: Namespace of the tensors and ops
    """
    _, image_width, image_height, image_channels = data_shape
    input_real, input_z, lr = model_inputs(image_width, image_height, image_channels, z_dim)
    step_opt, d_loss, g_loss = model_step(input_real, input_z, image_channels, lr, beta1)
    graph = tf.get_default_graph()
    # A variable, so checkpoints keep it: grids stay comparable across --resume
    sample_z = tf.Variable(np.random.uniform(-1, 1, size=(n_samples, z_dim)).astype(np.float32),
                           trainable=False, name='sample_z')
    global_step = tf.train.get_or_create_global_step()
    return types.SimpleNamespace(
        input_real=input_real, input_z=input_z, lr=lr, d_loss=d_loss, g_loss=g_loss, step_opt=step_opt,
        # The discriminator's update's two calls: D(x) on real images, D(G(z)) on generated ones
        d_real=tf.reduce_mean(graph.get_tensor_by_name('discriminator/Sigmoid:0')),
        d_fake=tf.reduce_mean(graph.get_tensor_by_name('discriminator_1/Sigmoid:0')),
        samples=build_sampler(sample_z, image_channels), sample_z=sample_z,
        # Evaluation draws the way the grids do (batch statistics), from its own fixed z
        eval_samples=build_sampler(tf.constant(np.random.uniform(-1, 1, size=(n_eval, z_dim)), tf.float32),
                                   image_channels) if n_eval else None,
        next_step=tf.assign_add(global_step, 1), saver=tf.train.Saver(max_to_keep=run_tools.KEEP_CHECKPOINTS))


def _train_step(sess, model, batch_images, batch_size, z_dim, learning_rate):
    """
    One step, one session.run: the discriminator's update, then the generator's, on the same batch and z
    :return: (step after it, (discriminator loss, generator loss, mean D(x), mean D(G(z)))), as the
             updates computed them
    """
    batch_images = batch_images * 2  # [-0.5, 0.5] -> [-1, 1], the range of tanh
    batch_z = np.random.uniform(-1, 1, size=(batch_size, z_dim))
    feed = {model.input_real: batch_images, model.input_z: batch_z, model.lr: learning_rate}
    _, step, *values = sess.run([model.step_opt, model.next_step, model.d_loss, model.g_loss, model.d_real,
                                 model.d_fake], feed_dict=feed)
    return step, values


def train(epoch_count, batch_size, z_dim, learning_rate, beta1, get_batches, data_shape, data_image_mode,
          print_every=10, show_every=100, *, output_dir='output', max_steps=None, save_every=500,
          resume=False, logdir=None, tracker=None, eval_every=100, precision='float32'):
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
    :param output_dir: Folder for grids, losses, checkpoints
    :param max_steps: Stop at this step (None: run every epoch)
    :param save_every: Save a checkpoint every this many steps
    :param resume: Continue from the newest checkpoint in output_dir
    :param logdir: Folder for TensorBoard event files (None: none)
    :param tracker: sliced_wasserstein.Tracker holding held-out real images (None: no evaluation)
    :param eval_every: Evaluate the sample quality every this many steps
    :param precision: 'float32' or 'bfloat16' (see session_config)
    :return: List of (step, discriminator loss, generator loss) as printed
    """
    model = _build_training_graph(data_shape, z_dim, beta1, n_eval=len(tracker.held_out) if tracker else 0)
    steps_per_epoch = data_shape[0] // batch_size
    last_step = epoch_count * steps_per_epoch if max_steps is None else min(max_steps, epoch_count * steps_per_epoch)
    log = run_tools.RunLog(output_dir, data_image_mode, logdir, tf.get_default_graph())
    losses = []
    # closing: a stopped run's events are kept too
    with contextlib.closing(log), tf.Session(config=session_config(precision)) as sess:
        step = run_tools.restore_or_initialize(sess, model.saver, output_dir, resume)
        tf.get_default_graph().finalize()  # nothing may add ops from here on
        if tracker:
            tracker.ceiling = log.untrained_swd()  # None for a new run: its first score sets it
            if step == 0:
                _evaluate(sess, model, tracker, log, step)
        with run_tools.interrupt_flag() as interrupted:
            while step < last_step:
                epoch_i, skip = divmod(step, steps_per_epoch)
                bar = tqdm(total=min(steps_per_epoch, last_step - epoch_i * steps_per_epoch), initial=skip,
                           desc='Epoch {}/{}'.format(epoch_i + 1, epoch_count), unit='step', leave=False)
                for batch_i, batch_images in enumerate(get_batches(batch_size)):
                    if batch_i < skip:
                        continue  # resumed mid-epoch: these batches' steps were done before
                    step, values = _train_step(sess, model, batch_images, batch_size, z_dim, learning_rate)
                    bar.update()
                    _stop_unless_finite(values[0], values[1], step, output_dir, bar)
                    if step % print_every == 0:
                        losses.append(_print_losses(values, log, step, bar, epoch_i, epoch_count))
                    if step % show_every == 0:
                        show_generator_output(sess, model.samples, log, step)
                    if tracker and step % eval_every == 0:
                        _evaluate(sess, model, tracker, log, step)
                    if step % save_every == 0:
                        run_tools.save_checkpoint(sess, model.saver, output_dir, step)
                    if interrupted():
                        _save_and_stop(sess, model, output_dir, step, bar)
                    if step >= last_step:
                        break
                bar.close()
        run_tools.save_checkpoint(sess, model.saver, output_dir, step)
        show_generator_output(sess, model.samples, log, step, final=True)
        if tracker and step % eval_every:
            _evaluate(sess, model, tracker, log, step)  # the final score
    _print_summary(log, output_dir, logdir, step)
    return losses


def _print_losses(values, log, step, bar, epoch_i, epoch_count):
    """
    Print and log the losses (and the mean D outputs) the step's updates computed
    :param values: (discriminator loss, generator loss, mean D(x), mean D(G(z))) from _train_step
    :return: (step, discriminator loss, generator loss)
    """
    d_loss, g_loss, d_real, d_fake = values
    log.losses(step, d_loss, g_loss, d_real, d_fake)
    bar.set_postfix(step=step, d_loss='{:.3f}'.format(d_loss), g_loss='{:.3f}'.format(g_loss))
    tqdm.write('Epoch {}/{}... Discriminator Loss: {:.4f}... Generator Loss: {:.4f}'
               .format(epoch_i + 1, epoch_count, d_loss, g_loss))
    return step, d_loss, g_loss


def _stop_unless_finite(d_loss, g_loss, step, output_dir, bar):
    """A NaN or infinite loss stops training without saving the broken weights."""
    if np.isfinite(d_loss) and np.isfinite(g_loss):
        return
    bar.close()
    raise run_tools.TrainingStopped(
        'the losses became {}/{} at step {}: stopped without saving; the last good checkpoint is {}. Lower '
        '--learning-rate and --resume from it'.format(d_loss, g_loss, step,
                                                      run_tools.latest_checkpoint(output_dir) or 'none'))


def _save_and_stop(sess, model, output_dir, step, bar):
    """Ctrl-C: save a checkpoint, then stop with the command to resume."""
    bar.close()
    path = run_tools.save_checkpoint(sess, model.saver, output_dir, step)
    raise run_tools.TrainingInterrupted('interrupted at step {}: saved {}. Resume with the same command and '
                                        '--resume (its --output-dir {})'.format(step, path, output_dir))


def _evaluate(sess, model, tracker, log, step):
    """Score generated images against held-out real ones; print, log and plot the number."""
    distance, closed = tracker.score(sess.run(model.eval_samples))
    log.swd(step, distance, tracker.floor, tracker.ceiling, closed)
    tqdm.write('Step {}... SWD: {:.4f} (real vs real {:.4f}, untrained {:.4f}): {:.0%} of the gap closed'
               .format(step, distance, tracker.floor, tracker.ceiling, closed))


def _print_summary(log, output_dir, logdir, step):
    """Write the loss curve and the GIF, close TensorBoard's file, and say where everything is."""
    names = ['samples_final.png']
    grids = len(glob.glob(os.path.join(output_dir, 'samples_step_*.png')))
    if grids:
        names.append('{} x samples_step_*.png'.format(grids))
    names += [os.path.basename(path) for path in (log.loss_curve(), log.animation()) if path]
    names.append(run_tools.CHECKPOINT_FOLDER + '/')
    log.close()
    print('Done at step {}. In {}: {}{}'.format(step, output_dir, ', '.join(names),
                                               '; TensorBoard: tensorboard --logdir {}'.format(logdir) if logdir else ''))


# %% [markdown]
# ## Generate faces from a trained network
# The article's last step: a saved generator, in inference mode, draws new faces.

# %%
def _find_generator(checkpoint, channels=None, z_dim=None):
    """
    Find a checkpoint and read its generator's shape from it
    :param checkpoint: A run's output folder, its checkpoints folder, or a checkpoint path
    :param channels: Channels expected (None: the checkpoint's)
    :param z_dim: Length of z expected (None: the checkpoint's)
    :return: (checkpoint path, z length, channels)
    """
    path = run_tools.latest_checkpoint(checkpoint) or (checkpoint if tf.train.checkpoint_exists(checkpoint) else None)
    if path is None:
        raise run_tools.TrainingStopped('no checkpoint in {}: train first, or point --checkpoint at a run\'s '
                                        '--output-dir'.format(checkpoint))
    shapes = dict(tf.train.list_variables(path))
    found_z, found_channels = shapes['generator/dense/kernel'][0], shapes['generator/conv2d_transpose_2/kernel'][2]
    if (channels or found_channels) != found_channels or (z_dim or found_z) != found_z:
        raise run_tools.TrainingStopped('{} holds a generator for {} channel(s) and z of {}; asked for {} channel(s) '
                                        'and z of {}'.format(path, found_channels, found_z, channels or found_channels,
                                                             z_dim or found_z))
    return path, found_z, found_channels


def _restorable_generator(z, channels, batch_stats):
    """
    In a fresh graph: the generator's variables, a sampling op on them, and a Saver to fill them
    :param z: Z input
    :param channels: Channels of the output
    :param batch_stats: Normalise with the batch's statistics (as the grids) or the moving averages
    :return: (tensor of generated images, Saver of the generator's variables)
    """
    generator(z, channels)  # the training-mode call creates the variables; the sampler reuses them
    images = generator(z, channels, is_train=False, batch_stats=batch_stats)
    return images, tf.train.Saver(var_list=tf.global_variables('generator'))


def generate(checkpoint, n, seed, output_dir, channels=None, z_dim=None):
    """
    Draw n images from a checkpoint's generator in inference mode
    :param checkpoint: A run's output folder, its checkpoints folder, or a checkpoint path
    :param n: Number of images
    :param seed: Seed for z
    :param output_dir: Folder for face_NNN.png and grid.png
    :param channels: Channels expected (None: the checkpoint's)
    :param z_dim: Length of z expected (None: the checkpoint's)
    :return: (list of face paths, grid path)
    """
    path, found_z, found_channels = _find_generator(checkpoint, channels, z_dim)
    with tf.Graph().as_default():
        set_seeds(seed)
        input_z = tf.placeholder(tf.float32, (None, found_z), name='input_z')
        images, saver = _restorable_generator(input_z, found_channels, batch_stats=False)
        with tf.Session() as sess:
            saver.restore(sess, path)
            drawn = sess.run(images, {input_z: np.random.uniform(-1, 1, size=(n, found_z))})
    return run_tools.write_images(drawn, output_dir, 'L' if found_channels == 1 else 'RGB')


def evaluate(checkpoint, dataset, eval_images=256, seed=0):
    """
    Score a checkpoint's generator with the sliced Wasserstein distance, next to its baselines
    :param checkpoint: A run's output folder, its checkpoints folder, or a checkpoint path
    :param dataset: helper.Dataset of the run's data (its last eval_images are the held-out set)
    :param eval_images: Images on each side
    :param seed: Seed of z and of the metric
    :return: (SWD, real-vs-real floor, untrained ceiling, fraction of the gap closed)
    """
    path, found_z, found_channels = _find_generator(checkpoint, dataset.shape[3])
    tracker = _make_tracker(dataset, eval_images, seed)
    with tf.Graph().as_default():
        set_seeds(seed)
        z = tf.constant(np.random.uniform(-1, 1, size=(eval_images, found_z)), tf.float32)
        samples, saver = _restorable_generator(z, found_channels, batch_stats=True)  # as training scores
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            tracker.score(sess.run(samples))  # the untrained generator: the ceiling
            saver.restore(sess, path)
            distance, closed = tracker.score(sess.run(samples))
    return distance, tracker.floor, tracker.ceiling, closed


def _make_tracker(dataset, eval_images, seed):
    """
    Hold the dataset's last eval_images out of training and set up the metric on them
    :return: sliced_wasserstein.Tracker
    """
    held_out = dataset.hold_out(eval_images) / 127.5 - 1
    other_real = dataset.images(range(eval_images)) / 127.5 - 1  # training images: disjoint from held_out
    return sliced_wasserstein.Tracker(held_out, other_real, seed)


def build_evaluate_parser():
    """
    :return: The parser of `dlnd_face_generation.py evaluate`
    """
    parser = OneLineParser(prog='dlnd_face_generation.py evaluate',
                           description='Print the sliced Wasserstein distance of a saved generator against '
                                       'held-out real images, with the real-vs-real and untrained baselines.',
                           formatter_class=_HelpFormatter)
    parser.add_argument('--checkpoint', required=True, help="a run's --output-dir, or a checkpoint path")
    _add_data_arguments(parser)
    parser.add_argument('--eval-images', type=_positive_int, default=256, help='images on each side')
    parser.add_argument('--seed', type=int, default=0, help='seed of z and of the metric')
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
    parser.add_argument('--n', type=_positive_int, default=10, help='how many images')
    parser.add_argument('--seed', type=int, default=0, help='seed for z: the same seed draws the same faces')
    parser.add_argument('--output-dir', default=None, help='folder for the PNGs (default: CHECKPOINT/generated)')
    parser.add_argument('--channels', type=int, choices=[1, 3], default=None,
                        help="expected channels (default: the checkpoint's)")
    parser.add_argument('--z-dim', type=_positive_int, default=None, help="expected z length (default: the checkpoint's)")
    return parser


# %% [markdown]
# ## Run
# MNIST for 2 epochs, then CelebA for 1, as the notebook did; or the synthetic faces by default.

# %%
def main(argv=None):
    """
    Train on the dataset the command line names, or `generate` from a checkpoint
    :param argv: Command-line arguments (None: sys.argv)
    :return: Process exit code
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        if argv[:1] == ['generate']:
            return _generate_main(argv[1:])
        if argv[:1] == ['evaluate']:
            return _evaluate_main(argv[1:])
        return _train_main(argv)
    except (helper.DatasetError, run_tools.TrainingStopped) as err:
        print('error: {}'.format(err), file=sys.stderr)
        return getattr(err, 'exit_code', 1)


def _generate_main(argv):
    """`generate`: parse, draw, say where the images are. :return: exit code"""
    args = build_generate_parser().parse_args(argv)
    output_dir = args.output_dir or os.path.join(args.checkpoint, 'generated')
    faces, grid = generate(args.checkpoint, args.n, args.seed, output_dir, args.channels, args.z_dim)
    print('Wrote {} faces ({} ... {}) and {}'.format(len(faces), faces[0], os.path.basename(faces[-1]), grid))
    return 0


def _load_dataset(args):
    """
    Get the data the command line names, as a helper.Dataset
    :return: The Dataset
    """
    data_files = get_data_files(args.dataset, args.data_dir, args.seed)
    image_mode = {1: 'L', 3: 'RGB'}[args.channels] if args.dataset == 'folder' else None
    return helper.Dataset(args.dataset, data_files, seed=args.seed, image_mode=image_mode)


def _evaluate_main(argv):
    """`evaluate`: parse, score, print. :return: exit code"""
    parser = build_evaluate_parser()
    args = parser.parse_args(argv)
    dataset = _load_dataset(args)
    if dataset.shape[0] < 2 * args.eval_images:
        parser.error('--eval-images {} needs at least {} images; {} has {}'.format(
            args.eval_images, 2 * args.eval_images, args.dataset, dataset.shape[0]))
    distance, floor, ceiling, closed = evaluate(args.checkpoint, dataset, args.eval_images, args.seed)
    print('SWD: {:.4f} (real vs real {:.4f}, untrained {:.4f}): {:.0%} of the gap closed'
          .format(distance, floor, ceiling, closed))
    return 0


def _train_main(argv):
    """Training: parse, get the data, train. :return: exit code"""
    parser = build_parser()
    args = parser.parse_args(argv)
    epochs = args.epochs or (2 if args.dataset == 'mnist' else 1)
    run_tools.check_writable(args.output_dir)
    if args.logdir:
        run_tools.check_writable(args.logdir)
    np.random.seed(args.seed)
    dataset = _load_dataset(args)
    tracker = None
    if args.eval_every and dataset.shape[0] >= 2 * args.eval_images + args.batch_size:
        tracker = _make_tracker(dataset, args.eval_images, args.seed)
    elif args.eval_every:
        print('note: no sample-quality scores: they need {} images or more (2 x --eval-images + a batch)'
              .format(2 * args.eval_images + args.batch_size))
    if args.batch_size > dataset.shape[0]:
        parser.error('--batch-size {} is larger than the {} images in {}'
                     .format(args.batch_size, dataset.shape[0], args.dataset))
    print('Real images: {}'.format(save_real_grid(dataset, args.output_dir)))

    check_tensorflow()
    with tf.Graph().as_default():
        set_seeds(args.seed)
        train(epochs, args.batch_size, args.z_dim, args.learning_rate, args.beta1, dataset.get_batches,
              dataset.shape, dataset.image_mode, output_dir=args.output_dir, max_steps=args.max_steps,
              show_every=args.show_every, save_every=args.save_every, resume=args.resume, logdir=args.logdir,
              tracker=tracker, eval_every=args.eval_every, precision=_precision(args.precision))
    return 0


def _precision(choice):
    """:return: 'float32' or 'bfloat16' for --precision's choice, saying which when it was auto"""
    if choice != 'auto':
        return choice
    precision = 'bfloat16' if cpu_has_amx_bfloat16() else 'float32'
    print('Precision: {} (--precision auto: {})'.format(
        precision, 'the CPU has AMX' if precision == 'bfloat16' else 'no AMX on this CPU'))
    return precision


if __name__ == '__main__':
    # In a notebook kernel sys.argv holds the kernel's own arguments, not this script's
    exit_code = main([] if 'ipykernel' in sys.modules else None)
    if exit_code:
        sys.exit(exit_code)
