"""Period words as CSMs type them, in English and Japanese, alone or glued to Japanese
particles; several in one question; where each was typed; periods that have not started;
periods in progress (to date). Dates are hand-computed: today is Sunday 2026-12-06
(this week began on Monday 2026-11-30)."""

import random
import re
from datetime import date, timedelta
from pathlib import Path

import pytest

from commands import format as fmt
from commands.periods import (
    FoundPeriod,
    PeriodError,
    PeriodNotStarted,
    comparison_period,
    find_period,
    find_period_spans,
    find_periods,
    parse_period,
)
from metrics.filters import NO_FILTERS
from metrics.periods import Period

TODAY = date(2026, 12, 6)
D = date.fromisoformat


def P(start: str, end: str, grain: str, to_date: bool = False) -> Period:
    """A period from its first day and the day after its last (exclusive end)."""
    return Period(D(start), D(end), grain, to_date)


# phrase -> the one period it names (calendar fiscal year: CSBOT_FISCAL_YEAR_START unset)
ONE_PERIOD = {
    # English relative words
    "last month": P("2026-11-01", "2026-12-01", "month"),
    "last-month": P("2026-11-01", "2026-12-01", "month"),
    "LAST_MONTH": P("2026-11-01", "2026-12-01", "month"),
    "this month": P("2026-12-01", "2026-12-07", "month", True),
    "mtd": P("2026-12-01", "2026-12-07", "month", True),
    "last quarter": P("2026-07-01", "2026-10-01", "quarter"),
    "this quarter": P("2026-10-01", "2026-12-07", "quarter", True),
    "qtd": P("2026-10-01", "2026-12-07", "quarter", True),
    "this year": P("2026-01-01", "2026-12-07", "year", True),
    "ytd": P("2026-01-01", "2026-12-07", "year", True),
    "last year": P("2025-01-01", "2026-01-01", "year"),
    "the year before last": P("2024-01-01", "2025-01-01", "year"),
    "month before last": P("2026-10-01", "2026-11-01", "month"),
    "the month before last": P("2026-10-01", "2026-11-01", "month"),
    "two months ago": P("2026-10-01", "2026-11-01", "month"),
    "2 months ago": P("2026-10-01", "2026-11-01", "month"),
    "a month ago": P("2026-11-01", "2026-12-01", "month"),
    "three quarters ago": P("2026-01-01", "2026-04-01", "quarter"),
    "a year ago": P("2025-01-01", "2026-01-01", "year"),
    "last week": P("2026-11-23", "2026-11-30", "week"),
    "this week": P("2026-11-30", "2026-12-07", "week", True),
    "the week before last": P("2026-11-16", "2026-11-23", "week"),
    "today": P("2026-12-06", "2026-12-07", "day"),
    "yesterday": P("2026-12-05", "2026-12-06", "day"),
    "day before yesterday": P("2026-12-04", "2026-12-05", "day"),
    # rolling windows: complete days, months, quarters before today's
    "last 30 days": P("2026-11-06", "2026-12-06", "days"),
    "past 7 days": P("2026-11-29", "2026-12-06", "days"),
    "last 2 weeks": P("2026-11-22", "2026-12-06", "days"),
    "last 3 months": P("2026-09-01", "2026-12-01", "months"),
    "ttm": P("2025-12-01", "2026-12-01", "months"),
    "last 3 quarters": P("2026-01-01", "2026-10-01", "months"),
    # quarters: alone, the latest that has begun (Q4 is under way: to date)
    "Q3": P("2026-07-01", "2026-10-01", "quarter"),
    "q4": P("2026-10-01", "2026-12-07", "quarter", True),
    "Q1 2026": P("2026-01-01", "2026-04-01", "quarter"),
    "2026-Q2": P("2026-04-01", "2026-07-01", "quarter"),
    "2025Q4": P("2025-10-01", "2026-01-01", "quarter"),
    "3Q": P("2026-07-01", "2026-10-01", "quarter"),
    # halves (of the calendar year while the fiscal year is the calendar year)
    "H1": P("2026-01-01", "2026-07-01", "half"),
    "H2": P("2026-07-01", "2026-12-07", "half", True),
    "2025 H2": P("2025-07-01", "2026-01-01", "half"),
    "H1 2025": P("2025-01-01", "2025-07-01", "half"),
    # fiscal years
    "FY2025": P("2025-01-01", "2026-01-01", "year"),
    "FY2026": P("2026-01-01", "2026-12-07", "year", True),
    "fy25": P("2025-01-01", "2026-01-01", "year"),
    "this fiscal year": P("2026-01-01", "2026-12-07", "year", True),
    "last fiscal year": P("2025-01-01", "2026-01-01", "year"),
    # month names: the latest that has begun (December is under way)
    "October": P("2026-10-01", "2026-11-01", "month"),
    "Oct": P("2026-10-01", "2026-11-01", "month"),
    "oct 2025": P("2025-10-01", "2025-11-01", "month"),
    "December": P("2026-12-01", "2026-12-07", "month", True),
    "January": P("2026-01-01", "2026-02-01", "month"),
    "sept.": P("2026-09-01", "2026-10-01", "month"),
    "churn in May": P("2026-05-01", "2026-06-01", "month"),
    # numeric months, years, days and ranges
    "2026-12": P("2026-12-01", "2026-12-07", "month", True),
    "2026-10": P("2026-10-01", "2026-11-01", "month"),
    "2026/10": P("2026-10-01", "2026-11-01", "month"),
    "2026": P("2026-01-01", "2026-12-07", "year", True),
    "2025": P("2025-01-01", "2026-01-01", "year"),
    "2026-10-01..2026-10-15": P("2026-10-01", "2026-10-16", "range"),
    "2026-10-01 to 2026-10-15": P("2026-10-01", "2026-10-16", "range"),
    "2026-11-20..2026-12-31": P("2026-11-20", "2026-12-07", "range", True),  # cut at today
    "2026-12-06": P("2026-12-06", "2026-12-07", "day"),
    # Japanese
    "先月": P("2026-11-01", "2026-12-01", "month"),
    "先々月": P("2026-10-01", "2026-11-01", "month"),
    "前々月": P("2026-10-01", "2026-11-01", "month"),
    "今月": P("2026-12-01", "2026-12-07", "month", True),
    "今週": P("2026-11-30", "2026-12-07", "week", True),
    "先週": P("2026-11-23", "2026-11-30", "week"),
    "先々週": P("2026-11-16", "2026-11-23", "week"),
    "今日": P("2026-12-06", "2026-12-07", "day"),
    "昨日": P("2026-12-05", "2026-12-06", "day"),
    "一昨日": P("2026-12-04", "2026-12-05", "day"),
    "今四半期": P("2026-10-01", "2026-12-07", "quarter", True),
    "前四半期": P("2026-07-01", "2026-10-01", "quarter"),
    "今年": P("2026-01-01", "2026-12-07", "year", True),
    "昨年": P("2025-01-01", "2026-01-01", "year"),
    "去年": P("2025-01-01", "2026-01-01", "year"),
    "一昨年": P("2024-01-01", "2025-01-01", "year"),
    "年初来": P("2026-01-01", "2026-12-07", "year", True),
    "過去30日": P("2026-11-06", "2026-12-06", "days"),
    "直近3ヶ月": P("2026-09-01", "2026-12-01", "months"),
    "過去2週間": P("2026-11-22", "2026-12-06", "days"),
    "2か月前": P("2026-10-01", "2026-11-01", "month"),
    "第3四半期": P("2026-07-01", "2026-10-01", "quarter"),
    "第4四半期": P("2026-10-01", "2026-12-07", "quarter", True),
    "2026年第2四半期": P("2026-04-01", "2026-07-01", "quarter"),
    "2025年Q4": P("2025-10-01", "2026-01-01", "quarter"),
    "上期": P("2026-01-01", "2026-07-01", "half"),
    "下半期": P("2026-07-01", "2026-12-07", "half", True),
    "2025年下期": P("2025-07-01", "2026-01-01", "half"),
    "今年度": P("2026-01-01", "2026-12-07", "year", True),
    "前年度": P("2025-01-01", "2026-01-01", "year"),
    "昨年度": P("2025-01-01", "2026-01-01", "year"),
    "2025年度": P("2025-01-01", "2026-01-01", "year"),
    "10月": P("2026-10-01", "2026-11-01", "month"),
    "12月": P("2026-12-01", "2026-12-07", "month", True),
    "1月": P("2026-01-01", "2026-02-01", "month"),
    "2025年10月": P("2025-10-01", "2025-11-01", "month"),
    "2026年10月1日": P("2026-10-01", "2026-10-02", "day"),
    "10月1日": P("2026-10-01", "2026-10-02", "day"),
    "2026年": P("2026-01-01", "2026-12-07", "year", True),
    "2026-10-01〜2026-10-15": P("2026-10-01", "2026-10-16", "range"),
    # a month, quarter or half of a year named in words is one period, not two
    "昨年10月": P("2025-10-01", "2025-11-01", "month"),
    "去年の10月": P("2025-10-01", "2025-11-01", "month"),
    "昨年10月1日": P("2025-10-01", "2025-10-02", "day"),
    "一昨年12月": P("2024-12-01", "2025-01-01", "month"),
    "今年の上期": P("2026-01-01", "2026-07-01", "half"),
    "昨年の下期": P("2025-07-01", "2026-01-01", "half"),
    "昨年Q3": P("2025-07-01", "2025-10-01", "quarter"),
    "今年1月〜3月": P("2026-01-01", "2026-04-01", "months"),
    "Q3 last year": P("2025-07-01", "2025-10-01", "quarter"),
    "October last year": P("2025-10-01", "2025-11-01", "month"),
    "last year's Q4": P("2025-10-01", "2026-01-01", "quarter"),
    "this year q1": P("2026-01-01", "2026-04-01", "quarter"),
    # spans of months and of days, typed as ranges; a fiscal year named by the month it ends
    "2025年10月〜12月": P("2025-10-01", "2026-01-01", "months"),
    "2025年11月〜2026年2月": P("2025-11-01", "2026-03-01", "months"),
    "2026-01..2026-03": P("2026-01-01", "2026-04-01", "months"),
    "10月〜12月": P("2026-10-01", "2026-12-07", "range", True),  # still running: the days through today
    "10月1日〜10月15日": P("2026-10-01", "2026-10-16", "range"),
    "2026年10月1日から15日まで": P("2026-10-01", "2026-10-16", "range"),
    "12月20日〜1月5日": P("2025-12-20", "2026-01-06", "range"),  # the latest such span that has begun
    "11月30日〜12月10日": P("2026-11-30", "2026-12-07", "range", True),
    "2026年3月期": P("2025-04-01", "2026-04-01", "year"),
    "２０２６年１０月": P("2026-10-01", "2026-11-01", "month"),  # full width
    "ｑ３": P("2026-07-01", "2026-10-01", "quarter"),
}


