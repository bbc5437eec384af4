"""The router: every command's help comes from one place (and the README lists every
command), a glossary question reaches ``term``, one question holds one database
connection, and "me" is the asker wherever it is typed."""

from __future__ import annotations

import re
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
from conftest import seed_two_plans
from sqlalchemy import event

from commands.arguments import ME_WORDS, UsageError, owner_ids, parse_args
from commands.context import Context
from commands.language import clean_text, detect_language
from commands.messages import LANGUAGES
from commands.registry import command_specs, load_commands
from commands.router import dispatch, route
from metrics.settings import Settings

README = Path(__file__).resolve().parent.parent / "README.md"
NOW = datetime(2026, 11, 22, 0, 30, tzinfo=timezone.utc)


def test_every_command_has_a_usage_a_help_line_in_each_language_and_an_example():
    specs = command_specs()
    assert {s.name for s in specs} == set(load_commands())
    for spec in specs:
        assert spec.usage.split()[0] == spec.name, spec.name
        assert spec.example.split()[0] == spec.name, spec.name
        for lang in LANGUAGES:
            assert spec.help(lang).strip(), f"{spec.name}: no help in {lang}"
        assert detect_language(spec.help("ja")) == "ja", f"{spec.name}: the Japanese help is not Japanese"


def test_the_readme_command_table_lists_every_command():
    rows = [line for line in README.read_text(encoding="utf-8").splitlines() if line.startswith("| `")]
    listed = {m.group(1) for row in rows for m in re.finditer(r"`([a-z]+)\b", row.split("|")[1])}
    missing = set(load_commands()) - listed
    assert not missing, f"README.md's command table does not list: {sorted(missing)}"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_help_shows_every_command_with_its_help_and_example(ask, lang):
    reply = ask("help" if lang == "en" else "ヘルプ")
    text = "\n".join(reply.lines)
    for spec in command_specs():
        assert spec.help(lang) in text and f"`{spec.example}`" in text


@pytest.mark.parametrize("text", ["what is stickiness?", "NRRって何？"])
def test_a_glossary_question_goes_to_term_before_the_keywords(text):
    spec, args, natural = route(clean_text(text), detect_language(text))
    assert spec.name == "term" and natural and args


def test_the_first_word_names_the_command():
    spec, args, natural = route("churn last-month segment:smb", "en")
    assert (spec.name, args, natural) == ("churn", "last-month segment:smb", False)


def test_one_question_holds_one_database_connection_at_a_time(engine, settings, database):
    """The churn "Show accounts" view used to open a second connection while the first was held."""
    seed_two_plans(engine)
    held, most = [0], [0]

    def checkout(*_):
        held[0] += 1
        most[0] = max(most[0], held[0])

    def checkin(*_):
        held[0] -= 1

    event.listen(engine.pool, "checkout", checkout)
    event.listen(engine.pool, "checkin", checkin)
    try:
        ctx = Context.create(database, settings, now=NOW)
        for question in ("churn 2026-10 accounts", "churn 2026-10", "mrr 2026-10 accounts", "kpi 2026-10"):
            reply = dispatch(question, ctx)
            assert reply.kind == "answer", (question, reply.title)
    finally:
        event.remove(engine.pool, "checkout", checkout)
        event.remove(engine.pool, "checkin", checkin)
    assert most[0] == 1
    assert held[0] == 0


def test_the_context_takes_today_from_now_in_the_workspace_time_zone(database):
    ctx = Context.create(database, Settings(timezone="Asia/Tokyo"), now=datetime(2026, 11, 21, 20, 0, tzinfo=timezone.utc))
    assert ctx.today == date(2026, 11, 22)


@pytest.mark.parametrize("word", ME_WORDS)
def test_me_is_every_identifier_of_the_asker(database, settings, word):
    ctx = Context.create(database, settings, now=NOW, user_id="U0ALICE", user_email="alice@example.com")
    assert owner_ids(word, ctx, "en") == ("U0ALICE", "alice@example.com")


def test_me_without_an_asker_says_how_to_name_the_owner(database, settings):
    ctx = Context.create(database, settings, now=NOW)
    with pytest.raises(UsageError, match="owner:<e-mail>"):
        parse_args("owner:me", ctx, "en")
    with pytest.raises(UsageError, match="メールアドレス"):
        parse_args("owner:自分", ctx, "ja")


def test_a_slack_mention_owner_matches_its_id_and_its_name(database, settings):
    ctx = Context.create(database, settings, now=NOW)
    assert parse_args("owner:<@U0BOB|bob>", ctx, "en").filters.owner == ("U0BOB", "bob")
    assert parse_args("owner:@alice", ctx, "en").filters.owner == ("alice",)


def test_an_unknown_filter_key_lists_the_keys_from_the_one_filter_table(database, settings):
    ctx = Context.create(database, settings, now=NOW)
    with pytest.raises(UsageError, match="segment:, touch:, owner:, plan:, region:"):
        parse_args("segmnt:smb", ctx, "en")
