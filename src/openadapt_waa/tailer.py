"""Following an append-only JSON-lines file (a run's events.jsonl): the CLI's live output and the
viewer read it the same way."""

from __future__ import annotations

import json
import os
from pathlib import Path


class Tailer:
    """Follow an append-only JSON-lines file: each ``read()`` returns the complete new lines.

    Reads only what was appended since the last call (one ``stat`` when nothing changed). A line
    still being written (no newline yet) waits for the next call. The file may not exist yet. A
    file that shrinks or is replaced is read again from the start (``resets`` counts it).
    """

    def __init__(self, path: Path | str, max_read: int = 4 << 20, max_line: int = 16 << 20):
        self.path = Path(path)
        self.max_read = max_read
        self.max_line = max_line
        self.offset = 0
        self.buffer = b""
        self.inode = None
        self.bad_lines = 0
        self.resets = 0
        self.pending = False  # more was appended than one read takes

    def read(self) -> list[dict]:
        try:
            st = os.stat(self.path)
        except (FileNotFoundError, NotADirectoryError):
            self.pending = False
            return []
        if self.inode is not None and (st.st_ino != self.inode or st.st_size < self.offset):
            self.offset, self.buffer = 0, b""
            self.resets += 1
        self.inode = st.st_ino
        if st.st_size <= self.offset:
            self.pending = False
            return []
        try:
            with open(self.path, "rb") as handle:
                handle.seek(self.offset)
                data = handle.read(min(self.max_read, st.st_size - self.offset))
        except OSError:
            return []
        self.offset += len(data)
        self.pending = self.offset < st.st_size
        *lines, self.buffer = (self.buffer + data).split(b"\n")
        if len(self.buffer) > self.max_line:  # not JSON we could ever parse: drop it
            self.buffer = b""
            self.bad_lines += 1
        out = []
        for line in lines:
            line = line.strip()
            if not line:
                continue
            try:
                obj = json.loads(line)
            except ValueError:
                self.bad_lines += 1
                continue
            if isinstance(obj, dict):
                out.append(obj)
            else:
                self.bad_lines += 1
        return out
