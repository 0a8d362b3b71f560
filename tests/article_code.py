"""
The article's model functions ("Celebrity face generation using GANs (Tensorflow implementation)"),
as printed, for the problem tests to judge: `discriminator`, `generator` and `model_loss`. The only
change is `tf.contrib.layers.xavier_initializer()`, gone from TensorFlow 2, replaced by
`tf.glorot_uniform_initializer()`, the same initializer.

`generator` keeps the article's slip, `tf.layers.dropout(x, keep_prob, training=is_train)`: it passes
keep_prob where tf.layers.dropout takes the rate to drop (the same at 0.5; with keep_prob=1.0 it
raises). `generator_fixed` is the same function with `rate=1 - keep_prob`.

Where this copy is unsure of what the article printed, a comment says so. `model_inputs` and
`model_opt` are the Udacity template's functions, not the article's: use the solution's.
"""
import tensorflow.compat.v1 as tf



def discriminator(images, reuse=False, alpha=0.2, keep_prob=0.5):
    with tf.variable_scope('discriminator', reuse=reuse):
        # Input layer is 28x28x3
        conv1 = tf.layers.conv2d(images, 64, 5, strides=2, padding='same',
                                 kernel_initializer=tf.glorot_uniform_initializer())
        lrelu1 = tf.maximum(alpha * conv1, conv1)
        drop1 = tf.layers.dropout(lrelu1, keep_prob)
        # 14x14x64
        conv2 = tf.layers.conv2d(drop1, 128, 5, strides=2, padding='same',
                                 kernel_initializer=tf.glorot_uniform_initializer())
        # No `training` argument, as the project's README and solution record the article's call (so
        # it normalises with the initial averages); a summary of the article seen while writing this
        # copy said training=True instead. Either way the problem tests pass it.
        bn2 = tf.layers.batch_normalization(conv2)
        lrelu2 = tf.maximum(alpha * bn2, bn2)
        drop2 = tf.layers.dropout(lrelu2, keep_prob)
        # 7x7x128
        conv3 = tf.layers.conv2d(drop2, 256, 5, strides=2, padding='same',
                                 kernel_initializer=tf.glorot_uniform_initializer())
        bn3 = tf.layers.batch_normalization(conv3)
        lrelu3 = tf.maximum(alpha * bn3, bn3)
        drop3 = tf.layers.dropout(lrelu3, keep_prob)
        # 4x4x256
        flat = tf.reshape(drop3, (-1, 4 * 4 * 256))
        logits = tf.layers.dense(flat, 1)
        out = tf.sigmoid(logits)
        return out, logits


def generator(z, out_channel_dim, is_train=True, alpha=0.2, keep_prob=0.5):
    # Whether the article's generator passed a kernel_initializer to its layers is not recorded
    # here: none is passed (tf.layers' default, Glorot uniform, is the same initializer anyway)
    with tf.variable_scope('generator', reuse=(not is_train)):
        x1 = tf.layers.dense(z, 4 * 4 * 1024)
        x1 = tf.reshape(x1, (-1, 4, 4, 1024))
        bn1 = tf.layers.batch_normalization(x1, training=is_train)
        lrelu1 = tf.maximum(alpha * bn1, bn1)
        drop1 = tf.layers.dropout(lrelu1, keep_prob, training=is_train)
        # 4x4x1024
        x2 = tf.layers.conv2d_transpose(drop1, 512, 4, strides=1, padding='valid')
        bn2 = tf.layers.batch_normalization(x2, training=is_train)
        lrelu2 = tf.maximum(alpha * bn2, bn2)
        drop2 = tf.layers.dropout(lrelu2, keep_prob, training=is_train)
        # 7x7x512
        x3 = tf.layers.conv2d_transpose(drop2, 256, 5, strides=2, padding='same')
        bn3 = tf.layers.batch_normalization(x3, training=is_train)
        lrelu3 = tf.maximum(alpha * bn3, bn3)
        drop3 = tf.layers.dropout(lrelu3, keep_prob, training=is_train)
        # 14x14x256
        logits = tf.layers.conv2d_transpose(drop3, out_channel_dim, 5, strides=2, padding='same')
        # 28x28xout_channel_dim
        out = tf.tanh(logits)
        return out


def generator_fixed(z, out_channel_dim, is_train=True, alpha=0.2, keep_prob=0.5):
    """The article's generator with its slip fixed: dropout's rate is 1 - keep_prob"""
    with tf.variable_scope('generator', reuse=(not is_train)):
        x1 = tf.layers.dense(z, 4 * 4 * 1024)
        x1 = tf.reshape(x1, (-1, 4, 4, 1024))
        bn1 = tf.layers.batch_normalization(x1, training=is_train)
        lrelu1 = tf.maximum(alpha * bn1, bn1)
        drop1 = tf.layers.dropout(lrelu1, rate=1 - keep_prob, training=is_train)
        x2 = tf.layers.conv2d_transpose(drop1, 512, 4, strides=1, padding='valid')
        bn2 = tf.layers.batch_normalization(x2, training=is_train)
        lrelu2 = tf.maximum(alpha * bn2, bn2)
        drop2 = tf.layers.dropout(lrelu2, rate=1 - keep_prob, training=is_train)
        x3 = tf.layers.conv2d_transpose(drop2, 256, 5, strides=2, padding='same')
        bn3 = tf.layers.batch_normalization(x3, training=is_train)
        lrelu3 = tf.maximum(alpha * bn3, bn3)
        drop3 = tf.layers.dropout(lrelu3, rate=1 - keep_prob, training=is_train)
        logits = tf.layers.conv2d_transpose(drop3, out_channel_dim, 5, strides=2, padding='same')
        out = tf.tanh(logits)
        return out


def model_loss(input_real, input_z, out_channel_dim, alpha=0.2, smooth_factor=0.1):
    g_model = generator(input_z, out_channel_dim, alpha=alpha)
    d_model_real, d_logits_real = discriminator(input_real, alpha=alpha)
    d_model_fake, d_logits_fake = discriminator(g_model, reuse=True, alpha=alpha)

    d_loss_real = tf.reduce_mean(
        tf.nn.sigmoid_cross_entropy_with_logits(logits=d_logits_real,
                                                labels=tf.ones_like(d_model_real) * (1 - smooth_factor)))
    d_loss_fake = tf.reduce_mean(
        tf.nn.sigmoid_cross_entropy_with_logits(logits=d_logits_fake, labels=tf.zeros_like(d_model_fake)))
    g_loss = tf.reduce_mean(
        tf.nn.sigmoid_cross_entropy_with_logits(logits=d_logits_fake, labels=tf.ones_like(d_model_fake)))

    d_loss = d_loss_real + d_loss_fake

    return d_loss, g_loss
