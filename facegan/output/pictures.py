"""
Grids and PNGs of real and generated images. One grid builder, tile(), serves both grids: the
Udacity helper's images_square_grid (min-max scaled, floor(sqrt(n))^2 images) and the generated
faces' grid.png (generator output in [-1, 1], ceil(sqrt(n)) a side, blank tiles at the end, enlarged
GRID_SCALE times to be seen). Every file is written under a temporary name, then renamed.
"""
import math
import os

import numpy as np
from PIL import Image

from facegan.core import files

GRID_SCALE = 4  # grids are saved enlarged (nearest neighbour): a 5x5 grid of 28x28 faces is 560x560


def save_image(image, path):
    """
    Save a PIL image under a temporary name, then rename it: a reader never sees half a file
    :param image: PIL image
    :param path: Its file; the format follows its extension (.png, .jpg, ...)
    """
    image_format = Image.registered_extensions()[os.path.splitext(path)[1].lower()]
    files.write_atomically(path, lambda temporary: image.save(temporary, format=image_format))


def to_pixels(images):
    """:return: Generator output in [-1, 1] as uint8 pixels"""
    return np.clip(np.round((np.asarray(images) + 1) * 127.5), 0, 255).astype(np.uint8)


def _pil(pixels, image_mode):
    """:return: A PIL image of (h, w, C) uint8 pixels: 2-D for 'L', which matplotlib shows with cmap='gray'"""
    return Image.fromarray(pixels[:, :, 0] if image_mode == 'L' else pixels)


def tile(pixels, side, rows=None):
    """
    Lay images out in rows of side images, with blank (black) tiles after the last one
    :param pixels: uint8 images, (n, h, w, C), n at most side * rows
    :param side: Images in a row
    :param rows: Rows (None: side, a square)
    :return: uint8 array (rows * h, side * w, C)
    """
    rows = side if rows is None else rows
    count, height, width, channels = pixels.shape
    padded = np.concatenate([pixels, np.zeros((side * rows - count, height, width, channels), np.uint8)])
    return padded.reshape(rows, side, height, width, channels).swapaxes(1, 2).reshape(
        rows * height, side * width, channels)


def square_grid(images, mode):
    """
    The Udacity helper's grid: floor(sqrt(n))^2 images, row by row, scaled together to 0-255
    :param images: Images to be used for the grid, (n, h, w, c) or (n, h, w)
    :param mode: The mode to use for images, 'RGB' or 'L'
    :return: PIL image
    """
    images = np.asarray(images, dtype=np.float32)
    if images.ndim == 3:
        images = images[..., np.newaxis]
    # Get maximum size for square grid of images
    side = math.floor(np.sqrt(images.shape[0]))

    # Scale to 0-255; a constant batch would divide by zero, so it becomes black
    value_range = images.max() - images.min()
    if value_range > 0:
        images = (images - images.min()) * 255 / value_range
    else:
        images = np.zeros_like(images)
    pixels = np.round(images).astype(np.uint8)
    return _pil(tile(pixels[:side * side], side), mode)


def enlarged(image, scale=GRID_SCALE):
    """
    :param image: PIL image of a grid of 28x28 faces
    :return: The same, scale times larger with every pixel a square of pixels, so it can be seen
    """
    return image.resize((image.width * scale, image.height * scale), Image.Resampling.NEAREST)


def save_grid(images, image_mode, path):
    """
    Save images as square_grid lays them out (helper.images_square_grid), enlarged GRID_SCALE times
    :param images: Images, (n, h, w, c) or (n, h, w), any range
    :param image_mode: 'RGB' or 'L'
    :param path: The PNG to write
    :return: The PIL grid, as saved
    """
    grid = enlarged(square_grid(images, image_mode))
    save_image(grid, path)
    return grid


def save_rows(images, side, image_mode, path):
    """
    Save images in rows of side images, GRID_SCALE times enlarged (a walk's strip, the nearest-neighbour picture)
    :param images: Generator output in [-1, 1], (n, h, w, C), n a multiple of side
    :param side: Images in a row
    :param image_mode: 'RGB' or 'L'
    :param path: The PNG to write
    """
    save_image(enlarged(_pil(tile(to_pixels(images), side, len(images) // side), image_mode)), path)


def save_gif(frames, path, frame_ms):
    """
    Save PIL images as a GIF that loops for ever (consecutive identical frames are merged into one)
    :param frames: PIL images, all of one size
    :param path: The GIF to write
    :param frame_ms: How long each frame shows
    """
    frames = [frame.convert('RGB') for frame in frames]
    files.write_atomically(path, lambda temporary: frames[0].save(
        temporary, format='GIF', save_all=True, append_images=frames[1:], duration=frame_ms, loop=0))


def save_animation(images, image_mode, path, frame_ms, scale):
    """
    Save generator output as a looping GIF, one image a frame
    :param images: Generator output in [-1, 1], (n, h, w, C)
    :param image_mode: 'RGB' or 'L'
    :param path: The GIF to write
    :param frame_ms: How long each frame shows
    :param scale: How many times enlarged
    """
    save_gif([enlarged(_pil(pixels, image_mode), scale) for pixels in to_pixels(images)], path, frame_ms)


def write_faces(images, output_dir, image_mode, first=0):
    """
    Write each image as face_NNN.png, numbered from first
    :param images: Generator output in [-1, 1], shape (n, 28, 28, C)
    :return: List of the paths
    """
    paths = []
    for i, pixels in enumerate(to_pixels(images), start=first):
        paths.append(os.path.join(output_dir, 'face_{:03d}.png'.format(i)))
        save_image(_pil(pixels, image_mode), paths[-1])
    return paths


def write_grid(images, output_dir, image_mode):
    """
    Write the images as grid.png: in rows of a square's side, blank tiles at the end, 4x enlarged
    :param images: Generator output in [-1, 1], shape (n, 28, 28, C)
    :return: Path of the grid
    """
    pixels = to_pixels(images)
    path = os.path.join(output_dir, 'grid.png')
    save_image(enlarged(_pil(tile(pixels, math.ceil(math.sqrt(len(pixels)))), image_mode)), path)
    return path
