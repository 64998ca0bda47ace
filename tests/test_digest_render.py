"""What a practitioner sees in a digest: chat text, Markdown and HTML files, trend chart."""

from __future__ import annotations

import dataclasses
import html
import io
import logging
import re
import struct
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import matplotlib.image
import pytest

from feedback_bot.catalog import Catalog
from feedback_bot.delivery.textsplit import split_text
from feedback_bot.digest.chart import chart_size_px, render_trend_chart
from feedback_bot.digest.render import render_chat_text, render_html, render_markdown
from feedback_bot.digest.view import ClientSection, DigestView, Flag, ItemView, ScorePoint

TRICKY = (
    "I felt *rushed* at the end <script>alert('x')</script> & [link](http://e.x) "
    "`code` ```fence``` # not a heading 😀👍🏽\n"
    "שלום, זה היה קשה\n"
    "مرحبا\n"
    '  indented line & &amp; "quoted"'
)
RUSHED = "We ran out of time and I didn't get to talk about my mum."
GOOD = "Thank you for listening today 🙏"
MOVED = "Just so you know, I've moved house."
PROMPT = "You might open by asking how the last session felt."

T1 = datetime(2025, 1, 14, 18, 5, tzinfo=UTC)  # a Tuesday, winter: London = UTC


def scores(start: datetime, **series: list[int]) -> tuple[ScorePoint, ...]:
    return tuple(
        ScorePoint(start + timedelta(weeks=i), key, value)
        for key, values in series.items()
        for i, value in enumerate(values)
    )


def make_view(**changes: object) -> DigestView:
    alex = ClientSection(
        client_id=1,
        alias="Alex",
        items=(
            ItemView(11, T1, "not_right", "session", TRICKY, edited=True, risk=True),
            ItemView(12, T1 - timedelta(days=2), "good", "session", RUSHED),
            ItemView(13, T1 - timedelta(days=3), "good", "fyi", GOOD),
            ItemView(14, T1 - timedelta(days=4), "other", "fyi", None, withdrawn=True),
        ),
        checkins_sent=4,
        checkins_answered=3,
        scores=scores(T1 - timedelta(weeks=5), heard=[7, 6, 3, 5, 6, 8], goals=[5, 5, 6, 6, 7, 7]),
    )
    sam = ClientSection(
        client_id=2,
        alias="Sam",
        items=(ItemView(21, T1 - timedelta(days=1), "other", "fyi", MOVED),),
        checkins_sent=1,
        checkins_answered=1,
        scores=scores(T1 - timedelta(weeks=2), heard=[6, 4, 2]),
        status="paused",
    )
    view = DigestView(
        practitioner_name="Dana",
        practice_name="Riverside Counselling",
        kind="weekly",
        generated_at=T1 + timedelta(hours=1),
        timezone="Europe/London",
        since=datetime(2025, 1, 6, 9, 0, tzinfo=UTC),
        flags=(
            Flag("Alex", "not_right", "Alex shared that something didn't feel right (1)."),
            Flag("Sam", "low_score", "Rated “I felt heard” 2 of 10, at or below your cutoff of 4."),
        ),
        clients=(alex, sam),
        reflective_prompt=PROMPT,
        score_item_labels={"heard": "I felt heard", "goals": "We worked on what I wanted"},
    )
    return dataclasses.replace(view, **changes)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.load()


