"""health: how an account is doing and why; or the portfolio by band with the accounts at risk first.

``/health acme``, "acmeの状態は？", "how is ACME Corp doing?": score, band, trend
against 30 days before, what moved it (in words), key facts.
``/health``: the portfolio. ``/health mine``: the caller's book.
``/health dropped [period]``: who fell into red. ``/health backtest [N]``: how
well the score separated churners from stayers.
"""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from datetime import date, datetime, timedelta

from commands.accounts import Match, resolve_account
from commands.answers import period_line
from commands.arguments import ME_WORDS, UsageError, asker_ids, parse_args
from commands.context import Request
from commands.reply import Button, Chart, Figure, Reply, Table, error_reply
from commands.router import command
from metrics import format as fmt
from metrics import health as hm
from metrics.filters import Filters
from metrics.periods import Period

logger = logging.getLogger(__name__)

AT_RISK_ROWS = 10
COMPARE_DAYS = 30

BAND_LABEL = {
    "en": {"red": "red", "yellow": "yellow", "green": "green", None: "no score"},
    "ja": {"red": "赤", "yellow": "黄", "green": "緑", None: "スコアなし"},
}
BAND_EMOJI = {"red": "🔴", "yellow": "🟡", "green": "🟢", None: "⚪"}
COMPONENT_LABEL = {
    "en": {"usage": "usage", "seats": "seat utilisation", "last_activity": "last activity", "nps": "NPS",
           "support": "support", "revenue": "revenue trend", "onboarding": "onboarding"},
    "ja": {"usage": "利用状況", "seats": "シート利用率", "last_activity": "最終利用", "nps": "NPS",
           "support": "サポート", "revenue": "収益の推移", "onboarding": "オンボーディング"},
}

# Words of a free-form question that are not the account's name.
_EN_NOISE = re.compile(
    r"\b(?:how\s+is|how's|how\s+are|what\s+is|what's|doing|the\s+health\s+(?:score\s+)?of|health\s+score\s+(?:of|for)|"
    r"health\s+(?:of|for)|health\s+score|health|account|status\s+of|today|now)\b", re.I)
_JA_NOISE = re.compile(
    r"(?:の)?(?:ヘルススコア|ヘルス|状態|調子|健康状態)(?:は|を|が)?(?:どう(?:です(?:か)?)?|どんな感じ)?(?:ですか)?"
    r"(?:教えて(?:ください)?)?|(?:どう(?:ですか)?)$")
_DROPPED = re.compile(r"\b(?:dropped|fell|went|turned)\b|赤(?:に|へ)|レッドに", re.I)
_DROPPED_NOISE = re.compile(
    r"\b(?:who|which|accounts?|customers?|dropped|fell|went|turned|into|to|red|has|have)\b|"
    r"赤(?:に|へ)(?:なった|落ちた|転落した)?|レッドに(?:なった)?|(?:顧客|会社|アカウント)?(?:は|を)?(?:誰|どこ|どれ)?(?:ですか)?",
    re.I)


@command(
    "health",
    example="health acme",
    aliases=("ヘルス", "ヘルススコア", "health-score"),
    keywords=("health", "ヘルス", "状態", "how is", "doing", "調子", "dropped to red", "赤に"),
)
def health(req: Request) -> Reply:
    """health [account | mine | dropped [period] | backtest [N]] [filters]"""
    lang = req.lang
    try:
        model = hm.load_model()
    except hm.HealthModelError as exc:
        hint = ("設定ファイルを直すか、CSBOT_HEALTH_MODEL を外してください。" if lang == "ja"
                else "Fix the file, or unset CSBOT_HEALTH_MODEL to use the shipped model.")
        return error_reply(str(exc), language=lang, hint=hint)

    text = req.args
    dropped = False
    if req.natural:
        if _DROPPED.search(text):
            dropped = True
            text = _DROPPED_NOISE.sub(" ", text)
        text = _JA_NOISE.sub(" ", _EN_NOISE.sub(" ", text))
    args = parse_args(text, req.ctx, lang, strict=not req.natural)
    words = list(args.words)
    first = words[0].lower() if words else ""
    today = req.ctx.today
    day = today if args.period is None else min(args.period.end, today)

    if dropped or first in ("dropped", "red", "転落", "赤"):
        return _dropped(req, args.period, args.filters, model)
    if first in ("backtest", "バックテスト"):
        months = 6
        if len(words) > 1:
            if not words[1].isdigit() or not 1 <= int(words[1]) <= 24:
                raise UsageError("バックテストの月数は 1〜24 で指定してください（例: health backtest 6）。" if lang == "ja"
                                 else "Give the backtest a number of months from 1 to 24, e.g. health backtest 6.")
            months = int(words[1])
        return _backtest(req, months, model)
    filters = args.filters
    mine = first in ME_WORDS
    if mine:
        ids = asker_ids(req.ctx)
        if not ids:
            raise UsageError("「mine」にはあなたが誰か分かる必要があります。Slack から聞くか、owner:<メールアドレス> を使ってください。"
                             if lang == "ja" else
                             "“mine” needs to know who you are: ask from Slack (your user ID is used), "
                             "or name the owner, e.g. /health owner:alice@example.com.")
        filters = replace(filters, owner=ids)
        words = words[1:]
    if words and not mine:
        return _account(req, " ".join(words), day, model)
    return _portfolio(req, day, filters, model, mine=mine)


