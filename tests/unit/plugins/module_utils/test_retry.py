import random

import pytest

from ansible_collections.openadapt.waa.plugins.module_utils._retry import Deadline, backoff_delays, earliest


class FakeClock:
    def __init__(self):
        self.now = 100.0
        self.slept = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += seconds


def test_deadline_sleep_never_passes_the_deadline():
    clock = FakeClock()
    d = Deadline(5, clock=clock, sleeper=clock.sleep)
    assert d.remaining() == 5 and not d.expired()
    assert d.sleep(3) == 3
    assert d.sleep(10) == 2  # cut to what is left
    assert d.expired() and d.remaining() == 0 and d.sleep(1) == 0
    assert clock.slept == [3, 2]


def test_unlimited_and_optional_deadlines():
    assert Deadline().remaining() == float("inf") and not Deadline().expired()
    assert Deadline.optional(0).unlimited and Deadline.optional(None).unlimited
    assert not Deadline.optional(3).unlimited
    clock = FakeClock()
    a, b = Deadline(10, clock=clock), Deadline(3, clock=clock)
    assert earliest(a, b, Deadline(clock=clock)) is b
    assert earliest(Deadline(clock=clock)).unlimited
    assert b.bound(7) == 3 and b.bound(1) == 1 and Deadline(0, clock=clock).bound(5, minimum=0.5) == 0.5


def test_backoff_is_exponential_capped_and_jittered():
    assert backoff_delays(4, base=2, cap=60, jitter=0) == [2, 4, 8]
    assert backoff_delays(8, base=10, cap=60, jitter=0)[-1] == 60
    assert backoff_delays(1) == []
    delays = backoff_delays(6, base=1, cap=100, jitter=0.5, rng=random.Random(1))
    for i, d in enumerate(delays):
        assert 0.5 * 2 ** i <= d <= 2 ** i
    assert len(set(backoff_delays(3, jitter=1.0, rng=random.Random(2)))) == 2
    with pytest.raises(ValueError):
        backoff_delays(0)
    with pytest.raises(ValueError):
        backoff_delays(3, jitter=2)

