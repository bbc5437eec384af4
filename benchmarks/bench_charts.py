"""How fast are charts drawn, and how big are they? (a script that prints figures, not a test)

Draws every kind of chart with realistic data (12 periods; 24 cohorts x 12
months for the retention heatmap), in English and Japanese: a warm-up draw
first (font loading, caches), then N timed draws. Prints the median and p95
wall-clock milliseconds per chart, the median CPU milliseconds (the honest figure
on a busy machine) and the PNG size. The target is < 150 ms and < 150 KB.

    python benchmarks/bench_charts.py            # N = 20
    python benchmarks/bench_charts.py -n 50 --lang ja
    python benchmarks/bench_charts.py --save /tmp/charts   # also write the PNGs to look at
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.charts import draw, save_chart  # noqa: E402
from commands.reply import Chart, Figure, Series  # noqa: E402

MONTHS_EN = ("Dec 2025", "Jan 2026", "Feb 2026", "Mar 2026", "Apr 2026", "May 2026", "Jun 2026", "Jul 2026",
             "Aug 2026", "Sep 2026", "Oct 2026", "Nov 2026")
MONTHS_JA = ("2025年12月", "2026年1月", "2026年2月", "2026年3月", "2026年4月", "2026年5月", "2026年6月",
             "2026年7月", "2026年8月", "2026年9月", "2026年10月", "2026年11月")


def retention_rows(cohorts: int = 24, months: int = 12, lang: str = "en") -> tuple[Series, ...]:
    """A triangle of retention: older cohorts have more months; month 0 is 100%."""
    rows = []
    for i in range(cohorts):
        year, month = divmod(2024 * 12 + 11 + i, 12)  # Dec 2024 .. Nov 2026
        name = f"{year}年{month + 1}月" if lang == "ja" else f"{year}-{month + 1:02d}"
        seen = cohorts - i  # the newest cohort has one month
        cells = []
        for m in range(months):
            if m >= seen:
                cells.append(None)
            else:
                cells.append(round(max(0.0, 1.0 - 0.035 * m - 0.002 * i * (m > 0) - (0.08 if m else 0)), 3))
        rows.append(Series(name, tuple(cells)))
    return tuple(rows)


def sample_charts(lang: str = "en") -> dict[str, Chart]:
    ja = lang == "ja"
    months = MONTHS_JA if ja else MONTHS_EN
    period = "2026年10月1日〜10月31日" if ja else "Oct 1 – Oct 31, 2026"
    year = "2025年12月〜2026年11月" if ja else "Dec 2025 – Nov 2026"
    churn = (0.052, 0.048, 0.061, None, 0.044, 0.039, 0.041, 0.05, 0.047, 0.043, 0.038, 0.035)
    nrr = (1.02, 1.04, 0.99, 1.01, 1.05, 1.06, 1.03, 1.04, 1.07, 1.05, 1.08, 1.09)
    move_names = ("新規", "再開", "拡大", "縮小", "解約") if ja else (
        "New", "Reactivation", "Expansion", "Contraction", "Churn")
    moves = ("new", "reactivation", "expansion", "contraction", "churn")
    net = ("純増減" if ja else "Net",)
    new = tuple(420_000 + 15_000 * (i % 4) for i in range(12))
    react = tuple(30_000 + 5_000 * (i % 3) for i in range(12))
    exp = tuple(180_000 + 20_000 * (i % 5) for i in range(12))
    contr = tuple(-(60_000 + 7_000 * (i % 4)) for i in range(12))
    lost = tuple(-(210_000 + 25_000 * (i % 3)) for i in range(12))
    bands = ("赤", "黄", "緑") if ja else ("Red", "Yellow", "Green")
    band_roles = ("band_red", "band_yellow", "band_green")
    nps_roles = ("promoter", "passive", "detractor")
    return {
        "line": Chart(
            kind="line", title="解約率の推移" if ja else "Customer churn, last 12 months", subtitle=year,
            labels=months, series=(Series("顧客解約率" if ja else "Customer churn", churn),
                                   Series("収益解約率" if ja else "Revenue churn",
                                    tuple(None if v is None else v * 0.8 for v in churn))), unit="ratio"),
        "line_nrr": Chart(kind="line", title="NRR" , subtitle=year, labels=months,
                          series=(Series("NRR", nrr),), unit="ratio"),
        "line_mrr": Chart(kind="line", title="MRRの推移" if ja else "MRR", subtitle=year, labels=months,
                          series=(Series("MRR", tuple(38_500_000 + 350_000 * i for i in range(12))),), unit="money"),
        "line_nps": Chart(kind="line", title="NPSの推移" if ja else "NPS trend", subtitle=year, labels=months,
                          series=(Series("NPS", (12, 18, 9, -4, 6, 15, 22, 25, 19, 28, 31, 32)),), unit="score",
                          signed=True),
        "bars": Chart(kind="bars", title="月別の新規顧客数" if ja else "New customers per month", subtitle=year,
                      labels=tuple(m.replace(" 20", " '") for m in months) if not ja else
                      tuple(m.split("年")[1] for m in months),
                      series=(Series("新規顧客" if ja else "New customers", (14, 18, 11, 20, 23, 17, 19, 25, 21, 16, 22, 24)),),
                      unit="count"),
        "bars_accounts": Chart(
            kind="bars", title="MRR上位の顧客" if ja else "Top accounts by MRR", subtitle=period,
            labels=("株式会社アクメ" if ja else "Acme Corporation", "Globex Japan", "Initech Holdings",
                    "Umbrella Health", "Hooli Cloud Services", "Stark Logistics"),
            series=(Series("MRR", (2_400_000, 1_850_000, 1_200_000, 980_000, 760_000, 540_000)),), unit="money"),
        "waterfall": Chart(
            kind="waterfall", title="MRRの増減" if ja else "MRR movements", subtitle=period, labels=move_names + net,
            series=(Series("MRR", (480_000, 35_000, 210_000, -72_000, -265_000, 388_000)),), unit="money",
            roles=moves + ("net",)),
        "waterfall_start": Chart(
            kind="waterfall", title="MRRの増減" if ja else "MRR movements", subtitle=period,
            labels=("期首MRR" if ja else "Start MRR", *move_names, "期末MRR" if ja else "End MRR"),
            series=(Series("MRR", (41_200_000, 480_000, 35_000, 210_000, -72_000, -265_000, 41_588_000)),),
            unit="money", roles=("start", *moves, "end")),
        "stacked": Chart(
            kind="stacked", title="MRRの増減（月別）" if ja else "MRR movements per month", subtitle=year,
            labels=months, unit="money",
            series=tuple(Series(n, v, role) for n, v, role in zip(move_names, (new, react, exp, contr, lost), moves))),
        "stacked_health": Chart(
            kind="stacked", title="ヘルススコアの分布" if ja else "Accounts by health band", subtitle=year,
            labels=months, series=(Series(bands[0], (12, 14, 15, 13, 11, 12, 10, 9, 11, 10, 8, 9), "band_red"),
                                   Series(bands[1], (40, 38, 41, 44, 42, 40, 39, 41, 38, 37, 36, 35), "band_yellow"),
                                   Series(bands[2], (148, 152, 150, 155, 160, 163, 168, 170, 174, 178, 183, 187),
                                          "band_green")),
            unit="count"),
        "heatmap": Chart(
            kind="heatmap", title="コホート継続率" if ja else "Cohort retention",
            subtitle="2024年12月〜2026年11月のコホート" if ja else "Cohorts Dec 2024 – Nov 2026",
            labels=tuple(f"{m}ヶ月" if ja else f"M{m}" for m in range(12)),
            series=retention_rows(24, 12, lang), unit="ratio"),
        "donut": Chart(
            kind="donut", title="NPSの内訳" if ja else "NPS breakdown", subtitle=period,
            labels=("推奨者", "中立者", "批判者") if ja else ("Promoters", "Passives", "Detractors"),
            series=(Series("回答" if ja else "Responses", (130, 70, 50)),), unit="count", roles=nps_roles,
            center=Figure("NPS", "+32")),
        "donut_health": Chart(
            kind="donut", title="ヘルススコアの分布" if ja else "Health bands", subtitle=period,
            labels=bands, series=(Series("顧客" if ja else "Accounts", (9, 35, 187)),), unit="count", roles=band_roles),
        "share": Chart(
            kind="share", title="担当者別のヘルス" if ja else "Health bands per CSM", subtitle=period, labels=bands,
            series=(Series("佐藤" if ja else "Aiko Sato", (3, 12, 60)), Series("鈴木" if ja else "Ben Clark", (4, 10, 55)),
                    Series("高橋" if ja else "Chen Wei", (2, 13, 72))), unit="count", roles=band_roles),
        "share_nps": Chart(
            kind="share", title="NPSの内訳" if ja else "NPS breakdown", subtitle=period,
            labels=("推奨者", "中立者", "批判者") if ja else ("Promoters", "Passives", "Detractors"),
            series=(Series("回答" if ja else "Responses", (130, 70, 50)),), unit="count", roles=nps_roles,
            center=Figure("NPS", "+32")),
        "line_dau": Chart(
            kind="line", title="DAU/MAU", subtitle=year, labels=months,
            series=(Series("DAU/MAU", (0.31, 0.33, 0.32, 0.35, 0.34, 0.36, 0.38, None, 0.37, 0.39, 0.41, 0.40)),),
            unit="ratio"),
        "empty": Chart(kind="line", title="解約率の推移" if ja else "Customer churn", subtitle=year, labels=months,
                       series=(Series("churn", (None,) * 12),), unit="ratio"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=20, help="timed draws per chart (default 20)")
    parser.add_argument("--lang", choices=("en", "ja", "both"), default="both")
    parser.add_argument("--save", metavar="DIR", help="also save every chart as DIR/<name>_<lang>.png")
    args = parser.parse_args(argv)
    langs = ("en", "ja") if args.lang == "both" else (args.lang,)
    print(f"{'chart':<18} {'lang':<4} {'median ms':>9} {'p95 ms':>7} {'CPU ms':>7} {'PNG KB':>7}")
    worst = 0.0
    for lang in langs:
        for name, chart in sample_charts(lang).items():
            png = draw(chart, lang)  # warm-up
            times, cpu = [], []
            for _ in range(args.n):
                t0, c0 = time.perf_counter(), time.process_time()
                png = draw(chart, lang)
                times.append((time.perf_counter() - t0) * 1000)
                cpu.append((time.process_time() - c0) * 1000)
            times.sort()
            median = statistics.median(times)
            p95 = times[min(len(times) - 1, int(round(0.95 * (len(times) - 1))))]
            worst = max(worst, median)
            flag = "  SLOW" if median >= 150 else ""
            flag += "  BIG" if len(png) >= 150 * 1024 else ""
            print(f"{name:<18} {lang:<4} {median:9.1f} {p95:7.1f} {statistics.median(cpu):7.1f} "
                  f"{len(png) / 1024:7.1f}{flag}")
            if args.save:
                save_chart(chart, Path(args.save) / f"{name}_{lang}.png", lang)
    print(f"slowest median: {worst:.1f} ms (target < 150 ms)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
