# %% [markdown]
# # Face Generation
# In this project, you'll use generative adversarial networks to generate new images of faces.
# First a run on MNIST shows the network trains; then CelebA, photos of celebrities' faces.
# With no download at hand, the synthetic dataset stands in for CelebA: drawn faces of the same
# size, cropped and resized by the same code.
#
# This is the Udacity Deep Learning Nanodegree's face-generation project in TensorFlow 1 graph
# style (tf.compat.v1), with the model functions of the article "Celebrity face generation using
# GANs (Tensorflow implementation)". Run it as a script, `python dlnd_face_generation.py`, or step
# through its cells in Jupyter, VS Code or Spyder; `--help` lists the command line.

# %%
from facegan import interrupts

interrupts.install_one_line_errors()  # Ctrl-C or kill from here on, while the rest loads too: one line, exit 130

import os

import numpy as np
from matplotlib import pyplot
from tqdm import tqdm

import helper
import problem_unittests as tests
from facegan.tensorflow_setup import import_tensorflow, set_seeds

tf = import_tensorflow()  # tensorflow.compat.v1, with tf-keras behind tf.layers

# %% [markdown]
# ## Get the Data
# MNIST and CelebA are downloaded into `data_dir` (CelebA is 1.4 GB); the synthetic faces are
# drawn on first use; a folder of your own jpg and png files works too. Which one this run uses,
# and every other choice, comes from the command line (`python dlnd_face_generation.py --help`);
# in a notebook, from the environment variable `DLND_ARGS` (for example `--dataset mnist`).
# Without flags: the synthetic faces.

# %%
from facegan import command_line, pictures  # the flags, into the values the cells use; saving grids

SYNTHETIC_FACES = 9600  # 584 steps at batch 16 after 256 are held out for scores: about 4 minutes on 2 cores


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
    files = helper.list_image_files(folder)
    if not files and dataset == 'folder':
        raise helper.DatasetError('No images for the folder dataset: --data-dir {} has no jpg, jpeg or png files'
                                  .format(data_dir))
    return files


if __name__ == '__main__':  # in the notebook and when run as a script; not when imported
    flags = command_line.parse(command_line.arguments())
    if flags.command in ('train', 'evaluate'):
        data_files = get_data_files(flags.dataset, flags.data_dir, flags.seed)
        dataset = helper.Dataset(flags.dataset, data_files, seed=flags.seed, image_mode=flags.image_mode)


# %% [markdown]
# ## Explore the Data
# MNIST's images are 28x28 grayscale digits; CelebA's are 178x218 colour photos. Here are 25 of
# this run's images, as training sees them (next section).

# %%
def has_display():
    """:return: Whether pictures can be shown here (a notebook, or a desktop); they are saved all the same"""
    return pyplot.get_backend().lower() not in ('agg', 'pdf', 'ps', 'svg', 'cairo', 'template')


def show_images(images, image_mode):
    """
    Show a grid of images where there is a display (a notebook, or a desktop)
    :param images: Images, shape (n, 28, 28, C), any range (the grid scales them)
    :param image_mode: The mode to use for images ("RGB" or "L")
    """
    if not has_display():
        return  # the grids are saved in the output folder all the same
    cmap = None if image_mode == 'RGB' else 'gray'
    pyplot.imshow(helper.images_square_grid(images, image_mode), cmap=cmap)
    pyplot.axis('off')
    pyplot.show()


if __name__ == '__main__' and flags.command == 'train':
    show_n_images = 25
    real_images = dataset.images(range(min(show_n_images, dataset.shape[0])))
    show_images(real_images, dataset.image_mode)
    real_grid_path = os.path.join(flags.output_dir, 'real_images.png')
    pictures.save_grid(real_images, dataset.image_mode, real_grid_path)
    print('Real images: {}'.format(real_grid_path))

