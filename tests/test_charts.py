"""Charts: every kind becomes a small, valid PNG, in English and Japanese, with alt text.

These tests draw real images (no database): each promise a Slack user sees.
"""

from __future__ import annotations

import io
import logging
import struct
import subprocess
import sys
import threading
import warnings

import pytest
from matplotlib import rcParams
from matplotlib.image import imread

from bot.charts import KINDS, alt_text, draw, has_data, save_chart
from bot.charts.data import waterfall_bars
from bot.charts.heatmap import height as heatmap_height
from bot.charts.layout import UnitFormatter
from bot.charts.render import figure_of
from bot.charts.style import BLUE, GREEN, ORANGE, SKY, VERMILLION, YELLOW, colours
from commands import format as fmt
from commands.reply import Chart, Figure, Series

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
LIMIT = 150 * 1024

MONTHS_EN = ("Dec 2025", "Jan 2026", "Feb 2026", "Mar 2026", "Apr 2026", "May 2026", "Jun 2026", "Jul 2026",
             "Aug 2026", "Sep 2026", "Oct 2026", "Nov 2026")
MONTHS_JA = tuple(f"{y}年{m}月" for y, m in [(2025, 12)] + [(2026, i) for i in range(1, 12)])
MOVES_JA = ("新規", "再開", "拡大", "縮小", "解約")
MOVES_EN = ("New", "Reactivation", "Expansion", "Contraction", "Churn")
MOVES = ("new", "reactivation", "expansion", "contraction", "churn")
PERIOD_JA = "2026年10月1日〜10月31日"


def cohorts(rows: int = 24, cols: int = 12) -> tuple:
    """24 monthly cohorts: the newest has one month, the oldest all twelve."""
    out = []
    for i in range(rows):
        seen = rows - i
        out.append((f"C{i:02d}", tuple(None if m >= seen else round(1.0 - 0.04 * m, 2) for m in range(cols))))
    return tuple(out)