def test_the_table_covers_at_least_eighty_phrasings():
    assert len(ONE_PERIOD) >= 80


@pytest.mark.parametrize("phrase", list(ONE_PERIOD))
def test_each_phrasing_names_its_hand_computed_dates(phrase):
    periods, _ = find_periods(phrase, TODAY)
    assert periods == [ONE_PERIOD[phrase]]


@pytest.mark.parametrize("phrase", [p for p in ONE_PERIOD if p != "churn in May"])
def test_each_phrasing_is_also_a_valid_period_option(phrase):
    assert parse_period(phrase, TODAY) == ONE_PERIOD[phrase]


# A period glued to Japanese particles and words: the period and what is left.
GLUED = [
    ("Q3のGRR", P("2026-07-01", "2026-10-01", "quarter"), "のgrr"),
    ("2026-09の解約率", P("2026-09-01", "2026-10-01", "month"), "の解約率"),
    ("last-quarterの解約率", P("2026-07-01", "2026-10-01", "quarter"), "の解約率"),
    ("先々月の解約率", P("2026-10-01", "2026-11-01", "month"), "の解約率"),
    ("第3四半期のNRR", P("2026-07-01", "2026-10-01", "quarter"), "のnrr"),
    ("上期の解約率", P("2026-01-01", "2026-07-01", "half"), "の解約率"),
    ("10月の売上", P("2026-10-01", "2026-11-01", "month"), "の売上"),
    ("先月の解約率を教えて", P("2026-11-01", "2026-12-01", "month"), "の解約率を教えて"),
    ("今年度のNRRは？", P("2026-01-01", "2026-12-07", "year", True), "のnrrは?"),
    ("H1のチャーン", P("2026-01-01", "2026-07-01", "half"), "のチャーン"),
    ("FY2025の売上", P("2025-01-01", "2026-01-01", "year"), "の売上"),
    ("10月〜12月の解約率", P("2026-10-01", "2026-12-07", "range", True), "の解約率"),
    ("解約率2026年10月", P("2026-10-01", "2026-11-01", "month"), "解約率"),
    ("churn in Q3 please", P("2026-07-01", "2026-10-01", "quarter"), "churn in please"),
    ("ＮＲＲ　先月", P("2026-11-01", "2026-12-01", "month"), "nrr"),
]


