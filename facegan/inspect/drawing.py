"""
New faces drawn from a saved run's generator (generator_session.py restores it), each saved with its
z, which can be read back to draw it again (`generate`, `generate --z`), and walks through z
(`generate --walk`). A z file given is read only as far as it is a .npy of numbers of the run's z
length; anything else is one line saying what it holds.
"""
import os
import re
import sys

import numpy as np

from facegan.core import files, machine
from facegan.core.errors import UserError, one_line
from facegan.data.images import open_regular_file
from facegan.inspect import latent_walk
from facegan.inspect.generator_session import GENERATE_BATCH
from facegan.output import pictures

GRID_FACES = 100  # generate's grid.png shows the first this many faces
WALK_FRAME_MS = 120  # how long each face of walk.gif shows
WALK_SCALE = 8  # walk.gif's faces are enlarged this many times (224x224 for 28x28)


# What generate and its walk write in their folder (the z file they read may be anywhere)
_OUTPUT_NAME = re.compile(r'(face_\d+\.(png|npy)|grid\.png|walk\.(png|gif)|walk_z\.npy)$')
_FACE_PNG = re.compile(r'face_(\d+)\.png')  # a face generate wrote, matched against whole names


def remove_leftovers(output_dir):
    """
    Remove the temporary files a generate that was killed (kill -9, a power cut) left in output_dir, and say so in
    one line: only ones named like generate's files, of a process no longer running (a generate that runs there now
    writes its own)
    """
    files.remove_leftovers([os.path.join(output_dir, name) for name in sorted(os.listdir(output_dir))
                            if files.of_a_stopped_process(name) and
                            _OUTPUT_NAME.match(files.without_temporary_suffix(name))],
                           'generate in {}'.format(one_line(output_dir)))


def note_earlier_faces(output_dir, count):
    """
    A folder of faces looks like one generate's: say in one line which faces an earlier generate left there
    beyond this one's (it wrote fewer; its own replaced the first)
    :param count: How many faces this generate wrote there (face_000 to face_count-1)
    """
    numbers = [int(match.group(1)) for match in map(_FACE_PNG.fullmatch, os.listdir(output_dir)) if match]
    earlier = sorted(number for number in numbers if number >= count)
    if earlier:
        print('note: {} still holds {} from an earlier generate'.format(one_line(output_dir), series(
            len(earlier), 'face_{:03d}.png'.format(earlier[0]), 'face_{:03d}.png'.format(earlier[-1]))),
            file=sys.stderr)


def series(count, first, last):
    """:return: '1 face (FIRST)' or 'N faces (FIRST ... LAST)'"""
    return '1 face ({})'.format(first) if count == 1 else '{} faces ({} ... {})'.format(count, first, last)


def generate(draw, saved, z, output_dir):
    """
    Draw faces from a saved run's generator in inference mode (its checkpoint's batch-norm averages were
    recomputed from its weights when it was saved), and save each one's z beside it (face_NNN.npy)
    :param draw: generator_session.drawing's function from z to images
    :param saved: restore.SavedRun
    :param z: The z to draw, (n, z length)
    :param output_dir: Folder for face_NNN.png, face_NNN.npy and grid.png
    :return: (list of face paths, grid path)
    """
    image_mode = 'L' if saved.channels == 1 else 'RGB'
    os.makedirs(output_dir, exist_ok=True)
    remove_leftovers(output_dir)
    faces, shown = [], []
    for first in range(0, len(z), GENERATE_BATCH):  # memory does not grow with n
        batch = z[first:first + GENERATE_BATCH]
        drawn = _finite(draw(batch), batch)
        faces += pictures.write_faces(drawn, output_dir, image_mode, first)
        shown += list(drawn[:GRID_FACES - len(shown)])
    for face, face_z in zip(faces, z):
        save_z(face_z, os.path.splitext(face)[0] + '.npy')
    return faces, pictures.write_grid(np.array(shown), output_dir, image_mode)


def z_bytes(count, z_dim):
    """:return: About the memory count random z take as they are drawn: numpy's float64, then their float32 copy"""
    return count * z_dim * (8 + 4)


def check_memory(needed, what, fewer):
    """
    Stop before anything is drawn when it would take more memory than this process may take (numpy's or
    TensorFlow's own error would not be one line)
    :param needed: About the bytes it takes
    :param what: What takes them, for the message: 'a walk through 4 z (96 faces)'
    :param fewer: What to do, for the message: 'walk through fewer'
    :raise UserError: it does not fit (too_much_memory's)
    """
    available = machine.memory_available()
    if available is not None and needed > available:
        raise too_much_memory(needed, what, fewer, available)


def too_much_memory(needed, what, fewer, available=None):
    """:return: The UserError that says what needs more memory than this process may take (check_memory's words;
             without available, for an estimate that was short)"""
    return UserError('{} needs about {} of memory, more than this process may take{}: {}'.format(
        what, files.size_text(needed), '' if available is None else ' ({} free)'.format(files.size_text(available)),
        fewer))


