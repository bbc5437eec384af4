"""One language per answer and a unit on every figure (issue 12, items 8, 9 and 11): a Japanese
question (kana, kanji or a Japanese IME's full-width letters) gets no English sentence, the data's
known values read in Japanese, minutes and days carry their unit in both languages, and
`csbot metric --json` prints a ratio at full precision."""

import json
import re
from datetime import date

import pytest
from conftest import TODAY, _now

from bot.cli import main
from bot.slack.blocks import render_blocks
from commands import format as fmt
from commands.context import Context
from commands.messages import t
from commands.periods import PeriodError, parse_period
from commands.reply import render_text
from commands.router import dispatch
from metrics import schema
from metrics.db import Database, init_schema, make_engine
from metrics.filters import Filters


@pytest.fixture(scope="module")
def demo_db(shared_demo):
    return Database(engine=shared_demo.engine, url=str(shared_demo.engine.url), embedded=False)


@pytest.fixture
def demo_ask(demo_db, settings):
    def _ask(text, **ctx_kwargs):
        return dispatch(text, Context.create(demo_db, settings, now=_now(), **ctx_kwargs))
    return _ask


ENGLISH_RUN = re.compile(r"\b[A-Za-z]{2,}(?: [A-Za-z]{2,}){2,}\b")  # three English words in a row: a sentence


def prose(reply) -> list[str]:
    """What a reply says in sentences: title, summary, figures, lines, how (tables hold names)."""
    out = [reply.title or "", reply.summary or "", *reply.lines, *reply.how]
    for fig in reply.figures:
        out += [fig.label, fig.value, fig.change or "", fig.previous or ""]
    return out


def assert_japanese_only(reply):
    assert reply.language == "ja"
    for text in prose(reply):
        assert not ENGLISH_RUN.search(text), f"English in a Japanese answer: {text!r}"
    text = render_text(reply)
    assert " vs " not in text
    blocks = json.dumps(render_blocks(reply), ensure_ascii=False)
    assert " vs " not in blocks and "prev." not in blocks


# ---- item 8: one language ---------------------------------------------------------------

def test_an_impossible_month_asked_in_japanese_is_refused_in_japanese(demo_ask):
    ja = demo_ask("2026年13月の解約率")
    assert ja.kind == "error" and ja.language == "ja"
    assert "期間「2026年13月」が分かりませんでした" in ja.title
    assert not ENGLISH_RUN.search(ja.title) and "last-month" not in ja.title
    en = demo_ask("churn 2026-13")
    assert en.language == "en" and "I don't know the period “2026-13”" in en.title


def test_every_example_period_of_the_error_parses_in_its_language():
    for lang, sep in (("en", ", "), ("ja", "、")):
        for word in t("periods.examples", lang).split(sep):
            parse_period(word, TODAY, lang)  # raises PeriodError if an example were wrong
    with pytest.raises(PeriodError, match="期間"):
        parse_period("2026年13月", TODAY, "ja")


def test_owner_me_without_a_known_asker_is_explained_in_the_questions_language(demo_ask):
    ja = demo_ask("owner:me の解約率")
    assert ja.language == "ja" and ja.title.startswith("owner:me にはあなたが誰か分かる必要があります")
    en = demo_ask("churn owner:me")
    assert en.language == "en" and en.title.startswith("owner:me needs to know who you are")


def test_full_width_letters_from_a_japanese_ime_are_a_japanese_question(demo_ask):
    reply = demo_ask("ｎｐｓ")
    assert reply.kind == "answer"
    assert_japanese_only(reply)
    assert "NPS（ネットプロモータースコア）" in reply.title
    assert demo_ask("nps").language == "en"


def test_japanese_figures_compare_with_the_previous_period_in_japanese(demo_ask):
    reply = demo_ask("先月の解約率")
    assert_japanese_only(reply)
    text = render_text(reply)
    # Oct 2026: 2.5%... the figure line says "前期", never "vs"
    assert re.search(r"（[▲▼] [+-]\d+\.\d pt、前期 \d+\.\d%）", text)
    blocks = json.dumps(render_blocks(reply), ensure_ascii=False)
    assert "前期" in blocks
    en = demo_ask("churn last-month")
    assert re.search(r"\([▲▼] [+-]\d+\.\d pt vs \d+\.\d%\)", render_text(en))


