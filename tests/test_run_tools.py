"""Checkpoints, resume, Ctrl-C, generate, the run's outputs, TensorBoard, seeds and failing well."""
import contextlib
import os
import signal

import numpy as np
import pytest
from PIL import Image

from conftest import run_script
import dlnd_face_generation as dlnd
import helper
from facegan import checkpoints, errors, generation, interrupts, tensorflow_setup, training_run

tf = dlnd.tf


@pytest.fixture(scope='module')
def dataset(tmp_path_factory):
    data = tmp_path_factory.mktemp('data')
    folder = helper.make_synthetic_faces(str(data), count=32, seed=0)
    return helper.Dataset('synthetic', helper.list_image_files(folder), seed=0)


def _train(dataset, out, seed=0, epochs=3, z_dim=16, show_every=2, **kwargs):
    """Train on the tiny dataset (batch 8: 4 steps an epoch) in a fresh graph, seeded as main does."""
    options = dict(output_dir=str(out), save_every=2, eval_every=0)
    options.update(kwargs)
    fresh = helper.Dataset('synthetic', dataset.data_files, seed=seed)  # the data order is seeded too
    with tf.Graph().as_default():
        tensorflow_setup.set_seeds(seed)
        return dlnd.train(epochs, 8, z_dim, 0.0005, 0.5, fresh.get_batches, fresh.shape, fresh.image_mode,
                          print_every=1, show_every=show_every, options=training_run.RunOptions(**options))


def _checkpoints(out):
    return sorted(name[:-len('.index')] for name in os.listdir(str(out / 'checkpoints')) if name.endswith('.index'))


def test_checkpoints_every_save_every_and_at_the_end_keeping_the_last_three(dataset, tmp_path):
    _train(dataset, tmp_path, max_steps=9)
    assert _checkpoints(tmp_path) == ['model-6', 'model-8', 'model-9']
    assert checkpoints.latest_checkpoint(str(tmp_path)).endswith('model-9')


def test_resume_restores_step_optimizer_state_and_sample_z(dataset, tmp_path, monkeypatch):
    _train(dataset, tmp_path, max_steps=4)
    reader = tf.train.load_checkpoint(checkpoints.latest_checkpoint(str(tmp_path)))
    restored = {}
    real_session = training_run.TrainingRun.session

    @contextlib.contextmanager
    def recording_session(self, *args):
        with real_session(self, *args) as sess:
            restored.update({v.op.name: sess.run(v) for v in tf.global_variables()}, step=self.step)
            yield sess

    monkeypatch.setattr(training_run.TrainingRun, 'session', recording_session)
    losses = _train(dataset, tmp_path, max_steps=6, resume=True)
    assert restored.pop('step') == 4
    assert any('Adam' in name for name in restored)  # the optimizer's moments are in the checkpoint
    assert 'sample_z' in restored
    for name, value in restored.items():
        np.testing.assert_array_equal(value, reader.get_tensor(name), err_msg=name)
    assert [step for step, _, _ in losses] == [5, 6]  # the step count goes on
    assert _checkpoints(tmp_path)[-1] == 'model-6'


def test_a_crash_while_saving_leaves_the_last_good_checkpoint(dataset, tmp_path):
    _train(dataset, tmp_path, max_steps=2)
    # What a crash half-way through saving step 4 leaves: files, but no update of the index
    (tmp_path / 'checkpoints' / 'model-4.index').write_bytes(b'\x00' * 10)
    (tmp_path / 'checkpoints' / 'model-4.data-00000-of-00001').write_bytes(b'\x00' * 100)
    assert checkpoints.latest_checkpoint(str(tmp_path)).endswith('model-2')
    losses = _train(dataset, tmp_path, max_steps=3, resume=True)
    assert [step for step, _, _ in losses] == [3]


