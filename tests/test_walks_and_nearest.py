"""What the GAN learned: walks through z (generate --walk, --z) and the memorisation check (evaluate --nearest)."""
import os

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image

import dlnd_face_generation as dlnd
import helper
from conftest import run_script, use_few_synthetic_faces
from facegan import command_line, generation, latent_walk, nearest
from facegan.errors import UserError

FACES = 16  # synthetic faces of the shared run
FACE = 28 * 4  # a face in a strip or the nearest-neighbour picture: 28 pixels, 4x enlarged


@pytest.fixture(scope='module')
def run(tmp_path_factory):
    """One trained run for the module: 16 synthetic faces, batch 8, 2 steps. :return: (run folder, data folder)"""
    folder = tmp_path_factory.mktemp('run')
    with pytest.MonkeyPatch.context() as monkeypatch:
        use_few_synthetic_faces(monkeypatch, FACES)
        code = run_script(['--batch-size', '8', '--data-dir', str(folder / 'data'), '--output-dir',
                           str(folder / 'out'), '--show-every', '1000', '--max-steps', '2', '--eval-every', '0'])
    assert code == 0
    return folder / 'out', folder / 'data'


def _pixels(path):
    with Image.open(str(path)) as image:
        return np.asarray(image.convert('RGB'))


# --- slerp ---------------------------------------------------------------------------------------

_z = arrays(np.float64, 8, elements=st.floats(-1, 1))


@given(_z, _z, st.floats(0, 1))
def test_slerp_starts_and_ends_at_its_points_and_keeps_a_common_length(start, end, fraction):
    assert np.allclose(latent_walk.slerp(start, end, 0), start) and np.allclose(latent_walk.slerp(start, end, 1), end)
    lengths = np.linalg.norm(start), np.linalg.norm(end)
    if min(lengths) > 0.1:
        unit_start, unit_end = start / lengths[0], end / lengths[1]
        middle = latent_walk.slerp(unit_start, unit_end, fraction)
        if abs(np.dot(unit_start, unit_end)) < 0.999:  # an arc is defined: it stays on the unit sphere
            assert np.isclose(np.linalg.norm(middle), 1)


def test_slerp_keeps_the_length_of_training_z_where_a_straight_line_does_not():
    rng = np.random.RandomState(0)
    start, end = rng.uniform(-1, 1, (2, 100))
    typical = np.sqrt(100 / 3)
    assert abs(np.linalg.norm(latent_walk.slerp(start, end, 0.5)) - typical) < 0.1 * typical
    assert np.linalg.norm((start + end) / 2) < 0.8 * typical


def test_a_walk_loops_through_its_points_in_order():
    points = latent_walk.waypoints(np.ones((1, 5)), 3, 5, np.random.RandomState(1))
    assert points.shape == (3, 5) and (points[0] == 1).all()
    path = latent_walk.loop(points, steps=4)
    assert path.shape == (12, 5) and np.allclose(path[::4], points)


# --- generate --walk and --z --------------------------------------------------------------------

def test_walk_writes_a_strip_and_a_looping_gif_the_same_for_a_seed(run, tmp_path, capsys):
    out, _ = run
    files = {}
    for name, seed in (('a', '3'), ('b', '3'), ('c', '4')):
        argv = ['generate', '--checkpoint', str(out), '--walk', '4', '--seed', seed, '--output-dir', str(tmp_path / name)]
        assert run_script(argv) == 0
        files[name] = {f: (tmp_path / name / f).read_bytes() for f in ('walk.png', 'walk.gif', 'walk_z.npy')}
    assert 'walk.png and walk.gif' in capsys.readouterr().out
    assert files['a'] == files['b'] and files['a']['walk.gif'] != files['c']['walk.gif']
    with Image.open(str(tmp_path / 'a' / 'walk.png')) as strip:
        assert strip.size == (latent_walk.STEPS * FACE, 4 * FACE)  # a row a leg
    with Image.open(str(tmp_path / 'a' / 'walk.gif')) as gif:
        assert gif.n_frames == 4 * latent_walk.STEPS and gif.info['loop'] == 0 and gif.size == (224, 224)
    assert np.load(str(tmp_path / 'a' / 'walk_z.npy')).shape == (4, 100)
    assert sorted(os.listdir(str(tmp_path / 'a'))) == ['walk.gif', 'walk.png', 'walk_z.npy']  # no temporary files


