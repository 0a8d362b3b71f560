"""
The project's five problem unit tests, as the notebook called them:

    import problem_unittests as tests
    tests.test_model_inputs(model_inputs)
    tests.test_discriminator(discriminator, tf)
    tests.test_generator(generator, tf)
    tests.test_model_loss(model_loss)
    tests.test_model_opt(model_opt, tf)

`tf` may be `tensorflow` or `tensorflow.compat.v1`; the tests work in TF1 graph mode through its
`compat.v1` either way. Each builds its graph in a fresh tf.Graph, runs it on small fixed inputs,
checks what the function must do (not only its shapes) and prints "Tests Passed". A failure is an
AssertionError of one line: what was expected, what was found and why it matters for a GAN. A
function that still returns the exercise's stub (None) fails with what to implement and return.

The file reads top to bottom: one section per test; facegan/graph/learner_code.py calls the
learner's code and builds the stand-ins the tests use.
"""
import functools
import inspect
import os

import numpy as np

from facegan.core import environment

# tensorflow.compat.v1, loaded after what it needs is set (tf.layers from tf-keras), without the notes its C++ code
# prints as it starts: this file may be the first to load it (`import problem_unittests` before anything else)
tf = environment.load_tensorflow()

from facegan.core.errors import UserError, error_line  # noqa: E402
from facegan.graph import learner_code as harness  # noqa: E402


DISCRIMINATOR_RETURNS = ('output', 'logits')  # what each graded function returns, for the messages
GENERATOR_RETURNS = ('the output tensor (tanh of the last layer)',)

# Two copies of one z in a batch, or one z in two batches, can give faces that differ by rounding
# only: kernels may treat rows differently. One layer's dot product of n terms rounds to within about
# n * 6e-8 of its value relative to the sum of |terms| (float32's unit roundoff is 6e-8); the largest
# layer here sums 4 * 4 * 1024 = 16,384 terms: 1e-3. (Measured on the solution's generator, with
# oneDNN, with ONEDNN_MAX_CPU_ISA=AVX2 and without oneDNN: at most 1.3e-6.)
# A real difference is far larger: batch statistics of another batch, or dropping half the
# activations, move tanh outputs by tenths (0.43 to 1.3 for the wrong answers in
# tests/test_problem_catalogue.py).
SAME_IMAGE_TOLERANCE = 1e-3
# The targets and slopes model_loss's test reads from gradients, and the Adam steps model_opt's test
# measures, come out of a few float32 operations on values near 1: each is within 1e-6 relative of
# the exact value. 1e-3 leaves a wide margin and still tells 0.9 from 1 or beta1 0.3 from 0.5.
NUMERIC_TOLERANCE = 1e-3


# --- A fresh graph for each test, one-line failures ----------------------------------------------

# The project's own tests set this variable to leave the problem tests out of a run of the script that
# tests something else (they take seconds); a learner never needs it
SKIP_SWITCH = 'DLND_SKIP_PROBLEM_TESTS'


class ProblemTestFailure(AssertionError, UserError):
    """A problem test's failure: one line that says what to change; Jupyter and VS Code show that line alone, and
    the script run on the command line ends with it (a UserError: 'error: LINE', exit code 1), not a traceback"""

    def _render_traceback_(self):
        """:return: What IPython shows for it: the line, as Python names the error, without the frames above it"""
        return ['AssertionError: ' + str(self)]


def test_safe(func):
    """
    Isolate tests: run each in its own graph; turn a failure into one line with no harness traceback
    """
    @functools.wraps(func)
    def func_wrapper(*args, **kwargs):  # (keywords: as pytest passes them)
        __tracebackhide__ = True  # pytest leaves this frame out of its tracebacks
        if os.environ.get(SKIP_SWITCH) == '1':
            return None
        with tf.Graph().as_default():
            try:
                result = func(*args, **kwargs)
            except AssertionError as failure:
                raise ProblemTestFailure(error_line(failure)) from None
        print('Tests Passed')
        return result

    return func_wrapper


# --- model_inputs --------------------------------------------------------------------------------

