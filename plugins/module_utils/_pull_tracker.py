# -*- coding: utf-8 -*-
# Copyright (c) 2026, OpenAdapt.AI
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a pull's JSON stream says, layer by layer (PullTracker), and the scrubber that keeps the
registry password out of every message, result and progress record (Scrubber)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import collections
import json
import re
import time

LAYER_STATUSES = ('Pulling fs layer', 'Waiting', 'Downloading', 'Verifying Checksum', 'Download complete',
                  'Extracting', 'Pull complete', 'Already exists')
# Errors a retry on the same registry cannot fix.
PERMANENT_ERROR_RE = re.compile(r'manifest unknown|not found|does not exist|pull access denied|unauthorized|'
                                r'authentication required|denied|no basic auth credentials|invalid reference',
                                re.IGNORECASE)
NO_SPACE_RE = re.compile(r'no space left on device', re.IGNORECASE)
RATE_WINDOW = 5.0


class PullTracker(object):
    """Aggregates Docker's per-layer pull messages into one progress picture.

    Layers persist across attempts, so a retry that finds layers done earlier ("Already exists")
    still counts them as downloaded by this module, not as present before it.
    """

    def __init__(self, clock=time.monotonic):
        self._clock = clock
        self.layers = collections.OrderedDict()
        self.digest = None
        self.final_status = None
        self.last_change = clock()
        # Any message of the stream is liveness: Engine 29's containerd store sends extraction
        # without byte counts, so a long extraction changes no number while it works.
        self.last_message = self.last_change
        self._samples = collections.deque()
        self._sample(self.last_change)

    def new_attempt(self):
        self.final_status = None
        self.last_change = self.last_message = self._clock()

    def _layer(self, layer_id, status):
        layer = self.layers.get(layer_id)
        if layer is None:
            layer = {'status': None, 'current': 0, 'total': 0, 'transferred': 0, 'extract': 0, 'done': False,
                     'already': status == 'Already exists'}
            self.layers[layer_id] = layer
        return layer

    def _advance(self, layer, current):
        # A smaller 'current' than before means Docker restarted that download from zero.
        if current >= layer['current']:
            layer['transferred'] += current - layer['current']
        else:
            layer['transferred'] += current
        layer['current'] = current

    def feed(self, obj):
        """Take one decoded stream object. Returns True when progress was made."""
        if not isinstance(obj, dict):
            return False
        self.last_message = self._clock()
        status = str(obj.get('status') or '')
        layer_id = obj.get('id')
        if status.startswith('Digest: '):
            self.digest = status[len('Digest: '):].strip()
            return self._changed()
        if status.startswith('Status: '):
            self.final_status = status[len('Status: '):].strip()
            return self._changed()
        if not layer_id or not (status in LAYER_STATUSES or status.startswith('Retrying in')):
            return False
        layer = self._layer(layer_id, status)
        before = (layer['status'], layer['current'], layer['extract'], layer['done'])
        detail = obj.get('progressDetail') or {}
        current = detail.get('current')
        total = detail.get('total')
        if status in ('Pulling fs layer', 'Waiting'):
            layer['done'] = False
        elif status == 'Downloading':
            if isinstance(total, int) and total > 0:
                layer['total'] = total
            if isinstance(current, int) and current >= 0:
                self._advance(layer, current)
        elif status in ('Verifying Checksum', 'Download complete', 'Extracting', 'Pull complete'):
            if layer['total'] and layer['current'] < layer['total']:
                self._advance(layer, layer['total'])
            if status == 'Extracting' and isinstance(current, int):
                layer['extract'] = current
            if status == 'Pull complete':
                layer['done'] = True
        elif status == 'Already exists':
            layer['done'] = True
        layer['status'] = status
        if before != (layer['status'], layer['current'], layer['extract'], layer['done']):
            return self._changed()
        return False

    def _changed(self):
        now = self._clock()
        self.last_change = now
        self._sample(now)
        return True

    def _sample(self, now):
        self._samples.append((now, self.bytes_downloaded))
        while len(self._samples) > 2 and now - self._samples[1][0] > RATE_WINDOW:
            self._samples.popleft()

    @property
    def bytes_downloaded(self):
        return sum(layer['transferred'] for layer in self.layers.values())

    def idle_for(self):
        """Seconds since the stream last said anything (a stall: the registry stopped sending)."""
        return self._clock() - self.last_message

    def rate(self):
        """Bytes per second over the last few seconds."""
        now = self._clock()
        if not self._samples:
            return 0.0
        t0, b0 = self._samples[0]
        span = now - t0
        if span <= 0.2:
            return 0.0
        return max(0.0, (self.bytes_downloaded - b0) / span)

    def snapshot(self):
        fetched = [layer for layer in self.layers.values() if not layer['already']]
        bytes_total = sum(layer['total'] for layer in fetched)
        bytes_done = sum(min(layer['current'], layer['total']) if layer['total'] else layer['current'] for layer in fetched)
        rate = self.rate()
        remaining = max(0, bytes_total - bytes_done)
        eta = round(remaining / rate, 1) if rate > 0 and bytes_total else None
        return {
            'bytes_done': bytes_done,
            'bytes_total': bytes_total,
            'bytes_downloaded': self.bytes_downloaded,
            'layers_done': sum(1 for layer in self.layers.values() if layer['done']),
            'layers_total': len(self.layers),
            'layers_already_present': sum(1 for layer in self.layers.values() if layer['already']),
            'rate_bps': int(rate),
            'eta_s': eta,
        }


class Scrubber(object):
    """Removes a secret from any text (raw and JSON-escaped forms)."""

    def __init__(self, secret):
        self.forms = []
        if secret:
            self.forms = sorted({secret, json.dumps(secret)[1:-1]}, key=len, reverse=True)

    def __call__(self, text):
        if text is None:
            return None
        text = str(text)
        for form in self.forms:
            text = text.replace(form, '********')
        return text

    def deep(self, value):
        if isinstance(value, str):
            return self(value)
        if isinstance(value, dict):
            return dict((k, self.deep(v)) for k, v in value.items())
        if isinstance(value, (list, tuple)):
            return [self.deep(v) for v in value]
        return value
