"""
Drawing from a trained run: find a checkpoint and the generator it holds, draw new faces in
inference mode (`generate`), and score them against held-out real images (`evaluate`). The
notebook's generator function is handed in; nothing here imports the notebook.
"""
import os

import numpy as np

from facegan import batch_norm, checkpoints, fast_layers, pictures
from facegan.errors import TrainingStopped
from facegan.learner_code import call_generator
from facegan.sliced_wasserstein import Tracker
from facegan.tensorflow_setup import import_tensorflow, set_seeds

tf = import_tensorflow()

GENERATE_BATCH = 256  # generate draws and writes this many faces at a time: memory does not grow with n
GRID_FACES = 100  # generate's grid.png shows the first this many faces


def make_tracker(dataset, eval_images, seed):
    """
    Hold the dataset's last eval_images out of training and set up the metric on them
    :param dataset: helper.Dataset (anything with hold_out and images)
    :return: sliced_wasserstein.Tracker
    """
    held_out = dataset.hold_out(eval_images) / 127.5 - 1
    other_real = dataset.images(range(eval_images)) / 127.5 - 1  # training images: disjoint from held_out
    return Tracker(held_out, other_real, seed)


def _generator_variables(generator, z_dim, channels):
    """
    :return: {name: shape} of the variables generator makes for this z length and channel count
    """
    with tf.Graph().as_default():
        call_generator(generator, tf.placeholder(tf.float32, (None, z_dim)), channels, 'to list its variables')
        return {var.op.name: var.shape.as_list() for var in tf.global_variables()}


def find_generator(generator, checkpoint, channels=None, z_dim=None):
    """
    Find a checkpoint of a training run and the generator it holds
    :param generator: The notebook's generator function
    :param checkpoint: A run's output folder, its checkpoints folder, or a checkpoint path
    :param channels: Channels expected (None: the checkpoint's)
    :param z_dim: Length of z expected (None: the checkpoint's)
    :return: (checkpoint path, z length, channels)
    """
    path = checkpoints.find_checkpoint(checkpoint, hint="train first, or point --checkpoint at a run's --output-dir",
                                       unusable_hint="point --checkpoint at another run's --output-dir")
    checkpoints.check_variables(path, {'sample_z': None})  # the fixed z of every training run's grids
    saved = dict(tf.train.list_variables(path))
    found_z = saved['sample_z'][1]
    matching = [c for c in (1, 3) if all(saved.get(name) == shape for name, shape
                                         in _generator_variables(generator, found_z, c).items())]
    if not matching:
        raise TrainingStopped('{} holds no generator that this generator() can restore: was it trained '
                              'with another version of the model?'.format(path))
    found_channels = matching[0]
    if (channels or found_channels) != found_channels or (z_dim or found_z) != found_z:
        raise TrainingStopped('{} holds a generator for {} channel(s) and z of {}; asked for {} channel(s) '
                              'and z of {}'.format(path, found_channels, found_z, channels or found_channels,
                                                   z_dim or found_z))
    return path, found_z, found_channels


def restorable_generator(generator, z, channels):
    """
    In a fresh graph: the generator's variables, an inference-mode op on them, and a Saver to fill them
    :return: (tensor of generated images, Saver of the generator's variables)
    """
    # The training-mode call creates the variables; inference mode reuses them
    call_generator(generator, z, channels, 'to create its variables', is_train=True)
    images = call_generator(generator, z, channels, 'to draw faces', is_train=False)
    return images, tf.train.Saver(var_list=tf.global_variables('generator'))


def generate(generator, found, n, seed, output_dir, fast=True):
    """
    Draw n images from a checkpoint's generator in inference mode, as the article's last step does
    (the checkpoint's batch-norm averages were recomputed from its weights when it was saved)
    :param generator: The notebook's generator function
    :param found: find_generator's (checkpoint path, z length, channels)
    :param n: Number of images
    :param seed: Seed for z
    :param output_dir: Folder for face_NNN.png and grid.png
    :param fast: Build the generator with fast_layers (see fast_layers.in_tf_layers)
    :return: (list of face paths, grid path)
    """
    path, found_z, found_channels = found
    image_mode = 'L' if found_channels == 1 else 'RGB'
    os.makedirs(output_dir, exist_ok=True)
    with tf.Graph().as_default():
        set_seeds(seed)
        input_z = tf.placeholder(tf.float32, (None, found_z), name='input_z')
        with fast_layers.in_tf_layers(fast):
            images, saver = restorable_generator(generator, input_z, found_channels)
        with tf.Session() as sess:
            saver.restore(sess, path)
            faces, shown = [], []
            for first in range(0, n, GENERATE_BATCH):  # z row by row: the same faces whatever the batch
                z = np.random.uniform(-1, 1, size=(min(GENERATE_BATCH, n - first), found_z))
                drawn = sess.run(images, {input_z: z})
                faces += pictures.write_faces(drawn, output_dir, image_mode, first)
                shown += list(drawn[:GRID_FACES - len(shown)])
    return faces, pictures.write_grid(np.array(shown), output_dir, image_mode)


def evaluate(generator, checkpoint, dataset, eval_images=256, seed=0, fast=True):
    """
    Score a checkpoint's generator with the sliced Wasserstein distance, next to its baselines
    :param generator: The notebook's generator function
    :param checkpoint: A run's output folder, its checkpoints folder, or a checkpoint path
    :param dataset: helper.Dataset of the run's data (its last eval_images are the held-out set)
    :param eval_images: Images on each side
    :param seed: Seed of z and of the metric
    :param fast: Build the generator with fast_layers (see fast_layers.in_tf_layers)
    :return: (SWD, real-vs-real floor, untrained ceiling, fraction of the gap closed)
    """
    path, found_z, found_channels = find_generator(generator, checkpoint, dataset.shape[3])
    tracker = make_tracker(dataset, eval_images, seed)
    with tf.Graph().as_default():
        set_seeds(seed)
        z = tf.constant(np.random.uniform(-1, 1, size=(eval_images, found_z)), tf.float32)
        with fast_layers.in_tf_layers(fast):
            samples, saver = restorable_generator(generator, z, found_channels)  # inference mode, as training scores
            calibrate = batch_norm.build_calibration(generator, found_z, found_channels)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            sess.run(calibrate)  # the untrained generator, as training scores it at step 0: the ceiling
            tracker.score(sess.run(samples))
            saver.restore(sess, path)
            distance, closed = tracker.score(sess.run(samples))
    return distance, tracker.floor, tracker.ceiling, closed
