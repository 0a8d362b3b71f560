"""
The averaged generator: a moving average of the generator's weights over the training steps, kept
beside them and drawn from instead (Yazici et al. 2019, "The Unusual Effectiveness of Averaging in
GAN Training"; ProGAN and StyleGAN draw from such an average). Training itself is unchanged.

Each generator step also moves the average toward the new weights, as a control dependency of the
step: while train() builds its graph (in_optimizers), an optimizer's step over the generator's
variables returns that step and the update together, so a learner's own model_opt and train() loop
update it too. The average is bias-corrected, so a short run's is not mostly its initial weights:
after the t-th step,

    average_t = average_{t-1} + k_t * (w_t - average_{t-1}),   k_t = (1 - decay) / (1 - decay^t),

the mean of the weights w_1 ... w_t after each step, weighted decay^(t - i) (k_1 = 1: the first
step's weights). Drawing from it builds the learner's generator() again under the scope 'averaged/',
whose variable getter hands it the average of each weight, and batch-norm statistics of its own.
"""
import contextlib

import tensorflow.compat.v1 as tf

SCOPE = 'averaged'  # the averages are variables averaged/generator/..., and steps averaged/steps
GENERATOR_SCOPE = 'generator/'  # model_opt picks the generator's variables by this start of their names


class Averages(object):
    """The average of one graph's generator weights, and how many steps it has averaged."""

    def __init__(self, decay, weights):
        """
        :param decay: How much of the average each step keeps, in (0, 1)
        :param weights: The generator's trainable variables
        """
        self.decay = decay
        with tf.variable_scope(SCOPE, reuse=tf.AUTO_REUSE):
            self.steps = tf.get_variable('steps', (), tf.int64, tf.zeros_initializer(), trainable=False)
            self.of = {weight.op.name: tf.get_variable(weight.op.name, weight.shape, weight.dtype.base_dtype,
                                                       tf.zeros_initializer(), trainable=False)
                       for weight in weights}
        self._weights = list(weights)

    def after(self, step):
        """
        :param step: An optimizer's step over the generator's weights
        :return: An op that runs the step, then moves each average toward the weights it left (k_t above)
        """
        with tf.control_dependencies([step]), tf.name_scope(SCOPE + '/update'):
            steps = tf.assign_add(self.steps, 1)
            k = tf.cast((1 - self.decay) / (1 - tf.pow(tf.constant(self.decay, tf.float64),
                                                          tf.cast(steps, tf.float64))), tf.float32)
            moves = [tf.assign_add(self.of[weight.op.name], k * (weight.read_value() - self.of[weight.op.name]))
                     for weight in self._weights]
        return tf.group(step, *moves)


@contextlib.contextmanager
def in_optimizers(decay):
    """
    While the block builds a graph, an optimizer's step over the generator's variables (all of them named
    generator/..., as model_opt picks them) also updates their average (Averages.after)
    :param decay: The average's decay per step
    :return: (yields) A list that gets the Averages made in the block (one per graph)
    """
    original = tf.train.Optimizer.apply_gradients
    made = []

    def apply_gradients(optimizer, grads_and_vars, global_step=None, name=None):
        grads_and_vars = list(grads_and_vars)
        step = original(optimizer, grads_and_vars, global_step=global_step, name=name)
        weights = [var for grad, var in grads_and_vars if grad is not None]
        if not weights or not all(var.op.name.startswith(GENERATOR_SCOPE) for var in weights):
            return step
        averages = next((a for a in made if a.steps.graph is tf.get_default_graph()), None)
        if averages is None:
            averages = Averages(decay, weights)
            made.append(averages)
        return averages.after(step)

    tf.train.Optimizer.apply_gradients = apply_gradients
    try:
        yield made
    finally:
        tf.train.Optimizer.apply_gradients = original


@contextlib.contextmanager
def on_averaged_weights(averages):
    """
    While the block builds a graph, a generator built in it takes its trainable weights' averages: its
    variables are looked up under 'averaged/', where each weight's average is handed over, and batch norm's
    statistics (not trained, so not averaged) are made anew, the averaged generator's own
    :param averages: Averages of the graph
    """
    def getter(getter, name, *args, **kwargs):  # TensorFlow passes the getter it wraps by that name
        plain = name[len(SCOPE) + 1:]
        return averages.of[plain] if plain in averages.of else getter(name, *args, **kwargs)

    with tf.variable_scope(SCOPE, custom_getter=getter, reuse=tf.AUTO_REUSE, auxiliary_name_scope=False):
        with tf.name_scope(SCOPE + '_generator'):
            yield


def weights_used(averages, sess):
    """:return: 'averaged' when the average has had a step, else 'raw' (the generator's own weights)"""
    return 'averaged' if averages is not None and sess.run(averages.steps) > 0 else 'raw'
