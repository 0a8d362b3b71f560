"""
Training with the run's extras (facegan/app/runs.py's train, as the run cell calls it), in this process:
the graph comes from the notebook's functions, the fast layer and the averaged generator reach a
learner's own train(), the run's work happens between the batches it hands train() (so a plain
template loop gets checkpoints, grids and scores too), an error in the learner's code is one line,
resuming trains every image of the epoch once, and the average is the closed-form one.

The notebook module's networks are the narrow ones of tiny_networks.py here (its docstring says why):
what is tested is the run's machinery, which sees the same layers whatever their widths.
"""
import functools
import gc
import inspect
import logging
import os
import re
import signal
import weakref
from unittest import mock

import numpy as np
import pytest

import dlnd_face_generation as dlnd
import helper
import tiny_networks
from conftest import copy_run, faces, generate, train_narrow
from learners import plain_train
from facegan.app import command_line, runs
from facegan.core import files, machine, run_config
from facegan.app.interrupts import Interrupted
from facegan.core.errors import LearnerCodeError, TrainingInterrupted, TrainingStopped, UserError
from facegan.graph import averaging, batch_norm, fast_layers, memory_budget, sampling
from facegan.output import display
from facegan.train import run as run_module, run_warnings as rw

tf = dlnd.tf
PLAIN_TRAIN = plain_train(print_every=1000, show_every=1000)  # a learner's (tests/learners.py), printing nothing


FULL_WIDTH_GENERATOR = dlnd.generator


@pytest.fixture(autouse=True)
def narrow(monkeypatch):
    tiny_networks.narrow_networks(monkeypatch)


def learners(source, name='train'):
    """:return: A function a learner wrote, in the notebook's namespace (its model functions, tf, np)"""
    namespace = dict(vars(dlnd))
    exec(compile(source, 'learners_notebook.py', 'exec'), namespace)
    return namespace[name]


def dataset(tmp_path, count=24, seed=0):
    """:return: helper.Dataset of count synthetic faces"""
    return helper.Dataset('synthetic', helper.list_image_files(faces(tmp_path / 'data', count, seed)))


def train(tmp_path, data, train_function=dlnd.train, name='out', **settings):
    """
    Train as the run cell does: epochs 1, batch 8, z 16, the notebook's learning rate and beta1, float32 (the same
    on every CPU), no scores unless asked for
    :return: The run's RunConfig
    """
    settings = dict(dict(output_dir=str(tmp_path / name), eval_every=0, precision='float32'), **settings)
    return runs.train(train_function, dlnd.generator, settings.pop('epochs', 1), 8, 16, 0.0005, 0.5, data, **settings)


def _saved(path, names):
    """:return: {name: value} of these variables in a checkpoint"""
    reader = tf.train.NewCheckpointReader(path)
    return {name: reader.get_tensor(name) for name in names}


def _checkpoint(config, step):
    return os.path.join(config.folder, 'checkpoints', 'model-{}'.format(step))


GENERATOR_WEIGHTS = None  # the generator's 11 trainable variables, by name (read once from a graph)


def _generator_weights():
    global GENERATOR_WEIGHTS
    if GENERATOR_WEIGHTS is None:
        with tf.Graph().as_default():
            dlnd.generator(tf.placeholder(tf.float32, (None, 16)), 3)
            GENERATOR_WEIGHTS = [var.op.name for var in tf.trainable_variables()]
    return GENERATOR_WEIGHTS


# --- The graph is the notebook's ----------------------------------------------------------------------------

def test_a_learners_edit_to_model_loss_or_model_opt_changes_what_trains(tmp_path, monkeypatch):
    data = dataset(tmp_path)
    real_loss, real_opt = dlnd.model_loss, dlnd.model_opt
    def without_generator_loss(input_real, input_z, out_channel_dim):
        d_loss, g_loss = real_loss(input_real, input_z, out_channel_dim)
        return d_loss, g_loss * 0

    monkeypatch.setattr(dlnd, 'model_loss', without_generator_loss)
    frozen = train(tmp_path, data, name='frozen', max_steps=3, save_every=1)
    weights = _generator_weights()
    first, last = _saved(_checkpoint(frozen, 1), weights), _saved(_checkpoint(frozen, 3), weights)
    assert all(np.array_equal(first[name], last[name]) for name in weights)  # a generator loss of 0: it stands still
    monkeypatch.setattr(dlnd, 'model_loss', real_loss)
    monkeypatch.setattr(dlnd, 'model_opt', lambda d, g, lr, beta1: real_opt(d, g, lr * 0, beta1))
    still = train(tmp_path, data, name='still', max_steps=3, save_every=1)
    names = [name for name, _ in tf.train.list_variables(_checkpoint(still, 1))
             if name.startswith(('generator/', 'discriminator/')) and 'Adam' not in name and 'moving_' not in name]
    first, last = _saved(_checkpoint(still, 1), names), _saved(_checkpoint(still, 3), names)
    assert len(names) == 21 and all(np.array_equal(first[name], last[name]) for name in names)  # every weight


def test_the_run_draws_with_the_notebooks_generator_and_calibrates_without_dropout(tmp_path, monkeypatch):
    calls = []
    real_generator = dlnd.generator

    def recorded_generator(z, out_channel_dim, is_train=True, alpha=0.2, keep_prob=0.5):
        calls.append((is_train, keep_prob))
        return real_generator(z, out_channel_dim, is_train=is_train, alpha=alpha, keep_prob=keep_prob)

    monkeypatch.setattr(dlnd, 'generator', recorded_generator)
    runs.train(dlnd.train, recorded_generator, 1, 8, 16, 0.0005, 0.5, dataset(tmp_path), output_dir=str(tmp_path / 'o'),
               max_steps=1, eval_every=0, precision='float32')
    assert calls[0] == (True, 0.5)  # model_loss's call: training, with the article's dropout
    assert (True, 1.0) in calls and (False, 0.5) in calls  # batch norm recomputed without dropout; inference mode
    assert set(calls) == {(True, 0.5), (True, 1.0), (False, 0.5)}


