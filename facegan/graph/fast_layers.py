"""
The generator's two middle layers, computed faster: tf.layers.conv2d_transpose for the article's
4x4x1024 -> 7x7x512 (stride 1, 'valid') and 7x7x512 -> 14x14x256 (stride 2, 'same') layers.

A transposed convolution adds, for every input position (i, j) and kernel tap (ki, kj),
input[i, j] . kernel[ki, kj] into the output at (stride*i + ki, stride*j + kj), less the padding.
So it is matrix products of the inputs with the kernel's taps, then an overlap-add, which is a
product with a constant 0/1 matrix. With stride 2 a tap reaches only one output position in four
(its phase: even or odd row, even or odd column), so each phase gets its own two products, with
only its taps; the overlap-add then does a quarter of the work. TensorFlow's own kernels for these
shapes (oneDNN's, on a CPU) ran the forward pass and both gradients at a quarter to a half of the
CPU's matmul speed; as matrix products the first layer ran 2.7x and the second 1.25x faster
(benchmarks/layer_speed.py; docs/speed.md has the figures). The variables (names, shapes,
initializers) are the ones tf.layers.conv2d_transpose makes, so checkpoints and the tests see the
same layer; the outputs agree to float rounding.
"""
import contextlib
import itertools

import numpy as np

import tensorflow.compat.v1 as tf

from facegan.core import environment

environment.require_legacy_layers()  # TensorFlow may have come first, with Keras 3: then tf.layers is not there

MIN_FILTERS = 64  # narrower outputs (the generator's last layer: 1 or 3 channels) keep TensorFlow's kernel
# A training step on fewer images keeps TensorFlow's kernel: each step also re-lays the kernels out and sums their
# gradients back, work the size of the weights, which only a batch this large pays for (docs/speed.md)
MIN_BATCH = 8


def conv2d_transpose(inputs, filters, kernel_size, strides=1, padding='valid', **layer_arguments):
    """
    Equals tf.layers.conv2d_transpose with the same arguments: the same layer, variables and
    outputs, computed as matrix products where that is faster (fast_enough says where) and by
    TensorFlow's own kernel elsewhere
    :param inputs: Tensor (batch, height, width, channels)
    :param filters: The number of output channels
    :param kernel_size: The kernel's height and width (an int, or a pair)
    :param strides: The stride (an int, or a pair)
    :param padding: 'valid' or 'same', as tf.layers takes it
    :param layer_arguments: Any other argument of tf.layers.conv2d_transpose (use_bias, name, ...)
    :return: Tensor (batch, output height, output width, filters), as tf.layers.conv2d_transpose's
    """
    layer = as_matrix_products if fast_enough(inputs, filters, kernel_size, strides, padding, layer_arguments) \
        else _TF_LAYERS_CONV2D_TRANSPOSE
    return layer(inputs, filters, kernel_size, strides=strides, padding=padding, **layer_arguments)


def as_matrix_products(inputs, filters, kernel_size, strides=1, padding='valid', **layer_arguments):
    """
    tf.layers.conv2d_transpose computed as matrix products, for square kernels, equal strides and
    'valid' or 'same' padding, channels last
    :return: Tensor (batch, output height, output width, filters), as tf.layers.conv2d_transpose's
    """
    kernel, stride = _pair(kernel_size), _pair(strides)
    if (kernel is None or stride is None or kernel[0] != kernel[1] or stride[0] != stride[1]
            or str(padding).lower() not in ('valid', 'same')
            or layer_arguments.get('data_format', 'channels_last') != 'channels_last'):
        raise ValueError('fast_layers computes square kernels, one stride for both directions and '
                         "'valid' or 'same' padding; tf.layers.conv2d_transpose computes the others")
    reuse = layer_arguments.pop('reuse', None)
    layer = Conv2DTranspose(filters, kernel, strides=stride, padding=padding, _scope=layer_arguments.get('name'),
                            _reuse=reuse, **layer_arguments)
    return layer(inputs)


def _pair(value):
    """:return: An int or an (int, int) pair as a pair; anything else as None"""
    if isinstance(value, int):
        return value, value
    return tuple(value) if isinstance(value, (tuple, list)) and len(value) == 2 else None


