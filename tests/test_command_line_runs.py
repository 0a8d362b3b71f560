"""
Short runs through the command line, shared by the tests that check them: the same --seed gives
byte-identical files, every training flag reaches training, and a learning rate that makes the
weights non-finite says what to do.
"""
import filecmp
import os
import shutil

import numpy as np
import pytest

from conftest import run_script, use_few_synthetic_faces
from facegan import batch_norm, tensorflow_setup, training_run
from facegan.tensorflow_setup import import_tensorflow

tf = import_tensorflow()

# Every training flag away from its default (the notebook's batch 16, z 100, learning rate 0.0005,
# beta1 0.5, 1 epoch; simultaneous updates, seed 0, 3 checkpoints kept, one saved every 500 steps)
FLAGS = ['--batch-size', '4', '--z-dim', '8', '--learning-rate', '0.001', '--beta1', '0.4', '--epochs', '3',
         '--max-steps', '2', '--update-order', 'alternating', '--keep-checkpoints', '2', '--save-every', '1',
         '--eval-every', '0', '--show-every', '1']
FACES = 16  # 4 steps an epoch at batch 4


def _run(folder, seed, *more):
    """
    Train on FACES synthetic faces with FLAGS
    :param folder: Where the run's data and output go (folder/data, folder/out)
    :return: (exit code, the output folder)
    """
    out = os.path.join(folder, 'out')
    argv = FLAGS + ['--seed', str(seed), '--data-dir', os.path.join(folder, 'data'), '--output-dir', out]
    return run_script(argv + list(more)), out


@pytest.fixture(scope='module')
def runs(tmp_path_factory):
    """:return: {name: output folder} of three 2-step runs: 'a' and 'b' with --seed 3, 'c' with --seed 4"""
    outputs = {}
    with pytest.MonkeyPatch.context() as patch:
        use_few_synthetic_faces(patch, FACES)
        patch.setattr(batch_norm, 'CALIBRATION_Z', 64)
        for name, seed in (('a', 3), ('b', 3), ('c', 4)):
            code, outputs[name] = _run(str(tmp_path_factory.mktemp('run_' + name)), seed)
            assert code == 0
    return outputs


def _files(folder):
    """:return: The paths of every file under folder, relative to it, sorted"""
    return sorted(os.path.relpath(os.path.join(parent, name), folder)
                  for parent, _, names in os.walk(folder) for name in names)


def test_the_same_seed_gives_byte_identical_files(runs):
    files = _files(runs['a'])
    assert files == _files(runs['b'])
    for name in ('losses.csv', 'samples_final.png', 'samples_step_00001.png', 'real_images.png',
                 'checkpoints/model-2.index', 'checkpoints/model-2.data-00000-of-00001'):
        assert name in files
    different = [name for name in files if name != 'checkpoints/checkpoint' and
                 not filecmp.cmp(os.path.join(runs['a'], name), os.path.join(runs['b'], name), shallow=False)]
    assert different == []
    # The index file names the run's own folder; apart from that, the same bytes (no time in it)
    with open(os.path.join(runs['a'], 'checkpoints', 'checkpoint')) as a, \
            open(os.path.join(runs['b'], 'checkpoints', 'checkpoint')) as b:
        assert a.read().replace(runs['a'], 'OUT') == b.read().replace(runs['b'], 'OUT')


def test_another_seed_gives_other_losses(runs):
    a, c = (np.genfromtxt(os.path.join(runs[name], 'losses.csv'), delimiter=',', names=True) for name in 'ac')
    assert a['step'].tolist() == c['step'].tolist() == [1, 2]
    assert not np.allclose(a['d_loss'], c['d_loss']) and not np.allclose(a['g_loss'], c['g_loss'])