def sample(kind: str, lang: str = "en") -> Chart:
    """Realistic chart data for each kind: 12 periods, 24 cohorts x 12 months."""
    ja = lang == "ja"
    months = MONTHS_JA if ja else MONTHS_EN
    if kind == "line":
        return Chart("line", "解約率の推移" if ja else "Customer churn", "2025年12月〜2026年11月" if ja else
                     "Dec 2025 – Nov 2026", months,
                     (("顧客解約率" if ja else "Customers", (0.05, 0.048, None, 0.061, 0.044, 0.039, 0.041, 0.05,
                                                          0.047, 0.043, 0.038, 0.035)),
                      ("収益解約率" if ja else "Revenue", (0.04, 0.041, 0.05, None, 0.036, 0.031, 0.033, 0.04,
                                                        0.039, 0.035, 0.03, 0.028))), "ratio")
    if kind == "bars":
        return Chart("bars", "新規顧客数" if ja else "New customers", "2025年12月〜2026年11月" if ja else
                     "Dec 2025 – Nov 2026", months, (("n", (14, 18, 11, 20, 23, 17, 19, 25, 21, 16, 22, 24)),), "count")
    if kind == "waterfall":
        # net = 480,000 + 35,000 + 210,000 - 72,000 - 265,000 = 388,000 (the command's figure)
        return Chart("waterfall", "MRRの増減" if ja else "MRR movements", PERIOD_JA if ja else "Oct 1 – Oct 31, 2026",
                     (*(MOVES_JA if ja else MOVES_EN), "純増減" if ja else "Net"),
                     (Series("MRR", (480_000, 35_000, 210_000, -72_000, -265_000, 388_000)),), "money",
                     roles=(*MOVES, "net"))
    if kind == "stacked":
        names = MOVES_JA if ja else MOVES_EN
        values = ((420_000,) * 12, (30_000,) * 12, (180_000,) * 12, (-60_000,) * 12, (-210_000,) * 12)
        return Chart("stacked", "月別のMRR増減" if ja else "MRR movements per month", "2025年12月〜2026年11月" if ja
                     else "Dec 2025 – Nov 2026", months,
                     tuple(Series(n, v, role) for n, v, role in zip(names, values, MOVES)), "money")
    if kind == "heatmap":
        return Chart("heatmap", "コホート継続率" if ja else "Cohort retention", "2024年12月〜2026年11月" if ja else
                     "Dec 2024 – Nov 2026", tuple(f"{m}ヶ月" if ja else f"M{m}" for m in range(12)), cohorts(), "ratio")
    if kind == "donut":
        return Chart("donut", "NPSの内訳" if ja else "NPS breakdown", PERIOD_JA if ja else "Oct 1 – Oct 31, 2026",
                     ("推奨者", "中立者", "批判者") if ja else ("Promoters", "Passives", "Detractors"),
                     (Series("回答", (130, 70, 50)),), "count", roles=("promoter", "passive", "detractor"),
                     center=Figure("NPS", "+32"))
    if kind == "share":
        return Chart("share", "担当者別のヘルス" if ja else "Health bands per CSM", PERIOD_JA if ja else
                     "Oct 1 – Oct 31, 2026", ("赤", "黄", "緑") if ja else ("Red", "Yellow", "Green"),
                     (Series("佐藤", (3, 12, 60)), Series("鈴木", (4, 10, 55))), "count",
                     roles=("band_red", "band_yellow", "band_green"))
    raise AssertionError(kind)


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from the PNG header (IHDR is the first chunk)."""
    assert data[:8] == PNG_SIGNATURE
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


@pytest.mark.parametrize("lang", ["en", "ja"])
@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_renders_a_small_valid_png(kind, lang):
    data = draw(sample(kind, lang), lang)
    width, height = png_size(data)
    assert (width, height) == (880, round(heatmap_height(24) * 110) if kind == "heatmap" else 495)
    assert len(data) < LIMIT, f"{kind}/{lang} is {len(data) / 1024:.0f} KB"
    pixels = imread(io.BytesIO(data), format="png")  # decodes: a real image, not just a header
    assert pixels.shape[:2] == (height, width)
    assert pixels.std() > 0.05  # something is drawn, not a blank canvas


def test_same_chart_gives_the_same_png():
    chart = sample("waterfall")
    assert draw(chart) == draw(chart)


@pytest.mark.parametrize("kind", KINDS)
def test_japanese_labels_draw_without_missing_glyphs(kind, caplog):
    with warnings.catch_warnings(record=True) as caught, caplog.at_level(logging.WARNING, logger="matplotlib"):
        warnings.simplefilter("always")
        draw(sample(kind, "ja"), "ja")
    messages = [str(w.message) for w in caught] + [r.getMessage() for r in caplog.records]
    assert not [m for m in messages if "missing from font" in m or "Glyph" in m or "findfont" in m], messages


def test_japanese_text_in_an_english_chart_falls_back_to_the_japanese_font():
    chart = Chart("bars", "Top accounts", "Oct 1 – Oct 31, 2026", ("株式会社アクメ", "Globex"),
                  (("MRR", (2_400_000, 1_850_000)),), "money")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        png_size(draw(chart, "en"))


def test_drawing_leaves_matplotlib_global_settings_alone():
    before = (list(rcParams["font.family"]), rcParams["backend"])
    draw(sample("line", "ja"), "ja")
    assert (list(rcParams["font.family"]), rcParams["backend"]) == before


def test_charts_can_be_drawn_from_several_threads_at_once():
    """Bolt's lazy listeners draw in threads: concurrent draws must not mix their fonts or figures."""
    jobs = [("waterfall", "ja"), ("line", "en"), ("waterfall", "ja"), ("line", "en")]
    results: dict[int, bytes] = {}
    errors: list[Exception] = []
    barrier = threading.Barrier(len(jobs))

    def work(i: int) -> None:
        kind, lang = jobs[i]
        try:
            barrier.wait(timeout=10)
            results[i] = draw(sample(kind, lang), lang)
        except Exception as exc:  # pragma: no cover - shown by the assert
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert results[0] == results[2] and results[1] == results[3]
    assert results[0] != results[1]


def test_empty_chart_says_no_data_instead_of_failing():
    chart = Chart("line", "Customer churn", "Oct 1 – Oct 31, 2026", MONTHS_EN, (("churn", (None,) * 12),), "ratio")
    assert not has_data(chart)
    data = draw(chart)
    assert png_size(data) == (880, 495)
    assert alt_text(chart) == "Customer churn, Oct 1 – Oct 31, 2026: No data for this period"
    no_series = Chart("heatmap", "コホート継続率", PERIOD_JA, (), (), "ratio")
    assert png_size(draw(no_series, "ja")) == (880, 495)
    assert "データはありません" in alt_text(no_series, "ja")
    no_answers = Chart("donut", "NPS", "Oct 2026", ("Promoters", "Passives", "Detractors"), (("n", (0, 0, 0)),))
    assert not has_data(no_answers)
    assert png_size(draw(no_answers)) == (880, 495)