# %% [markdown]
# ## Preprocess the Data
# `helper.get_image` crops the centre 108x108 of each photo (the face) and resizes it to 28x28;
# MNIST is already 28x28. `helper.Dataset` does it once for every image and keeps the result
# (in a cache beside the images); `get_batches` gives values from -0.5 to 0.5, and `train`
# doubles them to -1 to 1, the range of the generator's tanh.
#
# ## Build the Neural Network
# ### Check the Version of TensorFlow and Access to GPU

# %%
from facegan import fast_layers  # the generator's transposed convolutions as matrix products, where faster


def check_tensorflow():
    """
    Print the TensorFlow version, whether a GPU is visible, and how the transposed convolutions run
    :return: True when a GPU is visible
    """
    version = tuple(int(part) for part in tf.__version__.split('.')[:2])
    assert version >= (2, 16), 'Please use TensorFlow 2.16 or newer, found {}'.format(tf.__version__)
    print('TensorFlow Version: {}'.format(tf.__version__))
    gpus = tf.config.list_physical_devices('GPU')
    if gpus:
        print('Default GPU Device: {}'.format(gpus[0].name))
    else:
        print('No GPU found. Training runs on the CPU (see docs/speed.md for how fast).')
    print('Transposed convolutions: {}'.format(fast_layers.use_fast_layers(gpus)[1]))
    return bool(gpus)


if __name__ == '__main__':
    check_tensorflow()


# %% [markdown]
# ### Input
# Placeholders for the real images, the noise vector z and the learning rate, named `input_real`,
# `input_z` and `learning_rate`; the batch dimension is `None`, so any batch size can be fed.

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
    # BEGIN SOLUTION
    input_real = tf.placeholder(tf.float32, (None, image_width, image_height, image_channels),
                                name='input_real')
    input_z = tf.placeholder(tf.float32, (None, z_dim), name='input_z')
    learning_rate = tf.placeholder(tf.float32, name='learning_rate')
    return input_real, input_z, learning_rate
    # END SOLUTION


if __name__ == '__main__':
    tests.test_model_inputs(model_inputs)


# %% [markdown]
# ### Discriminator
# Three strided convolutions with leaky ReLU, batch norm on all but the first, then one logit.

# %%
def discriminator(images, reuse=False, alpha=0.2):
    """
    Create the discriminator network
    :param images: Tensor of input image(s), 28x28xC in [-1, 1]
    :param reuse: Boolean if the weights should be reused
    :param alpha: Slope of the leaky ReLU below zero
    :return: Tuple of (tensor output of the discriminator, tensor logits of the discriminator)
    """
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
    # END SOLUTION


if __name__ == '__main__':
    tests.test_discriminator(discriminator, tf)


# %% [markdown]
# ### Generator
# A dense projection to 4x4x1024, then transposed convolutions up to 28x28xC and tanh. Batch norm
# follows the dense layer and the two middle convolutions, which is why they have no bias; dropout
# is on only while training.

# %%
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
    # END SOLUTION


if __name__ == '__main__':
    tests.test_generator(generator, tf)


# %% [markdown]
# ### Loss
# The article states the GAN's minimax game: the discriminator D maximises
# log D(x) + log(1 - D(G(z))), and the generator G minimises log(1 - D(G(z))). Early on, when D
# easily spots the fakes, D(G(z)) is near 0 and log(1 - D(G(z))) is flat there: G would get almost
# no gradient. So the code trains G to *maximise* log D(G(z)) instead, the "non-saturating" loss
# that Goodfellow et al. proposed with GANs themselves (2014, section 3): the cross-entropy of D's
# logits on generated images against labels of 1.
# The discriminator's loss is the cross-entropy against 1 for real images and 0 for generated ones,
# with one change: label smoothing gives real images the label 1 - smooth_factor (0.9), so D does
# not grow over-confident and keeps giving G useful gradients.

# %%
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
    # END SOLUTION


if __name__ == '__main__':
    tests.test_model_loss(model_loss)


# %% [markdown]
# ### Optimization
# Two Adam optimizers, each over its own network's variables. Batch norm's moving averages are
# updated with each step (the UPDATE_OPS dependency).

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
    # END SOLUTION