def walk_bytes(count, channels):
    """:return: About the memory a walk through count z takes: its frames, their GIF frames and the strip"""
    frames = count * latent_walk.STEPS
    return frames * (28 * 28 * channels * (4 + 1) + (28 * WALK_SCALE) ** 2 * 3 + 28 * 28 * 3 * pictures.GRID_SCALE ** 2)


def walk(draw, saved, count, saved_z, output_dir):
    """
    Walk through z (see latent_walk): count z, the saved ones first, each slerped into the next
    :param draw: generator_session.drawing's function from z to images (numpy's random state seeded)
    :param saved: restore.SavedRun
    :param count: z to pass through, at least 2
    :param saved_z: z to start from, (m, z length), m at most count
    :param output_dir: Folder for walk.png (a row a leg), walk.gif and walk_z.npy (the z passed through)
    :return: (strip path, GIF path)
    :raise UserError: the walk does not fit in memory
    """
    image_mode = 'L' if saved.channels == 1 else 'RGB'
    needed, what = walk_bytes(count, saved.channels), 'a walk through {} z ({} faces)'.format(
        count, count * latent_walk.STEPS)
    check_memory(needed, what, 'walk through fewer')
    os.makedirs(output_dir, exist_ok=True)
    remove_leftovers(output_dir)
    try:
        points = latent_walk.waypoints(saved_z, count, saved.z_dim, np.random)
        frames = _finite(draw(latent_walk.loop(points)), points)
        strip, gif = os.path.join(output_dir, 'walk.png'), os.path.join(output_dir, 'walk.gif')
        pictures.save_rows(frames, latent_walk.STEPS, image_mode, strip)
        pictures.save_animation(frames, image_mode, gif, WALK_FRAME_MS, WALK_SCALE)
    except MemoryError:  # the estimate was short
        raise too_much_memory(needed, what, 'walk through fewer') from None
    save_z(points, os.path.join(output_dir, 'walk_z.npy'))
    return strip, gif


def save_z(z, path):
    """
    Save z as a .npy file that load_z reads back
    :param z: float32 array, (z_dim,) for one face or (n, z_dim)
    :param path: The file, ending in .npy
    """
    def write(temporary):
        with open(temporary, 'wb') as file:
            np.save(file, np.asarray(z, np.float32))
    files.write_atomically(path, write)


def _read(path):
    """
    :return: The .npy file's array, memory-mapped (its numbers are read only where used)
    :raise UserError: the file cannot be read, is empty, or is not a .npy file
    """
    try:
        with open_regular_file(path) as f:  # a FIFO or a device is refused, never waited on
            if not f.read(1):
                raise UserError('the file is empty: give a .npy file of z that generate saved')
        return np.load(path, mmap_mode='r', allow_pickle=False)
    except OSError as err:
        raise UserError('cannot read it ({})'.format(err.strerror or 'not a .npy file that generate saved')) from None
    except (ValueError, EOFError, SyntaxError):  # a header that is not .npy's, a file cut short
        raise UserError('not a .npy file of z, as generate saves beside each face') from None


def load_z(path, z_dim):
    """
    Read the z that generate saved
    :param path: A .npy file of one z (z_dim,) or of several (n, z_dim)
    :param z_dim: The run's z length
    :return: float32 array (n, z_dim)
    :raise UserError: not such a .npy file: one line saying what it holds (the caller names the file)
    """
    z = _read(path)
    if z.dtype.kind not in 'fiu':
        raise UserError('it holds {} ({}), not numbers: give a .npy file of z that generate saved'.format(
            'text' if z.dtype.kind in 'SU' else 'values of kind {!r}'.format(z.dtype.kind), z.dtype))
    if z.ndim not in (1, 2) or z.shape[-1] != z_dim or not z.size:
        raise UserError('it holds an array of shape {}; this generator takes z of {} numbers (a file generate '
                        'saved beside a face of this run)'.format(z.shape, z_dim))
    if not np.isfinite(z).all():
        raise UserError('it holds numbers that are not finite')
    largest = float(np.abs(z).max())
    # float64's that would become infinity (compared as Python floats: against numpy's float32, a cast that warns)
    if largest > float(np.finfo(np.float32).max):
        raise UserError('it holds numbers too large for float32, the type of the generator\'s z (up to {:.3g})'
                        .format(largest))
    return np.asarray(z, np.float32).reshape(-1, z_dim)


def _finite(images, z):
    """
    :param images: What the generator drew from z
    :return: images
    :raise UserError: they are not all finite: z far outside the -1 to 1 the generator was trained on (3e38, say) can
                      overflow its layers
    """
    if not np.isfinite(images).all():
        raise UserError('the generator drew faces that are not finite (NaN or infinity) from z as large as {:.3g}: it '
                        'was trained on z from -1 to 1; give z nearer that range'.format(float(np.abs(z).max())))
    return images