def _check_input(tensor, shapes, dtype, display_name, why):
    """
    :param tensor: A placeholder model_inputs returned
    :param shapes: The shapes it may have, or None for a scalar whose rank may be left unknown
    :param dtype: Its expected dtype
    :param display_name: What the message calls it
    :param why: Why the shape matters, for the message
    """
    assert isinstance(tensor, tf.Tensor) and tensor.op.type == 'Placeholder', \
        'model_inputs: {} is not a Placeholder; make it tf.placeholder(...) so train() can feed it'.format(
            display_name)
    assert tensor.dtype == dtype, 'model_inputs: {} is {}, expected {}: {}'.format(
        display_name, tensor.dtype.name, dtype.name, 'a learning rate like 0.0005 is a float'
        if shapes is None else 'images and z are floats, and gradients flow only through floats')
    if shapes is None:
        assert tensor.get_shape().ndims in (None, 0), 'model_inputs: {} has shape {}, expected a scalar ' \
            '(shape []): one learning rate for every weight'.format(display_name, tensor.get_shape().as_list())
        return
    found = tensor.get_shape().as_list() if tensor.get_shape().ndims is not None else None
    assert found is None or len(found) != len(shapes[0]) or found[0] is None, \
        'model_inputs: {} has batch dimension {}, expected None: train() feeds batches of its batch_size ' \
        'and the sample grid feeds another size'.format(display_name, found[0])
    assert found in shapes, 'model_inputs: {} has shape {}, expected {} ({})'.format(
        display_name, found, ' or '.join(str(shape) for shape in shapes), why)


@test_safe
def test_model_inputs(model_inputs):
    """
    Placeholders: float32, batch None. The real images' shape is the Udacity template's (batch,
    image_width, image_height, channels), the order of Dataset.shape that train() unpacks, or
    TensorFlow's own (batch, height, width, channels): a non-square size (28 wide, 20 high) shows that
    the sizes passed in are used. The project's images are square (28x28), so what get_batches feeds
    fits either order. Their names are the learner's (the template's test did not check them either).
    """
    image_width = 28
    image_height = 20
    image_channels = 3
    z_dim = 100
    input_real, input_z, learn_rate = harness.check_returns(
        harness.calling('model_inputs(28, 20, 3, 100)', model_inputs, image_width, image_height, image_channels, z_dim),
        'model_inputs', ('input_real', 'input_z', 'learning_rate'))

    _check_input(input_real, [[None, image_width, image_height, image_channels],
                              [None, image_height, image_width, image_channels]], tf.float32, 'Real Input',
                 '(batch, image_width, image_height, image_channels): here width 28 and height 20, as train() '
                 'passes them')
    _check_input(input_z, [[None, z_dim]], tf.float32, 'Z Input', '(batch, z_dim)')
    _check_input(learn_rate, None, tf.float32, 'Learning Rate', '')


# --- discriminator -------------------------------------------------------------------------------

def _fixed_images(count, channels=3):
    """:return: float32 array (count, 28, 28, channels) in [-1, 1], the same at every run"""
    return np.random.RandomState(0).uniform(-1, 1, (count, 28, 28, channels)).astype(np.float32)


def _check_sigmoid(output, logits):
    """
    :param output: The discriminator's first value, as run
    :param logits: Its second value, as run
    """
    sigmoid = 1 / (1 + np.exp(-logits.astype(np.float64)))
    if np.allclose(output, sigmoid, atol=NUMERIC_TOLERANCE, rtol=0):
        return
    assert not np.allclose(logits, 1 / (1 + np.exp(-output.astype(np.float64))), atol=NUMERIC_TOLERANCE,
                           rtol=0), 'discriminator: returned (logits, output): the second value is the sigmoid ' \
                                    'of the first; return (output, logits), the order model_loss unpacks them in'
    assert not np.allclose(output, logits, atol=NUMERIC_TOLERANCE, rtol=0), \
        'discriminator: the output equals the logits (values reach {:.2f}); return (tf.sigmoid(logits), ' \
        'logits): the output is the probability that an image is real'.format(np.abs(output).max())
    raise AssertionError('discriminator: the output (values {:.2f} to {:.2f}) is not the sigmoid of the logits; '
                         'return (tf.sigmoid(logits), logits): the output is the probability that an image is '
                         'real, in [0, 1]'.format(output.min(), output.max()))


