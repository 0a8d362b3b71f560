"""
Drawing from a trained run: find a checkpoint and the generator it holds, draw new faces in
inference mode (`generate`), and score them against held-out real images (`evaluate`). The
notebook's generator function is handed in; nothing here imports the notebook.
"""
import contextlib
import os

import numpy as np

from facegan import batch_norm, checkpoints, fast_layers, latent_walk, nearest, pictures, safe_files
from facegan.errors import TrainingStopped, UserError
from facegan.learner_code import call_generator
from facegan.sliced_wasserstein import Tracker
from facegan.tensorflow_setup import import_tensorflow, set_seeds

tf = import_tensorflow()

GENERATE_BATCH = 256  # generate draws and writes this many faces at a time: memory does not grow with n
GRID_FACES = 100  # generate's grid.png shows the first this many faces
WALK_FRAME_MS = 120  # how long each face of walk.gif shows
WALK_SCALE = 8  # walk.gif's faces are enlarged this many times (224x224 for 28x28)


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


@contextlib.contextmanager
def drawing(generator, found, seed, fast=True):
    """
    Restore a checkpoint's generator in a fresh graph and session, in inference mode
    :param generator: The notebook's generator function
    :param found: find_generator's (checkpoint path, z length, channels)
    :param seed: Seed of numpy (for z drawn inside the block) and of the graph
    :param fast: Build the generator with fast_layers (see fast_layers.in_tf_layers)
    :return: (yields) A function from z (n, z length) to the generator's images (n, 28, 28, channels) in [-1, 1]
    """
    path, found_z, found_channels = found
    with tf.Graph().as_default():
        set_seeds(seed)
        input_z = tf.placeholder(tf.float32, (None, found_z), name='input_z')
        with fast_layers.in_tf_layers(fast):
            images, saver = restorable_generator(generator, input_z, found_channels)
        with tf.Session() as sess:
            saver.restore(sess, path)
            yield lambda z: np.concatenate([_draw_batch(sess, images, input_z, z[first:first + GENERATE_BATCH])
                                            for first in range(0, len(z), GENERATE_BATCH)])


def _draw_batch(sess, images, input_z, z):
    """
    :param z: At most GENERATE_BATCH rows
    :return: Their images. The batch is always GENERATE_BATCH rows (the rest zeros), so a face
             depends on its z alone, not on how many are drawn with it: the matrix products round
             the same way for one batch shape
    """
    padded = np.zeros((GENERATE_BATCH, z.shape[1]), np.float32)
    padded[:len(z)] = z
    return sess.run(images, {input_z: padded})[:len(z)]


def save_z(z, path):
    """
    Save z as a .npy file that --z reads back
    :param z: float32 array, (z_dim,) for one face or (n, z_dim)
    :param path: The file, ending in .npy
    """
    def write(temporary):
        with open(temporary, 'wb') as file:
            np.save(file, np.asarray(z, np.float32))
    safe_files.write_atomically(path, write)


def load_z(paths, z_dim):
    """
    Read the z that generate saved, for --z
    :param paths: .npy files, each of one z (z_dim,) or of several (n, z_dim)
    :param z_dim: The checkpoint's z length
    :return: float32 array (total, z_dim), the files' z in order
    """
    loaded = []
    for path in paths:
        try:
            z = np.load(path, allow_pickle=False)
        except OSError as err:
            raise UserError('cannot read --z {} ({})'.format(path, err.strerror or 'not a .npy file saved by '
                                                                                 'generate')) from None
        except ValueError:
            raise UserError('--z {} is not a .npy file of z saved by generate'.format(path)) from None
        if z.ndim not in (1, 2) or z.shape[-1] != z_dim or not z.size or z.dtype.kind not in 'fiu':
            raise UserError('--z {} holds an array of shape {}; this generator takes z of {} numbers (a file '
                            'generate saved beside a face from this run)'.format(path, z.shape, z_dim))
        if not np.isfinite(z).all():
            raise UserError('--z {} holds numbers that are not finite'.format(path))
        loaded.append(z.reshape(-1, z_dim).astype(np.float32))
    return np.concatenate(loaded)