def test_resume_without_a_checkpoint_or_with_another_model_is_a_clear_error(dataset, tmp_path):
    with pytest.raises(errors.TrainingStopped, match='no checkpoint in .*train without --resume first'):
        _train(dataset, tmp_path, max_steps=2, resume=True)
    _train(dataset, tmp_path, max_steps=2)
    with pytest.raises(errors.TrainingStopped, match='does not match this model'):
        _train(dataset, tmp_path, z_dim=32, resume=True)


def test_interrupt_flag_catches_sigint_and_restores_the_handler():
    before = signal.getsignal(signal.SIGINT)
    with interrupts.interrupt_flag() as interrupted:
        assert not interrupted()
        os.kill(os.getpid(), signal.SIGINT)
        assert interrupted()
    assert signal.getsignal(signal.SIGINT) is before


def _replace_step_done(monkeypatch, change):
    """Wrap TrainingRun.step_done: change(step about to be done, d_loss, g_loss) -> (d_loss, g_loss)"""
    real_step_done = training_run.TrainingRun.step_done

    def step_done(self, sess, d_loss, g_loss, d_view=None):
        return real_step_done(self, sess, *change(self.step + 1, d_loss, g_loss), d_view)

    monkeypatch.setattr(training_run.TrainingRun, 'step_done', step_done)


def test_ctrl_c_during_training_saves_and_says_how_to_resume(dataset, tmp_path, monkeypatch):
    def ctrl_c_at_step_3(step, d_loss, g_loss):
        if step == 3:
            os.kill(os.getpid(), signal.SIGINT)
        return d_loss, g_loss

    _replace_step_done(monkeypatch, ctrl_c_at_step_3)
    with pytest.raises(errors.TrainingInterrupted) as err:
        _train(dataset, tmp_path, save_every=100)
    assert 'interrupted at step 3: saved' in str(err.value) and '--resume' in str(err.value)
    assert err.value.exit_code == 130
    assert _checkpoints(tmp_path) == ['model-3']


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(dataset, tmp_path, monkeypatch):
    _replace_step_done(monkeypatch, lambda step, d_loss, g_loss: (np.nan if step == 3 else d_loss, g_loss))
    with pytest.raises(errors.TrainingStopped) as err:
        _train(dataset, tmp_path)
    assert 'became nan/' in str(err.value) and 'at step 3' in str(err.value)
    assert str(err.value).endswith('model-2. Lower --learning-rate and --resume from it')
    assert _checkpoints(tmp_path) == ['model-2']


def test_run_outputs_losses_curve_gif_and_summary_line(dataset, tmp_path, capsys):
    _train(dataset, tmp_path, max_steps=5)
    captured = capsys.readouterr()
    bar = captured.err  # tqdm draws its bar on stderr, a line per update
    assert 'Epoch 1/3:' in bar and 'Epoch 2/3:' in bar and '5/5' in bar  # one bar for the whole run
    assert 'd_loss=' in bar and 'g_loss=' in bar
    rows = np.genfromtxt(str(tmp_path / 'losses.csv'), delimiter=',', names=True)
    assert rows['step'].tolist() == [1, 2, 3, 4, 5]
    assert np.isfinite(rows['d_loss']).all() and np.isfinite(rows['g_loss']).all()
    with Image.open(str(tmp_path / 'loss_curve.png')) as curve:
        assert curve.size[0] > 300
    with Image.open(str(tmp_path / 'samples.gif')) as gif:
        assert gif.n_frames == 3  # steps 2 and 4, then the final grid
        assert gif.size == (4 * 5 * 28, 4 * 5 * 28)
    assert 'Done at step 5 (--max-steps 5 reached). In {}: samples_final.png, 2 x samples_step_*.png, ' \
           'loss_curve.png, samples.gif, checkpoints/'.format(tmp_path) in captured.out