@test_safe
def test_discriminator(discriminator, tf_module):
    """
    (output, logits) in that order, output = sigmoid(logits) in [0, 1] on fixed images; variables
    under 'discriminator/'; reuse=True creates none (AUTO_REUSE passes too)
    """
    v1 = harness.v1(tf_module)
    image = v1.placeholder(tf.float32, [None, 28, 28, 3])
    why = 'one probability, one logit per image'

    output, logits = harness.check_returns(harness.calling('discriminator(images)', discriminator, image), 'discriminator',
                                    DISCRIMINATOR_RETURNS)
    harness.assert_tensor_shape(output, [None, 1], 'discriminator: Discriminator Training(reuse=false) output', why)
    harness.assert_tensor_shape(logits, [None, 1], 'discriminator: Discriminator Training(reuse=false) Logits', why)
    variables = harness.new_trainable(set(), 'discriminator', 'discriminator')

    output_reuse, logits_reuse = harness.check_returns(
        harness.calling('discriminator(images, reuse=True)', discriminator, image, True), 'discriminator(reuse=True)',
        DISCRIMINATOR_RETURNS)
    harness.assert_tensor_shape(output_reuse, [None, 1], 'discriminator: Discriminator Inference(reuse=True) output', why)
    harness.no_new_variables(variables, 'discriminator', 'Discriminator Inference(reuse=True)', 'discriminator')

    with v1.Session() as sess:
        sess.run(v1.global_variables_initializer())
        output_value, logits_value = harness.run('running discriminator(images)', sess, [output, logits],
                                          {image: _fixed_images(4)})
    _check_sigmoid(output_value, logits_value)


# --- generator -----------------------------------------------------------------------------------

DROPOUT_RATE_SLIP = ('generator: keep_prob=1.0 in training mode {}; with keep_prob=1.0 dropout must keep every '
                     'activation (the run calls it so to recompute batch norm\'s statistics), and '
                     'tf.layers.dropout takes the rate to drop: pass rate=1 - keep_prob')


def _max_difference(first, second):
    """:return: The largest absolute difference between two arrays"""
    return float(np.abs(first.astype(np.float64) - second).max())


def _check_range(outputs):
    """
    :param outputs: The generator's outputs as run
    """
    reach = float(np.abs(outputs).max())
    assert reach <= 1 + NUMERIC_TOLERANCE, 'generator: outputs reach {:.2f}; the generator must end in tanh so ' \
        'its images are in [-1, 1] like the real ones'.format(reach)
    assert outputs.min() < 0 < outputs.max(), 'generator: outputs are all in [{:.2f}, {:.2f}]; the generator ' \
        'must end in tanh so its images use [-1, 1] like the real ones (a sigmoid gives only [0, 1])'.format(
            outputs.min(), outputs.max())


def _check_training_mode_registers_updates(update_ops_added):
    """
    :param update_ops_added: How many UPDATE_OPS the training-mode call registered
    """
    averages = [var.name for var in tf.global_variables()
                if var.name.startswith('generator/') and 'moving_mean' in var.name]
    assert not averages or update_ops_added, 'generator: with is_train=True its batch norm updates no moving ' \
        'averages ({} stays put); pass training=is_train so it trains on batch statistics and keeps the ' \
        'averages that inference mode uses'.format(averages[0])


def _training_output(generator, z, keep_prob):
    """
    :return: generator(z, 5, True, keep_prob=keep_prob), built reusing the variables (as the run
        builds it to recompute batch norm's statistics); the dropout slip becomes its one line
    """
    with tf.variable_scope(tf.get_variable_scope(), reuse=True):
        try:
            return generator(z, 5, True, keep_prob=keep_prob)
        except ValueError as error:
            if keep_prob == 1 and 'rate' in str(error):
                raise AssertionError(DROPOUT_RATE_SLIP.format(
                    'raised "{}"'.format(error_line(error)))) from None
            raise AssertionError('generator(z, 5, True, keep_prob={}) raised ValueError: {}'.format(
                keep_prob, error_line(error))) from None
        except AssertionError:
            raise
        except Exception as error:  # the learner's bug, whatever it is, becomes one line
            raise AssertionError('generator(z, 5, True, keep_prob={}) raised {}: {}'.format(
                keep_prob, type(error).__name__, error_line(error))) from None


