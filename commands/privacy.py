"""Who may see a reply: the one place that decides whether it may be public.

A reply is a revenue reply when it carries a revenue figure (``carries_revenue``): one of
the metrics it shows (``Reply.metrics``) is a revenue figure in the metric catalog, or it
shows revenue outside the catalog (``Reply.revenue`` set by its command).
A reply quoting raw synced values (``Reply.raw_data``: e.g. the rejected rows of ``/cs sync``,
whose MRR ``'¥980,000'`` is data as given) is treated the same way (``carries_raw_data``).
A revenue or raw-data reply may be public only in a DM with the asker or in a revenue channel
(``CSBOT_REVENUE_CHANNELS``); everything else may be public anywhere. Every
surface (slash commands, mentions, Share, the digest, alerts, App Home) asks
``may_be_public`` and never decides for itself.
"""

from __future__ import annotations

from commands.reply import Reply
from metrics.catalog import any_revenue
from metrics.settings import Settings


def carries_revenue(reply: Reply) -> bool:
    """Does the reply show a revenue figure (MRR, ARR, NRR, LTV ...)?"""
    return reply.revenue or any_revenue(reply.metrics)


def carries_raw_data(reply: Reply) -> bool:
    """Does the reply quote values as they were synced (which may be revenue, names, anything)?"""
    return reply.raw_data


def is_revenue_channel(settings: Settings, channel_id: str | None, channel_name: str | None = None) -> bool:
    """Is the channel listed in CSBOT_REVENUE_CHANNELS (by ID, or by name while names are allowed)?"""
    allowed = {c.lower().lstrip("#") for c in settings.revenue_channels}
    if not allowed or not channel_id:
        return False
    if channel_id.lower().lstrip("#") in allowed:
        return True
    return bool(channel_name) and channel_name.lower().lstrip("#") in allowed


def may_be_public(reply: Reply, settings: Settings, channel_id: str | None, *, channel_name: str | None = None,
                  is_dm: bool = False) -> bool:
    """May ``reply`` be posted where everyone in the channel sees it?"""
    if not (carries_revenue(reply) or carries_raw_data(reply)) or is_dm:
        return True
    return is_revenue_channel(settings, channel_id, channel_name)
