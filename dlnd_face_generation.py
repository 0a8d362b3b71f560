# %% [markdown]
# # Face Generation
# In this project, you'll use generative adversarial networks to generate new images of faces.
#
# This is the Udacity Deep Learning Nanodegree's face-generation project, in TensorFlow 1 graph style
# (`tf.compat.v1`) on today's TensorFlow, with the model of the article "Celebrity face generation using
# GANs (Tensorflow implementation)". This file is the solution: the exercise notebook
# (exercise/dlnd_face_generation.ipynb) has the same cells, with the six functions left for you to write.
# Run it as a script, `python dlnd_face_generation.py`, to train on drawn faces with no download
# (`--help` lists the command line), or step through its cells in Jupyter, VS Code or Spyder.
#
# ### Get the Data
# You'll be using two datasets in this project:
# - MNIST, handwritten digits;
# - CelebA, photos of celebrities' faces.
#
# A GAN is harder to get right on faces, so you test your networks on MNIST first: it trains in minutes
# and shows quickly whether they learn. `helper.download_extract` downloads each dataset into `data_dir`
# (CelebA is 1.4 GB) and skips what is already there.

# %%
# BEGIN SOLUTION
if __name__ == '__main__':  # as a script: Ctrl-C, kill, or a problem you can fix is one line, not a traceback
    from facegan.app import interrupts

    interrupts.install()
# END SOLUTION
data_dir = './data'

import helper  # also sets TensorFlow up before it loads: tf.layers on tf-keras, its C++ log quiet, start-up notes too

# BEGIN SOLUTION
from facegan.app import command_line  # the flags: which dataset, how long, where the run's files go
from facegan.core import environment

if __name__ == '__main__':
    flags = command_line.read()  # python dlnd_face_generation.py --help; in a notebook, the variable DLND_ARGS
    data_dir = flags.data_dir or data_dir
    environment.load_tensorflow()  # now, without the notes its C++ code prints as it starts
# END SOLUTION

if __name__ == '__main__' and flags.uses('mnist'):
    helper.download_extract('mnist', data_dir)
if __name__ == '__main__' and flags.uses('celeba'):
    helper.download_extract('celeba', data_dir)

# %% [markdown]
# ## Explore the Data
# ### MNIST
# MNIST's images are 28x28 grayscale digits. Change `show_n_images` to see more or fewer of them.

# %%
show_n_images = 25

# %matplotlib inline
import os
from glob import glob
from matplotlib import pyplot

if __name__ == '__main__' and flags.uses('mnist'):
    mnist_images = helper.get_batch(glob(os.path.join(data_dir, 'mnist/*.jpg'))[:show_n_images], 28, 28, 'L')
    pyplot.imshow(helper.images_square_grid(mnist_images, 'L'), cmap='gray')

# %% [markdown]
# ### CelebA
# The [CelebFaces Attributes Dataset (CelebA)](http://mmlab.ie.cuhk.edu.hk/projects/CelebA.html) holds over
# 200,000 photos of celebrities, 178x218 pixels, with annotations you won't need.

# %%
show_n_images = 25

if __name__ == '__main__' and flags.uses('celeba'):
    celeba_images = helper.get_batch(glob(os.path.join(data_dir, 'img_align_celeba/*.jpg'))[:show_n_images], 28,
                                     28, 'RGB')
    pyplot.imshow(helper.images_square_grid(celeba_images, 'RGB'))

