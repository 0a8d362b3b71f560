"""A learner's own functions: the run calls them as they can be called, and stops in one line when they fail."""
import functools

import numpy as np
import pytest

import dlnd_face_generation as dlnd
from facegan import batch_norm, interrupts, training_run
from facegan.learner_code import LearnerCodeError

tf = dlnd.tf


def _train_one_step(tmp_path, monkeypatch, generator):
    """Train the notebook's model with generator in its place, one step on a blank batch."""
    monkeypatch.setattr(dlnd, 'generator', generator)  # model_loss and train() look it up here
    images = np.zeros((4, 28, 28, 3), np.float32)
    options = training_run.RunOptions(output_dir=str(tmp_path), max_steps=1, eval_every=0, calibration_z=4)
    with tf.Graph().as_default():
        return dlnd.train(1, 4, 8, 0.0005, 0.5, lambda batch_size: iter([images]), (4, 28, 28, 3), 'RGB',
                          print_every=1, options=options)


def test_a_generator_without_keep_prob_trains(tmp_path, monkeypatch):
    """The Udacity template's signature is generator(z, out_channel_dim, is_train=True): no keep_prob to pass."""
    solution = dlnd.generator
    calls = []

    def templates_generator(z, out_channel_dim, is_train=True, alpha=0.2):  # alpha: the solution's model_loss passes it
        calls.append(is_train)
        return solution(z, out_channel_dim, is_train=is_train, keep_prob=1.0)

    losses = _train_one_step(tmp_path, monkeypatch, templates_generator)
    assert [step for step, _, _ in losses] == [1]
    assert calls.count(True) >= 2 and False in calls  # training, recalibration; the sample grids


def test_a_generator_that_fails_when_the_run_calls_it_stops_in_one_line(tmp_path, monkeypatch, capsys):
    """The article's slip: keep_prob passed as dropout's rate fails at keep_prob=1.0, which the run passes."""
    solution = dlnd.generator

    def articles_slip(z, out_channel_dim, is_train=True, alpha=0.2, keep_prob=0.5):
        with tf.variable_scope('generator', reuse=tf.AUTO_REUSE):
            tf.layers.dropout(tf.zeros((1, 4)), keep_prob, training=is_train)
        return solution(z, out_channel_dim, is_train=is_train, alpha=alpha, keep_prob=0.5)

    with pytest.raises(LearnerCodeError) as err:
        _train_one_step(tmp_path, monkeypatch, articles_slip)
    assert interrupts.report(err.value) == 1
    line = capsys.readouterr().err
    assert line.count('\n') == 1 and line.startswith('error: generator(z, 3, is_train=True, keep_prob=1.0), called to '
                                                     "recompute batch norm's averages without dropout, failed with "
                                                     'ValueError: `rate` must be')
    assert 'fix generator()' in line


@pytest.mark.parametrize('returned,found', [(lambda images: (images, images), 'tuple'),
                                             (lambda images: images[:, :14], r'\[4, 14, 28, 3\]')])
def test_a_generator_that_returns_something_else_is_named(returned, found, tmp_path, monkeypatch):
    solution = dlnd.generator

    def wrong(z, out_channel_dim, is_train=True, alpha=0.2, keep_prob=0.5):
        return returned(solution(z, out_channel_dim, is_train=is_train, alpha=alpha, keep_prob=keep_prob))

    with tf.Graph().as_default():
        z = tf.zeros((2, 8))
        solution(z, 3)  # the variables, as model_loss makes them
        with pytest.raises(LearnerCodeError, match=r'returned {}; it must return one tensor of images, shape '
                                                   r'\(batch, 28, 28, 3\)'.format(found)):
            batch_norm.build_calibration(wrong, 8, 3, count=4)


def test_keep_prob_is_passed_where_the_generator_takes_it():
    seen = []

    def with_keywords(z, out_channel_dim, **keywords):
        seen.append(keywords)
        return functools.partial(dlnd.generator, z, out_channel_dim)(**keywords)

    with tf.Graph().as_default():
        dlnd.generator(tf.zeros((2, 8)), 3)
        batch_norm.build_calibration(with_keywords, 8, 3, count=4)
    assert seen == [{'is_train': True, 'keep_prob': 1.0}]
