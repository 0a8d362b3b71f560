"""
Make the pictures of docs/reading_a_gan_run.md from the output folders of real runs:

    python tools/reading_run_images.py runs NAME OUTPUT_DIR [NAME OUTPUT_DIR ...]
    python tools/reading_run_images.py checkerboard OUTPUT_DIR [--grid samples_step_01200.png]

- runs: for each run, docs/reading_NAME_grids.png (up to GRIDS_SHOWN of its grids, evenly spread
  over the run, side by side at half size, as the README's progress picture) and
  docs/reading_NAME_losses.png (its loss_curve.png);
- checkerboard: docs/reading_checkerboard.png, the top-left face of a grid next to the same face
  enlarged CROP_SCALE times more, so that the pattern of the generator's last layer can be seen;
  and docs/reading_collapsed_faces.png, the grid's top-left 2x2 faces as it saves them.
"""
import argparse
import glob
import os
import shutil
import sys

from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from facegan.output import pictures  # noqa: E402  (after the project's folder is on the path)
from tools.readme_images import GAP, progress_strip  # noqa: E402

DOCS = os.path.join(ROOT, 'docs')
GRIDS_SHOWN = 6
FACE = 28 * pictures.GRID_SCALE  # one face in a saved grid, in pixels
CROP_SCALE = 3


def spread(paths, count=GRIDS_SHOWN):
    """
    :param paths: Grid paths in step order
    :param count: How many to keep
    :return: count of them, evenly spread, the first and the last included (all of them if fewer)
    """
    if len(paths) <= count:
        return list(paths)
    return [paths[round(i * (len(paths) - 1) / (count - 1))] for i in range(count)]


def run_pictures(name, output_dir):
    """
    Write docs/reading_NAME_grids.png and docs/reading_NAME_losses.png from a run's output folder
    :return: The two paths
    """
    grids = sorted(glob.glob(os.path.join(glob.escape(output_dir), 'samples_step_*.png')))
    curve = os.path.join(output_dir, 'loss_curve.png')
    if not grids or not os.path.isfile(curve):
        sys.exit('reading_run_images.py: {} has no grids or no loss_curve.png: give the folder of a finished run'
                 .format(output_dir))
    grids_path = os.path.join(DOCS, 'reading_{}_grids.png'.format(name))
    losses_path = os.path.join(DOCS, 'reading_{}_losses.png'.format(name))
    pictures.save_image(progress_strip(spread(grids)), grids_path)
    shutil.copyfile(curve, losses_path)
    return grids_path, losses_path


def corner_faces(grid_path, side=1):
    """
    :param grid_path: A saved grid (faces GRID_SCALE times enlarged)
    :param side: Faces in a row and in a column of the crop
    :return: PIL image: its top-left side x side faces, as saved
    """
    with Image.open(grid_path) as grid:
        return grid.convert('RGB').crop((0, 0, side * FACE, side * FACE))


def checkerboard(grid_path):
    """
    :param grid_path: A saved grid (faces GRID_SCALE times enlarged)
    :return: PIL image: its first face as saved, and beside it the same face CROP_SCALE times larger
    """
    face = corner_faces(grid_path)
    larger = pictures.enlarged(face, CROP_SCALE)
    picture = Image.new('RGB', (FACE + GAP + larger.width, larger.height), 'white')
    picture.paste(face, (0, 0))
    picture.paste(larger, (FACE + GAP, 0))
    return picture


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest='command', required=True)
    runs = commands.add_parser('runs')
    runs.add_argument('pairs', nargs='+', help='NAME OUTPUT_DIR pairs')
    board = commands.add_parser('checkerboard')
    board.add_argument('output_dir')
    board.add_argument('--grid', default=None, help='the grid to crop (default: the run\'s last samples_step_*.png)')
    flags = parser.parse_args()
    if flags.command == 'runs':
        if len(flags.pairs) % 2:
            parser.error('give NAME OUTPUT_DIR pairs')
        for name, output_dir in zip(flags.pairs[::2], flags.pairs[1::2]):
            print('Wrote {} and {}'.format(*run_pictures(name, output_dir)))
        return
    grid = flags.grid or sorted(glob.glob(os.path.join(glob.escape(flags.output_dir), 'samples_step_*.png')))[-1]
    grid = os.path.join(flags.output_dir, grid)
    board, corner = os.path.join(DOCS, 'reading_checkerboard.png'), os.path.join(DOCS, 'reading_collapsed_faces.png')
    pictures.save_image(checkerboard(grid), board)
    pictures.save_image(corner_faces(grid, side=2), corner)
    print('Wrote {} and {} from {}'.format(board, corner, grid))


if __name__ == '__main__':
    main()