def fast_enough(inputs, filters, kernel_size, strides, padding, layer_arguments):
    """
    Matrix products win over oneDNN's transposed convolution for square kernels, equal strides,
    'valid' or 'same' padding, channels last and wide outputs (MIN_FILTERS or more), where the
    input's height, width and channels are known (benchmarks/layer_speed.py)
    :return: True where conv2d_transpose computes the layer as matrix products
    """
    kernel, stride = _pair(kernel_size), _pair(strides)
    return (kernel is not None and stride is not None and kernel[0] == kernel[1] and stride[0] == stride[1]
            and str(padding).lower() in ('valid', 'same') and filters >= MIN_FILTERS
            and layer_arguments.get('data_format', 'channels_last') == 'channels_last'
            and inputs.shape.rank == 4 and None not in inputs.shape.as_list()[1:])


@contextlib.contextmanager
def in_tf_layers(enabled=True):
    """
    While the block builds a graph, tf.layers.conv2d_transpose is this module's conv2d_transpose,
    so the generator a learner writes with tf.layers gets the faster layer too; after the block,
    TensorFlow's again. enabled=False (--no-fast-layers) leaves tf.layers as it is.
    """
    if not enabled or tf.layers.conv2d_transpose is conv2d_transpose:
        yield
        return
    tf.layers.conv2d_transpose = conv2d_transpose
    try:
        yield
    finally:
        tf.layers.conv2d_transpose = _TF_LAYERS_CONV2D_TRANSPOSE


_TF_LAYERS_CONV2D_TRANSPOSE = tf.layers.conv2d_transpose


class Conv2DTranspose(tf.layers.Conv2DTranspose):  # the same class name: the same layer names
    """tf.layers.Conv2DTranspose (its variables, names and initializers), computed as matrix products."""

    # Plain Python over the layer's static sizes, nothing for AutoGraph to convert: the method runs as written (the
    # same graph), and a debugger or coverage sees its own lines rather than a converted copy's
    @tf.autograph.experimental.do_not_convert
    def call(self, inputs):
        _, height, width, channels = inputs.shape.as_list()
        size, stride = self.kernel_size[0], self.strides[0]
        rows, columns = (phases(n, size, stride, self.padding) for n in (height, width))
        inputs = tf.reshape(inputs, (-1, channels))
        kernel = self._kernel_for_products()
        outputs = interleave([[self._phase(inputs, kernel, (height, width), row, column) for column in columns]
                              for row in rows],
                             stride, [output_size(n, size, stride, self.padding) for n in (height, width)])
        if self.use_bias:
            outputs = tf.nn.bias_add(outputs, self.bias)
        return outputs if self.activation is None else self.activation(outputs)

    def _kernel_for_products(self):
        """
        :return: The kernel, stored as (size, size, filters, channels), as _tap_products takes it: (size*size
                 taps, channels, filters)
        """
        size, channels = self.kernel_size[0], self.kernel.shape.as_list()[3]
        return tf.reshape(tf.transpose(self.kernel, (0, 1, 3, 2)), (size * size, channels, self.filters))

    def _phase(self, inputs, kernel, input_size, row, column):
        """
        The outputs (stride*q + r, stride*p + c) for one phase (r, c)
        :param inputs: The inputs as (batch*height*width, channels)
        :param kernel: The kernel as _kernel_for_products makes it
        :param input_size: The inputs' (height, width)
        :param row: (the kernel rows that land on the phase's output rows, their 0/1 overlap-add matrix)
        :param column: The same for the columns
        :return: Tensor (batch, q, p, filters)
        """
        (row_taps, row_matrix), (column_taps, column_matrix) = row, column
        phase_size = row_matrix.shape[0], column_matrix.shape[0]
        if not row_taps or not column_taps:  # a kernel smaller than the stride adds nothing to some outputs
            batch = tf.shape(inputs)[0] // (input_size[0] * input_size[1])
            return tf.zeros((batch,) + phase_size + (self.filters,), inputs.dtype)
        products = self._tap_products(inputs, kernel, row_taps, column_taps)
        products = tf.reshape(products, (-1, input_size[0] * input_size[1] * len(row_taps) * len(column_taps),
                                         self.filters))
        # Overlap-add: each output position sums the products that land on it
        matrix = np.einsum('qia,pjb->qpijab', row_matrix, column_matrix).reshape(phase_size[0] * phase_size[1], -1)
        return tf.reshape(tf.matmul(tf.constant(matrix)[None], products), (-1,) + phase_size + (self.filters,))

    def _tap_products(self, inputs, kernel, row_taps, column_taps):
        """
        Every input position times each of the phase's taps: (batch*height*width, channels) x (channels, taps*filters)
        :param inputs: The inputs as (batch*height*width, channels)
        :param kernel: The kernel as _kernel_for_products makes it
        :param row_taps: The kernel rows that land on the phase's output rows
        :param column_taps: The kernel columns that land on its output columns
        :return: Tensor (batch*height*width, taps*filters), the taps row by row, each tap's filters together
        """
        phase_taps = [ki * self.kernel_size[0] + kj for ki in row_taps for kj in column_taps]
        kernel = tf.transpose(tf.gather(kernel, phase_taps), (1, 0, 2))
        return tf.matmul(inputs, tf.reshape(kernel, (-1, len(phase_taps) * self.filters)))


