"""Columns that name a person (chat addresses, platform user ids, aliases, names), sealed
at rest: who is a client, and whose, is itself health data.

A model declares ``address: Sealed[str] = Sealed(...)`` next to two mapped columns,
``address_enc`` (ciphertext bound to table, column and row uid) and, when the value is
looked up, ``address_hash`` (a keyed hash, never the value). Reading ``row.address``
opens the ciphertext; assigning it marks the row and the session's flush seals it. The
vault comes from the session (``session.info["vault"]``, see
:func:`feedback_bot.storage.database.session_factory`); a row loaded or flushed keeps a
reference to it, so it can still be read after its session closed.

Queries never compare plaintext. ``Identity.address == "123"`` in a query becomes
``identity.address_hash = <keyed hash of ("address", "123")>``: the hash is computed when
an ORM session runs the statement, with that session's vault, so it works in any query a
session executes (not in Core statements run on a bare connection, which raise).
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, Generic, Protocol, TypeVar, cast, overload

from sqlalchemy import ColumnElement, String, TypeDecorator, bindparam, event
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import ORMExecuteState, Session, object_session

T = TypeVar("T")

_PENDING = object()  # plaintext assigned, not yet sealed
_CACHE = "_sealed_plain"  # instance dict: field name -> (ciphertext or _PENDING, plaintext)
_VAULT = "_sealed_vault"


class FieldVault(Protocol):
    def seal(self, table: str, column: str, uid: str, text: str) -> str: ...

    def open(self, table: str, column: str, uid: str, token: str) -> str: ...

    def keyed_hash(self, *parts: str) -> str: ...


class NoVault(RuntimeError):
    """A session without a vault met a sealed column (a wiring mistake, not bad data)."""


Lookup = Callable[[str], tuple[str, ...]]

# The vault of the session running the current statement (see _vault_for_statement).
_RUNNING: ContextVar[FieldVault | None] = ContextVar("sealed_vault", default=None)


class _KeyedHash(TypeDecorator[Any]):
    """A bound value that is a tuple of hash parts; sent as their keyed hash."""

    impl = String(64)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        vault = _RUNNING.get()
        if vault is None:
            raise NoVault("a sealed column was compared outside a session with a vault")
        return vault.keyed_hash(*value)


class Sealed(Generic[T]):
    """A plaintext view of ``<name>_enc``; ``lookup(value)`` gives the parts of the keyed
    hash stored in ``<name>_hash`` (None: the value is never looked up)."""

    def __init__(self, lookup: Lookup | None = None) -> None:
        self.lookup = lookup
        self.name = ""
        self.owner: type = object

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name
        self.owner = owner
        self.enc_attr = f"{name}_enc"
        self.hash_attr = f"{name}_hash" if self.lookup else None

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> Sealed[T]: ...

    @overload
    def __get__(self, obj: object, owner: type | None = None) -> T: ...

    def __get__(self, obj: object | None, owner: type | None = None) -> Sealed[T] | T:
        if obj is None:
            return self
        cache: dict[str, tuple[object, str | None]] = obj.__dict__.setdefault(_CACHE, {})
        hit = cache.get(self.name)
        if hit is not None and hit[0] is _PENDING:
            return cast(T, hit[1])
        token = getattr(obj, self.enc_attr)
        if hit is not None and hit[0] == token:
            return cast(T, hit[1])
        if token is None:
            return cast(T, None)
        plain = vault_of(obj).open(table_of(obj), self.name, obj.uid, token)  # type: ignore[attr-defined]
        cache[self.name] = (token, plain)
        return cast(T, plain)

    def __set__(self, obj: object, value: T) -> None:
        obj.__dict__.setdefault(_CACHE, {})[self.name] = (_PENDING, value)
        # Touching the mapped column puts the row into the flush, which seals it.
        setattr(obj, self.enc_attr, None)

    def __eq__(self, other: object) -> Any:
        """In a query: compare the keyed hash (see the module's docstring)."""
        if self.hash_attr is None or self.lookup is None or not isinstance(other, str):
            raise TypeError(f"{self.name} is stored sealed and can't be compared in SQL")
        column: ColumnElement[Any] = getattr(self.owner, self.hash_attr)
        return column == bindparam(None, self.lookup(other), type_=_KeyedHash())

    def __ne__(self, other: object) -> Any:
        raise TypeError(f"{self.name} is stored sealed: only == can be looked up")

    __hash__ = object.__hash__


def table_of(obj: object) -> str:
    return cast(str, obj.__tablename__)  # type: ignore[attr-defined]


def vault_of(obj: object) -> FieldVault:
    vault = obj.__dict__.get(_VAULT)
    if vault is None:
        session = object_session(obj)
        vault = session.info.get("vault") if session is not None else None
    if vault is None:
        raise NoVault(f"{table_of(obj)}: sealed columns need a session made with a vault")
    return cast(FieldVault, vault)


def session_vault(session: Any) -> FieldVault:
    """The vault a (sync or async) session was made with."""
    vault = session.info.get("vault")
    if vault is None:
        raise NoVault("this session was made without a vault (storage.database.session_factory)")
    return cast(FieldVault, vault)


def sealed_fields(model: type) -> list[Sealed[Any]]:
    return [v for c in model.__mro__ for v in vars(c).values() if isinstance(v, Sealed)]


def seal_pending(obj: object, vault: FieldVault) -> None:
    cache: dict[str, tuple[object, str | None]] | None = obj.__dict__.get(_CACHE)
    obj.__dict__[_VAULT] = vault
    if not cache or not any(t is _PENDING for t, _ in cache.values()):
        return
    if getattr(obj, "uid", None) is None:
        from feedback_bot.storage.models import new_uid

        obj.uid = new_uid()  # type: ignore[attr-defined]
    for field in sealed_fields(type(obj)):
        entry = cache.get(field.name)
        if entry is None or entry[0] is not _PENDING:
            continue
        value = entry[1]
        token = (
            None if value is None else vault.seal(table_of(obj), field.name, obj.uid, value)  # type: ignore[attr-defined]
        )
        setattr(obj, field.enc_attr, token)
        if field.hash_attr is not None and field.lookup is not None:
            setattr(
                obj,
                field.hash_attr,
                None if value is None else vault.keyed_hash(*field.lookup(value)),
            )
        cache[field.name] = (token, value)


@event.listens_for(Session, "before_flush")
def _seal_before_flush(session: Session, flush_context: Any, instances: Any) -> None:
    for obj in [*session.new, *session.dirty]:
        cache = obj.__dict__.get(_CACHE)
        if not cache or not any(t is _PENDING for t, _ in cache.values()):
            continue
        vault = session.info.get("vault")
        if vault is None:
            raise NoVault(f"{table_of(obj)}: sealed columns need a session made with a vault")
        seal_pending(obj, vault)


@event.listens_for(Session, "do_orm_execute")
def _vault_for_statement(state: ORMExecuteState) -> Any:
    vault = state.session.info.get("vault")
    if vault is None:
        return None
    token = _RUNNING.set(vault)
    try:
        return state.invoke_statement()
    finally:
        _RUNNING.reset(token)


@event.listens_for(Session, "loaded_as_persistent")
def _remember_vault(session: Session, obj: object) -> None:
    vault = session.info.get("vault")
    if vault is not None and sealed_fields_cached(type(obj)):
        obj.__dict__[_VAULT] = vault


_HAS_SEALED: dict[type, bool] = {}


def sealed_fields_cached(model: type) -> bool:
    if model not in _HAS_SEALED:
        _HAS_SEALED[model] = bool(sealed_fields(model))
    return _HAS_SEALED[model]
