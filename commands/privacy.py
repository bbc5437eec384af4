"""Who may see a reply, and who may change what: the one place that decides.

A reply is a revenue reply when it carries a revenue figure (``carries_revenue``): one of
the metrics it shows (``Reply.metrics``) is a revenue figure in the metric catalog, or it
shows revenue outside the catalog (``Reply.revenue`` set by its command).
A reply quoting raw synced values (``Reply.raw_data``: e.g. the rejected rows of ``/cs sync``,
whose MRR ``'¥980,000'`` is data as given) is treated the same way (``carries_raw_data``).
A revenue or raw-data reply may be public only in the asker's own DM with csbot or in a revenue
channel; everything else may be public anywhere. Every surface (slash commands, mentions, Share,
the digest, alerts, App Home) asks ``may_be_public`` and never decides for itself.

A revenue channel is decided by its channel ID only. ``CSBOT_REVENUE_CHANNELS`` may hold IDs
(``C0123ABC``) or names (``cs-revenue``); a name counts once it has been resolved to its channel's
ID through Slack (``bot.slack.client.ChannelDirectory``), and the resolved IDs are passed in as
``revenue_ids``. A label a user typed (``<#C0GENERAL|cs-revenue>``) or a channel's current name
never makes a channel a revenue channel.

A Slack guest (``is_restricted`` / ``is_ultra_restricted``) never sees revenue, not even
privately (``may_see``). Only the person who subscribed, or a ``CSBOT_ADMINS`` user, may
end someone's subscription (a DM digest, a channel's digest or alerts: ``may_manage``).
"""

from __future__ import annotations

import re
from typing import Collection

from commands.reply import Reply
from metrics.catalog import any_revenue
from metrics.settings import Settings

# Slack conversation IDs: C (public or converted private), G (private, group DM), D (DM); names are lower case.
CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{2,}$")


def carries_revenue(reply: Reply) -> bool:
    """Does the reply show a revenue figure (MRR, ARR, NRR, LTV ...)?"""
    return reply.revenue or any_revenue(reply.metrics)


def carries_raw_data(reply: Reply) -> bool:
    """Does the reply quote values as they were synced (which may be revenue, names, anything)?"""
    return reply.raw_data


def is_channel_id(word: str) -> bool:
    return bool(CHANNEL_ID.match(word.strip().lstrip("#")))


def configured_ids(settings: Settings) -> frozenset[str]:
    """The entries of CSBOT_REVENUE_CHANNELS that are channel IDs already."""
    return frozenset(c.strip().lstrip("#") for c in settings.revenue_channels if is_channel_id(c))


def configured_names(settings: Settings) -> frozenset[str]:
    """The entries of CSBOT_REVENUE_CHANNELS that are names, to resolve to IDs through Slack."""
    return frozenset(c.strip().lstrip("#").lower() for c in settings.revenue_channels
                     if c.strip().lstrip("#") and not is_channel_id(c))


def is_revenue_channel(settings: Settings, channel_id: str | None, channel_name: str | None = None, *,
                       revenue_ids: Collection[str] | None = None, slack_name: str | None = None) -> bool:
    """Is ``channel_id`` a revenue channel? ``revenue_ids``: the revenue channels' IDs with the names
    resolved (default: the IDs in CSBOT_REVENUE_CHANNELS only). ``slack_name``: the name Slack gives
    ``channel_id`` (``conversations.info`` of that ID), which resolves a configured name for this one
    channel. ``channel_name`` is ignored: a label a user typed never decides; it stays for older callers."""
    if not channel_id:
        return False
    channel_id = channel_id.strip().lstrip("#")
    if not is_channel_id(channel_id):
        return False  # "#cs-revenue" as typed: not an ID
    ids = configured_ids(settings) if revenue_ids is None else frozenset(revenue_ids) | configured_ids(settings)
    if channel_id in ids:
        return True
    return bool(slack_name) and slack_name.strip().lstrip("#").lower() in configured_names(settings)


def may_be_public(reply: Reply, settings: Settings, channel_id: str | None, *, channel_name: str | None = None,
                  is_dm: bool = False, revenue_ids: Collection[str] | None = None) -> bool:
    """May ``reply`` be posted where everyone in the channel sees it? ``is_dm``: the channel is the
    asker's own DM with csbot (not a group DM, not a DM between two people)."""
    if not (carries_revenue(reply) or carries_raw_data(reply)) or is_dm:
        return True
    return is_revenue_channel(settings, channel_id, revenue_ids=revenue_ids)


def may_see(reply: Reply, *, guest: bool) -> bool:
    """May the asker see ``reply`` at all? A guest of the workspace never sees revenue figures
    or raw synced values, not even privately."""
    return not (guest and (carries_revenue(reply) or carries_raw_data(reply)))


def is_admin(settings: Settings, user_id: str | None) -> bool:
    return bool(user_id) and user_id in settings.admins


def may_manage(settings: Settings, user_id: str | None, owner: str | None) -> bool:
    """May ``user_id`` end or change a subscription (a digest, a channel's alerts) that ``owner``
    created? The owner may, and so may a CSBOT_ADMINS user; nobody else (an owner unknown: admins only)."""
    if is_admin(settings, user_id):
        return True
    return bool(user_id) and bool(owner) and user_id == owner
