"""
How fast does the model train? In one run, alternating, training images per second at batch 16 and
64 (--batch-sizes) on 28x28x3 images from the cached data path, for:

1. the article's layers with its repository's loop: the notebook's generator as written
   (tf.layers.conv2d_transpose, no fast_layers) and the loop of the article's GitHub repository,
   the usual solution of the Udacity template's `# TODO: Train Model`: model_loss and model_opt run
   as two session.run calls (two generator forward passes), the losses evaluated again with two
   more runs every 10 steps, TensorFlow's default session;
2. the project's train() step, built from the same model_loss and model_opt inside
   fast_layers.in_tf_layers(): both optimizers, both losses and D's outputs in one session.run (the default,
   --update-order simultaneous), and that repository's two runs without the extra loss
   evaluations (--update-order alternating), with the project's
   session settings; in bfloat16 too where the CPU has AMX or AVX512_BF16 (what --precision auto picks there);
3. a peer in today's TF2 style: the same architecture as a Keras 3 model, trained with tf.function
   and GradientTape, making the same updates as the default (both networks' gradients from one
   forward pass, as the TensorFlow DCGAN tutorial does), in float32 (and mixed_bfloat16 there);
4. the same peer in PyTorch, eager, in float32 (and torch.autocast bfloat16 there), where PyTorch
   is installed (`pip install torch==2.13.0`; it is not in requirements.txt);

and the model GFLOP/s each achieves against its precision's matmul limit (a 4096x4096 matmul's
GFLOP/s measured in the same run, over the model's GFLOP per image). Each figure is the median of
--repeats rounds; each round times every configuration once. The batch sizes are timed one after
another, each with its own rounds and table.

Last, the goals: per batch size and precision, the project's step against the PyTorch peer and the
matmul limit. x PyTorch >= 1.5 in float32 where oneDNN may use AVX-512, >= 1.0 where AVX2 is the
widest; >= 2.0 in bfloat16 where the CPU has AMX_BF16 or AVX512_BF16; >= 70% of the matmul limit at
batch 64, >= 50% at batch 16.

    python benchmarks/train_speed.py                 # the shared CelebA sample, else synthetic faces
    python benchmarks/train_speed.py --repeats 7 --steps 20
    python benchmarks/train_speed.py --batch-sizes 64 --repeats 7
"""
import inspect
import itertools
import os
import statistics
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from common import cpu_description, positive_int, timing_parser  # noqa: E402  (benchmarks/ is the script's own folder)
from common import LIMIT_GOALS, goal_cell, pytorch_goal  # noqa: E402

from facegan.core import environment  # noqa: E402  (after the path set-up)

tf = environment.load_tensorflow()  # prepare()d first (tf.layers on tf-keras), without TensorFlow's C++ notes
import tensorflow as tf2  # noqa: E402  (TensorFlow 2's own API, for the Keras 3 peer)
import dlnd_face_generation as dlnd  # noqa: E402  (after TensorFlow's legacy-Keras set-up)
import helper  # noqa: E402
from facegan.core import machine  # noqa: E402
from facegan.graph import discriminator_view, fast_layers, session_settings  # noqa: E402

Z_DIM = 100
ARTICLE_PRINT_EVERY = 10
# The article's keyword arguments, from the notebook's own signatures: the peer uses the same values
KEEP_PROB = inspect.signature(dlnd.generator).parameters['keep_prob'].default
SMOOTH_FACTOR = inspect.signature(dlnd.model_loss).parameters['smooth_factor'].default


def parse_args():
    """:return: Parsed command line"""
    parser = timing_parser(__doc__, batch_sizes=[16, 64])
    parser.add_argument('--steps', type=positive_int, default=10,
                        help='training steps timed per configuration per round')
    bfloat16 = parser.add_mutually_exclusive_group()
    bfloat16.add_argument('--bfloat16', action='store_true',
                          help='time the bfloat16 configurations too (default: only where the CPU has AMX or '
                               'AVX512_BF16)')
    bfloat16.add_argument('--no-bfloat16', action='store_true',
                          help='time float32 only, even where the CPU has AMX or AVX512_BF16')
    return parser.parse_args()


