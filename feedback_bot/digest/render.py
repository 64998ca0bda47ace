"""Turn a :class:`DigestView` into what a practitioner reads: Markdown, HTML, chat text.

Pure functions of the view and the text catalog: no database, no I/O, no logging. The
client's words are only ever placed in the returned strings, exactly as written:

* chat text: between quotation marks, untouched up to ``CHAT_WORDS_LIMIT`` characters;
  longer words end in "…" followed by a line saying the full text is in the attached
  file (split the result with :func:`feedback_bot.delivery.textsplit.split_text`);
* HTML: escaped, in a ``dir="auto"`` block that keeps line breaks, so right-to-left
  words display properly and nothing the client typed can become markup;
* Markdown: in a fenced code block longer than any backtick run in the words, so every
  Markdown viewer shows them literally and none turns them into markup or HTML.

The order of flags, clients and items is the view's: the builder decides it.
"""

from __future__ import annotations

import base64
import html
import struct
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from feedback_bot.catalog import Catalog
from feedback_bot.digest.view import ClientSection, DigestView, Flag, ItemView

__all__ = ["render_chat_text", "render_html", "render_markdown"]

_KINDS = ("weekly", "pre_session", "on_demand", "contact")
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _zone(name: str) -> tuple[tzinfo, str]:
    try:
        return ZoneInfo(name), name
    except (ZoneInfoNotFoundError, ValueError):
        return UTC, "UTC"


@dataclass(frozen=True, slots=True)
class _ItemText:
    meta: tuple[str, ...]  # when, valence, routing
    risk: str | None
    words: str | None
    marks: tuple[str, ...]  # (edited), (withdrawn ...)


class _Texts:
    """The catalog, bound to the view's language and time zone."""

    def __init__(self, view: DigestView, catalog: Catalog) -> None:
        self.view = view
        self.catalog = catalog
        self.lang = view.language
        self.tz, self.tz_name = _zone(view.timezone)

    def t(self, key: str, **params: object) -> str:
        return self.catalog.t(key, self.lang, **params)

    def has(self, key: str) -> bool:
        return self.catalog.has(key, self.lang)

    def local(self, when: datetime) -> datetime:
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return when.astimezone(self.tz)

    def when(self, when: datetime) -> str:
        d = self.local(when)
        return self.t(
            "digest.format.when",
            weekday=self.t(f"digest.weekday.{d.weekday()}"),
            day=d.day,
            month=self.t(f"digest.month.{d.month}"),
            time=f"{d:%H:%M}",
        )

    def date(self, when: datetime) -> str:
        d = self.local(when)
        same_year = d.year == self.local(self.view.generated_at).year
        return self.t(
            "digest.format.date" if same_year else "digest.format.date_with_year",
            weekday=self.t(f"digest.weekday.{d.weekday()}"),
            day=d.day,
            month=self.t(f"digest.month.{d.month}"),
            year=d.year,
        )

    def title(self) -> str:
        kind = self.view.kind if self.view.kind in _KINDS else "on_demand"
        return self.t(f"digest.title.{kind}")

    def intro(self) -> str:
        view = self.view
        when = "since" if view.since is not None else "all"
        date = self.date(view.since) if view.since is not None else ""
        if view.kind == "contact":
            return self.t(f"digest.intro.contact.{when}", name=view.practitioner_name, date=date)
        if view.kind == "pre_session" and len(view.clients) == 1:
            return self.t(
                f"digest.intro.one_client.{when}",
                name=view.practitioner_name,
                alias=view.clients[0].alias,
                date=date,
            )
        return self.t(f"digest.intro.clients.{when}", name=view.practitioner_name, date=date)

    def times_in(self) -> str:
        return self.t("digest.times_in", timezone=self.tz_name)

    def prepared(self) -> str:
        return self.t("digest.prepared", when=self.when(self.view.generated_at))

    def nothing_new(self) -> str:
        if self.view.since is None:
            return self.t("digest.empty.all")
        return self.t("digest.empty.since", date=self.date(self.view.since))

    def flag(self, flag: Flag) -> str:
        """The reason, naming the client: reasons usually name them already."""
        if flag.client_alias and flag.client_alias in flag.reason:
            return flag.reason
        return self.t("digest.flags.line", alias=flag.client_alias, reason=flag.reason)

    def client_heading(self, client: ClientSection) -> str:
        key = f"digest.client.status.{client.status}"
        heading = self.t(key, alias=client.alias) if self.has(key) else client.alias
        if client.practitioner_name:  # the feedback contact reads other people's clients
            return self.t(
                "digest.contact_client.heading",
                heading=heading,
                practitioner=client.practitioner_name,
            )
        return heading

    def response_rate(self, client: ClientSection) -> str | None:
        if client.checkins_sent <= 0:
            return None
        form = "one" if client.checkins_sent == 1 else "other"
        return self.t(
            f"digest.client.response_rate.{form}",
            answered=client.checkins_answered,
            sent=client.checkins_sent,
        )

    def no_items(self, client: ClientSection) -> str:
        return self.t("digest.client.no_items", alias=client.alias)

    def item(self, item: ItemView) -> _ItemText:
        meta = [self.when(item.when)]
        valence = f"digest.item.valence.{item.valence}"
        meta.append(self.t(valence if self.has(valence) else "digest.item.valence.other"))
        routing = f"digest.item.routing.{item.routing}"
        if self.has(routing):
            meta.append(self.t(routing))
        marks = []
        if item.edited:
            marks.append(self.t("digest.item.edited"))
        if item.withdrawn:
            marks.append(self.t("digest.item.withdrawn"))
        if item.seen_before:
            marks.append(self.t("digest.item_seen.mark"))
        return _ItemText(
            meta=tuple(meta),
            risk=self.t("digest.item.risk") if item.risk else None,
            words=item.text if item.text else None,
            marks=tuple(marks),
        )


