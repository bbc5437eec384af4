"""Fiscal years and halves (CSBOT_FISCAL_YEAR_START). A fiscal year is named by the year it
starts in: with April, FY2026 = 2026年度 = 2026-04-01..2027-03-31. Dates hand-computed."""

from datetime import date
from types import SimpleNamespace

import pytest

from commands.arguments import parse_args
from commands.periods import PeriodNotStarted, find_periods, parse_period
from metrics.periods import Period
from metrics.settings import ConfigError, Settings, load_settings

DECEMBER = date(2026, 12, 6)  # in the first fiscal half's successor (H2 of FY2026 with April)
APRIL = date(2026, 4, 15)  # two weeks into FY2026 with April
D = date.fromisoformat


def P(start: str, end: str, grain: str, to_date: bool = False) -> Period:
    return Period(D(start), D(end), grain, to_date)


# (today, fiscal start, phrase) -> period
FISCAL = [
    (DECEMBER, 4, "FY2026", P("2026-04-01", "2026-12-07", "year", True)),
    (DECEMBER, 4, "2026年度", P("2026-04-01", "2026-12-07", "year", True)),
    (DECEMBER, 4, "今年度", P("2026-04-01", "2026-12-07", "year", True)),
    (DECEMBER, 4, "今期", P("2026-04-01", "2026-12-07", "year", True)),
    (DECEMBER, 4, "this fiscal year", P("2026-04-01", "2026-12-07", "year", True)),
    (DECEMBER, 4, "前年度", P("2025-04-01", "2026-04-01", "year")),
    (DECEMBER, 4, "last fiscal year", P("2025-04-01", "2026-04-01", "year")),
    (DECEMBER, 4, "FY2025", P("2025-04-01", "2026-04-01", "year")),
    (DECEMBER, 4, "fy25", P("2025-04-01", "2026-04-01", "year")),
    (DECEMBER, 4, "上期", P("2026-04-01", "2026-10-01", "half")),
    (DECEMBER, 4, "H1", P("2026-04-01", "2026-10-01", "half")),
    (DECEMBER, 4, "下期", P("2026-10-01", "2026-12-07", "half", True)),
    (DECEMBER, 4, "2025年度下期", P("2025-10-01", "2026-04-01", "half")),
    (DECEMBER, 4, "H1 FY2025", P("2025-04-01", "2025-10-01", "half")),
    (DECEMBER, 4, "FY2026 H1", P("2026-04-01", "2026-10-01", "half")),
    (DECEMBER, 4, "FY2026 Q1", P("2026-04-01", "2026-07-01", "quarter")),
    (DECEMBER, 4, "2026年度第3四半期", P("2026-10-01", "2026-12-07", "quarter", True)),
    (DECEMBER, 4, "前年度の上期", P("2025-04-01", "2025-10-01", "half")),
    (DECEMBER, 4, "前年度第3四半期", P("2025-10-01", "2026-01-01", "quarter")),
    (DECEMBER, 4, "前年度の2月", P("2026-02-01", "2026-03-01", "month")),  # February of FY2025 is in 2026
    (DECEMBER, 4, "h1 of last fiscal year", P("2025-04-01", "2025-10-01", "half")),
    # a quarter or a year not named as fiscal stays on the calendar
    (DECEMBER, 4, "Q1", P("2026-01-01", "2026-04-01", "quarter")),
    (DECEMBER, 4, "2026年", P("2026-01-01", "2026-12-07", "year", True)),
    (DECEMBER, 4, "last year", P("2025-01-01", "2026-01-01", "year")),
    (APRIL, 4, "今年度", P("2026-04-01", "2026-04-16", "year", True)),
    (APRIL, 4, "前年度", P("2025-04-01", "2026-04-01", "year")),
    (APRIL, 4, "上期", P("2026-04-01", "2026-04-16", "half", True)),
    (APRIL, 4, "下期", P("2025-10-01", "2026-04-01", "half")),  # the latest second half that has begun
    (APRIL, 4, "H2", P("2025-10-01", "2026-04-01", "half")),
    (APRIL, 4, "2026年度第1四半期", P("2026-04-01", "2026-04-16", "quarter", True)),
    (APRIL, 4, "今年", P("2026-01-01", "2026-04-16", "year", True)),
    (APRIL, 4, "Q2", P("2026-04-01", "2026-04-16", "quarter", True)),
    (APRIL, 4, "Q3", P("2025-07-01", "2025-10-01", "quarter")),
    (APRIL, 4, "October", P("2025-10-01", "2025-11-01", "month")),
    # fiscal start 1: the fiscal year is the calendar year
    (APRIL, 1, "今年度", P("2026-01-01", "2026-04-16", "year", True)),
    (APRIL, 1, "FY2025", P("2025-01-01", "2026-01-01", "year")),
    (APRIL, 1, "上期", P("2026-01-01", "2026-04-16", "half", True)),
    (APRIL, 1, "下期", P("2025-07-01", "2026-01-01", "half")),
    # a fiscal year starting in October
    (DECEMBER, 10, "今年度", P("2026-10-01", "2026-12-07", "year", True)),
    (DECEMBER, 10, "FY2025", P("2025-10-01", "2026-10-01", "year")),
    (DECEMBER, 10, "H2", P("2026-04-01", "2026-10-01", "half")),
]


