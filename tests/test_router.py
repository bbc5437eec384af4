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


# ---- one Query for every question: answered only when understood (issue 14) -----------------------

@pytest.fixture
def on_demo(shared_demo, settings):
    """ask(text) -> Reply on the demo company, today 2026-11-22, as the Slack user U0ALICE."""
    from metrics.db import Database

    db = Database(engine=shared_demo.engine, url=str(shared_demo.engine.url), embedded=False)

    def _ask(text: str, **ctx_kwargs):
        ctx_kwargs.setdefault("user_id", "U0ALICE")
        return dispatch(text, Context.create(db, settings, now=NOW, **ctx_kwargs))

    return _ask


def test_a_word_not_understood_is_named_with_what_was_understood_and_a_suggestion(on_demo):
    reply = on_demo("chrun last month")
    assert reply.kind == "info" and not reply.figures and reply.data["not_understood"]
    assert reply.title == "I didn't understand “chrun”."
    assert "I understood: period Oct 1 – Oct 31, 2026." in reply.lines
    assert "Did you mean “churn”?" in reply.lines
    ja = on_demo("エンタープライズの先月のバナナ")
    assert ja.kind == "info" and ja.language == "ja" and ja.title == "「バナナ」が分かりませんでした。"
    assert "分かったこと: 期間 2026年10月1日〜10月31日、絞り込み セグメント：エンタープライズ" in ja.lines


@pytest.mark.parametrize("text, typed, suggested", [
    ("churn last-month segment:enterpise", "segment:enterpise", "segment:enterprise"),
    ("nrr owner:alcie", "owner:alcie", "owner:alice"),
    ("先月の解約率 region:apak", "region:apak", "region:apac"),
])
def test_a_filter_value_no_account_has_is_not_answered_but_named_with_the_datas_nearest_value(on_demo, text, typed,
                                                                                               suggested):
    reply = on_demo(text)
    assert reply.kind == "info" and reply.data["unknown"] == [typed]
    assert suggested in reply.data["suggestions"]
    assert "0 of 0" not in reply.title + " ".join(reply.lines)


@pytest.mark.parametrize("text", ["来月の解約率", "churn 2026-12", "nrr 2027", "churn next month"])
def test_a_period_that_has_not_started_is_refused(on_demo, text):
    reply = on_demo(text)
    assert reply.kind == "error" and reply.data == {"usage_error": True} and not reply.figures
    assert "has not started" in reply.title or "まだ始まっていない" in reply.title


@pytest.mark.parametrize("text, start, end", [
    ("Q3のGRR", "2026-07-01", "2026-10-01"),
    ("2026-09の解約率", "2026-09-01", "2026-10-01"),
    ("last-quarterの解約率", "2026-07-01", "2026-10-01"),
    ("先々月の解約率", "2026-09-01", "2026-10-01"),
    ("第3四半期のNRR", "2026-07-01", "2026-10-01"),
    ("上期の解約率", "2026-01-01", "2026-07-01"),
    ("how many customers churned last month?", "2026-10-01", "2026-11-01"),
    ("解約率を教えて", "2026-10-01", "2026-11-01"),
])
def test_the_issues_glued_and_spelled_out_periods_are_answered_for_the_period_asked(on_demo, text, start, end):
    reply = on_demo(text)
    assert reply.kind == "answer", reply.title
    assert reply.data["period"] == {"start": start, "end": end}


def test_how_many_customers_churned_keeps_the_churn_answers_narrative_accounts_and_chart(on_demo):
    reply = on_demo("how many customers churned last month?")
    plain = on_demo("churn last-month")
    assert reply.data == plain.data and reply.data["churned_accounts"] > 0
    assert reply.lines and reply.table is not None and reply.chart is not None


def test_a_segment_named_in_japanese_filters_the_answer(on_demo):
    reply = on_demo("エンタープライズの解約率")
    assert reply.data == on_demo("churn last-month segment:enterprise").data
    assert "セグメント：エンタープライズ" in reply.title  # the scope in the reader's words


@pytest.mark.parametrize("text, by", [("mrr by segment", "segment"), ("セグメント別のMRR", "segment"),
                                      ("担当者別の解約率", "owner")])
def test_a_breakdown_is_answered_as_one(on_demo, text, by):
    reply = on_demo(text)
    assert reply.kind == "answer" and reply.data["by"] == by, reply.title


def test_compare_q2_and_q3_compares_both(on_demo):
    reply = on_demo("compare Q2 and Q3 nrr")
    assert reply.kind == "answer" and reply.data["by"] == "periods"
    assert "Q2 2026" in reply.title and "Q3 2026" in reply.title


@pytest.mark.parametrize("text, listing", [
    ("top accounts at risk", "list"), ("list accounts in red", "list"), ("renewals due next 30 days", "list"),
    ("accounts owned by alice", "list"), ("リスクの高い顧客", "list"), ("更新が近い顧客", "list"),
    ("先週ヘルススコアが下がった顧客", "list"), ("how many customers do we have", "count"), ("顧客数は？", "count"),
])
def test_lists_and_counts_are_understood_never_read_as_an_account_name(on_demo, text, listing):
    reply = on_demo(text)
    assert reply.kind in ("answer", "info"), reply.title
    assert not reply.data.get("not_understood"), reply.title
    if reply.kind == "info":  # the list answers are not in this tree yet: understood, and said so
        assert reply.data == {"not_available": True, "intent": listing}


