"""Every sentence csbot says to a person, in English and Japanese: one table.

The table is the TOML files beside this module, one per area (``churn.toml``,
``health.toml`` ...). A file's top-level keys are message names; each is a table
with ``en`` and ``ja``, both strings or both lists of strings, with the same
``{placeholders}``. A message's full key is ``<file stem>.<name>``:
``t("churn.title", lang, period=...)``.

Code never branches on the language to pick a sentence: it asks ``t`` (or
``t_list``) with the reply's language. The table is checked once, on first use,
and a malformed entry stops csbot with the file and key (tests load it too).
"""

from __future__ import annotations

import string
import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Union

LANGUAGES = ("en", "ja")
HERE = Path(__file__).parent

Text = Union[str, tuple[str, ...]]


class MessageError(ValueError):
    """The message table is malformed: ``str(err)`` names the file and the key."""


def _fields(text: str) -> set[str]:
    return {name.split(".")[0].split("[")[0] for _, name, _, _ in string.Formatter().parse(text) if name}


def _check(where: str, entry: object) -> dict[str, Text]:
    if not isinstance(entry, dict) or set(entry) != set(LANGUAGES):
        raise MessageError(f"{where}: needs exactly the keys en and ja")
    out: dict[str, Text] = {}
    shapes = set()
    for lang in LANGUAGES:
        value = entry[lang]
        if isinstance(value, str):
            out[lang] = value
            shapes.add("str")
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            out[lang] = tuple(value)
            shapes.add("list")
        else:
            raise MessageError(f"{where}.{lang}: expected a string or a list of strings")
    if len(shapes) != 1:
        raise MessageError(f"{where}: en and ja must both be strings or both be lists")
    texts = {lang: (v,) if isinstance(v, str) else v for lang, v in out.items()}
    fields = {lang: set().union(*map(_fields, v)) if v else set() for lang, v in texts.items()}
    if fields["en"] != fields["ja"]:
        raise MessageError(f"{where}: en and ja use different placeholders ({sorted(fields['en'])} vs {sorted(fields['ja'])})")
    return out


@lru_cache(maxsize=1)
def table() -> dict[str, dict[str, Text]]:
    """Every message, checked: ``{"churn.title": {"en": ..., "ja": ...}}``."""
    out: dict[str, dict[str, Text]] = {}
    for path in sorted(HERE.glob("*.toml")):
        try:
            doc = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise MessageError(f"{path.name}: {exc}") from None
        for name, entry in doc.items():
            key = f"{path.stem}.{name}"
            out[key] = _check(f"{path.name}: {name}", entry)
    return out


def _lang(lang: str) -> str:
    return lang if lang in LANGUAGES else "en"


def t(key: str, lang: str, /, **values: object) -> str:
    """The message ``key`` in ``lang``, its placeholders filled from ``values``."""
    text = table()[key][_lang(lang)]
    if not isinstance(text, str):
        raise TypeError(f"message {key} is a list: use t_list")
    return text.format(**values) if values else text


def t_list(key: str, lang: str, /, **values: object) -> tuple[str, ...]:
    """A list message (examples, bullet lines) in ``lang``, each item filled from ``values``."""
    items = table()[key][_lang(lang)]
    if isinstance(items, str):
        return (items.format(**values) if values else items,)
    return tuple(item.format(**values) if values else item for item in items)


def both(key: str, /, **values: object) -> dict[str, str]:
    """The message in every language (for places that show or match both)."""
    return {lang: t(key, lang, **values) for lang in LANGUAGES}