def _check_generator_runs(twins, mixed):
    """
    :param twins: Dict of the generator's outputs for one fixed z twice in a batch, by mode ('train',
        'inference', and with a keep_prob parameter 'keep 1.0' and 'keep < 1', in training mode): the
        two faces differ only where noise (dropout) enters
    :param mixed: The inference-mode outputs for that z beside another times 100
    """
    _check_range(twins['train'])
    _check_range(twins['inference'])
    _check_range(mixed[1:])  # without a tanh at the end, a large z gives large outputs in inference mode
    difference = _max_difference(twins['inference'][0], twins['inference'][1])
    assert difference <= SAME_IMAGE_TOLERANCE, 'generator: with is_train=False the same z gives faces that ' \
        'differ by {:.3f}; dropout must be off in inference (training=is_train), or the samples change at each ' \
        'run'.format(difference)
    difference = _max_difference(twins['inference'][:1], mixed[:1])
    assert difference <= SAME_IMAGE_TOLERANCE, 'generator: with is_train=False a face changes by {:.3f} when ' \
        'the rest of its batch changes; batch norm must use its moving averages in inference ' \
        '(training=is_train), so each face depends on its own z only'.format(difference)
    if 'keep 1.0' in twins:
        difference = _max_difference(twins['keep 1.0'][0], twins['keep 1.0'][1])
        assert difference <= SAME_IMAGE_TOLERANCE, DROPOUT_RATE_SLIP.format(
            'gives faces of the same z that differ by {:.3f}'.format(difference))
        assert _max_difference(twins['keep < 1'][0], twins['keep < 1'][1]) > SAME_IMAGE_TOLERANCE, 'generator: ' \
            'with keep_prob below 1 in training mode the same z gives the same face; dropout must drop while ' \
            'training (tf.layers.dropout(x, rate=1 - keep_prob, training=is_train))'


@test_safe
def test_generator(generator, tf_module):
    """
    Output 28x28xC in [-1, 1] using both signs (tanh); variables under 'generator/', reused with
    is_train=False (reuse=not is_train or AUTO_REUSE); in inference mode the same z gives the same
    face and a face does not depend on its batch; batch norm keeps its averages in training mode. With a keep_prob
    parameter (the article's), training mode with keep_prob=1.0 is deterministic and with 0.5 not.
    """
    v1 = harness.v1(tf_module)
    z = v1.placeholder(tf.float32, [None, 100])
    out_channel_dim = 5
    why = '28x28 images with out_channel_dim channels, like the real ones'

    updates_before = len(tf.get_collection(tf.GraphKeys.UPDATE_OPS))
    outputs = {}
    outputs['train'], = harness.check_returns(harness.calling('generator(z, 5)', generator, z, out_channel_dim), 'generator',
                                       GENERATOR_RETURNS)
    harness.assert_tensor_shape(outputs['train'], [None, 28, 28, out_channel_dim],
                         'generator: Generator output (is_train=True)', why)
    variables = harness.new_trainable(set(), 'generator', 'generator')
    _check_training_mode_registers_updates(len(tf.get_collection(tf.GraphKeys.UPDATE_OPS)) - updates_before)

    outputs['inference'], = harness.check_returns(
        harness.calling('generator(z, 5, is_train=False)', generator, z, out_channel_dim, False),
        'generator(is_train=False)', GENERATOR_RETURNS)
    harness.assert_tensor_shape(outputs['inference'], [None, 28, 28, out_channel_dim],
                         'generator: Generator output (is_train=False)', why)
    harness.no_new_variables(variables, 'generator', 'Generator Inference(reuse=True)', 'generator')
    if harness.accepts(generator, 'keep_prob'):
        outputs['keep 1.0'] = _training_output(generator, z, 1.0)
        default = inspect.signature(generator).parameters['keep_prob'].default
        # the training-mode output already has dropout on when keep_prob's default is below 1 (0.5)
        outputs['keep < 1'] = (outputs['train'] if isinstance(default, float) and 0 < default < 1
                               else _training_output(generator, z, 0.5))

    # One z twice, then beside another: each image costs the project's generator about 0.1 s of CPU
    z_values = np.random.RandomState(0).uniform(-1, 1, (2, 100)).astype(np.float32)
    names = sorted(outputs)  # 'train' and 'keep < 1' may be one tensor: fetched once
    with v1.Session() as sess:
        sess.run(v1.global_variables_initializer())
        twins = dict(zip(names, harness.run('running generator', sess, [outputs[name] for name in names],
                                     {z: z_values[[0, 0]]})))
        mixed = harness.run('running generator(z, 5, False)', sess, outputs['inference'],
                     {z: z_values * np.float32([[1], [100]])})
    _check_generator_runs(twins, mixed)


