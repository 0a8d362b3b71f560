"""
Synthetic faces, for a run that needs no download: CelebA-shaped (178x218) JPEGs drawn with Pillow,
the face centred where helper.get_image's 108x108 crop is, deterministic by seed, drawn once into a
folder that is renamed into place only when complete.
"""
import os

import numpy as np
from PIL import Image, ImageDraw
from tqdm import tqdm

from facegan.core import files

SYNTHETIC_FACE_BYTES = 8000  # about the largest face JPEG, for a full disk's message
# The default run's faces: 584 steps at batch 16 once 256 are held out for the scores, minutes on a laptop
DEFAULT_COUNT = 9600


def _random_color(rng, base, jitter):
    """
    :param rng: numpy Generator
    :param base: (r, g, b) centre colour
    :param jitter: Largest change per channel
    :return: An (r, g, b) tuple near base
    """
    return tuple(int(np.clip(c + rng.integers(-jitter, jitter + 1), 0, 255)) for c in base)


def draw_synthetic_face(rng, size=(178, 218)):
    """
    Draw one CelebA-shaped synthetic face: the face is centred where get_image's 108x108 crop is
    :param rng: numpy Generator that decides every feature
    :param size: (width, height) of the picture, CelebA's aligned size by default
    :return: PIL RGB image
    """
    skin_tones = [(255, 224, 196), (241, 194, 160), (224, 172, 125), (198, 134, 86),
                  (141, 85, 36), (95, 60, 35)]
    hair_colors = [(20, 15, 10), (60, 40, 25), (110, 70, 35), (200, 160, 90), (150, 60, 25),
                   (170, 170, 170)]
    width, height = size
    cx = width / 2 + rng.integers(-3, 4)
    cy = height / 2 + rng.integers(-2, 5)
    face = (cx, cy, rng.integers(27, 37), rng.integers(37, 45))  # centre, half-width and half-height in pixels
    skin = _random_color(rng, skin_tones[rng.integers(len(skin_tones))], 12)
    hair = _random_color(rng, hair_colors[rng.integers(len(hair_colors))], 15)
    # Muted backgrounds, as in most CelebA photos
    image = Image.new('RGB', size, _random_color(rng, (150, 150, 150), 50))
    draw = ImageDraw.Draw(image)
    _draw_head(draw, rng, face, skin, hair)
    eye_y = _draw_eyes(draw, rng, face, hair)
    _draw_nose_and_mouth(draw, rng, face, skin, eye_y)
    return image


def _draw_head(draw, rng, face, skin, hair):
    """Draw the hair, neck, shoulders and face's oval; face is (cx, cy, half-width, half-height)."""
    cx, cy, face_w, face_h = face
    # Long hair falls behind the face and shoulders
    if rng.random() < 0.5:
        draw.rounded_rectangle([cx - face_w - 10, cy - face_h - 8, cx + face_w + 10,
                                cy + face_h + rng.integers(10, 45)], radius=25, fill=hair)
    # Neck and shoulders
    clothes = _random_color(rng, (90, 90, 100), 50)
    draw.rectangle([cx - 12, cy + face_h - 10, cx + 12, cy + face_h + 20], fill=skin)
    draw.ellipse([cx - 70, cy + face_h + 10, cx + 70, cy + face_h + 90], fill=clothes)
    # Face
    draw.ellipse([cx - face_w, cy - face_h, cx + face_w, cy + face_h], fill=skin)
    # Hair on top: a cap over the forehead whose depth varies with the style
    fringe = rng.integers(8, 26)
    draw.chord([cx - face_w - 4, cy - face_h - 10, cx + face_w + 4, cy - face_h + 2 * fringe + 10],
               180, 360, fill=hair)


def _draw_eyes(draw, rng, face, hair):
    """Draw the eyes with brows over them; :return: the eyes' height"""
    cx, cy, face_w, face_h = face
    eye_dx = face_w * rng.uniform(0.38, 0.5)
    eye_y = cy - face_h * rng.uniform(0.05, 0.2)
    eye_rx, eye_ry = rng.integers(5, 8), rng.integers(2, 5)
    iris = _random_color(rng, [(60, 40, 20), (40, 90, 140), (70, 110, 60)][rng.integers(3)], 20)
    brow_lift = rng.integers(6, 11)
    brow_tilt = rng.integers(-2, 3)
    for side in (-1, 1):
        ex = cx + side * eye_dx
        draw.ellipse([ex - eye_rx, eye_y - eye_ry, ex + eye_rx, eye_y + eye_ry], fill=(250, 250, 250))
        draw.ellipse([ex - 3, eye_y - 3, ex + 3, eye_y + 3], fill=iris)
        draw.ellipse([ex - 1, eye_y - 1, ex + 1, eye_y + 1], fill=(10, 10, 10))
        brow_y = eye_y - brow_lift
        draw.line([ex - eye_rx - 1, brow_y + side * brow_tilt, ex + eye_rx + 1, brow_y - side * brow_tilt],
                  fill=tuple(int(c * 0.7) for c in hair), width=int(rng.integers(2, 4)))
    return eye_y


def _draw_nose_and_mouth(draw, rng, face, skin, eye_y):
    """Draw a nose (a darker stroke down the middle) and a mouth (a smile, or closed lips)."""
    cx, cy, face_w, face_h = face
    shade = tuple(int(c * 0.8) for c in skin)
    nose_y = cy + face_h * 0.3
    draw.line([cx, eye_y + 4, cx - 2, nose_y], fill=shade, width=2)
    draw.line([cx - 4, nose_y, cx + 3, nose_y], fill=shade, width=2)
    mouth_y = cy + face_h * rng.uniform(0.5, 0.62)
    mouth_w = face_w * rng.uniform(0.35, 0.55)
    lips = _random_color(rng, (170, 70, 70), 25)
    if rng.random() < 0.5:
        draw.chord([cx - mouth_w, mouth_y - 6, cx + mouth_w, mouth_y + 6], 0, 180, fill=lips)
    else:
        draw.ellipse([cx - mouth_w, mouth_y - 3, cx + mouth_w, mouth_y + 3], fill=lips)


def make_synthetic_faces(data_path, count=DEFAULT_COUNT, seed=0):
    """
    Create the synthetic face dataset once: count JPEGs shaped like aligned CelebA (178x218); a
    second process that asks for them meanwhile waits for the first, then uses its faces
    :param data_path: Folder for the data
    :param count: Number of faces
    :param seed: Seed; the same seed gives the same faces
    :return: Folder that holds the faces
    """
    folder = os.path.join(data_path, 'synthetic_faces_{}_seed{}'.format(count, seed))
    if os.path.isdir(folder):
        return folder
    files.make_data_dir(data_path)

    def draw(tmp_path):
        for i in tqdm(range(count), unit='File', desc='Drawing synthetic faces'):
            rng = np.random.default_rng([seed, i])  # one stream per face: order-independent
            draw_synthetic_face(rng).save(os.path.join(tmp_path, 'face_{:05d}.jpg'.format(i)), quality=95)

    with files.one_at_a_time(files.lock_beside(folder), 'drawing synthetic faces in {}'.format(data_path)):
        if not os.path.isdir(folder):  # or another process drew them meanwhile
            files.build_folder(folder, 'drawing', draw,
                               lambda: files.bytes_on_disk([SYNTHETIC_FACE_BYTES] * count, data_path))
    return folder
