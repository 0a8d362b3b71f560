"""
Training with the run's extras, as the solution's run cell and the exercise's optional cell call it:
the learner's train() is called as the template's cells call it, in a graph of its own, with the
run's batches (train/run.py), and given the extras it takes (print_every, show_every, update_order,
run). The run's settings are the cells' values, replaced by the flags or keyword arguments given.
A run's folder holds one run: the command line goes on with it only with --resume and starts it
over only with --restart; a notebook cell run again starts it over (resume=True goes on with it),
the solution's too, whose flags come from DLND_ARGS. Either way the old run is moved aside, and of
the runs moved aside the newest keep_previous (2) are kept.
"""
import math
import os
import sys

from facegan.core import files, machine, run_config
from facegan.core.errors import LearnerCodeError, TrainingInterrupted, UserError, error_line, interrupted, one_line
from facegan.graph.learner_code import (accepted, check_call, hint, learner_frame, out_of_memory, place,
                                        raised_in_package)
from facegan.train import records, run

# The settings a run records that the user gives by another name
GIVEN_AS = {'held_out': 'eval_images', 'image_mode': 'channels'}


def _given(setting, flags):
    """:return: The setting the user gave for a recorded one: on the command line its flag's (GIVEN_AS), else itself"""
    return GIVEN_AS.get(setting, setting) if flags else setting


def _commanded(flags):
    """:return: Whether the run is a command line's (the script's), not a notebook cell's (which may have flags too,
             from DLND_ARGS: its cell run again starts the run over, and resume=True goes on with it)"""
    return bool(flags) and not flags.in_notebook


def _name(setting, flags):
    """:return: How the user gave a setting: its flag on the command line, its argument's name in a notebook"""
    return '--' + _given(setting, flags).replace('_', '-') if flags else setting


def _check_hyperparameters(config, flags):
    """Stop in one line on a hyperparameter that is not set, or not what train() can use, naming its cell"""
    for name in run_config.HYPERPARAMETERS:
        run_config.check_hyperparameter(name, getattr(config, name), ' or give ' + _name(name, flags) if flags else '')


def settings_of(epochs, batch_size, z_dim, learning_rate, beta1, dataset, flags, given):
    """
    :return: The run's RunConfig: the cells' values, replaced by the settings given; the precision it runs at
    """
    config = run_config.RunConfig(epochs, batch_size, z_dim, learning_rate, beta1, dataset.name, dataset.image_mode)
    try:
        config = config.replace(**given)
    except TypeError as err:
        raise UserError('runs.train() has no such setting ({}): the settings are {}'.format(
            error_line(err), ', '.join(run_config.SETTINGS))) from None
    _check_hyperparameters(config, flags)
    precision, why = machine.resolve_precision(config.precision)
    if why:
        print('Precision: {} ({} auto: {})'.format(precision, _name('precision', flags), why))
    return config.replace(precision_used=precision)


def _held_out(config, dataset, flags):
    """
    :return: (the dataset to train on, the images held out for the scores or None, the config with held_out set):
             scores need eval_images held out and as many others, and a batch to train on
    """
    if not config.eval_every:
        return dataset, None, config.replace(held_out=0)
    if dataset.shape[0] < 2 * config.eval_images + config.batch_size:
        print('note: no sample-quality scores: they need {} images or more (2 x {} + a batch), and {} has {}'.format(
            2 * config.eval_images + config.batch_size, _name('eval_images', flags), config.dataset, dataset.shape[0]))
        return dataset, None, config.replace(held_out=0)
    training, held_out = dataset.split(config.eval_images)
    return training, held_out, config.replace(held_out=config.eval_images)


def _check_resume(config, flags):
    """
    Check a resumed run's settings against its run.json: a safe change is one note line; one that would change the
    run silently is refused, naming its flag or argument
    """
    saved = run_config.load(config.folder)
    if saved is None:
        if records.run_files(config.folder):  # else the run stops, saying there is nothing to resume
            print('note: {} has no {} (an older version saved it): its settings cannot be checked'.format(
                one_line(config.folder), run_config.RUN_FILE), file=sys.stderr)
    else:
        try:
            changes = run_config.check_resume(saved, config)
        except UserError as err:
            setting = getattr(err, 'setting', None)
            if setting == 'held_out' and not config.eval_every:  # no scores, so none held out: eval_every said so
                setting = 'eval_every'
            given = getattr(config, _given(setting, flags))
            raise UserError('{} {}: {}; give the run\'s own, or start it over{}'.format(
                _name(setting, flags), given, err, ' (--restart)' if _commanded(flags) else '')) from None
        if changes:
            print('note: resuming with other settings: {}'.format(', '.join(changes)), file=sys.stderr)


def _start_fresh(config, flags):
    """
    A new run in a folder that holds one (or a logdir with event files): on the command line it stops, saying how
    to go on, unless --restart; in a notebook, and with --restart, the old run is moved aside, saying so
    """
    for folder in [config.folder] + ([config.logdir] if config.logdir else []):
        used = records.run_files(folder) if os.path.isdir(folder) else []
        if not used:
            continue
        # (a logdir's run is another run's: the output folder, checked first, has none)
        if _commanded(flags) and not flags.restart:
            flag = '--output-dir' if folder == config.folder else '--logdir'
            raise UserError('{} {} holds a run ({}): {}give another {}, or --restart to move it aside and start '
                            'over'.format(flag, one_line(folder),
                                          one_line(', '.join(used[:4] + (['...'] if len(used) > 4 else []))),
                                          'add --resume to go on with it, ' if flag == '--output-dir' else '', flag))
        moved, deleted = files.move_aside(folder, used, config.keep_previous)
        print('note: started the run in {} over: the previous one is in {} (the newest {} kept{})'.format(
            one_line(folder), one_line(moved), config.keep_previous,
            '; deleted the older {}'.format(one_line(', '.join(deleted))) if deleted else ''))


