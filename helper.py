"""
Helper functions for the face-generation project: get the data, read images, show them as a grid,
and serve them in batches.

This is the helper.py of Udacity's face-generation project template (deep-learning
nanodegree), with its API kept: download_extract, get_image, get_batch, images_square_grid and
Dataset with get_batches. What a runnable copy needs today lives beneath it, in facegan/data/:

    downloads.py        verified, resumable downloads with mirrors (download_extract)
    archives.py         extracting MNIST's IDX gzip (JPEGs, as the template named them) and CelebA's zip
    synthetic_faces.py  drawn CelebA-shaped faces, for a run without a download
    images.py           finding image files, and reading any file safely (or skipping it)
    image_cache.py      every image decoded once by get_image into a memory-mapped array

Added to the template's API: make_synthetic_faces, list_image_files, Dataset's seed, image_mode
and cache_dir, split, batches and images, and DatasetError, a one-line error a user can fix.
Importing this file also prepares what TensorFlow needs before it loads (facegan/core/environment.py).
"""
import copy
import sys

import numpy as np
from PIL import Image

from facegan.core import environment
from facegan.core.errors import DatasetError, one_line
from facegan.data import downloads, image_cache
from facegan.data.images import eight_bit, list_image_files, whole  # noqa: F401  (list_image_files: the notebook's)
from facegan.data.synthetic_faces import make_synthetic_faces  # noqa: F401  (drawn faces: no download)
from facegan.output import pictures

environment.prepare()  # before TensorFlow loads: tf.layers from tf-keras, its C++ log quiet, start-up notes too

# Image mode of each dataset name that Dataset accepts.
IMAGE_MODES = {'mnist': 'L', 'celeba': 'RGB', 'synthetic': 'RGB'}
# An empty list of files: in the notebook, a glob of a folder the dataset is not in (yet)
NO_FILES = '{} no image files: download the dataset first (download_extract, in the data cell) or check the folder ' \
           'its glob reads'


def download_extract(database_name, data_path, sources=None):
    """
    Download and extract database, skipping what is already there (facegan/downloads.py checks the
    md5, resumes a dropped connection, tries mirrors and lets two processes take turns)
    :param database_name: Database name, 'mnist' or 'celeba'
    :param data_path: Folder for the data
    :param sources: Table of datasets to use instead of DATASETS (tests point it at a local server)
    """
    downloads.download_extract(database_name, data_path, sources)


def get_image(image_path, width, height, mode):
    """
    Read image from image_path
    :param image_path: Path of image (or a binary file object)
    :param width: Width of image
    :param height: Height of image
    :param mode: Mode of image
    :return: Image data
    """
    with Image.open(image_path) as opened:
        image = eight_bit(whole(opened))  # 16-bit, palette and 1-bit images as 8 bits; none with pixels missing

        if image.size != (width, height):  # not MNIST-sized: a CelebA-style photo
            # Remove most pixels that aren't part of a face
            face_width = face_height = 108
            j = (image.size[0] - face_width) // 2
            i = (image.size[1] - face_height) // 2
            image = image.crop([j, i, j + face_width, i + face_height])
            image = image.resize([width, height], Image.Resampling.BILINEAR)

        return np.array(image.convert(mode))


def get_batch(image_files, width, height, mode):
    """
    Read a batch of images
    :param image_files: Paths of the images
    :param width: Width of image
    :param height: Height of image
    :param mode: Mode of image, 'RGB' or 'L'
    :return: float32 array of shape (len(image_files), height, width, channels), values 0-255
    """
    if not len(image_files):
        raise DatasetError(NO_FILES.format('get_batch was given'))
    data_batch = np.array(
        [get_image(sample_file, width, height, mode) for sample_file in image_files]).astype(np.float32)

    # Make sure the images are in 4 dimensions
    if len(data_batch.shape) < 4:
        data_batch = data_batch.reshape(data_batch.shape + (1,))

    return data_batch


def images_square_grid(images, mode):
    """
    Save images as a square grid
    :param images: Images to be used for the grid, (n, h, w, c) or (n, h, w)
    :param mode: The mode to use for images, 'RGB' or 'L'
    :return: PIL image of floor(sqrt(n))^2 images, row by row, scaled together to 0-255
    """
    if not len(images):
        raise DatasetError('images_square_grid was given no images: give it a batch of one image or more')
    return pictures.square_grid(images, mode)