def test_the_runs_grids_and_scores_and_the_solutions_show_draw_through_one_inference_generator(tmp_path,
                                                                                                monkeypatch):
    """Built once in the graph however often they draw, batch norm calibrated once; each draws its own z each time"""
    calls, drawn, shown = [], [], []
    real_generator, real_draw = dlnd.generator, sampling.Inference.draw

    def recorded_generator(z, out_channel_dim, is_train=True, alpha=0.2, keep_prob=0.5):
        calls.append((is_train, keep_prob))
        return real_generator(z, out_channel_dim, is_train=is_train, alpha=alpha, keep_prob=keep_prob)

    monkeypatch.setattr(dlnd, 'generator', recorded_generator)
    graphs = weakref.WeakSet()
    monkeypatch.setattr(sampling.Inference, 'draw', lambda self, sess, z: drawn.append(np.array(z)) or
                        graphs.add(sess.graph) or real_draw(self, sess, z))
    monkeypatch.setattr(display, 'show_grid', lambda grid, image_mode: shown.append(np.asarray(grid)))
    calibrated, real_calibration = [], batch_norm.build_calibration

    def recorded_calibration(*args):
        """:return: The calibration, which also counts its runs in calibrated"""
        with tf.control_dependencies([real_calibration(*args)]):
            return tf.numpy_function(lambda: calibrated.append(1) or np.int32(0), [], tf.int32).op

    with mock.patch.object(batch_norm, 'build_calibration', side_effect=recorded_calibration) as calibration:
        # 24 faces to train on: 3 steps, each shown, drawn in a grid and scored (seed 0 draws the grids the show's z)
        train(tmp_path, dataset(tmp_path, 32), max_steps=3, show_every=1, eval_every=1, eval_images=8, seed=1)
    assert calls.count((True, 0.5)) == 1 and calls.count((False, 0.5)) == 1 and calls.count((True, 1.0)) == 1
    assert calibration.call_count == 1
    assert len(calibrated) == 4  # the weights of steps 0 to 3: a step's show, grid, score and checkpoint share one
    show_z = np.random.RandomState(sampling.SAMPLE_SEED).uniform(-1, 1, (25, 16)).astype(np.float32)
    shows = [z for z in drawn if np.array_equal(z, show_z)]
    grids = [z for z in drawn if len(z) == 25 and not np.array_equal(z, show_z)]
    scored = [z for z in drawn if len(z) == 8]
    assert len(shows) == 3 and len(drawn) == len(shows) + len(grids) + len(scored)
    assert len(grids) == 4 and all(np.array_equal(z, grids[0]) for z in grids)  # steps 1 to 3, and the final grid
    assert len(scored) == 4 and all(np.array_equal(z, scored[0]) for z in scored)  # steps 0 to 3
    assert len(shown) == 3 and not np.array_equal(shown[0], shown[-1])  # the weights of each step
    gc.collect()
    assert len(graphs) == 0  # the graph goes when the run ends: what it built for drawing goes with it


def test_a_draw_recalibrates_batch_norm_only_when_what_it_reads_has_changed():
    """Calibrating again draws new z, so averages left as they were show that it did not; a weight changed, or an
    average set by anything else (a learner's training-mode update, say), makes the next draw recalibrate"""
    with tf.Graph().as_default(), tf.Session() as sess:
        tiny_networks.generator(tf.placeholder(tf.float32, (None, 16)), 3)
        inference = sampling.Inference(tiny_networks.generator, 16, 3, 'to test')
        weight = tf.trainable_variables()[0]
        averages = [var for var in tf.global_variables() if not var.trainable]  # batch norm's moving averages
        sess.run(tf.global_variables_initializer())
        inference.calibrate(sess)
        calibrated = sess.run(averages)
        inference.calibrate(sess)
        assert all(np.array_equal(old, new) for old, new in zip(calibrated, sess.run(averages)))
        sess.run(weight.assign_add(tf.fill(tf.shape(weight), 1e-3)))
        inference.calibrate(sess)
        again = sess.run(averages)
        assert not any(np.array_equal(old, new) for old, new in zip(calibrated, again))
        sess.run(averages[0].assign(tf.zeros_like(averages[0])))
        inference.calibrate(sess)
        assert not np.array_equal(sess.run(averages[0]), np.zeros_like(again[0]))
        assert not np.array_equal(sess.run(averages[0]), again[0])  # calibrated anew, not put back


def test_a_learners_saver_writes_its_meta_graph_after_the_show_without_a_warning(tmp_path, monkeypatch, caplog):
    """A learner's train() that shows its samples and saves with Saver.save's defaults (a .meta file of every
    collection): nothing the run or the show keeps for drawing is in the graph for TensorFlow to fail to write"""
    def saving_train(epoch_count, batch_size, z_dim, learning_rate, beta1, get_batches, data_shape, data_image_mode):
        input_real, input_z, lr = dlnd.model_inputs(*data_shape[1:], z_dim)
        d_loss, g_loss = dlnd.model_loss(input_real, input_z, data_shape[3])
        d_train_opt, g_train_opt = dlnd.model_opt(d_loss, g_loss, lr, beta1)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            for _ in range(epoch_count):
                for batch_images in get_batches(batch_size):
                    sess.run([d_train_opt, g_train_opt], {input_real: batch_images * 2, lr: learning_rate,
                                                          input_z: np.random.uniform(-1, 1, (batch_size, z_dim))})
                    dlnd.show_generator_output(sess, 4, input_z, data_shape[3], data_image_mode)
            tf.train.Saver().save(sess, str(tmp_path / 'learners' / 'model'))

    # TensorFlow's warnings shown, as a learner who asks for them sees them (import helper shows its errors only),
    # and read here: they go to TensorFlow's own handler, not to the root logger's
    caplog.set_level(logging.WARNING, logger='tensorflow')
    logger = logging.getLogger('tensorflow')
    monkeypatch.setattr(logger, 'handlers', logger.handlers + [caplog.handler])
    train(tmp_path, dataset(tmp_path), saving_train, max_steps=2)
    assert (tmp_path / 'learners' / 'model.meta').exists()
    assert 'Issue encountered when serializing' not in caplog.text  # what TensorFlow says of a collection it skips


@pytest.mark.parametrize('fast', [True, False])
def test_a_learners_generator_gets_the_fast_layer_through_the_run(fast, tmp_path):
    seen = []

    def learners_train(epoch_count, batch_size, z_dim, learning_rate, beta1, get_batches, data_shape, data_image_mode):
        FULL_WIDTH_GENERATOR(tf.placeholder(tf.float32, (None, z_dim)), 3)  # the layers the fast one takes
        seen.append(tf.layers.conv2d_transpose is fast_layers.conv2d_transpose)
        seen.append(sorted(op.type for op in tf.get_default_graph().get_operations()
                           if op.type == 'Conv2DBackpropInput'))  # TensorFlow's own transposed convolution

    with pytest.raises(LearnerCodeError, match='without asking the get_batches'):  # it only builds, then returns
        train(tmp_path, dataset(tmp_path, 16), learners_train, fast_layers=fast)
    assert seen[0] is fast and len(seen[1]) == (1 if fast else 3)  # the last layer, 3 channels, keeps its own
    assert tf.layers.conv2d_transpose is not fast_layers.conv2d_transpose  # put back after train()


