"""What the jobs need from a chat service, and nothing Slack-specific.

The scheduler, digests and alerts (``bot/jobs/``) post through a ``Poster``;
``bot/slack/poster.py`` is the Slack one, and tests may pass their own. A poster
renders a ``Reply`` itself (Block Kit for Slack), draws and uploads its chart,
and turns every failure into ``PostError`` with a short reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from commands.reply import Chart, Reply


class PostError(RuntimeError):
    """A post failed. ``reason`` is the service's short code (``not_in_channel``,
    ``ratelimited``, ``timeout`` ...); ``retry_after`` is seconds when the service said."""

    def __init__(self, reason: str, *, retry_after: float | None = None, permanent: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after
        self.permanent = permanent  # retrying cannot help (channel gone, bot not invited ...)


@dataclass(frozen=True)
class ChannelInfo:
    id: str
    name: str | None = None
    is_private: bool = False
    is_im: bool = False
    is_mpim: bool = False


class Poster(Protocol):
    def post(self, channel: str, reply: Reply, *, thread_ts: str | None = None, run_id: str | None = None) -> str:
        """Post ``reply`` in ``channel`` (in a thread when ``thread_ts``); returns the message ts.
        ``run_id`` ("digest:12", "alert:7"): this post's identity, so a post whose answer was lost
        (a timeout) is looked for before it is posted again, and never posted twice."""

    def post_text(self, channel: str, text: str, *, thread_ts: str | None = None, run_id: str | None = None) -> str:
        """Post plain text (the poster escapes it for the service); returns the message ts."""

    def upload_chart(self, channel: str, chart: Chart, *, thread_ts: str | None = None, lang: str = "en") -> None:
        """Draw ``chart`` and upload it to ``channel`` (in a thread when ``thread_ts``)."""

    def open_dm(self, user: str) -> str:
        """The DM channel with ``user``."""

    def channel_info(self, channel: str) -> ChannelInfo:
        """The channel's ID, name and kind."""