@pytest.mark.parametrize("text, word", [("10月の売上", "売上"), ("前年比", "どの指標か"), ("chrun last month", "chrun")])
def test_the_issues_unanswerable_questions_say_what_was_not_understood(on_demo, text, word):
    reply = on_demo(text)
    assert reply.kind == "info" and reply.data["not_understood"]
    assert any(word in w for w in reply.data["unknown"]), reply.data


def test_a_metric_the_answering_command_does_not_show_is_said_not_dropped(on_demo):
    reply = on_demo("mrr and nps last month")
    # MRR is answered; NPS is not shown and the answer says so first, with the question to ask
    assert reply.kind == "answer" and reply.data["mrr"] == on_demo("mrr last month").data["mrr"]
    assert reply.data["not_shown"] == ["nps"] and "nps" not in reply.metrics
    assert reply.lines[0] == "This answer does not show NPS (Net Promoter Score): ask for it on its own (`nps last month`)."


@pytest.mark.parametrize("name", ["Company 0007", "Studio 54", "7-Eleven", "Q3 Labs", "Last Month Media"])
def test_an_account_name_wins_over_a_period_reading_of_the_same_characters(demo_copy, settings, name):
    from metrics import schema
    from metrics.db import Database

    with demo_copy.begin() as conn:
        conn.execute(schema.accounts.insert().values(account_id="Z" + str(abs(hash(name)) % 10_000), name=name,
                                                     segment="smb"))
    db = Database(engine=demo_copy, url=str(demo_copy.url), embedded=False)
    ctx = Context.create(db, settings, now=NOW)
    for text in (f"health {name}", f"/health {name}", f"how is {name} doing?"):
        reply = dispatch(text, ctx)
        assert reply.title.startswith(f"{name}:"), (text, reply.title)


@pytest.mark.parametrize("text", ["health Zzyzx Unlimited", "ズィズィックス商会の状態は？", "/health ぴよぴよ"])
def test_an_unmatched_account_name_is_not_said_to_be_no_account_at_all(on_demo, text):
    reply = on_demo(text)
    assert reply.kind in ("error", "choices") and not reply.figures, reply.title
    assert "顧客がまだありません" not in reply.title and "no accounts yet" not in reply.title.lower()


def test_a_follow_up_in_a_thread_refines_the_threads_last_question(demo_copy, settings):
    from metrics.db import Database

    db = Database(engine=demo_copy, url=str(demo_copy.url), embedded=False)
    ctx = Context.create(db, settings, now=NOW, channel_id="C1", thread_ts="1700000000.000100", surface="mention")
    assert dispatch("先月の解約率は？", ctx).kind == "answer"
    reply = dispatch("and by segment?", ctx)
    assert reply.kind == "answer" and reply.data["by"] == "segment" and reply.data["metric"] == "customer_churn_rate"
    q2 = dispatch("Q2は？", ctx)  # the breakdown, for Q2
    assert q2.kind == "answer" and q2.data["by"] == "segment" and q2.language == "ja"
    assert dispatch("enterpriseだけ", ctx).kind == "answer"
    elsewhere = dispatch("and by segment?", Context.create(db, settings, now=NOW, channel_id="C1", thread_ts="2"))
    assert elsewhere.kind == "info" and elsewhere.data["not_understood"]  # another thread: which metric?


def test_precheck_refuses_without_the_database_what_is_certainly_wrong():
    from commands.router import precheck

    settings = Settings(database_url="sqlite:///unused-in-tests.db")
    assert precheck("lastmnth", "churn", settings).startswith("I don't know the period")
    assert "has not started" in precheck("2027", "nrr", settings)
    assert precheck("last-month segment:enterprise", "churn", settings) is None
    assert precheck("by segment", "churn", settings) is None


def test_csbot_ask_exits_0_when_answered_2_when_not_understood_1_on_error(on_demo):
    from bot.console import exit_code
    from commands.reply import error_reply

    assert exit_code(on_demo("churn last-month")) == 0
    assert exit_code(on_demo("chrun last month")) == 2
    assert exit_code(on_demo("churn 2027")) == 2
    assert exit_code(on_demo("churn lastmonth")) == 2
    assert exit_code(error_reply("the database is down")) == 1


@pytest.mark.parametrize("question, lead", [
    ("upsell rate last month", "Upsell rate "),
    ("seat utilization for smb", "Seat utilisation "),
    ("revenue churn last month", "Revenue churn rate "),
    ("ltv last month", "LTV"),  # the command's own metric, asked
    ("churn last month", "Customer churn "),
])
def test_an_answer_leads_with_the_one_metric_the_question_named(on_demo, question, lead):
    reply = on_demo(question)
    assert reply.kind == "answer" and reply.title.startswith(lead), (question, reply.title)


def test_a_japanese_question_for_one_metric_of_a_family_leads_with_it(on_demo):
    reply = on_demo("先月のアップセル率は？")
    assert reply.title.startswith("アップセル率 "), reply.title


@pytest.mark.parametrize("question", ["エンタープライズのMAUの推移", "エンタープライズの解約率と中小企業の解約率を比較して",
                                      "エンタープライズの赤の顧客", "エンタープライズのヘルス"])
def test_every_japanese_answer_names_its_scope_in_japanese(on_demo, question):
    reply = on_demo(question)
    text = " ".join([reply.title, reply.period or "", *reply.lines])
    assert "segment:" not in text + (reply.chart.subtitle if reply.chart else ""), (question, text)
    if "比較" not in question:  # a comparison names each side instead
        assert "セグメント：エンタープライズ" in text, (question, text)
        assert reply.chart is None or "セグメント：エンタープライズ" in reply.chart.subtitle, (question, reply.chart.subtitle)
