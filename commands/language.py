"""The language of a question and the text a command reads: the one detector of
Japanese (kana, kanji, half-width katakana, full-width letters from a Japanese IME)
and ``clean_text``, which strips the bot mention and the ``/cs`` prefix."""

from __future__ import annotations

import logging
import re
import unicodedata

from commands.messages import LANGUAGES

logger = logging.getLogger(__name__)

# Hiragana and katakana, CJK ideographs (with extension A), half-width katakana,
# and full-width ASCII (what a Japanese IME types for "ＮＲＲ").
_JA = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uff66-\uff9f\uff01-\uff5e]")


# Slack's own tokens (<@U123|名前>, <#C123|営業>, <mailto:...>): their names are not the question's words.
_SLACK_TOKEN = re.compile(r"<[^<>]*>")


def detect_language(text: str, default: str = "en") -> str:
    """``"ja"`` when ``text`` holds Japanese script; otherwise ``default``
    (the workspace's CSBOT_LANGUAGE) when it is a language csbot speaks, else ``"en"``.

    Give it the question as typed, before ``clean_text``: NFKC turns the full-width letters
    of a Japanese IME ("ｎｐｓ") into ASCII and the question would read as English."""
    if _JA.search(_SLACK_TOKEN.sub(" ", text or "")):
        return "ja"
    return default if default in LANGUAGES else "en"


_MENTION = re.compile(r"^\s*<@[A-Z0-9]+(?:\|[^>]*)?>[\s:,]*")


def clean_text(text: str) -> str:
    """Drop the bot mention, a leading slash and the /cs prefix; NFKC spaces."""
    text = _MENTION.sub("", text or "")
    text = unicodedata.normalize("NFKC", text).strip()
    text = re.sub(r"^/", "", text)
    text = re.sub(r"^(?:cs|csbot)\s+", "", text, flags=re.I)
    return text.strip()