def test_a_step_of_fewer_than_min_batch_images_keeps_tensorflows_layer_and_the_runs_draws_take_the_fast_one(
        tmp_path, monkeypatch):
    """
    The learner's generator has TensorFlow's transposed convolution in its two middle layers under MIN_BATCH images
    a step, the fast layer from MIN_BATCH; the run's calibration and inference-mode copy the fast one either way.
    Counted as the Conv2DBackpropInput ops in the graph once model_opt has built the learner's model (its last layer's
    and the discriminator's input gradients are ones too), then at the run's first draw
    """
    tiny_networks.narrow_networks(monkeypatch, tiny_networks.FAST_LAYER_WIDTH)  # middle layers the fast layer takes
    counted, real_opt, real_draw = [], dlnd.model_opt, sampling.Inference.draw

    def tensorflows_layers(graph=None):
        return sum(op.type == 'Conv2DBackpropInput' for op in (graph or tf.get_default_graph()).get_operations())

    def counted_model_opt(*args):
        made = real_opt(*args)
        counted.append(tensorflows_layers())
        return made

    monkeypatch.setattr(dlnd, 'model_opt', counted_model_opt)
    monkeypatch.setattr(sampling.Inference, 'draw', lambda self, sess, z: counted.append(tensorflows_layers(
        sess.graph)) or real_draw(self, sess, z))
    for batch_size in (fast_layers.MIN_BATCH - 1, fast_layers.MIN_BATCH):
        runs.train(dlnd.train, dlnd.generator, 1, batch_size, 16, 0.0005, 0.5, dataset(tmp_path, 16), max_steps=1,
                   output_dir=str(tmp_path / str(batch_size)), eval_every=0, precision='float32')
    assert len(counted) == 4  # each run: after model_opt, and at its one draw (the final grid)
    assert counted[0] - counted[2] == 2  # the learner's two middle layers
    assert counted[1] - counted[0] == counted[3] - counted[2] == 2  # the run's two copies: their last layers only


def _fed_images(monkeypatch):
    """:return: A list that gets, for each session.run fed real images, (its fetches, the images)"""
    fed = []
    real_run = tf.Session.run

    def spy_run(self, fetches, feed_dict=None, **kwargs):
        for key, value in (feed_dict or {}).items():
            if getattr(key, 'name', '') == 'input_real:0':
                fed.append((fetches, np.array(value)))
        return real_run(self, fetches, feed_dict=feed_dict, **kwargs)

    monkeypatch.setattr(tf.Session, 'run', spy_run)
    return fed


@pytest.mark.parametrize('order,runs_a_step', [('simultaneous', [5]), ('alternating', [3, 2])])
def test_each_update_order_runs_its_session_runs_a_step_in_tanh_range(order, runs_a_step, tmp_path, monkeypatch):
    fed = _fed_images(monkeypatch)
    config = train(tmp_path, dataset(tmp_path), max_steps=3, update_order=order)
    assert [len(fetches) for fetches, _ in fed] == runs_a_step * 3  # both optimizers, both losses and D(x), D(G(z))
    images = np.concatenate([value for _, value in fed])
    assert images.min() < -0.6 and images.max() > 0.6 and -1 <= images.min() and images.max() <= 1  # doubled
    assert [int(row) for row in run_config.load(config.folder).update_order == order and
            [line.split(',')[0] for line in open(os.path.join(config.folder, 'losses.csv')).read().split()[1:]]] == \
        [1, 2, 3]


def test_a_run_prints_the_losses_saves_grids_and_says_where_everything_is(tmp_path, capsys):
    config = train(tmp_path, dataset(tmp_path), epochs=2, max_steps=4, print_every=2, show_every=2, logdir=str(
        tmp_path / 'logs'))
    out = capsys.readouterr().out
    printed = [line for line in out.splitlines() if 'Discriminator Loss' in line]
    line = r'Epoch {}/2\.\.\. Discriminator Loss: \d+\.\d{{4}}\.\.\. Generator Loss: \d+\.\d{{4}}'
    assert len(printed) == 2 and re.fullmatch(line.format(1), printed[0]) and re.fullmatch(line.format(2), printed[1])
    assert sorted(name for name in os.listdir(config.folder) if name.startswith('samples_')) == [
        'samples_final.png', 'samples_step_00002.png', 'samples_step_00004.png']
    assert 'Done at step 4 (max_steps 4 reached). In {}: samples_final.png, 2 x samples_step_*.png, loss_curve.png, ' \
           'samples.gif, checkpoints/, run.json; TensorBoard: tensorboard --logdir {}'.format(
               config.folder, tmp_path / 'logs') in out
    assert 'Training on 24 images of synthetic, into {}'.format(config.folder) in out


def test_a_plain_learners_train_gets_checkpoints_grids_scores_and_the_average_from_the_batches(tmp_path, capsys):
    config = train(tmp_path, dataset(tmp_path, 40), learners(PLAIN_TRAIN), max_steps=3, save_every=2, show_every=2,
                   eval_every=2, eval_images=8, average_decay=0.995)
    files = set(os.listdir(config.folder))
    assert {'samples_step_00002.png', 'samples_final.png', 'swd.csv', 'run.json', 'real_images.png'} <= files
    assert 'losses.csv' not in files  # a train() without `run` hands it no losses
    assert sorted(os.listdir(os.path.join(config.folder, 'checkpoints'))) == [
        'checkpoint', 'model-2.data-00000-of-00001', 'model-2.index', 'model-3.data-00000-of-00001', 'model-3.index']
    assert tf.train.load_variable(_checkpoint(config, 3), 'averaged/steps') == 3  # its model_opt's steps update it
    scores = open(os.path.join(config.folder, 'swd.csv')).read().split()
    assert [row.split(',')[0] + ',' + row.split(',')[-1] for row in scores[1:]] == ['0,raw', '2,averaged', '3,averaged']


WITHOUT_WITH = PLAIN_TRAIN.replace('    with tf.Session() as sess:\n', '    sess = tf.Session()\n    if True:\n')


def test_a_train_that_opens_its_session_without_with_is_handed_batches_alone(tmp_path, capsys, monkeypatch):
    fed = _fed_images(monkeypatch)
    config = train(tmp_path, dataset(tmp_path), learners(WITHOUT_WITH), max_steps=2)
    out, err = capsys.readouterr()
    assert err.count('note: train() opened its session without `with tf.Session() as sess:`') == 1
    assert len(fed) == 2 * 2  # two session.run calls a step, each fed the batch: the run counted its steps
    assert not os.path.exists(os.path.join(config.folder, 'checkpoints'))
    assert 'Done at step 2 (max_steps 2 reached). In {}: nothing saved\n'.format(config.folder) in out  # no file named


def test_a_train_without_with_trains_every_image_once_an_epoch_as_the_with_form_does(tmp_path, capsys, monkeypatch):
    data = dataset(tmp_path, 40)  # 5 steps an epoch at batch 8
    fed = _fed_images(monkeypatch)
    train(tmp_path, data, learners(PLAIN_TRAIN), name='with', epochs=3)
    with_form = [images for _, images in fed[::2]]  # two session.run calls a step, each fed the batch
    del fed[:]
    train(tmp_path, data, learners(WITHOUT_WITH), name='without', epochs=3)
    without = [images for _, images in fed[::2]]
    assert len(with_form) == len(without) == 15
    for step, (one, other) in enumerate(zip(with_form, without), start=1):
        np.testing.assert_array_equal(one, other, err_msg='step {}: another batch'.format(step))
    for epoch in range(3):
        rows = np.concatenate(without[5 * epoch:5 * epoch + 5]).reshape(40, -1)
        assert len({row.tobytes() for row in rows}) == 40, 'epoch {}: not every image once'.format(epoch + 1)
    assert capsys.readouterr().err.count('note: train() opened its session without') == 1  # one note, not one an epoch


