"""The one error the directory raises: a code a program can branch on, and a sentence an
admin can act on (the CLI prints it, the console shows it next to the form)."""

from __future__ import annotations


class DirectoryError(Exception):
    """``code`` is one of: ``not_found``, ``inactive``, ``cross_practice``, ``same``,
    ``has_clients``, ``feedback_contact``, ``alias_taken``, ``invalid``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def not_found(kind: str, id_: int) -> DirectoryError:
    return DirectoryError("not_found", f"no {kind} with id {id_}")
