"""
Which batches a run trains on, and when it stops. Each epoch's order is drawn from the run's seed
and the epoch's number alone, so a run resumed at any step trains on exactly the images an
uninterrupted run would have: the rest of that epoch, in the same order. The progress bar shows
the steps.
"""
import numpy as np
from tqdm import tqdm


def epoch_order(seed, epoch_i, count):
    """
    :return: The order of count images in epoch epoch_i of a run with this seed: the (epoch_i + 1)-th
             permutation of one generator seeded with it (each epoch a new order, as helper.Dataset's
             get_batches gives them), worked out from the seed alone, so a resumed run finds it again
    """
    rng = np.random.default_rng(seed)
    for _ in range(epoch_i):
        rng.permutation(count)
    return rng.permutation(count)


class Schedule(object):
    """The run's steps: which batches are left in each epoch, when to stop, and the progress bar."""

    def __init__(self, epoch_count, images, batch_size, max_steps, seed):
        """
        :param epoch_count: Number of epochs
        :param images: Images an epoch trains on
        :param batch_size: Images a step
        :param max_steps: Stop at this step (None: when the last epoch ends)
        :param seed: The run's seed (the epochs' orders)
        """
        self.epoch_count, self.images, self.seed = epoch_count, images, seed
        self.steps_per_epoch = images // batch_size  # a last partial batch is dropped, as get_batches does
        self.last_step = epoch_count * self.steps_per_epoch
        self.stop_reason = '{} epoch{} done'.format(epoch_count, 's' if epoch_count > 1 else '')
        if max_steps is not None and max_steps <= self.last_step:
            self.last_step = max_steps
            self.stop_reason = 'max_steps {} reached'.format(max_steps)
        self.step = 0
        self.bar = None

    def start(self, step):
        """Start counting from step (0, or a resumed checkpoint's), and show the progress bar."""
        self.step = step
        self.bar = tqdm(total=self.last_step, initial=min(step, self.last_step), unit='step', leave=False)

    def epoch(self, epoch_i, batches_in_order):
        """
        :param epoch_i: The epoch's index
        :param batches_in_order: Function (order, first batch) -> the epoch's batches (helper.Dataset.batches)
        :return: Generator of the epoch's batches not trained on yet: a resumed run skips those it did, and
                 the run ends at max_steps
        """
        first, end = epoch_i * self.steps_per_epoch, min((epoch_i + 1) * self.steps_per_epoch, self.last_step)
        if self.step >= end:
            return
        if self.bar is not None:
            self.bar.set_description('Epoch {}/{}'.format(epoch_i + 1, self.epoch_count))
        for batch in batches_in_order(epoch_order(self.seed, epoch_i, self.images), self.step - first):
            yield batch
            if self.step >= end:
                return

    def done(self):
        """:return: Whether the last step is done"""
        return self.step >= self.last_step

    def step_done(self, shown=None):
        """
        :param shown: {name: value} to show beside the bar (the losses, D's means), or None
        :return: The number of steps done, one more
        """
        self.step += 1
        if self.bar is not None:
            if shown:
                self.bar.set_postfix({name: '{:.3f}'.format(value) for name, value in shown.items()}, refresh=False)
            self.bar.update()
        return self.step

    def close(self):
        """Take the progress bar off the screen."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None