STUB_TRAIN = """
def train(epoch_count, batch_size, z_dim, learning_rate, beta1, get_batches, data_shape, data_image_mode):
    # TODO: Build Model
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for epoch_i in range(epoch_count):
            for batch_images in get_batches(batch_size):
                # TODO: Train Model
                pass
"""  # the exercise's train() as given


def test_the_exercises_train_as_given_is_one_line_saying_to_build_the_model(tmp_path):
    with pytest.raises(LearnerCodeError, match=r'^train\(\) asked get_batches for its first batch with no model '
                                               r'built: its graph has no variables; build it where it says TODO: '
                                               r'Build Model \(model_inputs, model_loss, model_opt\)$'):
        train(tmp_path, dataset(tmp_path, 16), learners(STUB_TRAIN), max_steps=2)


def test_a_train_that_never_asks_the_get_batches_it_is_given_is_one_line_not_a_finished_run(tmp_path, capsys):
    other = dataset(tmp_path, 16)
    elsewhere = learners(PLAIN_TRAIN.replace('get_batches(batch_size)', 'other.get_batches(batch_size)'))
    elsewhere.__globals__['other'] = other  # trains, on batches of its own: the run sees none of its steps
    with pytest.raises(LearnerCodeError) as err:
        train(tmp_path, other, elsewhere, max_steps=2)
    assert str(err.value) == ('train() returned without asking the get_batches it was given for a batch, so the run '
                              'trained and saved nothing: loop over get_batches(batch_size)')
    assert 'Done at step' not in capsys.readouterr().out


def test_a_train_without_a_parameter_of_the_templates_is_one_line_naming_them_all(tmp_path):
    seven = learners(PLAIN_TRAIN.replace(', data_shape, data_image_mode):', ', data_shape):'))
    with pytest.raises(LearnerCodeError) as err:
        train(tmp_path, dataset(tmp_path, 16), seven, max_steps=1)
    assert str(err.value) == (
        'train(epoch_count, batch_size, z_dim, learning_rate, beta1, get_batches, data_shape) cannot take what the run '
        'passes it (too many positional arguments): give it the parameters train(epoch_count, batch_size, z_dim, '
        'learning_rate, beta1, get_batches, data_shape, data_image_mode)')


def test_losses_one_per_image_given_to_run_losses_are_one_line_saying_to_return_one(tmp_path, monkeypatch):
    """The solution's train() hands the fetched losses to run.losses(): a model_loss whose problem test failed (a
    loss per image) is one line there, not numpy's error about an array's truth value"""
    real_loss = dlnd.model_loss

    def per_image(input_real, input_z, out_channel_dim):
        d_loss, g_loss = real_loss(input_real, input_z, out_channel_dim)
        return d_loss, g_loss * tf.ones([tf.shape(input_z)[0]])

    monkeypatch.setattr(dlnd, 'model_loss', per_image)
    with pytest.raises(LearnerCodeError) as err:
        train(tmp_path, dataset(tmp_path, 16), max_steps=1)
    assert str(err.value) == ('train() gave run.losses() g_loss of shape [8], not one number: model_loss must return '
                              'one loss a network (tf.reduce_mean of its cross-entropies; its problem test checks it)')


def test_a_discriminator_returning_one_value_is_one_line_saying_to_return_two(tmp_path, monkeypatch):
    real_discriminator = dlnd.discriminator
    monkeypatch.setattr(dlnd, 'discriminator',
                        lambda images, reuse=False, **kwargs: real_discriminator(images, reuse, **kwargs)[1])
    with pytest.raises(LearnerCodeError) as err:
        train(tmp_path, dataset(tmp_path, 16), learners(PLAIN_TRAIN), max_steps=1)
    assert str(err.value).startswith('train() failed at ')
    assert str(err.value).endswith('(a function returned one tensor where two values are unpacked: discriminator '
                                   'returns (output, logits), model_loss (d_loss, g_loss)); fix it there and run again')


def test_an_error_in_a_learners_train_is_one_line_saying_where(tmp_path):
    broken = learners(PLAIN_TRAIN.replace("feed = {input_real: batch_images * 2,",
                                          "feed = {input_real: batch_images[:, :20] * 2,"))  # fed on line 13
    with pytest.raises(LearnerCodeError) as failure:
        train(tmp_path, dataset(tmp_path), broken, max_steps=2)
    message = str(failure.value)
    assert '\n' not in message
    assert re.match(r"^train\(\) failed at learners_notebook\.py line 13 with ValueError: Cannot feed value of "
                    r"shape \(8, 20, 28, 3\) for Tensor input_real:0, which has shape \(None, 28, 28, 3\); fix it there",
                    message)


def test_an_error_that_is_not_the_learners_keeps_its_own_type_and_traceback(tmp_path):
    """A train() with no frame of the learner's in the traceback (here the standard library's, given the template's
    arguments) is not blamed on the learner's code: its error goes on as it is"""
    not_a_train = functools.partial(os.path.join, 'a folder')
    with pytest.raises(TypeError, match='join'):
        train(tmp_path, dataset(tmp_path), not_a_train, max_steps=1)


def test_a_bug_of_the_runs_own_code_inside_train_keeps_its_own_type_and_traceback(tmp_path, monkeypatch):
    """An error raised in the package's code that the learner's train() calls (here the run building its parts at
    the first batch, made to fail) is the project's to fix: it goes on as it is, not as an error at the learner's line"""
    monkeypatch.setattr(run_module, 'RunParts', None)
    with pytest.raises(TypeError, match="^'NoneType' object is not callable$") as raised:
        train(tmp_path, dataset(tmp_path, 16), max_steps=1)
    assert str(raised.traceback[-1].path) == run_module.__file__  # raised there, its traceback whole


# What TensorFlow raised, run for real (docs/runs.md): the script with --z-dim 200000 under `ulimit -v 20000000`, and
# with --z-dim 3000000, whose Adam slots grappler could not build
OUT_OF_MEMORY = [('ResourceExhaustedError', 'OOM when allocating tensor with shape[200000,16384] and type float on '
                                            '/job:localhost/replica:0/task:0/device:CPU:0 by allocator mklcpu'),
                 ('InvalidArgumentError', 'Cannot parse tensor from proto: goo.gle/debugproto')]
MEMORY_TRAIN = """\
def train(epoch_count, batch_size, z_dim, learning_rate, beta1, get_batches, data_shape, data_image_mode):
    with tf.Session() as sess:
        raise tf.errors.{}(None, None, {!r})
"""


@pytest.mark.parametrize('kind,text', OUT_OF_MEMORY, ids=['out-of-memory', 'too-large-to-hold'])
@pytest.mark.parametrize('from_flags,what_to_do', [
    (False, 'its networks at z_dim 200000 and batches of batch_size 4 need more than this process may take; set a '
            'smaller z_dim or batch_size in the cell of hyperparameters'),
    (True, 'its networks at --z-dim 200000 and batches of --batch-size 4 need more than this process may take; give a '
           'smaller --z-dim or --batch-size')], ids=['notebook', 'command-line'])
