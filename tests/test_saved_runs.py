"""
What a saved run is, and what can be drawn from it, on a run the tests share (conftest.narrow_run: the
notebook's train and SHARED_RUN's settings with the narrow networks of tiny_networks.py, trained once a
session; `generate` and `evaluate` from their command lines, as the script's last cell runs them): its
records (scores, D(x) and D(G(z)) recomputed independently, TensorBoard's
events), `generate` (faces, their z, walks, in batches, from the averaged generator or the raw one, at
the run's precision), `evaluate` (the score and the memorisation check), runs an older version saved
(no run.json, no averaged generator), and generate's inputs, each refused in one line.
"""
import argparse
import dataclasses
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image
from tensorboard.backend.event_processing import event_accumulator

import dlnd_face_generation as dlnd
import helper
import tiny_networks
from conftest import ROOT, SHARED_FACES, child_env, copy_run, generate, run_command, run_script
from facegan.core import machine, run_config
from facegan.inspect import drawing, generator_session, latent_walk, restore
from facegan.metrics.sliced_wasserstein import sliced_wasserstein
from facegan.output import run_log
from facegan.train import schedule

tf = dlnd.tf
FULL_WIDTH_GENERATOR = dlnd.generator  # the notebook's own, before the narrow ones replace it
FACE = 28 * 4  # a face in a strip or the nearest-neighbour picture: 28 pixels, 4x enlarged
HELD_OUT, BATCH, STEPS = 8, 8, 4  # conftest.SHARED_RUN's


def _pixels(path):
    with Image.open(str(path)) as image:
        return np.asarray(image.convert('RGB'))


def _dataset(data):
    return helper.Dataset('folder', helper.list_image_files(data), image_mode='RGB')


@pytest.fixture(autouse=True)
def narrow(monkeypatch):
    """The notebook module's networks are the narrow run's"""
    tiny_networks.narrow_networks(monkeypatch)


def _generate(run, folder, *flags):
    return generate(['--checkpoint', run, '--output-dir', str(folder)] + list(flags))


# --- The run's records ----------------------------------------------------------------------------------------

def test_the_scores_are_of_the_held_out_images_from_the_untrained_generator_on(narrow_run):
    run, data, _ = narrow_run
    rows = run_log.read_rows(os.path.join(run, 'swd.csv'), run_log.SWD_COLUMNS)
    assert rows['step'].tolist() == [0, 2, 4] and rows['weights'].tolist() == ['raw', 'averaged', 'averaged']
    images = _dataset(data).images(range(SHARED_FACES)) / 127.5 - 1
    held_out, other = images[-HELD_OUT:], images[:HELD_OUT]  # the last held out; as many of the rest for the floor
    floor = sliced_wasserstein(held_out, other, seed=0)
    np.testing.assert_allclose(rows['swd_real_vs_real'], floor, atol=5e-7)  # the CSV keeps 6 decimals
    assert (rows['swd_untrained'] == rows['swd'][0]).all() and rows['gap_closed'][0] == 0
    closed = (rows['swd_untrained'] - rows['swd']) / (rows['swd_untrained'] - rows['swd_real_vs_real'])
    np.testing.assert_allclose(rows['gap_closed'], closed, atol=1e-4)  # from the CSV's 6-decimal values


def _batch_of_step(data, step):
    """:return: The images a step of the shared run trained on, recomputed: the epoch's order, its batch, doubled"""
    training = _dataset(data).split(HELD_OUT)[0]
    order = schedule.epoch_order(0, 0, training.shape[0])
    return training.images(order[(step - 1) * BATCH:step * BATCH]) / 255 * 2 - 1


def test_d_real_of_a_step_is_the_discriminator_on_the_batch_it_trained_on(narrow_run):
    """Recomputed in a graph of its own: the notebook's discriminator, step 1's saved weights, step 2's batch"""
    run, data, logdir = narrow_run
    path = os.path.join(run, 'checkpoints', 'model-1')
    with tf.Graph().as_default():
        _, logits = dlnd.discriminator(tf.constant(_batch_of_step(data, 2), tf.float32))
        with tf.Session() as sess:
            tf.train.Saver(var_list=tf.global_variables()).restore(sess, path)
            recomputed = (1 / (1 + np.exp(-sess.run(logits).astype(np.float64)))).mean()
    logged = run_log.read_rows(os.path.join(run, 'losses.csv'), run_log.LOSS_COLUMNS)['d_real'][1]
    # float32's sigmoid and mean of 8 values round within 1e-6 of float64's; the CSV keeps 6 decimals
    assert logged == pytest.approx(recomputed, abs=2e-6)
    events = event_accumulator.EventAccumulator(logdir, size_guidance={'scalars': 0})
    events.Reload()
    assert events.Scalars('d_real')[1].value == pytest.approx(recomputed, abs=1e-6)


