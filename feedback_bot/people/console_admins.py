"""Practice admins of the web console: their accounts (one practice each), one-time
sign-in links and server-side sessions. Tokens carry 256 bits and are stored only as
SHA-256 hashes: a copy of the database signs nobody in."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from feedback_bot.people.admin import AdminError
from feedback_bot.people.codes import issue
from feedback_bot.privacy.audit import record
from feedback_bot.storage.models import (
    ConsoleAdmin,
    ConsoleLoginLink,
    ConsoleSession,
    Practice,
)

TOKEN_BYTES = 32  # 256 bits; at least 128 are required
SIGNIN_PATH = "/console/signin/"
SESSION_IDLE = timedelta(hours=1)  # a session nobody uses for this long is over


class ConsoleAdminError(AdminError):
    pass


@dataclass(frozen=True)
class SignedIn:
    admin_id: int
    practice_id: int
    name: str
    session_id: int


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def actor(admin_id: int) -> str:
    """Who did it, in the audit log: the console admin by id."""
    return f"console-admin:{admin_id}"


async def add_admin(
    session: AsyncSession, practice_id: int, name: str, now: datetime, valid_days: int
) -> tuple[int, str]:
    """A new admin of one practice, and a one-time code that links their chat (so they
    can ask the bot for sign-in links), as practitioners link theirs."""
    if await session.get(Practice, practice_id) is None:
        raise ConsoleAdminError(f"no practice with id {practice_id}", "not_found")
    if not name.strip():
        raise ConsoleAdminError("an admin needs a name")
    admin = ConsoleAdmin(practice_id=practice_id, name=name.strip(), active=True, created_at=now)
    session.add(admin)
    await session.flush()
    code = issue(session, now=now, valid_days=valid_days, admin_id=admin.id)
    await record(
        session,
        now,
        "admin",
        "console_admin.added",
        "console_admin",
        admin.id,
    )
    return admin.id, code


async def issue_login_link(
    session: AsyncSession, admin_id: int, now: datetime, minutes: int, *, by: str
) -> str:
    """A one-time sign-in token for an active admin (the path is ``SIGNIN_PATH + token``)."""
    admin = await session.get(ConsoleAdmin, admin_id)
    if admin is None or not admin.active:
        raise ConsoleAdminError(f"no active console admin with id {admin_id}", "not_found")
    token = secrets.token_urlsafe(TOKEN_BYTES)
    session.add(
        ConsoleLoginLink(
            admin_id=admin_id,
            token_hash=token_hash(token),
            expires_at=now + timedelta(minutes=minutes),
            created_at=now,
        )
    )
    await record(session, now, by, "console.link_issued", "console_admin", admin_id)
    return token


def login_url(base_url: str, token: str) -> str:
    return base_url.rstrip("/") + SIGNIN_PATH + token


async def redeem_login_link(
    session: AsyncSession, token: str, now: datetime, hours: int
) -> tuple[SignedIn, str] | None:
    """Use a sign-in token (once) and open a session; its cookie token is returned."""
    wanted = token_hash(token)
    link = (
        await session.execute(
            select(ConsoleLoginLink).where(ConsoleLoginLink.token_hash == wanted).with_for_update()
        )
    ).scalar_one_or_none()
    if link is None or not hmac.compare_digest(link.token_hash, wanted):
        return None
    if link.used_at is not None or link.expires_at <= now:
        return None
    link.used_at = now
    admin = await session.get(ConsoleAdmin, link.admin_id)
    if admin is None or not admin.active:
        return None
    cookie = secrets.token_urlsafe(TOKEN_BYTES)
    row = ConsoleSession(
        admin_id=admin.id,
        token_hash=token_hash(cookie),
        created_at=now,
        last_seen_at=now,
        expires_at=now + timedelta(hours=hours),
    )
    session.add(row)
    await session.flush()
    await record(session, now, actor(admin.id), "console.signed_in", "console_admin", admin.id)
    return SignedIn(admin.id, admin.practice_id, admin.name, row.id), cookie


async def signed_in(session: AsyncSession, cookie: str, now: datetime) -> SignedIn | None:
    """The admin behind a session cookie, if the session is live (and marks it used)."""
    row = (
        await session.execute(
            select(ConsoleSession).where(ConsoleSession.token_hash == token_hash(cookie))
        )
    ).scalar_one_or_none()
    if row is None or row.expires_at <= now or now - row.last_seen_at > SESSION_IDLE:
        return None
    admin = await session.get(ConsoleAdmin, row.admin_id)
    if admin is None or not admin.active:
        return None
    if now - row.last_seen_at > timedelta(minutes=1):
        row.last_seen_at = now
    return SignedIn(admin.id, admin.practice_id, admin.name, row.id)


async def sign_out(session: AsyncSession, session_id: int, admin_id: int, now: datetime) -> None:
    await session.execute(delete(ConsoleSession).where(ConsoleSession.id == session_id))
    await record(session, now, actor(admin_id), "console.signed_out", "console_admin", admin_id)
