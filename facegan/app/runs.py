"""
The run's extras, as the notebook's cells call them: training with checkpoints, resume, scores, grids
and TensorBoard (training.py), then what it learned (learned.py); for the script's commands, drawing
from a saved run (generating.py) and scoring it (evaluating.py).
"""
from facegan.app import evaluating, generating, interrupts, learned, training
from facegan.core.files import refusals_as_one_line


def _in_one_line(function, stopped=interrupts.NOTHING_SAVED):
    """Each call says in one line when the file system refuses a file (full disk, permission, read-only), naming it,
    and when it is interrupted outside training's steps (a notebook's stop button too): the line stopped"""
    return refusals_as_one_line(interrupts.as_one_line(function, stopped))


evaluate = _in_one_line(evaluating.evaluate, interrupts.EVALUATING_STOPPED)  # the script's `evaluate`
generate = _in_one_line(generating.generate, interrupts.GENERATING_STOPPED)  # the script's `generate`


@_in_one_line
def train(train_function, generator, epochs, batch_size, z_dim, learning_rate, beta1, dataset, flags=None,
          resume=False, **settings):
    """
    Train with train() and the run's extras (app/training.py says how)
    :param train_function: The notebook's train function
    :param generator: The notebook's generator function
    :param epochs: The notebook's epochs
    :param batch_size: The notebook's batch_size
    :param z_dim: The notebook's z_dim
    :param learning_rate: The notebook's learning_rate
    :param beta1: The notebook's beta1
    :param dataset: helper.Dataset of the run's data
    :param flags: The script's command_line.Flags, or None in a notebook
    :param resume: Go on from the run's newest checkpoint
    :param settings: Other settings by name: output_dir='output/celeba', max_steps=200, ... (core/run_config.py)
    :return: The run's RunConfig
    """
    return training.train(train_function, generator, epochs, batch_size, z_dim, learning_rate, beta1, dataset, flags,
                          resume, **settings)


@_in_one_line
def what_it_learned(generator, dataset, run):
    """
    Where pictures can be shown: a walk through z and the memorisation check of the run just trained
    :param generator: The notebook's generator function
    :param dataset: helper.Dataset of the run's data
    :param run: The RunConfig train() returned
    """
    lines = learned.what_it_learned(generator, dataset, run)
    if lines:
        print('\n'.join(lines))