def test_the_event_files_have_the_scalars_histograms_and_grids(narrow_run):
    run, _, logdir = narrow_run
    events = event_accumulator.EventAccumulator(logdir, size_guidance={'scalars': 0, 'histograms': 0, 'images': 0})
    events.Reload()
    for name in ('d_loss', 'g_loss', 'd_real', 'd_fake'):
        assert [event.step for event in events.Scalars(name)] == list(range(1, STEPS + 1))
    assert [event.step for event in events.Scalars('swd')] == [0, 2, 4]
    for name in ('d_real_per_image', 'd_fake_per_image'):
        histograms = events.Histograms(name)
        assert [event.step for event in histograms] == [2, 4]  # with each grid
        assert all(event.histogram_value.num == BATCH == sum(event.histogram_value.bucket) for event in histograms)
        assert all(0 <= event.histogram_value.min <= event.histogram_value.max <= 1 for event in histograms)
    assert [event.step for event in events.Images('samples')] == [2, 4, 4]  # each grid, and the final one


def test_the_checkpoints_hold_the_averaged_generator_and_its_own_batch_norm_statistics(narrow_run):
    path = os.path.join(narrow_run[0], 'checkpoints', 'model-4')
    saved = dict(tf.train.list_variables(path))
    raw = {name: shape for name, shape in saved.items() if name.startswith('generator/') and 'Adam' not in name}
    assert len(raw) == 17  # 11 weights, 6 batch-norm statistics
    assert all(saved['averaged/' + name] == shape for name, shape in raw.items())
    assert tf.train.load_variable(path, 'averaged/steps') == STEPS
    for name in raw:  # after 4 steps the average is not the weights, and its statistics are its own
        assert not np.array_equal(tf.train.load_variable(path, name), tf.train.load_variable(path, 'averaged/' + name))


# --- generate -------------------------------------------------------------------------------------------------

def test_generate_writes_faces_their_z_and_a_grid_the_same_for_a_seed_in_any_batches(narrow_run, tmp_path,
                                                                                 monkeypatch, capsys):
    run = narrow_run[0]
    assert _generate(run, tmp_path / 'one', '--n', '10', '--seed', '3') == 0
    assert 'Wrote 10 faces ({} ... face_009.png), each with its z'.format(tmp_path / 'one' / 'face_000.png') in \
        capsys.readouterr().out
    batch_sizes = []
    real_run = tf.Session.run

    def spy_run(self, fetches, feed_dict=None, **kwargs):
        batch_sizes.extend(len(value) for key, value in (feed_dict or {}).items()
                           if getattr(key, 'name', '') == 'input_z:0')
        return real_run(self, fetches, feed_dict=feed_dict, **kwargs)

    monkeypatch.setattr(tf.Session, 'run', spy_run)
    monkeypatch.setattr(generator_session, 'GENERATE_BATCH', 4)
    monkeypatch.setattr(drawing, 'GENERATE_BATCH', 4)
    monkeypatch.setattr(drawing, 'GRID_FACES', 4)
    assert _generate(run, tmp_path / 'four', '--n', '10', '--seed', '3') == 0
    assert batch_sizes == [4, 4, 4]  # the last batch padded: one batch shape, whatever --n
    for i in range(10):
        name = 'face_{:03d}.png'.format(i)
        with Image.open(str(tmp_path / 'one' / name)) as face:
            assert face.size == (28, 28) and face.mode == 'RGB'
        # The same face, to the pixel: the matrix products round the same way for one batch shape
        assert (_pixels(tmp_path / 'one' / name) == _pixels(tmp_path / 'four' / name)).all()
        assert np.load(str(tmp_path / 'one' / 'face_{:03d}.npy'.format(i))).shape == (100,)
    with Image.open(str(tmp_path / 'four' / 'grid.png')) as grid:
        assert grid.size == (4 * 2 * 28, 4 * 2 * 28)  # the first GRID_FACES, 4x enlarged
    assert sorted(os.listdir(str(tmp_path / 'four'))) == sorted(os.listdir(str(tmp_path / 'one')))  # no temp files


@pytest.mark.parametrize('flags,written', [(('--n', '2'), ['face_000.npy', 'face_000.png', 'face_001.npy',
                                                             'face_001.png', 'grid.png']),
                                           (('--walk', '2'), ['walk.gif', 'walk.png', 'walk_z.npy'])])
def test_the_temporary_files_of_a_killed_generate_are_removed_by_the_next_with_a_note(flags, written, narrow_run,
                                                                                      tmp_path, capsys):
    """kill -9 leaves a file being written under its temporary name; a generate running there now keeps its own"""
    stopped = subprocess.Popen(['true'])
    stopped.wait()  # its PID names no process now, as a killed generate's
    folder = tmp_path / 'out'
    folder.mkdir()
    killed = ['face_007.png', 'face_007.npy', 'grid.png', 'walk.gif', 'walk_z.npy']
    others = ['face_009.png.tmp-{}-0a1b2c3d'.format(os.getpid()),  # a generate running now (this process)
              'notes.txt.tmp-{}-0a1b2c3d'.format(stopped.pid)]  # not generate's: left alone
    for name in ['{}.tmp-{}-0a1b2c3d'.format(name, stopped.pid) for name in killed] + others:
        (folder / name).write_bytes(b'half')
    capsys.readouterr()
    assert _generate(narrow_run[0], folder, *flags) == 0
    assert sorted(os.listdir(str(folder))) == sorted(written + others)
    assert capsys.readouterr().err.endswith('note: removed 5 leftovers of an interrupted generate in {}\n'.format(
        folder))


