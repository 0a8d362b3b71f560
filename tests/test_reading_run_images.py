"""tools/reading_run_images.py: the pictures of docs/reading_a_gan_run.md from runs' output folders."""
import numpy as np
from PIL import Image

from facegan.output import pictures
from tools import reading_run_images as rri


def test_spread_keeps_the_first_and_last_grids_and_all_of_few():
    paths = ['g{}'.format(n) for n in range(11)]
    assert rri.spread(paths, 6) == ['g0', 'g2', 'g4', 'g6', 'g8', 'g10']
    assert rri.spread(paths[:4], 6) == paths[:4]


def test_checkerboard_shows_the_first_face_as_saved_and_enlarged(tmp_path):
    faces = np.zeros((4, 28, 28, 3))
    faces[0, ::2, ::2] = 1  # a checkerboard of dots in the first face only
    grid = tmp_path / 'grid.png'
    pictures.save_grid(faces, 'RGB', str(grid))
    picture = np.asarray(rri.checkerboard(str(grid)))
    face = rri.FACE
    assert picture.shape == (face * rri.CROP_SCALE, face + rri.GAP + face * rri.CROP_SCALE, 3)
    saved = np.asarray(Image.open(grid).convert('RGB'))[:face, :face]
    assert (picture[:face, :face] == saved).all()
    enlarged = picture[:, face + rri.GAP:]
    assert (enlarged[::rri.CROP_SCALE, ::rri.CROP_SCALE] == saved).all()
    assert (picture[:, face:face + rri.GAP] == 255).all()


def test_run_pictures_copy_the_loss_curve_and_strip_the_grids(tmp_path, monkeypatch):
    run = tmp_path / 'run'
    run.mkdir()
    for step in (20, 40, 60):
        Image.new('RGB', (40, 40), (step, 0, 0)).save(run / 'samples_step_{:05d}.png'.format(step))
    Image.new('RGB', (10, 10), 'blue').save(run / 'loss_curve.png')
    monkeypatch.setattr(rri, 'DOCS', str(tmp_path))
    grids, losses = rri.run_pictures('broken', str(run))
    assert open(losses, 'rb').read() == (run / 'loss_curve.png').read_bytes()
    strip = np.asarray(Image.open(grids))
    assert strip.shape == (20, 3 * 20 + 2 * rri.GAP, 3)
    assert [tuple(strip[0, n * (20 + rri.GAP)]) for n in range(3)] == [(20, 0, 0), (40, 0, 0), (60, 0, 0)]


def test_corner_faces_are_the_grids_top_left_faces(tmp_path):
    faces = np.random.default_rng(0).uniform(-1, 1, (9, 28, 28, 3))
    grid = tmp_path / 'grid.png'
    pictures.save_grid(faces, 'RGB', str(grid))
    corner = np.asarray(rri.corner_faces(str(grid), side=2))
    assert (corner == np.asarray(Image.open(grid).convert('RGB'))[:2 * rri.FACE, :2 * rri.FACE]).all()