# %% [markdown]
# ## Preprocess the Data
# The helper preprocesses the images for you. `helper.get_image` crops the centre 108x108 of each photo,
# where the face is, and resizes it to 28x28; MNIST's digits are 28x28 already. `helper.Dataset` does it once
# for every image and keeps the result (in a cache beside the images), and `get_batches` gives values from
# -0.5 to 0.5. MNIST has one colour channel (grayscale), CelebA three (RGB).
#
# ## Build the Neural Network
# You'll build a GAN from these functions, in this order:
# - `model_inputs`
# - `discriminator`
# - `generator`
# - `model_loss`
# - `model_opt`
# - `train`
#
# Each of the first five is followed by its problem unit test, which prints `Tests Passed`, or says in one
# line what is wrong and why it matters for a GAN.
#
# ### Check the Version of TensorFlow and Access to GPU
# The project needs TensorFlow 2.16 or newer, through its TensorFlow 1 API, `tensorflow.compat.v1`, imported
# here as `tf`. A GPU trains faster, but the default run takes minutes on a laptop's CPU.

# %%
import tensorflow.compat.v1 as tf

if __name__ == '__main__':
    # Check TensorFlow Version
    version = tuple(int(part) for part in tf.__version__.split('.')[:2])
    assert version >= (2, 16), 'Please use TensorFlow 2.16 or newer. You are using {}'.format(tf.__version__)
    print('TensorFlow Version: {}'.format(tf.__version__))

    # Check for a GPU
    if not tf.test.gpu_device_name():
        print('No GPU found: training runs on the CPU (docs/speed.md says how fast).')
    else:
        print('Default GPU Device: {}'.format(tf.test.gpu_device_name()))


# %% [markdown]
# ### Input
# Write `model_inputs` to create the network's placeholders, with `tf.placeholder`:
# - the real images, float32, of shape `(None, image_width, image_height, image_channels)`, named `input_real`.
#   The template gives the width before the height, and `train` passes `data_shape` in that order; the
#   images are square (28x28), so either order feeds them, but the test checks the template's;
# - the noise `z`, float32, `(None, z_dim)`, named `input_z`;
# - the learning rate, a float32 scalar (rank 0), named `learning_rate`.
#
# The batch dimension is `None`, so `train` can feed a batch of any size. Return the three, in that order.

# %%
import problem_unittests as tests


def model_inputs(image_width, image_height, image_channels, z_dim):
    """
    Create the model inputs
    :param image_width: The input image width
    :param image_height: The input image height
    :param image_channels: The number of image channels
    :param z_dim: The dimension of Z
    :return: Tuple of (tensor of real input images, tensor of z data, learning rate)
    """
    # BEGIN SOLUTION
    input_real = tf.placeholder(tf.float32, (None, image_width, image_height, image_channels),
                                name='input_real')
    input_z = tf.placeholder(tf.float32, (None, z_dim), name='input_z')
    learning_rate = tf.placeholder(tf.float32, name='learning_rate')
    return input_real, input_z, learning_rate
    # EXERCISE
    # # TODO: Implement Function
    #
    # return None, None, None
    # END SOLUTION


if __name__ == '__main__':
    tests.test_model_inputs(model_inputs)


# %% [markdown]
# ### Discriminator
# Write `discriminator`: it tells real images from generated ones. Build it inside
# `tf.variable_scope('discriminator', reuse=reuse)`, so that its second call, on the generated images, reuses
# the first call's weights, and so that `model_opt` can find its variables by that name. A DCGAN
# discriminator is a few strided convolutions (28x28 -> 14x14 -> 7x7 -> 4x4) with leaky ReLUs, batch norm on
# all but the first, then one logit per image. Return `(tf.sigmoid(logits), logits)`.

# %%
# BEGIN SOLUTION
def discriminator(images, reuse=False, alpha=0.2):
    """
    Create the discriminator network
    :param images: Tensor of input image(s), 28x28xC in [-1, 1]
    :param reuse: Boolean if the weights should be reused
    :param alpha: Slope of the leaky ReLU below zero
    :return: Tuple of (tensor output of the discriminator, tensor logits of the discriminator)
    """