@pytest.mark.parametrize("text, period, rest", GLUED)
def test_a_period_glued_to_japanese_is_read_and_the_rest_is_left(text, period, rest):
    assert find_periods(text, TODAY) == ([period], rest)
    assert find_period(text, TODAY) == (period, rest)


MANY = [
    ("Q2 vs Q3", [P("2026-04-01", "2026-07-01", "quarter"), P("2026-07-01", "2026-10-01", "quarter")], "vs"),
    ("compare 2026-Q2 and 2026-Q3", [P("2026-04-01", "2026-07-01", "quarter"), P("2026-07-01", "2026-10-01", "quarter")],
     "compare and"),
    ("Q2と Q3のNRR", [P("2026-04-01", "2026-07-01", "quarter"), P("2026-07-01", "2026-10-01", "quarter")], "と のnrr"),
    ("先月と先々月の解約率", [P("2026-11-01", "2026-12-01", "month"), P("2026-10-01", "2026-11-01", "month")], "と の解約率"),
    ("last month vs the month before last", [P("2026-11-01", "2026-12-01", "month"), P("2026-10-01", "2026-11-01", "month")], "vs"),
    ("2025年と2026年のNRR", [P("2025-01-01", "2026-01-01", "year"), P("2026-01-01", "2026-12-07", "year", True)], "と のnrr"),
    ("Q3 2025 vs Q3 2026", [P("2025-07-01", "2025-10-01", "quarter"), P("2026-07-01", "2026-10-01", "quarter")], "vs"),
]


