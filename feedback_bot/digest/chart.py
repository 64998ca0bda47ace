"""The trend chart: alliance scores over the last weeks, as a PNG.

One small panel per client with scores in the period (sharing the week axis and the 0–10
score axis), one line per score item in each panel. Items keep the same colour, marker
and line style in every panel, so the chart reads without colour too. Colours are the
Okabe–Ito palette.

Drawn with Pillow directly onto one image (fonts from matplotlib's bundled DejaVu Sans,
loaded once per process): a weekly digest for 25 clients took seconds with matplotlib's
per-axes layout and drawing, and a practice sends a thousand of them at once. Nothing is
kept between calls but the fonts. Same view in, same bytes out (no timestamp or software
name in the PNG).
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from datetime import UTC, datetime, time, timedelta, tzinfo
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from PIL import Image, ImageDraw, ImageFont

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
# Dash patterns in pixels (on, off, …); empty: a solid line.
LINESTYLES: tuple[tuple[int, ...], ...] = (
    (),
    (9, 5),
    (9, 4, 2, 4),
    (2, 4),
    (12, 3),
    (7, 3, 2, 3, 2, 3),
    (2, 6),
    (14, 4, 4, 4),
)
GRID = (208, 215, 222)
AXIS = (60, 60, 60)
TEXT = (20, 20, 20)
LINE_PX = 2
MARKER_PX = 4  # marker radius

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


@lru_cache(maxsize=8)
def _font(size: int) -> ImageFont.FreeTypeFont:
    import matplotlib

    path = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
    return ImageFont.truetype(str(path), size)


def _rgb(colour: str) -> tuple[int, int, int]:
    return (int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16))


def _dashed(
    draw: ImageDraw.ImageDraw,
    points: list[tuple[float, float]],
    pattern: tuple[int, ...],
    colour: tuple[int, int, int],
) -> None:
    if len(points) < 2:
        return
    if not pattern:
        draw.line(points, fill=colour, width=LINE_PX, joint="curve")
        return
    index, left, on = 0, float(pattern[0]), True
    for (x0, y0), (x1, y1) in zip(points, points[1:], strict=False):
        length = math.hypot(x1 - x0, y1 - y0)
        at = 0.0
        while at < length:
            step = min(left, length - at)
            if on and step > 0:
                a, b = at / length, (at + step) / length
                draw.line(
                    [
                        (x0 + (x1 - x0) * a, y0 + (y1 - y0) * a),
                        (x0 + (x1 - x0) * b, y0 + (y1 - y0) * b),
                    ],
                    fill=colour,
                    width=LINE_PX,
                )
            at += step
            left -= step
            if left <= 0:
                index = (index + 1) % len(pattern)
                left, on = float(pattern[index]), index % 2 == 0


def _marker(
    draw: ImageDraw.ImageDraw, kind: str, x: float, y: float, colour: tuple[int, int, int]
) -> None:
    r = MARKER_PX
    if kind == "o":
        draw.ellipse((x - r, y - r, x + r, y + r), fill=colour)
    elif kind == "s":
        draw.rectangle((x - r + 1, y - r + 1, x + r - 1, y + r - 1), fill=colour)
    elif kind in ("^", "v"):
        d = -1 if kind == "^" else 1
        draw.polygon([(x, y + d * r * 1.2), (x - r, y - d * r), (x + r, y - d * r)], fill=colour)
    elif kind == "D":
        draw.polygon([(x, y - r * 1.2), (x + r, y), (x, y + r * 1.2), (x - r, y)], fill=colour)
    elif kind == "P":
        draw.rectangle((x - r, y - 1.5, x + r, y + 1.5), fill=colour)
        draw.rectangle((x - 1.5, y - r, x + 1.5, y + r), fill=colour)
    elif kind == "X":
        draw.line([(x - r, y - r), (x + r, y + r)], fill=colour, width=3)
        draw.line([(x - r, y + r), (x + r, y - r)], fill=colour, width=3)
    else:  # a star
        star = [
            (
                x + (r * 1.3 if k % 2 == 0 else r * 0.55) * math.sin(k * math.pi / 5),
                y - (r * 1.3 if k % 2 == 0 else r * 0.55) * math.cos(k * math.pi / 5),
            )
            for k in range(10)
        ]
        draw.polygon(star, fill=colour)


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
            _rgb(OKABE_ITO[i % len(OKABE_ITO)]),
            MARKERS[i % len(MARKERS)],
            LINESTYLES[i % len(LINESTYLES)],
        )
        for i, key in enumerate(items)
    }

    times = [local(p.when) for c in clients for p in c.scores]
    start, end = min(times) - timedelta(days=4), max(times) + timedelta(days=4)
    monday = datetime.combine(start.date() + timedelta(days=-start.weekday() % 7), time())
    rows, cols, _, panel_in = _layout(len(clients))
    max_ticks = MAX_TICKS if cols == 1 else MAX_TICKS // 2
    tick_every = max(1, math.ceil(((end - monday).days // 7 + 1) / max_ticks))
    ticks: list[float] = []
    while monday <= end:
        ticks.append(_days(monday))
        monday += timedelta(weeks=tick_every)
    x_min, x_max = _days(start), _days(end)

    def week_label(x: float) -> str:
        d = _EPOCH + timedelta(days=round(x))
        return t("digest.chart.day_month", day=d.day, month=t(f"digest.month.{d.month}"))

    width, height = chart_size_px(len(clients))
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    title_font, label_font, tick_font, small = _font(17), _font(13), _font(12), _font(11)

    # Header: the title; the score axis's name runs up the left edge.
    draw.text((width / 2, 10), t("digest.chart.title"), fill=TEXT, font=title_font, anchor="mt")
    y_label = t("digest.chart.y_label")
    box = draw.textbbox((0, 0), y_label, font=small)
    label = Image.new("RGB", (round(box[2] - box[0]) + 4, round(box[3] - box[1]) + 4), "white")
    ImageDraw.Draw(label).text((2, 2 - box[1]), y_label, fill=TEXT, font=small)
    label = label.rotate(90, expand=True)
    top, left_edge = 44, 22
    legend_h = round(HEADER_IN * DPI) - top
    grid_h = height - top - legend_h
    image.paste(label, (3, top + max(0, (grid_h - label.height) // 2)))

    panel_w = (width - left_edge) / cols
    panel_h = panel_in * DPI
    x_label = t("digest.chart.x_label")
    # Every panel has the same frame (grid, axes, score and week labels): drawn once,
    # pasted into each panel, which is most of the saving over drawing each one.
    frame_w, frame_h = math.floor(panel_w), math.floor(panel_h)
    ax0, ax1, ay0 = 34.0, frame_w - 14.0, 24.0
    frames = {}
    for lowest in {index + cols >= len(clients) for index in range(len(clients))}:
        frame = Image.new("RGB", (frame_w, frame_h), "white")
        fd = ImageDraw.Draw(frame)
        ay1 = frame_h - (40.0 if lowest else 24.0)
        for score in range(0, 11, 2):
            y = ay1 - score / 10 * (ay1 - ay0)
            fd.line([(ax0, y), (ax1, y)], fill=GRID, width=1)
            fd.text((ax0 - 5, y), str(score), fill=AXIS, font=tick_font, anchor="rm")
        for x in ticks:
            if x_min <= x <= x_max:
                tx = ax0 + (x - x_min) / (x_max - x_min) * (ax1 - ax0)
                fd.line([(tx, ay0), (tx, ay1)], fill=GRID, width=1)
                fd.text((tx, ay1 + 4), week_label(x), fill=AXIS, font=tick_font, anchor="mt")
        fd.line([(ax0, ay0), (ax0, ay1), (ax1, ay1)], fill=AXIS, width=1)
        if lowest:
            fd.text(((ax0 + ax1) / 2, ay1 + 22), x_label, fill=TEXT, font=small, anchor="mt")
        frames[lowest] = (frame, ay1)
    for index, client in enumerate(clients):
        row, col = divmod(index, cols)
        px0, py0 = round(left_edge + col * panel_w), round(top + row * panel_h)
        frame, ay1 = frames[index + cols >= len(clients)]
        image.paste(frame, (px0, py0))
        draw.text((px0 + ax0, py0 + 4), client.alias, fill=TEXT, font=label_font)

        def sx(x: float, px0: float = px0) -> float:
            return px0 + ax0 + (x - x_min) / (x_max - x_min) * (ax1 - ax0)

        def sy(score: float, py0: float = py0, ay1: float = ay1) -> float:
            return py0 + ay1 - score / 10 * (ay1 - ay0)

        for n, key in enumerate(items):
            points = sorted((p for p in client.scores if p.item_key == key), key=lambda p: p.when)
            if not points:
                continue
            colour, marker, pattern = style[key]
            # Series side by side by a fraction of a day: equal scores on the same day
            # would otherwise hide every line but the last one drawn.
            dodge = (n - (len(items) - 1) / 2) * DODGE_DAYS
            xy = [(sx(_days(local(p.when)) + dodge), sy(min(10, max(0, p.score)))) for p in points]
            _dashed(draw, xy, pattern, colour)
            for x, y in xy:
                _marker(draw, marker, x, y, colour)

    # The legend under the panels: each item's marker, line and label.
    labels = [view.score_item_labels.get(key, key) for key in items]
    per_row = min(len(items), 4)
    slot = width / per_row
    for i, (key, text) in enumerate(zip(items, labels, strict=True)):
        colour, marker, pattern = style[key]
        lx = slot * (i % per_row) + 16
        ly = top + grid_h + 14 + (i // per_row) * 22
        _dashed(draw, [(lx, ly), (lx + 34, ly)], pattern, colour)
        _marker(draw, marker, lx + 17, ly, colour)
        draw.text((lx + 42, ly), text, fill=TEXT, font=small, anchor="lm")

    buffer = io.BytesIO()
    # One byte a pixel from a fixed palette (every colour drawn, and greys for the
    # smoothed edges of text): a fifth of the encoding time of RGB, half the bytes.
    paletted = image.quantize(palette=_palette(), dither=Image.Dither.NONE)
    paletted.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


@lru_cache(maxsize=1)
def _palette() -> Image.Image:
    colours = [(255, 255, 255), GRID, AXIS, TEXT, *(_rgb(c) for c in OKABE_ITO)]
    colours += [(g, g, g) for g in range(0, 256, 17)]
    flat = [v for rgb in colours for v in rgb]
    palette = Image.new("P", (1, 1))
    palette.putpalette(flat + [0] * (768 - len(flat)))
    return palette