# EXERCISE
# def discriminator(images, reuse=False):
#     """
#     Create the discriminator network
#     :param images: Tensor of input image(s)
#     :param reuse: Boolean if the weights should be reused
#     :return: Tuple of (tensor output of the discriminator, tensor logits of the discriminator)
#     """
# END SOLUTION
    # BEGIN SOLUTION
    with tf.variable_scope('discriminator', reuse=reuse):
        x = tf.layers.conv2d(images, 64, 5, strides=2, padding='same',
                             kernel_initializer=tf.glorot_uniform_initializer())
        x = tf.nn.leaky_relu(x, alpha=alpha)
        # 14x14x64
        x = tf.layers.conv2d(x, 128, 5, strides=2, padding='same', use_bias=False)
        # training=True: batch statistics (the article passed no `training`, so its batch norm
        # used the initial averages, mean 0 and variance 1, and normalised nothing)
        x = tf.layers.batch_normalization(x, training=True)
        x = tf.nn.leaky_relu(x, alpha=alpha)
        # 7x7x128
        x = tf.layers.conv2d(x, 256, 5, strides=2, padding='same', use_bias=False)
        x = tf.layers.batch_normalization(x, training=True)
        x = tf.nn.leaky_relu(x, alpha=alpha)
        # 4x4x256
        flat = tf.reshape(x, (-1, 4 * 4 * 256))
        logits = tf.layers.dense(flat, 1)
        # 1
        return tf.sigmoid(logits), logits
    # EXERCISE
    # # TODO: Implement Function
    #
    # return None, None
    # END SOLUTION


if __name__ == '__main__':
    tests.test_discriminator(discriminator, tf)


# %% [markdown]
# ### Generator
# Write `generator`: it turns z into a 28x28 image with `out_channel_dim` channels. Build it inside
# `tf.variable_scope('generator', reuse=not is_train)`: training creates the weights, and drawing samples
# (`is_train=False`) reuses them. A DCGAN generator projects z to a small, deep feature map (4x4x1024), then
# transposed convolutions grow it to 28x28; batch norm and leaky ReLU follow each but the last, which ends
# in `tf.tanh`, so that images are in [-1, 1] like the real ones. Batch norm and dropout take
# `training=is_train`, so that inference mode uses batch norm's moving averages and drops nothing.

# %%
# BEGIN SOLUTION
def generator(z, out_channel_dim, is_train=True, alpha=0.2, keep_prob=0.5):
    """
    Create the generator network
    :param z: Input z
    :param out_channel_dim: The number of channels in the output image
    :param is_train: Boolean if generator is being used for training
    :param alpha: Slope of the leaky ReLU below zero
    :param keep_prob: Fraction of activations dropout keeps while training
    :return: The tensor output of the generator, 28x28xout_channel_dim in [-1, 1]
    """
# EXERCISE
# def generator(z, out_channel_dim, is_train=True):
#     """
#     Create the generator network
#     :param z: Input z
#     :param out_channel_dim: The number of channels in the output image
#     :param is_train: Boolean if generator is being used for training
#     :return: The tensor output of the generator
#     """
# END SOLUTION
    # BEGIN SOLUTION
    with tf.variable_scope('generator', reuse=not is_train):
        x = tf.layers.dense(z, 4 * 4 * 1024, use_bias=False)
        x = tf.reshape(x, (-1, 4, 4, 1024))
        x = tf.layers.batch_normalization(x, training=is_train)
        x = tf.nn.leaky_relu(x, alpha=alpha)
        x = tf.layers.dropout(x, rate=1 - keep_prob, training=is_train)
        # 4x4x1024
        x = tf.layers.conv2d_transpose(x, 512, 4, strides=1, padding='valid', use_bias=False)
        x = tf.layers.batch_normalization(x, training=is_train)
        x = tf.nn.leaky_relu(x, alpha=alpha)
        x = tf.layers.dropout(x, rate=1 - keep_prob, training=is_train)
        # 7x7x512
        x = tf.layers.conv2d_transpose(x, 256, 5, strides=2, padding='same', use_bias=False)
        x = tf.layers.batch_normalization(x, training=is_train)
        x = tf.nn.leaky_relu(x, alpha=alpha)
        x = tf.layers.dropout(x, rate=1 - keep_prob, training=is_train)
        # 14x14x256
        logits = tf.layers.conv2d_transpose(x, out_channel_dim, 5, strides=2, padding='same')
        # 28x28xout_channel_dim
        return tf.tanh(logits)
    # EXERCISE
    # # TODO: Implement Function
    #
    # return None
    # END SOLUTION


