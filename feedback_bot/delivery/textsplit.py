"""Split a long text into chunks that fit a chat platform's message limit.

``split_text(text, limit)`` prefers the gentlest break that makes the text fit:
paragraphs (a blank line), then lines, then words, and only as a last resort a hard
cut inside a word (avoiding cuts inside an emoji sequence or before a combining mark
where it can).

Guarantees, for any ``text`` and a valid ``limit``:

* every chunk measures at most ``limit`` (characters, or UTF-16 code units with
  ``units="utf16"``, which is how Telegram counts its 4096);
* no chunk is empty or whitespace only;
* the chunks appear in the text in order, without overlap, and what lies between and
  around them is whitespace only: the whitespace at a split point (and at either end
  of the text) is dropped, nothing else is lost, added or reordered.

Non-breaking spaces (U+00A0, U+2007, U+202F) are never used as word breaks.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from itertools import accumulate
from typing import Literal

Units = Literal["chars", "utf16"]

__all__ = ["Units", "measure", "split_text"]

_WHITESPACE_RUN = re.compile(r"\s+")
_NO_BREAK = frozenset("\u00a0\u2007\u202f")

# Break levels, gentlest first. A whitespace run's level is the gentlest break it allows.
_PARAGRAPH, _LINE, _WORD, _HARD = 0, 1, 2, 3

_ZWJ = "\u200d"


def measure(text: str, units: Units = "chars") -> int:
    """Length of ``text`` in characters, or in UTF-16 code units."""
    if units == "chars":
        return len(text)
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def _run_level(run: str) -> int | None:
    newlines = run.count("\n")
    if newlines >= 2:
        return _PARAGRAPH
    if newlines == 1:
        return _LINE
    if any(ch not in _NO_BREAK for ch in run):
        return _WORD
    return None  # only non-breaking spaces: not a place to break


def _is_regional_indicator(ch: str) -> bool:
    return 0x1F1E6 <= ord(ch) <= 0x1F1FF


def _extends_previous(ch: str) -> bool:
    """True when ``ch`` belongs to the character before it (cutting here looks broken)."""
    cp = ord(ch)
    return (
        ch == _ZWJ
        or unicodedata.combining(ch) != 0
        or unicodedata.category(ch) in ("Mn", "Me", "Mc")
        or 0xFE00 <= cp <= 0xFE0F  # variation selectors
        or 0xE0100 <= cp <= 0xE01EF
        or 0x1F3FB <= cp <= 0x1F3FF  # skin-tone modifiers
        or 0xE0020 <= cp <= 0xE007F  # tag characters (subdivision flags)
    )


class _Splitter:
    def __init__(self, text: str, limit: int, units: Units) -> None:
        self.text = text
        self.limit = limit
        widths = (2 if units == "utf16" and ord(ch) > 0xFFFF else 1 for ch in text)
        self.prefix = [0, *accumulate(widths)]  # prefix[i] = size of text[:i]
        runs = [(m.start(), m.end(), _run_level(m.group())) for m in _WHITESPACE_RUN.finditer(text)]
        self.breaks = [(s, e, lvl) for s, e, lvl in runs if lvl is not None]
        self.break_starts = [s for s, _, _ in self.breaks]
        self.space_end = {s: e for s, e, _ in runs}  # whitespace run starting at s ends at e

    def size(self, start: int, end: int) -> int:
        return self.prefix[end] - self.prefix[start]

    def strip(self, start: int, end: int) -> tuple[int, int]:
        text = self.text
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        return start, end

    def split(self, start: int, end: int, level: int) -> list[tuple[int, int]]:
        """Spans covering the non-whitespace of ``text[start:end]``; that span is stripped."""
        if self.size(start, end) <= self.limit:
            return [(start, end)]
        if level == _HARD:
            return self.hard_split(start, end)
        lo = bisect.bisect_left(self.break_starts, start)
        hi = bisect.bisect_left(self.break_starts, end)
        pieces: list[tuple[int, int]] = []
        pos = start
        for s, e, lvl in self.breaks[lo:hi]:
            if lvl <= level and e <= end:
                pieces.append((pos, s))
                pos = e
        pieces.append((pos, end))
        if len(pieces) == 1:
            return self.split(start, end, level + 1)

        out: list[tuple[int, int]] = []
        current: tuple[int, int] | None = None
        for piece in pieces:
            if self.size(*piece) > self.limit:
                if current is not None:
                    out.append(current)
                    current = None
                out.extend(self.split(*piece, level + 1))
            elif current is None:
                current = piece
            elif self.size(current[0], piece[1]) <= self.limit:
                current = (current[0], piece[1])
            else:
                out.append(current)
                current = piece
        if current is not None:
            out.append(current)
        return out

    def good_cut(self, start: int, cut: int) -> bool:
        text = self.text
        before, after = text[cut - 1], text[cut]
        if before == _ZWJ or _extends_previous(after):
            return False
        if _is_regional_indicator(before) and _is_regional_indicator(after):
            run = 0
            i = cut - 1
            while i >= start and _is_regional_indicator(text[i]):
                run += 1
                i -= 1
            return run % 2 == 0  # only between two complete flags
        return True

    def hard_split(self, start: int, end: int) -> list[tuple[int, int]]:
        out: list[tuple[int, int]] = []
        while start < end:
            if self.size(start, end) <= self.limit:
                out.append((start, end))
                break
            # Furthest cut that still fits.
            cut = bisect.bisect_right(self.prefix, self.prefix[start] + self.limit, start, end) - 1
            if cut <= start:
                raise ValueError(
                    f"limit {self.limit} is too small for the character {self.text[start]!r}"
                )
            best = cut
            while best > start + 1 and not self.good_cut(start, best):
                best -= 1
            if not self.good_cut(start, best):
                best = cut  # one enormous cluster: cut it anyway
            chunk = self.strip(start, best)
            if chunk[0] < chunk[1]:
                out.append(chunk)
            start, end = self.strip(best, end)
        return out


def split_text(text: str, limit: int, units: Units = "chars") -> list[str]:
    """Split ``text`` into non-empty chunks of at most ``limit`` characters or UTF-16 units.

    Breaks at blank lines first, then line breaks, then spaces, then anywhere. Whitespace at
    a break (and at the very start and end) is dropped; all other text is kept, in order.
    Returns ``[]`` for a text that is empty or whitespace only.

    ``units="utf16"`` counts like Telegram (an emoji outside the BMP counts 2); it needs
    ``limit >= 2`` so any single character fits.
    """
    if units not in ("chars", "utf16"):
        raise ValueError(f"units must be 'chars' or 'utf16', not {units!r}")
    if limit < (2 if units == "utf16" else 1):
        raise ValueError(f"limit {limit} is too small")
    splitter = _Splitter(text, limit, units)
    start, end = splitter.strip(0, len(text))
    if start >= end:
        return []
    return [text[s:e] for s, e in splitter.split(start, end, _PARAGRAPH)]