def test_z_redraws_a_saved_face_exactly_and_a_walk_starts_from_it(run, tmp_path):
    out, _ = run
    assert run_script(['generate', '--checkpoint', str(out), '--n', '5', '--output-dir', str(tmp_path / 'all')]) == 0
    kept = tmp_path / 'all' / 'face_003.npy'
    assert np.load(str(kept)).shape == (100,)
    assert run_script(['generate', '--checkpoint', str(out), '--z', str(kept), '--output-dir', str(tmp_path / 'one')]) == 0
    assert (_pixels(tmp_path / 'one' / 'face_000.png') == _pixels(tmp_path / 'all' / 'face_003.png')).all()
    assert run_script(['generate', '--checkpoint', str(out), '--z', str(kept), '--walk', '2',
                       '--output-dir', str(tmp_path / 'walk')]) == 0
    first_frame = _pixels(tmp_path / 'walk' / 'walk.png')[:FACE:4, :FACE:4]  # 4x enlarged: every 4th pixel
    assert (first_frame == _pixels(tmp_path / 'all' / 'face_003.png')).all()


@pytest.mark.parametrize('what,expected', [
    ('missing', 'cannot read --z'),
    ('garbage', 'is not a .npy file'),
    ('pickle', 'is not a .npy file'),
    ('wrong length', 'holds an array of shape (7,); this generator takes z of 100'),
    ('three dimensions', 'holds an array of shape (1, 1, 100)'),
    ('not finite', 'not finite'),
    ('text', 'holds an array of shape'),
])
def test_a_bad_z_file_is_refused_naming_z(what, expected, tmp_path):
    path = tmp_path / 'z.npy'
    if what == 'garbage':
        path.write_bytes(b'\x00\x01 not numpy')
    elif what == 'pickle':
        np.save(str(path), np.array([{'z': 1}], dtype=object))
    elif what != 'missing':
        np.save(str(path), {'wrong length': np.zeros(7), 'three dimensions': np.zeros((1, 1, 100)),
                            'not finite': np.full(100, np.nan), 'text': np.array(['a'] * 100)}[what])
    with pytest.raises(UserError) as refused:
        generation.load_z([str(tmp_path / 'fine.npy'), str(path)] if what == 'missing' else [str(path)], 100)
    message = str(refused.value)
    assert '--z {}'.format(tmp_path) in message and expected in message and '\n' not in message


def test_a_bad_z_file_on_the_command_line_is_one_line_and_exit_1(run, tmp_path, capsys):
    out, _ = run
    path = tmp_path / 'z.npy'
    np.save(str(path), np.zeros(7))
    capsys.readouterr()
    assert run_script(['generate', '--checkpoint', str(out), '--z', str(path), '--output-dir', str(tmp_path / 'o')]) == 1
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and '--z {}'.format(path) in err and 'Traceback' not in err


@pytest.mark.parametrize('argv,expected', [
    (['--walk', '1'], 'must be at least 2'),
    (['--walk', '3', '--n', '4'], '--n draws random faces'),
    (['--z', 'a.npy', '--n', '4'], '--n draws random faces'),
])
def test_walk_and_z_usage_errors_are_one_line(argv, expected, capsys):
    with pytest.raises(SystemExit) as stopped:
        command_line.parse(['generate', '--checkpoint', 'x'] + argv)
    err = capsys.readouterr().err
    assert stopped.value.code == 2 and err.count('\n') == 1 and expected in err


def test_a_walk_shorter_than_the_saved_z_is_refused(run, tmp_path, capsys):
    out, _ = run
    path = tmp_path / 'three.npy'
    np.save(str(path), np.zeros((3, 100), np.float32))
    capsys.readouterr()
    assert run_script(['generate', '--checkpoint', str(out), '--z', str(path), '--walk', '2']) == 2
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and 'give --walk 3 or more' in err


# --- evaluate --nearest ---------------------------------------------------------------------------

