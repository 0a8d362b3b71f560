"""
One layer of the generator, computed faster: tf.layers.conv2d_transpose with stride 1 and 'valid'
padding, the article's 4x4x1024 -> 7x7x512 layer.

A transposed convolution of stride 1 adds, for every input position (i, j) and kernel tap (ki, kj),
input[i, j] . kernel[ki, kj] into the output at (i + ki, j + kj). So it is one matrix product of
the inputs with every tap at once, then an overlap-add. TensorFlow's own kernel for this shape
(oneDNN's, on a CPU) ran its forward pass and both gradients at about a quarter of the CPU's matmul
speed; as matrix products the three run about 3x faster (docs/speed.md has the profile). The
variables (names, shapes, initializers) are the ones tf.layers.conv2d_transpose makes, so
checkpoints and the tests see the same layer; the outputs agree to float rounding.
"""
import numpy as np

import helper

tf = helper.import_tensorflow()


def conv2d_transpose(inputs, filters, kernel_size, strides=1, padding='valid', use_bias=True):
    """
    Equals tf.layers.conv2d_transpose(inputs, filters, kernel_size, strides=1, padding='valid',
    use_bias=use_bias): the same layer, whose forward pass is two matrix products
    :param inputs: Tensor (batch, height, width, channels); height, width and channels known
    :param filters: The number of output channels
    :param kernel_size: The kernel's height and width (one int: square kernels)
    :param strides: 1 (the only stride computed here)
    :param padding: 'valid' (the only padding computed here)
    :param use_bias: Whether to add a bias
    :return: Tensor (batch, height + kernel_size - 1, width + kernel_size - 1, filters)
    """
    if strides not in (1, (1, 1)) or padding.lower() != 'valid' or not isinstance(kernel_size, int):
        raise ValueError('fast_layers.conv2d_transpose computes stride 1, valid padding and a square kernel '
                         'only; tf.layers.conv2d_transpose computes the others')
    return Conv2DTranspose(filters, kernel_size, strides=strides, padding=padding, use_bias=use_bias)(inputs)


class Conv2DTranspose(tf.layers.Conv2DTranspose):  # the same class name: the same layer names
    """tf.layers.Conv2DTranspose (its variables, names and initializers) with stride 1, 'valid', computed as matmuls."""

    def call(self, inputs):
        _, height, width, channels = inputs.shape.as_list()
        size = self.kernel_size[0]
        taps = size * size
        # Every input position times every tap: (batch*height*width, channels) x (channels, taps*filters);
        # the kernel is (size, size, filters, channels)
        products = tf.matmul(tf.reshape(inputs, (-1, channels)),
                             tf.reshape(tf.transpose(self.kernel, (3, 0, 1, 2)), (channels, taps * self.filters)))
        products = tf.reshape(products, (-1, height * width * taps, self.filters))
        # Overlap-add: each output position sums the products that land on it
        outputs = tf.matmul(overlap_add_matrix(height, width, size)[None], products)
        outputs = tf.reshape(outputs, (-1, height + size - 1, width + size - 1, self.filters))
        if self.use_bias:
            outputs = tf.nn.bias_add(outputs, self.bias)
        return outputs if self.activation is None else self.activation(outputs)


def overlap_add_matrix(height, width, kernel_size):
    """
    :return: Constant 0/1 matrix (output positions, input positions x taps) that sums the product
             of input (i, j) and tap (ki, kj) into output (i + ki, j + kj)
    """
    out_width = width + kernel_size - 1
    matrix = np.zeros(((height + kernel_size - 1) * out_width, height, width, kernel_size, kernel_size), np.float32)
    for i, j, ki, kj in np.ndindex(height, width, kernel_size, kernel_size):
        matrix[(i + ki) * out_width + j + kj, i, j, ki, kj] = 1
    return tf.constant(matrix.reshape(len(matrix), -1))
