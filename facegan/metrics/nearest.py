"""
The memorisation check: how near generated faces are to the training images, next to how near
real faces the run never trained on are. Distances are in pixels, on the 28x28 images training
sees: the root-mean-square difference of their values (0-255), so 0 is the same image and 255
black against white. A generator that copies its training set draws faces nearer to a training
image than unseen real faces are; one that learned a space of faces does not.
"""
import numpy as np

NEIGHBOURS = 3  # training images shown beside each generated face
SHOWN = 8  # generated faces in the picture
CHUNK = 4096  # training images compared at a time: memory stays small for CelebA's 200,000


def _flat(images):
    """:return: Images as float64 rows, one image a row"""
    images = np.asarray(images, np.float64)
    return images.reshape(len(images), -1)


def squared_distances(a, b):
    """
    :param a: Images, (n, ...)
    :param b: Images, (m, ...), of a's size
    :return: (n, m) mean squared pixel differences: the square of each pair's RMS pixel difference
    """
    a, b = _flat(a), _flat(b)
    sums = np.maximum((a ** 2).sum(1)[:, None] + (b ** 2).sum(1)[None, :] - 2 * a @ b.T, 0)
    return sums / a.shape[1]


def nearest(queries, reference_chunks, count=NEIGHBOURS):
    """
    The count nearest reference images of each query image
    :param queries: Images, (n, h, w, C), values 0-255
    :param reference_chunks: Iterable of (first position, images (m, h, w, C), values 0-255)
    :param count: Neighbours per query
    :return: (distances (n, count), positions (n, count)), nearest first; distances are the RMS pixel difference
    """
    best_squares = np.full((len(queries), 0), np.inf)
    best_positions = np.zeros((len(queries), 0), np.int64)
    for first, chunk in reference_chunks:
        squares = squared_distances(queries, chunk)
        best_squares = np.concatenate([best_squares, squares], axis=1)
        best_positions = np.concatenate([best_positions, np.broadcast_to(
            np.arange(first, first + len(chunk)), squares.shape)], axis=1)
        order = np.argsort(best_squares, axis=1, kind='stable')[:, :count]
        best_squares = np.take_along_axis(best_squares, order, 1)
        best_positions = np.take_along_axis(best_positions, order, 1)
    return np.sqrt(best_squares), best_positions


def check(generated, held_out, reference_chunks):
    """
    :param generated: Generated images, (n, h, w, C), values 0-255
    :param held_out: Real images not trained on, (n, h, w, C), values 0-255
    :param reference_chunks: A function that returns a fresh iterable of (first position, training images)
    :return: dict: generated_median and held_out_median (of each image's nearest distance), copying
             (generated faces are nearer than held-out ones), shown (positions in generated of the SHOWN
             nearest to a training image, nearest first) and their neighbours (positions, (SHOWN, NEIGHBOURS))
    """
    distances, positions = nearest(generated, reference_chunks())
    held_out_distances, _ = nearest(held_out, reference_chunks(), 1)
    shown = np.argsort(distances[:, 0], kind='stable')[:SHOWN]
    generated_median, held_out_median = float(np.median(distances[:, 0])), float(np.median(held_out_distances))
    return {'generated_median': generated_median, 'held_out_median': held_out_median,
            'copying': generated_median < held_out_median, 'shown': shown, 'neighbours': positions[shown]}


def verdict(result):
    """:param result: check()'s :return: The lines to print: the two medians, and what they say"""
    medians = ('Nearest training image (RMS pixel difference, 0-255), median: generated faces {:.1f}, '
               'held-out real faces {:.1f}'.format(result['generated_median'], result['held_out_median']))
    if result['copying']:
        return [medians, 'Generated faces are nearer to the training images than real faces the run never saw: '
                         'the generator may be copying its training set (see nearest.png)']
    return [medians, 'No sign of copying: generated faces are no nearer to the training images than unseen real faces']