@pytest.mark.parametrize("text, periods, rest", MANY)
def test_every_period_of_a_question_is_found_in_order(text, periods, rest):
    assert find_periods(text, TODAY) == (periods, rest)


def test_find_period_is_the_first_of_them_and_leaves_the_others():
    assert find_period("Q2 vs Q3", TODAY) == (P("2026-04-01", "2026-07-01", "quarter"), "vs q3")


def test_spans_index_the_text_as_typed_even_full_width():
    text = "ＮＲＲ　２０２６－Ｑ２と先月、Q3のGRR"
    spans = find_period_spans(text, TODAY)
    assert [(f.start, f.end, f.text) for f in spans] == [(4, 11, "２０２６－Ｑ２"), (12, 14, "先月"), (15, 17, "Q3")]
    assert all(text[f.start:f.end] == f.text for f in spans)
    assert [f.period for f in spans] == [P("2026-04-01", "2026-07-01", "quarter"), P("2026-11-01", "2026-12-01", "month"),
                                         P("2026-07-01", "2026-10-01", "quarter")]


def test_an_account_name_that_holds_a_period_word_is_reported_as_a_span_for_the_parser():
    # "Q3 Labs": Q3 is a period word on its own; the query parser sees the span inside the account name.
    assert find_period_spans("churn for Q3 Labs last month", TODAY) == [
        FoundPeriod(P("2026-07-01", "2026-10-01", "quarter"), 10, 12, "Q3"),
        FoundPeriod(P("2026-11-01", "2026-12-01", "month"), 18, 28, "last month"),
    ]


@pytest.mark.parametrize("text", [
    "7-Eleven churn", "Studio 54", "Q3Labs churn", "churn at 2026-Q3x", "Eleven7", "top 1000 accounts",
    "may I see the churn?", "MAU", "h1b visas", "3qa",
    # comparison words are the query parser's, not periods
    "前年比のNRR", "前月比", "前年同月比の解約率", "先月比で", "YoY churn", "MoM", "QoQ NRR",
])
def test_words_that_only_contain_a_period_word_are_not_periods(text):
    assert find_period_spans(text, TODAY) == []


# ---- periods that have not started --------------------------------------------------

NOT_STARTED = ["来月", "next month", "next-month", "churn 2027-01", "nrr 2027", "2027年", "来年度", "FY2027", "Q1 2027",
               "2027年上期", "来週", "tomorrow", "2026-12-25", "2027年1月", "2027-01-01..2027-01-31", "明日の解約率"]


