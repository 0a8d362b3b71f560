"""
Every setting of a training run, each with its default here and nowhere else. train()'s arguments
(the notebook's cells) give the hyperparameters; the command line's flags, or a notebook's keyword
arguments, replace any setting. A run writes its settings as run.json in its folder; --resume reads
them back (a change that is safe carries on with a note, one that would silently change the run is
refused), and generate and evaluate draw as the run trained.
"""
import dataclasses
import json
import math
import numbers
import os

from facegan.core import files
from facegan.core.errors import SettingChanged, TrainingStopped, UserError, one_line

RUN_FILE = 'run.json'
FORMAT = 1  # run.json's format; a newer project may add settings, which an older one ignores
# No averaged generator unless asked for: measured on real CelebA, an average of the generator's weights drew better
# faces at 600 steps but not at 1,200 (docs/averaging.md); 0.995 a step was the best at 600
DEFAULT_AVERAGE_DECAY = 0.0


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """The settings of one training run."""
    # train()'s arguments, from the notebook's cells
    epochs: int
    batch_size: int
    z_dim: int
    learning_rate: float
    beta1: float
    # the data
    dataset: str  # 'mnist', 'celeba', 'synthetic' or 'folder'
    image_mode: str  # 'L' (1 channel) or 'RGB' (3)
    data_dir: str = None  # the data folder the command line gave (--data-dir), absolute; None: the notebook's data_dir
    # the run's extras
    output_dir: str = None  # None: output/DATASET
    max_steps: int = None  # stop at this step (None: when the last epoch ends)
    seed: int = 0  # the data's order, z, the initial weights
    update_order: str = 'simultaneous'  # or 'alternating': two session.run calls a step
    print_every: int = 10  # print the losses every this many steps
    show_every: int = 100  # show and save a grid of samples every this many steps
    save_every: int = 500  # save a checkpoint every this many steps, and at the end
    keep_checkpoints: int = 3  # the newest checkpoints kept, across resumes
    eval_every: int = 100  # score the samples every this many steps (0: never)
    eval_images: int = 256  # held-out real images, and generated ones, per score
    logdir: str = None  # TensorBoard's folder (None: none)
    precision: str = 'auto'  # asked for: 'auto', 'float32' or 'bfloat16'
    fast_layers: bool = True  # tf.layers.conv2d_transpose as matrix products while train() builds its graph
    average_decay: float = DEFAULT_AVERAGE_DECAY  # the averaged generator's decay per step (0: none)
    raw_weights: bool = False  # draw grids and scores from the generator's own weights, not their average
    keep_previous: int = 2  # runs moved aside in the output folder that are kept
    # what the run found when it started
    precision_used: str = None  # 'float32' or 'bfloat16'
    held_out: int = None  # images kept out of training for the scores (0: none)

    @property
    def channels(self):
        """:return: 1 for 'L', 3 for 'RGB'"""
        return 1 if self.image_mode == 'L' else 3

    @property
    def folder(self):
        """:return: The run's output folder"""
        return self.output_dir or os.path.join('output', self.dataset)

    def replace(self, **changes):
        """:return: A copy with these settings changed (None values are left as they are)"""
        return dataclasses.replace(self, **{name: value for name, value in changes.items() if value is not None})


SETTINGS = tuple(field.name for field in dataclasses.fields(RunConfig))
# The settings that take one of a few words, and those words (the command line's choices, run.json's values)
PRECISIONS = ('float32', 'bfloat16')
CHOICES = {'dataset': ('synthetic', 'mnist', 'celeba', 'folder'), 'image_mode': ('L', 'RGB'),
           'update_order': ('simultaneous', 'alternating'), 'precision': ('auto',) + PRECISIONS,
           'precision_used': PRECISIONS}
# Settings a resumed run cannot change: the step saved would point at another place in the data (batch
# size, seed, the images held out), or the saved weights would not fit (z_dim, channels), or the data differ
UNSAFE_ON_RESUME = ('dataset', 'image_mode', 'batch_size', 'z_dim', 'seed', 'held_out')
# Settings that describe the run itself rather than a choice to carry over (its data may move, and be given again)
_NOT_COMPARED = ('output_dir', 'data_dir', 'precision_used')


# train()'s arguments, the cells' hyperparameters, and what each must be in a message's words (the exercise leaves
# them None); a run checks them before it starts, so a run.json holding another value was not written by a run
WHOLE, POSITIVE, BELOW_ONE = 'a whole number of 1 or more', 'a number above 0', 'a number from 0 up to 1 (not 1)'
HYPERPARAMETERS = {'epochs': WHOLE, 'batch_size': WHOLE, 'z_dim': WHOLE, 'learning_rate': POSITIVE, 'beta1': BELOW_ONE}


