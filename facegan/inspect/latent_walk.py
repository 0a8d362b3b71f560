"""
Walks through z, as in the DCGAN paper's Figure 4: a few z (saved ones first, then random ones),
and the path from each to the next and from the last back to the first, so the walk loops.

The path is spherical (slerp), not a straight line. z is drawn uniform in [-1, 1]^z_dim, and in
many dimensions nearly every such z has a length close to sqrt(z_dim / 3) (5.77 for z of 100,
give or take 0.26). The midpoint of a straight line between two of them is about 0.71 as long
(4.1 for z of 100): a z the generator almost never saw in training. slerp turns from one z to the
other along the arc between them, at a length between theirs, where the training z were.
"""
import numpy as np

STEPS = 8  # frames from one z to the next


def slerp(start, end, fraction):
    """
    Spherical interpolation: the point fraction of the way along the arc from start to end
    (Shoemake, 1985). Where start and end point the same or opposite ways the arc is undefined,
    and the straight line is used.
    :param start: z, (z_dim,)
    :param end: z, (z_dim,)
    :param fraction: 0 gives start, 1 gives end
    :return: z, (z_dim,), float64
    """
    start, end = np.asarray(start, np.float64), np.asarray(end, np.float64)
    lengths = np.linalg.norm(start) * np.linalg.norm(end)
    cos_angle = np.clip(np.dot(start, end) / lengths, -1, 1) if lengths > 0 else 1.0
    angle = np.arccos(cos_angle)
    if np.sin(angle) < 1e-6:
        return (1 - fraction) * start + fraction * end
    return (np.sin((1 - fraction) * angle) * start + np.sin(fraction * angle) * end) / np.sin(angle)


def waypoints(saved, count, z_dim, rng):
    """
    The z a walk passes through: the saved ones in order, then random ones (uniform in [-1, 1], as
    training draws z) up to count
    :param saved: Saved z, (m, z_dim), m at most count
    :param count: How many in all
    :param rng: numpy RandomState for the random ones
    :return: float32 array (count, z_dim)
    """
    fresh = rng.uniform(-1, 1, size=(count - len(saved), z_dim))
    return np.concatenate([np.asarray(saved, np.float32).reshape(-1, z_dim), fresh]).astype(np.float32)


def loop(points, steps=STEPS):
    """
    The walk: steps z from each point towards the next, the last point's towards the first
    :param points: z, (count, z_dim)
    :param steps: z per leg; a leg's first z is its point, and its last is one step short of the next
    :return: float32 array (count * steps, z_dim): leg i is rows i * steps to (i + 1) * steps
    """
    following = np.roll(points, -1, axis=0)
    return np.array([slerp(start, end, step / steps) for start, end in zip(points, following)
                     for step in range(steps)], np.float32)
