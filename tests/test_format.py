"""The one number and date formatter (commands/format.py): signs for every currency,
no "+" on a 0..100 score, exact dates, compact chart labels and axis ticks."""

from __future__ import annotations

from datetime import date

from commands import format as fmt
from commands import metric_text
from metrics import catalog
from metrics.periods import Period


def test_a_signed_amount_carries_its_sign_in_every_currency():
    assert fmt.money(30_000, "JPY", signed=True) == "+¥30,000"
    assert fmt.money(30, "USD", signed=True) == "+$30.00"
    assert fmt.money(-5, "USD", signed=True) == "-$5.00" and fmt.money(-5, "USD") == "-$5.00"
    assert fmt.money(30, "USD") == "$30.00" and fmt.money(1_234_000, "JPY") == "¥1,234,000"
    assert fmt.value("money", 12, "EUR", signed=True) == "+€12.00"
    assert fmt.change("money", 130, 100, "USD") == "+$30.00"


def test_a_score_of_0_to_100_never_gets_a_plus_but_nps_does():
    assert fmt.value("score", 75) == "75" and fmt.compact("score", [75]) == ["75"]
    assert metric_text.headline(catalog.get("health_score"), 75, "JPY") == "75"
    assert metric_text.headline(catalog.get("nps"), 32, "JPY") == "+32"
    assert metric_text.headline(catalog.get("nps"), -4, "JPY") == "-4"


def test_percent_count_and_change():
    assert fmt.percent(0.05) == "5.0%" and fmt.percent(None) == "—"
    assert fmt.change("ratio", 0.85, 1.0) == "-15.0 pt" and fmt.change("ratio", 0.5, 0.5) == "±0.0 pt"


def test_a_ratio_moves_as_its_percentages_are_shown():
    # 90.451% and 90.449% are shown as 90.5% and 90.4%: +0.1 pt and up, never "▲ ±0.0 pt"
    assert (fmt.percent(0.90451), fmt.percent(0.90449)) == ("90.5%", "90.4%")
    assert fmt.change("ratio", 0.90451, 0.90449) == "+0.1 pt" and fmt.direction("ratio", 0.90451, 0.90449) == 1
    # 48.24% and 48.21% are both 48.2%: flat, whichever is larger
    assert fmt.change("ratio", 0.4824, 0.4821) == "±0.0 pt" and fmt.direction("ratio", 0.4824, 0.4821) == 0
    assert fmt.direction("money", 100.4, 100.0) == 1 and fmt.direction("count", None, 3) == 0
    assert fmt.value("days", 10.0) == "10 days" and fmt.value("minutes", 2.25) == "2.2 min"


def test_a_period_names_its_exact_dates_in_both_languages():
    october = Period(date(2026, 10, 1), date(2026, 11, 1), "month")
    assert fmt.period(october, "en") == "Oct 1 – Oct 31, 2026"
    assert fmt.period(october, "ja") == "2026年10月1日〜10月31日"
    assert fmt.period(Period(date(2026, 10, 5), date(2026, 10, 6)), "en") == "Oct 5, 2026"
    assert fmt.period(Period(date(2025, 11, 1), date(2026, 11, 1)), "ja") == "2025年11月1日〜2026年10月31日"


def test_compact_labels_and_ticks_for_charts():
    assert fmt.compact("money", [1_234_567], "USD") == ["$1.23M"]
    assert fmt.compact("money", [450_000], "JPY", lang="ja") == ["¥45万"]
    assert fmt.compact("money", [30_000], "USD", signed=True) == ["+$30,000"]
    assert fmt.compact("ratio", [0.125]) == ["12.5%"]
    # one chart, one scale: the largest value (or the axis' top) sets M for every label
    assert fmt.compact("money", [1_500_000, 500_000], "USD", scale=2_000_000, exact=True) == ["$1.5M", "$0.5M"]
    assert fmt.compact("ratio", [0.25, 0.5], exact=True) == ["25%", "50%"]
    assert fmt.compact("score", [0, 75], exact=True) == ["0", "75"]


def test_common_regions_read_in_japanese_and_others_as_the_data_spells_them():
    from metrics.filters import Filters

    assert fmt.region("japan", "ja") == "日本" and fmt.region("NA", "ja") == "北米"
    assert fmt.region("japan", "en") == "japan"  # English shows what a filter types
    assert fmt.region("apac", "ja") == "apac" and fmt.region("Kansai", "ja") == "Kansai"
    assert fmt.scope(Filters(region="na", segment="smb"), "ja") == "セグメント：中小企業 · 地域：北米"
