"""
Sliced Wasserstein distance between two sets of images: a sample-quality number that needs no
downloaded network, after Karras, Aila, Laine and Lehtinen, "Progressive Growing of GANs for
Improved Quality, Stability, and Variation" (ICLR 2018), section 5 and appendix D.

Each image gives random 7x7xC patches (the descriptors). Both sets are normalised per channel by
the *real* set's mean and standard deviation. Each descriptor d (length 49*C) is projected on
random unit directions u; for each direction the projections of the two sets, sorted, are two
samples of a one-dimensional distribution, and the distance between those is the mean absolute
difference of the sorted values. The SWD is the mean over directions:

    SWD(A, B) = mean_u  mean_i | sort(A @ u)_i - sort(B @ u)_i |

It is small when the two sets have the same local structure (edges, textures, colours) in the
same proportions. Adapted to 28x28 images: a single level (the paper uses the levels of a
Laplacian pyramid from 16x16 up; at 28x28 only the full-resolution level has room for many
7x7 patches), 1 or 3 channels. Karras et al. normalise each set by its own statistics; here the
real set's are used for both, since a set's own normalisation hides a colour shift entirely.
"""
import numpy as np
from PIL import Image, ImageFilter

PATCH_SIZE = 7
PATCHES_PER_IMAGE = 64
DIRECTIONS = 512


def _patches(images, rng, patches_per_image=PATCHES_PER_IMAGE, patch_size=PATCH_SIZE):
    """
    :param images: float array (n, h, w, c)
    :param rng: numpy Generator choosing the patch positions
    :return: (n * patches_per_image, patch_size * patch_size * c) descriptors
    """
    n, height, width, channels = images.shape
    ys = rng.integers(0, height - patch_size + 1, size=(n, patches_per_image))
    xs = rng.integers(0, width - patch_size + 1, size=(n, patches_per_image))
    offsets = np.arange(patch_size)
    rows = ys[:, :, None, None] + offsets[None, None, :, None]  # (n, p, 7, 1)
    cols = xs[:, :, None, None] + offsets[None, None, None, :]  # (n, p, 1, 7)
    picked = images[np.arange(n)[:, None, None, None], rows, cols]  # (n, p, 7, 7, c)
    return picked.reshape(n * patches_per_image, patch_size * patch_size * channels)


def sliced_wasserstein(real, fake, seed=0, patches_per_image=PATCHES_PER_IMAGE, directions=DIRECTIONS):
    """
    Sliced Wasserstein distance between two image sets of the same size
    :param real: Reference images, float (n, h, w, c), any fixed range (e.g. [-1, 1])
    :param fake: Images to score, same shape and range
    :param seed: Seed of the patch positions and the directions: same inputs, same number
    :param patches_per_image: Random 7x7 patches taken from each image
    :param directions: Random unit directions projected on
    :return: The distance, larger is worse. Not 0 for a set scored against itself: each set's patches are drawn
             at their own random positions, so the two sets of descriptors are two samples of the images' patches
             and differ by the sampling alone (about as much as two disjoint sets of the same images; it shrinks
             with more patches). It is 0 only where a patch is the same wherever it is taken (images each of one
             value, the same values in both sets). Tracker's floor, two disjoint real sets, measures that noise
    """
    real = np.asarray(real, dtype=np.float64)
    fake = np.asarray(fake, dtype=np.float64)
    if real.shape != fake.shape:
        raise ValueError('image sets differ in shape: {} and {}'.format(real.shape, fake.shape))
    rng = np.random.default_rng(seed)
    real_desc = _patches(real, rng, patches_per_image)
    fake_desc = _patches(fake, rng, patches_per_image)
    channels = real.shape[3]
    # Per-channel statistics of the real descriptors (a descriptor's values cycle through the channels)
    per_channel = real_desc.reshape(-1, channels)
    mean, std = per_channel.mean(axis=0), per_channel.std(axis=0) + 1e-8
    real_desc = ((real_desc.reshape(-1, channels) - mean) / std).reshape(real_desc.shape)
    fake_desc = ((fake_desc.reshape(-1, channels) - mean) / std).reshape(fake_desc.shape)

    units = rng.standard_normal((real_desc.shape[1], directions))
    units /= np.linalg.norm(units, axis=0, keepdims=True)
    projected_real = np.sort(real_desc @ units, axis=0)
    projected_fake = np.sort(fake_desc @ units, axis=0)
    return float(np.abs(projected_real - projected_fake).mean())


def gap_closed(distance, floor, ceiling):
    """
    :param distance: A generator's SWD
    :param floor: SWD between two disjoint real sets of the same size (the best reachable)
    :param ceiling: SWD of the untrained generator (where training starts)
    :return: Fraction of the ceiling-to-floor gap closed: 0 untrained, 1 as good as real data
    """
    return (ceiling - distance) / (ceiling - floor) if ceiling != floor else float('nan')


class Tracker(object):
    """
    Scores generated images against held-out real ones, next to the two baselines that give the
    number a meaning: two disjoint real sets (the floor) and the untrained generator (the ceiling,
    the first score recorded).
    """
    def __init__(self, held_out, other_real, seed=0):
        """
        :param held_out: Real images never trained on, float (n, h, w, c) in [-1, 1]
        :param other_real: As many other real images (for the floor)
        :param seed: Seed of the metric
        """
        self.held_out = held_out
        self.seed = seed
        self.floor = sliced_wasserstein(held_out, other_real, seed)
        self.ceiling = None

    def score(self, generated):
        """
        :param generated: As many generated images, in [-1, 1]
        :return: (SWD, fraction of the gap closed); the first call sets the ceiling
        """
        distance = sliced_wasserstein(self.held_out, generated, self.seed)
        if self.ceiling is None:
            self.ceiling = distance
        return distance, gap_closed(distance, self.floor, self.ceiling)


# Known degradations, to check the metric before trusting it (tests and benchmarks/swd_check.py):
# each, at rising strength, must score further from real images than clean real images do.
DEGRADATION_STRENGTHS = {
    'gaussian noise': [0.1, 0.2, 0.4],  # standard deviation, in [-1, 1] units
    'blur': [0.7, 1.5, 3],  # Gaussian blur radius in pixels
    'colour shift': [0.1, 0.2, 0.4],  # added to red, taken from blue
    'mode collapse': [16, 4, 1],  # distinct images left: fewer is stronger
}


def degrade(images, kind, strength, rng):
    """
    :param images: float (n, h, w, c) in [-1, 1]
    :param kind: A key of DEGRADATION_STRENGTHS
    :param strength: Its strength
    :param rng: numpy Generator (for the noise)
    :return: Degraded images, same shape and range
    """
    if kind == 'gaussian noise':
        return np.clip(images + rng.normal(0, strength, images.shape), -1, 1)
    if kind == 'blur':
        pixels = np.round((images + 1) * 127.5).astype(np.uint8)
        if pixels.shape[3] == 1:
            pixels = pixels[..., 0]
        blurred = np.stack([np.array(Image.fromarray(p).filter(ImageFilter.GaussianBlur(strength))) for p in pixels])
        return blurred.reshape(images.shape) / 127.5 - 1
    if kind == 'colour shift':
        shift = np.array([strength, 0, -strength]) if images.shape[3] == 3 else np.array([strength])
        return np.clip(images + shift, -1, 1)
    if kind == 'mode collapse':
        return images[np.arange(len(images)) % strength]
    raise ValueError('unknown degradation {!r}'.format(kind))