def test_unknown_kind_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown chart kind 'pie'"):
        draw(Chart("pie", "x", None, ("a",), (("s", (1,)),)))


def test_series_longer_than_labels_is_a_clear_error():
    with pytest.raises(ValueError, match="has 3 values for 2 labels"):
        draw(Chart("bars", "x", None, ("a", "b"), (("s", (1, 2, 3)),)))


def test_negative_parts_of_a_whole_are_refused():
    with pytest.raises(ValueError, match="cannot be negative"):
        draw(Chart("donut", "x", None, ("a", "b"), (("s", (3, -1)),)))


def test_save_chart_writes_the_png_and_returns_its_path(tmp_path):
    path = save_chart(sample("donut"), tmp_path / "nested" / "nps")
    assert path == tmp_path / "nested" / "nps.png"
    assert png_size(path.read_bytes()) == (880, 495)


def test_alt_text_uses_the_commands_own_words_when_given():
    chart = Chart("waterfall", "MRR movements", "Oct 2026", ("New",), (("MRR", (1.0,)),), "money",
                  alt="MRR movements Oct 2026: net ¥1")
    assert alt_text(chart) == "MRR movements Oct 2026: net ¥1"


def test_alt_text_describes_the_data_with_title_and_period():
    line = alt_text(sample("line"))
    assert line.startswith("Customer churn, Dec 2025 – Nov 2026: Line chart, Dec 2025 to Nov 2026.")
    assert "Customers from 5% in Dec 2025 to 3.5% in Nov 2026" in line
    waterfall = alt_text(sample("waterfall", "ja"), "ja")
    assert waterfall.startswith("MRRの増減（2026年10月1日〜10月31日）")
    # net = 480,000 + 35,000 + 210,000 - 72,000 - 265,000 = 388,000 = 38.8万
    assert "純増減 +¥38.8万" in waterfall
    donut = alt_text(sample("donut"))
    # 130 / 250 = 52%, 70 / 250 = 28%, 50 / 250 = 20%; NPS = 52 - 20 = +32
    assert "Promoters 52%, Passives 28%, Detractors 20%" in donut and "NPS +32" in donut
    heatmap = alt_text(sample("heatmap"))
    assert "24 rows by 12 columns" in heatmap and "and 21 more rows" in heatmap


def test_png_carries_the_title_and_alt_text():
    from PIL import Image

    image = Image.open(io.BytesIO(draw(sample("donut", "ja"), "ja")))
    assert image.text["Title"] == "NPSの内訳"
    assert image.text["Description"].startswith("NPSの内訳（2026年10月1日〜10月31日）")


@pytest.mark.parametrize(("unit", "value", "lang", "signed", "expected"), [
    ("ratio", 0.052, "en", False, "5.2%"),
    ("ratio", 0.05, "en", False, "5%"),
    ("money", 980_000, "en", False, "¥980,000"),
    ("money", 2_400_000, "en", False, "¥2.4M"),
    ("money", 1_850_000, "en", False, "¥1.85M"),
    ("money", 453_200, "ja", False, "¥45.3万"),
    ("money", 41_200_000, "ja", False, "¥4,120万"),
    ("money", 2_500_000_000, "ja", False, "¥25億"),
    ("money", -72_000, "en", False, "-¥72,000"),
    ("count", 1234, "en", False, "1,234"),
    ("score", 32, "en", True, "+32"),  # NPS: a signed score
    ("score", -4, "en", True, "-4"),
    ("score", 75, "en", False, "75"),  # a health score has no sign (it was drawn "+75")
    ("score", 0, "en", False, "0"),
])
def test_values_on_charts_are_written_by_unit(unit, value, lang, signed, expected):
    assert fmt.compact(unit, [value], lang=lang, signed=signed) == [expected]
    assert fmt.score(75) == "75" and fmt.score(32, signed=True) == "+32"  # the same formatter as the text


def test_money_labels_of_one_chart_share_a_scale():
    # 980,000 next to a 2.4M bar is written in millions too: 0.98M
    assert fmt.compact("money", [980_000], scale=2_400_000) == ["¥0.98M"]
    assert fmt.compact("money", [35_000], lang="ja", scale=480_000, signed=True) == ["+¥3.5万"]


