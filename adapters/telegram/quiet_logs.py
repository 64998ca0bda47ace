"""Keep people's messages and the bot token out of our logs.

At DEBUG, PTB logs every request's parameters (message text included) and httpx logs every
URL (the token is part of it). These loggers are held at WARNING whatever the app's level.
PTB's few ERROR/CRITICAL records that embed a raw server payload lose their arguments.
"""

from __future__ import annotations

import logging

_NOISY = ("telegram", "httpx", "httpcore")
_PAYLOAD_LOGGERS = ("telegram.Bot", "telegram.request.BaseRequest")


class _WithholdArguments(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.msg = f"{record.msg} (arguments withheld: they may contain message content)"
            record.args = ()
        return True


_FILTER = _WithholdArguments()


def quiet_library_loggers() -> None:
    for name in _NOISY:
        logging.getLogger(name).setLevel(logging.WARNING)
    for name in _PAYLOAD_LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
