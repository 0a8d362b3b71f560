"""
Ctrl-C (SIGINT), kill (SIGTERM) and a closing terminal (SIGHUP) while a block runs: a flag is set
instead, so a training step finishes and a checkpoint is saved (interrupt_flag). The handlers in
place before come back after the block. (The entry points' own handlers, for the rest of a run, are
in facegan/app/interrupts.py.)
"""
import contextlib
import signal

# Signals that ask a run to stop: Ctrl-C, kill or timeout, and a closing terminal
STOP_SIGNALS = tuple(getattr(signal, name) for name in ('SIGINT', 'SIGTERM', 'SIGHUP') if hasattr(signal, name))


@contextlib.contextmanager
def handling(signals, handler):
    """
    While the block runs, handler handles these signals, but for those ignored when it begins: they stay ignored
    (nohup's SIGHUP, a background job's Ctrl-C: whoever started the program asked for that). The handlers before
    are restored after.
    """
    previous = {signum: signal.signal(signum, handler) for signum in signals
                if signal.getsignal(signum) is not signal.SIG_IGN}
    try:
        yield
    finally:
        for signum, before in previous.items():
            signal.signal(signum, signal.SIG_DFL if before is None else before)


@contextlib.contextmanager
def interrupt_flag():
    """
    While the block runs, Ctrl-C (SIGINT), kill (SIGTERM) and a closing terminal (SIGHUP) set a flag instead of
    stopping mid-step (one ignored when the block begins, as under nohup, stays ignored)
    :return: A function that tells whether one of them came
    """
    received = []
    with handling(STOP_SIGNALS, lambda signum, frame: received.append(signum)):
        yield lambda: bool(received)