# --- model_loss ----------------------------------------------------------------------------------

SMOOTH_FACTOR = 0.3  # passed when model_loss takes smooth_factor (the article's): real labels 0.7


def _check_loss_targets(d_real, d_fake, g_real, g_fake, smoothing):
    """
    :param d_real: (weight, target) of d_loss against the real images' logits; d_fake, g_real, g_fake alike
    :param smoothing: The smooth_factor passed, or None when model_loss takes none
    """
    assert d_real[0] or not g_real[0], 'model_loss: returned (g_loss, d_loss): the first loss does not depend on ' \
        'the discriminator\'s logits on real images, the second does; return (d_loss, g_loss)'
    assert d_real[0], 'model_loss: d_loss does not depend on the discriminator\'s logits on real images; add the ' \
        'cross-entropy of d_logits_real against labels of 1: the discriminator must learn what real images are'
    assert g_fake[0], 'model_loss: g_loss does not change with the discriminator\'s logits on generated images ' \
        '(found constant); make it the cross-entropy of d_logits_fake against labels of 1, or the generator gets ' \
        'no gradient'
    assert d_fake[0], 'model_loss: d_loss does not depend on the discriminator\'s logits on generated images; add ' \
        'the cross-entropy of d_logits_fake against labels of 0: the discriminator must learn to spot fakes'
    assert not (d_real[1] < 0.5 < d_fake[1]), 'model_loss: d_loss labels real images {:.2f} and generated ones ' \
        '{:.2f}; swap them: the discriminator must score real images high and fakes low'.format(d_real[1], d_fake[1])
    assert d_real[0] > 0 and d_real[1] > 0.5, 'model_loss: d_loss falls as the discriminator scores real images ' \
        'low (target {:.2f}); label real images 1 (or 1 - smooth_factor): it must score them high'.format(d_real[1])
    assert d_fake[0] > 0 and d_fake[1] < 0.5, 'model_loss: d_loss falls as the discriminator scores generated ' \
        'images high (target {:.2f}); label them 0: it must score fakes low'.format(d_fake[1])
    assert not (g_fake[0] < 0), 'model_loss: g_loss is minus the discriminator\'s loss on fakes (the saturating ' \
        'minimax form), whose gradient vanishes while the discriminator rejects the fakes, as it does early on; ' \
        'use the cross-entropy of d_logits_fake against labels of 1'
    assert g_fake[1] > 0.5, 'model_loss: g_loss labels generated images {:.2f}, so it falls as the discriminator ' \
        'rejects them; use labels of 1 (tf.ones_like): the generator must make fakes the discriminator scores ' \
        'high'.format(g_fake[1])
    if smoothing is not None:
        assert abs(d_real[1] - (1 - smoothing)) <= NUMERIC_TOLERANCE, 'model_loss: with smooth_factor={} real ' \
            'images are labelled {:.2f}, expected {:.2f}; multiply the real labels by (1 - smooth_factor): label ' \
            'smoothing keeps the discriminator from growing over-confident'.format(smoothing, d_real[1], 1 - smoothing)