# --------------------------------------------------------------------------- one account


def _account(req: Request, name: str, day: date, model: hm.HealthModel) -> Reply:
    lang = req.lang
    with req.connection() as conn:
        match = resolve_account(conn, name)
        if match.exact is None:
            return _not_one(match, lang)
        view = hm.account_view(conn, match.exact.account_id, day, req.ctx.settings, model=model,
                               compare_days=COMPARE_DAYS)
    return account_reply(view, lang, req.ctx.settings.currency, match)


def _not_one(match: Match, lang: str) -> Reply:
    if match.candidates:
        more = match.total_candidates - len(match.candidates)
        if lang == "ja":
            title = f"「{match.query}」に当てはまる顧客が {match.total_candidates}社あります。どれですか？"
            lines = (f"ほか {more}社。名前をもう少し詳しく入力してください。",) if more > 0 else ()
        else:
            title = f"“{match.query}” matches {match.total_candidates} accounts. Which one?"
            lines = (f"… and {more} more: type more of the name.",) if more > 0 else ()
        buttons = tuple(Button("csbot_pick", r.name, f"health {r.account_id}") for r in match.candidates)
        return Reply(title=title, summary=title, kind="choices", language=lang, lines=lines, buttons=buttons,
                     data={"candidates": [r.account_id for r in match.candidates], "total": match.total_candidates})
    if match.closest:
        names = "、".join(r.name for r in match.closest) if lang == "ja" else ", ".join(r.name for r in match.closest)
        if lang == "ja":
            title = f"「{match.query}」という顧客は見つかりません。近い名前: {names}"
        else:
            title = f"No account called “{match.query}”. Closest names: {names}."
        buttons = tuple(Button("csbot_pick", r.name, f"health {r.account_id}") for r in match.closest)
        return Reply(title=title, summary=title, kind="choices", language=lang, buttons=buttons,
                     data={"closest": [r.account_id for r in match.closest]})
    return error_reply("顧客がまだありません。" if lang == "ja" else "There are no accounts to look up yet.", language=lang)


def _day(d: date | datetime | None, lang: str, year: bool = False) -> str:
    if d is None:
        return "—"
    if isinstance(d, datetime):
        d = d.date()
    if lang == "ja":
        return f"{d.year}年{d.month}月{d.day}日" if year else f"{d.month}月{d.day}日"
    text = f"{d.strftime('%b')} {d.day}"
    return f"{text}, {d.year}" if year else text