# Multiply-accumulates per image of one forward pass, layer by layer (the elementwise ops, batch
# norm and Adam are left out: they are a few percent)
def layer_macs(channels=3):
    """
    :return: {layer, named as in the graph: multiply-accumulates per image of one forward pass}, the
             generator's layers first
    """
    return {
        'generator/dense': Z_DIM * 4 * 4 * 1024,
        # transposed conv: input positions x in x out x kernel
        'generator/conv2d_transpose': 4 * 4 * 1024 * 512 * 4 * 4,
        'generator/conv2d_transpose_1': 7 * 7 * 512 * 256 * 5 * 5,
        'generator/conv2d_transpose_2': 14 * 14 * 256 * channels * 5 * 5,
        # conv: output positions x out x in x kernel
        'discriminator/conv2d': 14 * 14 * 64 * channels * 5 * 5,
        'discriminator/conv2d_1': 7 * 7 * 128 * 64 * 5 * 5,
        'discriminator/conv2d_2': 4 * 4 * 256 * 128 * 5 * 5,
        'discriminator/dense': 4 * 4 * 256,
    }


def forward_macs(channels=3):
    """
    :return: (generator MACs, discriminator MACs, the discriminator's first layer's MACs, the
             generator's dense layer's MACs), per image
    """
    macs = layer_macs(channels)
    generator = sum(value for layer, value in macs.items() if layer.startswith('generator/'))
    discriminator = sum(value for layer, value in macs.items() if layer.startswith('discriminator/'))
    return generator, discriminator, macs['discriminator/conv2d'], macs['generator/dense']


def step_gflop(channels=3):
    """
    FLOP per image of one simultaneous training step (2 FLOP per multiply-accumulate). Forward: G, and
    D on real and fake. The discriminator's gradients: its weight gradients on both, and its input
    gradients below the first layer. The generator's: D's input gradients on the fake images all the
    way down, G's weight gradients and its input gradients above the dense layer.
    :return: GFLOP per image
    """
    g, d, d_first, g_dense = forward_macs(channels)
    forward = g + 2 * d
    d_gradients = 2 * d + 2 * (d - d_first)
    g_gradients = d + g + (g - g_dense)
    return 2 * (forward + d_gradients + g_gradients) / 1e9


def start_session(build, config=None):
    """
    Build a graph, seeded as train() seeds it, finalize it and start an initialised session on it
    :param build: Callable that builds the graph's tensors and ops and returns what the caller needs
    :param config: tf.ConfigProto (None: TensorFlow's defaults)
    :return: (what build returned, the session)
    """
    graph = tf.Graph()
    with graph.as_default():
        session_settings.set_seeds(0)
        built = build()
        init = tf.global_variables_initializer()
    graph.finalize()
    sess = tf.Session(graph=graph, config=config)
    sess.run(init)
    return built, sess


def matmul_gflops(dtype, size=4096, runs=5):
    """
    :return: The best GFLOP/s of a size x size matmul in a session with the project's settings
    """
    def build():
        a = tf.Variable(tf.random_normal((size, size)))
        b = tf.Variable(tf.random_normal((size, size)))
        return tf.reduce_sum(tf.cast(tf.matmul(tf.cast(a, dtype), tf.cast(b, dtype)), tf.float32))

    product, sess = start_session(build, session_settings.session_config())
    with sess:
        sess.run(product)
        best = 0.0
        for _ in range(runs):
            start = time.perf_counter()
            sess.run(product)
            best = max(best, 2 * size ** 3 / (time.perf_counter() - start) / 1e9)
    return best


