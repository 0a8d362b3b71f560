"""
Checks of a saved run's generator against real images: its score, the sliced Wasserstein distance to
images training held out (`evaluate`), and the memorisation check, its faces' nearest training
images (`evaluate --nearest`).
"""
import os

import numpy as np

from facegan.metrics import nearest
from facegan.metrics.sliced_wasserstein import Tracker
from facegan.output import pictures


def tracker(dataset, eval_images, seed):
    """
    :param dataset: helper.Dataset of the run's data, whole: its last eval_images were held out of training
    :return: metrics/sliced_wasserstein.py's Tracker of those images, its floor against as many training images
    """
    training, held_out = dataset.split(eval_images)
    return Tracker(held_out / 127.5 - 1, training.images(range(eval_images)) / 127.5 - 1, seed)


def score(draw, saved, scores, seed):
    """
    Score a saved run's generator against the held-out images
    :param draw: generator_session.drawing's function from z to images
    :param saved: restore.SavedRun
    :param scores: tracker()'s Tracker (its first score sets the ceiling: score the untrained generator first)
    :param seed: Seed of z
    :return: (SWD, fraction of the gap closed)
    """
    z = np.random.RandomState(seed).uniform(-1, 1, size=(len(scores.held_out), saved.z_dim)).astype(np.float32)
    return scores.score(draw(z))


def nearest_picture(draw, saved, dataset, eval_images, path):
    """
    The memorisation check (metrics/nearest.py): eval_images generated faces and the dataset's last eval_images
    real ones (held out of training), each against the other images, the training set
    :param draw: generator_session.drawing's function from z to images (numpy's random state seeded)
    :param saved: restore.SavedRun
    :param dataset: helper.Dataset of the run's data, whole
    :param path: The PNG: the nearest.SHOWN generated faces nearest to a training image, each beside its
                 nearest.NEIGHBOURS nearest training images
    :return: nearest.check's result
    """
    trained = dataset.shape[0] - eval_images
    held_out = dataset.images(range(trained, dataset.shape[0]))

    def training_chunks():
        return ((first, dataset.images(range(first, min(first + nearest.CHUNK, trained))))
                for first in range(0, trained, nearest.CHUNK))

    generated = (draw(np.random.uniform(-1, 1, size=(eval_images, saved.z_dim)).astype(np.float32)) + 1) * 127.5
    result = nearest.check(generated, held_out, training_chunks)
    rows = [np.concatenate([generated[[shown]], dataset.images(neighbours)])
            for shown, neighbours in zip(result['shown'], result['neighbours'])]
    os.makedirs(os.path.dirname(path) or '.', exist_ok=True)
    pictures.save_rows(np.concatenate(rows) / 127.5 - 1, 1 + nearest.NEIGHBOURS, 'L' if saved.channels == 1 else 'RGB',
                       path)
    return result


NEIGHBOURS = nearest.NEIGHBOURS
verdict = nearest.verdict