# --- chat text ---------------------------------------------------------------------------

# Longer words are cut in the chat message (never silently: it says so), and are whole in
# the attached file: a digest should stay readable on a phone.
CHAT_WORDS_LIMIT = 1200


def _chat_words(words: str) -> tuple[str, bool]:
    """The words as the chat shows them, and whether they were cut (at a space, with …)."""
    if len(words) <= CHAT_WORDS_LIMIT:
        return words, False
    head = words[:CHAT_WORDS_LIMIT]
    space = head.rfind(" ")
    if space > CHAT_WORDS_LIMIT // 2:
        head = head[:space]
    return head.rstrip() + "…", True


def render_chat_text(view: DigestView, catalog: Catalog) -> str:
    """Plain text for a chat message; paragraphs are separated by blank lines.

    Only a client's very long words are shortened, visibly (see ``CHAT_WORDS_LIMIT``);
    pass the result to ``split_text(text, limit, units=...)``.
    """
    tx = _Texts(view, catalog)
    if view.is_empty:
        return f"{tx.title()}\n{tx.nothing_new()}\n{tx.t('digest.empty.followup')}"
    blocks: list[str] = [f"{tx.title()}\n{tx.intro()} {tx.times_in()}"]

    if view.flags:
        lines = [tx.t("digest.flags.heading")]
        lines += [f"• {tx.flag(flag)}" for flag in view.flags]
        blocks.append("\n".join(lines))

    for client in view.clients:
        head = [f"— {tx.client_heading(client)} —"]
        rate = tx.response_rate(client)
        if rate is not None:
            head.append(rate)
        if not client.items:
            head.append(tx.no_items(client))
        blocks.append("\n".join(head))
        for item in client.items:
            it = tx.item(item)
            lines = [" · ".join(it.meta)]
            if it.risk is not None:
                lines.append(it.risk)
            if it.words is None:
                lines.append(tx.t("digest.item.no_words"))
            else:
                shown, cut = _chat_words(it.words)
                lines.append(f"“{shown}”")
                if cut:
                    lines.append(tx.t("digest.item_cut.note"))
            lines += it.marks
            blocks.append("\n".join(lines))

    if view.reflective_prompt:
        blocks.append(f"{tx.t('digest.reflective.heading')}\n{view.reflective_prompt}")
    return "\n\n".join(blocks)


# --- Markdown ----------------------------------------------------------------------------

_MD_SPECIAL = frozenset("\\`*_[]<>&#|~")


def _md(text: str) -> str:
    """Inline text that is not the client's words (aliases, reasons, names, prompt)."""
    out = "".join(f"\\{ch}" if ch in _MD_SPECIAL else ch for ch in text)
    return " ".join(out.splitlines())


def _md_words(words: str) -> str:
    longest = run = 0
    for ch in words:
        run = run + 1 if ch == "`" else 0
        longest = max(longest, run)
    fence = "`" * max(3, longest + 1)
    body = words if words.endswith("\n") else words + "\n"
    return f"{fence}text\n{body}{fence}"