# train()'s parameters in the template, which the run passes in this order
TRAIN_PARAMETERS = '(epoch_count, batch_size, z_dim, learning_rate, beta1, get_batches, data_shape, data_image_mode)'


def _call_train(train, arguments, extras, flags):
    """
    Call the learner's train(); an error in its code (not in the run's) stops the run in one line saying where;
    TensorFlow running out of memory there, or in the run's own ops between its batches, or variables too large for
    the memory free (graph/memory_budget.py), says which settings ask for too much; a Ctrl-C that TensorFlow turned
    into an error of its own goes on as the interruption it is
    """
    check_call(train, 'train', arguments, extras, TRAIN_PARAMETERS)
    try:
        train(*arguments, **extras)
    except (UserError, KeyboardInterrupt):
        raise
    except Exception as err:  # the learner's code: anything can come out of it
        where = learner_frame(err)
        if where is None or interrupted(err):
            raise
        too_large = out_of_memory(err)
        if too_large:
            raise UserError(_out_of_memory(too_large, where, arguments, flags)) from None
        if raised_in_package(err):
            raise
        raise LearnerCodeError('train() failed at {} with {}{}; fix it there and run again'.format(
            one_line(place(where)), error_line(err, with_type=True), hint(err))) from None


def _out_of_memory(what, where, arguments, flags):
    """
    :param what: What did not fit (out_of_memory's)
    :param where: The learner's frame where it did not (learner_frame's)
    :return: What to do when train()'s networks or batches need more memory than there is: ask for less
    """
    batch_size, z_dim = arguments[1:3]  # in TRAIN_PARAMETERS' order
    z_dim_name, batch_size_name = _name('z_dim', flags), _name('batch_size', flags)
    return ('train() ran out of memory at {} ({}): its networks at {} {} and batches of {} {} need more than this '
            'process may take; {} a smaller {} or {}{}'.format(
                one_line(place(where)), what, z_dim_name, z_dim, batch_size_name, batch_size,
                'give' if flags else 'set', z_dim_name, batch_size_name,
                '' if flags else ' in the cell of hyperparameters'))


def train(train_function, generator, epochs, batch_size, z_dim, learning_rate, beta1, dataset, flags=None,
          resume=False, **settings):
    """
    Train with train() and the run's extras: a progress bar, checkpoints (Ctrl-C saves one) and resuming, scores
    against held-out images, sample grids, losses.csv and TensorBoard, the averaged generator
    :param train_function: The notebook's train function (a learner's own, with the template's signature, too)
    :param generator: The notebook's generator function: the grids and scores draw with it
    :param epochs: The notebook's epochs (the cell's value)
    :param batch_size: The notebook's batch_size
    :param z_dim: The notebook's z_dim
    :param learning_rate: The notebook's learning_rate
    :param beta1: The notebook's beta1
    :param dataset: helper.Dataset of the run's data (the scores hold a part out; the dataset itself stays whole)
    :param flags: The script's command_line.Flags (its flags replace the values above), or None in a notebook
    :param resume: Go on from the newest checkpoint in the run's folder (the script: --resume)
    :param settings: Any other RunConfig setting by name: output_dir='output/celeba', max_steps=200, ...
    :return: The run's RunConfig
    """
    given = dict(settings, **flags.settings()) if flags else settings
    resume = resume or bool(flags and flags.resume)
    config = settings_of(epochs, batch_size, z_dim, learning_rate, beta1, dataset, flags, given)
    training, held_out, config = _held_out(config, dataset, flags)
    if config.batch_size > training.shape[0]:
        raise UserError('{} {} is larger than the {} images of {} it would train on'.format(
            _name('batch_size', flags), config.batch_size, training.shape[0], config.dataset))
    if flags and flags.epochs is None and flags.max_steps:  # as many epochs of the images it trains on as it takes
        config = config.replace(epochs=math.ceil(flags.max_steps / (training.shape[0] // config.batch_size)))
    os.makedirs(config.folder, exist_ok=True)
    busy = UserError('{} {} is in use by another run, training there now: wait for it to end, or give another {}'
                     .format(_name('output_dir', flags), one_line(config.folder), _name('output_dir', flags)))
    with files.one_at_a_time(files.lock_beside(os.path.abspath(config.folder)), 'training in this folder', busy):
        return _train_alone(train_function, generator, config, training, held_out, resume, flags)


def _train_alone(train_function, generator, config, training, held_out, resume, flags):
    """train(), with the run's output folder to itself: :return: the run's RunConfig"""
    (_check_resume if resume else _start_fresh)(config, flags)
    print('Training on {} images of {}{}, into {}'.format(
        training.shape[0], config.dataset, ' ({} held out for the scores)'.format(config.held_out)
        if config.held_out else '', one_line(config.folder)))
    training_run = run.TrainingRun(config, generator, training, held_out, resume)
    extras = accepted(train_function, {'print_every': config.print_every, 'show_every': config.show_every,
                                       'update_order': config.update_order, 'run': training_run})
    try:
        with training_run.around_train():  # in a graph of its own, seeded
            _call_train(train_function, (config.epochs, config.batch_size, config.z_dim, config.learning_rate,
                                         config.beta1, training_run.get_batches, training.shape,
                                         training.image_mode), extras, flags)
    except TrainingInterrupted as err:
        err.args = ('{}: {}'.format(err, 'run the same command with --resume' if _commanded(flags) else
                                    'run the cell again with resume=True'),)
        raise
    return config
