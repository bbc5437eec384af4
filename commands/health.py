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
from datetime import date, timedelta

from commands import format as fmt
from commands.accounts import Match, resolve_account
from commands.arguments import ME_WORDS, UsageError, asker_ids, parse_args, request_args
from commands.context import Request
from commands.messages import t, t_list
from commands.reply import Button, Chart, Figure, Reply, Series, Table, error_reply
from commands.spec import command
from metrics import health as hm
from metrics.filters import Filters
from metrics.periods import Period

logger = logging.getLogger(__name__)

AT_RISK_ROWS = 10
FALLING_POINTS = 5  # a green account down this many points in COMPARE_DAYS is named as falling (not at risk)
FALLING_NAMES = 3
COMPARE_DAYS = 30

BAND_EMOJI = {"red": "🔴", "yellow": "🟡", "green": "🟢", None: "⚪"}


def band_label(band: str | None, lang: str) -> str:
    """A band's name for people: "red" / "赤"; "no score" when there is none."""
    return t(f"health.band_{band or 'none'}", lang)


def component_label(name: str, lang: str) -> str:
    """A component's name for people: "seat utilisation" / "シート利用率"."""
    return t(f"health.component_{name}", lang)


def bands_text(model: hm.HealthModel, lang: str) -> str:
    """The model's band ranges: "0-50 red, 51-75 yellow, 76-100 green"."""
    return t("health.sep_names", lang).join(
        t("health.band_range", lang, low=lo, high=hi, band=band_label(name, lang)) for name, lo, hi in model.bands)


def model_how(model: hm.HealthModel, lang: str) -> tuple[str, ...]:
    """How every account's score is made: the weighted components (and the weights of an account
    still onboarding), then the bands."""
    def weighted(weights: dict[str, float]) -> str:
        total = sum(weights.values()) or 1.0  # the file's weights, as shares of their sum
        return " + ".join(f"{component_label(n, lang)} × {weights[n] / total * 100:.0f}%" for n in hm.COMPONENTS
                          if weights.get(n))

    return (t("health.how_model", lang, parts=weighted(model.weights)),
            t("health.how_model_onboarding", lang, days=model.onboarding_phase_days,
              parts=weighted(model.weights_onboarding)),
            t("health.how_model_bands", lang, bands=bands_text(model, lang)))


def _counted(key: str, n: int, lang: str, **values: object) -> str:
    """``key_one`` for one, ``key_other`` for any other count."""
    return t(f"{key}_{'one' if n == 1 else 'other'}", lang, n=n, **values)

# Words of a free-form question that are not the account's name.
_EN_NOISE = re.compile(
    r"\b(?:how\s+is|how's|how\s+are|what\s+is|what's|doing|the\s+health\s+(?:score\s+)?of|health\s+score\s+(?:of|for)|"
    r"health\s+(?:of|for)|health\s+score|health|account|status\s+of|today|now)\b", re.I)
_JA_NOISE = re.compile(
    r"(?:の)?(?:ヘルススコア|ヘルス|状態|調子|健康状態)(?:は|を|が)?(?:どう(?:です(?:か)?)?|どんな感じ)?(?:ですか)?"
    r"(?:教えて(?:ください)?)?|(?:どう(?:ですか)?)$")