def render_markdown(view: DigestView, catalog: Catalog, chart_filename: str | None = None) -> str:
    """The full digest as a Markdown file.

    ``chart_filename``: the trend chart's file name next to the Markdown file, if written.
    """
    tx = _Texts(view, catalog)
    out: list[str] = [f"# {_md(tx.title())}"]
    if view.practice_name:
        out.append(f"*{_md(view.practice_name)}*")
    if view.is_empty:
        out.append(f"**{_md(tx.nothing_new())}**  \n{_md(tx.t('digest.empty.followup'))}")
        out.append(f"{_md(tx.prepared())}")
    else:
        out.append(f"{_md(tx.intro())}  \n{_md(tx.times_in())} {_md(tx.prepared())}")
        if view.flags:
            out.append(f"## {_md(tx.t('digest.flags.heading'))}")
            out.append("\n".join(f"- {_md(tx.flag(flag))}" for flag in view.flags))
        if chart_filename:
            alt = _md(tx.t("digest.chart.alt"))
            target = chart_filename.replace(" ", "%20").replace(")", "%29").replace("(", "%28")
            out.append(f"![{alt}]({target})")
        for client in view.clients:
            out.append(f"## {_md(tx.client_heading(client))}")
            rate = tx.response_rate(client)
            if rate is not None:
                out.append(_md(rate))
            if not client.items:
                out.append(_md(tx.no_items(client)))
            for item in client.items:
                it = tx.item(item)
                out.append(f"### {' · '.join(_md(m) for m in it.meta)}")
                if it.risk is not None:
                    out.append(f"**{_md(it.risk)}**")
                if it.words is not None:
                    out.append(_md_words(it.words))
                else:
                    out.append(f"*{_md(tx.t('digest.item.no_words'))}*")
                if it.marks:
                    out.append(" ".join(f"*{_md(m)}*" for m in it.marks))
    if view.reflective_prompt and not view.is_empty:
        out.append(f"## {_md(tx.t('digest.reflective.heading'))}")
        out.append("\n".join(f"> {_md(line)}" for line in view.reflective_prompt.splitlines()))
    out.append("---")
    out.append(f"*{_md(tx.t('digest.confidential'))}*")
    return "\n\n".join(out) + "\n"


# --- HTML --------------------------------------------------------------------------------

_CSS = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 46rem; padding: 1.5rem 1.25rem 3rem;
  font: 1rem/1.55 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif;
  color: #1f2328; background: #fff; }
