"""One lane per channel: the scheduler's posts to a channel run in order, in a thread of that
channel's own, so a channel that is slow or rate limited (``Retry-After: 120``) holds up only
itself. The poster paces each channel (``bot.slack.poster.ChannelPacer``); the lanes make sure
those waits never block another channel's digest or alert.

``Lanes.submit(channel, fn, key=None)`` queues ``fn`` behind the channel's earlier work (a
``key`` still waiting in that queue is not queued twice) and returns a ``Future``;
``Lanes.wait(timeout)`` waits until every lane is idle. A lane's thread ends when its queue
is empty; an exception in ``fn`` is logged and set on its future, never kills the lane.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from concurrent.futures import Future
from typing import Any, Callable

logger = logging.getLogger(__name__)


class Lanes:
    def __init__(self, name: str = "csbot-lane"):
        self.name = name
        self._queues: dict[str, deque[tuple[str | None, Callable[[], Any], Future]]] = {}
        self._running: set[str] = set()
        self._lock = threading.Condition()

    def submit(self, channel: str, fn: Callable[[], Any], *, key: str | None = None) -> Future:
        future: Future = Future()
        with self._lock:
            queue = self._queues.setdefault(channel, deque())
            if key is not None:
                for queued_key, _, queued in queue:
                    if queued_key == key:
                        return queued  # the same work is already waiting in this lane
            queue.append((key, fn, future))
            if channel not in self._running:
                self._running.add(channel)
                threading.Thread(target=self._drain, args=(channel,), name=f"{self.name}-{channel}",
                                 daemon=True).start()
        return future

    def busy(self) -> set[str]:
        """Channels with work queued or running."""
        with self._lock:
            return set(self._running)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until every lane is idle; False when ``timeout`` ran out first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            while self._running:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._lock.wait(left)
        return True

    def _drain(self, channel: str) -> None:
        while True:
            with self._lock:
                queue = self._queues.get(channel)
                if not queue:
                    self._running.discard(channel)
                    self._queues.pop(channel, None)
                    self._lock.notify_all()
                    return
                _, fn, future = queue.popleft()
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn())
            except BaseException as exc:  # never let one task end the lane
                logger.exception("posting to %s failed", channel)
                future.set_exception(exc)