@pytest.mark.parametrize(("unit", "lang", "signed", "locs", "expected"), [
    ("ratio", "en", False, [0.0, 0.025, 0.05], ["0%", "2.5%", "5.0%"]),
    ("money", "en", False, [0, 500_000, 1_000_000, 1_500_000], ["¥0", "¥0.5M", "¥1.0M", "¥1.5M"]),
    ("money", "en", False, [0, 200_000, 400_000], ["¥0", "¥200,000", "¥400,000"]),
    ("money", "ja", False, [0, 200_000, 400_000], ["¥0", "¥20万", "¥40万"]),
    ("count", "en", False, [0, 1000, 2000], ["0", "1,000", "2,000"]),
    ("score", "en", True, [-20, 0, 20, 40], ["-20", "0", "+20", "+40"]),
    ("score", "en", False, [0, 25, 50, 75, 100], ["0", "25", "50", "75", "100"]),  # health: no "+25 … +100"
])
def test_axis_ticks_are_formatted_by_unit(unit, lang, signed, locs, expected):
    formatter = UnitFormatter(unit, lang, "JPY", signed=signed)
    assert formatter.format_ticks(locs) == expected


def test_a_chart_of_zeros_has_only_the_zero_tick():
    """No "¥0.04" ticks when there is nothing but zero to show."""
    chart = Chart("waterfall", "MRR movements", "Oct 2026", (*MOVES_EN, "Net"),
                  (Series("MRR", (0, 0, 0, 0, 0, 0)),), "money", roles=(*MOVES, "net"))
    fig = figure_of(chart)
    fig.canvas.draw()
    ticks = [t.get_text() for t in fig.axes[0].get_yticklabels() if t.get_text()]
    assert ticks == ["¥0"]


def test_roles_give_the_colours_in_both_languages():
    assert colours(list(MOVES)) == [BLUE, SKY, GREEN, ORANGE, VERMILLION]
    assert colours(["band_red", "band_yellow", "band_green"]) == [VERMILLION, YELLOW, GREEN]
    # two series with the same role must not share a colour
    two = colours(["churn", "churn"])
    assert two[0] != two[1]


def test_labels_are_never_read_for_meaning():
    """Words like "Promoters" or "解約" in a label give no colour and no NPS: only roles and
    the command's own headline do."""
    assert colours([None, None, None]) == [BLUE, ORANGE, GREEN]
    chart = Chart("donut", "NPS", "Oct 2026", ("Promoters", "Passives", "Detractors"), (Series("n", (130, 70, 50)),))
    assert "NPS" not in alt_text(chart).split(": ", 1)[1]
    with_center = Chart("donut", "x", None, ("a", "b"), (Series("n", (1, 1)),), center=Figure("NPS", "+7"))
    assert alt_text(with_center).endswith("a 50%, b 50%; NPS +7.")


def test_importing_charts_does_not_load_matplotlib():
    """``csbot ask`` imports the bot; matplotlib (about half a second) loads only when a chart is drawn."""
    code = "import sys, bot.charts; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_waterfall_with_a_start_level_ends_with_the_end_level():
    chart = Chart("waterfall", "MRR", "Oct 2026", ("Start", "New", "Churn", "End"),
                  (Series("MRR", (40_000_000, 500_000, -200_000, 40_300_000)),), "money",
                  roles=("start", "new", "churn", "end"))
    bars = waterfall_bars(chart)
    # Start 40,000,000; New floats 40.0M -> 40.5M; Churn 40.5M -> 40.3M; End level 40,300,000
    assert [(b.label, b.bottom, b.height, b.total) for b in bars] == [
        ("Start", 0.0, 40_000_000, True), ("New", 40_000_000, 500_000, False),
        ("Churn", 40_500_000, -200_000, False), ("End", 0.0, 40_300_000, True)]
    png_size(draw(chart))


def test_waterfall_without_start_ends_with_the_net_and_a_level_without_value_is_a_subtotal():
    chart = Chart("waterfall", "MRRの増減", PERIOD_JA, ("新規", "拡大", "小計", "解約", "純増減"),
                  (Series("MRR", (300_000, 100_000, None, -150_000, 250_000)),), "money",
                  roles=("new", "expansion", "subtotal", "churn", "net"))
    bars = waterfall_bars(chart)
    # 300,000 + 100,000 = 400,000 (subtotal); - 150,000 = 250,000 net
    assert [(b.label, b.bottom, b.height, b.total) for b in bars] == [
        ("新規", 0.0, 300_000, False), ("拡大", 300_000, 100_000, False), ("小計", 0.0, 400_000, True),
        ("解約", 400_000, -150_000, False), ("純増減", 0.0, 250_000, True)]