def test_generate_into_a_folder_of_more_faces_says_which_are_an_earlier_generates(narrow_run, tmp_path, capsys):
    """Fewer faces than an earlier generate wrote there replace only the first: the rest stay, and a note names them"""
    folder = tmp_path / 'out'
    folder.mkdir()
    earlier = {'face_{:03d}.{}'.format(number, kind): 'earlier {} {}'.format(number, kind).encode()
               for number in range(5) for kind in ('png', 'npy')}
    for name, content in earlier.items():
        (folder / name).write_bytes(content)
    capsys.readouterr()
    assert _generate(narrow_run[0], folder, '--n', '2') == 0
    err = capsys.readouterr().err
    assert err.endswith('note: {} still holds 3 faces (face_002.png ... face_004.png) from an earlier generate\n'
                        .format(folder))
    for name, content in earlier.items():  # this generate's two faces replaced the first two, nothing else
        assert ((folder / name).read_bytes() == content) == (name >= 'face_002')
    assert _generate(narrow_run[0], folder, '--n', '4') == 0
    assert capsys.readouterr().err.endswith('note: {} still holds 1 face (face_004.png) from an earlier generate\n'
                                            .format(folder))


def _draw(run, weights='averaged', precision=None, z=None):
    """:return: The shared run's faces of 16 fixed z, drawn as generate draws them"""
    saved = restore.find_run(dlnd.generator, run, 'train first')
    z = np.random.RandomState(7).uniform(-1, 1, (16, saved.z_dim)).astype(np.float32) if z is None else z
    with generator_session.drawing(dlnd.generator, saved, 0, weights=weights, precision=precision) as draw:
        return draw(z)


def test_generate_draws_from_the_averaged_generator_and_with_the_flag_from_the_raw_weights(narrow_run, tmp_path):
    run = narrow_run[0]
    averaged, raw = _draw(run), _draw(run, 'raw')
    assert np.abs(averaged - raw).max() > 0.05  # two generators
    assert _generate(run, tmp_path / 'a', '--n', '2') == 0 and _generate(run, tmp_path / 'r', '--n', '2',
                                                                           '--raw-weights') == 0
    z = np.stack([np.load(str(tmp_path / 'a' / 'face_{:03d}.npy'.format(i))) for i in range(2)])
    for folder, weights in (('a', 'averaged'), ('r', 'raw')):
        expected = np.clip(np.round((_draw(run, weights, z=z) + 1) * 127.5), 0, 255)
        assert all((_pixels(tmp_path / folder / 'face_{:03d}.png'.format(i)) == expected[i]).all() for i in range(2))


@pytest.mark.parametrize('with_run_json', [False, True])
def test_a_run_an_older_version_saved_still_draws(with_run_json, narrow_run, tmp_path, capsys):
    """
    No averaged generator in the checkpoint: the raw one is drawn. Without run.json too (z's length and the
    channels read from the checkpoint), as an older version saved it: nothing to say. With a run.json that says
    the run kept an average: one note
    """
    run = copy_run(narrow_run[0], tmp_path / 'old')
    if not with_run_json:
        os.remove(os.path.join(run, 'run.json'))
    path = os.path.join(run, 'checkpoints', 'model-4')
    with tf.Graph().as_default():  # the checkpoint less its averaged generator, as the version before saved it
        reader = tf.train.NewCheckpointReader(path)
        variables = [tf.Variable(reader.get_tensor(name), name=name) for name in reader.get_variable_to_shape_map()
                     if not name.startswith('averaged/')]
        with tf.Session() as sess:
            sess.run(tf.variables_initializer(variables))
            os.remove(path + '.index')
            os.remove(path + '.data-00000-of-00001')
            tf.train.Saver(var_list=variables).save(sess, path, write_meta_graph=False, write_state=False)
    capsys.readouterr()
    assert _generate(run, tmp_path / 'faces', '--n', '2') == 0
    err = capsys.readouterr().err
    if with_run_json:
        assert err == "note: {}: it holds no averaged generator; drawing the generator's own weights\n".format(path)
    else:
        assert err == ''
    capsys.readouterr()
    np.testing.assert_array_equal(_draw(run), _draw(narrow_run[0], 'raw'))


@pytest.mark.skipif(not machine.bfloat16_possible(),
                    reason='oneDNN computes bfloat16 with AVX-512 only: this CPU, ONEDNN_MAX_CPU_ISA or '
                           'TF_ENABLE_ONEDNN_OPTS=0 leaves it out')