def test_a_train_that_runs_out_of_memory_is_one_line_naming_the_settings_that_ask_too_much(
        tmp_path, kind, text, from_flags, what_to_do):
    data, too_large = dataset(tmp_path), learners(MEMORY_TRAIN.format(kind, text))
    # --output-dir: the flags' own default is the project's output/synthetic, where a learner's run may be
    flags = command_line.parse(['--z-dim', '200000', '--batch-size', '4', '--output-dir', str(tmp_path / 'out')]
                               ) if from_flags else None
    with pytest.raises(UserError) as failure:
        runs.train(too_large, dlnd.generator, 1, 4, 200000, 0.0005, 0.5, data, flags=flags,
                   output_dir=str(tmp_path / 'out'), eval_every=0, precision='float32')
    assert type(failure.value) is UserError  # not the learner's code's mistake (a LearnerCodeError)
    said = text if kind == 'ResourceExhaustedError' else 'a tensor larger than TensorFlow can hold'
    assert str(failure.value) == 'train() ran out of memory at learners_notebook.py line 3 ({}): {}'.format(
        said, what_to_do)


def test_the_runs_own_ops_running_out_of_memory_in_train_is_the_same_one_line(tmp_path, monkeypatch):
    """The run builds and runs its own ops (grids, scores) between train()'s batches, from inside its loop: out of
    memory there is the same line, at the learner's line that asked for the batch, not a traceback of the run's. The
    error comes from a mock (the standard library's frames), so the run's own call is the last frame that is not a
    library's, as where TensorFlow raises it"""
    kind, text = OUT_OF_MEMORY[0]
    monkeypatch.setattr(run_module, 'RunParts', mock.Mock(side_effect=getattr(tf.errors, kind)(None, None, text)))
    with pytest.raises(UserError) as failure:
        train(tmp_path, dataset(tmp_path), learners(PLAIN_TRAIN))
    assert type(failure.value) is UserError and failure.value.__suppress_context__
    assert str(failure.value) == (
        'train() ran out of memory at learners_notebook.py line 9 ({}): its networks at z_dim 16 and batches of '
        'batch_size 8 need more than this process may take; set a smaller z_dim or batch_size in the cell of '
        'hyperparameters'.format(text))


def _networks_bytes(z_dim):
    """:return: The bytes of the notebook's (narrowed) networks' variables, built in a graph of their own"""
    with tf.Graph().as_default():
        input_real, input_z, _ = dlnd.model_inputs(28, 28, 3, z_dim)
        dlnd.model_loss(input_real, input_z, 3)
        return sum(memory_budget.variable_bytes(variable) for variable in tf.global_variables())


@pytest.mark.parametrize('from_flags', [False, True], ids=['notebook', 'command-line'])
def test_variables_that_would_not_fit_in_the_memory_free_stop_the_run_as_its_graph_is_built(tmp_path, monkeypatch,
                                                                                          from_flags):
    """Where memory has no limit of the process's own, Linux would kill it as train() initialized them; the run counts
    them against the memory free when it began (here faked: room for the networks' weights, not for Adam's moments of
    them) and stops, before any session, at the learner's line whose variable was one too many: the first Adam's"""
    monkeypatch.setattr(machine, 'memory_available', lambda: _networks_bytes(16))
    flags = command_line.parse(['--z-dim', '16', '--batch-size', '8', '--output-dir', str(tmp_path / 'out')]
                               ) if from_flags else None
    with pytest.raises(UserError) as failure:
        train(tmp_path, dataset(tmp_path), learners(PLAIN_TRAIN), flags=flags)
    assert type(failure.value) is UserError and failure.value.__suppress_context__
    source, first = inspect.getsourcelines(dlnd.model_opt)
    line = first + next(number for number, text in enumerate(source) if 'd_train_opt = ' in text)
    advice = ('its networks at --z-dim 16 and batches of --batch-size 8 need more than this process may take; give a '
              'smaller --z-dim or --batch-size' if from_flags else
              'its networks at z_dim 16 and batches of batch_size 8 need more than this process may take; set a smaller '
              'z_dim or batch_size in the cell of hyperparameters')
    assert str(failure.value) == 'train() ran out of memory at dlnd_face_generation.py line {} ({}): {}'.format(
        line, 'its variables would take {}, and {} is free'.format(
            re.search(r'would take (\S+ \S+),', str(failure.value)).group(1), files.size_text(_networks_bytes(16))),
        advice)
    assert os.listdir(str(tmp_path / 'out')) == []


def test_runs_train_given_a_setting_it_does_not_have_is_one_line(tmp_path):
    with pytest.raises(UserError, match=r"^runs\.train\(\) has no such setting \(.*'max_step'.*\): the settings are "
                                        r"epochs, batch_size, "):
        train(tmp_path, dataset(tmp_path), max_step=1)


@pytest.mark.parametrize('position,value,rule', [
    (1, None, 'a whole number of 1 or more'), (0, 0, 'a whole number of 1 or more'),
    (2, 100.0, 'a whole number of 1 or more'), (1, True, 'a whole number of 1 or more'),
    (3, None, 'a number above 0'), (3, float('nan'), 'a number above 0'), (3, '0.001', 'a number above 0'),
    (4, 1.0, 'a number from 0 up to 1 \\(not 1\\)'), (4, -0.5, 'a number from 0 up to 1 \\(not 1\\)')])
def test_a_hyperparameter_left_none_or_out_of_range_is_one_line_naming_it(position, value, rule, tmp_path):
    """The exercise's cell of hyperparameters starts None: the run cell says which to set, before it builds anything"""
    name = ['epochs', 'batch_size', 'z_dim', 'learning_rate', 'beta1'][position]
    hyperparameters = [1, 8, 16, 0.0005, 0.5]
    hyperparameters[position] = value
    with pytest.raises(UserError, match=r'^{} is {}: it must be {}; set it in the cell of hyperparameters$'.format(
            name, re.escape(repr(value)), rule)):
        runs.train(dlnd.train, dlnd.generator, *hyperparameters, dataset(tmp_path, 8), output_dir=str(tmp_path / 'o'))
    assert not (tmp_path / 'o').exists()


def test_on_the_command_line_a_hyperparameter_the_cells_left_unset_names_its_flag_too():
    from types import SimpleNamespace
    from facegan.app import training
    with pytest.raises(UserError, match=r'^batch_size is None: it must be a whole number of 1 or more; set it in the '
                                        r'cell of hyperparameters or give --batch-size$'):
        training.settings_of(1, None, 16, 0.0005, 0.5, SimpleNamespace(name='folder', image_mode='RGB'),
                             SimpleNamespace(), {})


