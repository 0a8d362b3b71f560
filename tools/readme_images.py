"""
Make the README's two pictures from a default run's output folder:

    python dlnd_face_generation.py        # writes output/synthetic
    python tools/readme_images.py output/synthetic

- docs/default_run_samples.png: the run's final grid (samples_final.png), as it is;
- docs/default_run_progress.png: the grids at every 100 steps and the final one, side by side at
  half size, 8 white pixels apart.
"""
import argparse
import glob
import os
import shutil
import sys

from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLES = os.path.join(ROOT, 'docs', 'default_run_samples.png')
PROGRESS = os.path.join(ROOT, 'docs', 'default_run_progress.png')
GAP = 8


def progress_strip(grids):
    """
    :param grids: Paths of equal-sized grid images, in step order
    :return: PIL image of them side by side at half size, GAP white pixels apart
    """
    images = [Image.open(path).convert('RGB') for path in grids]
    width, height = images[0].width // 2, images[0].height // 2
    strip = Image.new('RGB', (len(images) * (width + GAP) - GAP, height), 'white')
    for n, image in enumerate(images):
        strip.paste(image.resize((width, height), Image.NEAREST), (n * (width + GAP), 0))
    return strip


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('output_dir', help="the run's output folder")
    output_dir = parser.parse_args().output_dir
    final = os.path.join(output_dir, 'samples_final.png')
    if not os.path.isfile(final):
        sys.exit(f'readme_images.py: no samples_final.png in {output_dir}: give the folder of a finished run')
    shutil.copyfile(final, SAMPLES)
    progress_strip(sorted(glob.glob(os.path.join(output_dir, 'samples_step_*.png'))) + [final]).save(PROGRESS)
    print(f'Wrote {os.path.relpath(SAMPLES, ROOT)} and {os.path.relpath(PROGRESS, ROOT)}')


if __name__ == '__main__':
    main()
