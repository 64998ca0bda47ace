"""The practice directory: listing, showing, changing, moving and deactivating practices,
practitioners and clients. The admin command line and the web console both call these;
each takes an open session (the caller commits) and raises :class:`DirectoryError` for
unknown ids, moves across practices and deactivated targets. ``scope`` limits a call to
one practice: another practice's ids then read as unknown."""

from feedback_bot.people.directory.changes import set_client, set_practice, set_practitioner
from feedback_bot.people.directory.errors import DirectoryError
from feedback_bot.people.directory.lifecycle import (
    deactivate_client,
    deactivate_practice,
    deactivate_practitioner,
    move_client,
)
from feedback_bot.people.directory.views import (
    ClientDetail,
    ClientInfo,
    PracticeInfo,
    PractitionerInfo,
    list_clients,
    list_practices,
    list_practitioners,
    show_client,
    show_practice,
    show_practitioner,
)

__all__ = [
    "ClientDetail",
    "ClientInfo",
    "DirectoryError",
    "PracticeInfo",
    "PractitionerInfo",
    "deactivate_client",
    "deactivate_practice",
    "deactivate_practitioner",
    "list_clients",
    "list_practices",
    "list_practitioners",
    "move_client",
    "set_client",
    "set_practice",
    "set_practitioner",
    "show_client",
    "show_practice",
    "show_practitioner",
]