def test_a_train_that_asks_get_batches_for_another_batch_size_is_one_line(tmp_path):
    doubled = learners(PLAIN_TRAIN.replace('get_batches(batch_size)', 'get_batches(2 * batch_size)'))
    with pytest.raises(TrainingStopped, match=r'^train\(\) asked get_batches for batches of 16 images, but was given '
                                              r'batch_size 8: pass it the batch_size it gets'):
        train(tmp_path, dataset(tmp_path), doubled, max_steps=1)


def test_a_generator_that_fails_when_the_run_calls_it_is_one_line(tmp_path):
    def generator_without_inference(z, out_channel_dim, is_train=True):
        if not is_train:
            raise ValueError('inference mode not written yet')
        return dlnd.generator(z, out_channel_dim, is_train)

    with pytest.raises(LearnerCodeError, match=r'^generator\(z, 3, is_train=False\), called to draw the grids '
                                               r'and scores, failed with ValueError: inference mode not written yet; fix '
                                               r'generator\(\)'):
        runs.train(dlnd.train, generator_without_inference, 1, 8, 16, 0.0005, 0.5, dataset(tmp_path),
                   output_dir=str(tmp_path / 'o'), max_steps=1, eval_every=0, precision='float32')


def test_a_generator_without_keep_prob_trains(tmp_path):
    """The template's generator(z, out_channel_dim, is_train=True): the run passes keep_prob only where taken"""
    def template_generator(z, out_channel_dim, is_train=True):
        return dlnd.generator(z, out_channel_dim, is_train)

    config = runs.train(dlnd.train, template_generator, 1, 8, 16, 0.0005, 0.5, dataset(tmp_path),
                        output_dir=str(tmp_path / 'o'), max_steps=1, eval_every=0, precision='float32')
    assert os.path.exists(_checkpoint(config, 1) + '.index')


# --- Warnings -----------------------------------------------------------------------------------------------

def _warnings(out):
    """:return: The warning lines a run printed"""
    return [line for line in out.splitlines() if line.startswith('warning at step')]


@pytest.mark.numerical
def test_a_run_whose_generator_cannot_learn_warns_that_the_discriminator_wins(tmp_path, monkeypatch, capsys):
    """
    The generator's steps change nothing (its optimizer minimizes a loss of its value but a gradient of 0, as a
    learning rate of 0 would): D alone learns, and at 0.002 on 40 faces calls them all fake from about step 30
    (the warning at about step 130, 100 steps later); the same run with a generator that learns is not warned
    """
    data, steps = dataset(tmp_path, 40), rw.D_WINS_STEPS + 60
    settings = dict(max_steps=steps, eval_every=0, show_every=1000, save_every=1000,
                    print_every=1000, precision='float32')
    runs.train(dlnd.train, dlnd.generator, 1000, 8, 16, 0.002, 0.5, data, output_dir=str(tmp_path / 'learns'),
               **settings)  # 1000 epochs: max_steps ends it
    assert _warnings(capsys.readouterr().out) == []
    real_opt = dlnd.model_opt
    monkeypatch.setattr(dlnd, 'model_opt', lambda d_loss, g_loss, learning_rate, beta1: real_opt(
        d_loss, g_loss * 0 + tf.stop_gradient(g_loss), learning_rate, beta1))
    config = runs.train(dlnd.train, dlnd.generator, 1000, 8, 16, 0.002, 0.5, data,
                        output_dir=str(tmp_path / 'frozen'), **settings)
    warnings = _warnings(capsys.readouterr().out)
    assert len(warnings) == 1 and warnings[0].endswith('(see docs/reading_a_gan_run.md#the-discriminator-wins)')
    step = int(re.match(r'warning at step (\d+): the discriminator wins: ', warnings[0]).group(1))
    rows = np.genfromtxt(os.path.join(config.folder, 'losses.csv'), delimiter=',', names=True)
    last = rows[(rows['step'] > step - rw.D_WINS_STEPS) & (rows['step'] <= step)]  # what the warning looked at
    assert len(last) == rw.D_WINS_STEPS and (last['d_loss'].max() < rw.d_loss_floor() + rw.D_WINS_MARGIN or
                                             np.median(last['g_loss']) > rw.D_WINS_G_LOSS)
    assert np.median(last['d_fake']) < 0.05  # D's own view of the generated images: fake


# --- Stopping -----------------------------------------------------------------------------------------------

def test_nan_losses_stop_without_saving_and_say_what_to_do(tmp_path):
    data = dataset(tmp_path)
    # Step 1's losses are computed before its update; that update's learning rate of 1e30 makes step 2's NaN
    with pytest.raises(TrainingStopped, match=r'^the losses became nan/nan at step 2: stopped without saving; there '
                                              r'is no checkpoint to resume from: lower the learning rate and start'):
        runs.train(dlnd.train, dlnd.generator, 1, 8, 16, 1e30, 0.5, data, output_dir=str(tmp_path / 'o'),
                   max_steps=2, eval_every=0, precision='float32')
    assert not os.path.exists(str(tmp_path / 'o' / 'checkpoints' / 'model-1.index'))


def test_losses_not_finite_at_step_1_point_at_the_code_not_at_training(tmp_path, monkeypatch):
    # At step 1 nothing has trained yet: a learner's model_loss that takes the log of 0 is what the line points at
    real_loss = dlnd.model_loss
    monkeypatch.setattr(dlnd, 'model_loss', lambda input_real, input_z, out_channel_dim: tuple(
        loss + tf.log(0.0) for loss in real_loss(input_real, input_z, out_channel_dim)))
    with pytest.raises(TrainingStopped) as stopped:
        runs.train(dlnd.train, dlnd.generator, 1, 8, 16, 0.001, 0.5, dataset(tmp_path), output_dir=str(tmp_path / 'o'),
                   max_steps=2, eval_every=0, precision='float32')
    message = str(stopped.value)
    assert message.startswith('the losses became -inf/-inf at step 1: stopped without saving; they come from the '
                              'initial weights, moved by one update at most: look in model_loss, generator and '
                              'discriminator for a log or a division that reaches 0')
    assert 'lower the learning rate' not in message and '\n' not in message
    assert not os.path.exists(str(tmp_path / 'o' / 'checkpoints' / 'model-1.index'))


def _with_ctrl_c():
    """Ctrl-C as a terminal gives it, whatever this process was started with (a background job ignores it):
    :return: the handler before, to put back"""
    return signal.signal(signal.SIGINT, signal.default_int_handler)


def test_ctrl_c_during_training_saves_and_says_how_to_resume(tmp_path, monkeypatch):
    def interrupted_train(*args, **extras):
        get_batches = args[5]
        original = get_batches

        def batches(batch_size):
            for i, batch in enumerate(original(batch_size)):
                if i == 1:
                    os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C while the second step trains
                yield batch
        return dlnd.train(*(args[:5] + (batches,) + args[6:]), **extras)

    before = _with_ctrl_c()
    try:
        with pytest.raises(TrainingInterrupted, match=r'^interrupted at step 2: saved .*model-2; resume the run in .* '
                                                      r'to go on: run the cell again with resume=True$'):
            train(tmp_path, dataset(tmp_path), interrupted_train, max_steps=3)
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the run's flag is gone
    finally:
        signal.signal(signal.SIGINT, before)
    assert os.path.exists(str(tmp_path / 'out' / 'checkpoints' / 'model-2.index'))