def hyperparameter_fits(name, value):
    """:return: Whether a hyperparameter's value is what HYPERPARAMETERS[name] asks for (numpy's numbers too)"""
    rule = HYPERPARAMETERS[name]
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return False
    if rule == WHOLE:
        return isinstance(value, numbers.Integral) and bool(value >= 1)
    return math.isfinite(value) and bool(value > 0 if rule == POSITIVE else 0 <= value < 1)


def check_hyperparameter(name, value, or_else=''):
    """
    Stop in one line on a hyperparameter that is not set, or not what train() can use, naming its cell
    :param name: One of HYPERPARAMETERS
    :param or_else: What else sets it, for the message: ' or give --batch-size'
    :raise UserError: 'batch_size is None: it must be a whole number of 1 or more; set it in the cell of
                      hyperparameters'
    """
    if not hyperparameter_fits(name, value):
        raise UserError('{} is {!r}: it must be {}; set it in the cell of hyperparameters{}'.format(
            name, value, HYPERPARAMETERS[name], or_else))


def save(config, folder):
    """Write the settings as folder/run.json, atomically (a reader never sees half of it)."""
    text = json.dumps(dict(dataclasses.asdict(config), format=FORMAT), indent=1, sort_keys=True) + '\n'

    def write(temporary):
        with open(temporary, 'w') as f:
            f.write(text)
    files.write_atomically(os.path.join(folder, RUN_FILE), write)


def _fits(field, value):
    """:return: Whether run.json's value is one its setting can hold: a hyperparameter what train() can use, one of
             CHOICES' words where it has them, any other of the field's type, None only where the default is, a count
             not below 0, a float finite"""
    if field.name in HYPERPARAMETERS:
        return hyperparameter_fits(field.name, value)
    if value is None:
        return field.default is None
    if field.name in CHOICES:
        return value in CHOICES[field.name]
    if isinstance(value, bool) or field.type is bool:
        return isinstance(value, bool) and field.type is bool
    if field.type is int:
        return isinstance(value, int) and value >= 0
    if field.type is float:
        return isinstance(value, (int, float)) and math.isfinite(value)
    return isinstance(value, field.type)


def _check_values(settings):
    """Raise ValueError naming the first setting whose value its field cannot hold (a hand edit, a damaged file)"""
    for field in dataclasses.fields(RunConfig):
        if field.name in settings and not _fits(field, settings[field.name]):
            raise ValueError('{} is {}'.format(field.name, json.dumps(settings[field.name])))


def load(folder):
    """
    :param folder: A run's output folder
    :return: Its RunConfig from run.json, or None when it has none (a run saved by an older version)
    :raise TrainingStopped: run.json is there but damaged
    """
    path = os.path.join(folder, RUN_FILE)
    try:
        with open(path) as f:
            saved = json.load(f)
        known = {name: saved[name] for name in SETTINGS if name in saved}
        _check_values(known)
        return RunConfig(**known)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError) as err:  # not JSON, not an object, a setting missing
        raise TrainingStopped('{} cannot be read ({}): restore it from a backup, or start the run over'
                              .format(one_line(path), one_line(str(err).split('\n')[0]))) from None


def check_resume(saved, now):
    """
    Compare a run's saved settings with the ones it is resumed with
    :param saved: The RunConfig of run.json
    :param now: The RunConfig asked for now (precision_used and held_out as they would be; its folder, where the run
                is now)
    :return: ['learning_rate 0.0005 -> 0.0002', ...]: the safe changes, for a note
    :raise SettingChanged: a setting of UNSAFE_ON_RESUME differs (the first one, in that order)
    """
    for name in UNSAFE_ON_RESUME:
        before, after = getattr(saved, name), getattr(now, name)
        if before is not None and after is not None and before != after:
            raise SettingChanged('the run in {} was trained with {} {}, not {}: resuming would {}'.format(
                one_line(now.folder), name, before, after, _WHY_UNSAFE[name]), name)
    return ['{} {} -> {}'.format(name, _shown(getattr(saved, name)), _shown(getattr(now, name))) for name in SETTINGS
            if name not in UNSAFE_ON_RESUME + _NOT_COMPARED and getattr(saved, name) != getattr(now, name)] + \
        (['precision used {} -> {}'.format(_shown(saved.precision_used), _shown(now.precision_used))]
         if saved.precision_used != now.precision_used else [])


def _shown(value):
    """:return: A setting's value as a note shows it: 'none' for a setting not set (no max_steps, no logdir)"""
    return 'none' if value is None else value


_WHY_UNSAFE = {
    'dataset': 'train on other data',
    'image_mode': 'change the number of channels, which the saved weights do not fit',
    'batch_size': 'start mid-epoch at another image, so some images would train twice and others not at all',
    'z_dim': 'change the length of z, which the saved weights do not fit',
    'seed': 'shuffle the rest of the epoch another way, so some images would train twice and others not at all',
    'held_out': 'hold other images out, so the scores would be against images the run trained on',
}
