"""The five problem unit tests, called as the notebook called them and run by pytest, and shown able to fail."""
import os
import re
import subprocess
import sys

import pytest
import tensorflow

import dlnd_face_generation as dlnd
import problem_unittests as tests
from conftest import GUARD_SECONDS, ROOT, child_env
from facegan.app import interrupts


def test_problem_unittests_pass_on_the_project(capsys):
    """(With `tensorflow` itself as tf, as a notebook may pass it: test_problem_catalogue.py)"""
    tests.test_model_inputs(dlnd.model_inputs)
    tests.test_discriminator(dlnd.discriminator, dlnd.tf)
    tests.test_generator(dlnd.generator, dlnd.tf)
    tests.test_model_loss(dlnd.model_loss)
    tests.test_model_opt(dlnd.model_opt, dlnd.tf)
    assert capsys.readouterr().out.count('Tests Passed') == 5


def test_pytest_runs_the_five_on_the_scripts_functions_and_test_safe_is_no_test(pytester, monkeypatch):
    """`python -m pytest problem_unittests.py` in the project's folder, as a learner who knows pytest runs them
    (here in this process): the project's top conftest.py gives each the functions of dlnd_face_generation.py its
    arguments name"""
    monkeypatch.chdir(ROOT)
    monkeypatch.delenv(tests.SKIP_SWITCH, raising=False)  # they run whatever the caller's shell exported
    result = pytester.runpytest_inprocess('problem_unittests.py', '-n', '0', '-p', 'no:cacheprovider', '-rA')
    assert result.ret == 0, result.outlines[-30:]
    passed = [line.split('::')[1] for line in result.outlines if line.startswith('PASSED problem_unittests.py::')]
    assert sorted(passed) == sorted('test_{}[dlnd_face_generation]'.format(name) for name in (
        'model_inputs', 'discriminator', 'generator', 'model_loss', 'model_opt'))


def test_the_readmes_snippet_imports_problem_unittests_first_without_tensorflows_start_up_notes():
    """A fresh Python in the project folder, as a learner runs the README's lines: problem_unittests.py loads
    TensorFlow (the problem tests themselves are switched off here; the test above calls them)"""
    with open(os.path.join(ROOT, 'README.md'), encoding='utf-8') as f:
        snippet = re.search(r'```python\n(import problem_unittests as tests\n.*?)```', f.read(), re.S).group(1)
    assert 'tests.test_model_opt(model_opt, tf)' in snippet
    result = subprocess.run([sys.executable, '-c', snippet], capture_output=True, text=True, cwd=ROOT,
                            env=child_env(), timeout=GUARD_SECONDS)
    assert (result.returncode, result.stderr) == (0, '')


def test_a_failed_problem_test_ends_the_script_in_its_one_line(capsys):
    """On the command line the script's hook (interrupts.install) ends a UserError with its line, exit code 1"""
    with pytest.raises(tests.ProblemTestFailure) as failure:
        tests.test_model_inputs(lambda image_width, image_height, image_channels, z_dim: None)
    assert str(failure.value).startswith('model_inputs returned None: implement it where it says TODO')
    assert interrupts.is_reported(failure.value) and interrupts.report(failure.value) == 1
    assert capsys.readouterr().err == 'error: {}\n'.format(failure.value)


def test_model_loss_checks_the_generator_loss_shape():
    """The original asserted the discriminator loss twice; a per-example g_loss slipped through."""
    def per_example_g_loss(input_real, input_z, out_channel_dim):
        d_loss, _ = dlnd.model_loss(input_real, input_z, out_channel_dim)
        return d_loss, tensorflow.zeros([7])

    # The one error the check promises, word for word: an AssertionError (what the notebook shows a learner as the
    # test's failure) naming the loss and the shape found; a ValueError from TensorFlow further on is not it
    with pytest.raises(AssertionError) as failure:
        tests.test_model_loss(per_example_g_loss)
    assert str(failure.value) == ('model_loss: Generator Loss has shape [7], expected []: return one number '
                                  '(tf.reduce_mean of the cross-entropy): the optimizer minimises a scalar')


def test_model_inputs_names_the_failing_input():
    def bad_z(image_width, image_height, image_channels, z_dim):
        real, _, lr = dlnd.model_inputs(image_width, image_height, image_channels, z_dim)
        return real, dlnd.tf.placeholder(dlnd.tf.float32, (None, z_dim + 1)), lr

    with pytest.raises(AssertionError, match='Z Input'):
        tests.test_model_inputs(bad_z)


def test_generator_test_catches_inference_without_reuse():
    """An inference-mode generator that builds new variables must fail the reuse case."""
    def generator_without_reuse(z, out_channel_dim, is_train=True):
        with dlnd.tf.variable_scope('generator', reuse=not is_train):
            # tf.Variable ignores the scope's reuse flag: a new kernel on every call
            kernel = dlnd.tf.Variable(dlnd.tf.zeros([z.shape[1], 28 * 28 * out_channel_dim]))
            return dlnd.tf.reshape(dlnd.tf.matmul(z, kernel), (-1, 28, 28, out_channel_dim))

    with pytest.raises(AssertionError, match='new variables'):
        tests.test_generator(generator_without_reuse, dlnd.tf)


def test_discriminator_test_catches_a_reusing_call_that_makes_new_variables():
    """A discriminator whose reuse=True call builds a second set of weights must fail the reuse case."""
    def discriminator_without_reuse(images, reuse=False):
        with dlnd.tf.variable_scope('discriminator', reuse=reuse):
            # tf.Variable ignores the scope's reuse flag: a new kernel on every call, no error
            kernel = dlnd.tf.Variable(dlnd.tf.zeros([28 * 28 * 3, 1]))
            logits = dlnd.tf.matmul(dlnd.tf.reshape(images, (-1, 28 * 28 * 3)), kernel)
            return dlnd.tf.sigmoid(logits), logits

    with pytest.raises(AssertionError, match=r'^discriminator: Discriminator Inference\(reuse=True\) created new '
                                             r'variables \(discriminator_1/Variable:0\)'):
        tests.test_discriminator(discriminator_without_reuse, dlnd.tf)


def test_model_opt_test_catches_an_optimizer_over_all_variables():
    def opt_over_everything(d_loss, g_loss, learning_rate, beta1):
        # A common slip: one loss over every trainable variable moves both networks
        every_var = dlnd.tf.trainable_variables()
        d_opt = dlnd.tf.train.AdamOptimizer(learning_rate, beta1=beta1).minimize(d_loss + g_loss, var_list=every_var)
        g_opt = dlnd.tf.train.AdamOptimizer(learning_rate, beta1=beta1).minimize(d_loss + g_loss, var_list=every_var)
        return d_opt, g_opt

    with pytest.raises(AssertionError, match='changed the'):
        tests.test_model_opt(opt_over_everything, dlnd.tf)