@pytest.mark.numerical
def test_drawing_in_bfloat16_stays_within_bfloat16s_rounding_of_float32(narrow_run):
    """
    generate and evaluate draw at the run's precision, or the one asked for: the faces in bfloat16 differ from
    float32's by what bfloat16's rounding allows, and no more
    """
    run = narrow_run[0]
    as_float32, as_bfloat16 = _draw(run, precision='float32'), _draw(run, precision='bfloat16')
    difference = np.abs(as_bfloat16 - as_float32)
    # bfloat16 keeps 8 significant bits: rounding to nearest changes a value by up to u = 2^-8 of it, so a product of
    # two rounded inputs is off by up to 2u of itself, and a dot product (oneDNN accumulates in float32) by up to 2u of
    # the sum of its terms' magnitudes. Through the 4 layers (batch norm rescales each layer's output to unit
    # variance; leaky ReLU and tanh have slopes of at most 1) the errors add: at most 4 x 2u of an output's scale,
    # which is at most 2 for tanh's outputs in [-1, 1]
    u = 2.0 ** -8
    assert difference.max() <= 4 * 2 * u * 2
    assert difference.max() > 0  # bfloat16 did round: the two are not the same computation


# --- generate --walk and --z ------------------------------------------------------------------------------------

def test_walk_writes_a_strip_and_a_looping_gif_the_same_for_a_seed(narrow_run, tmp_path, capsys):
    run = narrow_run[0]
    files = {}
    for name, seed in (('a', '3'), ('b', '3'), ('c', '4')):
        assert _generate(run, tmp_path / name, '--walk', '4', '--seed', seed) == 0
        files[name] = {f: (tmp_path / name / f).read_bytes() for f in ('walk.png', 'walk.gif', 'walk_z.npy')}
    assert 'walk.png, walk.gif and walk_z.npy (its z, for --z)' in capsys.readouterr().out
    assert files['a'] == files['b'] and files['a']['walk.gif'] != files['c']['walk.gif']
    with Image.open(str(tmp_path / 'a' / 'walk.png')) as strip:
        assert strip.size == (latent_walk.STEPS * FACE, 4 * FACE)  # a row a leg
    with Image.open(str(tmp_path / 'a' / 'walk.gif')) as gif:
        assert gif.n_frames == 4 * latent_walk.STEPS and gif.info['loop'] == 0 and gif.size == (224, 224)
    points = np.load(str(tmp_path / 'a' / 'walk_z.npy'))
    assert points.shape == (4, 100)
    frames = _draw(run, z=latent_walk.loop(points))  # the walk's frames are the faces of the slerped z
    strip = _pixels(tmp_path / 'a' / 'walk.png')
    for leg in range(4):
        for step in range(latent_walk.STEPS):
            face = strip[leg * FACE:(leg + 1) * FACE:4, step * FACE:(step + 1) * FACE:4]
            expected = np.clip(np.round((frames[leg * latent_walk.STEPS + step] + 1) * 127.5), 0, 255)
            assert (face == expected).all()
    assert sorted(os.listdir(str(tmp_path / 'a'))) == ['walk.gif', 'walk.png', 'walk_z.npy']  # no temporary files


def test_z_redraws_a_saved_face_exactly_and_a_walk_starts_from_it(narrow_run, tmp_path, capsys):
    run = narrow_run[0]
    assert _generate(run, tmp_path / 'all', '--n', '5') == 0
    kept = tmp_path / 'all' / 'face_003.npy'
    capsys.readouterr()
    assert _generate(run, tmp_path / 'one', '--z', str(kept)) == 0
    assert 'Wrote 1 face ({}), each with its z'.format(tmp_path / 'one' / 'face_000.png') in capsys.readouterr().out
    assert (_pixels(tmp_path / 'one' / 'face_000.png') == _pixels(tmp_path / 'all' / 'face_003.png')).all()
    assert _generate(run, tmp_path / 'walk', '--z', str(kept), '--walk', '2') == 0
    first_frame = _pixels(tmp_path / 'walk' / 'walk.png')[:FACE:4, :FACE:4]  # 4x enlarged: every 4th pixel
    assert (first_frame == _pixels(tmp_path / 'all' / 'face_003.png')).all()


@pytest.mark.parametrize('what,expected', [
    ('missing', 'cannot read it (No such file or directory)'),
    ('empty', 'the file is empty: give a .npy file of z that generate saved'),
    ('garbage', 'not a .npy file of z, as generate saves beside each face'),
    ('pickle', 'not a .npy file of z, as generate saves beside each face'),
    ('text', "it holds text (<U1), not numbers: give a .npy file of z that generate saved"),
    ('wrong length', 'it holds an array of shape (7,); this generator takes z of 100 numbers'),
    ('three dimensions', 'it holds an array of shape (1, 1, 100)'),
    ('not finite', 'it holds numbers that are not finite'),
    ('too large for float32', "it holds numbers too large for float32, the type of the generator's z (up to 1e+300)"),
    ('a folder', 'cannot read it ('),
])
@pytest.mark.filterwarnings('error::RuntimeWarning')  # numpy's overflow warnings would be lines of their own
def test_a_bad_z_file_is_one_line_naming_it(what, expected, narrow_run, tmp_path, capsys):
    path = tmp_path / 'z.npy'
    if what == 'empty':
        path.write_bytes(b'')
    elif what == 'garbage':
        path.write_bytes(b'\x00\x01 not numpy')
    elif what == 'pickle':
        np.save(str(path), np.array([{'z': 1}], dtype=object))
    elif what == 'a folder':
        path.mkdir()
    elif what != 'missing':
        np.save(str(path), {'wrong length': np.zeros(7), 'three dimensions': np.zeros((1, 1, 100)),
                            'not finite': np.full(100, np.nan), 'text': np.array(['a'] * 100),
                            'too large for float32': np.full(100, 1e300)}[what])
    capsys.readouterr()
    assert _generate(narrow_run[0], tmp_path / 'out', '--z', str(path)) == 1
    err = capsys.readouterr().err
    assert err.startswith('error: --z {}: {}'.format(path, expected)) and err.count('\n') == 1  # no numpy warning