def test_tensorboard_event_file_has_losses_and_samples(dataset, tmp_path):
    logdir = tmp_path / 'tb'
    _train(dataset, tmp_path / 'out', max_steps=4, logdir=str(logdir))
    events = [str(logdir / name) for name in os.listdir(str(logdir)) if 'tfevents' in name]
    assert len(events) == 1
    tags, sizes = {}, set()
    for event in tf.train.summary_iterator(events[0]):
        for value in event.summary.value:
            tags.setdefault(value.tag, []).append(event.step)
            if value.HasField('image'):
                sizes.add((value.image.width, value.image.height))
    assert tags['d_loss'] == tags['g_loss'] == [1, 2, 3, 4]
    assert tags['samples'] == [2, 4, 4]  # every show_every steps, and the final grid
    assert sizes == {(4 * 5 * 28, 4 * 5 * 28)}


def test_same_seed_same_losses(dataset, tmp_path):
    """Two CPU runs with the same seed: the same losses for the first 3 steps, to 1e-6 relative."""
    quiet = dict(max_steps=3, show_every=100, save_every=100)  # one grid and one checkpoint, at the end
    first = _train(dataset, tmp_path / 'a', **quiet)
    second = _train(dataset, tmp_path / 'b', **quiet)
    np.testing.assert_allclose(np.array(first, dtype=float), np.array(second, dtype=float), rtol=1e-6)
    third = _train(dataset, tmp_path / 'c', seed=1, **quiet)  # another seed: other losses
    assert not np.allclose(np.array(first, dtype=float), np.array(third, dtype=float))


def test_generate_writes_faces_and_grid_seeded_without_the_dataset(dataset, tmp_path):
    run = tmp_path / 'run'
    _train(dataset, run, max_steps=2)
    found = generation.find_generator(dlnd.generator, str(run))
    faces, grid = generation.generate(dlnd.generator, found, 5, seed=3, output_dir=str(tmp_path / 'gen'))
    found = generation.find_generator(dlnd.generator, str(run / 'checkpoints'))
    again, _ = generation.generate(dlnd.generator, found, 5, seed=3, output_dir=str(tmp_path / 'gen2'))
    assert [os.path.basename(p) for p in faces] == ['face_{:03d}.png'.format(i) for i in range(5)]
    for face, same in zip(faces, again):
        with Image.open(face) as image:
            assert image.size == (28, 28) and image.mode == 'RGB'
        assert open(face, 'rb').read() == open(same, 'rb').read()
    with Image.open(grid) as image:
        assert image.size == (4 * 3 * 28, 4 * 3 * 28)  # all five, in rows of three, enlarged 4x


def test_generate_errors_missing_and_mismatched(dataset, tmp_path, capsys):
    code = run_script(['generate', '--checkpoint', str(tmp_path / 'nothing')])
    assert code == 1 and 'no checkpoint in' in capsys.readouterr().err
    _train(dataset, tmp_path / 'run', max_steps=2)
    code = run_script(['generate', '--checkpoint', str(tmp_path / 'run'), '--channels', '1'])
    err = capsys.readouterr().err
    assert code == 1 and err.count('\n') == 1
    assert 'holds a generator for 3 channel(s) and z of 16; asked for 1 channel(s)' in err


def test_output_folder_that_cannot_be_written_fails_before_the_graph(tmp_path, capsys):
    blocker = tmp_path / 'a_file'
    blocker.write_text('not a folder')
    code = run_script(['--output-dir', str(blocker / 'out'), '--data-dir', str(tmp_path / 'data')])
    captured = capsys.readouterr()
    assert code == 1 and 'cannot write to --output-dir' in captured.err
    assert 'TensorFlow Version' not in captured.out and not os.path.exists(str(tmp_path / 'data'))