class ProjectLoop:
    """The project's train() step: its graph from model_loss and model_opt, its session settings."""

    def __init__(self, shape, precision, order, config=None, fast=True):
        """
        :param shape: The dataset's shape (images, height, width, channels)
        :param precision: 'float32' or 'bfloat16', as --precision
        :param order: 'simultaneous' or 'alternating', as --update-order
        :param config: tf.ConfigProto (None: the project's, session_settings.session_config(precision))
        :param fast: False: tf.layers' own transposed convolution, as --no-fast-layers
        """
        def build():
            with fast_layers.in_tf_layers(fast):  # as train() builds its graph
                input_real, input_z, lr = dlnd.model_inputs(shape[1], shape[2], shape[3], Z_DIM)
                d_loss, g_loss = dlnd.model_loss(input_real, input_z, shape[3])
                d_opt, g_opt = dlnd.model_opt(d_loss, g_loss, lr, 0.5)
                d_view = discriminator_view.find(d_loss, input_real, input_z)  # D(x), D(G(z)), as train() fetches
                return input_real, input_z, lr, d_loss, g_loss, d_opt, g_opt, d_view

        built, self.sess = start_session(build, config or session_settings.session_config(precision))
        self.input_real, self.input_z, self.lr, self.d_loss, self.g_loss, self.d_opt, self.g_opt, self.d_view = built
        self.order = order

    def feed(self, batch_images):
        """:return: The feed of one step on a [-0.5, 0.5] batch, as train() makes it"""
        batch_z = np.random.uniform(-1, 1, size=(len(batch_images), Z_DIM))
        return {self.input_real: batch_images * 2, self.input_z: batch_z, self.lr: 0.0002}

    def step(self, batch_images, step_i):
        """One training step on a [-0.5, 0.5] batch, fetching the losses and D's outputs as train() does"""
        del step_i  # the losses come from every step's own run
        feed = self.feed(batch_images)
        if self.order == 'alternating':
            self.sess.run([self.d_opt, self.d_loss, self.d_view], feed)
            self.sess.run([self.g_opt, self.g_loss], feed)
        else:
            self.sess.run([self.d_opt, self.g_opt, self.d_loss, self.g_loss, self.d_view], feed)


class ArticleStep:
    """
    The article's layers (the notebook's, in tf.layers alone) and the training loop of the article's
    GitHub repository, the usual solution of the template's `# TODO: Train Model`: two runs per
    step, and two more every tenth step to print the losses
    """

    def __init__(self, shape):
        def build():
            input_real, input_z, lr = dlnd.model_inputs(shape[1], shape[2], shape[3], Z_DIM)
            d_loss, g_loss = dlnd.model_loss(input_real, input_z, shape[3])
            return (input_real, input_z, lr, d_loss, g_loss) + dlnd.model_opt(d_loss, g_loss, lr, 0.5)

        built, self.sess = start_session(build)  # the article's tf.Session(): TensorFlow's defaults
        self.input_real, self.input_z, self.lr, self.d_loss, self.g_loss, self.d_opt, self.g_opt = built

    def step(self, batch_images, step_i):
        """One training step on a [-0.5, 0.5] batch"""
        batch_z = np.random.uniform(-1, 1, size=(len(batch_images), Z_DIM))
        feed = {self.input_real: batch_images * 2, self.input_z: batch_z, self.lr: 0.0002}
        self.sess.run(self.d_opt, feed_dict=feed)
        self.sess.run(self.g_opt, feed_dict=feed)
        if step_i % ARTICLE_PRINT_EVERY == 0:
            self.sess.run(self.d_loss, feed_dict=feed)  # d_loss.eval(...)
            self.sess.run(self.g_loss, feed_dict={self.input_z: batch_z})  # g_loss.eval(...)