def component_words(name: str, comp: hm.ComponentScore, lang: str) -> str:
    """What a component says, in words: "usage down 40% in 14 days", "2 urgent tickets open"."""
    d = comp.detail
    ja = lang == "ja"
    if comp.score is None:
        label = COMPONENT_LABEL[lang][name]
        return f"{label}: データなし" if ja else f"{label}: no data"
    if name == "usage":
        change, days = d.get("change"), d.get("trend_days")
        if change is not None and abs(change) >= 0.05:
            pct = f"{abs(change) * 100:.0f}%"
            if ja:
                return f"利用が{days}日間で{pct}{'減少' if change < 0 else '増加'}"
            return f"usage {'down' if change < 0 else 'up'} {pct} in {days} days"
        stick = fmt.percent(d.get("stickiness"))
        return f"利用は安定（スティッキネス {stick}）" if ja else f"usage steady (stickiness {stick})"
    if name == "seats":
        used, seats = d["active_users"], d["seats"]
        pct = fmt.percent(d["utilisation"])
        return f"シート {seats}席中 {used}席を利用（{pct}）" if ja else f"{used} of {seats} seats used ({pct})"
    if name == "last_activity":
        days, last = d["days"], d.get("last_active")
        if last is None:
            return f"契約以来 {days}日間利用なし" if ja else f"no activity in {days} days since the first paid day"
        if days <= 1:
            return "昨日も利用あり" if ja else "active yesterday"
        return f"最終利用は{days}日前（{_day(last, lang)}）" if ja else f"last active {days} days ago ({_day(last, lang)})"
    if name == "nps":
        last_det, last_at = d.get("last_detractor_at"), d.get("last_at")
        if last_det is not None and last_at is not None and (last_at - last_det).days <= 90:
            return f"{_day(last_det, lang)}に批判者のNPS回答" if ja else f"detractor NPS on {_day(last_det, lang)}"
        value = fmt.score(d["nps"], signed=True)
        return f"NPS {value}・回答{d['respondents']}人" if ja else f"NPS {value} from {d['respondents']} respondent(s)"
    if name == "support":
        urgent, high, total = d["urgent"], d["high"], d["open"]
        if urgent:
            return f"緊急チケット {urgent}件が未解決" if ja else f"{urgent} urgent ticket{'s' if urgent > 1 else ''} open"
        if high:
            return f"優先度高のチケット {high}件が未解決" if ja else f"{high} high-priority ticket{'s' if high > 1 else ''} open"
        if total:
            return f"未解決チケット {total}件" if ja else f"{total} ticket{'s' if total > 1 else ''} open"
        return "未解決チケットなし" if ja else "no open tickets"
    if name == "revenue":
        change, days = d["change"], d["days"]
        if abs(change) < 0.005:
            return f"MRRは{days}日間横ばい" if ja else f"MRR flat over {days} days"
        pct = f"{abs(change) * 100:.0f}%"
        if ja:
            return f"MRRが{days}日間で{pct}{'減少' if change < 0 else '増加'}"
        return f"MRR {'down' if change < 0 else 'up'} {pct} in {days} days"
    if name == "onboarding":
        done, req = d["done"], d["required"]
        if done >= req:
            return "オンボーディング完了" if ja else "onboarding complete"
        return f"オンボーディング {req}項目中 {done}項目完了" if ja else f"onboarding {done} of {req} milestones done"
    return name


def _score_text(score: float | None) -> str:
    return "—" if score is None else str(hm.rounded(score))