def generate(generator, found, z, seed, output_dir, fast=True):
    """
    Draw images from a checkpoint's generator in inference mode, as the article's last step does
    (the checkpoint's batch-norm averages were recomputed from its weights when it was saved), and
    save each one's z beside it (face_NNN.npy), for --z
    :param generator: The notebook's generator function
    :param found: find_generator's (checkpoint path, z length, channels)
    :param z: Number of images, drawn from z uniform in [-1, 1]; or the z themselves, (n, z length)
    :param seed: Seed for z
    :param output_dir: Folder for face_NNN.png, face_NNN.npy and grid.png
    :param fast: Build the generator with fast_layers (see fast_layers.in_tf_layers)
    :return: (list of face paths, grid path)
    """
    image_mode = 'L' if found[2] == 1 else 'RGB'
    os.makedirs(output_dir, exist_ok=True)
    with drawing(generator, found, seed, fast) as draw:
        if np.ndim(z) == 0:
            z = np.random.uniform(-1, 1, size=(z, found[1])).astype(np.float32)
        faces, shown = [], []
        for first in range(0, len(z), GENERATE_BATCH):  # memory does not grow with n
            drawn = draw(z[first:first + GENERATE_BATCH])
            faces += pictures.write_faces(drawn, output_dir, image_mode, first)
            shown += list(drawn[:GRID_FACES - len(shown)])
    for face, face_z in zip(faces, z):
        save_z(face_z, os.path.splitext(face)[0] + '.npy')
    return faces, pictures.write_grid(np.array(shown), output_dir, image_mode)


def walk(generator, found, count, saved_z, seed, output_dir, fast=True):
    """
    Walk through z (see latent_walk): count z, the saved ones first, each slerped into the next
    :param generator: The notebook's generator function
    :param found: find_generator's (checkpoint path, z length, channels)
    :param count: z to pass through, at least 2
    :param saved_z: z to start from, (m, z length), m at most count
    :param seed: Seed for the random z
    :param output_dir: Folder for walk.png (a row a leg), walk.gif and walk_z.npy (the z passed through)
    :param fast: Build the generator with fast_layers (see fast_layers.in_tf_layers)
    :return: (strip path, GIF path)
    """
    image_mode = 'L' if found[2] == 1 else 'RGB'
    os.makedirs(output_dir, exist_ok=True)
    with drawing(generator, found, seed, fast) as draw:
        points = latent_walk.waypoints(saved_z, count, found[1], np.random)
        frames = draw(latent_walk.loop(points))
    strip, gif = os.path.join(output_dir, 'walk.png'), os.path.join(output_dir, 'walk.gif')
    pictures.save_rows(frames, latent_walk.STEPS, image_mode, strip)
    pictures.save_animation(frames, image_mode, gif, WALK_FRAME_MS, WALK_SCALE)
    save_z(points, os.path.join(output_dir, 'walk_z.npy'))
    return strip, gif


def nearest_picture(generator, found, dataset, eval_images, seed, path, fast=True):
    """
    The memorisation check (see facegan/nearest.py): eval_images generated faces and the dataset's last
    eval_images real ones (held out of training), each against the other images, the training set
    :param generator: The notebook's generator function
    :param found: find_generator's (checkpoint path, z length, channels)
    :param dataset: helper.Dataset of the run's data, before hold_out
    :param path: The PNG: the nearest.SHOWN generated faces nearest to a training image, each beside its
                 nearest.NEIGHBOURS nearest training images
    :return: nearest.check's result
    """
    trained = dataset.shape[0] - eval_images
    held_out = dataset.images(range(trained, dataset.shape[0]))

    def training_chunks():
        return ((first, dataset.images(range(first, min(first + nearest.CHUNK, trained))))
                for first in range(0, trained, nearest.CHUNK))

    with drawing(generator, found, seed, fast) as draw:
        generated = (draw(np.random.uniform(-1, 1, size=(eval_images, found[1])).astype(np.float32)) + 1) * 127.5
    result = nearest.check(generated, held_out, training_chunks)
    rows = [np.concatenate([generated[[shown]], dataset.images(neighbours)])
            for shown, neighbours in zip(result['shown'], result['neighbours'])]
    pictures.save_rows(np.concatenate(rows) / 127.5 - 1, 1 + nearest.NEIGHBOURS, 'L' if found[2] == 1 else 'RGB',
                       path)
    return result


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
