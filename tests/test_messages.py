"""The message table: every sentence exists in English and Japanese with the same placeholders."""

import pytest

from commands.messages import MessageError, _check, t, t_list, table


def test_every_message_has_english_and_japanese_with_the_same_placeholders():
    msgs = table()
    assert msgs, "the message table is empty"
    for key, entry in msgs.items():
        assert set(entry) == {"en", "ja"}, key
        assert entry["en"] and entry["ja"], key


def test_a_message_is_filled_in_the_askers_language():
    assert t("common.no_data", "ja") == "まだデータがありません。"
    assert t("common.no_data", "en") == "There is no data in this database yet."
    assert t("common.no_data", "fr") == t("common.no_data", "en")
    assert t_list("common.no_data", "ja") == ("まだデータがありません。",)


def test_a_malformed_entry_is_refused_with_its_key():
    with pytest.raises(MessageError, match="x.toml: k"):
        _check("x.toml: k", {"en": "{n} rows"})
    with pytest.raises(MessageError, match="different placeholders"):
        _check("x.toml: k", {"en": "{n} rows", "ja": "{count}行"})
    with pytest.raises(MessageError, match="both"):
        _check("x.toml: k", {"en": "a", "ja": ["b"]})
