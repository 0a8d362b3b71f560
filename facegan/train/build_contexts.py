"""
What a run changes while train() runs, and puts back after: a graph of its own, seeded with the
run's seed, whose variables must fit in the memory free (graph/memory_budget.py); tf.layers' transposed convolution
computed as matrix products (graph/fast_layers.py: in train()'s step from 8 images, in the run's draws at any
batch), the optimizers' generator steps also updating
the averaged generator (graph/averaging.py), the precision of the sessions train() opens
(graph/session_settings.py), and its prints written above the progress bar. All of it applies to a
learner's own train() as well.
"""
import contextlib
import sys
import warnings

import tensorflow.compat.v1 as tf

with warnings.catch_warnings():  # tqdm.contrib imports tqdm.auto, which in a notebook kernel without ipywidgets
    warnings.simplefilter('ignore')  # warns of widgets ("IProgress not found") this project never uses
    from tqdm.contrib import DummyTqdmFile

from facegan.core import machine
from facegan.graph import averaging, fast_layers, memory_budget, session_settings


@contextlib.contextmanager
def around_train(config):
    """
    :param config: The run's RunConfig (fast_layers, average_decay, precision_used)
    :return: (yields) The list that gets the averaged generator's Averages once train()'s optimizers are built
             (empty without averaging)
    """
    with contextlib.ExitStack() as stack:
        stack.enter_context(tf.Graph().as_default())
        stack.enter_context(memory_budget.within(machine.memory_available()))
        session_settings.set_seeds(config.seed)
        stack.enter_context(fast_layers.in_tf_layers(fast_layers.wanted(config.fast_layers, config.batch_size)))
        made = stack.enter_context(averaging.in_optimizers(config.average_decay)) if config.average_decay else []
        stack.enter_context(session_settings.for_plain_sessions(config.precision_used))
        stack.enter_context(contextlib.redirect_stdout(DummyTqdmFile(sys.stdout)))
        yield made


def for_drawing(config):
    """
    While the run builds its own ops in train()'s graph: the fast layer where asked for, whatever the batch (the run
    draws 25 faces or more and calibrates batch norm on 512 z)
    :param config: The run's RunConfig (fast_layers)
    """
    return fast_layers.in_tf_layers(fast_layers.wanted(config.fast_layers))
