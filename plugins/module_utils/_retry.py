# -*- coding: utf-8 -*-
# Copyright (c) 2026, OpenAdapt.AI
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Deadlines and exponential backoff with jitter: the one retry/backoff helper (standard library only)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import random
import time


class Deadline(object):
    """A point in monotonic time, ``seconds`` from now; None means no deadline (see optional())."""

    def __init__(self, seconds=None, clock=time.monotonic, sleeper=time.sleep):
        self._clock = clock
        self._sleeper = sleeper
        self.start = clock()
        self.seconds = None if seconds is None else float(seconds)
        self.at = None if self.seconds is None else self.start + self.seconds

    @classmethod
    def optional(cls, seconds, **kwargs):
        """A deadline from a user option where 0 (or None) means 'no limit'."""
        return cls(seconds if seconds and seconds > 0 else None, **kwargs)

    @property
    def unlimited(self):
        return self.at is None

    def elapsed(self):
        return self._clock() - self.start

    def remaining(self):
        """Seconds left (never negative); float('inf') without a deadline."""
        if self.at is None:
            return float('inf')
        return max(0.0, self.at - self._clock())

    def expired(self):
        return self.at is not None and self._clock() >= self.at

    def bound(self, seconds, minimum=0.0):
        """``seconds`` cut to what is left, but at least ``minimum``."""
        return max(minimum, min(float(seconds), self.remaining()))

    def sleep(self, seconds):
        """Sleep ``seconds`` but never past the deadline. Returns the time actually slept."""
        duration = min(max(0.0, float(seconds)), self.remaining())
        if duration > 0:
            self._sleeper(duration)
        return duration


def earliest(*deadlines):
    """The deadline among ``deadlines`` that ends first (unlimited ones count as last)."""
    limited = [d for d in deadlines if d is not None and not d.unlimited]
    if not limited:
        return next((d for d in deadlines if d is not None), Deadline())
    return min(limited, key=lambda d: d.at)


def backoff_delays(attempts, base=2.0, cap=60.0, jitter=0.5, rng=None):
    """Delays to wait between ``attempts`` tries: ``attempts - 1`` values.

    Delay i is ``min(cap, base * 2**i)``, reduced by a random fraction of up to ``jitter``
    (0 = none, 1 = anywhere between 0 and the full delay) so that many hosts retrying at
    once spread out instead of hitting a registry together.
    """
    if attempts < 1:
        raise ValueError('attempts must be at least 1')
    if base < 0 or cap < 0:
        raise ValueError('base and cap must not be negative')
    if not 0 <= jitter <= 1:
        raise ValueError('jitter must be between 0 and 1')
    rng = rng or random.Random()
    delays = []
    for i in range(attempts - 1):
        delay = min(float(cap), float(base) * (2 ** i))
        if jitter:
            delay *= 1.0 - jitter * rng.random()
        delays.append(delay)
    return delays