class KerasPeer:
    """The same GAN in today's TF2 style: Keras 3 models, tf.function and GradientTape."""

    def __init__(self, channels, policy='float32'):
        import keras  # pylint: disable=import-outside-toplevel  (Keras 3, beside tf-keras)
        keras.utils.set_random_seed(0)
        self.generator = self._generator(keras, channels, policy)
        self.discriminator = self._discriminator(keras, channels, policy)
        self.bce = keras.losses.BinaryCrossentropy(from_logits=True)
        self.d_optimizer = keras.optimizers.Adam(0.0002, beta_1=0.5)
        self.g_optimizer = keras.optimizers.Adam(0.0002, beta_1=0.5)
        self.train_step = tf2.function(self._train_step)

    @staticmethod
    def _generator(keras, channels, policy):
        layers = keras.layers
        stack = [keras.Input((Z_DIM,)), layers.Dense(4 * 4 * 1024, use_bias=False, dtype=policy),
                 layers.Reshape((4, 4, 1024))]
        # 4x4x1024 -> 7x7x512 -> 14x14x256 -> 28x28xchannels, each after batch norm, leaky ReLU, dropout
        for filters, kernel, strides, padding in ((512, 4, 1, 'valid'), (256, 5, 2, 'same'), (channels, 5, 2, 'same')):
            stack += [layers.BatchNormalization(dtype=policy), layers.LeakyReLU(0.2, dtype=policy),
                      layers.Dropout(1 - KEEP_PROB, dtype=policy),
                      layers.Conv2DTranspose(filters, kernel, strides=strides, padding=padding, dtype=policy)]
        stack.append(layers.Activation('tanh', dtype='float32'))
        return keras.Sequential(stack)

    @staticmethod
    def _discriminator(keras, channels, policy):
        layers = keras.layers
        stack = [keras.Input((28, 28, channels)), layers.Conv2D(64, 5, strides=2, padding='same', dtype=policy),
                 layers.LeakyReLU(0.2, dtype=policy)]
        for filters in (128, 256):
            stack += [layers.Conv2D(filters, 5, strides=2, padding='same', use_bias=False, dtype=policy),
                      layers.BatchNormalization(dtype=policy), layers.LeakyReLU(0.2, dtype=policy)]
        stack += [layers.Flatten(), layers.Dense(1, dtype='float32')]
        return keras.Sequential(stack)  # 1 logit

    def _train_step(self, images, z):
        real_label = 1 - SMOOTH_FACTOR
        with tf2.GradientTape() as g_tape, tf2.GradientTape() as d_tape:
            fake = self.generator(z, training=True)
            real_logits = self.discriminator(images, training=True)
            fake_logits = self.discriminator(fake, training=True)
            d_loss = (self.bce(tf2.ones_like(real_logits) * real_label, real_logits)
                      + self.bce(tf2.zeros_like(fake_logits), fake_logits))
            g_loss = self.bce(tf2.ones_like(fake_logits), fake_logits)
        d_vars, g_vars = self.discriminator.trainable_variables, self.generator.trainable_variables
        self.d_optimizer.apply(d_tape.gradient(d_loss, d_vars), d_vars)
        self.g_optimizer.apply(g_tape.gradient(g_loss, g_vars), g_vars)
        return d_loss, g_loss

    def step(self, batch_images, step_i):
        """One training step on a [-0.5, 0.5] batch; reads the losses as the project's loop does"""
        del step_i
        batch_z = np.random.uniform(-1, 1, size=(len(batch_images), Z_DIM)).astype(np.float32)
        d_loss, g_loss = self.train_step(batch_images * 2, batch_z)
        float(d_loss), float(g_loss)  # pylint: disable=expression-not-assigned  (wait for the step)