def _synthetic_dataset(data):
    with pytest.MonkeyPatch.context() as monkeypatch:
        use_few_synthetic_faces(monkeypatch, FACES)
        return helper.Dataset('synthetic', dlnd.get_data_files('synthetic', str(data), 0), seed=0)


def _evaluate_nearest(out, data, generator, output_dir, capsys):
    """Run evaluate --nearest on the shared run's data with this generator function. :return: its stdout"""
    flags = command_line.parse(['evaluate', '--checkpoint', str(out), '--data-dir', str(data), '--eval-images', '4',
                                '--nearest', '--output-dir', str(output_dir)])
    capsys.readouterr()
    command_line.evaluate(flags, generator, _synthetic_dataset(data))
    return capsys.readouterr().out


def test_nearest_writes_the_picture_and_finds_no_copying_in_a_normal_run(run, tmp_path, capsys):
    out, data = run
    printed = _evaluate_nearest(out, data, dlnd.generator, tmp_path, capsys)
    assert 'generated faces' in printed and 'held-out real faces' in printed and 'No sign of copying' in printed
    with Image.open(str(tmp_path / 'nearest.png')) as picture:
        assert picture.size == ((1 + nearest.NEIGHBOURS) * FACE, 4 * FACE)  # --eval-images 4: 4 generated faces


def test_nearest_reports_a_generator_that_returns_training_images_as_copying(run, tmp_path, capsys):
    out, data = run
    training = _synthetic_dataset(data).images(range(FACES - 4)) / 127.5 - 1  # the last 4 are held out

    def copying_generator(z, out_channel_dim, is_train=True):
        drawn = dlnd.generator(z, out_channel_dim, is_train)  # makes the variables the checkpoint restores
        copies = dlnd.tf.gather(dlnd.tf.constant(training[..., :out_channel_dim], dlnd.tf.float32),
                                dlnd.tf.range(dlnd.tf.shape(z)[0]) % len(training))
        return copies + 0 * drawn

    printed = _evaluate_nearest(out, data, copying_generator, tmp_path, capsys)
    assert 'generated faces 0.0' in printed and 'may be copying its training set' in printed
    shown = _pixels(tmp_path / 'nearest.png')
    assert (shown[:FACE, :FACE] == shown[:FACE, FACE:2 * FACE]).all()  # a face beside itself, at distance 0


@settings(max_examples=max(3, settings().max_examples // 3))
@given(st.integers(1, 40), st.integers(1, 6), st.integers(0, 2 ** 32 - 1))
def test_nearest_finds_the_same_neighbours_as_a_brute_force_search(references, chunk, seed):
    rng = np.random.RandomState(seed)
    queries, reference = rng.randint(0, 256, (5, 4, 4, 1)), rng.randint(0, 256, (references, 4, 4, 1))
    count = min(3, references)
    distances, positions = nearest.nearest(queries, ((first, reference[first:first + chunk])
                                                     for first in range(0, references, chunk)), count)
    brute = np.sqrt(((queries[:, None].astype(float) - reference[None]) ** 2).mean(axis=(2, 3, 4)))
    assert np.allclose(distances, np.sort(brute, axis=1)[:, :count])
    assert np.allclose(np.take_along_axis(brute, positions, 1), distances)


# --- the notebook's "What did it learn?" cell -----------------------------------------------------

@pytest.mark.parametrize('held_out', [True, False])
def test_what_it_learned_makes_the_walk_and_checks_memorisation_only_against_held_out_faces(run, held_out):
    out, data = run
    flags = command_line.parse(['--output-dir', str(out), '--data-dir', str(data), '--eval-images', '4'])
    made, lines = command_line.what_it_learned(flags, dlnd.generator, _synthetic_dataset(data), held_out)
    names = [os.path.basename(path) for path in made]
    assert names == (['walk.png', 'nearest.png'] if held_out else ['walk.png'])
    with Image.open(str(out / 'walk.png')) as strip:
        assert strip.size == (latent_walk.STEPS * FACE, command_line.WALK_AFTER_TRAINING * FACE)  # a row a leg
    if held_out:
        assert any('held-out real faces' in line for line in lines)
    else:
        assert lines == [line for line in lines if line.startswith('note: no memorisation check')] and lines
