"""
A learner of Udacity's template (udacity/deep-learning, face_generation/) on this project: a notebook
whose cells make the template's calls into helper.py and problem_unittests.py as its given cells make
them, in its order (the data cell's download_extract, the Explore cells' globs of mnist/*.jpg and
img_align_celeba/*.jpg with get_batch and images_square_grid, each graded function followed by its
test, the given show_generator_output, Dataset(name, files) with get_batches, shape and image_mode),
its six TODOs filled as a learner of that time would (the graded functions with the template's
signatures, train() a plain tf.Session loop), and `import tensorflow as tf` as the only change:
tensorflow.compat.v1. Run in a kernel on small local data, every cell runs and both training cells
train.
"""
import nbformat

from kernels import (  # noqa: F401  (notebook_cwd: a fixture)
    execute, kernel_env, notebook_cwd, outputs as _outputs, tensorflows_notes)
from learners import plain_train

# The cells, in the template's order: its given code calls the project as the template's calls it; the
# graded functions and train() are a learner's answers written for the template
CELLS = [
    # Get the Data
    """\
data_dir = './data'

import helper

helper.download_extract('mnist', data_dir)
helper.download_extract('celeba', data_dir)""",
    # Explore the Data: MNIST, then CelebA
    """\
show_n_images = 25

%matplotlib inline
import os
from glob import glob
from matplotlib import pyplot

mnist_images = helper.get_batch(glob(os.path.join(data_dir, 'mnist/*.jpg'))[:show_n_images], 28, 28, 'L')
pyplot.imshow(helper.images_square_grid(mnist_images, 'L'), cmap='gray')""",
    """\
show_n_images = 25

mnist_images = helper.get_batch(glob(os.path.join(data_dir, 'img_align_celeba/*.jpg'))[:show_n_images], 28, 28, 'RGB')
pyplot.imshow(helper.images_square_grid(mnist_images, 'RGB'))""",
    # Check the Version of TensorFlow and Access to GPU (TensorFlow 1 through tensorflow.compat.v1)
    """\
import warnings
import tensorflow.compat.v1 as tf

print('TensorFlow Version: {}'.format(tf.__version__))
if not tf.test.gpu_device_name():
    warnings.warn('No GPU found. Please use a GPU to train your neural network.')
else:
    print('Default GPU Device: {}'.format(tf.test.gpu_device_name()))""",
    """\
import problem_unittests as tests

def model_inputs(image_width, image_height, image_channels, z_dim):
    inputs_real = tf.placeholder(tf.float32, (None, image_width, image_height, image_channels), name='input_real')
    inputs_z = tf.placeholder(tf.float32, (None, z_dim), name='input_z')
    learning_rate = tf.placeholder(tf.float32, name='learning_rate')
    return inputs_real, inputs_z, learning_rate

tests.test_model_inputs(model_inputs)""",
    """\
def discriminator(images, reuse=False):
    alpha = 0.2
    with tf.variable_scope('discriminator', reuse=reuse):
        x1 = tf.layers.conv2d(images, 64, 5, strides=2, padding='same')
        relu1 = tf.maximum(alpha * x1, x1)
        x2 = tf.layers.conv2d(relu1, 128, 5, strides=2, padding='same')
        bn2 = tf.layers.batch_normalization(x2, training=True)
        relu2 = tf.maximum(alpha * bn2, bn2)
        x3 = tf.layers.conv2d(relu2, 256, 5, strides=2, padding='same')
        bn3 = tf.layers.batch_normalization(x3, training=True)
        relu3 = tf.maximum(alpha * bn3, bn3)
        flat = tf.reshape(relu3, (-1, 4 * 4 * 256))
        logits = tf.layers.dense(flat, 1)
        out = tf.sigmoid(logits)
    return out, logits

tests.test_discriminator(discriminator, tf)""",
    """\
def generator(z, out_channel_dim, is_train=True):
    alpha = 0.2
    with tf.variable_scope('generator', reuse=not is_train):
        x1 = tf.layers.dense(z, 7 * 7 * 256)
        x1 = tf.reshape(x1, (-1, 7, 7, 256))
        x1 = tf.layers.batch_normalization(x1, training=is_train)
        x1 = tf.maximum(alpha * x1, x1)
        x2 = tf.layers.conv2d_transpose(x1, 128, 5, strides=2, padding='same')
        x2 = tf.layers.batch_normalization(x2, training=is_train)
        x2 = tf.maximum(alpha * x2, x2)
        logits = tf.layers.conv2d_transpose(x2, out_channel_dim, 5, strides=2, padding='same')
        out = tf.tanh(logits)
    return out

tests.test_generator(generator, tf)""",
    """\
def model_loss(input_real, input_z, out_channel_dim):
    g_model = generator(input_z, out_channel_dim)
    d_model_real, d_logits_real = discriminator(input_real)
    d_model_fake, d_logits_fake = discriminator(g_model, reuse=True)
    d_loss_real = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(
        logits=d_logits_real, labels=tf.ones_like(d_model_real) * 0.9))
    d_loss_fake = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(
        logits=d_logits_fake, labels=tf.zeros_like(d_model_fake)))
    g_loss = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(
        logits=d_logits_fake, labels=tf.ones_like(d_model_fake)))
    return d_loss_real + d_loss_fake, g_loss

tests.test_model_loss(model_loss)""",
    """\
def model_opt(d_loss, g_loss, learning_rate, beta1):
    t_vars = tf.trainable_variables()
    d_vars = [var for var in t_vars if var.name.startswith('discriminator')]
    g_vars = [var for var in t_vars if var.name.startswith('generator')]
    with tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS)):
        d_train_opt = tf.train.AdamOptimizer(learning_rate, beta1=beta1).minimize(d_loss, var_list=d_vars)
        g_train_opt = tf.train.AdamOptimizer(learning_rate, beta1=beta1).minimize(g_loss, var_list=g_vars)
    return d_train_opt, g_train_opt

tests.test_model_opt(model_opt, tf)""",
    # Show Output: the template's own cell
    """\
import numpy as np

def show_generator_output(sess, n_images, input_z, out_channel_dim, image_mode):
    cmap = None if image_mode == 'RGB' else 'gray'
    z_dim = input_z.get_shape().as_list()[-1]
    example_z = np.random.uniform(-1, 1, size=[n_images, z_dim])

    samples = sess.run(
        generator(input_z, out_channel_dim, False),
        feed_dict={input_z: example_z})

    images_grid = helper.images_square_grid(samples, image_mode)
    pyplot.imshow(images_grid, cmap=cmap)
    pyplot.show()""",
    # Train: the template's skeleton, filled in (tests/learners.py)
    plain_train(print_every=2, show_every=4),
    # MNIST, then CelebA: the template's cells, hyperparameters filled in
    """\
batch_size = 8
z_dim = 100
learning_rate = 0.0002
beta1 = 0.5

epochs = 2

mnist_dataset = helper.Dataset('mnist', glob(os.path.join(data_dir, 'mnist/*.jpg')))
with tf.Graph().as_default():
    train(epochs, batch_size, z_dim, learning_rate, beta1, mnist_dataset.get_batches,
          mnist_dataset.shape, mnist_dataset.image_mode)""",
    """\
batch_size = 8
z_dim = 100
learning_rate = 0.0002
beta1 = 0.5

epochs = 1

celeba_dataset = helper.Dataset('celeba', glob(os.path.join(data_dir, 'img_align_celeba/*.jpg')))
with tf.Graph().as_default():
    train(epochs, batch_size, z_dim, learning_rate, beta1, celeba_dataset.get_batches,
          celeba_dataset.shape, celeba_dataset.image_mode)""",
]


def test_the_templates_calls_run_unchanged_and_both_datasets_train(notebook_cwd, tmp_path, monkeypatch):
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in CELLS])
    execute(notebook, notebook_cwd, kernel_env(problem_tests=True), tmp_path, monkeypatch)

    assert not _outputs(notebook, 'error'), 'every cell runs'
    assert not tensorflows_notes(notebook)  # the version cell's import comes after helper's: quiet
    cells = notebook.cells
    text = [''.join(output.get('text', '') for output in cell.outputs) for cell in cells]
    assert text[0].count('Found') == 2  # mnist and celeba, as extracted
    for explore in cells[1:3]:  # each shows 25 images inline
        assert any('image/png' in output.get('data', {}) for output in explore.outputs)
    assert ''.join(text[4:9]).count('Tests Passed') == 5
    mnist, celeba = cells[-2:]
    assert text[-2].count('Epoch 2/2... Discriminator Loss:') == 2  # 32 digits at batch 8: 4 steps an epoch
    assert text[-1].count('Epoch 1/1... Discriminator Loss:') == 3  # 48 faces: 6 steps
    for trained in (mnist, celeba):  # show_generator_output's grids, inline
        assert any('image/png' in output.get('data', {}) for output in trained.outputs)