def account_reply(view: hm.AccountView, lang: str, currency: str, match: Match | None = None) -> Reply:
    now, facts, ja = view.now, view.facts, lang == "ja"
    band = BAND_LABEL[lang][now.band]
    change = view.change
    score = _score_text(now.score)
    if ja:
        trend = ""
        if change is not None:
            trend = f"、{COMPARE_DAYS}日前から{'±0' if round(change) == 0 else f'{round(change):+d}'}ポイント"
        title = f"{facts.name} のヘルススコア {score}（{band}）{trend}"
    else:
        trend = ""
        if change is not None:
            trend = f", {'±0' if round(change) == 0 else f'{round(change):+d}'} in {COMPARE_DAYS} days"
        title = f"{facts.name}: health {score} ({band}){trend}"
    prev_score = view.before.score if view.before is not None else None
    figure = Figure(
        label="ヘルススコア" if ja else "Health score",
        value=f"{score} / 100 {BAND_EMOJI[now.band]} {band}",
        previous=None if prev_score is None else f"{_score_text(prev_score)} ({_day(view.before_day, lang)})",
        change=None if change is None else f"{round(change):+d}",
        trend=0 if change is None or round(change) == 0 else (1 if change > 0 else -1),
        good=None if change is None or round(change) == 0 else change > 0,
    )
    lines: list[str] = []
    if match is not None and match.how == "typo":
        lines.append(f"「{match.query}」を {facts.name} として表示しています。" if ja
                     else f"Showing {facts.name} (closest to “{match.query}”).")
    if not now.paying:
        ended = f"（{_day(facts.churned_on, lang, True)}に終了）" if facts.churned_on and ja else (
            f" (ended {_day(facts.churned_on, lang, True)})" if facts.churned_on else "")
        lines.append(f"{_day(now.day, lang, True)}時点で有料顧客ではありません{ended}。" if ja
                     else f"Not a paying customer on {_day(now.day, lang, True)}{ended}.")
    movers = view.movers()
    moved: list[tuple[str, float]] = []
    if view.before is not None:
        moved = [(n, v) for n, v in movers if abs(v) >= 1.0][:3]
        if moved:
            words = ("、" if ja else "; ").join(
                f"{component_words(n, now.components[n], lang)}（{v:+.0f}点）" if ja
                else f"{component_words(n, now.components[n], lang)} ({v:+.0f} pts)" for n, v in moved)
            lines.append(f"*変化の要因:* {words}" if ja else f"*What moved it:* {words}")
        else:
            lines.append(f"{COMPARE_DAYS}日前からほぼ変化なし。" if ja else f"About the same as {COMPARE_DAYS} days ago.")
    named = {n for n, _ in moved}
    weak = sorted(((n, comp.score) for n, comp in now.components.items()
                   if comp.score is not None and now.weights.get(n) and n not in named and comp.score < 100),
                  key=lambda x: x[1])
    low = [n for n, sc in weak if sc < 60][:3]
    if low:
        words = ("、" if ja else "; ").join(component_words(n, now.components[n], lang) for n in low)
        lines.append(f"*スコアを下げている要因:* {words}" if ja else f"*Holding it down:* {words}")
    elif not moved and weak:
        words = ("、" if ja else "; ").join(component_words(n, now.components[n], lang) for n, _ in weak[:2])
        lines.append(f"*満点に届かない要因:* {words}" if ja else f"*Short of full marks:* {words}")
    if now.left_out:
        names = ("、" if ja else ", ").join(COMPONENT_LABEL[lang][n] for n in now.left_out)
        lines.append(f"データがないため除外: {names}（残りの重みで再配分）" if ja
                     else f"Left out for lack of data: {names} (the other weights were scaled up).")
    if now.onboarding_phase:
        lines.append("オンボーディング期間中のため、オンボーディングの重みを大きくしています。" if ja
                     else "Still onboarding: scored with the onboarding weights (onboarding counts more).")

    rows = _fact_rows(view, lang, currency)
    table = Table(columns=("項目", "値") if ja else ("Fact", "Value"), rows=rows,
                  title="主な情報" if ja else "Key facts")
    how = []
    for name in hm.COMPONENTS:
        comp = now.components.get(name)
        if comp is None:
            continue
        label = COMPONENT_LABEL[lang][name]
        w = now.weights.get(name)
        if comp.score is None or not w:
            how.append(f"{label}: {'除外' if ja else 'left out'}" if comp.score is None else
                       f"{label}: {_score_text(comp.score)} × 0%")
            continue
        how.append(f"{label}: {comp.score:.0f} × {w * 100:.0f}% = {comp.score * w:.1f} · {component_words(name, comp, lang)}")
    total = "合計" if ja else "Total"
    how.append(f"{total} = {score}  ({'0〜50 赤、51〜75 黄、76〜100 緑' if ja else '0-50 red, 51-75 yellow, 76-100 green'})")
    scored = [n for n in hm.COMPONENTS if now.components.get(n) is not None and now.components[n].score is not None]
    chart = Chart(
        kind="bars",
        title=("構成要素のスコア" if ja else "Component scores"),
        subtitle=_day(now.day, lang, True),
        labels=tuple(COMPONENT_LABEL[lang][n] for n in scored),
        series=((("今" if ja else "now"), tuple(now.components[n].score for n in scored)),
                *((((f"{COMPARE_DAYS}日前" if ja else f"{COMPARE_DAYS} days before"),
                    tuple(view.before.components.get(n) for n in scored)),) if view.before is not None else ())),
        unit="score",
        alt=f"{facts.name} health components",
    )
    return Reply(
        title=title, summary=title, language=lang, period=_day(now.day, lang, True), figures=(figure,),
        lines=tuple(lines), table=table, chart=chart, how=tuple(how), revenue=True,
        data={
            "account_id": facts.account_id, "name": facts.name, "day": now.day.isoformat(),
            "score": None if now.score is None else round(now.score, 2), "band": now.band,
            "previous_score": None if prev_score is None else round(prev_score, 2),
            "previous_day": view.before_day.isoformat(), "change": None if change is None else round(change, 2),
            "components": {k: v.to_json() for k, v in now.components.items()},
            "weights": {k: round(v, 4) for k, v in now.weights.items()},
            "left_out": list(now.left_out), "movers": [[n, round(v, 2)] for n, v in movers],
        },
    )


