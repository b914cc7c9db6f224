"""What a pull's JSON stream says, layer by layer, and the password scrubber (module_utils/_pull_tracker.py)."""

import json

from ansible_collections.openadapt.waa.plugins.module_utils._pull_tracker import PullTracker, Scrubber

# Recorded from POST /images/create on Docker 20.10 (ids shortened, one layer already present).
STREAM = [
    {"status": "Pulling from modtest/rand", "id": "1"},
    {"status": "Already exists", "progressDetail": {}, "id": "0bf38e02672f"},
    {"status": "Pulling fs layer", "progressDetail": {}, "id": "a1"},
    {"status": "Pulling fs layer", "progressDetail": {}, "id": "b2"},
    {"status": "Waiting", "progressDetail": {}, "id": "b2"},
    {"status": "Downloading", "progressDetail": {"current": 1000, "total": 4000}, "progress": "[=> ]", "id": "a1"},
    {"status": "Downloading", "progressDetail": {"current": 3000, "total": 4000}, "id": "a1"},
    {"status": "Verifying Checksum", "progressDetail": {}, "id": "a1"},
    {"status": "Download complete", "progressDetail": {}, "id": "a1"},
    {"status": "Downloading", "progressDetail": {"current": 500, "total": 2000}, "id": "b2"},
    {"status": "Extracting", "progressDetail": {"current": 4000, "total": 4000}, "id": "a1"},
    {"status": "Pull complete", "progressDetail": {}, "id": "a1"},
    {"status": "Download complete", "progressDetail": {}, "id": "b2"},
    {"status": "Extracting", "progressDetail": {"current": 100, "total": 2000}, "id": "b2"},
    {"status": "Pull complete", "progressDetail": {}, "id": "b2"},
    {"status": "Digest: sha256:" + "ab" * 32},
    {"status": "Status: Downloaded newer image for 127.0.0.1:5091/modtest/rand:1"},
]


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_progress_aggregation_over_layers():
    clock = Clock()
    tracker = PullTracker(clock=clock)
    snaps = []
    for obj in STREAM:
        clock.now += 0.5
        tracker.feed(obj)
        snaps.append(tracker.snapshot())
    final = snaps[-1]
    assert final["layers_total"] == 3 and final["layers_done"] == 3 and final["layers_already_present"] == 1
    assert final["bytes_total"] == 6000 and final["bytes_done"] == 6000 and final["bytes_downloaded"] == 6000
    assert tracker.digest == "sha256:" + "ab" * 32 and tracker.final_status.startswith("Downloaded newer image")
    mid = snaps[6]  # a1 at 3000/4000, b2 size unknown yet
    assert mid["bytes_done"] == 3000 and mid["bytes_total"] == 4000 and mid["layers_done"] == 1
    assert all(a["bytes_done"] <= b["bytes_done"] for a, b in zip(snaps, snaps[1:]))
    assert mid["rate_bps"] > 0 and mid["eta_s"] is not None


def test_stall_clock_and_restarted_download():
    clock = Clock()
    tracker = PullTracker(clock=clock)
    tracker.feed({"status": "Downloading", "progressDetail": {"current": 100, "total": 1000}, "id": "x"})
    clock.now = 10
    assert tracker.idle_for() == 10, "a silent stream is a stall"
    assert not tracker.feed({"status": "Downloading", "progressDetail": {"current": 100, "total": 1000}, "id": "x"})
    assert tracker.idle_for() == 0, "a repeated message is no progress, but the stream is alive"
    assert not tracker.feed({"status": "Pulling from a/b", "id": "latest"})
    assert not tracker.feed("garbage")
    # Retry: Docker restarts the layer from zero; transferred bytes keep counting.
    tracker.new_attempt()
    tracker.feed({"status": "Downloading", "progressDetail": {"current": 50, "total": 1000}, "id": "x"})
    assert tracker.bytes_downloaded == 150 and tracker.snapshot()["bytes_done"] == 50
    # Layers completed in an earlier attempt show up as "Already exists" but are not "already present".
    tracker.feed({"status": "Already exists", "id": "x"})
    assert tracker.snapshot()["layers_already_present"] == 0 and tracker.snapshot()["layers_done"] == 1


def test_scrubber_removes_raw_and_json_escaped_secret():
    secret = 'p@ss"w\\rd'
    scrub = Scrubber(secret)
    text = "error for %s and %s" % (secret, json.dumps(secret))
    assert secret not in scrub(text) and json.dumps(secret)[1:-1] not in scrub(text)
    deep = scrub.deep({"a": [secret, {"b": "x" + secret}], "n": 3})
    assert secret not in json.dumps(deep) and json.dumps(secret)[1:-1] not in json.dumps(deep) and deep["n"] == 3
    assert Scrubber(None)("keep") == "keep" and Scrubber("")("keep") == "keep"


# Engine 29 with its containerd image store (the default for new installs): no "Pulling fs layer",
# "Download complete" and extraction without byte counts (progressDetail {"hidecounts": true}),
# repeated while a large layer extracts. Written after moby's daemon/containerd pull progress and
# Docker's documented stream format; ids shortened.
CONTAINERD_STREAM = [
    {"status": "Pulling from windowsarena/winarena", "id": "latest"},
    {"status": "Waiting", "progressDetail": {}, "id": "c1"},
    {"status": "Waiting", "progressDetail": {}, "id": "c2"},
    {"status": "Already exists", "progressDetail": {"hidecounts": True}, "id": "c0"},
    {"status": "Downloading", "progressDetail": {"current": 4000, "total": 8000}, "id": "c1"},
    {"status": "Downloading", "progressDetail": {"current": 8000, "total": 8000}, "id": "c1"},
    {"status": "Download complete", "progressDetail": {"hidecounts": True}, "id": "c1"},
    {"status": "Downloading", "progressDetail": {"current": 2000, "total": 2000}, "id": "c2"},
    {"status": "Download complete", "progressDetail": {"hidecounts": True}, "id": "c2"},
] + [{"status": "Extracting", "progressDetail": {"hidecounts": True}, "id": "c1"}] * 40 + [
    {"status": "Pull complete", "progressDetail": {"hidecounts": True}, "id": "c1"},
    {"status": "Extracting", "progressDetail": {"hidecounts": True}, "id": "c2"},
    {"status": "Pull complete", "progressDetail": {"hidecounts": True}, "id": "c2"},
    {"status": "Digest: sha256:" + "cd" * 32},
    {"status": "Status: Downloaded newer image for windowsarena/winarena:latest"},
]


def test_containerd_store_stream_counts_layers_and_a_long_extraction_is_no_stall():
    clock = Clock()
    tracker = PullTracker(clock=clock)
    longest_idle = 0.0
    for obj in CONTAINERD_STREAM:
        clock.now += 5  # a message every 5 s: a 200 s extraction of one large layer
        longest_idle = max(longest_idle, tracker.idle_for())
        tracker.feed(obj)
    final = tracker.snapshot()
    assert longest_idle == 5, "every message is liveness (a 60 s stall timeout never fires)"
    assert final["layers_total"] == 3 and final["layers_done"] == 3 and final["layers_already_present"] == 1
    assert final["bytes_total"] == 10000 and final["bytes_done"] == 10000
    assert tracker.digest == "sha256:" + "cd" * 32
