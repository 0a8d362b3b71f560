"""
facegan/train/schedule.py: which batches a run trains on and when it stops. An epoch's order depends on the seed
and the epoch alone, so a run interrupted at any step and resumed trains on exactly the images an uninterrupted
run would have: every image of an epoch once, across the interruption.
"""
import numpy as np
import pytest
from hypothesis import given, strategies as st

from facegan.train import schedule as schedule_module
from facegan.train.schedule import Schedule, epoch_order


def batches_of(batch_size):
    """:return: A batches_in_order as helper.Dataset.batches gives them: the positions of each full batch, from first"""
    def batches_in_order(order, first):
        for start in range(first * batch_size, len(order) - batch_size + 1, batch_size):
            yield [int(position) for position in order[start:start + batch_size]]
    return batches_in_order


def train(schedule, batch_size, stop_after=None):
    """
    Drive a Schedule as a run does: train()'s loop over epochs and their batches, a step done after each batch
    :param stop_after: Stop (an interruption) once this step is done
    :return: [(epoch, batch)] trained on
    """
    trained = []
    for epoch_i in range(schedule.epoch_count):
        for batch in schedule.epoch(epoch_i, batches_of(batch_size)):
            trained.append((epoch_i, batch))
            if schedule.step_done() == stop_after:
                return trained
    return trained


# --- the order of an epoch ------------------------------------------------------------------------

def test_an_epochs_order_is_a_permutation_drawn_from_the_seed_and_the_epoch_alone():
    first = epoch_order(7, 3, 50)
    assert sorted(first.tolist()) == list(range(50))
    np.random.seed(123)  # the global random state, and another generator's use, play no part
    np.random.default_rng(0).permutation(50)
    assert epoch_order(7, 3, 50).tolist() == first.tolist()
    others = [epoch_order(7, 4, 50), epoch_order(8, 3, 50), epoch_order(3, 7, 50)]
    assert all(order.tolist() != first.tolist() for order in others)


@given(st.integers(0, 2 ** 32 - 1), st.integers(0, 1000), st.integers(1, 200))
def test_any_seed_and_epoch_give_a_permutation(seed, epoch_i, count):
    order = epoch_order(seed, epoch_i, count)
    assert sorted(order.tolist()) == list(range(count))


# --- steps and the stop -----------------------------------------------------------------------------

@pytest.mark.parametrize('epochs,images,batch_size,max_steps,steps_per_epoch,last_step,reason', [
    (2, 10, 3, None, 3, 6, '2 epochs done'),  # the partial batch left out, as get_batches does
    (1, 10, 5, None, 2, 2, '1 epoch done'),
    (2, 10, 5, 3, 2, 3, 'max_steps 3 reached'),
    (2, 10, 5, 4, 2, 4, 'max_steps 4 reached'),  # exactly the epochs' steps: said as max_steps
    (2, 10, 5, 5, 2, 4, '2 epochs done'),  # more than the epochs take: the epochs end it
])
def test_the_last_step_and_why_the_run_stops(epochs, images, batch_size, max_steps, steps_per_epoch, last_step,
                                             reason):
    schedule = Schedule(epochs, images, batch_size, max_steps, seed=0)
    assert (schedule.steps_per_epoch, schedule.last_step, schedule.stop_reason) == (steps_per_epoch, last_step, reason)
    assert schedule.step == 0 and schedule.bar is None and not schedule.done()


def test_an_uninterrupted_run_trains_each_epoch_in_its_order_and_stops_at_max_steps():
    schedule = Schedule(3, 10, 4, 5, seed=9)
    trained = train(schedule, 4)
    orders = [epoch_order(9, epoch_i, 10).tolist() for epoch_i in range(3)]
    assert trained == [(0, orders[0][:4]), (0, orders[0][4:8]), (1, orders[1][:4]), (1, orders[1][4:8]),
                       (2, orders[2][:4])]
    assert schedule.step == 5 and schedule.done()


@given(epochs=st.integers(1, 3), images=st.integers(1, 24), batch_size=st.integers(1, 8),
       max_steps=st.none() | st.integers(1, 30), seed=st.integers(0, 2 ** 32 - 1), data=st.data())