if __name__ == '__main__':
    tests.test_model_opt(model_opt, tf)


# %% [markdown]
# ## Neural Network Training
# ### Show Output
# Shows a grid of generated images. They are drawn in inference mode, as `generate` draws them;
# just before, the run recomputes batch norm's averages from the current weights, so the grid
# shows the network as it is now (docs/batch_norm.md says why).

# %%
def show_generator_output(images, image_mode):
    """
    Show a grid of generated images where there is a display (a notebook, or a desktop)
    :param images: Generated images, shape (n, 28, 28, C), in [-1, 1]
    :param image_mode: The mode to use for images ("RGB" or "L")
    """
    show_images(images, image_mode)


# %% [markdown]
# ### Train
# The Udacity template leaves `train`'s body to you (`# TODO: Build Model`, `# TODO: Train Model`);
# this is the usual solution, as in the article's GitHub repository: each step feeds a batch of
# real images and a batch of z, and runs both optimizers. By default both updates come from one
# forward pass in one `session.run` (as the TensorFlow 2 DCGAN tutorial does);
# `--update-order alternating` runs them one after the other, in two `session.run` calls, the
# generator's through the just-updated discriminator, as the article's repository does. The losses
# print every `print_every` steps and a grid shows every `show_every`. Each step also fetches
# `run.d_view`, what the discriminator said about each image, D(x) for the real ones and D(G(z))
# for the generated ones: `discriminator_view.find` picks them out of `d_loss`'s graph (no second
# forward pass), and the progress bar, losses.csv and TensorBoard show them.
#
# `run` (facegan/training_run.py) does the rest behind named calls: the progress bar, resuming,
# when to stop, checkpoints, scores and Ctrl-C. And while the graph is built,
# `fast_layers.in_tf_layers` computes `tf.layers.conv2d_transpose` as matrix products: the same
# layer and variables, about 1.5x faster on a CPU (docs/speed.md); it applies to your generator
# too. `--no-fast-layers` builds the graph with TensorFlow's own layer.

# %%
from facegan import discriminator_view, training_run  # D(x) and D(G(z)); everything around the loop