if __name__ == '__main__':
    tests.test_generator(generator, tf)


# %% [markdown]
# ### Loss
# Write `model_loss`: build the GAN from `generator(input_z, out_channel_dim)` and two calls of
# `discriminator`, one on `input_real` and one, with `reuse=True`, on the generator's images; return
# `(d_loss, g_loss)`, each the mean of `tf.nn.sigmoid_cross_entropy_with_logits`.
#
# The article states the GAN's minimax game: the discriminator D maximises log D(x) + log(1 - D(G(z))), and
# the generator G minimises log(1 - D(G(z))). Early on, when D easily spots the fakes, D(G(z)) is near 0 and
# log(1 - D(G(z))) is flat there: G would get almost no gradient. So the code trains G to *maximise*
# log D(G(z)) instead, the "non-saturating" loss that Goodfellow et al. proposed with GANs themselves (2014,
# section 3): the cross-entropy of D's logits on generated images against labels of 1.
# The discriminator's loss is the cross-entropy against 1 for real images and 0 for generated ones, with one
# change: label smoothing gives real images the label 1 - smooth_factor (0.9), so D does not grow
# over-confident and keeps giving G useful gradients.

# %%
# BEGIN SOLUTION
def model_loss(input_real, input_z, out_channel_dim, alpha=0.2, smooth_factor=0.1):
    """
    Get the loss for the discriminator and generator
    :param input_real: Images from the real dataset
    :param input_z: Z input
    :param out_channel_dim: The number of channels in the output image
    :param alpha: Slope of the leaky ReLU below zero, in both networks
    :param smooth_factor: How far the real images' labels are lowered from 1
    :return: A tuple of (discriminator loss, generator loss)
    """
# EXERCISE
# def model_loss(input_real, input_z, out_channel_dim):
#     """
#     Get the loss for the discriminator and generator
#     :param input_real: Images from the real dataset
#     :param input_z: Z input
#     :param out_channel_dim: The number of channels in the output image
#     :return: A tuple of (discriminator loss, generator loss)
#     """
# END SOLUTION
    # BEGIN SOLUTION
    g_model = generator(input_z, out_channel_dim, alpha=alpha)
    d_model_real, d_logits_real = discriminator(input_real, alpha=alpha)
    d_model_fake, d_logits_fake = discriminator(g_model, reuse=True, alpha=alpha)

    d_loss_real = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(
        logits=d_logits_real, labels=tf.ones_like(d_model_real) * (1 - smooth_factor)))
    d_loss_fake = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(
        logits=d_logits_fake, labels=tf.zeros_like(d_model_fake)))
    g_loss = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(
        logits=d_logits_fake, labels=tf.ones_like(d_model_fake)))  # non-saturating: labels of 1

    return d_loss_real + d_loss_fake, g_loss
    # EXERCISE
    # # TODO: Implement Function
    #
    # return None, None
    # END SOLUTION


if __name__ == '__main__':
    tests.test_model_loss(model_loss)


