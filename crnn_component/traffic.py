"""Bytes a FATE task process sends and receives through the federation.

FATE 2.2 records no message sizes. Every ``ctx.<party>.put/get`` of a task ends in
``fate.arch.context._parties._push`` / ``_pull``, which serialise the object and hand bytes to
the federation (``federation.push_bytes`` / ``pull_bytes``; an object larger than the
federation's max message size goes as a table of slices announced by a header that carries
its total size). :func:`install` wraps those two functions in this process, so each message's
serialised size is counted exactly as it crosses the federation: a message pushed to k
parties counts k times (that many copies are sent). Each wrapper keeps the function it wraps
as ``__wrapped__`` and calls it, so the counter composes with the audit recorder of
fedids/audit.py in either order (tests/unit/test_audit.py).
"""

from __future__ import annotations

import struct
import threading
from dataclasses import dataclass
from typing import Any, Dict, Optional

_LOCK = threading.Lock()
_COUNTER: Optional[TrafficCounter] = None


@dataclass
class TrafficCounter:
    """Running totals of this process's federation traffic (payload bytes, messages)."""

    sent_bytes: int = 0
    received_bytes: int = 0
    sent_messages: int = 0
    received_messages: int = 0

    def snapshot(self) -> Dict[str, int]:
        return {"sent_bytes": self.sent_bytes, "received_bytes": self.received_bytes,
                "sent_messages": self.sent_messages, "received_messages": self.received_messages}

    def since(self, before: Dict[str, int]) -> Dict[str, int]:
        now = self.snapshot()
        return {key: now[key] - before[key] for key in now}


def payload_size(message: bytes) -> int:
    """Bytes a federation message stands for: itself, plus the sliced object it announces."""
    size = len(message)
    if size >= 9 and message[:1] == b"\x01":  # FATE's split header: "!B" mode 1, then "!Q" total size
        size += struct.unpack("!Q", message[1:9])[0]
    return size


def install() -> TrafficCounter:
    """Count this process's federation traffic from now on (idempotent); return the counter."""
    global _COUNTER
    with _LOCK:
        if _COUNTER is not None:
            return _COUNTER
        from fate.arch.context import _parties

        counter = TrafficCounter()
        original_push = _parties._push
        original_pull = _parties._pull

        def counting_push(*args: Any, **kwargs: Any) -> Any:
            federation = kwargs["federation"] if "federation" in kwargs else args[0]  # _push(federation, ...)
            push_bytes = federation.push_bytes

            def push_and_count(v: bytes, name: str, tag: str, parties: Any) -> Any:
                counter.sent_bytes += payload_size(v) * len(parties)
                counter.sent_messages += len(parties)
                return push_bytes(v=v, name=name, tag=tag, parties=parties)

            federation.push_bytes = push_and_count
            try:
                return original_push(*args, **kwargs)
            finally:
                del federation.push_bytes

        def counting_pull(*args: Any, **kwargs: Any) -> Any:
            federation = kwargs["federation"] if "federation" in kwargs else args[1]  # _pull(ctx, federation, ...)
            pull_bytes = federation.pull_bytes

            def pull_and_count(name: str, tag: str, parties: Any) -> Any:
                buffers = pull_bytes(name=name, tag=tag, parties=parties)
                for buffer in buffers:
                    counter.received_bytes += payload_size(buffer)
                    counter.received_messages += 1
                return buffers

            federation.pull_bytes = pull_and_count
            try:
                return original_pull(*args, **kwargs)
            finally:
                del federation.pull_bytes

        counting_push.__wrapped__ = original_push  # type: ignore[attr-defined]
        counting_pull.__wrapped__ = original_pull  # type: ignore[attr-defined]
        _parties._push = counting_push
        _parties._pull = counting_pull
        _COUNTER = counter
        return counter


def counter() -> Optional[TrafficCounter]:
    """The installed counter, if any."""
    return _COUNTER