def train(epoch_count, batch_size, z_dim, learning_rate, beta1, get_batches, data_shape, data_image_mode,
          print_every=10, show_every=100, options=None):
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
    :param show_every: Show a grid of samples every this many steps
    :param options: training_run.RunOptions: output folder, --max-steps, checkpoints, scores (None: defaults)
    :return: List of (step, discriminator loss, generator loss) as printed
    """
    options = options or training_run.RunOptions()
    _, image_width, image_height, image_channels = data_shape
    with fast_layers.in_tf_layers(options.fast_layers):  # your tf.layers.conv2d_transpose, faster
        input_real, input_z, lr = model_inputs(image_width, image_height, image_channels, z_dim)
        d_loss, g_loss = model_loss(input_real, input_z, image_channels)
        d_train_opt, g_train_opt = model_opt(d_loss, g_loss, lr, beta1)
        run = training_run.TrainingRun(options, generator, z_dim, image_channels, data_image_mode,
                                       d_view=discriminator_view.find(d_loss, input_real, input_z))

    losses = []
    with run.session(epoch_count, data_shape[0] // batch_size) as sess:
        for epoch_i in range(epoch_count):
            for batch_images in run.untrained(get_batches(batch_size), epoch_i):  # resumed: skips those done
                batch_images = batch_images * 2  # [-0.5, 0.5] -> [-1, 1], the range of tanh
                batch_z = np.random.uniform(-1, 1, size=(batch_size, z_dim))
                feed = {input_real: batch_images, input_z: batch_z, lr: learning_rate}
                if options.update_order == 'alternating':
                    _, d_loss_value, d_view = sess.run([d_train_opt, d_loss, run.d_view], feed)
                    _, g_loss_value = sess.run([g_train_opt, g_loss], feed)
                else:
                    _, _, d_loss_value, g_loss_value, d_view = sess.run(
                        [d_train_opt, g_train_opt, d_loss, g_loss, run.d_view], feed)
                step = run.step_done(sess, d_loss_value, g_loss_value, d_view)  # log, score, save; stop on Ctrl-C

                if step % print_every == 0:
                    tqdm.write('Epoch {}/{}... Discriminator Loss: {:.4f}... Generator Loss: {:.4f}'.format(
                        epoch_i + 1, epoch_count, d_loss_value, g_loss_value))  # print(), below the progress bar
                    losses.append((step, d_loss_value, g_loss_value))
                if step % show_every == 0:
                    show_generator_output(run.samples(sess), data_image_mode)
        show_generator_output(run.samples(sess, final=True), data_image_mode)
    return losses


# %% [markdown]
# ### Hyperparameters
# Batch 16 and a learning rate of 0.0005 learned faster per second on a CPU than the DCGAN paper's
# 64 and 0.0002 (docs/hyperparameters.md); β1 = 0.5 is the paper's. MNIST trains for 2 epochs and
# CelebA for 1, as in the notebook; the synthetic faces and a folder of your own for 1.

# %%
batch_size = 16
z_dim = 100
learning_rate = 0.0005
beta1 = 0.5
epochs = {'mnist': 2, 'celeba': 1, 'synthetic': 1, 'folder': 1}

# %% [markdown]
# ### Run
# The notebook's runs were MNIST, then CelebA: `python dlnd_face_generation.py --dataset mnist`,
# then `--dataset celeba`. Without flags it trains on the synthetic faces. A flag you give
# replaces the value above (`--batch-size 64`, `--learning-rate 0.0002`, `--epochs 3`, ...). The
# grids, the losses and checkpoints go to `./output`; `generate` draws new faces from a trained
# run and `evaluate` scores it.

# %%
if __name__ == '__main__' and flags.command == 'train':
    batch_size, z_dim, learning_rate, beta1 = command_line.hyperparameters(flags, batch_size, z_dim, learning_rate,
                                                                           beta1)
    options = command_line.run_options(flags, dataset, batch_size)  # holds images out for the scores
    epoch_count = command_line.epoch_count(flags, epochs[flags.dataset], dataset.shape[0] // batch_size)
    with tf.Graph().as_default():
        set_seeds(flags.seed)
        train(epoch_count, batch_size, z_dim, learning_rate, beta1, dataset.get_batches, dataset.shape,
              dataset.image_mode, show_every=flags.show_every, options=options)
elif __name__ == '__main__' and flags.command == 'generate':
    command_line.generate(flags, generator)
elif __name__ == '__main__':
    command_line.evaluate(flags, generator, dataset)

# %% [markdown]
# ### What did it learn?
# A good grid does not tell a space of faces from a copied training set. The DCGAN paper's two
# checks, on the run just trained (docs/what_it_learned.md): a walk through z, each z turned into
# the next (faces that change smoothly, every frame a face, mean a continuous space of faces), and
# the generated faces nearest to a training image, each beside its 3 nearest training images (a
# copy would sit beside itself). `generate --walk 4` and `evaluate --nearest` make the same
# pictures from the command line; here they are shown where there is a display.

# %%
def show_picture(path):
    """
    Show a saved picture (a PNG) where there is a display
    :param path: The PNG's path
    """
    if has_display():
        pyplot.imshow(pyplot.imread(path))
        pyplot.axis('off')
        pyplot.show()


if __name__ == '__main__' and flags.command == 'train' and has_display():
    run_data = helper.Dataset(flags.dataset, data_files, seed=flags.seed, image_mode=flags.image_mode)  # all of it
    pictures_made, verdict = command_line.what_it_learned(flags, generator, run_data,
                                                          held_out=options.tracker is not None)
    for picture_path in pictures_made:
        show_picture(picture_path)
    print('\n'.join(verdict))
