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

    def call(self, inputs):
        _, height, width, channels = inputs.shape.as_list()
        size, stride = self.kernel_size[0], self.strides[0]
        rows, columns = (fast_layers.phases(n, size, stride, self.padding) for n in (height, width))
        inputs = tf.reshape(inputs, (-1, channels))
        outputs = fast_layers.interleave(
            [[self._stored_phase(inputs, (height, width), row, column) for column in columns] for row in rows],
            stride, [fast_layers.output_size(n, size, stride, self.padding) for n in (height, width)])
        if self.use_bias:
            outputs = tf.nn.bias_add(outputs, self.bias)
        return outputs if self.activation is None else self.activation(outputs)

    def _stored_phase(self, inputs, input_size, row, column):
        """
        The outputs of one phase, as fast_layers.Conv2DTranspose._phase makes them
        :param inputs: The inputs as (batch*height*width, channels)
        :param input_size: The inputs' (height, width)
        :param row: (the kernel rows that land on the phase's output rows, their 0/1 overlap-add matrix)
        :param column: The same for the columns
        :return: Tensor (batch, q, p, filters)
        """
        (row_taps, row_matrix), (column_taps, column_matrix) = row, column
        phase_size = row_matrix.shape[0], column_matrix.shape[0]
        if not row_taps or not column_taps:
            batch = tf.shape(inputs)[0] // (input_size[0] * input_size[1])
            return tf.zeros((batch,) + phase_size + (self.filters,), inputs.dtype)
        stride = self.strides[0]
        # A phase's taps are every stride-th row and column from its first: (rows, columns, filters, channels)
        kernel = self.kernel[row_taps[0]::stride, column_taps[0]::stride] if stride > 1 else self.kernel
        taps = len(row_taps) * len(column_taps)
        products = tf.matmul(inputs, tf.reshape(kernel, (taps * self.filters, -1)), transpose_b=True)
        products = tf.reshape(products, (-1, input_size[0] * input_size[1] * taps, self.filters))
        matrix = np.einsum('qia,pjb->qpijab', row_matrix, column_matrix).reshape(phase_size[0] * phase_size[1], -1)
        return tf.reshape(tf.matmul(tf.constant(matrix)[None], products), (-1,) + phase_size + (self.filters,))


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


if __name__ == '__main__':
    for case in (((4, 4, 4, 64), 32, 4, 1, 'valid'), ((4, 7, 7, 32), 16, 5, 2, 'same'), ((2, 5, 6, 8), 64, 3, 2, 'same'),
                 ((2, 4, 4, 8), 64, 4, 2, 'same'), ((2, 5, 5, 8), 64, 2, 3, 'valid')):
        print(case, 'largest differences (outputs, input gradient, kernel gradient):',
              ['{:.2e}'.format(value) for value in largest_differences(*case)])
