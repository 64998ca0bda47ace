"""The one place that wires settings → database → engine → adapters → scheduler."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from feedback_bot.app.beat import start_clock_jobs
from feedback_bot.app.platforms import Platform, rate_limit_for
from feedback_bot.app.settings import Settings
from feedback_bot.catalog import Catalog
from feedback_bot.conversation import draft_clock
from feedback_bot.conversation.commands import command_menus
from feedback_bot.conversation.digest_commands import digest_hooks
from feedback_bot.conversation.practitioner_dm import open_practitioner_dms
from feedback_bot.conversation.processor import Processor
from feedback_bot.conversation.router import Router
from feedback_bot.delivery.cursors import DbCursorStore
from feedback_bot.delivery.dispatcher import Dispatcher, Sleep
from feedback_bot.delivery.inbox import Inbox
from feedback_bot.digest.service import DigestService
from feedback_bot.people.admin import Admin
from feedback_bot.people.practice_config import PracticeConfig, load_practice_config
from feedback_bot.people.practice_settings import settings_document, use_deployment_defaults
from feedback_bot.ports import Adapter, CursorStore, IncomingEvent
from feedback_bot.ports.menus import CommandMenus
from feedback_bot.privacy.crypto import InvalidKey, KeyRing, _decode_key
from feedback_bot.privacy.hash_key import load_hash_key
from feedback_bot.privacy.retention import purge_expired
from feedback_bot.privacy.vault import Vault, seed_hash_key
from feedback_bot.safety.direct import load_detector, send_direct_safety_reply
from feedback_bot.scheduling.checkins import CheckinScheduler
from feedback_bot.scheduling.clock import Clock, SystemClock
from feedback_bot.services import ConsoleLinks, Services
from feedback_bot.storage.database import (
    create_engine,
    is_sqlite,
    receiving_engine,
    session_factory,
    write_gate,
)
from feedback_bot.storage.migrate import schema_status, upgrade

log = logging.getLogger(__name__)


AdapterFactory = Callable[[CursorStore], Adapter]

STOP_GRACE_SECONDS = 10.0  # how long a clean stop waits for a delivery in flight
LOOP_CHUNK = 50  # inbox events handled per call (the loop yields between chunks)


class StartupError(Exception):
    """A problem a person must fix before the bot can run; one readable message."""


def make_vault(settings: Settings) -> Vault:
    if settings.encryption_key is None:
        raise StartupError(
            "FEEDBACK_BOT_ENCRYPTION_KEY is not set. Feedback is encrypted at rest, so the bot "
            "needs a key: run `feedback-bot keys generate` and put the result in your .env."
        )
    try:
        current = settings.encryption_key.get_secret_value()
        keys = KeyRing(current, [k.get_secret_value() for k in settings.old_encryption_keys])
        return Vault(keys, seed=seed_hash_key(_decode_key(current)))
    except InvalidKey as exc:
        raise StartupError(f"FEEDBACK_BOT_ENCRYPTION_KEY: {exc}") from None


def console_links(settings: Settings) -> ConsoleLinks | None:
    if not settings.console_enabled:
        return None
    base = settings.console_public_url or f"http://{settings.http_host}:{settings.http_port}"
    return ConsoleLinks(base_url=base, link_minutes=settings.console_link_minutes)


def invite_links(adapters: dict[str, Adapter]) -> dict[str, str]:
    return {p: link for p, a in adapters.items() if (link := a.invite_link_template)}


@dataclass
class App:
    settings: Settings
    clock: Clock
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    vault: Vault
    catalog: Catalog
    config: PracticeConfig
    deps: Services
    inbox: Inbox
    processor: Processor
    dispatcher: Dispatcher
    checkins: CheckinScheduler
    digests: DigestService
    admin: Admin
    adapters: dict[str, Adapter] = field(default_factory=dict)
    command_menus: CommandMenus = field(default_factory=lambda: CommandMenus("en", {}, {}))
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _scheduler: object | None = None
    _dispatch_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    receiving: AsyncEngine | None = None  # the inbox's own engine (short lock waits)
    _send: asyncio.Event = field(default_factory=asyncio.Event)  # something new to deliver
    _stopping: asyncio.Event = field(default_factory=asyncio.Event)
    _delivery: asyncio.Task[None] | None = None

    # -- the sink adapters call -------------------------------------------------
    async def receive(self, event: IncomingEvent) -> None:
        await self.inbox.receive(event)

    # -- steps, callable directly from tests and the demo ------------------------
    async def process_inbox(self) -> int:
        return await self.processor.process_pending()

    async def dispatch_once(self) -> int:
        async with self._dispatch_lock:
            return await self.dispatcher.dispatch_once()

    async def drain(self) -> int:
        """Process everything received and deliver everything due now."""
        total = 0
        for _ in range(50):
            processed = await self.process_inbox()
            async with self._dispatch_lock:
                sent = await self.dispatcher.drain()
            total += sent
            if processed == 0 and sent == 0:
                break
        return total

    async def tick(self) -> None:
        """One beat of the clock: schedule and send check-ins and digests that are due."""
        now = self.clock.now()
        await self.checkins.tick(now)
        await draft_clock.tick(self.sessions, self.deps, now)  # before digests: filed words go in
        await self.digests.tick(now)
        # Another worker (PostgreSQL) may have died between committing an event and
        # handling it: nobody's new event, so nothing else would wake us for it.
        self.wake()
        self._send.set()  # what the beat queued goes out now

    async def purge(self) -> dict[str, int]:
        return await purge_expired(
            self.sessions,
            self.vault,
            self.clock.now(),
            self.settings.retention_days,
            self.settings.audit_retention_days,
        )

    # -- running for real --------------------------------------------------------
    async def start(self) -> None:
        # Loaded when the app serves, not when it is built: admin commands and digest
        # processes build it too, and never screen a text. In the background: the patterns
        # screen every message meanwhile, and a restart after a crash is not held up.
        if self.deps.detector.model is not None:
            self.deps.detector.model.start()
        await self.dispatcher.recover_on_start()
        await self.dispatcher.renew_lease()
        for adapter in self.adapters.values():
            await adapter.start(self.receive)
        # Deep links need what the platform told us at start (e.g. the bot's username).
        self.deps.invite_links.update(invite_links(self.adapters))
        for adapter in self.adapters.values():
            await open_practitioner_dms(self.sessions, self.deps, adapter, self.clock.now())
        self._tasks.append(asyncio.create_task(self._process_loop(), name="inbox"))
        # Events a previous life committed and died before handling: the platform hands
        # them over again, but as duplicates they wake nothing, so they would wait for
        # the next new message from anyone.
        self.wake()
        self._tasks.append(asyncio.create_task(self._lease_loop(), name="lease"))
        self._stopping.clear()
        self._delivery = asyncio.create_task(
            self.dispatcher.run(
                self._send,
                self._stopping,
                self.settings.scheduling.dispatch_seconds,
                busy=self._dispatch_lock,
            ),
            name="delivery",
        )
        self._scheduler = start_clock_jobs(self)

    async def _process_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                # The processor wakes the delivery loop after each event's commit
                # (App.queued): with many chats writing at once, the first replies go out
                # before the last events are handled, and a lone reply does not wait for
                # the inbox to be asked again.
                while True:
                    processed = await self.processor.process_pending(limit=LOOP_CHUNK)
                    if processed < LOOP_CHUNK:
                        break
            except Exception as exc:  # keep receiving; the rows stay pending for next time
                log.error("inbox loop: %s", type(exc).__name__)
                await asyncio.sleep(1)
                self._wake.set()

    async def _lease_loop(self) -> None:
        """Renews this worker's claims and pacing tokens (a lease others can see lapse), in
        its own task so a slow send never lets it lapse while the worker lives; and takes
        over, as often, what a dead worker's lapsed lease left (its chats wait no longer)."""
        every = max(1.0, self.settings.scheduling.sending_stale_seconds / 3)
        while True:
            await asyncio.sleep(every)
            try:
                await self.dispatcher.renew_lease()
                if await self.dispatcher.recover_stale():
                    self._send.set()
            except Exception as exc:  # the database is away: try again next beat
                log.warning("lease renewal: %s", type(exc).__name__)

    def wake(self) -> None:
        self._wake.set()

    def queued(self) -> None:
        """Something committed may be waiting in the outbox: the delivery loop looks now."""
        self._send.set()

    async def stop(self) -> None:
        # A delivery in flight may finish first (bounded). Cancelled between the platform's
        # "ok" and the row marked sent, it would be left "sending", as after a crash: the
        # reply sent again after the restart, a check-in never. The scheduler's shutdown
        # and the task cancels below cancel whatever they find running.
        if self._scheduler is not None:
            self._scheduler.pause()  # type: ignore[attr-defined]
        self._stopping.set()  # the delivery loop claims nothing more
        holding = False
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(STOP_GRACE_SECONDS):
                if self._delivery is not None:
                    await asyncio.shield(self._delivery)
                await self._dispatch_lock.acquire()
                holding = True
        try:
            if self._delivery is not None:
                self._delivery.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._delivery
                self._delivery = None
            if self._scheduler is not None:
                self._scheduler.shutdown(wait=False)  # type: ignore[attr-defined]
                self._scheduler = None
            for task in self._tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            self._tasks.clear()
            for adapter in self.adapters.values():
                await adapter.stop()
        finally:
            if holding:
                self._dispatch_lock.release()

    async def close(self) -> None:
        await self.stop()
        await self.engine.dispose()
        if self.receiving is not None:
            await self.receiving.dispose()

    def is_ready(self) -> bool:
        return all(a.is_connected() for a in self.adapters.values())


