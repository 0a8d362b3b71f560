"""tools/readme_images.py: the README's two pictures from a run's output folder."""
import subprocess
import sys

import numpy as np
from PIL import Image

from tools import readme_images
from conftest import child_env


def _grid(path, colour, size=40):
    Image.new('RGB', (size, size), colour).save(path)
    return str(path)


def test_progress_strip_puts_the_grids_in_order_at_half_size_with_white_gaps(tmp_path):
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255)]
    strip = np.asarray(readme_images.progress_strip([_grid(tmp_path / f'{n}.png', c) for n, c in enumerate(colours)]))
    gap = readme_images.GAP
    assert strip.shape == (20, 3 * 20 + 2 * gap, 3)
    for n, colour in enumerate(colours):
        left = n * (20 + gap)
        assert (strip[:, left:left + 20] == colour).all()
        if n:
            assert (strip[:, left - gap:left] == 255).all()


def test_it_writes_the_final_grid_as_it_is_and_the_strip_in_step_order(tmp_path, monkeypatch):
    run = tmp_path / 'output'
    run.mkdir()
    _grid(run / 'samples_step_00200.png', (0, 0, 200))
    _grid(run / 'samples_step_00100.png', (0, 200, 0))
    final = _grid(run / 'samples_final.png', (200, 0, 0))
    monkeypatch.setattr(readme_images, 'SAMPLES', str(tmp_path / 'samples.png'))
    monkeypatch.setattr(readme_images, 'PROGRESS', str(tmp_path / 'progress.png'))
    monkeypatch.setattr(sys, 'argv', ['readme_images.py', str(run)])
    readme_images.main()
    assert (tmp_path / 'samples.png').read_bytes() == open(final, 'rb').read()
    strip = np.asarray(Image.open(tmp_path / 'progress.png'))
    step = 20 + readme_images.GAP
    assert [tuple(strip[10, n * step]) for n in range(3)] == [(0, 200, 0), (0, 0, 200), (200, 0, 0)]


def test_a_folder_without_a_finished_run_is_one_line(tmp_path):
    result = subprocess.run([sys.executable, readme_images.__file__, str(tmp_path)], capture_output=True, text=True,
                            env=child_env())
    assert result.returncode == 1
    assert result.stderr.splitlines() == [f'readme_images.py: no samples_final.png in {tmp_path}: give the folder '
                                          'of a finished run']