def _loss_with_controlled_logits(model_loss, out_channel_dim):
    """
    Build model_loss with the stand-in networks and read what each loss does with the logits
    :return: ((d_loss, g_loss) as weights and targets: see _check_loss_targets; whether each gradient fades away
             from its target: see _check_loss_of_logits; smooth_factor passed or None)
    """
    input_real = tf.placeholder(tf.float32, [None, 28, 28, out_channel_dim])
    input_z = tf.placeholder(tf.float32, [None, 100])
    smoothing = SMOOTH_FACTOR if harness.accepts(model_loss, 'smooth_factor') else None
    kwargs = {} if smoothing is None else {'smooth_factor': smoothing}
    with harness.ControlledNetworks(input_real, out_channel_dim).install(model_loss) as networks:
        d_loss, g_loss = harness.check_returns(
            harness.calling('model_loss(input_real, input_z, 4)', model_loss, input_real, input_z, out_channel_dim, **kwargs),
            'model_loss', ('d_loss', 'g_loss'))
    for loss, name in ((d_loss, 'Discriminator Loss'), (g_loss, 'Generator Loss')):
        harness.assert_tensor_shape(loss, [], 'model_loss: ' + name, 'return one number (tf.reduce_mean of the '
                                                              'cross-entropy): the optimizer minimises a scalar')
    assert networks.fake_images is not None, 'model_loss: it never called generator(input_z, out_channel_dim) ' \
        'by that name; the discriminator must score the notebook\'s generator\'s images'
    feed = {input_real: np.zeros((4, 28, 28, out_channel_dim), np.float32),
            input_z: np.zeros((4, 100), np.float32),
            networks.real_logits: np.zeros((4, 1), np.float32), networks.fake_logits: np.zeros((4, 1), np.float32)}
    pairs = [(tf.gradients(loss, [logits])[0], logits) for loss in (d_loss, g_loss)
             for logits in (networks.real_logits, networks.fake_logits)]
    with tf.Session() as sess:
        measured = [harness.slopes_and_targets(sess, gradient, logits, feed) for gradient, logits in pairs]
        faded = [target is not None and harness.fades_away_from_target(sess, gradient, logits, feed, target)
                 for (gradient, logits), (_, target) in zip(pairs, measured)]
    return measured, faded, smoothing


def _check_loss_of_logits(faded):
    """
    :param faded: For d_loss on real and generated images' logits, then g_loss on each: whether its gradient fades as
                  the logits move away from its labels (learner_code.fades_away_from_target)
    """
    for (loss, images), fades in zip([(l, i) for l in ('d_loss', 'g_loss') for i in ('real', 'generated')], faded):
        assert not fades, 'model_loss: {}\'s gradient fades as the discriminator\'s logits on {} images move away ' \
            'from its labels, as a cross-entropy of the logits never does: pass the discriminator\'s logits (its ' \
            'second output), not its sigmoid output, as logits= to tf.nn.sigmoid_cross_entropy_with_logits'.format(
                loss, images)


@test_safe
def test_model_loss(model_loss):
    """
    With the discriminator's logits under the test's control: order (d_loss, g_loss), scalars; d_loss
    falls as real images score high and fakes low; g_loss falls as fakes score high, with the
    non-saturating labels of 1; with a smooth_factor parameter (the article's), passed 0.3, real images
    are labelled 0.7 (the template's signature has none: then any real label above 0.5 passes). Then
    model_loss is built with the notebook's own networks, which must share the discriminator's weights.
    """
    (d_real, d_fake, g_real, g_fake), faded, smoothing = _loss_with_controlled_logits(model_loss, 4)
    _check_loss_targets(d_real, d_fake, g_real, g_fake, smoothing)
    _check_loss_of_logits(faded)

    with tf.Graph().as_default():
        input_real = tf.placeholder(tf.float32, [None, 28, 28, 4])
        input_z = tf.placeholder(tf.float32, [None, 100])
        d_loss, g_loss = harness.check_returns(
            harness.calling('model_loss(input_real, input_z, 4) with your generator and discriminator', model_loss,
                     input_real, input_z, 4), 'model_loss', ('d_loss', 'g_loss'))
        harness.assert_tensor_shape(d_loss, [], 'model_loss: Discriminator Loss', 'return one number')
        harness.assert_tensor_shape(g_loss, [], 'model_loss: Generator Loss', 'return one number')


# --- model_opt -----------------------------------------------------------------------------------

LEARNING_RATE, BETA1 = 0.0025, 0.3  # neither Adam's defaults (0.001, 0.9) nor the notebook's (0.0005, 0.5)