@pytest.mark.parametrize("text", NOT_STARTED)
@pytest.mark.parametrize("lang", ["en", "ja"])
def test_a_period_that_has_not_started_is_refused_in_the_askers_language(text, lang):
    with pytest.raises(PeriodNotStarted) as err:
        find_periods(text, TODAY, lang)
    assert isinstance(err.value, PeriodError)  # every surface already answers a PeriodError
    message = str(err.value)
    assert err.value.word in text and err.value.word in message and "2026-12-06" in message
    assert ("まだ始まっていない" in message) == (lang == "ja")
    assert err.value.period.start > TODAY


def test_the_refusal_names_the_period_today_and_what_to_try():
    with pytest.raises(PeriodNotStarted) as err:
        find_periods("nrr 2027", TODAY, "en")
    assert str(err.value) == "2027 has not started yet (today is 2026-12-06) — try this-year or last-year."
    with pytest.raises(PeriodNotStarted) as err:
        find_periods("来月の解約率", TODAY, "ja")
    assert str(err.value) == "「来月」はまだ始まっていない期間です（今日は2026-12-06）。今月または先月をお試しください。"
    with pytest.raises(PeriodNotStarted) as err:
        parse_period("来年度", TODAY, "ja")
    assert "今年度または前年度" in str(err.value)


def test_keep_errors_returns_a_refused_span_so_the_parser_can_check_it_against_account_names():
    spans = find_period_spans("Studio 2027 churn last month", TODAY, keep_errors=True)
    assert [(f.start, f.end, f.text, f.period) for f in spans] == [
        (7, 11, "2027", None), (18, 28, "last month", P("2026-11-01", "2026-12-01", "month"))]
    assert isinstance(spans[0].error, PeriodNotStarted)
    with pytest.raises(PeriodNotStarted):
        find_period_spans("Studio 2027 churn last month", TODAY)


@pytest.mark.parametrize("text", ["2026-13", "2026年13月", "2026-02-30", "2026-10-15..2026-10-01", "2026-03..2026-01", "10月〜13月"])
def test_something_shaped_like_a_period_that_is_not_one_is_an_error_not_a_guess(text):
    with pytest.raises(PeriodError) as err:
        find_periods(f"churn {text}", TODAY)
    assert not isinstance(err.value, PeriodNotStarted) and err.value.word == text


def test_a_span_of_months_cut_at_today_is_compared_with_as_many_days_just_before():
    assert parse_period("10月〜12月", TODAY).previous() == P("2026-07-26", "2026-10-01", "range", True)


def test_a_unit_on_its_last_day_is_still_to_date():
    last_day = date(2026, 3, 31)
    assert parse_period("2026-03", last_day) == P("2026-03-01", "2026-04-01", "month", True)
    assert parse_period("Q1", last_day) == P("2026-01-01", "2026-04-01", "quarter", True)
    assert parse_period("2026-03-31", last_day) == P("2026-03-31", "2026-04-01", "day")


# ---- strict period options (CLI --period, slash commands) -------------------------------

@pytest.mark.parametrize("word", ["Q2 vs Q3", "Q3 Labs", "Q3のGRR", "last month please", "7-Eleven"])
def test_a_period_option_is_exactly_one_period(word):
    with pytest.raises(PeriodError) as err:
        parse_period(word, TODAY)
    assert not isinstance(err.value, PeriodNotStarted) and err.value.word == word


# ---- comparison words -----------------------------------------------------------------