_LEADING = re.compile(r"^(?:of|for|about)\s+(?=\S)", re.I)
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
        model = hm.model_for(req.ctx.settings)
    except hm.HealthModelError as exc:
        return error_reply(str(exc), language=lang, hint=t("health.model_error_hint", lang))

    query = req.query
    if query is not None and query.account:  # a name that matches an account, whatever it looks like
        return _account(req, query.account, req.ctx.today if query.period is None else min(query.period.end, req.ctx.today),
                        model)
    text = req.args
    dropped = False
    if query is not None:  # the router understood the question: its words are ours
        args = request_args(req)
    else:
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

    # "red" alone asks who dropped to red; "red cedar" is an account's name.
    if dropped or first in ("dropped", "転落") or (first in ("red", "赤") and len(words) == 1):
        return _dropped(req, args.period, args.filters, model)
    if first in ("backtest", "バックテスト"):
        months = 6
        if len(words) > 1:
            if not words[1].isdigit() or not 1 <= int(words[1]) <= 24:
                raise UsageError(t("health.backtest_months", lang))
            months = int(words[1])
        return _backtest(req, months, model)
    if "how" in words:  # "how is the health score computed": the model, over the portfolio it scores
        words.remove("how")
        first = words[0].lower() if words else ""
    filters = args.filters
    mine = first in ME_WORDS
    if mine:
        ids = asker_ids(req.ctx)
        if not ids:
            raise UsageError(t("health.mine_needs_user", lang))
        filters = replace(filters, owner=ids)
        words = words[1:]
    if words and not mine:  # "health of wayne": the name without the word before it
        return _account(req, _LEADING.sub("", " ".join(words)), day, model)
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
    return account_reply(view, lang, req.ctx.settings.currency, model, match)


def _not_one(match: Match, lang: str) -> Reply:
    if match.candidates:
        more = match.total_candidates - len(match.candidates)
        title = t("health.pick_title", lang, query=match.query, total=match.total_candidates)
        lines = (t("health.pick_more", lang, more=more),) if more > 0 else ()
        buttons = tuple(Button("csbot_pick", r.name, f"health {r.account_id}") for r in match.candidates)
        return Reply(title=title, summary=title, kind="choices", language=lang, lines=lines, buttons=buttons,
                     data={"candidates": [r.account_id for r in match.candidates], "total": match.total_candidates})
    if match.closest:
        names = t("health.sep_names", lang).join(r.name for r in match.closest)
        title = t("health.closest_title", lang, query=match.query, names=names)
        buttons = tuple(Button("csbot_pick", r.name, f"health {r.account_id}") for r in match.closest)
        return Reply(title=title, summary=title, kind="choices", language=lang, buttons=buttons,
                     data={"closest": [r.account_id for r in match.closest]})
    if not match.searched:
        return error_reply(t("health.no_accounts", lang), language=lang)
    return error_reply(t("health.no_match", lang, query=match.query, total=match.searched), language=lang,
                       hint=t("health.no_match_hint", lang))


# The direction a component's words point: a drag (-1), a lift (+1), or a plain fact (0).
DRAG, FACT, LIFT = -1, 0, 1
LOW_COMPONENT = 60  # a component scoring below this is named as holding the score down
STEADY_CHANGE = 0.05  # usage moving less than 5% is "steady"


