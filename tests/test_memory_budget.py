"""
Variables counted as train() builds them: the one that takes the total past the memory free is refused
while the graph is built (graph/memory_budget.py); through a run, test_training_run.py.
"""
import pytest

import dlnd_face_generation as dlnd
from facegan.graph import memory_budget

tf = dlnd.tf


def _variables(*shapes, prefix='v'):
    """Create a float32 variable of each shape in the default graph, as tf.layers does (get_variable)"""
    for number, shape in enumerate(shapes):
        tf.get_variable('{}{}'.format(prefix, number), shape)


def test_variables_within_the_memory_free_are_built():
    with tf.Graph().as_default(), memory_budget.within(10 * 10 * 4 + 5 * 4):
        _variables((10, 10), (5,))
        assert len(tf.global_variables()) == 2


def test_the_variable_that_takes_the_total_past_the_memory_free_is_one_line_saying_both():
    with tf.Graph().as_default(), memory_budget.within(10 * 10 * 4 + 5 * 4 - 1):
        with pytest.raises(tf.errors.ResourceExhaustedError) as err:
            _variables((10, 10), (5,), (1,))
        assert [variable.name for variable in tf.global_variables()] == ['v0:0', 'v1:0']  # the second went past
    assert err.value.message == 'its variables would take 0.4 kB, and 0.4 kB is free'


def test_a_variable_of_an_adam_slot_or_of_a_layer_counts_too():
    """Adam's two moments of each weight are variables too: with them a dense layer takes three times its weights"""
    weights = (1000 * 10 + 10) * 4
    with tf.Graph().as_default(), memory_budget.within(3 * weights - 1):
        loss = tf.reduce_sum(tf.layers.dense(tf.zeros((1, 1000)), 10))
        with pytest.raises(tf.errors.ResourceExhaustedError):
            tf.train.AdamOptimizer(0.1).minimize(loss)
    with tf.Graph().as_default(), memory_budget.within(3 * weights + 8):  # Adam's two beta powers: 4 bytes each
        loss = tf.reduce_sum(tf.layers.dense(tf.zeros((1, 1000)), 10))
        tf.train.AdamOptimizer(0.1).minimize(loss)


def test_nothing_is_counted_where_the_memory_free_is_unknown_or_after_the_block():
    with tf.Graph().as_default():
        with memory_budget.within(None):
            _variables((1000, 1000))
        with memory_budget.within(1):
            pass
        _variables((1000, 1000), (1000, 1000), prefix='after')
        assert len(tf.global_variables()) == 3


@pytest.mark.parametrize('shape,dtype,expected', [((3, 4), tf.float32, 48), ((3, 4), tf.float16, 24),
                                                  ((), tf.float64, 8)])
def test_a_variables_bytes_are_its_elements_times_its_types_size(shape, dtype, expected):
    with tf.Graph().as_default():
        assert memory_budget.variable_bytes(tf.get_variable('v', shape, dtype=dtype)) == expected


def test_a_variable_whose_shape_is_known_only_when_it_runs_counts_nothing():
    with tf.Graph().as_default():
        unknown = tf.Variable(tf.placeholder_with_default([1.0, 2.0], shape=None), validate_shape=False)
        assert memory_budget.variable_bytes(unknown) == 0