async def build_app(
    settings: Settings,
    *,
    adapters: Iterable[Adapter | AdapterFactory] = (),
    clock: Clock | None = None,
    config: PracticeConfig | None = None,
    migrate: bool = True,
    sleep: Sleep = asyncio.sleep,
    worker_id: str | None = None,
    platforms: Iterable[Platform[Any]] | None = None,
) -> App:
    """The app, not yet started. ``platforms`` (default: ``adapters.registry``) give
    each adapter its rate limit. Global logging is left to the entry points."""
    if platforms is None:
        from adapters.registry import platforms as registered

        platforms = registered()
    platforms = tuple(platforms)
    clock = clock or SystemClock()
    vault = make_vault(settings)
    config = config or load_practice_config(settings.prompts_file)
    base_catalog = Catalog.load()
    catalog = base_catalog.with_overrides(config.texts)
    detector = load_detector(
        config, settings.prompts_file.parent / "safety.yaml", model=settings.safety_model
    )
    defaults = config.practice_defaults()
    use_deployment_defaults(defaults)
    engine = create_engine(settings.database_url)
    if migrate:
        await upgrade(engine, vault=vault, practice_defaults=settings_document(defaults))
    sessions = session_factory(engine, vault)
    if migrate or (await schema_status(engine)).up_to_date:
        await load_hash_key(sessions, vault)
    # The receiving path's engine: the inbox and the platform cursors (short lock waits).
    receiving = receiving_engine(settings.database_url)
    receiving_sessions = session_factory(receiving, vault)
    cursors = DbCursorStore(receiving_sessions, clock)
    built = [a if isinstance(a, Adapter) else a(cursors) for a in adapters]
    adapter_map = {a.platform: a for a in built}
    menus = command_menus(catalog, config.languages, config.language)
    for adapter in built:
        adapter.set_command_menus(menus)
    deps = Services(
        vault=vault,
        catalog=catalog,
        config=defaults,
        detector=detector,
        base_catalog=base_catalog,
        command_prefixes={p: a.command_prefix for p, a in adapter_map.items()},
        invite_links=invite_links(adapter_map),
        max_text_chars=settings.max_text_chars,
        retention_days=settings.retention_days,
        invite_valid_days=settings.invite_valid_days,
        console=console_links(settings),
    )
    dispatcher = Dispatcher(
        sessions,
        vault,
        clock,
        adapter_map,
        {p: rate_limit_for(platforms, settings, p) for p in adapter_map},
        settings.scheduling,
        sleep=sleep,
        worker_id=worker_id,
        worker_name=settings.worker_name,
        single_worker=is_sqlite(settings.database_url),
    )
    digests = DigestService(
        sessions, deps, clock, timedelta(minutes=settings.scheduling.missed_slot_grace_minutes)
    )
    router = Router(digest_hooks(digests))
    gate = write_gate(settings.database_url)
    app_holder: list[App] = []
    processor = Processor(
        sessions,
        deps,
        clock,
        router,
        gate,
        on_committed=lambda: app_holder[0].queued() if app_holder else None,
    )

    async def emergency_reply(event: IncomingEvent) -> bool:
        adapter = adapter_map.get(event.platform)
        if adapter is None:
            return False
        sent = await send_direct_safety_reply(adapter, deps, event)
        if sent:
            router.already_warned.add(event.event_id)
        return sent

    inbox = Inbox(
        receiving_sessions,
        vault,
        clock,
        is_risky=lambda text: detector.check(text) is not None,
        emergency_reply=emergency_reply,
        on_new=lambda: app_holder[0].wake() if app_holder else None,
        gate=gate,
        per_minute=settings.inbound_per_minute,
        crisis_per_minute=settings.inbound_crisis_per_minute,
    )
    app = App(
        settings=settings,
        clock=clock,
        engine=engine,
        sessions=sessions,
        vault=vault,
        catalog=catalog,
        config=config,
        deps=deps,
        inbox=inbox,
        processor=processor,
        dispatcher=dispatcher,
        checkins=CheckinScheduler(sessions, deps, clock, settings.scheduling),
        digests=digests,
        admin=Admin(sessions, deps, clock),
        adapters=adapter_map,
        command_menus=menus,
        receiving=receiving,
    )
    app_holder.append(app)
    if is_sqlite(settings.database_url):
        log.info("database: SQLite (single worker)")
    return app