def test_a_stop_while_train_builds_its_graph_is_one_line_in_a_notebook_too(tmp_path):
    """A kernel's stop button before the first step (no flag yet): the kernel would show a long traceback"""
    def stopped_while_building(*args, **extras):
        os.kill(os.getpid(), signal.SIGINT)
        return dlnd.train(*args, **extras)

    before = _with_ctrl_c()
    try:
        with pytest.raises(Interrupted, match=r'^interrupted \(no training step was under way: nothing to save\)$'):
            train(tmp_path, dataset(tmp_path, 16), stopped_while_building, max_steps=2)
    finally:
        signal.signal(signal.SIGINT, before)
    assert not os.path.exists(str(tmp_path / 'out' / 'checkpoints'))


def test_a_stop_as_the_run_ends_is_not_lost_the_run_is_saved_and_what_comes_next_does_not_run(tmp_path, monkeypatch,
                                                                                              capsys):
    """Ctrl-C while the last step's grid and checkpoint are made: the flag holds it, and after train() returns the
    run stops (the cell does not go on to draw what it learned)"""
    finish = run_module.TrainingRun._finish

    def finish_stopped(self):
        os.kill(os.getpid(), signal.SIGINT)
        finish(self)
    monkeypatch.setattr(run_module.TrainingRun, '_finish', finish_stopped)
    before = _with_ctrl_c()
    try:
        with pytest.raises(Interrupted, match=r'^interrupted \(no training step was under way: nothing to save\)$'):
            train(tmp_path, dataset(tmp_path, 16), max_steps=2)
    finally:
        signal.signal(signal.SIGINT, before)
    assert 'Done at step 2 (max_steps 2 reached)' in capsys.readouterr().out
    assert os.path.exists(str(tmp_path / 'out' / 'checkpoints' / 'model-2.index'))


@pytest.mark.parametrize('stub', ['model_loss', 'model_inputs'])
def test_a_train_that_gives_run_d_view_what_a_todo_returns_is_one_line(stub, tmp_path, monkeypatch):
    """The exercise's model_opt returns None as given, so the solution's train() gets as far as run.d_view()"""
    monkeypatch.setattr(dlnd, 'model_opt', lambda d_loss, g_loss, learning_rate, beta1: (None, None))
    if stub == 'model_loss':
        monkeypatch.setattr(dlnd, 'model_loss', lambda input_real, input_z, out_channel_dim: (None, None))
    else:
        real = dlnd.model_inputs
        monkeypatch.setattr(dlnd, 'model_inputs', lambda *args: (None,) + tuple(real(*args)[1:]))
        monkeypatch.setattr(dlnd, 'model_loss', lambda input_real, input_z, out_channel_dim: (tf.zeros([]), None))
    name = 'd_loss' if stub == 'model_loss' else 'input_real'
    with pytest.raises(LearnerCodeError, match=r'^train\(\) gave run\.d_view\(\) {} None, not a tensor: pass it what '
                                               r'model_loss and model_inputs return, once they are done \(as given, '
                                               r'they return None\)$'.format(name)):
        train(tmp_path, dataset(tmp_path, 16), max_steps=1)


def test_the_solution_notebook_with_dlnd_args_starts_over_when_its_cell_runs_again_and_resumes_when_asked(tmp_path,
                                                                                                          capsys):
    """Its flags come from DLND_ARGS, but a cell run again is not the command run again: as in the exercise"""
    from facegan.app import command_line
    out = str(tmp_path / 'out')
    flags = command_line.parse(['--output-dir', out, '--max-steps', '1', '--eval-every', '0', '--precision',
                                'float32', '--batch-size', '8', '--z-dim', '16'])
    flags.in_notebook = True
    data = dataset(tmp_path, 16)
    for _ in range(2):
        runs.train(dlnd.train, dlnd.generator, 1, 8, 16, 0.0005, 0.5, data, flags=flags)
    assert 'note: started the run in {} over: the previous one is in '.format(out) in capsys.readouterr().out
    flags.max_steps = 2
    config = runs.train(dlnd.train, dlnd.generator, 1, 8, 16, 0.0005, 0.5, data, flags=flags, resume=True)
    assert config.max_steps == 2 and 'Done at step 2 (max_steps 2 reached)' in capsys.readouterr().out
    assert sorted(os.listdir(os.path.join(out, 'checkpoints'))) == ['checkpoint'] + sorted(
        'model-{}.{}'.format(step, kind) for step in (1, 2) for kind in ('data-00000-of-00001', 'index'))


# --- Resuming -------------------------------------------------------------------------------------------------

def _contents(folder):
    """:return: {path under folder: bytes} of every file there"""
    return {os.path.relpath(os.path.join(where, name), folder): open(os.path.join(where, name), 'rb').read()
            for where, _, names in os.walk(folder) for name in names}


def test_resuming_a_run_that_had_ended_changes_none_of_its_files_and_says_so(tmp_path, capsys):
    """Its final score, grid and checkpoint made again would differ from those it holds (a second row of swd.csv)"""
    data = dataset(tmp_path)
    config = train(tmp_path, data, max_steps=2, eval_every=1, eval_images=4)
    before = _contents(config.folder)
    assert len(open(os.path.join(config.folder, 'swd.csv')).read().splitlines()) == 4  # its header, steps 0-2
    capsys.readouterr()
    train(tmp_path, data, max_steps=2, eval_every=1, eval_images=4, resume=True)
    captured = capsys.readouterr()
    assert 'note: the run in {} had trained its 2 steps already: nothing to add; give more epochs or max_steps to go ' \
           'on with it\n'.format(config.folder) in captured.err
    assert 'Done at step 2 (max_steps 2 reached)' in captured.out
    assert _contents(config.folder) == before


def test_resuming_where_there_is_no_run_says_only_that(tmp_path, capsys):
    """No note that run.json is missing (an older version's run) where there is no run at all to resume"""
    (tmp_path / 'none').mkdir()
    with pytest.raises(TrainingStopped, match=r'^no checkpoint in {}: train it first, without resuming$'.format(
            re.escape(str(tmp_path / 'none')))):
        train(tmp_path, dataset(tmp_path, 16), name='none', resume=True)
    assert 'note' not in capsys.readouterr().err


def test_resuming_a_run_an_older_version_saved_says_what_it_cannot_check_and_starts_the_average(shared_run, tmp_path,
                                                                                                 capsys):
    """conftest.shared_run (4 steps, no averaged generator) without its run.json, as an older version left a run,
    resumed to step 5 with an averaged generator: one note for each, and the step trains"""
    out = copy_run(shared_run[0], tmp_path / 'older')
    os.remove(os.path.join(out, run_config.RUN_FILE))
    capsys.readouterr()
    config = train_narrow(shared_run[1], out, resume=True, max_steps=5)
    notes = [line for line in capsys.readouterr().err.splitlines() if line.startswith('note:')]
    assert notes == ['note: {} has no run.json (an older version saved it): its settings cannot be checked'.format(out),
                     'note: {} holds no averaged generator (its run kept none): the average starts at this step'
                     .format(_checkpoint(config, 4))]
    assert tf.train.load_variable(_checkpoint(config, 5), 'averaged/steps') == 1