class TorchPeer:
    """
    The same GAN in PyTorch, eager: the layers of the notebook's generator and discriminator, one
    generator pass per step and both networks' gradients from it, as the project's default does; in
    bfloat16 through torch.autocast (matmuls and convolutions in bfloat16, weights float32).
    """

    def __init__(self, channels, precision='float32'):
        import torch  # pylint: disable=import-outside-toplevel  (optional: the benchmark runs without it)
        self.torch = torch
        torch.manual_seed(0)
        # Every core this process may use (a container may get fewer than the machine has), as TensorFlow's
        # sessions here use
        torch.set_num_threads(machine.usable_cores())
        self.generator = self._generator(torch.nn, channels)
        self.discriminator = self._discriminator(torch.nn, channels)
        self.bce = torch.nn.BCEWithLogitsLoss()
        self.d_optimizer = torch.optim.Adam(self.discriminator.parameters(), 0.0002, betas=(0.5, 0.999))
        self.g_optimizer = torch.optim.Adam(self.generator.parameters(), 0.0002, betas=(0.5, 0.999))
        self.precision = precision

    @staticmethod
    def _generator(nn, channels):
        def block(features):  # batch norm, leaky ReLU, dropout
            return [nn.BatchNorm2d(features, eps=1e-3, momentum=0.01), nn.LeakyReLU(0.2), nn.Dropout(1 - KEEP_PROB)]

        return nn.Sequential(
            nn.Linear(Z_DIM, 4 * 4 * 1024, bias=False), nn.Unflatten(1, (1024, 4, 4)), *block(1024),  # 4x4x1024
            nn.ConvTranspose2d(1024, 512, 4, bias=False), *block(512),  # 7x7x512
            nn.ConvTranspose2d(512, 256, 5, stride=2, padding=2, output_padding=1, bias=False), *block(256),
            # 14x14x256
            nn.ConvTranspose2d(256, channels, 5, stride=2, padding=2, output_padding=1), nn.Tanh())  # 28x28xC

    @staticmethod
    def _discriminator(nn, channels):
        return nn.Sequential(
            nn.Conv2d(channels, 64, 5, stride=2, padding=2), nn.LeakyReLU(0.2),  # 14x14x64
            nn.Conv2d(64, 128, 5, stride=2, padding=2, bias=False), nn.BatchNorm2d(128, eps=1e-3, momentum=0.01),
            nn.LeakyReLU(0.2),  # 7x7x128
            nn.Conv2d(128, 256, 5, stride=2, padding=2, bias=False), nn.BatchNorm2d(256, eps=1e-3, momentum=0.01),
            nn.LeakyReLU(0.2),  # 4x4x256
            nn.Flatten(), nn.Linear(4 * 4 * 256, 1))  # 1 logit

    def step(self, batch_images, step_i):
        """One training step on a [-0.5, 0.5] batch (NHWC, made NCHW); reads the losses as the project does"""
        del step_i
        torch = self.torch
        images = torch.from_numpy(np.ascontiguousarray((batch_images * 2).transpose(0, 3, 1, 2), dtype=np.float32))
        z = torch.from_numpy(np.random.uniform(-1, 1, size=(len(batch_images), Z_DIM)).astype(np.float32))
        with torch.autocast('cpu', dtype=torch.bfloat16, enabled=self.precision == 'bfloat16'):
            fake = self.generator(z)
            real_logits = self.discriminator(images)
            fake_logits = self.discriminator(fake)
        real_logits, fake_logits = real_logits.float(), fake_logits.float()  # the losses in float32
        d_loss = (self.bce(real_logits, torch.full_like(real_logits, 1 - SMOOTH_FACTOR))
                  + self.bce(fake_logits, torch.zeros_like(fake_logits)))
        g_loss = self.bce(fake_logits, torch.ones_like(fake_logits))
        d_params, g_params = list(self.discriminator.parameters()), list(self.generator.parameters())
        d_grads = torch.autograd.grad(d_loss, d_params, retain_graph=True)
        g_grads = torch.autograd.grad(g_loss, g_params)
        for params, grads, optimizer in ((d_params, d_grads, self.d_optimizer), (g_params, g_grads, self.g_optimizer)):
            for param, grad in zip(params, grads):
                param.grad = grad
            optimizer.step()
        d_loss.detach().item(), g_loss.detach().item()  # wait for the step, as the others do


def torch_missing():
    """:return: None where PyTorch can be imported, else why not (the PyTorch rows are then left out)"""
    try:
        import torch  # noqa: F401  pylint: disable=import-outside-toplevel,unused-import
    except ImportError as err:
        return str(err)
    return None


def images_per_second(trainer, batches, steps):
    """
    :return: (training images per second over `steps` steps, fraction of the time spent waiting for batches)
    """
    waiting = 0.0
    start = time.perf_counter()
    for step_i in range(1, steps + 1):
        fetch = time.perf_counter()
        batch_images = next(batches)
        waiting += time.perf_counter() - fetch
        trainer.step(batch_images, step_i)
    elapsed = time.perf_counter() - start
    return steps * len(batch_images) / elapsed, waiting / elapsed