@pytest.mark.parametrize('flags', [(), ('--walk', '2')])
def test_z_so_large_that_the_generator_draws_nan_is_one_line_not_black_faces(flags, narrow_run, tmp_path, capsys):
    """float32's largest numbers overflow the generator's layers: its faces are NaN, which would be drawn black"""
    path = tmp_path / 'huge.npy'
    np.save(str(path), np.full(100, 3e38, np.float32))
    capsys.readouterr()
    assert _generate(narrow_run[0], tmp_path / 'out', '--z', str(path), *flags) == 1
    assert capsys.readouterr().err == 'error: {}the generator drew faces that are not finite (NaN or infinity) from ' \
                                      'z as large as 3e+38: it was trained on z from -1 to 1; give z nearer that ' \
                                      'range\n'.format('--walk 2: ' if flags else '')  # the walk names its flag
    assert not [name for name in os.listdir(str(tmp_path / 'out')) if name.endswith(('.png', '.gif'))]


def test_a_walk_too_long_for_memory_is_one_line(shared_run, tmp_path):
    """
    In a child whose address space is capped (RLIMIT_AS), through the script (with conftest.shared_run's narrow
    networks: narrow_script.py): the walk is refused before anything is drawn
    """
    code = ('import resource, sys; sys.path.insert(0, {tests!r}); '
            'resource.setrlimit(resource.RLIMIT_AS, (12 * 2 ** 30, resource.RLIM_INFINITY)); '
            'sys.argv = ["dlnd_face_generation.py", "generate", "--checkpoint", {run!r}, "--walk", "1000000", '
            '"--output-dir", {out!r}]; import narrow_script; narrow_script.run_as_main()').format(
        tests=os.path.join(ROOT, 'tests'), run=shared_run[0], out=str(tmp_path / 'walk'))
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=300,
                            env=child_env())
    assert result.returncode == 1, result.stderr[-2000:]
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith('error: --walk 1000000: a walk through 1000000 z (8000000 faces) needs about ')
    assert lines[-1].endswith('of memory, more than this process may take ({} free): walk through fewer'.format(
        lines[-1].split('(')[-1].split(' free')[0])) and 'Traceback' not in result.stderr
    assert not os.path.exists(str(tmp_path / 'walk' / 'walk.png'))


@pytest.mark.parametrize('fault', ['estimate over the memory free', 'memory short while drawing'])
def test_a_walk_that_does_not_fit_is_one_line_and_writes_nothing(fault, narrow_run, tmp_path, capsys, monkeypatch):
    """In this process: the estimate above what the machine has free (refused before anything is drawn), or an
    estimate that was short (numpy runs out of memory while the frames are put together)"""
    if fault == 'estimate over the memory free':
        monkeypatch.setattr(drawing.machine, 'memory_available', lambda: 1024)
    else:
        def short(*args, **kwargs):
            raise MemoryError()
        monkeypatch.setattr(drawing.pictures, 'save_rows', short)
    capsys.readouterr()
    assert _generate(narrow_run[0], tmp_path / 'walk', '--walk', '3') == 1
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and err.startswith('error: --walk 3: a walk through 3 z (24 faces) needs about ')
    assert err.endswith(': walk through fewer\n') and ('(1.0 kB free)' in err) == (fault != 'memory short while drawing')
    assert not os.path.exists(str(tmp_path / 'walk' / 'walk.png'))


@pytest.mark.parametrize('command', ['generate', 'evaluate'])
def test_a_stop_while_generate_or_evaluate_draws_is_one_line_in_its_own_words(command, narrow_run, tmp_path, capsys,
                                                                            monkeypatch):
    def stop(*args, **kwargs):
        raise KeyboardInterrupt()

    monkeypatch.setattr(generator_session, '_draw_batch', stop)
    data = ['--dataset', 'folder', '--data-dir', narrow_run[1], '--eval-images', '8'] if command == 'evaluate' else []
    capsys.readouterr()
    assert run_command([command, '--checkpoint', narrow_run[0], '--output-dir', str(tmp_path / 'o')] + data) == 130
    assert capsys.readouterr().err == {
        'generate': 'error: interrupted (the files written before the stop are whole): run generate again for them all\n',
        'evaluate': 'error: interrupted before the score was done (nothing was written): run evaluate again\n'}[command]


