"""
How fast is each of the generator's transposed convolutions alone, as tf.layers computes it and
as matrix products (fast_layers.as_matrix_products)? The figures decide where fast_layers uses
the products (fast_layers.MIN_FILTERS). Forward pass and both gradients (inputs and kernel) at batch 64, float32, the
layers alternating round by round; each figure is the median of --repeats rounds.

    python benchmarks/layer_speed.py --repeats 7
"""
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from common import timing_parser  # noqa: E402  (benchmarks/ is the script's own folder)
from facegan.core import environment  # noqa: E402  (after the path set-up)

tf = environment.load_tensorflow()  # prepare()d first (tf.layers on tf-keras), without TensorFlow's C++ notes
from facegan.graph import fast_layers, session_settings  # noqa: E402  (after TensorFlow's set-up)

# (name, input (height, width, channels), conv2d_transpose's arguments as the generator passes them)
LAYERS = [('4x4x1024 -> 7x7x512, 4x4, stride 1, valid', (4, 4, 1024), (512, 4, 1, 'valid')),
          ('7x7x512 -> 14x14x256, 5x5, stride 2, same', (7, 7, 512), (256, 5, 2, 'same')),
          ('14x14x256 -> 28x28x3, 5x5, stride 2, same', (14, 14, 256), (3, 5, 2, 'same'))]
IMPLEMENTATIONS = {'tf.layers': tf.layers.conv2d_transpose, 'fast_layers': fast_layers.as_matrix_products}


def layer_session(layer, input_shape, arguments):
    """
    :param layer: tf.layers.conv2d_transpose or fast_layers.as_matrix_products
    :param input_shape: The input's (batch, height, width, channels)
    :param arguments: (filters, kernel_size, strides, padding)
    :return: (a session, the fetches: output, input gradient, kernel gradient)
    """
    filters, kernel_size, strides, padding = arguments
    graph = tf.Graph()
    with graph.as_default():
        inputs = tf.constant(np.random.default_rng(0).standard_normal(input_shape).astype(np.float32))
        outputs = layer(inputs, filters, kernel_size, strides=strides, padding=padding, use_bias=False)
        upstream = tf.constant(np.random.default_rng(1).standard_normal(outputs.shape.as_list()).astype(np.float32))
        fetches = [outputs] + tf.gradients(tf.reduce_sum(outputs * upstream), [inputs] + tf.trainable_variables())
        sess = tf.Session(graph=graph, config=session_settings.session_config())
        sess.run(tf.global_variables_initializer())
    return sess, fetches


def time_runs(sess, fetches, runs=5):
    """:return: Seconds per run, over `runs` runs after one warm-up"""
    sess.run(fetches)
    start = time.perf_counter()
    for _ in range(runs):
        sess.run(fetches)
    return (time.perf_counter() - start) / runs


def main():
    args = timing_parser(__doc__).parse_args()
    print(f'| layer, forward and both gradients, batch {args.batch_size}, medians of {args.repeats} '
          '| tf.layers | fast_layers | × |\n|---|---|---|---|')
    for name, input_size, arguments in LAYERS:
        sessions = {label: layer_session(layer, (args.batch_size,) + input_size, arguments)
                    for label, layer in IMPLEMENTATIONS.items()}
        seconds = {label: [] for label in sessions}
        for _ in range(args.repeats):
            for label, (sess, fetches) in sessions.items():
                seconds[label].append(time_runs(sess, fetches))
        straightforward, fast = (statistics.median(seconds[label]) for label in IMPLEMENTATIONS)
        print(f'| {name} | {straightforward * 1000:.0f} ms | {fast * 1000:.0f} ms | {straightforward / fast:.2f} |')


if __name__ == '__main__':
    main()
