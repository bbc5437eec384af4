"""The alt text of a chart: one sentence a screen reader reads (also stored in the PNG).
No matplotlib here: Slack's upload needs the sentence even where nothing is drawn."""

from __future__ import annotations

import logging

from bot.charts import data
from commands.messages import t
from commands.reply import Chart

logger = logging.getLogger(__name__)


def alt_text(chart: Chart, lang: str = "en", currency: str = "JPY") -> str:
    """A sentence describing the chart for screen readers: ``chart.alt`` when the command set one."""
    if chart.alt:
        return chart.alt
    head = t("charts.alt_head", lang, title=chart.title, subtitle=chart.subtitle) if chart.subtitle else chart.title
    try:
        rows = data.series(chart)
        empty = not data.has_data(chart)
    except ValueError:
        rows, empty = [], True
    if empty:
        return t("charts.alt_empty", lang, head=head, no_data=t("charts.no_data", lang))

    def fmt(v: float | None, signed: bool | None = None) -> str:
        return "—" if v is None else data.text(chart, v, lang, currency, signed=signed)

    kind = t(f"charts.kind_{chart.kind}", lang)
    listed = t("charts.alt_list", lang)
    labels = [str(x) for x in chart.labels]
    parts: list[str] = []
    if chart.kind in ("line", "stacked", "bars") and labels:
        lead = t("charts.alt_span", lang, kind=kind, first=labels[0], last=labels[-1])
        for s in rows[:4]:
            known = [(lbl, v) for lbl, v in zip(labels, s.values) if v is not None]
            if not known:
                continue
            if chart.kind == "bars":
                label, top = max(known, key=lambda p: p[1])
                parts.append(t("charts.alt_highest", lang, name=s.name, label=label, value=fmt(top)))
            else:
                (first_label, first), (last_label, last) = known[0], known[-1]
                parts.append(t("charts.alt_from_to", lang, name=s.name, first=fmt(first), first_label=first_label,
                               last=fmt(last), last_label=last_label))
    elif chart.kind == "waterfall":
        lead = kind
        parts.append(listed.join(f"{b.label} {fmt(b.height, signed=not b.total or b.role == 'net')}"
                                 for b in data.waterfall_bars(chart)))
    elif chart.kind == "heatmap":
        lead = t("charts.alt_grid", lang, kind=kind, rows=len(rows), cols=len(labels))
        for s in rows[:3]:
            known = [(lbl, v) for lbl, v in zip(labels, s.values) if v is not None]
            if known:
                parts.append(t("charts.alt_row", lang, name=s.name, value=fmt(known[-1][1]), label=known[-1][0]))
        if len(rows) > 3:
            parts.append(t("charts.alt_more_rows", lang, n=len(rows) - 3))
    else:  # donut, share: the parts' shares of their whole
        lead = kind
        for s in rows[:4]:
            vals = [0.0 if v is None else v for v in s.values]
            total = sum(vals)
            shares = [f"{lbl} {data.share_text(v / total)}" for lbl, v in zip(labels, vals)] if total else []
            prefix = f"{s.name}: " if len(rows) > 1 else ""
            parts.append(prefix + listed.join(shares))
        if chart.center is not None:
            parts.append(f"{chart.center.label} {chart.center.value}")
    body = t("charts.alt_parts", lang).join(p for p in parts if p)
    return t("charts.alt_sentence", lang, head=head, lead=lead, body=body)