@pytest.mark.parametrize("period, word, expected", [
    (P("2026-11-01", "2026-12-01", "month"), "yoy", P("2025-11-01", "2025-12-01", "month")),
    (P("2026-11-01", "2026-12-01", "month"), "前年比", P("2025-11-01", "2025-12-01", "month")),
    (P("2026-03-01", "2026-04-01", "month"), "MoM", P("2026-02-01", "2026-03-01", "month")),
    (P("2026-03-01", "2026-04-01", "month"), "前月比", P("2026-02-01", "2026-03-01", "month")),
    (P("2026-07-01", "2026-10-01", "quarter"), "qoq", P("2026-04-01", "2026-07-01", "quarter")),
    (P("2026-07-01", "2026-10-01", "quarter"), "前年同期比", P("2025-07-01", "2025-10-01", "quarter")),
    # to date: the same days one unit earlier
    (P("2026-12-01", "2026-12-07", "month", True), "YoY", P("2025-12-01", "2025-12-07", "month", True)),
    (P("2026-12-01", "2026-12-07", "month", True), "mom", P("2026-11-01", "2026-11-07", "month", True)),
    # 67 days of Q4 (Oct 1 - Dec 6) against the first 67 days of Q3 (Jul 1 - Sep 5), as Period.previous does
    (P("2026-10-01", "2026-12-07", "quarter", True), "qoq", P("2026-07-01", "2026-09-06", "quarter", True)),
    # March to date on the 31st: the whole of February, never into March
    (P("2026-03-01", "2026-04-01", "month", True), "mom", P("2026-02-01", "2026-03-01", "month", True)),
    (P("2028-02-29", "2028-03-01", "day"), "yoy", P("2027-02-28", "2027-03-01", "day")),
    (P("2026-10-01", "2026-10-16", "range"), "month-over-month", P("2026-09-01", "2026-09-16", "range")),
])
def test_comparison_words_give_the_period_to_compare_with(period, word, expected):
    assert comparison_period(period, word) == expected


def test_a_word_that_is_not_a_comparison_is_refused():
    with pytest.raises(KeyError):
        comparison_period(P("2026-11-01", "2026-12-01", "month"), "vs")


def test_an_answer_says_when_its_period_is_still_running():
    assert fmt.period_line(parse_period("2026-12", TODAY), NO_FILTERS, "en") == "Dec 1 – Dec 6, 2026 (to date)"
    assert fmt.period_line(parse_period("今月", TODAY), NO_FILTERS, "ja") == "2026年12月1日〜12月6日（途中経過）"
    assert fmt.period_line(parse_period("Q3", TODAY), NO_FILTERS, "en") == "Jul 1 – Sep 30, 2026"


def test_every_period_word_the_readme_lists_is_read():
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    paragraph = readme[readme.index("**Periods**"):readme.index("**Filters**")]
    listed = paragraph[:paragraph.index("Words can be glued")]
    words = [w.replace("-N-", "-3-") for w in re.findall(r"`([^`]+)`", listed) if not w.startswith("CSBOT_")]
    assert len(words) > 50
    for word in words:
        assert parse_period(word, TODAY) is not None, word
    # and the examples of the text that follows
    assert [len(find_periods(w, TODAY)[0]) for w in ("Q3のGRR", "2026-09の解約率", "Q2 vs Q3", "先月と先々月の解約率")] == [1, 1, 2, 2]
    for word in ("next-month", "来月", "2027"):
        with pytest.raises(PeriodNotStarted):
            parse_period(word, TODAY)


# ---- spans: "since", "from ... to ...", two periods joined ---------------------------------

SPANS = [
    ("churn since October", "since October", P("2026-10-01", "2026-12-07", "range", True), "churn"),
    ("10月以降の解約率", "10月以降", P("2026-10-01", "2026-12-07", "range", True), "の解約率"),
    ("先月からの解約率", "先月から", P("2026-11-01", "2026-12-07", "range", True), "の解約率"),
    ("Q3以降のNRR", "Q3以降", P("2026-07-01", "2026-12-07", "range", True), "のnrr"),
    ("先月から今月の解約率", "先月から今月", P("2026-11-01", "2026-12-07", "range", True), "の解約率"),
    ("先月〜今月", "先月〜今月", P("2026-11-01", "2026-12-07", "range", True), ""),
    ("Q3から先月まで", "Q3から先月まで", P("2026-07-01", "2026-12-01", "months"), ""),
    ("nrr from Q2 to Q3", "from Q2 to Q3", P("2026-04-01", "2026-10-01", "months"), "nrr"),
    ("nrr between Q2 and Q3", "between Q2 and Q3", P("2026-04-01", "2026-10-01", "months"), "nrr"),
    ("2026-Q2..2026-Q3", "2026-Q2..2026-Q3", P("2026-04-01", "2026-10-01", "months"), ""),
    ("churn from October to December", "from October to December", P("2026-10-01", "2026-12-07", "range", True), "churn"),
    ("oct-dec churn", "oct-dec", P("2026-10-01", "2026-12-07", "range", True), "churn"),
    ("between 2026-10-01 and 2026-10-15", "between 2026-10-01 and 2026-10-15", P("2026-10-01", "2026-10-16", "range"), ""),
]