def test_resuming_trains_the_rest_of_the_epoch_each_image_once_and_keeps_the_run(tmp_path, monkeypatch):
    data = dataset(tmp_path, 40)  # 5 steps an epoch at batch 8
    fed = _fed_images(monkeypatch)
    whole = train(tmp_path, data, name='whole', epochs=2, max_steps=7, save_every=100, average_decay=0.995)
    uninterrupted = [images for _, images in fed]
    del fed[:]
    train(tmp_path, data, name='parts', epochs=2, max_steps=3, save_every=100, average_decay=0.995)
    first = train(tmp_path, data, name='parts', epochs=2, max_steps=7, save_every=100, resume=True,
                  average_decay=0.995)
    resumed = [images for _, images in fed]
    assert len(uninterrupted) == len(resumed) == 7
    for step, (one, other) in enumerate(zip(uninterrupted, resumed), start=1):
        np.testing.assert_array_equal(one, other, err_msg='step {}: another batch'.format(step))
    epoch = np.concatenate(resumed[:5]).reshape(40, -1)  # the first epoch, across the interruption
    assert len({row.tobytes() for row in epoch}) == 40  # every image once
    saved = tf.train.load_variable(_checkpoint(first, 7), 'averaged/steps')
    assert saved == 7 == tf.train.load_variable(_checkpoint(whole, 7), 'averaged/steps')  # the average went on
    np.testing.assert_array_equal(tf.train.load_variable(_checkpoint(first, 7), 'sample_z'),
                                  tf.train.load_variable(_checkpoint(whole, 7), 'sample_z'))


def test_a_notebook_cell_run_again_starts_over_on_the_same_images(tmp_path, capsys):
    data = dataset(tmp_path, 40)
    for _ in range(2):
        train(tmp_path, data, max_steps=1, eval_every=1, eval_images=8)
    out = capsys.readouterr().out
    assert out.count('Training on 32 images of synthetic (8 held out for the scores)') == 2  # the dataset stays whole
    assert 'note: started the run in {} over: the previous one is in {}'.format(
        tmp_path / 'out', tmp_path / 'out' / 'previous-runs') in out
    assert len(os.listdir(str(tmp_path / 'out' / 'previous-runs'))) == 1


# --- The averaged generator ---------------------------------------------------------------------------------

def test_a_run_keeps_no_average_unless_asked_for(tmp_path):
    """The default (docs/averaging.md: an average did not win at 1,200 steps): checkpoints and scores as before"""
    config = train(tmp_path, dataset(tmp_path, 40), max_steps=2, save_every=2, eval_every=2, eval_images=8)
    assert config.average_decay == 0
    assert not [name for name, _ in tf.train.list_variables(_checkpoint(config, 2)) if name.startswith('averaged/')]
    scores = open(os.path.join(config.folder, 'swd.csv')).read().split()
    assert [row.split(',')[-1] for row in scores[1:]] == ['raw', 'raw']


@pytest.mark.numerical
@pytest.mark.parametrize('order', ['simultaneous', 'alternating'])
def test_the_average_is_the_closed_form_moving_average_of_the_weights(order, tmp_path):
    """
    After each of 3 steps, the generator's weights w_t: the average is sum_t decay^(3-t) w_t / sum_t decay^(3-t)
    (averaging.py's bias correction), read from the checkpoint of each step
    """
    decay = 0.9
    config = train(tmp_path, dataset(tmp_path), max_steps=3, save_every=1, update_order=order, average_decay=decay)
    names = _generator_weights()
    weights = [_saved(_checkpoint(config, step), names) for step in (1, 2, 3)]
    averaged = _saved(_checkpoint(config, 3), ['averaged/' + name for name in names])
    coefficients = np.array([decay ** 2, decay, 1.0]) / (decay ** 2 + decay + 1)
    for name in names:
        expected = sum(c * w[name].astype(np.float64) for c, w in zip(coefficients, weights))
        # Each of the 3 updates rounds a difference, a product and a sum in float32: 3 roundings of at most half
        # an ulp of the largest value involved (2^-24 relative to max |w|), 9 in all
        bound = 9 * 2.0 ** -24 * max(np.abs(w[name]).max() for w in weights)
        np.testing.assert_allclose(averaged['averaged/' + name], expected, rtol=0, atol=bound, err_msg=name)
    assert tf.train.load_variable(_checkpoint(config, 3), 'averaged/steps') == 3


def test_a_loop_that_never_updates_the_average_draws_the_raw_weights_with_one_note(tmp_path, capsys):
    """A train() whose generator step is not an optimizer's (a hand-written gradient step) leaves it untouched"""
    hand_written = learners(PLAIN_TRAIN.replace(
        'd_train_opt, g_train_opt = model_opt(d_loss, g_loss, lr, beta1)',
        'd_train_opt, _ = model_opt(d_loss, g_loss, lr, beta1)\n'
        '    g_vars = [v for v in tf.trainable_variables() if v.name.startswith("generator/")]\n'
        '    g_train_opt = tf.group(*[tf.assign_sub(v, lr * g) for v, g in zip(g_vars, tf.gradients(g_loss, g_vars))])'))
    config = train(tmp_path, dataset(tmp_path), hand_written, max_steps=2, show_every=1, average_decay=0.995)
    err = capsys.readouterr().err
    assert err.count("note: train()'s steps never updated the averaged generator") == 1
    assert tf.train.load_variable(_checkpoint(config, 2), 'averaged/steps') == 0
    assert generate(['--checkpoint', config.folder, '--n', '1', '--output-dir', str(tmp_path / 'faces')]) == 0
    assert capsys.readouterr().err == "note: {}: its train() never updated the averaged generator; drawing the " \
                                      "generator's own weights\n".format(_checkpoint(config, 2))


def test_the_averages_variables_mirror_the_generators():
    with tf.Graph().as_default():
        with averaging.in_optimizers(0.9) as made:
            loss = tf.reduce_sum(dlnd.generator(tf.zeros((2, 4)), 1))
            g_vars = [v for v in tf.trainable_variables() if v.name.startswith('generator/')]
            tf.train.AdamOptimizer(0.1).minimize(loss, var_list=g_vars)
            d = tf.get_variable('discriminator/w', ())
            tf.train.AdamOptimizer(0.1).minimize(d * d, var_list=[d])  # another network's step: no average
        assert len(made) == 1 and sorted(made[0].of) == sorted(v.op.name for v in g_vars)
        assert all(made[0].of[v.op.name].shape == v.shape and not made[0].of[v.op.name].trainable for v in g_vars)
    assert tf.train.Optimizer.apply_gradients.__name__ == 'apply_gradients' and not hasattr(
        tf.train.Optimizer.apply_gradients, '__wrapped__')