def test_retention_waterfall_ends_at_the_kept_mrr_not_twice_it():
    """Start, churn, contraction, expansion, kept: the kept bar is a level, not one more movement."""
    chart = Chart("waterfall", "Revenue retention", "Oct 2026", ("MRR at start", "Churn", "Contraction", "Expansion",
                                                                "Kept"),
                  (Series("MRR", (1_000_000, -50_000, -10_000, 30_000, 970_000)),), "money",
                  roles=("start", "churn", "contraction", "expansion", "end"))
    bars = waterfall_bars(chart)
    assert [(b.bottom, b.height, b.total) for b in bars][-1] == (0.0, 970_000, True)
    assert len(bars) == 5


def _texts(fig) -> dict[str, object]:
    fig.canvas.draw()
    return {t.get_text(): t for t in fig.axes[0].texts}


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_lines_ending_close_together_keep_their_end_labels_apart(lang):
    weeks = tuple(f"2026-10-{d:02d}" for d in (5, 12, 19, 26))
    chart = Chart("line", "NRR and GRR by week", "Oct 2026", weeks,
                  (Series("NRR", (1.02, 0.98, 1.01, 1.0)), Series("GRR", (0.97, 0.99, 0.995, 0.999))), "ratio")
    fig = figure_of(chart, lang)
    texts = _texts(fig)
    renderer = fig.canvas.get_renderer()
    top, low = texts[" 100%"], texts[" 99.9%"]
    assert not top.get_window_extent(renderer).overlaps(low.get_window_extent(renderer))
    assert top.get_position()[1] > low.get_position()[1]  # each stays on its own side
    assert low.get_position()[1] == pytest.approx(0.999)  # the lower one stays by its line


def test_lines_ending_far_apart_keep_their_end_labels_on_their_lines():
    chart = Chart("line", "Churn", "Oct 2026", ("Sep", "Oct"),
                  (Series("Customers", (0.05, 0.06)), Series("Revenue", (0.01, 0.02))), "ratio")
    texts = _texts(figure_of(chart))
    assert texts[" 6%"].get_position()[1] == pytest.approx(0.06)
    assert texts[" 2%"].get_position()[1] == pytest.approx(0.02)


@pytest.mark.parametrize("labels", [("smb", "mid-market", "free"), ("alice@example.com", "bob@example.com", "(none)")])
def test_a_bar_with_nothing_to_count_says_so_instead_of_drawing_zero(labels):
    chart = Chart("bars", "Customer churn rate by plan", "Oct 2026", labels,
                  (Series("Customer churn rate", (0.05, 0.0, None)),), "ratio")
    texts = _texts(figure_of(chart))
    assert {"5%", "0%", "—"} <= set(texts)
    assert draw(chart).startswith(PNG_SIGNATURE)


def test_a_unit_still_running_is_drawn_dashed_and_hollow_not_as_a_collapse():
    months = ("2026-10", "2026-11", "2026-12 (to date)")
    chart = Chart("line", "Customer churn rate by month", "Oct – Dec 2026", months,
                  (Series("Customer churn rate", (0.025, 0.024, 0.004)),), "ratio", partial_last=True)
    lines = figure_of(chart).axes[0].lines
    solid = [ln for ln in lines if ln.get_linestyle() == "-"]
    dashed = [ln for ln in lines if ln.get_linestyle() == "--"]
    assert [list(ln.get_xdata()) for ln in solid] == [[0, 1]]  # the finished months, solid
    hollow = [ln for ln in lines if ln.get_markerfacecolor() == "white"]
    assert [list(ln.get_xdata()) for ln in hollow] == [[2]]  # the month to date: a hollow point
    assert any(list(ln.get_xdata()) == [1, 2] for ln in dashed)  # joined by a dashed segment
    whole = Chart("line", "Customer churn rate by month", "Oct – Dec 2026", months[:2],
                  (Series("Customer churn rate", (0.025, 0.024)),), "ratio")
    assert [list(ln.get_xdata()) for ln in figure_of(whole).axes[0].lines] == [[0, 1]]