@pytest.mark.parametrize("text, typed, period, rest", SPANS)
def test_since_words_and_joined_periods_make_one_span(text, typed, period, rest):
    spans = find_period_spans(text, TODAY)
    assert [(f.text, f.period) for f in spans] == [(typed, period)]
    assert text[spans[0].start:spans[0].end] == typed
    assert find_periods(text, TODAY)[1] == rest


@pytest.mark.parametrize("text", ["compare last month to the month before last", "Q2 to Q3", "Q2 and Q3"])
def test_a_bare_to_or_and_leaves_two_periods_for_a_comparison(text):
    assert len(find_periods(text, TODAY)[0]) == 2


def test_a_span_that_ends_before_it_starts_is_an_error():
    with pytest.raises(PeriodError) as err:
        find_periods("先月から先々月の解約率", TODAY, "ja")
    assert err.value.word == "先月から先々月" and "期間「先月から先々月」" in str(err.value)


TOKENS = ["Q3", "q5", "3q", "H1", "FY2026", "fy26", "2026", "2027", "2026-13", "2026/10/01", "..", "〜", "から", "まで", "以降",
          "since", "from", "to", "between", "and", "vs", "の", "と", "先月", "今年", "前年度", "今年度", "上期", "第3四半期", "10月",
          "13月", "1日", "2月29日", "october", "may", "last", "year's", "fiscal", "month", "ago", "two", "過去", "3", "ヶ月", "年",
          "度", "期", "3月期", "比", "7-Eleven", "ttm", "来月", "ｑ３", "㍻", "é", " "]


@pytest.mark.parametrize("today", [TODAY, date(2026, 2, 28), date(2000, 1, 15)])
@pytest.mark.parametrize("fiscal_start", [1, 4])
def test_any_text_gives_periods_within_today_and_spans_of_the_typed_text_or_a_period_error(today, fiscal_start):
    rng = random.Random(f"{today}{fiscal_start}")
    for _ in range(400):
        text = "".join(rng.choice(TOKENS) + rng.choice(["", " "]) for _ in range(rng.randint(1, 6)))
        try:
            spans = find_period_spans(text, today, fiscal_start=fiscal_start, keep_errors=True)
            find_periods(text, today, fiscal_start=fiscal_start)
        except PeriodError:
            continue
        ends = [0]
        for f in spans:
            assert text[f.start:f.end] == f.text and f.start >= ends[-1], text
            ends.append(f.end)
            if f.period is not None:
                assert f.period.start <= today and f.period.end <= today + timedelta(days=1), text  # never the future


def test_a_period_ahead_is_read_whole_only_when_the_question_looks_ahead():
    with pytest.raises(PeriodNotStarted):
        find_period_spans("next month", TODAY)
    [ahead] = find_period_spans("next month", TODAY, future=True)
    assert (ahead.period.start, ahead.period.end) == (date(2027, 1, 1), date(2027, 2, 1))
    [running] = find_period_spans("this month", TODAY, future=True)  # to date, as ever (a list of what is due widens it)
    assert (running.period.start, running.period.end, running.period.to_date) == (date(2026, 12, 1), date(2026, 12, 7), True)
    [past] = find_period_spans("先月", TODAY, "ja", future=True)
    assert (past.period.start, past.period.end) == (date(2026, 11, 1), date(2026, 12, 1))
    # a month, a quarter or a half named without its year: the next one not over, when looking ahead
    for text, lang, start, end in (("January", "en", date(2027, 1, 1), date(2027, 2, 1)),
                                   ("1月", "ja", date(2027, 1, 1), date(2027, 2, 1)),
                                   ("December", "en", date(2026, 12, 1), date(2027, 1, 1)),
                                   ("Q1", "en", date(2027, 1, 1), date(2027, 4, 1)),
                                   ("上期", "ja", date(2027, 1, 1), date(2027, 7, 1))):
        [found] = find_period_spans(text, TODAY, lang, future=True)
        assert (found.period.start, found.period.end) == (start, end), text
        [looked_back] = find_period_spans(text, TODAY, lang)
        assert looked_back.period.start <= TODAY, text