def test_training_scores_samples_at_start_every_eval_every_and_at_the_end(dataset, tmp_path, capsys):
    fresh = helper.Dataset('synthetic', dataset.data_files, seed=0)
    tracker = generation.make_tracker(fresh, 8, seed=0)
    assert fresh.shape[0] == 24  # 8 held out of training
    options = training_run.RunOptions(output_dir=str(tmp_path), tracker=tracker, eval_every=2, max_steps=5,
                                   logdir=str(tmp_path / 'tb'))
    with tf.Graph().as_default():
        tensorflow_setup.set_seeds(0)
        dlnd.train(2, 8, 16, 0.0005, 0.5, fresh.get_batches, fresh.shape, fresh.image_mode, print_every=1,
                   options=options)
    rows = np.genfromtxt(str(tmp_path / 'swd.csv'), delimiter=',', names=True)
    assert rows['step'].tolist() == [0, 2, 4, 5]
    assert (rows['swd_untrained'] == rows['swd'][0]).all()  # the untrained score is the ceiling
    np.testing.assert_allclose(rows['swd_real_vs_real'], tracker.floor, atol=1e-6)  # the CSV keeps 6 decimals
    assert tracker.floor > 0
    # The fraction of the untrained-to-real gap each score closed: 0 at the start, by definition
    assert rows['gap_closed'][0] == 0
    closed = (rows['swd_untrained'] - rows['swd']) / (rows['swd_untrained'] - rows['swd_real_vs_real'])
    np.testing.assert_allclose(rows['gap_closed'], closed, atol=1e-4)  # from the CSV's 6 decimals
    lines = [line for line in capsys.readouterr().out.splitlines() if 'SWD' in line]
    assert lines[0] == 'Step 0... SWD: {0:.4f} (real vs real {1:.4f}, untrained {0:.4f}): 0% of the gap closed'.format(
        rows['swd'][0], tracker.floor)
    with Image.open(str(tmp_path / 'loss_curve.png')) as curve:
        assert curve.size[1] > 500  # the losses and, below them, the SWD
    event_file = [name for name in os.listdir(str(tmp_path / 'tb')) if 'tfevents' in name][0]
    swd_steps = [event.step for event in tf.train.summary_iterator(str(tmp_path / 'tb' / event_file))
                 for value in event.summary.value if value.tag == 'swd']
    assert swd_steps == [0, 2, 4, 5]


def test_evaluate_command_prints_the_score_and_its_baselines(dataset, tmp_path, capsys):
    _train(dataset, tmp_path / 'run', max_steps=2)
    folder = os.path.dirname(dataset.data_files[0])
    code = run_script(['evaluate', '--checkpoint', str(tmp_path / 'run'), '--dataset', 'folder',
                      '--data-dir', folder, '--eval-images', '8'])
    out = capsys.readouterr().out.strip().splitlines()[-1]
    assert code == 0
    assert out.startswith('SWD: ') and 'real vs real' in out and out.endswith('of the gap closed')
    assert run_script(['evaluate', '--checkpoint', str(tmp_path / 'run'), '--dataset', 'folder',
                   '--data-dir', folder, '--eval-images', '100']) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].endswith(
        'error: --eval-images 100 needs at least 200 images; folder has 32 (see --help)')


@pytest.mark.parametrize('flags,expected', [
    ('fpu sse2 avx2 avx512f avx512_bf16 amx_bf16 amx_tile', 'AMX_BF16'),
    ('fpu sse2 avx2 avx512f avx512_bf16', 'AVX512_BF16'),
    ('fpu sse2 avx2 avx512f avx512bw', None),
    ('fpu sse2 avx2', None),
])
def test_cpu_bfloat16_support_reads_the_flags(flags, expected, tmp_path):
    cpuinfo = tmp_path / 'cpuinfo'  # two cores' entries, as /proc/cpuinfo lists them
    cpuinfo.write_text(''.join('processor\t: {}\nmodel name\t: A CPU\nflags\t\t: {}\n\n'.format(i, flags) for i in range(2)))
    assert tensorflow_setup.cpu_bfloat16_support(str(cpuinfo)) == expected


def test_cpu_bfloat16_support_is_none_without_cpuinfo(tmp_path):
    assert tensorflow_setup.cpu_bfloat16_support(str(tmp_path / 'no such file')) is None  # off Linux