def _fact_rows(view: hm.AccountView, lang: str, currency: str) -> tuple[tuple[str, str], ...]:
    f, now, ja = view.facts, view.now, lang == "ja"
    day = now.day
    rows: list[tuple[str, str]] = [("MRR", fmt.money(f.mrr, currency))]
    rows.append(("プラン" if ja else "Plan", f.plan or "—"))
    rows.append(("担当" if ja else "Owner", f.owner or ("未割り当て" if ja else "unassigned")))
    if f.renewal_date:
        left = (f.renewal_date - day).days
        when = (f"あと{left}日" if left >= 0 else f"{-left}日超過") if ja else (
            f"in {left} days" if left >= 0 else f"{-left} days ago")
        rows.append(("更新日" if ja else "Renewal", f"{_day(f.renewal_date, lang, True)} ({when})"))
    else:
        rows.append(("更新日" if ja else "Renewal", "—"))
    if f.last_active:
        ago = (day - f.last_active).days
        rows.append(("最終利用" if ja else "Last activity",
                     f"{_day(f.last_active, lang, True)}（{ago}日前）" if ja else f"{_day(f.last_active, lang, True)} ({ago} day{'s' if ago != 1 else ''} ago)"))
    else:
        rows.append(("最終利用" if ja else "Last activity", "—"))
    seats = "—"
    if f.seats:
        seats = f"{f.active_users_30} / {f.seats} ({fmt.percent(f.active_users_30 / f.seats)})"
    elif f.active_users_30:
        seats = f"{f.active_users_30} / —"
    rows.append(("シート（30日利用 / 契約）" if ja else "Seats used (30 days) / bought", seats))
    if f.nps_score is not None:
        kind = ("推奨者" if f.nps_score >= 9 else "中立者" if f.nps_score >= 7 else "批判者") if ja else (
            "promoter" if f.nps_score >= 9 else "passive" if f.nps_score >= 7 else "detractor")
        rows.append(("最新のNPS回答" if ja else "Latest NPS answer", f"{f.nps_score} ({kind}, {_day(f.nps_at, lang, True)})"))
    else:
        rows.append(("最新のNPS回答" if ja else "Latest NPS answer", "—"))
    if f.csat_score is not None:
        mean = ""
        if f.csat_mean_90 is not None:
            mean = (f"、90日平均 {f.csat_mean_90:.1f}（{f.csat_answers_90}件）" if ja
                    else f"; 90-day mean {f.csat_mean_90:.1f} from {f.csat_answers_90}")
        rows.append(("最新のCSAT" if ja else "Latest CSAT", f"{f.csat_score}/5 ({_day(f.csat_at, lang, True)}{mean})"))
    else:
        rows.append(("最新のCSAT" if ja else "Latest CSAT", "—"))
    done, req = len(f.milestones_done), len(f.milestones_required)
    if req and done >= req:
        status = f"完了（{_day(f.onboarding_done_at, lang, True)}）" if ja else f"complete ({_day(f.onboarding_done_at, lang, True)})"
    else:
        missing = ", ".join(m for m in f.milestones_required if m not in f.milestones_done)
        status = f"{req}項目中 {done}項目完了（残り: {missing}）" if ja else f"{done} of {req} milestones (to do: {missing})"
    rows.append(("オンボーディング" if ja else "Onboarding", status))
    return tuple(rows)