def test_segments_read_in_japanese_in_a_japanese_table_and_as_typed_in_english(demo_ask):
    ja = demo_ask("先月の解約率")
    column = ja.table.columns.index("セグメント")
    shown = {row[column] for row in ja.table.rows}
    assert shown and shown <= {"エンタープライズ", "ミッドマーケット", "中小企業"}
    en = demo_ask("churn last-month")
    column = en.table.columns.index("Segment")
    assert {row[column] for row in en.table.rows} <= {"enterprise", "mid-market", "smb"}


def test_known_values_have_japanese_names_and_unknown_ones_stay_as_typed():
    assert fmt.segment("mid-market", "ja") == "ミッドマーケット" and fmt.segment("mid-market", "en") == "mid-market"
    assert fmt.segment("SMB", "ja") == "中小企業"
    assert fmt.segment("strategic", "ja") == "strategic" and fmt.segment(None, "ja") == "—"
    assert fmt.touch("tech", "ja") == "テックタッチ" and fmt.touch("pooled", "ja") == "pooled"
    assert [fmt.milestone(m, "ja") for m in ("kickoff", "setup", "first_value", "training", "go_live")] == \
        ["キックオフ", "初期設定", "価値実感", "トレーニング", "go_live"]


def test_the_onboarding_answer_names_milestones_in_japanese(demo_ask):
    ja = demo_ask("先月のオンボーディング")
    assert_japanese_only(ja)
    text = "\n".join(ja.lines)
    assert "（キックオフ、初期設定、価値実感、トレーニング）" in text and "「価値実感」に到達した" in text
    assert not re.search(r"kickoff|first_value|training", text)
    en = demo_ask("onboarding last-month")
    assert "(kickoff, setup, first_value, training)" in "\n".join(en.lines)


# ---- item 9: units ----------------------------------------------------------------------

def test_days_and_minutes_carry_their_unit_in_both_languages():
    assert fmt.value("days", 43, lang="en") == "43 days" and fmt.value("days", 43, lang="ja") == "43日"
    assert fmt.value("days", 1, lang="en") == "1 day"
    assert fmt.value("minutes", 28.8, lang="en") == "28.8 min" and fmt.value("minutes", 28.8, lang="ja") == "28.8分"
    assert fmt.change("days", 29, 32, lang="ja") == "-3日" and fmt.change("minutes", 28.5, 28.4) == "+0.1 min"
    assert fmt.value("minutes", None, lang="ja") == "—"


@pytest.mark.parametrize("question, lang, label, unit", [
    ("usage last-month", "en", "Average usage time", " min"),
    ("先月の利用状況", "ja", "平均利用時間", "分"),
    ("onboarding last-month", "en", "Time to value (median)", " days"),
    ("先月のオンボーディング", "ja", "TTV（価値実感までの日数・中央値）", "日"),
])
def test_usage_time_and_time_to_value_show_their_unit_in_text_blocks_and_how(demo_ask, question, lang, label, unit):
    reply = demo_ask(question)
    assert reply.language == lang
    [fig] = [f for f in reply.figures if f.label == label]
    number = r"[+-]?\d[\d,]*(?:\.\d)?"
    for shown in (fig.value, fig.previous, fig.change):
        assert re.fullmatch(number + re.escape(unit), shown), shown
    # "how it was computed": the formula line, then the numbers ending "= 29 days" (the unit once)
    lines = [x.strip() for x in reply.how]
    computed = lines[lines.index(next(x for x in lines if x.startswith(label + ": "))) + 1]
    assert computed.endswith("= " + fig.value), computed
    assert not re.search(re.escape(unit) + r"\s*(days|日|minutes|分)$", computed)
    assert fig.value in render_text(reply)
    assert fig.value in json.dumps(render_blocks(reply), ensure_ascii=False)


# ---- item 11: machine output ------------------------------------------------------------