h1 { font-size: 1.6rem; line-height: 1.25; margin: 0 0 .5rem; }
h2 { font-size: 1.25rem; margin: 2rem 0 .5rem; padding-bottom: .25rem;
  border-bottom: 1px solid #d0d7de; }
p { margin: .35rem 0; }
.muted { color: #57606a; font-size: .92rem; }
.flags { border: 2px solid #d55e00; border-radius: .5rem; padding: .5rem 1rem 1rem;
  background: #fff8f3; }
.flags h2 { margin-top: .5rem; border: 0; }
.flags ul { margin: 0; padding-left: 1.25rem; }
.flags li { margin: .3rem 0; }
.item { margin: 1rem 0; padding: .5rem .9rem; border-left: .3rem solid #0072b2;
  background: #f6f8fa; border-radius: 0 .4rem .4rem 0; }
.item.not_right { border-left-color: #d55e00; }
.item.good { border-left-color: #009e73; }
.meta { font-weight: 600; }
.meta .sep { color: #57606a; font-weight: 400; padding: 0 .3rem; }
.risk { color: #8a2c00; font-weight: 700; }
.words { margin: .5rem 0; padding: .5rem .8rem; background: #fff; border: 1px solid #d0d7de;
  border-radius: .3rem; white-space: pre-wrap; overflow-wrap: anywhere;
  unicode-bidi: plaintext; font-size: 1.05rem; }
.marks { font-style: italic; color: #57606a; }
.rate { color: #57606a; }
figure { margin: 1.5rem 0; }
figure img { max-width: 100%; height: auto; }
figcaption { color: #57606a; font-size: .92rem; }
.prompt { margin: .5rem 0; padding: .6rem 1rem; border-left: .3rem solid #cc79a7;
  white-space: pre-wrap; }
footer { margin-top: 2.5rem; border-top: 1px solid #d0d7de; padding-top: .75rem; }
@media print {
  @page { margin: 16mm 14mm; }
  body { max-width: none; padding: 0; font-size: 11pt; color: #000; }
  .muted, .rate, .marks, figcaption { color: #333; }
  .flags, .item, .words { background: none; }
  .item, .words, figure, .flags li { break-inside: avoid; page-break-inside: avoid; }
  h1, h2, .meta { break-after: avoid; page-break-after: avoid; }
  figure img { max-height: 60vh; }
}
"""

_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _png_size(png: bytes) -> tuple[int, int] | None:
    if len(png) >= 24 and png.startswith(_PNG_SIGNATURE) and png[12:16] == b"IHDR":
        width, height = struct.unpack(">II", png[16:24])
        return int(width), int(height)
    return None


def _html_item(tx: _Texts, item: ItemView) -> str:
    it = tx.item(item)
    sep = '<span class="sep" aria-hidden="true">·</span>'
    meta = sep.join(f"<span>{_e(m)}</span>" for m in it.meta)
    valence = item.valence if item.valence in ("good", "not_right") else "other"
    parts = [f'<article class="item {valence}">', f'<p class="meta">{meta}</p>']
    if it.risk is not None:
        parts.append(f'<p class="risk">{_e(it.risk)}</p>')
    if it.words is not None:
        label = _e(tx.t("digest.item.words_label"))
        parts.append(
            f'<blockquote class="words" dir="auto" aria-label="{label}">{_e(it.words)}</blockquote>'
        )
    else:
        parts.append(f'<p class="marks">{_e(tx.t("digest.item.no_words"))}</p>')
    if it.marks:
        parts.append(f'<p class="marks">{_e(" ".join(it.marks))}</p>')
    parts.append("</article>")
    return "\n".join(parts)


def render_html(view: DigestView, catalog: Catalog, chart_png: bytes | None = None) -> str:
    """The full digest as one self-contained HTML page (inline styles, chart as data URI)."""
    tx = _Texts(view, catalog)
    title = tx.title()
    body: list[str] = ["<header>", f"<h1>{_e(title)}</h1>"]
    if view.practice_name:
        body.append(f'<p class="muted">{_e(view.practice_name)}</p>')
    if view.is_empty:
        body.append(f"<p><strong>{_e(tx.nothing_new())}</strong></p>")
        body.append(f"<p>{_e(tx.t('digest.empty.followup'))}</p>")
        body.append(f'<p class="muted">{_e(tx.prepared())}</p>')
        body.append("</header>")
    else:
        body.append(f"<p>{_e(tx.intro())}</p>")
        body.append(f'<p class="muted">{_e(tx.times_in())} {_e(tx.prepared())}</p>')
        body.append("</header>")
        if view.flags:
            body.append('<section class="flags" aria-labelledby="flags-h">')
            body.append(f'<h2 id="flags-h">{_e(tx.t("digest.flags.heading"))}</h2>')
            body.append("<ul>")
            for flag in view.flags:
                body.append(f"<li>{_e(tx.flag(flag))}</li>")
            body.append("</ul>")
            body.append("</section>")
        if chart_png:
            size = _png_size(chart_png)
            dims = f' width="{size[0]}" height="{size[1]}"' if size else ""
            data = base64.b64encode(chart_png).decode("ascii")
            body.append("<figure>")
            body.append(
                f'<img src="data:image/png;base64,{data}"{dims} '
                f'alt="{_e(tx.t("digest.chart.alt"))}">'
            )
            body.append(f"<figcaption>{_e(tx.t('digest.chart_caption.text'))}</figcaption>")
            body.append("</figure>")
        for n, client in enumerate(view.clients, start=1):
            body.append(f'<section class="client" aria-labelledby="client-{n}">')
            body.append(f'<h2 id="client-{n}">{_e(tx.client_heading(client))}</h2>')
            rate = tx.response_rate(client)
            if rate is not None:
                body.append(f'<p class="rate">{_e(rate)}</p>')
            if not client.items:
                body.append(f"<p>{_e(tx.no_items(client))}</p>")
            body.extend(_html_item(tx, item) for item in client.items)
            body.append("</section>")
        if view.reflective_prompt:
            body.append('<section aria-labelledby="prompt-h">')
            body.append(f'<h2 id="prompt-h">{_e(tx.t("digest.reflective.heading"))}</h2>')
            body.append(f'<p class="prompt" dir="auto">{_e(view.reflective_prompt)}</p>')
            body.append("</section>")
    body.append(f'<footer class="muted"><p>{_e(tx.t("digest.confidential"))}</p></footer>')

    return "\n".join(
        [
            "<!DOCTYPE html>",
            f'<html lang="{_e(view.language)}">',
            "<head>",
            '<meta charset="utf-8">',
            f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
            '<meta name="referrer" content="no-referrer">',
            '<meta name="robots" content="noindex, nofollow">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{_e(' · '.join(filter(None, (title, view.practice_name))))}</title>",
            f"<style>{_CSS}</style>",
            "</head>",
            "<body>",
            *body,
            "</body>",
            "</html>",
            "",
        ]
    )
