"""Background work yields to checks: a lower CPU priority for its thread, a pause after each batch."""

import os
import sys
import threading

import pytest

from verify_service.adapters import pacing


class Clock:
    """time.monotonic and time.sleep for the pace: sleeping moves the clock."""

    def __init__(self):
        self.now, self.slept = 100.0, []

    def monotonic(self):
        return self.now

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def clock(monkeypatch):
    fake = Clock()
    monkeypatch.setattr(pacing.time, "monotonic", fake.monotonic)
    monkeypatch.setattr(pacing.time, "sleep", fake.sleep)
    return fake


def test_each_batch_is_followed_by_a_pause_as_long_as_it_took(clock):
    pace = pacing.Paced()
    for took in (0.2, 0.05, 1.5):
        with pace():
            clock.now += took
    assert clock.slept == pytest.approx([0.2, 0.05, 1.5])


def test_a_ratio_of_zero_never_pauses_and_a_failed_batch_is_not_paced(clock):
    with pacing.Paced(0)():
        clock.now += 1
    with pytest.raises(RuntimeError), pacing.Paced()():
        clock.now += 1
        raise RuntimeError("the batch failed")
    assert clock.slept == []


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread priority is Linux's")
def test_background_priority_lowers_only_the_calling_threads_priority():
    seen = {}

    def background():
        pacing.background_priority()
        seen["nice"] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    before = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    thread = threading.Thread(target=background)
    thread.start()
    thread.join()
    assert seen["nice"] == max(before, pacing.BACKGROUND_NICE)
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == before  # the caller's thread is untouched
