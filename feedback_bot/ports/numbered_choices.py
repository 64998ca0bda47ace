"""Choices as a numbered list, for platforms without buttons (Matrix, console)."""

from __future__ import annotations

from dataclasses import replace

from feedback_bot.ports import OutgoingMessage


def numbered_text(text: str, labels: list[str]) -> str:
    if labels and all(label.isdigit() for label in labels[:-1]):
        # A 0–10 scale reads better on one line than as eleven numbered rows.
        return f"{text}\n\n{' · '.join(labels)}"
    lines = [f"{n}. {label}" for n, label in enumerate(labels, start=1)]
    return text + "\n\n" + "\n".join(lines)


def with_numbered_choices(message: OutgoingMessage) -> OutgoingMessage:
    return replace(message, text=numbered_text(message.text, [c.label for c in message.choices]))
