"""
A run's TensorBoard event files (--logdir): the losses, D(x) and D(G(z)), the scores as scalars, the
sample grids as images, and histograms of what the discriminator said of each image. The same numbers
go to losses.csv and swd.csv (facegan/output/run_log.py), which need no TensorFlow to read.
"""
import io

import numpy as np
import tensorflow.compat.v1 as tf

HISTOGRAM_EDGES = np.linspace(0, 1, 21)  # D's outputs are probabilities: the same 20 bins every step


def histogram(values, edges=HISTOGRAM_EDGES):
    """
    :param values: Numbers in [edges[0], edges[-1]]
    :param edges: The bins' edges
    :return: A TensorBoard HistogramProto of the values
    """
    values = np.asarray(values, dtype=np.float64).ravel()
    counts, _ = np.histogram(np.clip(values, edges[0], edges[-1]), bins=edges)
    return tf.HistogramProto(min=float(values.min()), max=float(values.max()), num=values.size,
                             sum=float(values.sum()), sum_squares=float(np.square(values).sum()),
                             bucket_limit=edges[1:].tolist(), bucket=counts.tolist())


class EventLog(object):
    """A run's event files in a logdir (TensorBoard reads them)."""

    def __init__(self, logdir, graph):
        """
        :param logdir: Folder for the event files
        :param graph: The training graph, to show in TensorBoard
        """
        self.writer = tf.summary.FileWriter(logdir, graph)

    def scalars(self, step, values):
        """:param values: {tag: number}; nan values (not known) are left out"""
        summary = [tf.Summary.Value(tag=tag, simple_value=float(value)) for tag, value in values.items()
                   if np.isfinite(value)]
        self.writer.add_summary(tf.Summary(value=summary), step)

    def grid(self, step, grid, image_mode):
        """:param grid: A PIL grid of samples, shown under the tag 'samples'"""
        png = io.BytesIO()
        grid.save(png, format='PNG')
        image = tf.Summary.Image(height=grid.height, width=grid.width, encoded_image_string=png.getvalue(),
                                 colorspace=1 if image_mode == 'L' else 3)
        self.writer.add_summary(tf.Summary(value=[tf.Summary.Value(tag='samples', image=image)]), step)

    def d_view_histograms(self, step, d_view):
        """
        :param d_view: discriminator_view.DiscriminatorView of per-image D(x) and D(G(z)) (None or empty: none)
        """
        if d_view:
            values = [tf.Summary.Value(tag='d_real_per_image', histo=histogram(d_view.real)),
                      tf.Summary.Value(tag='d_fake_per_image', histo=histogram(d_view.fake))]
            self.writer.add_summary(tf.Summary(value=values), step)

    def close(self):
        """Flush and close the event file."""
        self.writer.close()
