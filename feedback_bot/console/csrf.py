"""CSRF tokens: one per browser session, derived from the session's cookie token (which
the page never shows), checked on every POST."""

from __future__ import annotations

import hashlib
import hmac

FIELD = "csrf"


def token_for(cookie_token: str) -> str:
    return hmac.new(cookie_token.encode(), b"console-csrf", hashlib.sha256).hexdigest()


def valid(cookie_token: str | None, submitted: object) -> bool:
    if not cookie_token or not isinstance(submitted, str) or not submitted:
        return False
    return hmac.compare_digest(token_for(cookie_token), submitted)
