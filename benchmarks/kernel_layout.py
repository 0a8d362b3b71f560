"""
A measurement, not the product: fast_layers' transposed convolution with the kernel used as it is
stored. fast_layers.Conv2DTranspose transposes the whole kernel, gathers each phase's taps and
transposes them again, every step, and the gradients undo each (a transpose, and the gather's
UnsortedSegmentSum): work the size of the weights, whatever the batch. Here each phase's taps are a
strided slice of the kernel (size, size, filters, channels), reshaped (free) to
(taps * filters, channels), and the product takes it transposed (matmul's transpose_b): the same
columns (tap, filter), so the same outputs, with no transpose and no gather. lever_speed.py's
`layout` lever times the step built with it.

    python benchmarks/kernel_layout.py    # checks it against fast_layers' layer: outputs and gradients
"""
import argparse
import contextlib
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from facegan.core import environment  # noqa: E402  (after the path set-up)

tf = environment.load_tensorflow()  # prepare()d first (tf.layers on tf-keras), without TensorFlow's C++ notes
from facegan.graph import fast_layers  # noqa: E402  (after TensorFlow's set-up)


class StoredLayoutConv2DTranspose(fast_layers.Conv2DTranspose):
    """fast_layers.Conv2DTranspose, each phase's product taking its taps straight from the stored kernel."""

    def _kernel_for_products(self):
        """:return: The kernel as it is stored: (size, size, filters, channels)"""
        return self.kernel

    def _tap_products(self, inputs, kernel, row_taps, column_taps):
        """
        Every input position times each of the phase's taps, as fast_layers.Conv2DTranspose._tap_products
        makes them, with no transpose and no gather
        :param inputs: The inputs as (batch*height*width, channels)
        :param kernel: The kernel as stored
        :param row_taps: The kernel rows that land on the phase's output rows
        :param column_taps: The kernel columns that land on its output columns
        :return: Tensor (batch*height*width, taps*filters), the taps row by row, each tap's filters together
        """
        stride = self.strides[0]
        # A phase's taps are every stride-th row and column from its first: (rows, columns, filters, channels)
        kernel = kernel[row_taps[0]::stride, column_taps[0]::stride] if stride > 1 else kernel
        taps = len(row_taps) * len(column_taps)
        return tf.matmul(inputs, tf.reshape(kernel, (taps * self.filters, -1)), transpose_b=True)


@contextlib.contextmanager
def stored_layout():
    """While the block builds a graph, fast_layers makes its layers with StoredLayoutConv2DTranspose."""
    original = fast_layers.Conv2DTranspose
    fast_layers.Conv2DTranspose = StoredLayoutConv2DTranspose
    try:
        yield
    finally:
        fast_layers.Conv2DTranspose = original


def largest_differences(shape, filters, kernel_size, stride, padding, seed=0):
    """
    :return: The largest absolute differences between fast_layers' layer and this one, same weights
             and inputs: (outputs, the inputs' gradient, the kernel's gradient)
    """
    graph = tf.Graph()
    with graph.as_default():
        inputs = tf.constant(np.random.RandomState(seed).normal(size=shape).astype(np.float32))
        made = []
        for name, layer_class in (('fast', fast_layers.Conv2DTranspose), ('stored', StoredLayoutConv2DTranspose)):
            layer = layer_class(filters, kernel_size, strides=stride, padding=padding, name=name)
            outputs = layer(inputs)
            weights = tf.constant(np.random.RandomState(seed + 1).normal(size=outputs.shape.as_list()).astype(np.float32))
            loss = tf.reduce_sum(outputs * weights)
            made.append((layer, [outputs] + tf.gradients(loss, [inputs, layer.kernel])))
        copy = made[1][0].kernel.assign(made[0][0].kernel)
        with tf.Session(graph=graph) as sess:
            sess.run(tf.global_variables_initializer())
            sess.run(copy)
            fast, stored = sess.run([made[0][1], made[1][1]])
    return [float(np.max(np.abs(a - b))) for a, b in zip(fast, stored)]


def main():
    """Print, for a few shapes, the largest differences between fast_layers' layer and the prototype."""
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    for case in (((4, 4, 4, 64), 32, 4, 1, 'valid'), ((4, 7, 7, 32), 16, 5, 2, 'same'), ((2, 5, 6, 8), 64, 3, 2, 'same'),
                 ((2, 4, 4, 8), 64, 4, 2, 'same'), ((2, 5, 5, 8), 64, 2, 3, 'valid')):
        print(case, 'largest differences (outputs, input gradient, kernel gradient):',
              ['{:.2e}'.format(value) for value in largest_differences(*case)])


if __name__ == '__main__':
    main()
