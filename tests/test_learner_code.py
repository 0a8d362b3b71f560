"""
graph/learner_code.py, the calls of a learner's code, on what a learner can write that the run and
problem-test tests do not: functions whose signature cannot be read, an error raised in a frozen module
of the standard library or in the project's own code, a generator that returns something else, a
model_loss that scores other images, a graded function that returns the wrong number of values, and a
loss that does not depend on its logits.
"""
import os
import re

import pytest

import dlnd_face_generation as dlnd
from facegan.core.errors import LearnerCodeError
from facegan.graph import learner_code

tf = dlnd.tf


def test_a_function_whose_signature_cannot_be_read_takes_no_extras_by_name_and_is_passed_them_all():
    # A builtin has no signature to read: it is called as the template calls it, or given every argument
    assert learner_code.accepts(max, 'keep_prob') is False
    assert learner_code.accepted(max, {'is_train': False, 'keep_prob': 1.0}) == {'is_train': False, 'keep_prob': 1.0}
    assert learner_code.accepted(lambda z, out_channel_dim, is_train=True: z, {'is_train': False, 'keep_prob': 1.0}) \
        == {'is_train': False}
    assert learner_code.check_call(max, 'train', (1, 2), {}, '(a, b)') is None  # not stopped: the call will tell
    # is_train is passed third, as the template passes it, to a generator whose parameters cannot be read
    for is_train, call in ((False, 'generator(z, 3, is_train=False)'), (None, 'generator(z, 3)')):
        with pytest.raises(LearnerCodeError, match=r'^{}, called to draw, returned int;'.format(re.escape(call))):
            learner_code.call_generator(max, 1, 3, 'to draw', is_train=is_train)  # max(1, 3[, False]): 3


def test_an_error_from_a_frozen_standard_module_is_placed_at_the_learners_line():
    """Python 3.11 and later run os.path's modules frozen ('<frozen genericpath>'): the standard library too"""
    try:
        os.path.join('faces', 1)  # the learner's mistake, raised inside the standard library
    except TypeError as err:
        frame = learner_code.learner_frame(err)
        assert not learner_code.raised_in_package(err)
    assert (frame.filename, frame.line) == (__file__, "os.path.join('faces', 1)  # the learner's mistake, raised "
                                                      "inside the standard library")


def test_a_generator_error_raised_in_the_project_keeps_its_own_type():
    """An error the package raised (a bug of the project's) is not blamed on the learner's generator"""
    def generator(z, out_channel_dim):
        return learner_code.check_returns(None, 'inner', ['x'])  # raises inside the package

    with tf.Graph().as_default():
        with pytest.raises(AssertionError, match=r'^inner returned None'):
            learner_code.call_generator(generator, tf.placeholder(tf.float32, (None, 4)), 3, 'to draw the grids')


@pytest.mark.parametrize('returned,found', [('z', r'\[None, 4\]'), ('pair', 'tuple')])
def test_a_generator_that_returns_something_else_than_images_is_one_line(returned, found):
    def generator(z, out_channel_dim):
        return z if returned == 'z' else (z, z)

    with tf.Graph().as_default():
        with pytest.raises(LearnerCodeError, match=r'^generator\(z, 3\), called to draw the grids, returned {}; it '
                                                   r'must return one tensor of images, shape \(batch, 28, 28, 3\)$'
                                             .format(found)):
            learner_code.call_generator(generator, tf.placeholder(tf.float32, (None, 4)), 3, 'to draw the grids')


def test_a_generator_failing_with_an_error_the_exercise_explains_carries_the_explanation():
    """A generator that builds its variables again on its second call, as the problem tests' hints explain"""
    def generator(z, out_channel_dim, is_train=True):
        with tf.variable_scope('generator'):  # no reuse: the second call cannot build its variables again
            return tf.reshape(tf.layers.dense(z, 28 * 28 * out_channel_dim), (-1, 28, 28, out_channel_dim))

    with tf.Graph().as_default():
        z = tf.placeholder(tf.float32, (None, 4))
        generator(z, 3)
        with pytest.raises(LearnerCodeError, match=r"^generator\(z, 3, is_train=False\), called to draw the grids, "
                                                   r"failed with ValueError: Variable generator/dense/kernel already "
                                                   r"exists.*\(the second call must reuse the first one's variables: "
                                                   r"pass reuse to tf.variable_scope\); fix generator\(\)"):
            learner_code.call_generator(generator, z, 3, 'to draw the grids', is_train=False)


