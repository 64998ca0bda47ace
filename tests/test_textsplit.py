"""Splitting long chat texts at platform limits without losing or mangling anything."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feedback_bot.delivery.textsplit import Units, measure, split_text

_WS = re.compile(r"\s*")


def assert_valid_split(text: str, chunks: list[str], limit: int, units: Units) -> None:
    """Every chunk fits and has content; chunks are the text, in order, minus whitespace."""
    pos = 0
    for chunk in chunks:
        assert chunk.strip(), f"empty or blank chunk {chunk!r}"
        assert measure(chunk, units) <= limit, (chunk, measure(chunk, units), limit)
        found = text.find(chunk, pos)
        assert found >= 0, f"chunk {chunk!r} is not in the text (after {pos})"
        assert _WS.fullmatch(text, pos, found), f"lost {text[pos:found]!r}"
        pos = found + len(chunk)
    assert _WS.fullmatch(text, pos), f"lost the end {text[pos:]!r}"


def test_a_text_that_fits_is_one_chunk() -> None:
    assert split_text("Hello there.\n\nSecond paragraph.", 100) == [
        "Hello there.\n\nSecond paragraph."
    ]


def test_blank_text_gives_no_chunks() -> None:
    assert split_text("", 10) == []
    assert split_text(" \n\n \t", 10) == []


def test_surrounding_whitespace_is_dropped() -> None:
    assert split_text("\n\n  hi  \n", 10) == ["hi"]


def test_paragraphs_are_kept_whole_when_they_fit() -> None:
    text = "First paragraph here.\n\nSecond one.\n\nThird paragraph, longer."
    chunks = split_text(text, 36)
    assert chunks == ["First paragraph here.\n\nSecond one.", "Third paragraph, longer."]


def test_a_long_paragraph_splits_at_lines_then_words() -> None:
    text = "line one is here\nline two\n\nnext"
    assert split_text(text, 17) == ["line one is here", "line two", "next"]
    assert split_text("alpha beta gamma delta", 11) == ["alpha beta", "gamma delta"]


def test_a_long_word_is_cut_hard() -> None:
    assert split_text("abcdefghij", 4) == ["abcd", "efgh", "ij"]


def test_non_breaking_space_is_not_a_word_break() -> None:
    assert split_text("10\u00a0km walk", 6) == ["10\u00a0km", "walk"]


def test_utf16_units_count_emoji_as_two() -> None:
    text = "😀" * 5
    assert split_text(text, 4, units="chars") == ["😀😀😀😀", "😀"]
    assert split_text(text, 4, units="utf16") == ["😀😀", "😀😀", "😀"]
    assert measure("a😀", "utf16") == 3
    assert measure("a😀", "chars") == 2


def test_hard_cuts_avoid_breaking_emoji_sequences_and_accents() -> None:
    assert split_text("🇬🇧🇫🇷", 4, units="utf16") == ["🇬🇧", "🇫🇷"]
    assert split_text("🇬🇧🇫🇷", 3, units="chars") == ["🇬🇧", "🇫🇷"]
    assert split_text("abe\u0301cd", 3) == ["ab", "e\u0301c", "d"]
    family = "👨\u200d👩\u200d👧"
    assert split_text(family + family, 5) == [family, family]


def test_telegram_limit_on_a_long_digest() -> None:
    paragraph = "Tue 14 Jan, 18:05 · Something didn't feel right\n“" + "word 😀 " * 80 + "”"
    text = "\n\n".join([paragraph] * 30)
    chunks = split_text(text, 4096, units="utf16")
    assert len(chunks) > 1
    assert_valid_split(text, chunks, 4096, "utf16")
    # Whole paragraphs per message: none is cut in the middle.
    assert all(chunk.count(paragraph) == chunk.count("\n\n") + 1 for chunk in chunks)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        split_text("abc", 0)
    with pytest.raises(ValueError):
        split_text("abc", 1, units="utf16")
    with pytest.raises(ValueError):
        split_text("abc", 5, units="bytes")  # type: ignore[arg-type]


_ALPHABET = st.sampled_from(
    ["a", "b", "Z", ".", " ", " ", "\n", "\n", "\t", "\r\n", "\u00a0", "😀", "👍🏽",
     "🇬🇧", "e\u0301", "\u200d", "ש", "ل", "*", "<", "`", "\u3000"]
)  # fmt: skip
_TEXTS = st.lists(_ALPHABET, max_size=120).map("".join) | st.text(max_size=120)


@settings(max_examples=300, deadline=None)
@given(text=_TEXTS, limit=st.integers(min_value=1, max_value=40))
def test_split_chars_property(text: str, limit: int) -> None:
    chunks = split_text(text, limit)
    assert_valid_split(text, chunks, limit, "chars")
    assert (chunks == []) == (text.strip() == "")


@settings(max_examples=300, deadline=None)
@given(text=_TEXTS, limit=st.integers(min_value=2, max_value=40))
def test_split_utf16_property(text: str, limit: int) -> None:
    chunks = split_text(text, limit, units="utf16")
    assert_valid_split(text, chunks, limit, "utf16")
    for chunk in chunks:
        assert len(chunk.encode("utf-16-le")) // 2 <= limit


_PARAGRAPH_BREAK = re.compile(r"\s*\n\s*\n\s*")


@settings(max_examples=100, deadline=None)
@given(
    paragraphs=st.lists(
        st.text(alphabet="abc 😀\n", min_size=1, max_size=30), min_size=1, max_size=8
    )
)
def test_paragraphs_that_fit_are_never_cut(paragraphs: list[str]) -> None:
    text = "\n\n".join(paragraphs)
    chunks = split_text(text, 64, units="utf16")  # every paragraph is at most 60 units
    assert_valid_split(text, chunks, 64, "utf16")
    whole = [p for p in _PARAGRAPH_BREAK.split(text.strip()) if p]
    assert [p for chunk in chunks for p in _PARAGRAPH_BREAK.split(chunk)] == whole
