"""The trend chart: alliance scores over the last weeks, as a PNG.

One small panel per client (sharing the week axis and the 0–10 score axis), one line per
score item in each panel. Items keep the same colour, marker and line style in every
panel, so the chart reads without colour too. Colours are the Okabe–Ito palette.

Uses ``matplotlib.figure.Figure`` with the Agg canvas directly: no pyplot, no global
backend switch, nothing kept between calls. Same view in, same bytes out (no timestamp
or software name in the PNG metadata).
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from datetime import UTC, datetime, time, timedelta, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FixedLocator, FuncFormatter
from matplotlib.typing import LineStyleType

from feedback_bot.catalog import Catalog
from feedback_bot.digest.view import ClientSection, DigestView

__all__ = ["DPI", "chart_size_px", "render_trend_chart"]

# Okabe & Ito (2008), ordered for contrast on white; yellow last (weak on white).
OKABE_ITO = (
    "#0072B2",  # blue
    "#D55E00",  # vermillion
    "#009E73",  # bluish green
    "#CC79A7",  # reddish purple
    "#E69F00",  # orange
    "#56B4E9",  # sky blue
    "#000000",  # black
    "#F0E442",  # yellow
)
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
LINESTYLES: tuple[LineStyleType, ...] = (
    "-",
    "--",
    "-.",
    ":",
    (0, (5, 1)),
    (0, (3, 1, 1, 1, 1, 1)),
    (0, (1, 2)),
    (0, (8, 2, 2, 2)),
)

DPI = 100
HEADER_IN = 1.2  # title and legend
MAX_TICKS = 8
DODGE_DAYS = 0.6  # how far apart series are drawn (a week is 7 days wide)


def _layout(panels: int) -> tuple[int, int, float, float]:
    """(rows, columns, figure width, panel height) in inches, for this many client panels.

    Small multiples stay legible and the image stays within chat platforms' photo limits
    (Telegram: width + height <= 10000 px) for up to about 110 clients with scores.
    """
    cols = 1 if panels <= 3 else 2 if panels <= 12 else 3
    rows = math.ceil(panels / cols)
    return rows, cols, 4.0 * cols if cols > 1 else 8.0, 2.8 if rows <= 2 else 2.2


def chart_size_px(panels: int) -> tuple[int, int]:
    """(width, height) in pixels of a chart with this many client panels."""
    rows, _, width_in, panel_in = _layout(panels)
    return round(width_in * DPI), round((HEADER_IN + rows * panel_in) * DPI)


@lru_cache(maxsize=1)
def _default_catalog() -> Catalog:
    return Catalog.load()


def _zone(name: str) -> tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


_EPOCH = datetime(1970, 1, 1)


def _days(when: datetime) -> float:
    """x coordinate: days since 1970 of a naive wall-clock time (matplotlib's date scale)."""
    return (when - _EPOCH) / timedelta(days=1)


def _item_order(view: DigestView, clients: Sequence[ClientSection]) -> list[str]:
    seen = {p.item_key for c in clients for p in c.scores}
    ordered = [k for k in view.score_item_labels if k in seen]
    return ordered + sorted(seen - set(ordered))


def render_trend_chart(view: DigestView, catalog: Catalog | None = None) -> bytes | None:
    """PNG bytes of the score trend chart, or None when the view has no scores."""
    clients = [c for c in view.clients if c.scores]
    if not clients:
        return None
    catalog = catalog or _default_catalog()
    lang = view.language
    tz = _zone(view.timezone)

    def t(key: str, **params: object) -> str:
        return catalog.t(key, lang, **params)

    def local(when: datetime) -> datetime:
        aware = when if when.tzinfo is not None else when.replace(tzinfo=UTC)
        return aware.astimezone(tz).replace(tzinfo=None)  # wall-clock time, plotted as is

    items = _item_order(view, clients)
    style = {
        key: (
            OKABE_ITO[i % len(OKABE_ITO)],
            MARKERS[i % len(MARKERS)],
            LINESTYLES[i % len(LINESTYLES)],
        )
        for i, key in enumerate(items)
    }

    times = [local(p.when) for c in clients for p in c.scores]
    start, end = min(times) - timedelta(days=4), max(times) + timedelta(days=4)
    monday = datetime.combine(start.date() + timedelta(days=-start.weekday() % 7), time())
    rows, cols, _, _ = _layout(len(clients))
    max_ticks = MAX_TICKS if cols == 1 else MAX_TICKS // 2
    tick_every = max(1, math.ceil(((end - monday).days // 7 + 1) / max_ticks))
    ticks: list[float] = []
    while monday <= end:
        ticks.append(_days(monday))
        monday += timedelta(weeks=tick_every)
    x_min, x_max = _days(start), _days(end)

    def week_label(x: float, _pos: int | None = None) -> str:
        d = _EPOCH + timedelta(days=round(x))
        return t("digest.chart.day_month", day=d.day, month=t(f"digest.month.{d.month}"))

    width_px, height_px = chart_size_px(len(clients))
    fig = Figure(
        figsize=(width_px / DPI, height_px / DPI),
        dpi=DPI,
        facecolor="white",
        layout="constrained",
    )
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, cols, squeeze=False, sharex=True, sharey=True)

    for index, ax in enumerate(axes.flat):
        if index >= len(clients):
            ax.set_visible(False)
            continue
        client = clients[index]
        for n, key in enumerate(items):
            points = sorted((p for p in client.scores if p.item_key == key), key=lambda p: p.when)
            if not points:
                continue
            colour, marker, linestyle = style[key]
            # Series side by side by a fraction of a day: equal scores on the same day
            # would otherwise hide every line but the last one drawn.
            dodge = (n - (len(items) - 1) / 2) * DODGE_DAYS
            ax.plot(
                [_days(local(p.when)) + dodge for p in points],
                [min(10, max(0, p.score)) for p in points],
                color=colour,
                marker=marker,
                linestyle=linestyle,
                linewidth=2,
                markersize=7,
                clip_on=False,
            )
        ax.set_title(client.alias, fontsize=11, loc="left")
        if index + cols >= len(clients):  # lowest panel in its column
            ax.set_xlabel(t("digest.chart.x_label"), fontsize=10)
        ax.set_xlim(x_min, x_max)
        ax.set_ylim(0, 10)
        ax.set_yticks(range(0, 11, 2))
        ax.xaxis.set_major_locator(FixedLocator(ticks))
        ax.xaxis.set_major_formatter(FuncFormatter(week_label))
        ax.tick_params(labelsize=9, labelbottom=True, labelleft=True)
        ax.grid(True, color="#d0d7de", linewidth=0.6)
        ax.set_axisbelow(True)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)

    fig.suptitle(t("digest.chart.title"), fontsize=13)
    fig.supylabel(t("digest.chart.y_label"), fontsize=10)
    handles = [
        Line2D([], [], color=c, marker=m, linestyle=ls, linewidth=2, markersize=7)
        for c, m, ls in (style[key] for key in items)
    ]
    fig.legend(
        handles,
        [view.score_item_labels.get(key, key) for key in items],
        loc="outside lower center",
        ncols=min(len(items), 4),
        frameon=False,
        fontsize=9,
    )

    buffer = io.BytesIO()
    fig.savefig(
        buffer,
        format="png",
        dpi=DPI,
        facecolor="white",
        transparent=False,
        metadata={"Software": None},
    )
    return buffer.getvalue()
