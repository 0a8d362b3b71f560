"""
`dlnd_face_generation.py evaluate`: a saved run's score against the real images it held out, beside
the score of two real sets (the floor) and of the untrained generator (the ceiling); with --nearest,
the memorisation check too.
"""
import os

from facegan.app import command_line
from facegan.core import machine
from facegan.inspect import checks, generator_session, restore

HINT = "train first, or point --checkpoint at a run's output folder"


def evaluate(generator, dataset, flags):
    """
    Score a saved run against the dataset's held-out images, and print the score (and the memorisation check's
    verdict with --nearest)
    :param generator: The notebook's generator function
    :param dataset: helper.Dataset of the run's data, whole (its last --eval-images were held out of training)
    :param flags: command_line.Flags of `evaluate`
    """
    needed = max(2 * flags.eval_images, flags.eval_images + checks.NEIGHBOURS if flags.nearest else 0)
    if dataset.shape[0] < needed:
        command_line.usage_error('evaluate', '--eval-images {} needs at least {} images; {} has {}'.format(
            flags.eval_images, needed, flags.dataset, dataset.shape[0]))
    with command_line.naming('--checkpoint', flags.checkpoint):
        saved = restore.find_run(generator, flags.checkpoint, HINT)
    if saved.channels != dataset.shape[3]:
        command_line.usage_error('evaluate', 'the run in --checkpoint {} draws {}-channel images, and --dataset {} has '
                                             '{}'.format(flags.checkpoint, saved.channels, flags.dataset,
                                                         dataset.shape[3]))
    precision = machine.resolve_precision(flags.precision)[0] if flags.precision else None
    fast, weights = flags.fast_layers is not False, 'raw' if flags.raw_weights else None  # None: the run's own
    scores = checks.tracker(dataset, flags.eval_images, flags.seed)
    with generator_session.drawing(generator, saved, flags.seed, fast, 'untrained', precision) as draw:
        checks.score(draw, saved, scores, flags.seed)  # the untrained generator, as training scores it: the ceiling
    with generator_session.drawing(generator, saved, flags.seed, fast, weights, precision) as draw:
        distance, closed = checks.score(draw, saved, scores, flags.seed)
        if flags.nearest:
            command_line.check_writable(flags.output_dir, '--output-dir')
            path = os.path.join(flags.output_dir, 'nearest.png')
            result = checks.nearest_picture(draw, saved, dataset, flags.eval_images, path)
            print('\n'.join(checks.verdict(result) + ['Wrote {}'.format(path)]))
    print('SWD: {:.4f} (real vs real {:.4f}, untrained {:.4f}): {:.0%} of the gap closed'
          .format(distance, scores.floor, scores.ceiling, closed))