def component_fact(name: str, comp: hm.ComponentScore, lang: str) -> tuple[str, int]:
    """What a component says, in words, and which way those words point (DRAG, FACT, LIFT).

    "usage down 40% in 30 days" is a drag, "no open tickets" a lift, "12 of 20 seats used" a fact.
    "steady" is said only of a small change and never of a low score."""
    d = comp.detail
    if comp.score is None:
        return t("health.no_data", lang, label=component_label(name, lang)), FACT
    low = comp.score < LOW_COMPONENT
    if name == "usage":
        change, days = d.get("change"), d.get("trend_days")
        if not d.get("mau"):
            return t("health.usage_none", lang), DRAG
        if change is not None and abs(change) >= STEADY_CHANGE:
            pct = f"{abs(change) * 100:.0f}%"
            return (t("health.usage_down", lang, pct=pct, days=days), DRAG) if change < 0 else \
                (t("health.usage_up", lang, pct=pct, days=days), LIFT)
        sticky = fmt.percent(d.get("stickiness"))
        if low:
            return t("health.usage_low_stickiness", lang, stickiness=sticky), DRAG
        if change is None:
            return t("health.usage_stickiness", lang, stickiness=sticky), FACT
        return t("health.usage_steady", lang, stickiness=sticky, days=days), FACT
    if name == "seats":
        return (t("health.seats_used", lang, used=d["active_users"], seats=d["seats"], pct=fmt.percent(d["utilisation"])),
                DRAG if low else FACT)
    if name == "last_activity":
        days, last = d["days"], d.get("last_active")
        if last is None:
            return t("health.never_active", lang, days=days), DRAG
        if days <= 1:
            return t("health.active_yesterday", lang), LIFT
        return t("health.last_active", lang, days=days, day=fmt.day(last, lang)), DRAG if low or days > 7 else FACT
    if name == "nps":
        last_det, last_at = d.get("last_detractor_at"), d.get("last_at")
        if last_det is not None and last_at is not None and (last_at - last_det).days <= 90:
            return t("health.nps_detractor_on", lang, day=fmt.day(last_det, lang)), DRAG
        value = d["nps"]
        tone = DRAG if low or value < 0 else LIFT if value > 0 else FACT
        return t("health.nps_from", lang, value=fmt.score(value, signed=True), respondents=d["respondents"]), tone
    if name == "support":
        urgent, high, total = d["urgent"], d["high"], d["open"]
        if urgent:
            return _counted("health.urgent_open", urgent, lang), DRAG
        if high:
            return _counted("health.high_open", high, lang), DRAG
        if total:
            return _counted("health.tickets_open", total, lang), DRAG
        return t("health.no_open_tickets", lang), LIFT
    if name == "revenue":
        change, days = d["change"], d["days"]
        if abs(change) < 0.005:
            return t("health.mrr_flat", lang, days=days), DRAG if low else FACT
        pct = f"{abs(change) * 100:.0f}%"
        return (t("health.mrr_down", lang, pct=pct, days=days), DRAG) if change < 0 else \
            (t("health.mrr_up", lang, pct=pct, days=days), LIFT)
    if name == "onboarding":
        done, required = d["done"], d["required"]
        if done >= required:
            return t("health.onboarding_complete", lang), LIFT
        return (t("health.onboarding_progress", lang, done=done, required=required),
                DRAG if comp.score < 100 else FACT)
    return name, FACT


def component_words(name: str, comp: hm.ComponentScore, lang: str) -> str:
    """What a component says, in words: "usage down 40% in 14 days", "2 urgent tickets open"."""
    return component_fact(name, comp, lang)[0]


def _points(v: float) -> str:
    """Points of the total score, always signed: "+5", "-12"; "-<1" / "+<1" for a part of a point."""
    r = round(v)
    if r == 0:
        return "-<1" if v < 0 else "+<1"
    return f"{r:+d}"


def effect_words(name: str, comp: hm.ComponentScore, points: float, lang: str,
                 before: float | None = None) -> str:
    """One component's effect on the score, its words pointing the same way as its points:
    "usage -5 pts (62 → 45 of 100; usage down 17% in 30 days)". Words that point the other way
    ("usage down" for a component that raised the score) are left out; the score's move is said instead."""
    fact, tone = component_fact(name, comp, lang)
    sign = DRAG if points < 0 else LIFT
    parts = []
    if before is not None and comp.score is not None:
        parts.append(t("health.effect_change", lang, before=f"{before:.0f}", now=f"{comp.score:.0f}"))
    if tone in (sign, FACT):
        parts.append(fact)
    elif not parts:
        parts.append(t("health.effect_score", lang, score=f"{comp.score:.0f}"))
    return t("health.effect", lang, label=component_label(name, lang), points=_points(points),
             words=t("health.sep_words", lang).join(parts))


def _score_text(score: float | None) -> str:
    return "—" if score is None else str(hm.rounded(score))


