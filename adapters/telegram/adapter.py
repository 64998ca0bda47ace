"""The Telegram adapter: PTB's ``Bot`` driven from our own event loop.

PTB's ``Application``/``Updater`` are not used: the Updater confirms updates to Telegram
before handlers run, and we may only confirm what the inbox has committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections import OrderedDict
from typing import Any
from urllib.parse import urlsplit

from telegram import (
    Bot,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
    CallbackQuery,
    InputFile,
    Message,
    Update,
)
from telegram.error import BadRequest, TelegramError
from telegram.request import HTTPXRequest

from adapters.telegram.commands import client_menus_by_language, practitioner_commands
from adapters.telegram.errors import to_send_error
from adapters.telegram.httpx_imports import remember_missing_sniffio
from adapters.telegram.outgoing import MAX_TEXT, Part, TextPart, plan
from adapters.telegram.polling import Backoff, Poller
from adapters.telegram.quiet_logs import quiet_library_loggers
from adapters.telegram.settings import TelegramSettings
from adapters.telegram.translate import ALLOWED_UPDATES, PLATFORM, translate
from adapters.telegram.webhook import WebhookServer, secret_problem
from feedback_bot.ports import (
    BaseAdapter,
    Capability,
    CursorStore,
    InboundSink,
    OutgoingMessage,
    RecipientUnavailable,
    SendReceipt,
)
from feedback_bot.ports.menus import CommandMenus

remember_missing_sniffio()
log = logging.getLogger(__name__)

_START_PARAMETER = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_PROGRESS_KEPT = 1024  # partly delivered messages remembered for their retry
_ProgressKey = tuple[int, str, int]


class TelegramConfigError(ValueError):
    """A setting makes the adapter unusable; the message names the variable."""


class TelegramAdapter(BaseAdapter):
    platform = PLATFORM
    capabilities = frozenset(
        {Capability.BUTTONS, Capability.IMAGES, Capability.FILES, Capability.PROTECT_CONTENT}
    )
    max_text_length = MAX_TEXT
    command_prefix = "/"  # the core writes command hints with it ("send /help")

    def __init__(
        self,
        settings: TelegramSettings,
        cursors: CursorStore,
        *,
        request_timeout: float = 10.0,
        backoff: Backoff | None = None,
        stop_grace: float = 10.0,
    ) -> None:
        if settings.token is None or not settings.token.get_secret_value():
            raise TelegramConfigError("FEEDBACK_BOT_TELEGRAM__TOKEN is not set")
        quiet_library_loggers()  # before Bot(): it logs its URL, token included, at DEBUG
        if settings.mode == "webhook":
            _check_webhook_settings(settings)
        self._settings = settings
        self._cursors = cursors
        self._backoff = backoff or Backoff()
        self._stop_grace = stop_grace
        self._bot = Bot(
            settings.token.get_secret_value(),
            base_url=settings.base_url,
            base_file_url=settings.base_file_url,
            request=HTTPXRequest(
                read_timeout=request_timeout,
                write_timeout=request_timeout,
                connect_timeout=request_timeout,
                media_write_timeout=max(request_timeout, 20.0),
            ),
            # Its own connection, so a hanging long poll never holds up a send.
            get_updates_request=HTTPXRequest(
                connection_pool_size=1,
                read_timeout=request_timeout,  # PTB adds the long-poll timeout to this
                connect_timeout=request_timeout,
            ),
        )
        self._username = settings.bot_username.lstrip("@") if settings.bot_username else None
        self._sink: InboundSink | None = None
        self._poller: Poller | None = None
        self._poll_task: asyncio.Task[None] | None = None
        self._webhook: WebhookServer | None = None
        self._connected = False
        # (outbox_id, address, content hash) → (parts delivered, id of the message with buttons)
        self._progress: OrderedDict[_ProgressKey, tuple[int, str | None]] = OrderedDict()
        self._menus: CommandMenus | None = None  # from the core, before start

    # --- lifecycle --------------------------------------------------------------------------

    async def start(self, sink: InboundSink) -> None:
        self._sink = sink
        await self._bot.initialize()  # getMe: fails fast on a wrong token or base URL
        actual = self._bot.username
        if self._username and self._username.lower() != actual.lower():
            # Deep links with the wrong name open someone else's bot: trust Telegram.
            log.warning(
                "FEEDBACK_BOT_TELEGRAM__BOT_USERNAME says @%s but the token belongs to @%s; "
                "using @%s",
                self._username,
                actual,
                actual,
            )
        self._username = actual
        await self._register_client_commands()
        if self._settings.mode == "webhook":
            await self._start_webhook()
        else:
            await self._start_polling()
        self._connected = True
        log.info("Telegram adapter started as @%s (%s)", self._username, self._settings.mode)

    async def stop(self) -> None:
        if self._poller is not None and self._poll_task is not None:
            self._poller.stop()
            await self._finish_polling(self._poll_task)
            self._poll_task = None
        if self._webhook is not None:
            await self._webhook.stop()
            self._webhook = None
        await self._bot.shutdown()
        self._connected = False

    async def _finish_polling(self, task: asyncio.Task[None]) -> None:
        # A batch being committed gets a grace period; cutting it short is safe (its offset
        # was not saved, so it is fetched again) but costs a redelivery.
        done, _ = await asyncio.wait({task}, timeout=self._stop_grace)
        if not done:
            log.warning("Telegram: stopped during a commit; those updates will come again")
            task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
        except Exception as exc:  # stopping must not fail on what polling already reported
            log.error("Telegram polling ended with %s", type(exc).__name__)

    def is_connected(self) -> bool:
        if self._poll_task is not None and self._poll_task.done():
            return False
        return self._connected

    # --- identity and links --------------------------------------------------------------------

    @property
    def bot_username(self) -> str | None:
        return self._username

    def deep_link(self, code: str) -> str:
        """``https://t.me/<bot>?start=<code>``: opens the bot and sends ``/start <code>``."""
        if not _START_PARAMETER.match(code):
            raise ValueError("a deep-link code must be 1-64 characters of A-Z a-z 0-9 _ -")
        if self._username is None:
            raise RuntimeError("bot username unknown: start the adapter or set BOT_USERNAME")
        return f"https://t.me/{self._username}?start={code}"

    @property
    def invite_link_template(self) -> str | None:
        """``deep_link`` as a ``str.format`` template; None until the username is known."""
        return f"https://t.me/{self._username}?start={{code}}" if self._username else None

    def set_command_menus(self, menus: CommandMenus) -> None:
        """The menus to show; set before ``start``, which registers the clients' menu."""
        self._menus = menus

    async def register_practitioner(self, address: str) -> None:
        """Show the practitioner menu (with the client one) in this chat only."""
        if self._menus is None:
            return
        await self._bot.set_my_commands(
            practitioner_commands(self._menus), scope=BotCommandScopeChat(int(address))
        )

    # --- outbound ---------------------------------------------------------------------------

    async def send(self, message: OutgoingMessage) -> SendReceipt:
        try:
            chat_id = int(message.address)
        except ValueError:
            raise RecipientUnavailable("not a Telegram chat id") from None
        parts = plan(message)
        # The content is part of the key: SQLite can hand a deleted row's id to a new row.
        key = (message.outbox_id, message.address, hash((message.text, message.attachments)))
        # A retry after a partial failure (say a 429 on the second half of a long text)
        # continues where delivery stopped instead of repeating what the person has.
        delivered, receipt_id = self._progress.pop(key, (0, None))
        for index, part in enumerate(parts):
            if index < delivered:
                continue
            try:
                sent = await self._send_part(chat_id, part, message.protect)
            except TelegramError as exc:
                if delivered:
                    self._remember(key, delivered, receipt_id)
                raise to_send_error(exc) from exc
            delivered = index + 1
            # The receipt names the message with the buttons, or else the last one sent.
            if not message.choices or isinstance(part, TextPart) and part.choices:
                receipt_id = str(sent.message_id)
        return SendReceipt(platform_message_id=receipt_id)

    def _remember(self, key: _ProgressKey, delivered: int, receipt_id: str | None) -> None:
        self._progress[key] = (delivered, receipt_id)
        while len(self._progress) > _PROGRESS_KEPT:
            self._progress.popitem(last=False)

    async def _send_part(self, chat_id: int, part: Part, protect: bool) -> Message:
        if isinstance(part, TextPart):
            return await self._bot.send_message(
                chat_id, part.text, reply_markup=part.keyboard(), protect_content=protect
            )
        attachment = part.attachment
        upload = InputFile(attachment.data, filename=attachment.filename)
        upload.mimetype = attachment.mime_type  # ours is known; PTB would guess from the name
        if attachment.is_image:
            return await self._bot.send_photo(chat_id, upload, protect_content=protect)
        return await self._bot.send_document(chat_id, upload, protect_content=protect)

    # --- inbound ----------------------------------------------------------------------------

    async def _process(self, update: Update) -> None:
        """Hand one update to the sink; its side effects on Telegram only after the commit."""
        if self._sink is None:
            raise RuntimeError("adapter not started")
        event = translate(update)
        if event is not None:
            await self._sink(event)
        if update.callback_query is not None:
            await self._settle(update.callback_query)

    async def _settle(self, query: CallbackQuery) -> None:
        """Stop the button's spinner, then take the buttons away so they can't be pressed
        twice. Neither is essential, so failures are logged and the update still counts."""
        try:
            await self._bot.answer_callback_query(query.id)
        except TelegramError as exc:
            log.info("Telegram callback not answered: %s", exc.message)
        message = query.message
        if not isinstance(message, Message) or message.reply_markup is None:
            return
        try:
            await self._bot.edit_message_reply_markup(
                chat_id=message.chat.id, message_id=message.message_id, reply_markup=None
            )
        except BadRequest as exc:
            if "not modified" not in exc.message:  # already removed on an earlier delivery
                log.info("Telegram buttons not removed: %s", exc.message)
        except TelegramError as exc:
            log.info("Telegram buttons not removed: %s", exc.message)

    async def _start_polling(self) -> None:
        webhook = await self._bot.get_webhook_info()
        if webhook.url:
            # getUpdates is refused while a webhook is set (a left-over from webhook mode).
            log.warning("Telegram: removing the bot's webhook to receive by polling")
            await self._bot.delete_webhook(drop_pending_updates=False)
        self._poller = Poller(
            self._bot,
            self._cursors,
            self._process,
            poll_timeout=self._settings.poll_timeout,
            backoff=self._backoff,
            on_connected=self._set_connected,
        )
        self._poll_task = asyncio.create_task(self._poller.run(), name="telegram-polling")

    async def _start_webhook(self) -> None:
        settings = self._settings
        if settings.webhook_url is None or settings.webhook_secret is None:
            raise TelegramConfigError("webhook mode needs WEBHOOK_URL and WEBHOOK_SECRET")
        secret = settings.webhook_secret.get_secret_value()
        self._webhook = WebhookServer(
            host=settings.webhook_listen,
            port=settings.webhook_port,
            path=urlsplit(settings.webhook_url).path,
            secret=secret,
            handle=self._receive_webhook,
        )
        await self._webhook.start()
        try:
            await self._bot.set_webhook(
                settings.webhook_url, secret_token=secret, allowed_updates=ALLOWED_UPDATES
            )
        except BaseException:
            with contextlib.suppress(Exception):
                await self._webhook.stop()
            self._webhook = None
            raise

    async def _receive_webhook(self, data: dict[str, Any]) -> None:
        try:
            update = Update.de_json(data, self._bot)
        except Exception as exc:
            # Redelivery can't fix it, and Telegram would hold back later updates meanwhile.
            log.error("Telegram update %s unreadable (%s); dropped", data["update_id"], exc)
            return
        await self._process(update)

    def _set_connected(self, connected: bool) -> None:
        self._connected = connected

    async def _register_client_commands(self) -> None:
        if self._menus is None:
            return
        try:
            for language, commands in client_menus_by_language(self._menus):
                await self._bot.set_my_commands(
                    commands, scope=BotCommandScopeAllPrivateChats(), language_code=language
                )
        except TelegramError as exc:
            # Only the menu is missing; commands typed by hand still work.
            log.warning("Telegram command menu not set: %s", exc.message)


def _check_webhook_settings(settings: TelegramSettings) -> None:
    if settings.webhook_secret is None or not settings.webhook_secret.get_secret_value():
        raise TelegramConfigError(
            "FEEDBACK_BOT_TELEGRAM__WEBHOOK_SECRET must be set in webhook mode: without it "
            "anyone who finds the URL can post fake updates"
        )
    problem = secret_problem(settings.webhook_secret.get_secret_value())
    if problem is not None:
        raise TelegramConfigError(f"FEEDBACK_BOT_TELEGRAM__WEBHOOK_SECRET {problem}")
    if not settings.webhook_url:
        raise TelegramConfigError("FEEDBACK_BOT_TELEGRAM__WEBHOOK_URL must be set in webhook mode")
