"""
The generator's two middle layers, computed faster: tf.layers.conv2d_transpose for the article's
4x4x1024 -> 7x7x512 (stride 1, 'valid') and 7x7x512 -> 14x14x256 (stride 2, 'same') layers.

A transposed convolution adds, for every input position (i, j) and kernel tap (ki, kj),
input[i, j] . kernel[ki, kj] into the output at (stride*i + ki, stride*j + kj), less the padding.
So it is one matrix product of the inputs with every tap at once, then an overlap-add, which is a
product with a constant 0/1 matrix. TensorFlow's own kernels for these shapes (oneDNN's, on a CPU)
ran the forward pass and both gradients at a quarter to a half of the CPU's matmul speed; as matrix
products the first layer ran 3.0x and the second 1.4x faster (docs/speed.md has the profile). The
variables (names, shapes, initializers) are the ones tf.layers.conv2d_transpose makes, so
checkpoints and the tests see the same layer; the outputs agree to float rounding.
"""
import numpy as np

import helper

tf = helper.import_tensorflow()


def conv2d_transpose(inputs, filters, kernel_size, strides=1, padding='valid', use_bias=True):
    """
    Equals tf.layers.conv2d_transpose(inputs, filters, kernel_size, strides=strides, padding=padding,
    use_bias=use_bias): the same layer, whose forward pass is two matrix products
    :param inputs: Tensor (batch, height, width, channels); height, width and channels known
    :param filters: The number of output channels
    :param kernel_size: The kernel's height and width (one int: square kernels)
    :param strides: The stride in both directions (one int)
    :param padding: 'valid' or 'same', as tf.layers takes it
    :param use_bias: Whether to add a bias
    :return: Tensor (batch, output height, output width, filters), as tf.layers.conv2d_transpose's
    """
    if not (isinstance(kernel_size, int) and isinstance(strides, int) and padding.lower() in ('valid', 'same')):
        raise ValueError('fast_layers.conv2d_transpose computes square kernels, one stride for both directions and '
                         "'valid' or 'same' padding; tf.layers.conv2d_transpose computes the others")
    return Conv2DTranspose(filters, kernel_size, strides=strides, padding=padding, use_bias=use_bias)(inputs)


class Conv2DTranspose(tf.layers.Conv2DTranspose):  # the same class name: the same layer names
    """tf.layers.Conv2DTranspose (its variables, names and initializers), computed as matrix products."""

    def call(self, inputs):
        _, height, width, channels = inputs.shape.as_list()
        size, stride = self.kernel_size[0], self.strides[0]
        taps = size * size
        # Every input position times every tap: (batch*height*width, channels) x (channels, taps*filters);
        # the kernel is (size, size, filters, channels)
        products = tf.matmul(tf.reshape(inputs, (-1, channels)),
                             tf.reshape(tf.transpose(self.kernel, (3, 0, 1, 2)), (channels, taps * self.filters)))
        products = tf.reshape(products, (-1, height * width * taps, self.filters))
        # Overlap-add: each output position sums the products that land on it
        (out_height, out_width), matrix = overlap_add_matrix((height, width), size, stride, self.padding)
        outputs = tf.reshape(tf.matmul(matrix[None], products), (-1, out_height, out_width, self.filters))
        if self.use_bias:
            outputs = tf.nn.bias_add(outputs, self.bias)
        return outputs if self.activation is None else self.activation(outputs)


def overlap_add_matrix(input_size, kernel_size, stride, padding):
    """
    :param input_size: The input's (height, width)
    :param kernel_size: The kernel's height and width
    :param stride: The stride in both directions
    :param padding: 'valid' or 'same'
    :return: (the output's (height, width), a constant 0/1 matrix (output positions, input positions x
             taps) that sums the product of input (i, j) and tap (ki, kj) into output
             (stride*i + ki - before, stride*j + kj - before); 'same' crops before = half the excess)
    """
    if padding == 'same':  # as TensorFlow's: the output is stride x the input, the excess cropped half before
        out_size = tuple(stride * n for n in input_size)
        before = [max((n - 1) * stride + kernel_size - out, 0) // 2 for n, out in zip(input_size, out_size)]
    else:
        out_size = tuple((n - 1) * stride + kernel_size for n in input_size)
        before = [0, 0]
    matrix = np.zeros(out_size + input_size + (kernel_size, kernel_size), np.float32)
    for i, j, ki, kj in np.ndindex(*input_size, kernel_size, kernel_size):
        row, column = stride * i + ki - before[0], stride * j + kj - before[1]
        if 0 <= row < out_size[0] and 0 <= column < out_size[1]:
            matrix[row, column, i, j, ki, kj] = 1
    return out_size, tf.constant(matrix.reshape(out_size[0] * out_size[1], -1))
