"""Chart geometry for the dashboards: numbers in, coordinates out, drawn as inline SVG by
templates/web/_charts.html (our own markup, part of the page: the CSP's `style-src 'self'`
allows it, no script needed). Presentation attributes only (x, width, fill): the CSP refuses
inline `style` attributes. Every chart sits beside a table of the same numbers.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

COLUMN_W, COLUMN_H = 360, 170
_LEFT, _RIGHT, _TOP, _BOTTOM = 44, 8, 12, 34
BAR_W, ROW_H, LABEL_W = 340, 22, 130


def _nice_max(value: float) -> int:
    """The axis top: 1, 2 or 5 times a power of ten, at least `value`."""
    if value <= 0:
        return 1
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if step * power >= value:
            return int(step * power)
    return int(10 * power)  # pragma: no cover - the loop always returns


def column_chart(points: Sequence[tuple[datetime, int]], zone: ZoneInfo, *, requirement: int | None = None) -> dict:
    """A column per reading over time, with the requirement as a line."""
    top = _nice_max(max([v for _, v in points] + [requirement or 0]))
    plot_w, plot_h = COLUMN_W - _LEFT - _RIGHT, COLUMN_H - _TOP - _BOTTOM
    n = max(len(points), 1)
    slot = plot_w / n
    width = max(min(slot * 0.7, 40), 2)
    every = max(1, math.ceil(n / 6))  # at most ~6 time labels under the axis

    def y(v: float) -> float:
        return round(_TOP + plot_h - plot_h * v / top, 1)

    bars = []
    for i, (at, v) in enumerate(points):
        local = at.astimezone(zone)
        bars.append({"x": round(_LEFT + slot * i + (slot - width) / 2, 1), "y": y(v),
                     "w": round(width, 1), "h": round(plot_h * v / top, 1), "value": v,
                     "label": f"{local:%d/%m %H.%M}", "show_label": i % every == 0 or i == n - 1,
                     "cx": round(_LEFT + slot * i + slot / 2, 1)})
    return {"w": COLUMN_W, "h": COLUMN_H, "left": _LEFT, "right": COLUMN_W - _RIGHT, "top": _TOP,
            "base": _TOP + plot_h, "max": top, "mid": top // 2 if top % 2 == 0 else None, "mid_y": y(top // 2),
            "bars": bars, "requirement": requirement,
            "req_y": y(requirement) if requirement is not None else None}


def bar_rows(rows: Sequence[tuple[str, int]]) -> dict:
    """Horizontal bars, one per (label, count): counts by channel, party or status."""
    top = max([c for _, c in rows] + [1])
    out = []
    for i, (label, count) in enumerate(rows):
        w = round((BAR_W - LABEL_W - 40) * count / top, 1)
        out.append({"label": label, "count": count, "y": i * ROW_H + 4, "w": w, "ty": i * ROW_H + 16,
                    "cx": LABEL_W + w + 6})
    return {"w": BAR_W, "h": max(len(rows), 1) * ROW_H + 6, "x0": LABEL_W, "rows": out}
