"""digest: the daily KPI digest (preview, subscriptions, delivery log) and per-channel alerts.

The digest itself is two ``Reply`` values: a short headline (MRR and its change,
customer churn month to date, NRR last month, NPS last 30 days, accounts in red)
and a thread reply with what changed since the last digest. ``bot/scheduler.py``
posts them; ``/cs digest preview`` shows them now.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta

from commands.answers import figure, movements_chart
from commands.arguments import ME_WORDS, UsageError, asker_ids, parse_args
from commands.context import Context, Request
from commands.router import NoData, command, freshness
from commands.periods import parse_period
from commands.reply import Chart, Figure, Reply
from metrics import digest as store
from metrics import format as fmt
from metrics.db import Database, is_empty, last_successful_sync
from metrics.filters import NO_FILTERS, Filters
from metrics.periods import Period
from metrics.registry import Calc, compute_metric
from metrics.revenue import movement_accounts, movements
from metrics.settings import Settings

LIST_LIMIT = 8  # accounts named per section of the thread
RENEWAL_DAYS = 30
NPS_DAYS = 30

USAGE_EN = (
    "`digest preview [filters]` · `digest subscribe #channel 09:00 [Asia/Tokyo] [weekdays|weekly] [filters]` · "
    "`digest subscribe me 08:30` · `digest list` · `digest unsubscribe <id|#channel|me>` · `digest log` · "
    "`digest alert #channel red|churn [amount]|contraction [amount]|detractor` · `digest alerts` · "
    "`digest alert off #channel <kind>`"
)
USAGE_JA = (
    "`digest プレビュー` · `digest 購読 #チャンネル 09:00 [Asia/Tokyo] [平日|毎週]` · `digest 購読 自分 08:30` · "
    "`digest 一覧` · `digest 解除 <ID|#チャンネル|自分>` · `digest 履歴` · "
    "`digest アラート #チャンネル red|churn [金額]|contraction [金額]|detractor` · `digest アラート一覧` · "
    "`digest アラート 解除 #チャンネル <種類>`"
)

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

_CHANNEL = re.compile(r"^<#([CGD][A-Z0-9]+)(?:\|([^>]*))?>$")
_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{6,}$")
_FILTER = re.compile(r"^[a-z_]+:(?!//).+$", re.I)
_AMOUNT = re.compile(r"^[¥$€£]?(\d[\d,]*(?:\.\d+)?)\s*([kmKM万]?)$")


def _t(lang: str, en: str, ja: str) -> str:
    return ja if lang == "ja" else en


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
            raise UsageError(_t(lang, f"I don't know “digest {words[0]}”. Try: {USAGE_EN}",
                                f"「digest {words[0]}」は分かりません。使い方: {USAGE_JA}"))
    return {
        "preview": _preview, "subscribe": _subscribe, "list": _list, "unsubscribe": _unsubscribe,
        "log": _log, "alert": _alert, "alerts": _alerts,
    }[sub](req, rest)


def _info(lang: str, title: str, *lines: str, data: dict | None = None) -> Reply:
    summary = lines[0].replace("*", "") if lines else title
    return Reply(title=title, summary=summary, kind="info", language=lang, lines=lines, data=data or {})


def _usage_reply(lang: str) -> Reply:
    title = _t(lang, "The daily KPI digest", "毎朝のKPIダイジェスト")
    lines = (USAGE_JA if lang == "ja" else USAGE_EN).split(" · ")
    return Reply(title=title, summary=title, kind="help", language=lang, lines=tuple(f"• {x}" for x in lines))


# ---------------------------------------------------------------------------- parsing helpers

@dataclass(frozen=True)
class Target:
    kind: str  # channel | dm
    channel: str
    name: str | None = None

    def mention(self) -> str:
        return f"<@{self.channel}>" if self.kind == "dm" else store.channel_ref(self.channel)


def parse_channel(word: str, ctx: Context | None = None) -> Target | None:
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
            raise UsageError("“here” needs a channel: ask in Slack, or name the channel (#cs-team).")
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
        raise UsageError(_t(lang, "“me” needs to know who you are: ask in Slack (a personal digest goes to your DM).",
                            "「自分」はSlackで使ってください（個人用ダイジェストはDMに届きます）。"))
    return replace(filters, owner=ids)


def parse_amount(word: str) -> float | None:
    m = _AMOUNT.match(word.strip())
    if not m:
        return None
    value = float(m.group(1).replace(",", ""))
    return value * {"": 1, "k": 1e3, "m": 1e6, "万": 1e4}[m.group(2).lower()]


def local_stamp(at: datetime, tz, lang: str) -> str:
    local = at.astimezone(tz)
    if lang == "ja":
        wd = "月火水木金土日"[local.weekday()]
        return f"{local.month}月{local.day}日({wd}) {local:%H:%M} {local.tzname()}"
    return f"{calendar.day_abbr[local.weekday()]} {calendar.month_abbr[local.month]} {local.day} {local:%H:%M} {local.tzname()}"


# ---------------------------------------------------------------------------- preview

def _preview(req: Request, words: list[str]) -> Reply:
    ctx, lang = req.ctx, req.lang
    filters, rest = _split_filters(words, ctx, lang)
    for w in rest:
        if w.lower() in ME_WORDS:
            filters = _me_filters(filters, ctx, lang)
        else:
            raise UsageError(_t(lang, f"“{w}” is not a filter: try `digest preview segment:enterprise` or `digest preview me`.",
                                f"「{w}」はフィルターではありません（例: `digest プレビュー segment:enterprise`）。"))
    if is_empty(ctx.db.engine):
        raise NoData()
    now = ctx.now
    d = build_digest(ctx.db, ctx.settings, now=now, filters=filters, lang=lang, revenue=True)
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
            mrr = metric("mrr", mtd)
            figures.append(figure(mrr, lang, currency, label=_t(lang, "MRR", "MRR")))
        figures.append(figure(churn, lang, currency, label=_t(lang, "Customer churn (month to date)", "顧客解約率（今月）")))
        if revenue:
            nrr = metric("nrr", last_month)
            figures.append(figure(nrr, lang, currency,
                                  label=_t(lang, f"NRR ({calendar.month_abbr[last_month.start.month]})",
                                           f"NRR（{last_month.start.month}月）")))
        figures.append(figure(nps, lang, currency, label=_t(lang, "NPS (last 30 days)", "NPS（過去30日）")))
        red = store.red_accounts(conn, today, filters)
        figures.append(Figure(label=_t(lang, "Accounts in red", "レッドの顧客"), value="—" if red is None else f"{red:,}"))

        moves = movements(calc, changes, filters)
        lists = {kind: movement_accounts(calc, changes, filters, kind, limit=LIST_LIMIT)
                 for kind in ("churn", "new", "expansion", "contraction")}
        reds = store.moved_to_red(conn, since, today, filters)
        renew, renew_total = store.renewals(conn, today, RENEWAL_DAYS, filters, limit=LIST_LIMIT)
        detract, detract_total = store.detractors(conn, local_since, local_now, filters, limit=LIST_LIMIT)

    # Headline
    head_lines: list[str] = []
    synced = last_successful_sync(engine)
    stale = synced is not None and now - synced > timedelta(hours=settings.stale_sync_hours)
    if stale:
        hours = (now - synced).total_seconds() / 3600
        head_lines.append(_t(
            lang,
            f":warning: *Stale data*: the last sync finished {local_stamp(synced, tz, lang)} ({hours:.0f} h ago, "
            f"limit {settings.stale_sync_hours:g} h). Check `csbot sync --status`.",
            f":warning: *データが古くなっています*: 最後の同期は {local_stamp(synced, tz, lang)}（{hours:.0f}時間前、"
            f"上限 {settings.stale_sync_hours:g}時間）。`csbot sync --status` を確認してください。"))
    if not filters.empty:
        head_lines.append(_t(lang, f"Filtered: {filters.describe()}", f"フィルター: {filters.describe()}"))
    if not revenue:
        head_lines.append(_t(lang, ":lock: Revenue figures (MRR, NRR, amounts) are left out: this channel is not a revenue channel.",
                             ":lock: 売上の数字（MRR・NRR・金額）は、売上チャンネル以外のため省いています。"))
    day_text = (f"{today.month}月{today.day}日" if lang == "ja"
                else f"{calendar.day_abbr[today.weekday()]} {calendar.month_abbr[today.month]} {today.day}")
    title = _t(lang, f"KPI digest · {day_text}", f"KPIダイジェスト（{day_text}）")
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
            parts.append(_t(lang, f"and {more} more", f"ほか{more}社"))
        return ", ".join(parts)

    labels = {
        "churn": _t(lang, "Churned", "解約"), "new": _t(lang, "New", "新規"),
        "expansion": _t(lang, "Expanded", "拡大"), "contraction": _t(lang, "Contracted", "縮小"),
    }
    for kind in ("churn", "new", "expansion", "contraction"):
        rows, total = lists[kind]
        if not total:
            continue
        head = f"*{labels[kind]}* {total}"
        if revenue:
            head += f" ({fmt.money(moves.amounts[kind], currency)})"
        lines.append(f"{head}: {names(rows, total, revenue)}")
    if reds:
        shown = reds[:LIST_LIMIT]
        text = ", ".join(f"{r['name']} ({fmt.score(r['score'])})" if r["score"] is not None else str(r["name"])
                         for r in shown)
        if len(reds) > len(shown):
            text += _t(lang, f", and {len(reds) - len(shown)} more", f"、ほか{len(reds) - len(shown)}社")
        lines.append(f"*{_t(lang, 'Moved to red', 'レッドに悪化')}* {len(reds)}: {text}")
    if renew_total:
        text = ", ".join(f"{r['name']} ({_short_date(r['renewal_date'], lang)})" for r in renew)
        if renew_total > len(renew):
            text += _t(lang, f", and {renew_total - len(renew)} more", f"、ほか{renew_total - len(renew)}社")
        lines.append(f"*{_t(lang, f'Renewals in the next {RENEWAL_DAYS} days', f'{RENEWAL_DAYS}日以内の更新')}* "
                     f"{renew_total}: {text}")
    if detract_total:
        lines.append(f"*{_t(lang, 'New detractors', '新しい批判者（NPS 0〜6）')}* {detract_total}:")
        for r in detract:
            comment = (r["comment"] or "").strip().replace("\n", " ")
            if len(comment) > 200:
                comment = comment[:199] + "…"
            quote = f" “{comment}”" if comment else ""
            lines.append(f"• {r['name']} {r['score']}/10{quote}")
        if detract_total > len(detract):
            lines.append(_t(lang, f"• and {detract_total - len(detract)} more", f"• ほか{detract_total - len(detract)}件"))
    if not lines:
        lines.append(_t(lang, "No changes since the last digest.", "前回のダイジェストから変化はありません。"))
    since_text = _short_date(since, lang)
    thread_title = _t(lang, f"What changed since {since_text}", f"{since_text}からの変化")
    thread = Reply(title=thread_title, summary=thread_title, language=lang,
                   lines=tuple(lines), revenue=revenue,
                   data={kind: [r["account_id"] for r in lists[kind][0]] for kind in lists}
                   | {"red": [r["account_id"] for r in reds], "renewals": [r["account_id"] for r in renew],
                      "detractors": [r["response_id"] for r in detract]})

    chart = _chart(moves, changes, reds, lists, lang, currency, revenue)
    return Digest(headline, thread, chart, stale, revenue, since)


def _footer(synced: datetime | None, tz, lang: str) -> str:
    if synced is None:
        return _t(lang, "never synced", "同期記録なし")
    return _t(lang, f"synced {local_stamp(synced, tz, lang)}", f"{local_stamp(synced, tz, lang)} 同期")


def _short_date(d: date, lang: str) -> str:
    return f"{d.month}月{d.day}日" if lang == "ja" else f"{calendar.month_abbr[d.month]} {d.day}"


def _chart(moves, period: Period, reds, lists, lang: str, currency: str, revenue: bool) -> Chart:
    if revenue:
        return movements_chart(moves, period, lang, currency)
    counts = (lists["new"][1], lists["expansion"][1], lists["contraction"][1], lists["churn"][1], len(reds))
    return Chart(
        kind="bars",
        title=_t(lang, "Accounts that changed", "変化した顧客"),
        subtitle=period.describe(lang),
        labels=(("新規", "拡大", "縮小", "解約", "レッド") if lang == "ja"
                else ("New", "Expanded", "Contracted", "Churned", "To red")),
        series=((_t(lang, "Accounts", "顧客数"), tuple(float(c) for c in counts)),),
        unit="count",
        alt="Accounts that changed: " + ", ".join(f"{n} {c}" for n, c in zip(
            ("new", "expanded", "contracted", "churned", "to red"), counts)),
    )


def alert_reply(alert: store.Alert, event: store.AlertEvent, settings: Settings, *, revenue: bool) -> Reply:
    """The message an alert posts: one line naming the account and what happened."""
    lang = alert.lang if alert.lang in ("en", "ja") else "en"
    currency = settings.currency
    name = event.account_name or event.account_id or "?"
    owner = f" · {_t(lang, 'owner', '担当')} {event.owner}" if event.owner else ""
    if event.kind == "red":
        score = f" ({fmt.score(event.score)})" if event.score is not None else ""
        text = _t(lang, f":red_circle: *{name}* dropped to red{score} on {_short_date(event.day, lang)}{owner}",
                  f":red_circle: *{name}* がレッドになりました{score}（{_short_date(event.day, lang)}）{owner}")
    elif event.kind in ("churn", "contraction"):
        what = {"churn": _t(lang, "churned", "が解約しました"),
                "contraction": _t(lang, "contracted", "が縮小しました")}[event.kind]
        if revenue and event.amount is not None:
            amount = _t(lang, f", losing {fmt.money(event.amount, currency)} of MRR",
                        f"（MRR {fmt.money(event.amount, currency)} 減）")
        elif alert.threshold:
            amount = _t(lang, f" (at least {fmt.money(alert.threshold, currency)} of MRR)",
                        f"（MRR {fmt.money(alert.threshold, currency)} 以上）")
        else:
            amount = ""
        icon = ":rotating_light:" if event.kind == "churn" else ":chart_with_downwards_trend:"
        if lang == "ja":
            text = f"{icon} *{name}* {what}{amount}（{_short_date(event.day, lang)}）{owner}"
        else:
            text = f"{icon} *{name}* {what}{amount} on {_short_date(event.day, lang)}{owner}"
    else:
        comment = f" “{event.comment.strip()}”" if event.comment and event.comment.strip() else ""
        score = fmt.score(event.score) if event.score is not None else "?"
        text = _t(lang, f":speech_balloon: New detractor at *{name}*: NPS {score}/10{comment}{owner}",
                  f":speech_balloon: *{name}* から批判的な回答: NPS {score}/10{comment}{owner}")
    return Reply(title=text, summary=text.replace("*", ""), kind="info", language=lang,
                 lines=(text,), revenue=revenue and event.kind in ("churn", "contraction"),
                 data={"kind": event.kind, "account_id": event.account_id, "key": event.key})


# ---------------------------------------------------------------------------- subscriptions

def _subscribe(req: Request, words: list[str]) -> Reply:
    ctx, lang, settings = req.ctx, req.lang, req.ctx.settings
    usage = _t(lang, "Usage: `digest subscribe #channel 09:00 [Asia/Tokyo] [weekdays|weekly] [filters]` or `digest subscribe me 08:30`.",
               "使い方: `digest 購読 #チャンネル 09:00 [Asia/Tokyo] [平日|毎週]` または `digest 購読 自分 08:30`")
    filters, rest = _split_filters(words, ctx, lang)
    target: Target | None = None
    local_time: str | None = None
    tz_name = settings.timezone
    schedule = "daily"
    for w in rest:
        low = w.lower()
        if low in ME_WORDS:
            if not ctx.user_id:
                raise UsageError(_t(lang, "“subscribe me” works in Slack: it sends the digest of your accounts to your DM.",
                                    "「購読 自分」はSlackで使ってください（担当顧客のダイジェストをDMに送ります）。"))
            target = Target("dm", ctx.user_id)
            filters = _me_filters(filters, ctx, lang)
            continue
        channel = parse_channel(w, ctx)
        if channel is not None:
            target = channel
            continue
        if low in SCHEDULE_WORDS:
            schedule = SCHEDULE_WORDS[low]
            continue
        parsed = store.parse_time(w)
        if parsed is not None:
            local_time = parsed
            continue
        if re.fullmatch(r"[\d:：.]+(?:am|pm)?|.*時.*", w, re.I):
            raise UsageError(_t(lang, f"“{w}” is not a time of day: use HH:MM, e.g. 09:00 or 18:30.",
                                f"「{w}」は時刻として読めません。09:00 や 18:30 のように書いてください。"))
        if "/" in w or w.upper() in ("UTC", "GMT"):
            if store.zone(w) is None:
                raise UsageError(_t(lang, f"Unknown time zone “{w}”: use a name such as Asia/Tokyo or America/New_York.",
                                    f"タイムゾーン「{w}」が分かりません。Asia/Tokyo や America/New_York のように書いてください。"))
            tz_name = store.zone(w).key
            continue
        raise UsageError(_t(lang, f"I don't understand “{w}”. {usage}", f"「{w}」が分かりません。{usage}"))
    if target is None:
        raise UsageError(_t(lang, f"Which channel? {usage}", f"どのチャンネルに送りますか？ {usage}"))
    defaulted = local_time is None
    local_time = local_time or "09:00"
    existing = store.find_same(ctx.db.engine, target=target.kind, channel=target.channel, local_time=local_time,
                               tz=tz_name, schedule=schedule, filters=filters)
    if existing is not None:
        msg = _t(lang, f"{target.mention()} already gets this digest (ID {existing.id}).",
                 f"{target.mention()} はすでにこのダイジェストを購読しています（ID {existing.id}）。")
        return _info(lang, _t(lang, "Already subscribed", "購読済みです"), msg, data={"id": existing.id})
    sub = store.create_subscription(
        ctx.db.engine, target=target.kind, channel=target.channel, channel_name=target.name, local_time=local_time,
        tz=tz_name, schedule=schedule, filters=filters, lang=lang, created_by=ctx.user_id, now=ctx.now)
    nxt = store.next_run(sub, ctx.now)
    title = _t(lang, f"KPI digest subscribed ({sub.when(lang)})", f"KPIダイジェストを登録しました（{sub.when(lang)}）")
    lines = [_t(lang, f"{target.mention()} gets the digest {sub.when(lang)}. Subscription ID {sub.id}.",
                f"{target.mention()} に {sub.when(lang)} に届けます。購読ID {sub.id}。")]
    if nxt is not None:
        lines.append(_t(lang, f"Next digest: {local_stamp(nxt, sub.zone, lang)}.", f"次回: {local_stamp(nxt, sub.zone, lang)}"))
    if defaulted:
        lines.append(_t(lang, "No time given, so 09:00; add a time such as 08:30 to change it.",
                        "時刻の指定がないため 09:00 にしました。"))
    if not filters.empty:
        lines.append(_t(lang, f"Filters: {filters.describe()}", f"フィルター: {filters.describe()}"))
    if target.kind == "channel":
        if not store.is_revenue_channel(settings, target.channel, target.name):
            lines.append(_t(lang, ":lock: This is not a revenue channel, so the digest leaves out MRR, NRR and amounts.",
                            ":lock: 売上チャンネルではないため、MRR・NRR・金額は省きます。"))
        lines.append(_t(lang, "Make sure I'm in the channel: `/invite @csbot`.", "チャンネルに招待してください: `/invite @csbot`"))
    lines.append(_t(lang, f"Stop it with `digest unsubscribe {sub.id}`.", f"停止: `digest 解除 {sub.id}`"))
    return Reply(title=title, summary=title, kind="info", language=lang, lines=tuple(lines), data={"id": sub.id})


def _list(req: Request, words: list[str]) -> Reply:
    ctx, lang = req.ctx, req.lang
    subs = store.list_subscriptions(ctx.db.engine)
    if not subs:
        msg = _t(lang, "No digest subscriptions yet. Start one with `digest subscribe #channel 09:00`.",
                 "ダイジェストの購読はまだありません。`digest 購読 #チャンネル 09:00` で始めます。")
        return _info(lang, _t(lang, "No subscriptions", "購読なし"), msg, data={"ids": []})
    lines = []
    for s in subs:
        nxt = store.next_run(s, ctx.now)
        parts = [f"*{s.id}*", s.where(), s.when(lang)]
        if not s.filters.empty:
            parts.append(s.filters.describe() if s.target != "dm" else _t(lang, "your accounts", "担当顧客"))
        if nxt is not None:
            parts.append(_t(lang, f"next {local_stamp(nxt, s.zone, lang)}", f"次回 {local_stamp(nxt, s.zone, lang)}"))
        lines.append(" · ".join(parts))
    title = _t(lang, f"{len(subs)} digest subscription(s)", f"ダイジェストの購読 {len(subs)}件")
    return Reply(title=title, summary=title, kind="info", language=lang, lines=tuple(lines),
                 data={"ids": [s.id for s in subs]})


def _unsubscribe(req: Request, words: list[str]) -> Reply:
    ctx, lang = req.ctx, req.lang
    usage = _t(lang, "Usage: `digest unsubscribe <id | #channel | me>` (see `digest list`).",
               "使い方: `digest 解除 <ID | #チャンネル | 自分>`（`digest 一覧` で確認できます）")
    if len(words) != 1:
        raise UsageError(usage)
    w = words[0]
    if w.isdigit():
        ids = store.unsubscribe(ctx.db.engine, sub_id=int(w), now=ctx.now)
    elif w.lower() in ME_WORDS:
        if not ctx.user_id:
            raise UsageError(usage)
        ids = [s.id for s in store.list_subscriptions(ctx.db.engine, channel=ctx.user_id) if s.target == "dm"]
        for i in ids:
            store.unsubscribe(ctx.db.engine, sub_id=i, now=ctx.now)
    else:
        target = parse_channel(w, ctx)
        if target is None:
            raise UsageError(usage)
        ids = store.unsubscribe(ctx.db.engine, channel=target.channel, now=ctx.now)
    if not ids:
        raise UsageError(_t(lang, f"No active subscription matches “{w}”. See `digest list`.",
                            f"「{w}」に当たる購読はありません。`digest 一覧` で確認してください。"))
    msg = _t(lang, f"Unsubscribed: {', '.join(str(i) for i in ids)}. Past deliveries stay in `digest log`.",
             f"購読を解除しました: {', '.join(str(i) for i in ids)}（配信履歴は `digest 履歴` に残ります）。")
    return _info(lang, _t(lang, "Unsubscribed", "購読を解除しました"), msg, data={"ids": ids})


STATUS_ICON = {"sent": ":white_check_mark:", "failed": ":x:", "skipped": ":fast_forward:", "claimed": ":hourglass:"}


def log_lines(entries: list[store.LogEntry], tz, lang: str, *, slack: bool = True) -> list[str]:
    out = []
    for e in entries:
        when = local_stamp(e.at, tz, lang)
        where = e.where if slack else e.where_text
        status = {"sent": "送信", "failed": "失敗", "skipped": "スキップ", "claimed": "送信中"}.get(e.status, e.status) \
            if lang == "ja" else e.status
        icon = (STATUS_ICON.get(e.status, "") + " ") if slack else ""
        sub = _t(lang, f"digest {e.subscription_id}", f"購読 {e.subscription_id}") if e.subscription_id \
            else _t(lang, "by hand", "手動")
        line = f"{icon}{when} · {status} · {where} · {sub} · {e.local_date.isoformat()}"
        if e.reason:
            line += f" · {e.reason}"
        out.append(line)
    return out


def _log(req: Request, words: list[str]) -> Reply:
    ctx, lang = req.ctx, req.lang
    entries = store.delivery_log(ctx.db.engine, limit=20)
    if not entries:
        msg = _t(lang, "No digest has been sent yet.", "まだダイジェストは配信されていません。")
        return _info(lang, msg)
    title = _t(lang, "Digest delivery log (newest first)", "ダイジェストの配信履歴（新しい順）")
    return Reply(title=title, summary=title, kind="info", language=lang,
                 lines=tuple(log_lines(entries, ctx.settings.tz, lang)),
                 data={"statuses": [e.status for e in entries]})


# ---------------------------------------------------------------------------- alerts

def _alert(req: Request, words: list[str]) -> Reply:
    ctx, lang, settings = req.ctx, req.lang, req.ctx.settings
    usage = _t(lang, "Usage: `digest alert #channel red|churn [amount]|contraction [amount]|detractor`, "
                     "`digest alert off #channel <kind>`, `digest alerts`.",
               "使い方: `digest アラート #チャンネル red|churn [金額]|contraction [金額]|detractor`、"
               "`digest アラート 解除 #チャンネル <種類>`、`digest アラート一覧`")
    off = bool(words) and words[0].lower() in OFF_WORDS
    if off:
        words = words[1:]
    target: Target | None = None
    kind: str | None = None
    threshold: float | None = None
    for w in words:
        channel = parse_channel(w, ctx)
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
        raise UsageError(_t(lang, f"I don't understand “{w}”. {usage}", f"「{w}」が分かりません。{usage}"))
    if target is None or target.kind != "channel" or (kind is None and not off):
        raise UsageError(usage)
    if off:
        n = store.remove_alert(ctx.db.engine, channel=target.channel, kind=kind)
        if not n:
            raise UsageError(_t(lang, f"No such alert in {target.mention()}. See `digest alerts`.",
                                f"{target.mention()} にそのアラートはありません。`digest アラート一覧` で確認してください。"))
        msg = _t(lang, f"Alert off: {kind or 'all'} in {target.mention()}.",
                 f"{target.mention()} のアラート（{kind or 'すべて'}）を止めました。")
        return _info(lang, _t(lang, "Alert off", "アラートを停止しました"), msg)
    if threshold is not None and kind not in ("churn", "contraction"):
        raise UsageError(_t(lang, "Only churn and contraction alerts take an amount.", "金額を指定できるのは churn と contraction だけです。"))
    alert, created = store.set_alert(ctx.db.engine, channel=target.channel, channel_name=target.name, kind=kind,
                                     threshold=threshold, lang=lang, created_by=ctx.user_id, now=ctx.now)
    what = {
        "red": _t(lang, "an account drops to red", "顧客がレッドになったとき"),
        "churn": _t(lang, "an account churns", "顧客が解約したとき"),
        "contraction": _t(lang, "an account contracts", "顧客が縮小したとき"),
        "detractor": _t(lang, "a detractor answers NPS (0-6)", "NPSで批判的な回答（0〜6）があったとき"),
    }[kind]
    if threshold is not None:
        what += _t(lang, f" by at least {fmt.money(threshold, settings.currency)} of MRR",
                   f"（MRR {fmt.money(threshold, settings.currency)} 以上）")
    msg = _t(lang, f"Alert {'on' if created else 'updated'}: {target.mention()} hears when {what}. Each event is posted once.",
             f"{target.mention()} にアラートを{'設定' if created else '更新'}しました: {what}。各イベントは一度だけ通知します。")
    return _info(lang, _t(lang, "Alert on" if created else "Alert updated", "アラートを設定しました"), msg,
                 data={"id": alert.id})


def _alerts(req: Request, words: list[str]) -> Reply:
    ctx, lang = req.ctx, req.lang
    alerts = store.list_alerts(ctx.db.engine)
    if not alerts:
        msg = _t(lang, "No alerts yet. Try `digest alert #cs-team red`.", "アラートはまだありません。`digest アラート #cs-team red` で設定します。")
        return _info(lang, _t(lang, "No alerts", "アラートなし"), msg, data={"alerts": []})
    lines = []
    for a in alerts:
        text = f"{store.channel_ref(a.channel)} · {a.kind}"
        if a.threshold is not None:
            text += f" ≥ {fmt.money(a.threshold, ctx.settings.currency)}"
        lines.append(text)
    title = _t(lang, f"{len(alerts)} alert(s)", f"アラート {len(alerts)}件")
    return Reply(title=title, summary=title, kind="info", language=lang, lines=tuple(lines),
                 data={"alerts": [(a.channel, a.kind, a.threshold) for a in alerts]})