# %% [markdown]
# ### Optimization
# Write `model_opt`: one `tf.train.AdamOptimizer(learning_rate, beta1=beta1)` per network, each minimising its
# own loss over its own variables only (`tf.trainable_variables()`, picked by the names' `discriminator/` or
# `generator/` start). Batch norm keeps its moving averages with update ops in the `tf.GraphKeys.UPDATE_OPS`
# collection; build both optimizers under `tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS))`
# so that each training step runs them. Return `(d_train_opt, g_train_opt)`.

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
    # BEGIN SOLUTION
    t_vars = tf.trainable_variables()
    d_vars = [var for var in t_vars if var.name.startswith('discriminator/')]
    g_vars = [var for var in t_vars if var.name.startswith('generator/')]

    with tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS)):
        d_train_opt = tf.train.AdamOptimizer(learning_rate, beta1=beta1).minimize(d_loss, var_list=d_vars)
        g_train_opt = tf.train.AdamOptimizer(learning_rate, beta1=beta1).minimize(g_loss, var_list=g_vars)

    return d_train_opt, g_train_opt
    # EXERCISE
    # # TODO: Implement Function
    #
    # return None, None
    # END SOLUTION


if __name__ == '__main__':
    tests.test_model_opt(model_opt, tf)


# %% [markdown]
# ## Neural Network Training
# ### Show Output
# `show_generator_output` shows a grid of the generator's images while you train, to see how the GAN is
# doing. It is given, as the template gave it: it builds an inference-mode generator (`is_train=False`) and
# draws `n_images` random faces.
#
# The solution draws its own way, with the template's arguments: it builds the inference-mode generator
# once, shows the same z every time so that you see one set of faces improve, and first recomputes batch
# norm's averages from the current weights (the averages training keeps lag the weights by hundreds of steps:
# docs/batch_norm.md).

# %%
import numpy as np


def show_generator_output(sess, n_images, input_z, out_channel_dim, image_mode):
    """
    Show example output for the generator
    :param sess: TensorFlow session
    :param n_images: Number of Images to display
    :param input_z: Input Z Tensor
    :param out_channel_dim: The number of channels in the output image
    :param image_mode: The mode to use for images ("RGB" or "L")
    """
    # BEGIN SOLUTION
    from facegan.graph import sampling  # the generator built once; shown inline, or in a window that does not wait

    sampling.show(sess, generator, input_z, n_images, out_channel_dim, image_mode)
    # EXERCISE
    # cmap = None if image_mode == 'RGB' else 'gray'
    # z_dim = input_z.get_shape().as_list()[-1]
    # example_z = np.random.uniform(-1, 1, size=[n_images, z_dim])
    #
    # samples = sess.run(
    #     generator(input_z, out_channel_dim, False),
    #     feed_dict={input_z: example_z})
    #
    # images_grid = helper.images_square_grid(samples, image_mode)
    # pyplot.imshow(images_grid, cmap=cmap)
    # pyplot.show()
    # END SOLUTION


# %% [markdown]
# ### Train
# Write `train`: build the GAN from `model_inputs`, `model_loss` and `model_opt` where it says
# `TODO: Build Model`, then train it where it says `TODO: Train Model`: for each batch, draw a batch of z
# (uniform in [-1, 1], `batch_size` by `z_dim`), double the batch's images from [-0.5, 0.5] to [-1, 1], the
# range of the generator's tanh, and run both optimizers, feeding the images, z and the learning rate.
# Print the losses every few steps, and call `show_generator_output` every 100 steps or so: every step
# would slow training down a lot.
#
# The solution runs both optimizers in one `session.run`, from one forward pass, as the TensorFlow 2 DCGAN
# tutorial does; `update_order='alternating'` runs them one after the other, the generator's through the
# just-updated discriminator, as the article's repository does (docs/speed.md compares them). Its extras take
# the room the template leaves: `run` (the run cell's, for the command line) records each step's losses and
# what the discriminator said of each image, D(x) and D(G(z)), read from `d_loss`'s own graph with no second
# forward pass; checkpoints, resuming, scores and sample grids come with the batches it is given.