def test_a_run_resumed_at_any_step_trains_on_exactly_the_rest(epochs, images, batch_size, max_steps, seed, data):
    whole = Schedule(epochs, images, batch_size, max_steps, seed)
    uninterrupted = train(whole, batch_size)
    assert len(uninterrupted) == whole.last_step
    for epoch_i in range(epochs):  # every image of an epoch at most once, all of them in a full epoch's batches
        seen = [position for epoch, batch in uninterrupted if epoch == epoch_i for position in batch]
        assert len(seen) == len(set(seen))
        if (epoch_i + 1) * whole.steps_per_epoch <= whole.last_step:
            assert len(seen) == whole.steps_per_epoch * batch_size
    stop = data.draw(st.integers(0, whole.last_step), label='interrupted after step')
    before = Schedule(epochs, images, batch_size, max_steps, seed)
    before.start(0)
    first_part = train(before, batch_size, stop_after=stop) if stop else []
    before.close()
    resumed = Schedule(epochs, images, batch_size, max_steps, seed)  # a new process: only the step is saved
    resumed.start(stop)
    rest = train(resumed, batch_size)
    resumed.close()
    assert first_part + rest == uninterrupted
    assert resumed.done() and resumed.step == whole.last_step


def test_an_epoch_a_run_is_past_gives_nothing():
    schedule = Schedule(2, 8, 4, None, seed=0)
    schedule.start(3)  # resumed in epoch 1
    assert list(schedule.epoch(0, batches_of(4))) == []
    assert schedule.bar.desc == ''  # nor does it show 'Epoch 1/2' on the bar
    assert len(list(schedule.epoch(1, batches_of(4)))) == 1
    schedule.close()


# --- the progress bar -------------------------------------------------------------------------------

def test_the_bar_counts_the_steps_of_the_whole_run_from_a_resumed_step(capsys):
    schedule = Schedule(3, 8, 4, None, seed=0)
    schedule.start(2)
    bar = schedule.bar
    assert (bar.total, bar.n, bar.unit, bar.leave) == (6, 2, 'step', False)
    next(schedule.epoch(1, batches_of(4)))
    assert bar.desc == 'Epoch 2/3: '  # tqdm adds ': '
    assert schedule.step_done({'d_loss': 0.51234, 'g_loss': 2.0}) == 3
    assert bar.n == 3 and bar.postfix == 'd_loss=0.512, g_loss=2.000'
    assert schedule.step_done() == 4 and bar.postfix == 'd_loss=0.512, g_loss=2.000'  # nothing new shown: kept
    schedule.close()
    assert schedule.bar is None
    schedule.close()  # again: nothing to do
    assert 'Epoch 2/3' in capsys.readouterr().err


def test_a_run_resumed_after_its_last_step_starts_with_a_full_bar():
    schedule = Schedule(1, 8, 4, None, seed=0)
    schedule.start(5)  # a checkpoint saved after a longer run of the same folder
    assert schedule.bar.n == 2 and schedule.done()
    schedule.close()


def test_without_a_bar_steps_still_count():
    schedule = Schedule(1, 8, 4, None, seed=0)
    assert [len(batch) for batch in schedule.epoch(0, batches_of(4))] == [4, 4]  # step_done never called
    assert schedule.step_done({'d_loss': 1.0}) == 1 and schedule.step_done() == 2 and schedule.done()


def test_one_epoch_is_said_in_the_singular():
    assert Schedule(1, 4, 4, None, 0).stop_reason == '1 epoch done'
    assert schedule_module.Schedule(4, 4, 4, None, 0).stop_reason == '4 epochs done'


def test_a_value_not_known_is_shown_as_nan():
    schedule = Schedule(1, 8, 4, None, seed=0)
    schedule.start(0)
    schedule.step_done({'d_real': float('nan'), 'g_loss': 1.0})
    assert schedule.bar.postfix == 'd_real=nan, g_loss=1.000'
    schedule.close()


def test_showing_the_losses_does_not_redraw_the_bar_each_step(capsys):
    """tqdm redraws at most every mininterval (0.1 s): a step's new losses wait for that redraw, at no cost."""
    schedule = Schedule(1, 8, 4, None, seed=0)
    schedule.start(0)
    schedule.bar.mininterval = float('inf')  # no timed redraw in this test: only the ones a call asks for
    drawn = capsys.readouterr().err
    schedule.step_done({'d_loss': 0.5})
    assert capsys.readouterr().err == '' and schedule.bar.postfix == 'd_loss=0.500'
    schedule.close()
    assert drawn


def test_a_run_resumed_at_its_max_steps_mid_epoch_trains_nothing_more():
    """max_steps 3 of 2 steps an epoch: the checkpoint at step 3, halfway through epoch 2, is the end."""
    schedule = Schedule(2, 8, 4, 3, seed=0)
    schedule.start(3)
    assert train(schedule, 4) == [] and schedule.step == 3 and schedule.bar.desc == ''
    schedule.close()