def load_dataset(folder, batch_size):
    """:return: A helper.Dataset of 28x28 colour images (synthetic faces when there is no folder)"""
    if folder is None:
        folder = helper.make_synthetic_faces(tempfile.mkdtemp(prefix='train-speed-'), 8 * batch_size, seed=0)
        return helper.Dataset('synthetic', helper.list_image_files(folder), seed=0)
    cache = tempfile.mkdtemp(prefix='train-speed-cache-')  # never write into the shared folder
    return helper.Dataset('folder', helper.list_image_files(folder), seed=0, image_mode='RGB', cache_dir=cache)


def endless_batches(dataset, batch_size):
    """:return: Iterator of batches that starts a new epoch whenever one ends"""
    return itertools.chain.from_iterable(dataset.get_batches(batch_size) for _ in itertools.count())


ARTICLE = "article's layers, its repository's loop"
PROJECT = 'project (train() as it runs)'
PEER = 'Keras 3 peer'
TORCH = 'PyTorch peer'


def build_trainers(shape, bfloat16, torch):
    """:return: {(name, precision): trainer}, in the table's order"""
    trainers = {
        (ARTICLE, 'float32'): ArticleStep(shape),
        (PROJECT, 'float32'): ProjectLoop(shape, 'float32', 'simultaneous'),
        ('project, --update-order alternating', 'float32'): ProjectLoop(shape, 'float32', 'alternating'),
        (PEER, 'float32'): KerasPeer(shape[3]),
    }
    if torch:
        trainers[TORCH, 'float32'] = TorchPeer(shape[3])
    if bfloat16:
        trainers[PROJECT, 'bfloat16'] = ProjectLoop(shape, 'bfloat16', 'simultaneous')
        trainers[PEER, 'bfloat16'] = KerasPeer(shape[3], 'mixed_bfloat16')
        if torch:
            trainers[TORCH, 'bfloat16'] = TorchPeer(shape[3], 'bfloat16')
    return trainers


def main():
    """Time every configuration, alternating, at each batch size; print a table for each, then the goals."""
    args = parse_args()
    dataset = load_dataset(args.folder, max(args.batch_sizes))
    bfloat16 = not args.no_bfloat16 and (args.bfloat16 or machine.cpu_bfloat16_support() is not None)
    missing = torch_missing()
    if missing:
        print('note: no PyTorch peer ({}); `pip install torch==2.13.0` adds it'.format(missing), flush=True)
    trainers = build_trainers(dataset.shape, bfloat16, torch=not missing)
    medians = {}
    for size in args.batch_sizes:
        rates, waits, peaks = time_batch_size(args, trainers, endless_batches(dataset, size), bfloat16)
        print_table(args, dataset, size, rates, waits, peaks)
        medians[size] = ({key: statistics.median(values) for key, values in rates.items()},
                         {dtype: statistics.median(values) for dtype, values in peaks.items()})
    print_goals(medians, step_gflop(dataset.shape[3]))


def time_batch_size(args, trainers, batches, bfloat16):
    """
    Warm every configuration up at this batch size, then time them all, alternating, round by round
    :param batches: Iterator of batches of the size
    :param bfloat16: Whether to measure bfloat16's matmul limit too
    :return: ({(name, precision): [images/s a round]}, {(name, precision): [fraction waiting for data a round]},
             {precision: [matmul GFLOP/s a round]})
    """
    for trainer in trainers.values():  # warm-up: graph optimisation, kernel selection, tracing (at this batch)
        images_per_second(trainer, batches, 3)
    rates = {key: [] for key in trainers}
    waits = {key: [] for key in trainers}
    peaks = {'float32': [], 'bfloat16': []} if bfloat16 else {'float32': []}
    for round_i in range(args.repeats):
        for dtype, measured in peaks.items():
            measured.append(matmul_gflops(getattr(tf, dtype)))
        for key, trainer in trainers.items():
            rate, wait = images_per_second(trainer, batches, args.steps)
            rates[key].append(rate)
            waits[key].append(wait)
        print('round {}/{}: '.format(round_i + 1, args.repeats)
              + ', '.join('{:.1f}'.format(values[-1]) for values in rates.values()), flush=True)
    return rates, waits, peaks