def test_more_faces_than_memory_holds_z_for_is_one_line_before_the_generator_is_built(narrow_run, tmp_path, capsys,
                                                                                      monkeypatch):
    """--n 99999999999: numpy's error for its z (72.8 TiB) was a traceback; the estimate is refused first"""
    class Built(Exception):
        """The generator was about to be built: the estimate let the faces through"""

    def building(*args, **kwargs):
        raise Built()

    monkeypatch.setattr(drawing.machine, 'memory_available', lambda: 2 ** 30)
    monkeypatch.setattr(generator_session, 'drawing', building)
    capsys.readouterr()
    assert _generate(narrow_run[0], tmp_path / 'faces', '--n', str(2 ** 30 // 1200 + 1)) == 1  # 12 bytes a number
    assert capsys.readouterr().err == ('error: --n 894785: drawing 894785 faces needs about 1.1 GB of memory, more '
                                       'than this process may take (1.1 GB free): draw fewer\n')
    with pytest.raises(Built):
        _generate(narrow_run[0], tmp_path / 'faces', '--n', str(2 ** 30 // 1200))
    assert not os.path.exists(str(tmp_path / 'faces'))


@pytest.mark.parametrize('argv,expected', [
    (['--walk', '1'], 'must be at least 2'),
    (['--walk', '3', '--n', '4'], '--n draws random faces: leave it out with --walk'),
    (['--z', 'a.npy', '--n', '4'], '--n draws random faces: leave it out with --z'),
])
def test_walk_and_z_usage_errors_are_one_line(argv, expected, capsys):
    assert generate(['--checkpoint', 'x'] + argv) == 2
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and expected in err


def test_a_walk_shorter_than_the_saved_z_is_refused(narrow_run, tmp_path, capsys):
    path = tmp_path / 'three.npy'
    np.save(str(path), np.zeros((3, 100), np.float32))
    capsys.readouterr()
    assert _generate(narrow_run[0], tmp_path / 'o', '--z', str(path), '--walk', '2') == 2
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and 'give --walk 3 or more' in err


@pytest.mark.parametrize('what,expected', [
    ('output-dir is a file', 'error: cannot write to --output-dir {file} (it is a file, not a folder): choose another folder'),
    ('checkpoint is a file', 'error: --checkpoint {file}: {file} is not a checkpoint (no {file}.index beside it): '
                             "train first, or point --checkpoint at a run's output folder"),
    ('no checkpoint', 'error: --checkpoint {empty}: no checkpoint in {empty}: train first'),
    ('another model', 'lacks 1 of the 1 variables this model needs (e.g. sample_z)'),
])
def test_generate_problems_are_one_line(what, expected, narrow_run, tmp_path, capsys):
    a_file, empty = tmp_path / 'a_file.txt', tmp_path / 'empty'
    a_file.write_text('not a checkpoint')
    empty.mkdir()
    argv = ['--checkpoint', narrow_run[0]]
    if what == 'output-dir is a file':
        argv += ['--output-dir', str(a_file)]
    elif what == 'checkpoint is a file':
        argv = ['--checkpoint', str(a_file)]
    elif what == 'no checkpoint':
        argv = ['--checkpoint', str(empty)]
    else:
        with tf.Graph().as_default():
            tf.Variable([1.0], name='something_else')
            with tf.Session() as sess:
                sess.run(tf.global_variables_initializer())
                prefix = tf.train.Saver().save(sess, str(tmp_path / 'other' / 'model'), global_step=1)
        argv = ['--checkpoint', prefix]
    capsys.readouterr()
    assert generate(argv) == 1
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and expected.format(file=a_file, empty=empty) in err and 'Traceback' not in err


def test_a_run_without_run_json_that_this_generator_cannot_restore_is_one_line(narrow_run, tmp_path, capsys,
                                                                                 monkeypatch):
    """An older version's run (no run.json: z's length and the channels are read from the checkpoint's shapes) and
    a generator() of other widths (the notebook's own, not the narrow run's)"""
    run = copy_run(narrow_run[0], tmp_path / 'old')
    os.remove(os.path.join(run, 'run.json'))
    monkeypatch.setattr(dlnd, 'generator', FULL_WIDTH_GENERATOR)
    capsys.readouterr()
    assert _generate(run, tmp_path / 'faces', '--n', '1') == 1
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and err.startswith('error: --checkpoint {}: '.format(run))
    assert err.endswith('model-4 holds no generator that this generator() can restore: was it trained with another '
                        'version of the model?\n')


# --- evaluate --------------------------------------------------------------------------------------------------

def test_evaluate_prints_the_score_and_its_baselines(narrow_run, capsys):
    run, data, _ = narrow_run
    argv = ['evaluate', '--checkpoint', run, '--dataset', 'folder', '--data-dir', data]  # no --eval-images: the run's
    assert run_script(argv, narrow=True) == 0  # through the script's cells once (its CelebA cell's dataset, last cell)
    out, err = capsys.readouterr()
    printed = out.strip().splitlines()[-1]
    # the 8 held-out images (run.json) and seed the run scored against: the same floor; the averaged generator at step 4
    scores = run_log.read_rows(os.path.join(run, 'swd.csv'), run_log.SWD_COLUMNS)
    assert printed.startswith('SWD: ') and 'real vs real {:.4f}'.format(scores['swd_real_vs_real'][0]) in printed
    assert 'note' not in err
    assert run_command(argv + ['--eval-images', '100']) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].endswith('error: --eval-images 100 needs at least 200 images; folder has {} (see --help)'.format(
        SHARED_FACES))
    assert not [line for line in err if line.startswith('note: ')]  # no note on images it will not score
    assert run_command(argv + ['--eval-images', '16']) == 0  # 8 more than the run held out: said once it scores
    assert 'note: the run in --checkpoint {} held out 8 images (its run.json), so 8 of the last 16'.format(run) in \
        capsys.readouterr().err
    assert run_command(argv + ['--channels', '1']) == 2  # the run drew colour faces
    assert capsys.readouterr().err.strip().splitlines()[-1].endswith(
        'error: the run in --checkpoint {} draws 3-channel images, and --dataset folder has 1 (see --help)'.format(run))


@pytest.mark.parametrize('held_out,given,used,trained_on', [
    (8, None, 8, 0), (8, 4, 4, 0), (8, 16, 16, 8), (0, None, 256, 256), (None, None, 256, 0), (None, 4, 4, 0)])
def test_evaluate_scores_against_the_images_the_run_held_out_and_says_when_it_trained_on_some(
        held_out, given, used, trained_on, capsys):
    """held_out None: a run.json an older version wrote, without it (what the run held out is not known)"""
    from facegan.app import evaluating
    config = run_config.RunConfig(1, 8, 16, 0.0005, 0.5, 'folder', 'RGB').replace(held_out=held_out)
    saved = restore.SavedRun('runs/a\nb/checkpoints/model-4', 16, 3, 'float32', config)
    flags = argparse.Namespace(checkpoint='runs/a\nb', eval_images=given)
    note = 'note: the run in --checkpoint runs/a\\nb held out {} images (its run.json), so {} of the last {} that ' \
           'evaluate treats as unseen were trained on'.format(held_out, trained_on, used)
    assert evaluating.unseen_images(saved, flags) == (used, note if trained_on else '')


def test_evaluate_of_a_run_on_a_folder_of_images_asks_for_that_folder(narrow_run, capsys):
    """A run from a notebook's cells (runs.train without flags) records its dataset (folder) but no --data-dir:
    evaluate cannot guess the folder"""
    assert run_command(['evaluate', '--checkpoint', narrow_run[0]]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].endswith(
        'error: the run in --checkpoint {} trained on a folder of images: give that folder with --data-dir (see '
        '--help)'.format(narrow_run[0]))


def test_evaluate_of_a_checkpoint_that_is_not_there_stops_before_the_data_is_drawn(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert run_script(['evaluate', '--checkpoint', 'nope']) == 1
    assert capsys.readouterr().err == 'error: --checkpoint nope: no checkpoint in nope: train first, or point ' \
                                      '--checkpoint at a run\'s output folder\n'
    assert os.listdir(str(tmp_path)) == []  # no ./data of synthetic faces drawn for it


def _fill(disk):
    """Fill the disk, as another program may leave it: one file, 'filler', takes all its space"""
    filler = os.open(os.path.join(disk, 'filler'), os.O_WRONLY | os.O_CREAT)
    try:
        with pytest.raises(OSError, match='No space left'):
            while True:
                os.write(filler, b'\0' * 4096)
    finally:
        os.close(filler)


def test_a_full_disk_under_nearest_png_is_one_line_naming_it(narrow_run, small_disk, capsys):
    _fill(small_disk)
    run, data, _ = narrow_run
    assert run_command(['evaluate', '--checkpoint', run, '--dataset', 'folder', '--data-dir', data, '--nearest',
                        '--output-dir', small_disk]) == 1
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        'error: could not write or read {} (No space left on device): free some space there, then run '
        'again'.format(os.path.join(small_disk, 'nearest.png')))
    assert sorted(os.listdir(small_disk)) == ['filler']  # no partial picture left


@pytest.mark.parametrize('flags,what', [(['--walk', '2'], 'the walk'), (['--n', '3'], 'the faces')])
def test_a_full_disk_under_generate_is_one_line_saying_what_it_was_writing(flags, what, narrow_run, small_disk,
                                                                            capsys):
    _fill(small_disk)
    assert _generate(narrow_run[0], small_disk, *flags) == 1
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith(
        'error: not enough disk space in {} for {} (needs about '.format(small_disk, what))
    assert sorted(os.listdir(small_disk)) == ['filler']  # no partial file left


def test_nearest_writes_the_picture_and_finds_no_copying_in_a_normal_run(narrow_run, tmp_path, capsys):
    run, data, _ = narrow_run
    out = tmp_path / 'new' / 'folder'  # made when the picture is written
    assert run_command(['evaluate', '--checkpoint', run, '--dataset', 'folder', '--data-dir', data, '--eval-images',
                       '8', '--nearest', '--output-dir', str(out)]) == 0
    printed = capsys.readouterr().out
    assert 'No sign of copying' in printed and 'Wrote {}'.format(out / 'nearest.png') in printed
    with Image.open(str(out / 'nearest.png')) as picture:
        assert picture.size == (4 * FACE, 8 * FACE)  # 8 generated faces, each beside its 3 nearest


def test_a_generator_whose_layers_left_the_generator_scope_is_one_line_saying_where_to_build_them(narrow_run,
                                                                                                  tmp_path):
    def renamed(z, out_channel_dim, is_train=True, alpha=0.2, keep_prob=0.5):
        with tf.variable_scope('renamed'):  # renamed/generator/...: the run saved generator/...
            return dlnd.generator(z, out_channel_dim, is_train, alpha, keep_prob)

    from facegan.app import command_line, generating
    from facegan.core.errors import LearnerCodeError
    out = tmp_path / 'faces'
    flags = command_line.parse(['generate', '--checkpoint', narrow_run[0], '--output-dir', str(out)])
    with pytest.raises(LearnerCodeError) as err:
        generating.generate(renamed, flags)
    assert str(err.value) == ("generator() made no variables under 'generator/', where the run's are saved: build "
                              "its layers inside tf.variable_scope('generator', ...)")
    assert not out.exists()


def test_nearest_reports_a_generator_that_returns_training_images_as_copying(narrow_run, tmp_path, capsys):
    """A generator that draws the training set's own images, whatever z: the check says it copies"""
    run, data, _ = narrow_run
    training = _dataset(data).images(range(SHARED_FACES - HELD_OUT)) / 127.5 - 1

    def copying(z, out_channel_dim, is_train=True, alpha=0.2, keep_prob=0.5):
        dlnd.generator(z, out_channel_dim, is_train, alpha, keep_prob)  # its variables, for the checkpoint
        picks = tf.cast(tf.abs(z[:, 0]) * (len(training) - 1), tf.int32)
        return tf.gather(tf.constant(training, tf.float32), picks)

    from facegan.app import evaluating, command_line
    flags = command_line.parse(['evaluate', '--checkpoint', run, '--dataset', 'folder', '--data-dir', data,
                                '--eval-images', '8', '--nearest', '--output-dir', str(tmp_path)])
    evaluating.evaluate(copying, _dataset(data), flags)
    assert 'may be copying' in capsys.readouterr().out


# --- What did it learn? (the run cell's last call) -------------------------------------------------------------

@pytest.mark.parametrize('held_out', [True, False])
def test_what_it_learned_shows_a_walk_and_checks_memorisation_only_against_held_out_faces(held_out, narrow_run,
                                                                                          tmp_path, monkeypatch):
    from facegan.app import learned
    from facegan.output import display

    run = copy_run(narrow_run[0], tmp_path / 'run')
    config = dataclasses.replace(run_config.load(run), output_dir=run, held_out=HELD_OUT if held_out else 0)
    shown = []
    monkeypatch.setattr(display, 'available', lambda: True)  # as in a notebook, or on a desktop
    monkeypatch.setattr(display, 'show_picture', shown.append)
    lines = learned.what_it_learned(dlnd.generator, _dataset(narrow_run[1]), config)
    assert [os.path.basename(path) for path in shown] == (['walk.png', 'nearest.png'] if held_out else ['walk.png'])
    with Image.open(shown[0]) as strip:
        assert strip.size == (latent_walk.STEPS * FACE, learned.WALK * FACE)  # a row a leg
    if held_out:
        assert any('held-out real faces' in line for line in lines)
        with Image.open(shown[1]) as picture:
            assert picture.size == (4 * FACE, HELD_OUT * FACE)  # a generated face a held-out image, beside its 3 nearest
    else:
        assert len(lines) == 1 and lines[0].startswith('note: no memorisation check')


def test_what_it_learned_makes_nothing_without_a_display(narrow_run, tmp_path):
    from facegan.app import learned

    run = copy_run(narrow_run[0], tmp_path / 'run')
    before = sorted(os.listdir(run))
    assert learned.what_it_learned(dlnd.generator, _dataset(narrow_run[1]), run_config.load(run)) == []  # Agg
    assert sorted(os.listdir(run)) == before


def test_a_run_trained_in_bfloat16_draws_in_float32_where_bfloat16_cannot_run(narrow_run, tmp_path, monkeypatch,
                                                                              capsys):
    """The run's own precision is generate's default; on a machine without it, float32 with one note"""
    run = copy_run(narrow_run[0], tmp_path / 'run')
    run_config.save(run_config.load(run).replace(precision_used='bfloat16'), run)  # a new file: the shared run's stays
    monkeypatch.setattr(machine, 'bfloat16_possible', lambda *args, **kwargs: False)
    assert generate(['--checkpoint', run, '--n', '2', '--output-dir', str(tmp_path / 'faces')]) == 0
    assert 'note: the run trained in bfloat16, which cannot run here: drawing in float32\n' in capsys.readouterr().err
    assert len([name for name in os.listdir(str(tmp_path / 'faces')) if name.endswith('.png')]) >= 2