def _check_step(sess, toy, op, net, other, feed):
    """
    Run one step of a network's training op and check what it moved
    :param op: The op model_opt returned for net
    :param net: 'discriminator' or 'generator'; other: the other one
    :param feed: The feed for the step (the probe's gradient +1)
    :return: The probe's step
    """
    watched = toy['discriminator'] + toy['generator'] + toy[net + '_averages']
    before = dict(zip([var.name for var in watched], sess.run(watched)))
    harness.run('running {}\'s training op'.format(net), sess, op, feed)
    moved = harness.moved(before, dict(zip([var.name for var in watched], sess.run(watched))))
    own = [name for name in moved if name in {var.name for var in toy[net]}]
    others = [name for name in moved if name in {var.name for var in toy[other]}]
    assert own or not others, 'model_opt: the {} training op trains the {}: return (d_train_opt, ' \
        'g_train_opt) in that order'.format(net, other)
    assert not others, 'model_opt: the {} training op changed the {}\'s variables ({}); pass var_list= the ' \
        'variables under \'{}/\' only, so each network learns from its own loss'.format(net, other, others[0], net)
    assert own, 'model_opt: the {} training op did not change its variables; minimise its loss over the ' \
        'variables under \'{}/\''.format(net, net)
    averages = [var.name for var in toy[net + '_averages']]
    assert any(name in moved for name in averages), 'model_opt: the {} training op left batch norm\'s moving ' \
        'averages ({}) unchanged; build it under tf.control_dependencies(tf.get_collection(' \
        'tf.GraphKeys.UPDATE_OPS)), or inference mode uses stale statistics'.format(net, averages[0])
    return float(before[toy[net + '_probe'].name] - sess.run(toy[net + '_probe']))


def _check_adam(net, first_step, second_step):
    """
    Adam's first step is learning_rate * sign(gradient) per weight, whatever beta1; after a gradient of
    +1 then -1 its second step is -learning_rate * (1 - beta1) / (1 + beta1)
    :param first_step: The probe's first step, with gradient +1
    :param second_step: Its second, with gradient -1
    """
    assert abs(first_step - LEARNING_RATE) <= NUMERIC_TOLERANCE * LEARNING_RATE, 'model_opt: the {} optimizer\'s ' \
        'first step was {:.5f}, expected the learning_rate passed in, {}: pass learning_rate to ' \
        'tf.train.AdamOptimizer, so the notebook\'s hyperparameter is the one that trains'.format(
            net, first_step, LEARNING_RATE)
    ratio = -second_step / first_step
    beta1 = (1 - ratio) / (1 + ratio)
    assert abs(beta1 - BETA1) <= NUMERIC_TOLERANCE, 'model_opt: the {} optimizer steps as Adam with beta1 = {:.2f}, ' \
        'expected the beta1 passed in, {}: pass beta1=beta1 to tf.train.AdamOptimizer (the DCGAN paper\'s 0.5 ' \
        'steadies GAN training; the default 0.9 oscillates)'.format(net, beta1, BETA1)


@test_safe
def test_model_opt(model_opt, tf_module):
    """
    On a toy GAN with batch norms: each op moves only its network's variables and runs the
    moving-average updates (UPDATE_OPS); the learning_rate placeholder's value (0.0025) and beta1 (0.3)
    are the ones Adam uses, read from the steps of a probe variable
    """
    v1 = harness.v1(tf_module)
    toy = harness.toy_gan()
    learning_rate = v1.placeholder(tf.float32, name='learning_rate')
    d_train_opt, g_train_opt = harness.check_returns(
        harness.calling('model_opt(d_loss, g_loss, learning_rate, beta1)', model_opt, toy['d_loss'], toy['g_loss'],
                 learning_rate, BETA1), 'model_opt', ('d_train_opt', 'g_train_opt'))
    for op, name in ((d_train_opt, 'd_train_opt'), (g_train_opt, 'g_train_opt')):
        assert isinstance(op, (tf.Operation, tf.Tensor)), 'model_opt: {} is a {}, not a training op: return ' \
            'optimizer.minimize(loss, var_list=...)'.format(name, type(op).__name__)

    with v1.Session() as sess:
        for net, other, op in (('discriminator', 'generator', d_train_opt),
                               ('generator', 'discriminator', g_train_opt)):
            # From the start for each network: one Adam shared by both ops counts both ops' steps
            sess.run(v1.global_variables_initializer())
            feed = {learning_rate: LEARNING_RATE, toy[other + '_feed']: 0.0, toy[net + '_feed']: 1.0}
            first_step = _check_step(sess, toy, op, net, other, feed)
            feed[toy[net + '_feed']] = -1.0
            probe = sess.run(toy[net + '_probe'])
            harness.run('running {}\'s training op'.format(net), sess, op, feed)
            _check_adam(net, first_step, float(probe - sess.run(toy[net + '_probe'])))