# --------------------------------------------------------------------------- portfolio


def _portfolio(req: Request, day: date, filters: Filters, model: hm.HealthModel, *, mine: bool) -> Reply:
    lang, currency, ja = req.lang, req.ctx.settings.currency, req.lang == "ja"
    with req.connection() as conn:
        pf = hm.portfolio(conn, day, filters, req.ctx.settings, model=model, compare_days=COMPARE_DAYS)
    scope = filters.describe()
    if not pf.rows:
        if mine:
            who = " / ".join(filters.owner)
            msg = (f"あなた（{who}）が担当する有料顧客が見つかりません。accounts の owner にあなたの Slack ID かメールアドレスが入っているか確認してください。"
                   if ja else f"No paying accounts are owned by you ({who}). Check that the accounts' owner holds your Slack user ID or e-mail.")
        else:
            msg = ("条件に合う有料顧客がいません。" if ja else "No paying accounts match.") + (f" ({scope})" if scope else "")
        return error_reply(msg, language=lang)
    c = pf.counts
    mean = _score_text(pf.mean_score)
    who = ("自分の担当" if ja else "Your book") if mine else ("ポートフォリオ" if ja else "Portfolio")
    if ja:
        title = f"{who}のヘルス: 有料顧客 {pf.total}社、平均 {mean} · 赤 {c['red']}社、黄 {c['yellow']}社、緑 {c['green']}社"
    else:
        title = f"{who} health: {pf.total} paying accounts, mean {mean} · {c['red']} red, {c['yellow']} yellow, {c['green']} green"
    figures = tuple(
        Figure(label=f"{BAND_EMOJI[b]} {BAND_LABEL[lang][b]}",
               value=(f"{c[b]}社 · {fmt.money(pf.mrr[b], currency)}" if ja else f"{c[b]} · {fmt.money(pf.mrr[b], currency)}"))
        for b in ("red", "yellow", "green"))
    risky = [r for r in pf.rows if r.band == "red" or (r.change is not None and r.change <= -5)]
    shown = (risky or list(pf.rows))[:AT_RISK_ROWS]
    cols = ("顧客", "スコア", f"{COMPARE_DAYS}日の変化", "MRR", "担当") if ja else (
        "Account", "Score", f"{COMPARE_DAYS}-day change", "MRR", "Owner")
    body = tuple((r.name, f"{_score_text(r.score)} {BAND_EMOJI[r.band]}",
                  "—" if r.change is None else f"{round(r.change):+d}", fmt.money(r.mrr, currency), r.owner or "—")
                 for r in shown)
    table = Table(columns=cols, rows=body, total_rows=len(risky) if risky else pf.total,
                  title=("要注意の顧客（赤、または30日で5ポイント以上低下）" if ja else
                         "At risk: red, or down 5 points or more in 30 days") if risky else
                  ("スコアの低い顧客" if ja else "Lowest scores"))
    total_mrr = sum(pf.mrr.values())
    lines = []
    if total_mrr:
        share = (pf.mrr["red"] + pf.mrr["yellow"]) / total_mrr
        lines.append(f"赤または黄の顧客のMRRは全体の {fmt.percent(share)}。" if ja
                     else f"{fmt.percent(share)} of MRR sits with red or yellow accounts.")
    chart = Chart(kind="donut", title="バンド別の顧客数" if ja else "Accounts by band", subtitle=_day(day, lang, True),
                  labels=tuple(BAND_LABEL[lang][b] for b in ("red", "yellow", "green")),
                  series=(("accounts", tuple(float(c[b]) for b in ("red", "yellow", "green"))),), unit="count",
                  alt=f"{c['red']} red, {c['yellow']} yellow, {c['green']} green")
    buttons = tuple(Button("csbot_pick", r.name, f"health {r.account_id}") for r in shown[:5])
    period_text = _day(day, lang, True) + (f" · {scope}" if scope else "")
    return Reply(title=title, summary=title, language=lang, period=period_text, figures=figures, lines=tuple(lines),
                 table=table, chart=chart, buttons=buttons, revenue=True,
                 data={"day": day.isoformat(), "accounts": pf.total, "mean_score": pf.mean_score, "counts": c,
                       "mrr": pf.mrr, "at_risk": [r.account_id for r in risky]})