# %%
# BEGIN SOLUTION
def train(epoch_count, batch_size, z_dim, learning_rate, beta1, get_batches, data_shape, data_image_mode,
          print_every=10, show_every=100, update_order='simultaneous', run=None):
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
    :param show_every: Show the generator's output every this many steps
    :param update_order: 'simultaneous' (one session.run a step) or 'alternating' (two, as the article's repository)
    :param run: The run's log (facegan.train.run.TrainingRun: each step's losses and D's outputs), or None
    """
# EXERCISE
# def train(epoch_count, batch_size, z_dim, learning_rate, beta1, get_batches, data_shape, data_image_mode):
#     """
#     Train the GAN
#     :param epoch_count: Number of epochs
#     :param batch_size: Batch Size
#     :param z_dim: Z dimension
#     :param learning_rate: Learning Rate
#     :param beta1: The exponential decay rate for the 1st moment in the optimizer
#     :param get_batches: Function to get batches
#     :param data_shape: Shape of the data
#     :param data_image_mode: The image mode to use for images ("RGB" or "L")
#     """
# END SOLUTION
    # BEGIN SOLUTION
    _, image_width, image_height, image_channels = data_shape
    input_real, input_z, lr = model_inputs(image_width, image_height, image_channels, z_dim)
    d_loss, g_loss = model_loss(input_real, input_z, image_channels)
    d_train_opt, g_train_opt = model_opt(d_loss, g_loss, lr, beta1)
    d_view = run.d_view(d_loss, input_real, input_z) if run else ()  # D(x) and D(G(z)) of each image
    steps = 0
    # EXERCISE
    # # TODO: Build Model
    #
    # END SOLUTION

    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for epoch_i in range(epoch_count):
            for batch_images in get_batches(batch_size):
                # BEGIN SOLUTION
                batch_images = batch_images * 2  # [-0.5, 0.5] -> [-1, 1], the range of tanh
                batch_z = np.random.uniform(-1, 1, size=(batch_size, z_dim))
                feed = {input_real: batch_images, input_z: batch_z, lr: learning_rate}
                if update_order == 'alternating':
                    _, d_loss_value, d_view_value = sess.run([d_train_opt, d_loss, d_view], feed)
                    _, g_loss_value = sess.run([g_train_opt, g_loss], feed)
                else:
                    _, _, d_loss_value, g_loss_value, d_view_value = sess.run(
                        [d_train_opt, g_train_opt, d_loss, g_loss, d_view], feed)
                steps += 1
                if run:
                    run.losses(d_loss_value, g_loss_value, d_view_value)  # losses.csv, TensorBoard; NaN stops
                if steps % print_every == 0:
                    print('Epoch {}/{}... Discriminator Loss: {:.4f}... Generator Loss: {:.4f}'.format(
                        epoch_i + 1, epoch_count, d_loss_value, g_loss_value))
                if steps % show_every == 0:
                    show_generator_output(sess, 25, input_z, image_channels, data_image_mode)
                # EXERCISE
                # # TODO: Train Model
                # pass
                # END SOLUTION


# %% [markdown]
# ### MNIST
# Test your GAN on MNIST. After 2 epochs it should draw images that look like handwritten digits. Set the
# hyperparameters: the batch size, the length of z, Adam's learning rate and beta1.
# docs/hyperparameters.md says why the solution chose its values.

# %%
if __name__ == '__main__' and flags.uses('mnist'):
    # BEGIN SOLUTION
    batch_size = 16
    z_dim = 100
    learning_rate = 0.0005
    beta1 = 0.5
    # EXERCISE
    # batch_size = None
    # z_dim = None
    # learning_rate = None
    # beta1 = None
    # END SOLUTION

    epochs = 2

    mnist_dataset = helper.Dataset('mnist', glob(os.path.join(data_dir, 'mnist/*.jpg')))
    # BEGIN SOLUTION
    dataset = mnist_dataset  # the run cell below trains it, with checkpoints and scores
    # EXERCISE
    # with tf.Graph().as_default():
    #     train(epochs, batch_size, z_dim, learning_rate, beta1, mnist_dataset.get_batches,
    #           mnist_dataset.shape, mnist_dataset.image_mode)
    # END SOLUTION

# %% [markdown]
# ### CelebA
# Now train on CelebA. One epoch takes about 20 minutes on an average GPU, and longer on a CPU: you can stop
# it when the faces start to look real. Without the CelebA download, train on synthetic faces instead: drawn
# faces of CelebA's size, with no download. Swap the line that lists the files for the line below it.

# %%
if __name__ == '__main__' and flags.uses('celeba', 'synthetic', 'folder'):
    # BEGIN SOLUTION
    batch_size = 16
    z_dim = 100
    learning_rate = 0.0005
    beta1 = 0.5
    # EXERCISE
    # batch_size = None
    # z_dim = None
    # learning_rate = None
    # beta1 = None
    # END SOLUTION

    epochs = 1

    # BEGIN SOLUTION
    celeba_files = flags.face_files(data_dir)  # CelebA's, or with --dataset synthetic or folder, those
    celeba_dataset = helper.Dataset(flags.dataset, celeba_files, image_mode=flags.image_mode)
    dataset = celeba_dataset  # the run cell below trains it, with checkpoints and scores
    # EXERCISE
    # celeba_files = glob(os.path.join(data_dir, 'img_align_celeba/*.jpg'))
    # # celeba_files = glob(os.path.join(helper.make_synthetic_faces(data_dir), '*.jpg'))  # synthetic faces
    # celeba_dataset = helper.Dataset('celeba', celeba_files)
    # with tf.Graph().as_default():
    #     train(epochs, batch_size, z_dim, learning_rate, beta1, celeba_dataset.get_batches,
    #           celeba_dataset.shape, celeba_dataset.image_mode)
    # END SOLUTION

# %% [markdown]
# ### Train it with checkpoints, resume and scores
# Optional. `runs.train` trains with your `train` again and adds what a long run needs: a progress bar,
# checkpoints (Ctrl-C saves one, and `resume=True` goes on from the last), scores of the samples against real
# images the run holds out, sample grids saved in the output folder, and the losses and what the discriminator
# says of each image in `losses.csv` and TensorBoard (for a `train` that takes `run`, as the solution's does).
# Running the cell again starts the run over and moves the previous one aside. With `average_decay=0.995`
# the run also keeps an average of the generator's weights, and its grids and scores draw from that average
# (docs/averaging.md says when it helps); `show_generator_output` always shows your generator as it is. Then a walk
# through z and the nearest training images of generated faces show what it learned
# (docs/what_it_learned.md). A `train` that takes `print_every` or `show_every` gets the run's (10 and 100, or
# `print_every=` and `show_every=` given here), not its own defaults.
#
# In the solution this cell is the run: it trains the dataset the command line chose, as
# `python dlnd_face_generation.py --dataset mnist` (or `celeba`) does.

# %%
from facegan.app import runs  # the run's extras: checkpoints, resume, scores, grids, TensorBoard

if __name__ == '__main__' and flags.command == 'train':
    # BEGIN SOLUTION
    run = runs.train(train, generator, epochs, batch_size, z_dim, learning_rate, beta1, dataset, flags=flags)
    runs.what_it_learned(generator, dataset, run)
    # EXERCISE
    # run = runs.train(train, generator, epochs, batch_size, z_dim, learning_rate, beta1, celeba_dataset,
    #                  output_dir='output/celeba')
    # runs.what_it_learned(generator, celeba_dataset, run)
    # END SOLUTION

# %% [markdown] tags=["solution"]
# ### Draw from a trained run, or score it
# `python dlnd_face_generation.py generate --checkpoint output/synthetic` draws new faces from a run's newest
# checkpoint (`--walk 4`: a walk through z), and `evaluate --checkpoint output/synthetic` scores it against
# the images it held out (`--nearest`: the memorisation check); each has `--help`.

# %% tags=["solution"]
if __name__ == '__main__' and flags.command == 'generate':
    runs.generate(generator, flags)
if __name__ == '__main__' and flags.command == 'evaluate':
    runs.evaluate(generator, dataset, flags)