def account_reply(view: hm.AccountView, lang: str, currency: str, model: hm.HealthModel,
                  match: Match | None = None) -> Reply:
    now, facts = view.now, view.facts
    band = band_label(now.band, lang)
    change = view.change
    score = _score_text(now.score)
    trend = ""
    if change is not None:
        trend = t("health.account_trend", lang, days=COMPARE_DAYS,
                  change="±0" if round(change) == 0 else f"{round(change):+d}")
    title = t("health.account_title", lang, name=facts.name, score=score, band=band, trend=trend)
    prev_score = view.before.score if view.before is not None else None
    figure = Figure(
        label=t("health.score_label", lang),
        value=f"{score} / 100 {BAND_EMOJI[now.band]} {band}",
        previous=None if prev_score is None else f"{_score_text(prev_score)} ({fmt.day(view.before_day, lang)})",
        change=None if change is None else f"{round(change):+d}",
        trend=0 if change is None or round(change) == 0 else (1 if change > 0 else -1),
        good=None if change is None or round(change) == 0 else change > 0,
    )
    lines: list[str] = []
    if match is not None and match.how == "typo":
        lines.append(t("health.showing_closest", lang, name=facts.name, query=match.query))
    if not now.paying:
        ended = t("health.not_paying_ended", lang, day=fmt.day(facts.churned_on, lang, year=True)) if facts.churned_on else ""
        lines.append(t("health.not_paying", lang, day=fmt.day(now.day, lang, year=True), ended=ended))
    drivers = t("health.sep_drivers", lang)
    movers = view.movers()
    moved: list[tuple[str, float]] = []
    if view.before is not None:
        moved = [(n, v) for n, v in movers if abs(v) >= 1.0][:3]
        if moved:
            for key, side in (("health.moved_down", [m for m in moved if m[1] < 0]),
                              ("health.moved_up", [m for m in moved if m[1] > 0])):
                if side:
                    words = drivers.join(effect_words(n, now.components[n], v, lang, view.before.components.get(n))
                                         for n, v in side)
                    lines.append(t(key, lang, days=COMPARE_DAYS, drivers=words))
        else:
            lines.append(t("health.about_same", lang, days=COMPARE_DAYS))
    named = {n for n, _ in moved}
    # What holds it below 100: each component's points short of full marks (always negative).
    weak = sorted(((n, comp.score, now.weights[n] * (comp.score - 100)) for n, comp in now.components.items()
                   if comp.score is not None and now.weights.get(n) and n not in named and comp.score < 100),
                  key=lambda x: x[1])
    low = [(n, p) for n, sc, p in weak if sc < LOW_COMPONENT][:3]
    if low:
        words = drivers.join(effect_words(n, now.components[n], p, lang) for n, p in low)
        lines.append(t("health.holding_down", lang, drivers=words))
    elif not moved and weak:
        words = drivers.join(effect_words(n, now.components[n], p, lang) for n, _, p in weak[:2])
        lines.append(t("health.short_of_full", lang, drivers=words))
    if now.left_out:
        names = t("health.sep_names", lang).join(component_label(n, lang) for n in now.left_out)
        lines.append(t("health.left_out", lang, names=names))
    if now.onboarding_phase:
        lines.append(t("health.onboarding_weights", lang))

    rows = _fact_rows(view, lang, currency)
    table = Table(columns=t_list("health.facts_columns", lang), rows=rows, title=t("health.facts_title", lang))
    how = []
    for name in hm.COMPONENTS:
        comp = now.components.get(name)
        if comp is None:
            continue
        label = component_label(name, lang)
        w = now.weights.get(name)
        if comp.score is None or not w:
            how.append(t("health.how_left_out", lang, label=label) if comp.score is None else
                       f"{label}: {_score_text(comp.score)} × 0%")
            continue
        how.append(f"{label}: {comp.score:.0f} × {w * 100:.0f}% = {comp.score * w:.1f} · {component_words(name, comp, lang)}")
    how.append(t("health.how_total", lang, score=score, bands=bands_text(model, lang)))
    scored = [n for n in hm.COMPONENTS if now.components.get(n) is not None and now.components[n].score is not None]
    chart = Chart(
        kind="bars",
        title=t("health.chart_components", lang, name=facts.name),
        subtitle=fmt.day(now.day, lang, year=True),
        labels=tuple(component_label(n, lang) for n in scored),
        series=(Series(t("health.series_now", lang), tuple(now.components[n].score for n in scored)),
                *((Series(t("health.series_before", lang, days=COMPARE_DAYS),
                           tuple(view.before.components.get(n) for n in scored)),) if view.before is not None else ())),
        unit="score",
        alt=f"{facts.name} health components",
    )
    return Reply(
        title=title, summary=title, language=lang, period=fmt.day(now.day, lang, year=True), figures=(figure,),
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
    f, now = view.facts, view.now
    day = now.day
    rows: list[tuple[str, str]] = [("MRR", fmt.money(f.mrr, currency))]
    rows.append((t("health.fact_plan", lang), f.plan or "—"))
    rows.append((t("health.fact_owner", lang), f.owner or t("health.unassigned", lang)))
    if f.renewal_date:
        left = (f.renewal_date - day).days
        when = t("health.renewal_in", lang, days=left) if left >= 0 else t("health.renewal_past", lang, days=-left)
        rows.append((t("health.fact_renewal", lang), f"{fmt.day(f.renewal_date, lang, year=True)} ({when})"))
    else:
        rows.append((t("health.fact_renewal", lang), "—"))
    if f.last_active:
        ago = (day - f.last_active).days
        rows.append((t("health.fact_last_activity", lang),
                     _counted("health.last_activity", ago, lang, day=fmt.day(f.last_active, lang, year=True), days=ago)))
    else:
        rows.append((t("health.fact_last_activity", lang), "—"))
    seats = "—"
    if f.seats:
        seats = f"{f.active_users_30} / {f.seats} ({fmt.percent(f.active_users_30 / f.seats)})"
    elif f.active_users_30:
        seats = f"{f.active_users_30} / —"
    rows.append((t("health.fact_seats", lang), seats))
    if f.nps_score is not None:
        kind = t("health.promoter" if f.nps_score >= 9 else "health.passive" if f.nps_score >= 7 else "health.detractor",
                 lang)
        rows.append((t("health.fact_nps", lang), f"{f.nps_score} ({kind}, {fmt.day(f.nps_at, lang, year=True)})"))
    else:
        rows.append((t("health.fact_nps", lang), "—"))
    if f.csat_score is not None:
        mean = ""
        if f.csat_mean_90 is not None:
            mean = t("health.csat_mean", lang, mean=f"{f.csat_mean_90:.1f}", answers=f.csat_answers_90)
        rows.append((t("health.fact_csat", lang), f"{f.csat_score}/5 ({fmt.day(f.csat_at, lang, year=True)}{mean})"))
    else:
        rows.append((t("health.fact_csat", lang), "—"))
    done, required = len(f.milestones_done), len(f.milestones_required)
    if required and done >= required:
        status = t("health.onboarding_done_on", lang, day=fmt.day(f.onboarding_done_at, lang, year=True))
    else:
        missing = ", ".join(fmt.milestone(m, lang) for m in f.milestones_required if m not in f.milestones_done)
        status = t("health.onboarding_to_do", lang, done=done, required=required, missing=missing)
    rows.append((t("health.fact_onboarding", lang), status))
    return tuple(rows)


# --------------------------------------------------------------------------- portfolio


def _portfolio(req: Request, day: date, filters: Filters, model: hm.HealthModel, *, mine: bool) -> Reply:
    lang, currency = req.lang, req.ctx.settings.currency
    with req.connection() as conn:
        pf = hm.portfolio(conn, day, filters, req.ctx.settings, model=model, compare_days=COMPARE_DAYS)
    scope = fmt.scope(filters, lang) if not filters.empty else ""
    if not pf.rows:
        if mine:
            msg = t("health.mine_empty", lang, who=" / ".join(filters.owner))
        else:
            msg = t("health.none_match", lang) + (f" ({scope})" if scope else "")
        return error_reply(msg, language=lang)
    c = pf.counts
    title = t("health.portfolio_title", lang, who=t("health.your_book" if mine else "health.portfolio", lang),
              total=pf.total, mean=_score_text(pf.mean_score), red=c["red"], yellow=c["yellow"], green=c["green"])
    figures = tuple(
        Figure(label=f"{BAND_EMOJI[b]} {band_label(b, lang)}",
               value=t("health.band_figure", lang, count=c[b], mrr=fmt.money(pf.mrr[b], currency)))
        for b in hm.BANDS)
    # At risk = red or yellow, exactly the accounts the band counts name; red first, then yellow
    # (the portfolio's order). A green account is never listed as at risk.
    risky = [r for r in pf.rows if r.band in hm.RISKY_BANDS]
    if risky:
        shown = risky[:AT_RISK_ROWS]
        table_title = t("health.at_risk_title", lang, red=c["red"], yellow=c["yellow"])
    else:
        shown = sorted(pf.rows, key=lambda r: (r.score is None, r.score or 0.0, -r.mrr))[:AT_RISK_ROWS]
        table_title = t("health.lowest_title", lang)
    body = tuple((r.name, f"{_score_text(r.score)} {BAND_EMOJI[r.band]}",
                  "—" if r.change is None else f"{round(r.change):+d}", fmt.money(r.mrr, currency), r.owner or "—")
                 for r in shown)
    days = (pf.day - pf.before_day).days  # COMPARE_DAYS, or more when compared with the nearest earlier snapshots
    table = Table(columns=t_list("health.portfolio_columns", lang, days=days), rows=body,
                  total_rows=len(risky) if risky else pf.total, title=table_title)
    total_mrr = sum(pf.mrr.values())
    lines = []
    if total_mrr:
        share = sum(pf.mrr[b] for b in hm.RISKY_BANDS) / total_mrr
        lines.append(t("health.risky_mrr_share", lang, share=fmt.percent(share)))
    if days != COMPARE_DAYS:
        lines.append(t("health.compared_with", lang, day=fmt.day(pf.before_day, lang, year=True), days=COMPARE_DAYS))
    falling = [r for r in pf.rows if r.band == "green" and r.change is not None and r.change <= -FALLING_POINTS]
    if falling:
        names = t("health.sep_names", lang).join(
            t("health.falling_one", lang, name=r.name, change=f"{round(r.change):+d}")
            for r in falling[:FALLING_NAMES])
        more = len(falling) - FALLING_NAMES
        lines.append(_counted("health.falling_green", len(falling), lang, days=days, points=FALLING_POINTS,
                              names=names + (t("health.falling_more", lang, more=more) if more > 0 else "")))
    period_text = fmt.day(day, lang, year=True) + (f" · {scope}" if scope else "")
    chart = Chart(kind="donut", title=t("health.chart_bands", lang), subtitle=period_text,  # a shared image names its scope
                  labels=tuple(band_label(b, lang) for b in hm.BANDS), roles=tuple(f"band_{b}" for b in hm.BANDS),
                  series=(Series("accounts", tuple(float(c[b]) for b in hm.BANDS)),), unit="count",
                  alt=f"{c['red']} red, {c['yellow']} yellow, {c['green']} green")
    buttons = tuple(Button("csbot_pick", r.name, f"health {r.account_id}") for r in shown[:5])
    return Reply(title=title, summary=title, language=lang, period=period_text, figures=figures, lines=tuple(lines),
                 table=table, chart=chart, buttons=buttons, revenue=True, how=model_how(model, lang),
                 data={"day": day.isoformat(), "compared_with": pf.before_day.isoformat(), "accounts": pf.total,
                       "mean_score": pf.mean_score, "counts": c, "mrr": pf.mrr, "at_risk": [r.account_id for r in risky]})


# --------------------------------------------------------------------------- dropped to red


def _dropped(req: Request, period: Period | None, filters: Filters, model: hm.HealthModel) -> Reply:
    lang, currency = req.lang, req.ctx.settings.currency
    today = req.ctx.today
    if period is None:
        period = Period(today - timedelta(days=6), today + timedelta(days=1), grain="days")
    with req.connection() as conn:
        report = hm.dropped_to_red(conn, period.start, period.end, filters, req.ctx.settings, today=today, model=model)
    n = len(report.drops)
    title = _counted("health.dropped_title", n, lang, when=fmt.period_line(period, filters, lang))
    lines = []
    if not report.from_snapshots:
        lines.append(t("health.dropped_computed", lang))
    if not n:
        lines.append(t("health.dropped_none", lang))
    body = tuple((d.name, _score_text(d.score), band_label(d.from_band, lang), fmt.day(d.day, lang),
                  fmt.money(d.mrr, currency), d.owner or "—") for d in report.drops[:15])
    table = Table(columns=t_list("health.dropped_columns", lang), rows=body, total_rows=n) if n else None
    buttons = tuple(Button("csbot_pick", d.name, f"health {d.account_id}") for d in report.drops[:5])
    return Reply(title=title, summary=title, language=lang, period=fmt.period(period, lang), lines=tuple(lines),
                 table=table, buttons=buttons, revenue=True,
                 data={"accounts": [d.account_id for d in report.drops], "from_snapshots": report.from_snapshots})


# --------------------------------------------------------------------------- backtest


def _auc_text(auc: float | None) -> str:
    return "—" if auc is None else f"{auc:.2f}"


def backtest_report(r: hm.BacktestResult, lang: str) -> tuple[str, ...]:
    """The backtest as plain-text lines (the CLI prints them): a heading, the shares
    flagged, the AUC, and a table of the months."""
    def pct(v: float | None) -> str:
        return "—" if v is None else f"{v * 100:.1f}%"

    lines = [
        t("health.backtest_heading", lang, months=len(r.months), lead_days=r.lead_days),
        t("health.backtest_churned", lang, share=pct(r.share_churned_flagged), flagged=r.churned_flagged,
          churned=r.churned, red=r.churned_red),
        t("health.backtest_stayed", lang, share=pct(r.share_stayed_flagged), flagged=r.stayed_flagged, stayed=r.stayed),
        t("health.backtest_auc", lang, auc=_auc_text(r.auc)),
        t("health.backtest_vs_churn", lang, lead_days=r.lead_days),
        "",
        t("health.backtest_table_head", lang),
    ]
    for m in r.months:
        lines.append(f"  {m.month.strftime('%Y-%m')}   {m.as_of.isoformat()}  {m.accounts:8d}  {m.churned:7d}  "
                     f"{m.churned_flagged:7d}  {_auc_text(m.auc)}")
    return tuple(lines)


def _backtest(req: Request, months: int, model: hm.HealthModel) -> Reply:
    lang = req.lang
    result = hm.backtest(req.ctx.db.engine, months, req.ctx.settings, today=req.ctx.today, model=model)
    auc = _auc_text(result.auc)
    title = t("health.backtest_title", lang, months=months, auc=auc)
    figures = (
        Figure(label=t("health.backtest_churned_flagged", lang), value=fmt.percent(result.share_churned_flagged)),
        Figure(label=t("health.backtest_stayed_flagged", lang), value=fmt.percent(result.share_stayed_flagged)),
        Figure(label="ROC AUC", value=auc),
    )
    body = tuple((m.month.strftime("%Y-%m"), m.as_of.isoformat(), str(m.accounts), str(m.churned),
                  str(m.churned_flagged), _auc_text(m.auc)) for m in result.months)
    return Reply(title=title, summary=title, language=lang, figures=figures, lines=backtest_report(result, lang)[1:5],
                 table=Table(columns=t_list("health.backtest_columns", lang), rows=body),
                 how=(t("health.backtest_how", lang),), data=result.to_json())