class _WordsParser(HTMLParser):
    """Collects the text of every ``<blockquote class="words">``, unescaped."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.words: list[str] = []
        self.tags: list[str] = []
        self._inside = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag == "blockquote" and ("class", "words") in attrs:
            self._inside = True
            self.words.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "blockquote":
            self._inside = False

    def handle_data(self, data: str) -> None:
        if self._inside:
            self.words[-1] += data


def html_words(page: str) -> tuple[list[str], list[str]]:
    parser = _WordsParser()
    parser.feed(page)
    parser.close()
    return parser.words, parser.tags


# --- flags, order, the client's words --------------------------------------------------


@pytest.mark.parametrize("fmt", ["chat", "markdown", "html"])
def test_flags_come_first_and_say_why(catalog: Catalog, fmt: str) -> None:
    view = make_view()
    text = {"chat": render_chat_text, "markdown": render_markdown, "html": render_html}[fmt](
        view, catalog
    )
    if fmt == "html":
        text = html.unescape(text)
    first_item = text.index("Something didn't feel right")
    heading = text.index("Worth a look first")
    assert heading < first_item
    for flag in view.flags:
        assert flag.reason in text
        assert heading < text.index(flag.reason) < first_item
        assert heading < text.index(flag.client_alias) < first_item


def test_flags_name_the_client_once(catalog: Catalog) -> None:
    chat = render_chat_text(make_view(), catalog)
    assert "• Alex shared that something didn't feel right (1).\n" in chat
    assert "• Sam: Rated “I felt heard” 2 of 10, at or below your cutoff of 4." in chat


def test_items_keep_the_given_order(catalog: Catalog) -> None:
    view = make_view()
    chat, md = render_chat_text(view, catalog), render_markdown(view, catalog)
    html_in_order, _ = html_words(render_html(view, catalog))
    for text in (chat, md):
        positions = [text.index(words) for words in (TRICKY, RUSHED, GOOD, MOVED)]
        assert positions == sorted(positions)
        assert text.index("Alex") < text.index("Sam (has paused check-ins)")
    assert html_in_order == [TRICKY, RUSHED, GOOD, MOVED]


def test_each_item_says_when_how_it_felt_and_where_it_goes(catalog: Catalog) -> None:
    chat = render_chat_text(make_view(), catalog)
    assert "Tue 14 Jan, 18:05 · Something didn't feel right · For our next session" in chat
    assert "Sun 12 Jan, 18:05 · Something felt good · For our next session" in chat
    assert "Sat 11 Jan, 18:05 · Something felt good · Just so you know" in chat
    assert "Fri 10 Jan, 18:05 · Something else · Just so you know" in chat


def test_marks_for_edited_withdrawn_risk_and_no_words(catalog: Catalog) -> None:
    view = make_view()
    for text in (render_chat_text(view, catalog), render_markdown(view, catalog)):
        tricky_block = text[text.index("Tue 14 Jan, 18:05") : text.index("Sun 12 Jan")]
        assert "(edited)" in tricky_block
        assert "Please read this one soon" in tricky_block
        withdrawn_block = text[text.index("Fri 10 Jan, 18:05") :]
        assert "(withdrawn by the client after you saw it)" in withdrawn_block
        assert "No words added" in withdrawn_block
        assert text.count("(edited)") == 1
        assert text.count("Please read this one soon") == 1


@pytest.mark.parametrize("fmt", ["chat", "markdown"])
def test_client_words_are_verbatim(catalog: Catalog, fmt: str) -> None:
    render = render_chat_text if fmt == "chat" else render_markdown
    text = render(make_view(), catalog)
    for words in (TRICKY, RUSHED, GOOD, MOVED):
        assert words in text


def test_chat_quotes_the_words(catalog: Catalog) -> None:
    assert f"“{TRICKY}”" in render_chat_text(make_view(), catalog)


def test_markdown_keeps_words_out_of_markup(catalog: Catalog) -> None:
    md = render_markdown(make_view(), catalog)
    # A fence longer than any backtick run in the words, so nothing the client typed
    # can end the block or be read as Markdown/HTML.
    assert f"````text\n{TRICKY}\n````" in md
    assert f"```text\n{RUSHED}\n```" in md


def test_html_escapes_words_and_keeps_them_exact(catalog: Catalog) -> None:
    page = render_html(make_view(), catalog)
    assert "<script" not in page.lower()
    assert "<a " not in page
    words, tags = html_words(page)
    assert TRICKY in words  # after unescaping: exactly what the client wrote
    assert "script" not in tags
    assert 'dir="auto"' in page  # Hebrew/Arabic lines display right to left


def test_html_is_self_contained_printable_and_in_the_readers_language(catalog: Catalog) -> None:
    page = render_html(make_view(language="de"), catalog)
    assert page.startswith("<!DOCTYPE html>")
    assert '<html lang="de">' in page
    assert '<meta charset="utf-8">' in page
    assert "@media print" in page
    assert "Content-Security-Policy" in page
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)
    assert "Etwas hat sich nicht gut angefühlt" in html.unescape(page)
    # A language without a catalog falls back to English, never to raw keys.
    fallback = html.unescape(render_html(make_view(language="fr"), catalog))
    assert "Something didn't feel right" in fallback and "digest.item" not in fallback


def test_html_embeds_the_chart(catalog: Catalog) -> None:
    view = make_view()
    png = render_trend_chart(view, catalog)
    assert png is not None
    page = render_html(view, catalog, chart_png=png)
    width, height = chart_size_px(2)
    assert '<img src="data:image/png;base64,iVBORw0KGgo' in page
    assert f'width="{width}" height="{height}"' in page
    assert 'alt="Line chart' in page
    assert "data:image/png" not in render_html(view, catalog)


def test_markdown_links_the_chart_file(catalog: Catalog) -> None:
    md = render_markdown(make_view(), catalog, chart_filename="digest chart.png")
    assert "](digest%20chart.png)" in md


def test_reflective_prompt_closes_the_chat_text(catalog: Catalog) -> None:
    chat = render_chat_text(make_view(), catalog)
    assert chat.endswith(f"A thought for your next session\n{PROMPT}")
    assert "A thought" not in render_chat_text(make_view(reflective_prompt=None), catalog)


# --- time zones, response rate, empty digests ---------------------------------------------


@pytest.mark.parametrize(
    ("zone", "expected"),
    [
        ("Europe/London", "Tue 14 Jan, 18:05"),
        ("America/New_York", "Tue 14 Jan, 13:05"),
        ("Australia/Sydney", "Wed 15 Jan, 05:05"),
    ],
)
def test_times_are_in_the_practitioners_zone(catalog: Catalog, zone: str, expected: str) -> None:
    view = make_view(timezone=zone)
    chat, md = render_chat_text(view, catalog), render_markdown(view, catalog)
    for text in (chat, md):
        assert f"{expected} · Something didn't feel right" in text
    assert f"Times are shown in your time zone ({zone})." in chat
    assert zone.replace("_", "\\_") in md


def test_summer_time_is_respected(catalog: Catalog) -> None:
    summer = datetime(2025, 7, 1, 17, 30, tzinfo=UTC)
    item = ItemView(1, summer, "good", "fyi", "ok")
    view = make_view(
        generated_at=summer,
        since=None,
        flags=(),
        clients=(ClientSection(1, "Alex", items=(item,)),),
    )
    assert "Tue 1 Jul, 18:30" in render_chat_text(view, catalog)


def test_response_rate_wording(catalog: Catalog) -> None:
    chat = render_chat_text(make_view(), catalog)
    assert "3 of 4 check-ins answered" in chat
    assert "1 of 1 check-in answered" in chat
    no_checkins = make_view(clients=(ClientSection(1, "Alex", items=make_view().clients[0].items),))
    assert "answered" not in render_chat_text(no_checkins, catalog)


def test_empty_on_demand_digest_says_nothing_new_since(catalog: Catalog) -> None:
    empty = make_view(kind="on_demand", flags=(), clients=(), reflective_prompt=PROMPT)
    assert empty.is_empty
    chat = render_chat_text(empty, catalog)
    assert "Nothing new since Mon 6 Jan." in chat
    assert "Worth a look first" not in chat
    assert "Nothing new since Mon 6 Jan." in render_markdown(empty, catalog)
    assert "Nothing new since Mon 6 Jan." in render_html(empty, catalog)
    assert "Nothing new yet." in render_chat_text(dataclasses.replace(empty, since=None), catalog)


def test_since_in_an_earlier_year_names_the_year(catalog: Catalog) -> None:
    empty = make_view(
        kind="on_demand", flags=(), clients=(), since=datetime(2024, 12, 30, 12, 0, tzinfo=UTC)
    )
    assert "Nothing new since Mon 30 Dec 2024." in render_chat_text(empty, catalog)


def test_pre_session_digest_names_the_client(catalog: Catalog) -> None:
    view = make_view(kind="pre_session", flags=(), clients=make_view().clients[:1])
    chat = render_chat_text(view, catalog)
    assert chat.startswith("Feedback before your next session\n")
    assert "here's what Alex has shared since Mon 6 Jan" in chat


def test_texts_come_from_the_catalog(catalog: Catalog) -> None:
    custom = Catalog.load(overrides={"en": {"digest": {"item": {"edited": "(changed later)"}}}})
    assert "(changed later)" in render_chat_text(make_view(), custom)


def test_chat_text_splits_at_telegram_limits_without_cutting_items(catalog: Catalog) -> None:
    alex = make_view().clients[0]
    many = dataclasses.replace(alex, items=alex.items * 40)
    chat = render_chat_text(make_view(clients=(many,)), catalog)
    chunks = split_text(chat, 4096, units="utf16")
    assert len(chunks) > 1
    assert all(len(c.encode("utf-16-le")) // 2 <= 4096 for c in chunks)
    assert sum(c.count(f"“{TRICKY}”") for c in chunks) == 40


def test_client_words_go_nowhere_but_the_result(
    catalog: Catalog, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    view = make_view()
    render_chat_text(view, catalog)
    render_markdown(view, catalog)
    render_html(view, catalog, chart_png=render_trend_chart(view, catalog))
    out, err = capsys.readouterr()
    for words in (RUSHED, GOOD, MOVED):
        assert words not in out + err
        assert all(words not in r.getMessage() for r in caplog.records)


# --- trend chart ---------------------------------------------------------------------------


def _png_chunks(png: bytes) -> list[bytes]:
    kinds, pos = [], 8
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        kinds.append(png[pos + 4 : pos + 8])
        pos += 12 + length
    return kinds


def test_chart_is_a_png_of_the_expected_size(catalog: Catalog) -> None:
    png = render_trend_chart(make_view(), catalog)
    assert png is not None
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert 5_000 < len(png) < 300_000
    pixels = matplotlib.image.imread(io.BytesIO(png))
    width, height = chart_size_px(2)
    assert pixels.shape[:2] == (height, width)
    assert pixels[..., :3].min() < 0.5  # something is drawn on the white background


def test_single_client_chart_size(catalog: Catalog) -> None:
    view = make_view(clients=make_view().clients[:1])
    png = render_trend_chart(view, catalog)
    assert png is not None
    assert matplotlib.image.imread(io.BytesIO(png)).shape[:2] == (400, 800)


def test_chart_grows_into_a_grid_for_many_clients(catalog: Catalog) -> None:
    alex = make_view().clients[0]
    clients = tuple(dataclasses.replace(alex, client_id=i, alias=f"C{i}") for i in range(5))
    png = render_trend_chart(make_view(clients=clients), catalog)
    assert png is not None
    height, width = matplotlib.image.imread(io.BytesIO(png)).shape[:2]
    assert (width, height) == chart_size_px(5)
    assert width + height <= 10_000  # Telegram's photo limit


def test_no_scores_no_chart(catalog: Catalog) -> None:
    no_scores = tuple(dataclasses.replace(c, scores=()) for c in make_view().clients)
    assert render_trend_chart(make_view(clients=no_scores), catalog) is None
    assert render_trend_chart(make_view(clients=()), catalog) is None


def test_chart_is_deterministic_and_carries_no_metadata(catalog: Catalog) -> None:
    first = render_trend_chart(make_view(), catalog)
    assert first is not None
    assert render_trend_chart(make_view(), catalog) == first
    chunks = _png_chunks(first)
    assert chunks[0] == b"IHDR" and chunks[-1] == b"IEND"
    assert b"tIME" not in chunks
    assert b"Software" not in first
    assert b"Alex" not in first  # aliases are drawn as pixels, not stored as text


def test_chart_without_a_catalog_uses_the_packaged_texts() -> None:
    png = render_trend_chart(make_view())
    assert png is not None and png.startswith(b"\x89PNG")
