"""Text at Slack's edge: what csbot sends is escaped, what Slack sends is decoded.

Slack reads ``&``, ``<`` and ``>`` as control characters: ``<!channel>`` pings a channel,
``<https://evil|slack.com>`` is a disguised link. Everything in a ``Reply`` is plain text
(csbot's own ``*bold*`` included), so a name or a survey comment holding them must reach
Slack as ``&amp;``, ``&lt;``, ``&gt;`` (Slack's "Formatting text for app surfaces").

- ``escape(text)``: plain text to Slack text, once; csbot's own references
  (``commands.format.slack_ref``) become ``<#C123>``/``<@U123>``, nothing else can.
- ``plain(text)``: the same text for a field Slack shows as is (header, button): references
  read "#C123"/"@U123", csbot's ``*bold*`` marks dropped, then escaped.
- ``decode(text)``: text Slack sent (an event, a slash command) back to what was typed:
  user and channel tokens stay for the commands to read, links become what was typed,
  ``&lt;`` ``&gt;`` ``&amp;`` become characters.
- ``clip(text, limit)``: cut escaped text to ``limit`` characters, never inside an entity
  or a reference.
"""

from __future__ import annotations

import re

from commands.format import REF_CLOSE, REF_OPEN, SLACK_REF

_SENTINELS = re.compile(f"[{REF_OPEN}{REF_CLOSE}]")
_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_SPECIAL = re.compile(r"[&<>]")
_ENTITY = re.compile(r"&(amp|lt|gt);")
_DECODED = {"amp": "&", "lt": "<", "gt": ">"}
# A Slack token in incoming text: <@U123|name>, <#C123|name>, <!here>, <mailto:a@b|a@b>, <https://x|x>
_TOKEN = re.compile(r"<([^<>]*)>")
_BOLD = re.compile(r"\*([^*\n]+)\*")
# What a cut must not split: an entity or a reference csbot wrote
_ATOM = re.compile(r"&(?:amp|lt|gt);|<[#@][A-Z0-9]+>")


def _escape_plain(text: str) -> str:
    return _SPECIAL.sub(lambda m: _ESCAPES[m.group()], _SENTINELS.sub("", text))


def escape(text: str) -> str:
    """``text`` (plain, from a ``Reply``) ready for a mrkdwn field or a message's ``text``."""
    out: list[str] = []
    pos = 0
    for m in SLACK_REF.finditer(text):
        out.append(_escape_plain(text[pos : m.start()]))
        out.append(f"<{m['sigil']}{m['id']}>")
        pos = m.end()
    out.append(_escape_plain(text[pos:]))
    return "".join(out)


def unmark(text: str) -> str:
    """csbot's references as people read them ("#C123", "@U123"), still plain text."""
    return _SENTINELS.sub("", SLACK_REF.sub(lambda m: m["sigil"] + m["id"], text))


def plain(text: str) -> str:
    """``text`` for a ``plain_text`` field (header, button): no mrkdwn marks, references as words, escaped."""
    return _escape_plain(_BOLD.sub(r"\1", unmark(text)))


def decode(text: str | None) -> str:
    """Text from a Slack event or slash command as the user typed it.

    ``<@U123|name>``, ``<#C123|name>`` and ``<!…>`` stay (commands read them); a link
    ``<https://acme.com|acme.com>`` or ``<mailto:a@b.com|a@b.com>`` becomes what was typed
    (its label, else its address without ``mailto:``); then ``&lt;`` ``&gt;`` ``&amp;`` become
    ``<`` ``>`` ``&``. The private-use characters of csbot's reference markers are dropped."""
    if not text:
        return ""
    text = _SENTINELS.sub("", text)
    out: list[str] = []
    pos = 0
    for m in _TOKEN.finditer(text):
        out.append(_decode_entities(text[pos : m.start()]))
        inner = m.group(1)
        if inner[:1] in ("@", "#", "!"):
            out.append(f"<{_decode_entities(inner)}>")
        else:
            address, _, label = inner.partition("|")
            shown = label or (address[len("mailto:"):] if address.startswith("mailto:") else address)
            out.append(_decode_entities(shown))
        pos = m.end()
    out.append(_decode_entities(text[pos:]))
    return "".join(out)


def _decode_entities(text: str) -> str:
    return _ENTITY.sub(lambda m: _DECODED[m.group(1)], text)


def clip(text: str, limit: int) -> str:
    """Escaped ``text`` in at most ``limit`` characters, ending "…" when cut; never inside an
    entity (``&amp;``) or a reference (``<#C123>``)."""
    if len(text) <= limit:
        return text
    cut = limit - 1
    for m in _ATOM.finditer(text, max(0, cut - 16), cut + 16):
        if m.start() < cut < m.end():
            cut = m.start()
            break
    return text[:cut] + "…"