def _generators(calls):
    """:return: {name: a generator that records what it was passed third}, as learners may write its signature"""
    def training(z, out_channel_dim, training=True):  # another name for the template's is_train
        calls.append(training)
        return tf.zeros((4, 28, 28, 3))

    def star_args(z, out_channel_dim, *args):
        calls.append(args)
        return tf.zeros((4, 28, 28, 3))

    def two_arguments(z, out_channel_dim):
        calls.append(())
        return tf.zeros((4, 28, 28, 3))

    return {'training': training, 'star_args': star_args, 'two_arguments': two_arguments}


@pytest.mark.parametrize('name,passed', [('training', False), ('star_args', (False,)), ('two_arguments', ())])
def test_the_run_passes_is_train_third_by_position_as_the_template_and_the_problem_test_do(name, passed):
    """A learner's name for the template's is_train (training, is_training) gets it too: the problem test passes it
    by position, so the run does; a generator with no third argument is called with two"""
    calls = []
    with tf.Graph().as_default():
        learner_code.call_generator(_generators(calls)[name], tf.placeholder(tf.float32, (None, 4)), 3, 'to draw',
                                    is_train=False)
    assert calls == [passed]


def test_an_error_inside_helper_py_from_the_learners_call_is_placed_at_the_learners_line():
    """helper.py is the project's, not the learner's: the learner's line that called it is where to fix"""
    import helper
    try:
        next(helper.Dataset.batches(None, 16.0, [0, 1]))  # the learner's mistake, a float batch size, raised in helper
    except TypeError as err:
        frame = learner_code.learner_frame(err)
    assert (frame.filename, frame.line) == (__file__, "next(helper.Dataset.batches(None, 16.0, [0, 1]))  # the "
                                                      "learner's mistake, a float batch size, raised in helper")


def test_a_notebook_cells_line_is_named_as_ipython_names_the_cell(monkeypatch):
    """IPython compiles each cell as a temporary file (/tmp/ipykernel_1/411125062.py): the message names the cell"""
    import types
    import traceback as tb
    cells = {'/tmp/ipykernel_1/411125062.py': ('Cell', 'In[12]')}  # IPython's CachingCompiler.format_code_name
    shell = types.SimpleNamespace(compile=types.SimpleNamespace(format_code_name=cells.get))
    monkeypatch.setitem(__import__('sys').modules, 'IPython', types.SimpleNamespace(get_ipython=lambda: shell))
    assert learner_code.place(tb.FrameSummary('/tmp/ipykernel_1/411125062.py', 4, 'train')) == 'cell In[12] line 4'
    assert learner_code.place(tb.FrameSummary('/home/me/my_notebook.py', 4, 'train')) == 'my_notebook.py line 4'


def test_a_problem_tests_own_assertion_from_the_learners_call_is_passed_on_as_it_is():
    def failing():
        raise AssertionError('the check inside')

    with pytest.raises(AssertionError, match=r'^the check inside$'):
        learner_code.calling('f()', failing)


@pytest.mark.parametrize('result,message', [
    ((1, 2, 3), 'model_loss returned 3 values: return (d_loss, g_loss)'),
    (5, 'model_loss returned a int: return (d_loss, g_loss)'),
])
def test_a_graded_function_returning_the_wrong_number_of_values_says_what_to_return(result, message):
    with pytest.raises(AssertionError) as failure:
        learner_code.check_returns(result, 'model_loss', ['d_loss', 'g_loss'])
    assert str(failure.value) == message


def test_model_loss_scoring_other_images_than_the_real_and_the_generated_is_one_line():
    with tf.Graph().as_default():
        input_real = tf.placeholder(tf.float32, (None, 28, 28, 3), name='input_real')
        networks = learner_code.ControlledNetworks(input_real, 3)
        with pytest.raises(AssertionError, match=r"^model_loss: discriminator was called on mul:0, which is neither "
                                                 r"input_real nor the generator's output"):
            networks.discriminator(input_real * 2)


def test_a_loss_whose_gradient_does_not_depend_on_the_logits_has_no_weight_or_target():
    with tf.Graph().as_default():
        logits = tf.placeholder(tf.float32, (None, 1))
        loss = tf.reduce_sum(logits * 0.0)  # a gradient that is there, and 0 at every logit
        with tf.Session() as sess:
            assert learner_code.slopes_and_targets(sess, tf.gradients(loss, [logits])[0], logits, {}) == (0.0, None)
