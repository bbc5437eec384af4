"""Every period word of docs/metrics.md parses to the right dates (today = Sunday 2026-11-22)."""

from datetime import date

import pytest

from commands import format as fmt
from commands.periods import PeriodError, find_period, parse_period
from metrics.periods import Period

TODAY = date(2026, 11, 22)

# word -> (start, end exclusive)
EXPECTED = {
    "today": ("2026-11-22", "2026-11-23"),
    "yesterday": ("2026-11-21", "2026-11-22"),
    "this-week": ("2026-11-16", "2026-11-23"),  # weeks start on Monday
    "last-week": ("2026-11-09", "2026-11-16"),
    "this-month": ("2026-11-01", "2026-11-23"),  # month to date, through today
    "last-month": ("2026-10-01", "2026-11-01"),
    "this-quarter": ("2026-10-01", "2026-11-23"),
    "last-quarter": ("2026-07-01", "2026-10-01"),
    "this-year": ("2026-01-01", "2026-11-23"),
    "last-year": ("2025-01-01", "2026-01-01"),
    "ytd": ("2026-01-01", "2026-11-23"),
    "last-7-days": ("2026-11-15", "2026-11-22"),  # the 7 complete days before today
    "last-30-days": ("2026-10-23", "2026-11-22"),
    "last-90-days": ("2026-08-24", "2026-11-22"),
    "last-14-days": ("2026-11-08", "2026-11-22"),
    "last-12-months": ("2025-11-01", "2026-11-01"),  # 12 complete months
    "2026-10": ("2026-10-01", "2026-11-01"),
    "2026-Q3": ("2026-07-01", "2026-10-01"),
    "2026": ("2026-01-01", "2026-11-23"),  # the year in progress runs to today, like this-year
    "2026-10-01..2026-10-15": ("2026-10-01", "2026-10-16"),  # both days inclusive as typed
    "先月": ("2026-10-01", "2026-11-01"),
    "今月": ("2026-11-01", "2026-11-23"),
    "先週": ("2026-11-09", "2026-11-16"),
    "今週": ("2026-11-16", "2026-11-23"),
    "今四半期": ("2026-10-01", "2026-11-23"),
    "前四半期": ("2026-07-01", "2026-10-01"),
    "今年": ("2026-01-01", "2026-11-23"),
    "昨年": ("2025-01-01", "2026-01-01"),
    "過去30日": ("2026-10-23", "2026-11-22"),
}


@pytest.mark.parametrize("word", sorted(EXPECTED))
def test_every_period_word_of_the_metrics_conventions_parses_to_its_dates(word):
    period = parse_period(word, TODAY)
    assert (period.start.isoformat(), period.end.isoformat()) == EXPECTED[word]


@pytest.mark.parametrize("word", ["LAST-MONTH", "last month", "ｌａｓｔ－ｍｏｎｔｈ", "Last_Month"])
def test_period_words_forgive_case_spaces_and_full_width_letters(word):
    assert parse_period(word, TODAY) == parse_period("last-month", TODAY)


def test_no_period_means_last_month():
    assert parse_period("", TODAY) == Period(date(2026, 10, 1), date(2026, 11, 1), "month")


@pytest.mark.parametrize("word", ["lst-month", "2026-13", "2026-02-30"])
def test_an_unknown_period_gets_a_short_message_with_examples(word):
    with pytest.raises(PeriodError) as err:
        parse_period(word, TODAY)
    message = str(err.value)
    assert word in message and "last-month" in message and "2026-Q3" in message and "先月" in message
    assert len(message.splitlines()) == 1


def test_previous_period_is_the_same_kind_of_period_just_before():
    assert parse_period("last-month", TODAY).previous() == parse_period("2026-09", TODAY)
    assert parse_period("2026-Q1", TODAY).previous() == parse_period("2025-Q4", TODAY)
    # month to date is compared with the same days of the month before
    mtd = parse_period("this-month", TODAY).previous()
    assert (mtd.start, mtd.end) == (date(2026, 10, 1), date(2026, 10, 23))
    days = parse_period("last-30-days", TODAY).previous()
    assert (days.start, days.end) == (date(2026, 9, 23), date(2026, 10, 23))
    # March 2026's previous is February (28 days), not a 31-day range
    march = parse_period("2026-03", TODAY).previous()
    assert (march.start, march.end) == (date(2026, 2, 1), date(2026, 3, 1))


def test_every_answer_can_name_its_exact_dates_in_both_languages():
    period = parse_period("last-month", TODAY)
    assert fmt.period(period, "en") == "Oct 1 – Oct 31, 2026"
    assert fmt.period(period, "ja") == "2026年10月1日〜10月31日"
    assert fmt.period(parse_period("last-12-months", TODAY), "en") == "Nov 1, 2025 – Oct 31, 2026"


@pytest.mark.parametrize(
    "question, start",
    [
        ("先月の解約率は？", "2026-10-01"),
        ("churn last month please", "2026-10-01"),
        ("what was NRR in Q3?", "2026-07-01"),
        ("2026年10月の解約率", "2026-10-01"),
    ],
)
def test_a_period_is_found_inside_a_free_form_question(question, start):
    period, _rest = find_period(question, TODAY)
    assert period is not None and period.start.isoformat() == start