class Dataset(object):
    """
    Dataset
    """
    def __init__(self, dataset_name, data_files, seed=None, image_mode=None, cache_dir=None):
        """
        Initialize the class; preprocesses the images with get_image into a cache on first use
        :param dataset_name: Database name: 'mnist', 'celeba' or 'synthetic' (drawn faces), or with image_mode,
                             any name ('folder': your own images)
        :param data_files: List of files in the database
        :param seed: Seed for the order of images in each epoch
        :param image_mode: 'RGB' or 'L'; needed for 'folder', otherwise the dataset's own
        :param cache_dir: Folder for the cache (default: .cache beside the images)
        """
        image_width = 28
        image_height = 28
        self.name = dataset_name
        if dataset_name not in IMAGE_MODES and image_mode is None:
            raise DatasetError('Unknown dataset {!r}: choose one of {}'
                               .format(dataset_name, ', '.join(sorted(IMAGE_MODES))))
        self.image_mode = image_mode or IMAGE_MODES[dataset_name]
        image_channels = 1 if self.image_mode == 'L' else 3
        data_files = list(data_files)
        if not data_files:
            raise DatasetError(NO_FILES.format('the {} dataset was given'.format(dataset_name)))

        # Every image decoded once by get_image, into a memory-mapped uint8 array; unreadable ones skipped
        self._images, skipped = image_cache.build_cache(
            data_files, image_width, image_height, self.image_mode,
            cache_dir or image_cache.default_cache_dir(data_files), decode=get_image)
        self._indices = np.setdiff1d(np.arange(len(data_files)), skipped)
        _check_readable(dataset_name, data_files, skipped)
        self.data_files = [data_files[i] for i in self._indices]
        self.shape = len(self.data_files), image_width, image_height, image_channels
        self._rng = np.random.default_rng(seed)

    def split(self, count):
        """
        Hold the last count images out of training, for scores; the dataset itself stays whole
        :param count: How many
        :return: (a Dataset of the other images, the held-out images: float32 (count, 28, 28, channels), 0-255)
        """
        held = self.images(range(self.shape[0] - count, self.shape[0]))
        training = copy.copy(self)
        training._indices = self._indices[:-count]  # pylint: disable=protected-access
        training.data_files = self.data_files[:-count]
        training.shape = (len(training.data_files),) + self.shape[1:]
        return training, held

    def images(self, positions):
        """
        Images by position in data_files, with get_batch's values
        :param positions: Positions in data_files
        :return: float32 array (len(positions), 28, 28, channels), values 0-255
        """
        return self._images[self._indices[np.asarray(positions)]].astype(np.float32)

    def get_batches(self, batch_size):
        """
        Generate batches from the cache, in a new random order on each call (each epoch)
        :param batch_size: Batch Size
        :return: Batches of data, float32 in [-0.5, 0.5]; a last partial batch is dropped
        """
        return self.batches(batch_size, self._rng.permutation(self.shape[0]))

    def batches(self, batch_size, order, first=0):
        """
        Generate the batches of one epoch in a given order (a run resumed mid-epoch starts at its batch)
        :param batch_size: Batch Size
        :param order: The positions of the images, in the order they train
        :param first: The first batch to give
        :return: Batches of data, float32 in [-0.5, 0.5]; a last partial batch is dropped
        """
        image_max_value = 255

        for start in range(first * batch_size, len(order) - batch_size + 1, batch_size):
            yield self.images(order[start:start + batch_size]) / image_max_value - 0.5


def _check_readable(dataset_name, data_files, skipped):
    """
    Warn in one line about the files that could not be read; raise DatasetError when none could
    """
    if skipped:
        print('warning: skipped {} unreadable image{} of {} (first: {})'.format(
            len(skipped), 's' if len(skipped) > 1 else '', len(data_files), one_line(data_files[skipped[0]])),
            file=sys.stderr)
    if len(skipped) == len(data_files):
        raise DatasetError('None of the {} images of the {} dataset can be read (the first: {}): give it image files '
                           'that open (jpg, jpeg or png)'.format(len(data_files), dataset_name,
                                                                 one_line(data_files[0])))
