"""
A learner's train(), as the Udacity template's usual solution writes it (the article's repository): the
template's skeleton filled in (model_inputs, model_loss and model_opt, then a plain `with tf.Session()` loop over
get_batches), two session.run calls a step, the losses printed with eval(), show_generator_output now and then.
The notebook tests paste it into the exercise and into the template's cells; the training-run tests run it
through runs.train. It is source text, run in the notebook's namespace (its model functions, tf, np).
"""

_PLAIN_TRAIN = '''\
def train(epoch_count, batch_size, z_dim, learning_rate, beta1, get_batches, data_shape, data_image_mode):
    input_real, input_z, lr = model_inputs(data_shape[1], data_shape[2], data_shape[3], z_dim)
    d_loss, g_loss = model_loss(input_real, input_z, data_shape[3])
    d_train_opt, g_train_opt = model_opt(d_loss, g_loss, lr, beta1)
    steps = 0
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for epoch_i in range(epoch_count):
            for batch_images in get_batches(batch_size):
                steps += 1
                batch_z = np.random.uniform(-1, 1, size=(batch_size, z_dim))
                feed = {input_real: batch_images * 2, input_z: batch_z, lr: learning_rate}
                sess.run(d_train_opt, feed_dict=feed)
                sess.run(g_train_opt, feed_dict=feed)
                if steps % PRINT_EVERY == 0:
                    train_loss_d = d_loss.eval(feed)
                    train_loss_g = g_loss.eval({input_z: batch_z})
                    print('Epoch {}/{}... Discriminator Loss: {:.4f}... Generator Loss: {:.4f}'.format(
                        epoch_i + 1, epoch_count, train_loss_d, train_loss_g))
                if steps % SHOW_EVERY == 0:
                    show_generator_output(sess, 4, input_z, data_shape[3], data_image_mode)
'''


def plain_train(print_every=1, show_every=3):
    """:return: The source of the learner's train(), printing the losses and showing samples that often (steps)"""
    return _PLAIN_TRAIN.replace('PRINT_EVERY', str(print_every)).replace('SHOW_EVERY', str(show_every))