# --------------------------------------------------------------------------- dropped to red


def _dropped(req: Request, period: Period | None, filters: Filters, model: hm.HealthModel) -> Reply:
    lang, currency, ja = req.lang, req.ctx.settings.currency, req.lang == "ja"
    today = req.ctx.today
    if period is None:
        period = Period(today - timedelta(days=6), today + timedelta(days=1), grain="days")
    with req.connection() as conn:
        report = hm.dropped_to_red(conn, period.start, period.end, filters, req.ctx.settings, today=today, model=model)
    when = period_line(period, filters, lang)
    n = len(report.drops)
    if ja:
        title = f"赤に落ちた顧客 {n}社（{when}）"
    else:
        title = f"{n} account{'s' if n != 1 else ''} dropped to red · {when}"
    lines = []
    if not report.from_snapshots:
        lines.append("この期間とその前の日次スナップショットがそろっていないため、期間の初めと終わりのスコアを計算して比べました。" if ja
                     else "Daily snapshots do not cover this period and the days before it yet: "
                          "compared the scores computed at its start and end.")
    if not n:
        lines.append("該当する顧客はありません。" if ja else "None: no account fell into red.")
    cols = ("顧客", "スコア", "以前", "赤になった日", "MRR", "担当") if ja else (
        "Account", "Score", "From", "Red since", "MRR", "Owner")
    body = tuple((d.name, _score_text(d.score), BAND_LABEL[lang].get(d.from_band, "—"), _day(d.day, lang),
                  fmt.money(d.mrr, currency), d.owner or "—") for d in report.drops[:15])
    table = Table(columns=cols, rows=body, total_rows=n) if n else None
    buttons = tuple(Button("csbot_pick", d.name, f"health {d.account_id}") for d in report.drops[:5])
    return Reply(title=title, summary=title, language=lang, period=period.describe(lang), lines=tuple(lines),
                 table=table, buttons=buttons, revenue=True,
                 data={"accounts": [d.account_id for d in report.drops], "from_snapshots": report.from_snapshots})


# --------------------------------------------------------------------------- backtest


def _backtest(req: Request, months: int, model: hm.HealthModel) -> Reply:
    lang, ja = req.lang, req.lang == "ja"
    result = hm.backtest(req.ctx.db.engine, months, req.ctx.settings, today=req.ctx.today, model=model)
    auc = "—" if result.auc is None else f"{result.auc:.2f}"
    title = (f"ヘルススコアのバックテスト（直近{months}か月）: ROC AUC {auc}" if ja
             else f"Health score backtest, last {months} months: ROC AUC {auc}")
    text = hm.format_backtest(result, lang).splitlines()
    figures = (
        Figure(label="解約顧客のうち赤・黄" if ja else "Churned that were red/yellow",
               value=fmt.percent(result.share_churned_flagged)),
        Figure(label="継続顧客のうち赤・黄" if ja else "Stayed but red/yellow", value=fmt.percent(result.share_stayed_flagged)),
        Figure(label="ROC AUC", value=auc),
    )
    cols = ("月", "スコア日", "顧客", "解約", "うち赤・黄", "AUC") if ja else ("Month", "Scored on", "Accounts", "Churned",
                                                                     "of them red/yellow", "AUC")
    body = tuple((m.month.strftime("%Y-%m"), m.as_of.isoformat(), str(m.accounts), str(m.churned),
                  str(m.churned_flagged), "—" if m.auc is None else f"{m.auc:.2f}") for m in result.months)
    return Reply(title=title, summary=title, language=lang, figures=figures, lines=tuple(text[1:4]),
                 table=Table(columns=cols, rows=body),
                 how=(("各月の60日前に有料だった顧客をその日のスコアで評価し、その月に解約したかと比べます。AUC は"
                       "「継続した顧客が解約した顧客より高いスコアだった確率」（同点は半分）。") if ja else
                      ("Each month's sample: accounts paying 60 days before it began and still paying at its start, "
                       "scored as of that day; outcome: churned within the month. AUC = the chance that a stayer "
                       "scored higher than a churner (ties count half)."),),
                 data=result.to_json())
