"""
What did it learn? After training, where pictures can be shown (a notebook, a desktop): a walk through
z and the memorisation check of the run just trained, made as `generate --walk 4` and `evaluate
--nearest` make them, into its output folder, and shown. Without a display it makes nothing: the
commands make the same pictures.
"""
import os

import numpy as np

from facegan.inspect import checks, drawing, generator_session, restore
from facegan.output import display

WALK = 4  # z the walk passes through, as generate --walk 4


def what_it_learned(generator, dataset, config):
    """
    :param generator: The notebook's generator function
    :param dataset: helper.Dataset of the run's data, whole
    :param config: The run's RunConfig (runs.train's): its folder, the images it held out, its seed
    :return: The lines to print ([] without a display)
    """
    if not display.available():
        return []
    saved = restore.find_run(generator, config.folder, 'train it first')
    with generator_session.drawing(generator, saved, config.seed) as draw:
        strip, _ = drawing.walk(draw, saved, WALK, np.zeros((0, saved.z_dim), np.float32), config.folder)
        display.show_picture(strip)
        if not config.held_out:
            return ['note: no memorisation check: it compares generated faces with real ones training held out, '
                    'which it does when it scores']
        path = os.path.join(config.folder, 'nearest.png')
        result = checks.nearest_picture(draw, saved, dataset, config.held_out, path)
    display.show_picture(path)
    return checks.verdict(result)