class _Spies(object):
    """What reached training: the arguments of TrainingRun, its session, set_seeds, Adam, and the values fed."""

    def __init__(self, monkeypatch):
        self.run_args, self.session_args, self.seeds, self.beta1s, self.fed = [], [], [], [], []
        spies = self
        real_run = tf.Session.run

        class SpiedTrainingRun(training_run.TrainingRun):
            def __init__(self, options, generator, z_dim, *args, **kwargs):
                spies.run_args.append((options, z_dim))
                super().__init__(options, generator, z_dim, *args, **kwargs)

            def session(self, epoch_count, steps_per_epoch):
                spies.session_args.append((epoch_count, steps_per_epoch))
                return super().session(epoch_count, steps_per_epoch)

        def spied_run(session, fetches, feed_dict=None, **kwargs):
            if spies.run_args:  # training's own, not the problem unit tests'
                spies.fed.append({getattr(key, 'name', key): value for key, value in (feed_dict or {}).items()})
            return real_run(session, fetches, feed_dict=feed_dict, **kwargs)

        real_set_seeds, real_adam = tensorflow_setup.set_seeds, tf.train.AdamOptimizer
        monkeypatch.setattr(training_run, 'TrainingRun', SpiedTrainingRun)
        monkeypatch.setattr(tf.Session, 'run', spied_run)
        monkeypatch.setattr(tensorflow_setup, 'set_seeds', lambda seed: self.seeds.append(seed) or real_set_seeds(seed))
        monkeypatch.setattr(tf.train, 'AdamOptimizer', lambda learning_rate, beta1=0.9, **kwargs: (
            self.beta1s.append(beta1) or real_adam(learning_rate, beta1=beta1, **kwargs)))


def test_every_training_flag_reaches_training(runs, tmp_path, monkeypatch):
    """Resume run 'a' (2 steps) to step 3 with every flag given, and see each value arrive."""
    use_few_synthetic_faces(monkeypatch, FACES)
    shutil.copytree(runs['a'], str(tmp_path / 'out'))
    spies = _Spies(monkeypatch)
    code, out = _run(str(tmp_path), 3, '--resume', '--max-steps', '3')
    assert code == 0
    (options, z_dim), = spies.run_args
    assert (options.resume, options.keep_checkpoints, options.save_every, options.update_order, options.max_steps,
            z_dim) == (True, 2, 1, 'alternating', 3, 8)
    assert spies.session_args == [(3, FACES // 4)]  # --epochs; the steps of an epoch at --batch-size
    assert spies.seeds == [3] and spies.beta1s[-2:] == [0.4, 0.4]  # the last model_opt: train's
    steps = [feed for feed in spies.fed if 'input_real:0' in feed]
    assert len(steps) == 2  # one step (step 3), two session.run calls: --update-order alternating
    assert all(feed['learning_rate:0'] == 0.001 and len(feed['input_real:0']) == 4 and
               feed['input_z:0'].shape == (4, 8) for feed in steps)
    # Seen from outside: the resumed losses, and the two newest checkpoints kept
    assert np.genfromtxt(os.path.join(out, 'losses.csv'), delimiter=',', names=True)['step'].tolist() == [1, 2, 3]
    assert sorted(name for name in os.listdir(os.path.join(out, 'checkpoints')) if name.endswith('.index')) == [
        'model-2.index', 'model-3.index']


def test_a_learning_rate_that_breaks_the_first_step_says_start_again(tmp_path, capsys, monkeypatch):
    use_few_synthetic_faces(monkeypatch, FACES)
    code, out = _run(str(tmp_path), 0, '--learning-rate', '1e30')
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert code == 1 and 'Lower --learning-rate and start again' in last
    assert 'resume' not in last.replace('to resume from', '') and 'none' not in last
    assert not os.path.exists(os.path.join(out, 'checkpoints', 'model-1.index'))


def test_a_learning_rate_that_breaks_a_resumed_run_says_resume_from_the_last_finite_checkpoint(
        runs, tmp_path, capsys, monkeypatch):
    use_few_synthetic_faces(monkeypatch, FACES)
    shutil.copytree(runs['a'], str(tmp_path / 'out'))
    code, out = _run(str(tmp_path), 3, '--resume', '--max-steps', '4', '--learning-rate', '1e30')
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert code == 1
    assert last.endswith('checkpoint is {}. Lower --learning-rate and --resume from it'.format(
        os.path.join(out, 'checkpoints', 'model-2')))
