"""
`dlnd_face_generation.py evaluate`: a saved run's score against the real images it held out, beside
the score of two real sets (the floor) and of the untrained generator (the ceiling); with --nearest,
the memorisation check too.
"""
import os
import sys

from facegan.app import command_line
from facegan.core import machine
from facegan.core.errors import one_line
from facegan.core.run_config import RunConfig
from facegan.inspect import checks, generator_session, restore



def unseen_images(saved, flags):
    """
    :param saved: restore.SavedRun
    :param flags: command_line.Flags of `evaluate`
    :return: (how many of the dataset's last images to score against as unseen: --eval-images, else as many as the
             run held out (its run.json), else the runs' default; a note when the run trained on some of them, else
             ''), the note printed once the data is known to hold them
    """
    held_out = saved.config.held_out if saved.config is not None else None  # None: a run.json without it
    count = flags.eval_images or held_out or RunConfig.eval_images
    if held_out is None or held_out >= count:
        return count, ''
    return count, ('note: the run in --checkpoint {} held out {} images (its run.json), so {} of the last {} that '
                   'evaluate treats as unseen were trained on'.format(one_line(flags.checkpoint), held_out,
                                                                     count - held_out, count))


def evaluate(generator, dataset, flags):
    """
    Score a saved run against the dataset's held-out images, and print the score (and the memorisation check's
    verdict with --nearest)
    :param generator: The notebook's generator function
    :param dataset: helper.Dataset of the run's data, whole (the run held its last images out of training)
    :param flags: command_line.Flags of `evaluate`
    """
    with command_line.naming('--checkpoint', flags.checkpoint):
        saved = restore.find_run(generator, flags.checkpoint, command_line.CHECKPOINT_HINT)
    eval_images, note = unseen_images(saved, flags)
    needed = max(2 * eval_images, eval_images + checks.NEIGHBOURS if flags.nearest else 0)
    if dataset.shape[0] < needed:
        command_line.usage_error('evaluate', '--eval-images {} needs at least {} images; {} has {}'.format(
            eval_images, needed, flags.dataset, dataset.shape[0]))
    if saved.channels != dataset.shape[3]:
        command_line.usage_error('evaluate', 'the run in --checkpoint {} draws {}-channel images, and --dataset {} has '
                                             '{}'.format(flags.checkpoint, saved.channels, flags.dataset,
                                                         dataset.shape[3]))
    if note:
        print(note, file=sys.stderr)
    precision = machine.resolve_precision(flags.precision)[0] if flags.precision else None
    fast, weights = flags.fast_layers is not False, 'raw' if flags.raw_weights else None  # None: the run's own
    scores = checks.tracker(dataset, eval_images, flags.seed)
    with generator_session.drawing(generator, saved, flags.seed, fast, 'untrained', precision) as draw:
        checks.score(draw, saved, scores, flags.seed)  # the untrained generator, as training scores it: the ceiling
    with generator_session.drawing(generator, saved, flags.seed, fast, weights, precision) as draw:
        distance, closed = checks.score(draw, saved, scores, flags.seed)
        if flags.nearest:
            command_line.check_writable(flags.output_dir, '--output-dir')
            path = os.path.join(flags.output_dir, 'nearest.png')
            result = checks.nearest_picture(draw, saved, dataset, eval_images, path)
            print('\n'.join(checks.verdict(result) + ['Wrote {}'.format(path)]))
    print('SWD: {:.4f} (real vs real {:.4f}, untrained {:.4f}): {:.0%} of the gap closed'
          .format(distance, scores.floor, scores.ceiling, closed))