def print_table(args, dataset, size, rates, waits, peaks):
    """
    Print the medians at one batch size as a Markdown table: the ratios, and each row's share of its
    precision's matmul limit
    """
    gflop = step_gflop(dataset.shape[3])
    rate = {key: statistics.median(values) for key, values in rates.items()}
    limit = {dtype: statistics.median(values) / gflop for dtype, values in peaks.items()}  # images/s
    print('\nCPU: {}.'.format(cpu_description()))
    print('{} images {}x{}x{} from the cache, batch {}, {} steps x {} rounds (medians).'.format(
        dataset.shape[0], *dataset.shape[1:], size, args.steps, args.repeats))
    print('Model: {:.2f} GFLOP per image per step (one generator pass). Matmul limit: {}.\n'.format(
        gflop, ', '.join('{} {:.0f} GFLOP/s = {:.0f} images/s'.format(dtype, value * gflop, value)
                         for dtype, value in limit.items())))

    def ratio(value, name, precision):
        return '{:.2f}'.format(value / rate[name, precision]) if (name, precision) in rate else '-'

    print('| configuration | precision | images/s | x article | x Keras 3 peer | x PyTorch peer '
          '| model GFLOP/s | % of its precision\'s matmul limit | waiting for data |')
    print('|---|---|---|---|---|---|---|---|---|')
    for (name, precision), value in rate.items():
        print('| {} | {} | {:.1f} | {:.2f} | {} | {} | {:.0f} | {:.0f}% | {:.1%} |'.format(
            name, precision, value, value / rate[ARTICLE, 'float32'], ratio(value, PEER, precision),
            ratio(value, TORCH, precision), value * gflop, 100 * value / limit[precision],
            statistics.median(waits[name, precision])))


def print_goals(medians, gflop):
    """
    Print the goals table: per batch size and precision, the project's step against the PyTorch peer and
    its precision's matmul limit, and whether each goal is met
    :param medians: {batch size: ({(name, precision): median images/s}, {precision: median matmul GFLOP/s})}
    :param gflop: The model's GFLOP per image per step
    """
    vectors, native = machine.cpu_vector_kind(), machine.cpu_bfloat16_support() is not None
    print('\nGoals on {} (vectors: {}; bfloat16 {}):\n'.format(
        cpu_description(), vectors or 'neither AVX-512 nor AVX2', 'native' if native else 'not native: no goal'))
    print('| batch | precision | project images/s | PyTorch images/s | x PyTorch | % of the matmul limit '
          '| goal x PyTorch | goal % of the matmul limit |')
    print('|---|---|---|---|---|---|---|---|')
    for size, (rate, peak) in medians.items():
        for precision, gflops in peak.items():
            print(goal_row(size, precision, rate, gflops / gflop, pytorch_goal(precision, vectors, native)))


def goal_row(size, precision, rate, limit, goal):
    """
    :param rate: {(name, precision): median images/s} at the batch size
    :param limit: The precision's matmul limit, in images/s
    :param goal: The x PyTorch goal (None: none here)
    :return: The goals table's row of the project's step at the batch size and precision
    """
    mine, torch = rate[PROJECT, precision], rate.get((TORCH, precision))
    against = mine / torch if torch else None
    return '| {} | {} | {:.1f} | {} | {} | {:.0%} | {} | {} |'.format(
        size, precision, mine, '-' if torch is None else '{:.1f}'.format(torch),
        '-' if against is None else '{:.2f}'.format(against), mine / limit,
        goal_cell(against, goal, '{:.2f}'), goal_cell(mine / limit, LIMIT_GOALS.get(size), '{:.0%}'))


if __name__ == '__main__':
    main()
