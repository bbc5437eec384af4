"""digest: the daily KPI digest in words: the headline and thread a digest posts, an alert's post,
``/cs digest`` (preview, subscribe, list, unsubscribe, log, alert, alerts) and the admin reports.

The digest itself is two ``Reply`` values: a short headline (MRR and its change,
customer churn month to date, NRR last month, NPS last 30 days, accounts in red)
and a thread reply with what changed since the last digest. ``bot/jobs/`` posts
them; ``/cs digest preview`` shows them now. Every sentence is in
``commands/messages/digest.toml``; the state is in ``metrics/digest_store.py``
and the numbers in ``metrics/digest_queries.py``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from commands import format as fmt
from commands.arguments import ME_WORDS, UsageError, asker_ids, parse_args
from commands.context import Context, NoData, Request, freshness
from commands.messages import t, t_list
from commands.metric_answer import figure
from commands.movements import movements_chart
from commands.periods import parse_period
from commands.privacy import is_revenue_channel, may_manage
from commands.reply import Chart, Figure, Reply, Series
from commands.spec import command
from metrics import digest_queries as queries
from metrics import digest_store as store
from metrics.calc import Calc
from metrics.compute import compute_metric
from metrics.db import Database, is_empty, last_successful_sync
from metrics.filters import NO_FILTERS, Filters
from metrics.periods import Period
from metrics.renewals import renewals
from metrics.revenue import movement_accounts, movements
from metrics.settings import Settings

LIST_LIMIT = 8  # accounts named per section of the thread
RENEWAL_DAYS = 30
NPS_DAYS = 30
DEFAULT_TIME = "09:00"
ADMIN_LANG = "en"  # reports to CSBOT_ADMIN_CHANNEL are for whoever runs csbot

SUBCOMMANDS = {
    "preview": "preview", "プレビュー": "preview", "now": "preview", "今": "preview",
    "subscribe": "subscribe", "購読": "subscribe", "登録": "subscribe", "add": "subscribe",
    "list": "list", "一覧": "list", "subscriptions": "list",
    "unsubscribe": "unsubscribe", "解除": "unsubscribe", "remove": "unsubscribe", "stop": "unsubscribe",
    "log": "log", "履歴": "log", "ログ": "log", "history": "log",
    "alert": "alert", "アラート": "alert",
    "alerts": "alerts", "アラート一覧": "alerts",
}
HERE_WORDS = ("here", "ここ", "このチャンネル")
SCHEDULE_WORDS = {
    "daily": "daily", "毎日": "daily", "everyday": "daily",
    "weekdays": "weekdays", "weekday": "weekdays", "平日": "weekdays",
    "weekly": "weekly", "monday": "weekly", "mondays": "weekly", "毎週": "weekly", "月曜": "weekly",
    "毎週月曜": "weekly", "月曜日": "weekly",
}
OFF_WORDS = ("off", "オフ", "解除", "remove", "stop")
KIND_WORDS = {
    "red": "red", "レッド": "red", "赤": "red",
    "churn": "churn", "解約": "churn",
    "contraction": "contraction", "縮小": "contraction", "downgrade": "contraction",
    "detractor": "detractor", "detractors": "detractor", "批判者": "detractor",
}
STATUS_ICON = {"sent": ":white_check_mark:", "failed": ":x:", "skipped": ":fast_forward:", "claimed": ":hourglass:"}
MOVEMENT_KINDS = ("churn", "new", "expansion", "contraction")

_CHANNEL = re.compile(r"^<#([CGD][A-Z0-9]+)(?:\|([^>]*))?>$")
_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{6,}$")
_CHANNEL_REF = re.compile(r"[CGD][A-Z0-9]+")
_FILTER = re.compile(r"^[a-z_]+:(?!//).+$", re.I)
_AMOUNT = re.compile(r"^[¥$€£]?(\d[\d,]*(?:\.\d+)?)\s*([kmKM万]?)$")
_TIME = re.compile(r"^(\d{1,2})(?::(\d{2}))?\s*(am|pm)?$", re.I)
_TIME_JA = re.compile(r"^(?:(午前|午後))?(\d{1,2})時(?:(\d{1,2})分|半)?$")
_TIMELIKE = re.compile(r"[\d:：.]+(?:am|pm)?|.*時.*", re.I)


# ---------------------------------------------------------------------------- reading words

def parse_time(text: str) -> str | None:
    """"9:00", "09:30", "9am", "6:15pm", "9時", "9時30分", "午後6時半" -> "HH:MM"; None if not a time."""
    text = text.strip()
    m = _TIME.match(text)
    if m and (m.group(2) is not None or m.group(3)):
        hour, minute, ampm = int(m.group(1)), int(m.group(2) or 0), (m.group(3) or "").lower()
        if ampm:
            if not 1 <= hour <= 12:
                return None
            hour = hour % 12 + (12 if ampm == "pm" else 0)
    else:
        m = _TIME_JA.match(text)
        if not m:
            return None
        hour = int(m.group(2))
        minute = 30 if text.endswith("半") else int(m.group(3) or 0)
        if m.group(1) == "午後" and hour < 12:
            hour += 12
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        return None
    return f"{hour:02d}:{minute:02d}"


def parse_amount(word: str) -> float | None:
    m = _AMOUNT.match(word.strip())
    if not m:
        return None
    value = float(m.group(1).replace(",", ""))
    return value * {"": 1, "k": 1e3, "m": 1e6, "万": 1e4}[m.group(2).lower()]


def channel_ref(channel: str) -> str:
    """A channel for a Slack message: a link for an ID (``fmt.slack_ref``), "#name" as it is."""
    return fmt.slack_ref("channel", channel) if _CHANNEL_REF.fullmatch(channel) else channel


@dataclass(frozen=True)
class Target:
    kind: str  # channel | dm
    channel: str
    name: str | None = None

    def mention(self) -> str:
        return fmt.slack_ref("user", self.channel) if self.kind == "dm" else channel_ref(self.channel)


def parse_channel(word: str, ctx: Context | None = None, lang: str = "en") -> Target | None:
    """A channel as Slack sends it (``<#C123|general>``), a channel ID, ``#name``, or ``here``."""
    m = _CHANNEL.match(word)
    if m:
        return Target("channel", m.group(1), m.group(2) or None)
    if _CHANNEL_ID.match(word):
        return Target("channel", word)
    if word.startswith("#") and len(word) > 1:
        return Target("channel", word, word[1:])
    if ctx is not None and word.lower() in HERE_WORDS:
        if not ctx.channel_id:
            raise UsageError(t("digest.here_needs_channel", lang))
        return Target("channel", ctx.channel_id)
    return None


def _split_filters(words: list[str], ctx: Context, lang: str) -> tuple[Filters, list[str]]:
    """Filters (``segment:enterprise``, ``owner:@alice``) through the shared parser; the rest as words."""
    tokens = [w for w in words if _FILTER.match(w)]
    rest = [w for w in words if not _FILTER.match(w)]
    filters = parse_args(" ".join(tokens), ctx, lang).filters if tokens else NO_FILTERS
    return filters, rest


def _me_filters(filters: Filters, ctx: Context, lang: str) -> Filters:
    ids = asker_ids(ctx)
    if not ids:
        raise UsageError(t("digest.me_needs_user", lang))
    return replace(filters, owner=ids)


# ---------------------------------------------------------------------------- dates and places in words


def when_text(sub: store.Subscription, lang: str) -> str:
    """"daily 09:00 Asia/Tokyo" / "毎日 09:00 Asia/Tokyo"."""
    return t("digest.when", lang, schedule=t(f"digest.schedule_{sub.schedule}", lang), time=sub.local_time,
             zone=sub.tz)


def where(target: str, channel: str) -> str:
    """The target as Slack shows it: a link to the channel, or to the user of a DM."""
    return fmt.slack_ref("user", channel) if target == "dm" else channel_ref(channel)


def where_text(target: str, channel: str, channel_name: str | None) -> str:
    """The target for a terminal."""
    if target == "dm":
        return f"DM {channel}"
    return f"#{channel_name}" if channel_name else channel


# ---------------------------------------------------------------------------- /cs digest

@command(
    "digest",
    example="digest subscribe #cs-team 09:00",
    aliases=("ダイジェスト",),
    needs_data=False,
)
def digest_command(req: Request) -> Reply:
    """digest [preview|subscribe|list|unsubscribe|log|alert|alerts] ..."""
    words = req.args.split()
    lang = req.lang
    if not words:
        return _usage_reply(lang)
    sub = SUBCOMMANDS.get(words[0].lower())
    rest = words[1:]
    if sub is None:
        if _FILTER.match(words[0]) or words[0].lower() in ME_WORDS:
            sub, rest = "preview", words  # "digest segment:enterprise" = a preview
        else:
            raise UsageError(t("digest.unknown_subcommand", lang, word=words[0],
                               usage=" · ".join(t_list("digest.usage", lang))))
    return {
        "preview": _preview, "subscribe": _subscribe, "list": _list, "unsubscribe": _unsubscribe,
        "log": _log, "alert": _alert, "alerts": _alerts,
    }[sub](req, rest)


def _info(lang: str, title: str, *lines: str, data: dict | None = None) -> Reply:
    summary = lines[0].replace("*", "") if lines else title
    return Reply(title=title, summary=summary, kind="info", language=lang, lines=lines, data=data or {})


def _usage_reply(lang: str) -> Reply:
    title = t("digest.title", lang)
    return Reply(title=title, summary=title, kind="help", language=lang,
                 lines=tuple(f"• {x}" for x in t_list("digest.usage", lang)))


def _preview(req: Request, words: list[str]) -> Reply:
    ctx, lang = req.ctx, req.lang
    filters, rest = _split_filters(words, ctx, lang)
    for w in rest:
        if w.lower() in ME_WORDS:
            filters = _me_filters(filters, ctx, lang)
        else:
            raise UsageError(t("digest.not_a_filter", lang, word=w))
    if is_empty(ctx.db.engine):
        raise NoData()
    d = build_digest(ctx.db, ctx.settings, now=ctx.now, filters=filters, lang=lang, revenue=True)
    head, thread = d.headline, d.thread
    return replace(head, lines=head.lines + ("",) + (f"*{thread.title}*",) + thread.lines, chart=d.chart,
                   footer=freshness(ctx, lang))


# ---------------------------------------------------------------------------- the digest

@dataclass(frozen=True)
class Digest:
    headline: Reply
    thread: Reply
    chart: Chart | None
    stale: bool
    revenue_shown: bool
    since: date


def build_digest(db: Database, settings: Settings, *, now: datetime, filters: Filters = NO_FILTERS,
                 lang: str = "en", revenue: bool = True, since: date | None = None,
                 since_at: datetime | None = None, schedule: str = "daily") -> Digest:
    """The digest at ``now``: headline and thread. ``since``: the local day of the last digest
    (default: yesterday, or a week ago for a weekly one); ``since_at``: when it was posted
    (new detractor answers are those after it). ``revenue``: show revenue figures."""
    lang = lang if lang in ("en", "ja") else "en"
    tz = settings.tz
    currency = settings.currency
    today = now.astimezone(tz).date()
    if since is None or since >= today:
        since = today - timedelta(days=7 if schedule == "weekly" else 1)
    local_since = (since_at.astimezone(tz).replace(tzinfo=None) if since_at is not None
                   else datetime.combine(since, time()))
    local_now = now.astimezone(tz).replace(tzinfo=None)
    engine = db.engine
    mtd = parse_period("this-month", today)
    last_month = parse_period("last-month", today)
    nps_period = Period(today - timedelta(days=NPS_DAYS - 1), today + timedelta(days=1), "days")
    changes = Period(since, today)

    with engine.connect() as conn:
        calc = Calc(conn, settings)

        def metric(name: str, period: Period):
            return compute_metric(conn, name, period, filters, settings, calc=calc)

        churn = metric("customer_churn_rate", mtd)
        nps = metric("nps", nps_period)
        figures: list[Figure] = []
        if revenue:
            figures.append(figure(metric("mrr", mtd), lang, currency, label=t("digest.label_mrr", lang)))
        figures.append(figure(churn, lang, currency, label=t("digest.label_churn", lang)))
        if revenue:
            month = t_list("digest.months", lang)[last_month.start.month - 1]
            figures.append(figure(metric("nrr", last_month), lang, currency,
                                  label=t("digest.label_nrr", lang, month=month)))
        figures.append(figure(nps, lang, currency, label=t("digest.label_nps", lang)))
        red = queries.red_accounts(conn, today, filters)
        figures.append(Figure(label=t("digest.label_red", lang), value="—" if red is None else f"{red:,}"))

        moves = movements(calc, changes, filters)
        lists = {kind: movement_accounts(calc, changes, filters, kind, limit=LIST_LIMIT) for kind in MOVEMENT_KINDS}
        reds = queries.moved_to_red(conn, since, today, filters)
        renew, renew_total = renewals(conn, today, RENEWAL_DAYS, filters, limit=LIST_LIMIT)
        detract, detract_total = queries.detractors(conn, local_since, local_now, filters, limit=LIST_LIMIT)

    # Headline
    head_lines: list[str] = []
    synced = last_successful_sync(engine)
    stale = synced is not None and now - synced > timedelta(hours=settings.stale_sync_hours)
    if stale:
        hours = (now - synced).total_seconds() / 3600
        head_lines.append(t("digest.stale", lang, when=fmt.stamp(synced, tz, lang), hours=f"{hours:.0f}",
                            limit=f"{settings.stale_sync_hours:g}"))
    if not filters.empty:
        head_lines.append(t("digest.filtered", lang, filters=fmt.scope(filters, lang)))
    if not revenue:
        head_lines.append(t("digest.revenue_left_out", lang))
    title = t("digest.headline", lang, weekday=t_list("digest.headline_weekdays", lang)[today.weekday()],
              date=fmt.day(today, lang))
    summary_bits = [f"{f.label} {f.value}" for f in figures]
    headline = Reply(title=title, summary=f"{title}: " + ", ".join(summary_bits), language=lang,
                     figures=tuple(figures), lines=tuple(head_lines), revenue=revenue,
                     footer=_footer(synced, tz, lang),
                     data={"stale": stale, "red": red, "revenue": revenue, "since": since.isoformat()})

    # Thread: what changed
    lines: list[str] = []

    def names(rows: list[dict], total: int, amount: bool) -> str:
        parts = [f"{r['name']} ({fmt.money(r['amount'], currency)})" if amount else str(r["name"]) for r in rows]
        more = total - len(rows)
        if more > 0:
            parts.append(t("digest.and_more", lang, n=more))
        return ", ".join(parts)

    for kind in MOVEMENT_KINDS:
        rows, total = lists[kind]
        if not total:
            continue
        head = f"*{t(f'digest.{kind}', lang)}* {total}"
        if revenue:
            head += f" ({fmt.money(moves.amounts[kind], currency)})"
        lines.append(f"{head}: {names(rows, total, revenue)}")
    if reds:
        shown = reds[:LIST_LIMIT]
        text = ", ".join(f"{r['name']} ({fmt.score(r['score'])})" if r["score"] is not None else str(r["name"])
                         for r in shown)
        if len(reds) > len(shown):
            text += t("digest.list_and_more", lang, n=len(reds) - len(shown))
        lines.append(f"*{t('digest.moved_to_red', lang)}* {len(reds)}: {text}")
    if renew_total:
        text = ", ".join(f"{r['name']} ({fmt.day(r['renewal_date'], lang)})" for r in renew)
        if renew_total > len(renew):
            text += t("digest.list_and_more", lang, n=renew_total - len(renew))
        lines.append(f"*{t('digest.renewals', lang, days=RENEWAL_DAYS)}* {renew_total}: {text}")
    if detract_total:
        lines.append(f"*{t('digest.new_detractors', lang)}* {detract_total}:")
        for r in detract:
            comment = (r["comment"] or "").strip().replace("\n", " ")
            if len(comment) > 200:
                comment = comment[:199] + "…"
            quote = f" “{comment}”" if comment else ""
            lines.append(f"• {r['name']} {r['score']}/10{quote}")
        if detract_total > len(detract):
            lines.append(t("digest.bullet_and_more", lang, n=detract_total - len(detract)))
    if not lines:
        lines.append(t("digest.no_changes", lang))
    thread_title = t("digest.thread_title", lang, date=fmt.day(since, lang))
    thread = Reply(title=thread_title, summary=thread_title, language=lang,
                   lines=tuple(lines), revenue=revenue,
                   data={kind: [r["account_id"] for r in lists[kind][0]] for kind in lists}
                   | {"red": [r["account_id"] for r in reds], "renewals": [r["account_id"] for r in renew],
                      "detractors": [r["response_id"] for r in detract]})

    chart = _chart(moves, changes, reds, lists, lang, currency, revenue)
    return Digest(headline, thread, chart, stale, revenue, since)


def _footer(synced: datetime | None, tz: ZoneInfo, lang: str) -> str:
    if synced is None:
        return t("digest.footer_never_synced", lang)
    return t("digest.footer_synced", lang, when=fmt.stamp(synced, tz, lang))


def _chart(moves, period: Period, reds, lists, lang: str, currency: str, revenue: bool) -> Chart:
    if revenue:
        return movements_chart(moves, period, lang, currency)
    counts = (lists["new"][1], lists["expansion"][1], lists["contraction"][1], lists["churn"][1], len(reds))
    return Chart(
        kind="bars",
        title=t("digest.chart_title", lang),
        subtitle=fmt.period(period, lang),
        labels=t_list("digest.chart_labels", lang),
        series=(Series(t("digest.chart_series", lang), tuple(float(c) for c in counts)),),
        unit="count",
        alt="Accounts that changed: " + ", ".join(f"{n} {c}" for n, c in zip(
            ("new", "expanded", "contracted", "churned", "to red"), counts)),
    )


# ---------------------------------------------------------------------------- an alert's post

def alert_reply(alert: store.Alert, event: queries.AlertEvent, settings: Settings, *, revenue: bool) -> Reply:
    """The message an alert posts: one line naming the account and what happened."""
    lang = alert.lang if alert.lang in ("en", "ja") else "en"
    currency = settings.currency
    name = event.account_name or event.account_id or "?"
    owner = t("digest.alert_owner", lang, owner=event.owner) if event.owner else ""
    day = fmt.day(event.day, lang)
    if event.kind == "red":
        score = f" ({fmt.score(event.score)})" if event.score is not None else ""
        text = t("digest.alert_red", lang, name=name, score=score, day=day, owner=owner)
    elif event.kind in ("churn", "contraction"):
        if revenue and event.amount is not None:
            amount = t("digest.alert_lost", lang, amount=fmt.money(event.amount, currency))
        elif alert.threshold:
            amount = t("digest.alert_at_least", lang, amount=fmt.money(alert.threshold, currency))
        else:
            amount = ""
        text = t(f"digest.alert_{event.kind}", lang, name=name, amount=amount, day=day, owner=owner)
    else:
        comment = f" “{event.comment.strip()}”" if event.comment and event.comment.strip() else ""
        score = fmt.score(event.score) if event.score is not None else "?"
        text = t("digest.alert_detractor", lang, name=name, score=score, comment=comment, owner=owner)
    return Reply(title=text, summary=text.replace("*", ""), kind="info", language=lang,
                 lines=(text,), revenue=revenue and event.kind in ("churn", "contraction"),
                 data={"kind": event.kind, "account_id": event.account_id, "key": event.key})


# ---------------------------------------------------------------------------- subscriptions

def _subscribe(req: Request, words: list[str]) -> Reply:
    ctx, lang, settings = req.ctx, req.lang, req.ctx.settings
    usage = t("digest.subscribe_usage", lang)
    filters, rest = _split_filters(words, ctx, lang)
    target: Target | None = None
    local_time: str | None = None
    tz_name = settings.timezone
    schedule = "daily"
    for w in rest:
        low = w.lower()
        if low in ME_WORDS:
            if not ctx.user_id:
                raise UsageError(t("digest.subscribe_me_outside_slack", lang))
            target = Target("dm", ctx.user_id)
            filters = _me_filters(filters, ctx, lang)
            continue
        channel = parse_channel(w, ctx, lang)
        if channel is not None:
            target = channel
            continue
        if low in SCHEDULE_WORDS:
            schedule = SCHEDULE_WORDS[low]
            continue
        parsed = parse_time(w)
        if parsed is not None:
            local_time = parsed
            continue
        if _TIMELIKE.fullmatch(w):
            raise UsageError(t("digest.bad_time", lang, word=w))
        if "/" in w or w.upper() in ("UTC", "GMT"):
            found = store.zone(w)
            if found is None:
                raise UsageError(t("digest.bad_zone", lang, word=w))
            tz_name = found.key
            continue
        raise UsageError(t("digest.dont_understand", lang, word=w, usage=usage))
    if target is None:
        raise UsageError(t("digest.which_channel", lang, usage=usage))
    defaulted = local_time is None
    local_time = local_time or DEFAULT_TIME
    existing = store.find_same(ctx.db.engine, target=target.kind, channel=target.channel, local_time=local_time,
                               tz=tz_name, schedule=schedule, filters=filters)
    if existing is not None:
        return _info(lang, t("digest.already_title", lang),
                     t("digest.already", lang, where=target.mention(), id=existing.id), data={"id": existing.id})
    sub = store.create_subscription(
        ctx.db.engine, target=target.kind, channel=target.channel, channel_name=target.name, local_time=local_time,
        tz=tz_name, schedule=schedule, filters=filters, lang=lang, created_by=ctx.user_id, now=ctx.now)
    nxt = store.next_run(sub, ctx.now)
    when = when_text(sub, lang)
    title = t("digest.subscribed_title", lang, when=when)
    lines = [t("digest.subscribed", lang, where=target.mention(), when=when, id=sub.id)]
    if nxt is not None:
        lines.append(t("digest.next_digest", lang, when=fmt.stamp(nxt, sub.zone, lang)))
    if defaulted:
        lines.append(t("digest.default_time", lang))
    if not filters.empty:
        lines.append(t("digest.filters", lang, filters=fmt.scope(filters, lang)))
    if target.kind == "channel":
        if not is_revenue_channel(settings, target.channel, revenue_ids=ctx.revenue_channel_ids):
            lines.append(t("digest.not_revenue_channel", lang))
        lines.append(t("digest.invite", lang))
    lines.append(t("digest.stop_it", lang, id=sub.id))
    return Reply(title=title, summary=title, kind="info", language=lang, lines=tuple(lines), data={"id": sub.id})


def _list(req: Request, words: list[str]) -> Reply:
    ctx, lang = req.ctx, req.lang
    subs = store.list_subscriptions(ctx.db.engine)
    if not subs:
        return _info(lang, t("digest.no_subscriptions_title", lang), t("digest.no_subscriptions", lang),
                     data={"ids": []})
    lines = []
    for s in subs:
        nxt = store.next_run(s, ctx.now)
        parts = [f"*{s.id}*", where(s.target, s.channel), when_text(s, lang)]
        if not s.filters.empty:
            parts.append(fmt.scope(s.filters, lang) if s.target != "dm" else t("digest.your_accounts", lang))
        if nxt is not None:
            parts.append(t("digest.next", lang, when=fmt.stamp(nxt, s.zone, lang)))
        lines.append(" · ".join(parts))
    title = t("digest.subscriptions_title", lang, n=len(subs))
    return Reply(title=title, summary=title, kind="info", language=lang, lines=tuple(lines),
                 data={"ids": [s.id for s in subs]})


def _unsubscribe(req: Request, words: list[str]) -> Reply:
    ctx, lang = req.ctx, req.lang
    usage = t("digest.unsubscribe_usage", lang)
    if len(words) != 1:
        raise UsageError(usage)
    w = words[0]
    if w.isdigit():
        _may_change(ctx, lang, [s for s in [store.get_subscription(ctx.db.engine, int(w))] if s and s.active])
        ids = store.unsubscribe(ctx.db.engine, sub_id=int(w), now=ctx.now)
    elif w.lower() in ME_WORDS:
        if not ctx.user_id:
            raise UsageError(usage)
        ids = [s.id for s in store.list_subscriptions(ctx.db.engine, channel=ctx.user_id) if s.target == "dm"]
        for i in ids:
            store.unsubscribe(ctx.db.engine, sub_id=i, now=ctx.now)
    else:
        target = parse_channel(w, ctx, lang)
        if target is None:
            raise UsageError(usage)
        _may_change(ctx, lang, store.list_subscriptions(ctx.db.engine, channel=target.channel))
        ids = store.unsubscribe(ctx.db.engine, channel=target.channel, now=ctx.now)
    if not ids:
        raise UsageError(t("digest.no_match", lang, word=w))
    return _info(lang, t("digest.unsubscribed_title", lang),
                 t("digest.unsubscribed", lang, ids=", ".join(str(i) for i in ids)), data={"ids": ids})


def _may_change(ctx: Context, lang: str, items: list) -> None:
    """Only the person who set a digest or alert up (a DM digest: its subscriber) or a CSBOT_ADMINS
    user may end it (commands.privacy.may_manage); the console and the CLI (no Slack user) may."""
    if ctx.user_id is None:
        return
    for item in items:
        owner = item.channel if getattr(item, "target", None) == "dm" else item.created_by  # Subscription, Alert
        if not may_manage(ctx.settings, ctx.user_id, owner):
            raise UsageError(t("slack.not_allowed", lang))


# ---------------------------------------------------------------------------- the delivery log

def log_lines(entries: list[store.LogEntry], tz: ZoneInfo, lang: str, *, slack: bool = True) -> list[str]:
    """One line per delivery; ``slack``: with icons and channel mentions, else for a terminal."""
    out = []
    for e in entries:
        when = fmt.stamp(e.at, tz, lang)
        place = where(e.target, e.channel) if slack else where_text(e.target, e.channel, e.channel_name)
        status = t(f"digest.status_{e.status}", lang) if e.status in STATUS_ICON else e.status
        icon = (STATUS_ICON.get(e.status, "") + " ") if slack else ""
        sub = (t("digest.log_subscription", lang, id=e.subscription_id) if e.subscription_id
               else t("digest.log_by_hand", lang))
        line = f"{icon}{when} · {status} · {place} · {sub} · {e.local_date.isoformat()}"
        if e.reason:
            line += f" · {e.reason}"
        out.append(line)
    return out


def _log(req: Request, words: list[str]) -> Reply:
    ctx, lang = req.ctx, req.lang
    entries = store.delivery_log(ctx.db.engine, limit=20)
    if not entries:
        return _info(lang, t("digest.log_empty", lang))
    title = t("digest.log_title", lang)
    return Reply(title=title, summary=title, kind="info", language=lang,
                 lines=tuple(log_lines(entries, ctx.settings.tz, lang)),
                 data={"statuses": [e.status for e in entries]})


# ---------------------------------------------------------------------------- alert rules

def _alert(req: Request, words: list[str]) -> Reply:
    ctx, lang, settings = req.ctx, req.lang, req.ctx.settings
    usage = t("digest.alert_usage", lang)
    off = bool(words) and words[0].lower() in OFF_WORDS
    if off:
        words = words[1:]
    target: Target | None = None
    kind: str | None = None
    threshold: float | None = None
    for w in words:
        channel = parse_channel(w, ctx, lang)
        if channel is not None:
            target = channel
            continue
        if w.lower() in KIND_WORDS:
            kind = KIND_WORDS[w.lower()]
            continue
        amount = parse_amount(w)
        if amount is not None and not off:
            threshold = amount
            continue
        raise UsageError(t("digest.dont_understand", lang, word=w, usage=usage))
    if target is None or target.kind != "channel" or (kind is None and not off):
        raise UsageError(usage)
    if off:
        _may_change(ctx, lang, [a for a in store.list_alerts(ctx.db.engine)
                                if a.channel == target.channel and (kind is None or a.kind == kind)])
        n = store.remove_alert(ctx.db.engine, channel=target.channel, kind=kind)
        if not n:
            raise UsageError(t("digest.no_such_alert", lang, where=target.mention()))
        return _info(lang, t("digest.alert_off_title", lang),
                     t("digest.alert_off", lang, kind=kind or t("digest.all_kinds", lang), where=target.mention()))
    if threshold is not None and kind not in ("churn", "contraction"):
        raise UsageError(t("digest.amount_only_for_money", lang))
    alert, created = store.set_alert(ctx.db.engine, channel=target.channel, channel_name=target.name, kind=kind,
                                     threshold=threshold, lang=lang, created_by=ctx.user_id, now=ctx.now)
    what = t(f"digest.when_{kind}", lang)
    if threshold is not None:
        what += t("digest.by_at_least", lang, amount=fmt.money(threshold, settings.currency))
    key = "alert_on" if created else "alert_updated"
    return _info(lang, t(f"digest.{key}_title", lang), t(f"digest.{key}", lang, where=target.mention(), what=what),
                 data={"id": alert.id})


def _alerts(req: Request, words: list[str]) -> Reply:
    ctx, lang = req.ctx, req.lang
    alerts = store.list_alerts(ctx.db.engine)
    if not alerts:
        return _info(lang, t("digest.no_alerts_title", lang), t("digest.no_alerts", lang), data={"alerts": []})
    lines = []
    for a in alerts:
        text = f"{channel_ref(a.channel)} · {a.kind}"
        if a.threshold is not None:
            text += f" ≥ {fmt.money(a.threshold, ctx.settings.currency)}"
        lines.append(text)
    title = t("digest.alerts_title", lang, n=len(alerts))
    return Reply(title=title, summary=title, kind="info", language=lang, lines=tuple(lines),
                 data={"alerts": [(a.channel, a.kind, a.threshold) for a in alerts]})


# ---------------------------------------------------------------------------- reports to the admin channel

def admin_digest_failed(sub: store.Subscription, channel: str, day: date, reason: str) -> str:
    """A digest that failed for good (``sub.id`` 0: one posted by hand)."""
    if sub.id:
        return t("digest.admin_digest_failed", ADMIN_LANG, id=sub.id, where=where(sub.target, sub.channel),
                 day=day.isoformat(), reason=reason)
    return t("digest.admin_manual_digest_failed", ADMIN_LANG, where=channel_ref(channel), day=day.isoformat(),
             reason=reason)


def admin_alert_failed(alert: store.Alert, reason: str) -> str:
    return t("digest.admin_alert_failed", ADMIN_LANG, kind=alert.kind, where=channel_ref(alert.channel), reason=reason)


def admin_sync_crashed(error: str) -> str:
    return t("digest.admin_sync_crashed", ADMIN_LANG, error=error)


def admin_sync_failed(message: str | None) -> str:
    return t("digest.admin_sync_failed", ADMIN_LANG, message=message or t("digest.admin_sync_see_status", ADMIN_LANG))


def admin_snapshot_failed(error: str) -> str:
    return t("digest.admin_snapshot_failed", ADMIN_LANG, error=error)