def output_size(input_size, kernel_size, stride, padding):
    """
    :return: The output's size along one axis, as TensorFlow's transposed convolution makes it
    """
    return input_size * stride + (0 if padding == 'same' else max(kernel_size - stride, 0))


def phases(input_size, kernel_size, stride, padding):
    """
    Input i and kernel tap k add into output stride*i + k - before ('same' crops the excess, half
    before); the outputs stride*q + r for one r are phase r, and only the taps k with
    (k - before) mod stride = r reach them. One axis.
    :param input_size: The input's size along the axis
    :param kernel_size: The kernel's size
    :param stride: The stride
    :param padding: 'valid' or 'same'
    :return: [(phase r's taps, a 0/1 matrix (its outputs q, input positions i, its taps)) for each r]
    """
    out = output_size(input_size, kernel_size, stride, padding)
    before = max((input_size - 1) * stride + kernel_size - out, 0) // 2
    result = []
    for r in range(stride):
        taps = [k for k in range(kernel_size) if (k - before) % stride == r]
        matrix = np.zeros((len(range(r, out, stride)), input_size, len(taps)), np.float32)
        for i, (n, k) in itertools.product(range(input_size), enumerate(taps)):
            if 0 <= stride * i + k - before < out:
                matrix[(stride * i + k - before) // stride, i, n] = 1
        result.append((taps, matrix))
    return result


def interleave(outputs, stride, size):
    """
    :param outputs: [[Tensor (batch, q, p, filters) for each phase c] for each phase r]
    :param stride: The stride
    :param size: The output's (height, width)
    :return: Tensor (batch, height, width, filters) whose (stride*q + r, stride*p + c) is phase (r, c)'s (q, p)
    """
    if stride == 1:
        return outputs[0][0]
    _, rows, columns, filters = outputs[0][0].shape.as_list()  # phase (0, 0) has the most
    outputs = [[tf.pad(phase, [[0, 0], [0, rows - phase.shape[1]], [0, columns - phase.shape[2]], [0, 0]])
                for phase in row] for row in outputs]
    whole = tf.reshape(tf.stack([tf.stack(row, 3) for row in outputs], 2),  # (batch, q, r, p, c, filters)
                       (-1, rows * stride, columns * stride, filters))
    return whole[:, :size[0], :size[1]]


def use_fast_layers(gpus):
    """
    Whether the generator should use these layers on this machine: they were measured faster than
    oneDNN's transposed convolution on a CPU; on a GPU cuDNN's own is used until a measurement there
    says otherwise
    :param gpus: The GPUs TensorFlow sees, as tf.config.list_physical_devices('GPU') lists them
    :return: (True or False, the reason in a few words)
    """
    if gpus:
        return False, "a GPU: cuDNN's own transposed convolution"
    return True, "a CPU: matrix products, faster than oneDNN's transposed convolution"


def wanted(asked=True, batch_size=None):
    """
    :param asked: The run's fast_layers setting (--no-fast-layers: False)
    :param batch_size: The images of a training step (None: no training, only draws of 25 or more and batch norm's
                       calibration of 512)
    :return: Whether to put these layers in tf.layers here: where asked for, this machine has no GPU and a training
             step has MIN_BATCH images or more
    """
    return (bool(asked) and (batch_size is None or batch_size >= MIN_BATCH)
            and use_fast_layers(tf.config.list_physical_devices('GPU'))[0])