@pytest.mark.parametrize("today, start, phrase, expected", FISCAL)
def test_fiscal_years_and_halves_follow_the_fiscal_year_start(today, start, phrase, expected):
    assert find_periods(f"{phrase}のNRR", today, fiscal_start=start)[0] == [expected]
    assert parse_period(phrase, today, fiscal_start=start) == expected


@pytest.mark.parametrize("today, phrase, instead", [
    (APRIL, "FY2027", "今年度または前年度"), (APRIL, "来年度", "今年度または前年度"), (DECEMBER, "来期", "今年度または前年度"),
    (date(2026, 3, 31), "FY2026", "今年度または前年度"), (date(2026, 3, 31), "2026年度", "今年度または前年度"),
    (APRIL, "2026年度下期", "上期または下期"), (APRIL, "FY2026 H2", "上期または下期"),
])
def test_a_fiscal_period_that_has_not_started_is_refused_with_fiscal_suggestions(today, phrase, instead):
    with pytest.raises(PeriodNotStarted) as err:
        parse_period(phrase, today, "ja", fiscal_start=4)
    assert err.value.period.start > today
    assert f"「{phrase}」はまだ始まっていない期間です（今日は{today.isoformat()}）。{instead}をお試しください。" == str(err.value)


def test_the_last_day_of_a_fiscal_year_is_this_fiscal_year_to_date():
    assert parse_period("今年度", date(2026, 3, 31), fiscal_start=4) == P("2025-04-01", "2026-04-01", "year", True)


def test_the_previous_half_is_the_six_months_before():
    h1 = parse_period("FY2026 H1", DECEMBER, fiscal_start=4)
    assert h1.previous() == P("2025-10-01", "2026-04-01", "half")
    # a half to date is compared with the same days of the half before
    h2 = parse_period("下期", DECEMBER, fiscal_start=4)
    assert h2.previous() == P("2026-04-01", "2026-06-07", "half", True)
    fy = parse_period("前年度", DECEMBER, fiscal_start=4)
    assert fy.previous() == P("2024-04-01", "2025-04-01", "year")


def test_fiscal_start_out_of_range_is_a_programming_error():
    with pytest.raises(ValueError):
        find_periods("今年度", DECEMBER, fiscal_start=13)


# ---- the setting ---------------------------------------------------------------------

def test_the_fiscal_year_starts_in_january_unless_set():
    assert load_settings({}).fiscal_year_start == 1
    assert load_settings({"CSBOT_FISCAL_YEAR_START": "4"}).fiscal_year_start == 4
    assert load_settings({"CSBOT_FISCAL_YEAR_START": " 12 "}).fiscal_year_start == 12


@pytest.mark.parametrize("raw", ["0", "13", "April", "4.5", "-1"])
def test_a_fiscal_year_start_that_is_not_a_month_number_is_a_one_line_error_naming_the_key(raw):
    with pytest.raises(ConfigError) as err:
        load_settings({"CSBOT_FISCAL_YEAR_START": raw})
    assert err.value.key == "CSBOT_FISCAL_YEAR_START"
    assert str(err.value) == f"CSBOT_FISCAL_YEAR_START: expected a month number from 1 (January) to 12 (December), got {raw!r}"


def test_a_question_reads_fiscal_words_with_the_workspace_setting():
    ctx = SimpleNamespace(today=DECEMBER, settings=Settings(fiscal_year_start=4))
    args = parse_args("今年度のNRR", ctx, "ja", strict=False)
    assert args.period == P("2026-04-01", "2026-12-07", "year", True)
