"""
`dlnd_face_generation.py generate`: new faces from a saved run, each with its z, or a walk through z,
drawn as the run trained (its run.json: z's length, the channels, the precision, and its averaged
generator if it kept one; --raw-weights: the generator's own weights).
"""
import os

import numpy as np

from facegan.app import command_line
from facegan.core import files, machine
from facegan.inspect import drawing, generator_session, latent_walk, restore



def generate(generator, flags):
    """
    Draw the faces (or the walk) the flags ask for, and say where they are
    :param generator: The notebook's generator function
    :param flags: command_line.Flags of `generate`
    """
    with command_line.naming('--checkpoint', flags.checkpoint):
        saved = restore.find_run(generator, flags.checkpoint, command_line.CHECKPOINT_HINT)
    saved_z = np.zeros((0, saved.z_dim), np.float32)
    for path in flags.z or []:
        with command_line.naming('--z', path):
            saved_z = np.concatenate([saved_z, drawing.load_z(path, saved.z_dim)])
    if flags.walk and len(saved_z) > flags.walk:
        command_line.usage_error('generate', '--walk {} passes through fewer z than the {} in --z: give --walk {} or '
                                             'more'.format(flags.walk, len(saved_z), len(saved_z)))
    if not (flags.z or flags.walk):  # before the generator is built: numpy's error would not be one line
        with command_line.naming('--n', flags.n):
            drawing.check_memory(drawing.z_bytes(flags.n, saved.z_dim), 'drawing {} faces'.format(flags.n),
                                 'draw fewer')
    command_line.check_writable(flags.output_dir, '--output-dir')
    precision = machine.resolve_precision(flags.precision)[0] if flags.precision else None
    weights = 'raw' if flags.raw_weights else None  # None: the run's own, averaged if it kept an average
    what, count = ('the walk', flags.walk * latent_walk.STEPS) if flags.walk else ('the faces', len(saved_z) or flags.n)
    with generator_session.drawing(generator, saved, flags.seed, flags.fast_layers is not False, weights,
                                   precision) as draw, \
            files.disk_full_as_one_line(flags.output_dir, what, lambda: 4000 * count):
        if flags.walk:
            with command_line.naming('--walk', flags.walk):
                strip, gif = drawing.walk(draw, saved, flags.walk, saved_z, flags.output_dir)
            print('Wrote a walk through {} z: {}, {} and walk_z.npy (its z, for --z)'.format(
                flags.walk, strip, os.path.basename(gif)))
            return
        z = saved_z if flags.z else np.random.uniform(-1, 1, size=(flags.n, saved.z_dim)).astype(np.float32)
        faces, grid = drawing.generate(draw, saved, z, flags.output_dir)
    print('Wrote {}, each with its z (face_NNN.npy, for --z), and {}'.format(
        drawing.series(len(faces), faces[0], os.path.basename(faces[-1])), grid))
    drawing.note_earlier_faces(flags.output_dir, len(faces))