def test_metric_json_prints_a_ratio_at_full_precision(monkeypatch, tmp_path, capsys):
    """Three customers pay ¥30,000 each on Oct 1; one leaves on Oct 15: churn = 1/3 exactly."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CSBOT_DATA_DIR", str(tmp_path / "data"))
    url = f"sqlite:///{tmp_path / 'team.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    engine = make_engine(url)
    init_schema(engine)
    with engine.begin() as conn:
        conn.execute(schema.accounts.insert(), [{"account_id": a, "name": a} for a in "ABC"])
        conn.execute(schema.subscriptions.insert(), [
            {"subscription_id": a, "account_id": a, "product": "core", "start_date": date(2026, 1, 1),
             "end_date": date(2026, 10, 15) if a == "C" else None, "mrr": 30_000} for a in "ABC"])
    for name in ("customer_churn_rate", "revenue_churn_rate"):
        assert main(["metric", name, "--period", "2026-10", "--json"]) == 0
        out = capsys.readouterr().out
        data = json.loads(out)
        assert data["value"] == 1 / 3  # exactly, not 0.333333
        assert '"value": 0.3333333333333333' in out


# ---- every answer family, in both languages -------------------------------------------------
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
FAMILIES = [  # (English question, Japanese question): the demo, today 2026-11-22
    ("churn last-month", "先月の解約率"),
    ("mrr last-month", "先月のMRR"),
    ("nrr 2026-Q3", "2026年第3四半期のNRR"),
    ("grr 2026-Q3", "2026年第3四半期のGRR"),
    ("retention 2026-Q3", "2026年第3四半期の継続率"),
    ("nps 2026-Q3", "2026年第3四半期のNPS"),
    ("csat last-month", "先月のCSAT"),
    ("usage last-month", "先月の利用状況"),
    ("onboarding 2026-07", "2026年7月のオンボーディング"),
    ("ltv last-month", "先月のLTV"),
    ("kpi last-month", "先月のKPI"),
    ("health", "ヘルススコア"),
]


@pytest.mark.parametrize("english, japanese", FAMILIES, ids=[f[0].split()[0] for f in FAMILIES])
def test_every_answer_family_speaks_one_language_with_its_period_and_a_chart_that_names_it(demo_ask, english, japanese):
    en, ja = demo_ask(english), demo_ask(japanese)
    assert en.kind == ja.kind == "answer", (en.title, ja.title)
    assert_japanese_only(ja)
    assert en.language == "en"
    for text in prose(en):  # an English answer has no Japanese sentence (names in tables may be Japanese)
        assert not JAPANESE.search(text), f"Japanese in an English answer: {text!r}"
    for reply in (en, ja):
        assert reply.period, reply.title  # the exact dates are named
        if reply.chart is not None:
            assert reply.chart.title and reply.chart.subtitle, reply.title  # the chart says what and when


# ---- questions as CSMs type them: a period or a filter named in words is never dropped -------------
@pytest.mark.parametrize("natural, explicit", [
    ("エンタープライズの先月のNRR", "nrr last-month segment:enterprise"),
    ("中小企業の解約率は？", "churn last-month segment:smb"),
    ("enterprise churn last month", "churn last-month segment:enterprise"),
    ("テックタッチの顧客のNPSは？", "nps last-month touch:tech"),
])
def test_a_segment_or_touch_model_named_in_words_filters_the_answer(demo_ask, natural, explicit):
    asked, typed = demo_ask(natural), demo_ask(explicit)
    assert asked.kind == typed.kind == "answer"
    assert asked.data == typed.data
    key, value = explicit.split()[-1].split(":")
    field = {"touch": "touch_model"}.get(key, key)
    # the answer says which accounts it counted, in the asker's words ("セグメント：エンタープライズ")
    assert fmt.scope(Filters(**{field: value}), asked.language) in asked.title


def test_a_definition_question_that_names_a_period_asks_for_the_number(demo_ask):
    reply = demo_ask("9月の解約率を教えて")
    assert reply.kind == "answer" and reply.data == demo_ask("churn 2026-09").data
    # no period: still the number, for last month ("を教えて" asks for it; "とは" / "って何" ask for the word)
    assert demo_ask("解約率を教えて").data == demo_ask("churn last-month").data
