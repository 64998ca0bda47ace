"""docs/conversation.md is what the app says: regenerated here and compared, so a change
to a text or a turn that is not carried into the docs fails."""

from __future__ import annotations

from feedback_bot.app.transcripts import DOC, JOURNEYS, render


async def test_docs_conversation_is_up_to_date() -> None:
    fresh = await render()
    assert DOC.read_text(encoding="utf-8") == fresh, (
        "docs/conversation.md is out of date: run python -m feedback_bot.app.transcripts"
    )


def test_the_main_journeys_are_there() -> None:
    titles = [j.title for j in JOURNEYS]
    for wanted in (
        "Client onboarding",
        "Anytime feedback",
        "Check-in",
        "Practitioner digest",
        "Closing the loop",
    ):
        assert wanted in titles
    assert all(f"## {title}" in DOC.read_text(encoding="utf-8") for title in titles)
