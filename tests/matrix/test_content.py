"""Outgoing content: splitting long texts and describing attachments."""

from __future__ import annotations

import json
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.matrix.content import attachment_content, encoded_size, png_size, split_text
from feedback_bot.ports import Attachment
from tests.matrix.test_attachments import tiny_png


def test_short_text_is_one_part_and_empty_text_is_none() -> None:
    assert split_text("Thanks!") == ["Thanks!"]
    assert split_text("") == []


def test_long_text_breaks_between_paragraphs() -> None:
    paragraphs = ["a" * 60, "b" * 60, "c" * 60]
    parts = split_text("\n\n".join(paragraphs), max_chars=130)
    assert parts == ["a" * 60 + "\n\n" + "b" * 60, "c" * 60]


def test_size_is_measured_as_encoded_json_not_characters() -> None:
    emoji = "\U0001f60a" * 1000  # 1000 characters, 12 000 bytes of escaped JSON
    parts = split_text(emoji, max_chars=5000, max_bytes=3000)
    assert all(len(json.dumps(p)) - 2 <= 3000 for p in parts)
    assert "".join(parts) == emoji


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from("ab \n\u00e9\U0001f60a"), max_size=400))
def test_splitting_never_loses_or_reorders_content(text: str) -> None:
    parts = split_text(text, max_chars=40, max_bytes=90)
    assert all(len(p) <= 40 and encoded_size(p) <= 90 for p in parts)
    assert re.sub(r"\s", "", "".join(parts)) == re.sub(r"\s", "", text)


def test_image_content_gives_dimensions_and_encrypted_file_keys() -> None:
    chart = Attachment("mood.png", "image/png", tiny_png(5, 4), is_image=True)
    keys = {"v": "v2", "key": {"k": "secret"}, "iv": "iv", "hashes": {"sha256": "h"}}

    content = attachment_content(chart, "mxc://hs/abc", keys)

    assert content["msgtype"] == "m.image"
    assert content["info"] == {"mimetype": "image/png", "size": len(chart.data), "w": 5, "h": 4}
    assert "url" not in content  # an encrypted room must not point at plaintext
    assert content["file"]["url"] == "mxc://hs/abc" and content["file"]["key"] == {"k": "secret"}


def test_plain_file_content_points_at_the_upload() -> None:
    digest = Attachment("digest.csv", "text/csv", b"a,b\n")
    content = attachment_content(digest, "mxc://hs/def", None)
    assert (content["msgtype"], content["url"], content["body"]) == (
        "m.file",
        "mxc://hs/def",
        "digest.csv",
    )
    assert png_size(b"not a png") is None
