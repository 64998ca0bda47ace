"""A fake Telegram Bot API server on 127.0.0.1, spoken to over real HTTP.

PTB reaches it with ``Bot(token, base_url=api.base_url)``. Responses follow the Bot API
spec closely enough for PTB to de-serialise them (``{"ok": true, "result": ...}`` and
``{"ok": false, "error_code", "description", "parameters"}`` with the same HTTP status), and
the server enforces the limits our adapter must respect (4096 UTF-16 units per text,
64-byte ``callback_data``, known chats only), so a test fails when the adapter breaks one.

Tests push user updates (``push_text``, ``push_command``, ``push_callback``...), inject faults
(``rate_limit``, ``block``, ``migrate``, ``conflict``, ``delay``) and assert on ``calls``.
With ``enforce_limits`` the server also answers 429 with a ``retry_after``, as Telegram does,
to a send that would put a chat or the whole bot above its messages per second;
``busiest_window`` tells how many sends it accepted in the fullest one-second window.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

Json = dict[str, Any]

BOT_ID = 7000001
DEFAULT_TOKEN = f"{BOT_ID}:AAFakeTokenForTests_0123456789abcdef"
DEFAULT_USERNAME = "feedback_test_bot"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_DATA = 64

# PTB JSON-encodes every non-string parameter and sends strings raw, so these must not be
# JSON-decoded ("123" as message text is text, not a number).
_STRING_PARAMS = frozenset(
    {
        "text",
        "caption",
        "callback_query_id",
        "secret_token",
        "url",
        "parse_mode",
        "inline_message_id",
        "photo",
        "document",
        "ip_address",
        "language_code",
    }
)
_SEND_METHODS = frozenset({"sendmessage", "sendphoto", "senddocument"})
_SECRET_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_COMMAND = re.compile(r"^[a-z0-9_]{1,32}$")

CONFLICT_OTHER_POLLER = (
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running"
)
CONFLICT_WEBHOOK = (
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first"
)


def utf16_len(text: str) -> int:
    """Telegram counts text limits in UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


class ApiError(Exception):
    def __init__(self, code: int, description: str, parameters: Json | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters


@dataclass(frozen=True, slots=True)
class UploadedFile:
    filename: str | None
    content_type: str
    data: bytes


@dataclass(slots=True)
class ApiCall:
    method: str  # as sent; Bot API method names are case-insensitive
    params: dict[str, Any]
    files: dict[str, UploadedFile]
    at: float  # the fake's clock when the request arrived
    status: int | None = None  # HTTP status answered; None while pending or if abandoned
    error: Json | None = None  # the error body answered, if any

    @property
    def chat_id(self) -> int | None:
        return _as_int(self.params.get("chat_id"))


@dataclass(slots=True)
class Fault:
    status: int | None  # None: answer normally, after ``delay``
    description: str = ""
    parameters: Json | None = None
    delay: float = 0.0
    methods: frozenset[str] | None = None  # lower-case method names; None: any
    chat_id: int | None = None
    remaining: int | None = 1  # None: until removed
    after: int = 0  # let this many matching calls through first

    def matches(self, method: str, chat_id: int | None) -> bool:
        if self.remaining is not None and self.remaining <= 0:
            return False
        if self.methods is not None and method not in self.methods:
            return False
        return self.chat_id is None or self.chat_id == chat_id


@dataclass(slots=True)
class _Chat:
    info: Json
    next_message_id: int = 1
    user: Json | None = None  # the person on the other side of a private chat


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value):
        return int(value)
    return None


def _decode(name: str, value: str) -> Any:
    if name in _STRING_PARAMS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


async def _read_params(request: web.Request) -> tuple[dict[str, Any], dict[str, UploadedFile]]:
    params: dict[str, Any] = {k: _decode(k, v) for k, v in request.query.items()}
    files: dict[str, UploadedFile] = {}
    if request.content_type == "application/json":
        body = await request.json()
        params.update(body if isinstance(body, dict) else {})
    elif request.can_read_body:
        form = await request.post()
        for name, value in form.items():
            if isinstance(value, web.FileField):
                data = value.file.read()
                files[name] = UploadedFile(value.filename, value.content_type, data)
            elif isinstance(value, str):
                params[name] = _decode(name, value)
    return params, files


@dataclass
class FakeTelegramApi:
    token: str = DEFAULT_TOKEN
    username: str = DEFAULT_USERNAME
    clock: Callable[[], float] = time.time
    calls: list[ApiCall] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    commands: dict[str, list[Json]] = field(default_factory=dict)  # scope key → commands
    webhook: Json | None = None
    answered_callbacks: dict[str, Json] = field(default_factory=dict)
    # (per chat, whole bot) messages per second, or None: no limits enforced
    limits: tuple[float, float] | None = None
    # (when the server took it, on the fake's clock; chat id) of every send it accepted
    send_times: list[tuple[float, int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._chats: dict[int, _Chat] = {}
        self._messages: dict[tuple[int, int], Json] = {}
        self._sent: list[Json] = []  # every message the bot sent, in order
        self._pending: list[Json] = []  # updates not yet confirmed by an offset
        self._next_update_id = 500_000
        self._callbacks: dict[str, bool] = {}  # callback_query id → answered
        self._callback_by_update: dict[int, str] = {}
        self._allowed_updates: list[str] | None = None
        self._poll_generation = 0
        self._changed = asyncio.Event()
        self._closing = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._port = 0
        self._next_file = 1
        self._chat_send_times: dict[int, list[float]] = {}

    # --- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self._port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        self._closing.set()
        self._notify()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def base_url(self) -> str:
        """PTB's ``base_url``: the token is appended to it."""
        return f"http://127.0.0.1:{self._port}/bot"

    @property
    def bot_user(self) -> Json:
        return {
            "id": BOT_ID,
            "is_bot": True,
            "first_name": "Feedback Test Bot",
            "username": self.username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    # --- assertions --------------------------------------------------------------------------

    def calls_to(self, method: str) -> list[ApiCall]:
        return [c for c in self.calls if c.method.lower() == method.lower()]

    def sent(self, chat_id: int | None = None) -> list[Json]:
        """Messages the bot sent successfully, oldest first, in their current (edited) state."""
        return [m for m in self._sent if chat_id is None or m["chat"]["id"] == chat_id]

    def texts(self, chat_id: int) -> list[str]:
        return [m["text"] for m in self.sent(chat_id) if "text" in m]

    def message(self, chat_id: int, message_id: int) -> Json:
        return self._messages[(chat_id, message_id)]

    def busiest_window(self, chat_id: int | None = None, seconds: float = 1.0) -> int:
        """The most sends accepted (to this chat, or in all) within any window of
        ``seconds`` (half-open: a send exactly ``seconds`` after another is outside)."""
        times = sorted(at for at, chat in self.send_times if chat_id is None or chat == chat_id)
        most, first = 0, 0
        for last, at in enumerate(times):
            while at - times[first] >= seconds:
                first += 1
            most = max(most, last - first + 1)
        return most

    def busiest_chat_window(self, seconds: float = 1.0) -> int:
        """``busiest_window`` of the busiest chat."""
        chats = {chat for _, chat in self.send_times}
        return max((self.busiest_window(chat, seconds) for chat in chats), default=0)

    def too_many_requests(self) -> list[ApiCall]:
        """Calls answered 429."""
        return [c for c in self.calls if c.status == 429]

    def callback_answered(self, update_id: int) -> bool:
        return self._callbacks.get(self._callback_by_update[update_id], False)

    @property
    def pending_updates(self) -> list[Json]:
        """Updates pushed and not yet confirmed, as the JSON Telegram would send."""
        return list(self._pending)

    @property
    def pending_update_ids(self) -> list[int]:
        return [u["update_id"] for u in self._pending]

    async def wait_until(self, predicate: Callable[[], bool], within: float = 5.0) -> None:
        """Wait (bounded) until ``predicate`` holds; re-checked after every request or push."""
        async with asyncio.timeout(within):
            while not predicate():
                self._changed.clear()
                await self._changed.wait()

    # --- faults --------------------------------------------------------------------------------

    def add_fault(self, fault: Fault) -> Fault:
        self.faults.append(fault)
        return fault

    def rate_limit(
        self,
        retry_after: int,
        count: int = 1,
        *,
        method: str | None = None,
        chat_id: int | None = None,
        after: int = 0,
    ) -> Fault:
        return self.add_fault(
            Fault(
                429,
                f"Too Many Requests: retry after {retry_after}",
                {"retry_after": retry_after},
                methods=frozenset({method.lower()}) if method else None,
                chat_id=chat_id,
                remaining=count,
                after=after,
            )
        )

    def block(self, chat_id: int) -> Fault:
        """The person blocked the bot: every send to them is 403 until ``unblock``."""
        return self.add_fault(
            Fault(
                403,
                "Forbidden: bot was blocked by the user",
                methods=_SEND_METHODS,
                chat_id=chat_id,
                remaining=None,
            )
        )

    def enforce_limits(self, per_chat: float = 1.0, overall: float = 30.0) -> None:
        """Answer 429 to a send that would make more than ``per_chat`` messages to one chat,
        or ``overall`` in all, within one second (Telegram's published limits)."""
        self.limits = (per_chat, overall)

    def _over_limit(self, chat_id: int | None, at: float) -> int | None:
        """Seconds to retry after, if this send would break a limit."""
        if self.limits is None:
            return None
        per_chat, overall = self.limits
        recent = [c for t, c in self.send_times[-int(overall) - 1 :] if at - t < 1.0]
        chat_recent = [t for t in self._chat_send_times.get(chat_id or 0, []) if at - t < 1.0]
        if len(recent) >= overall or len(chat_recent) >= per_chat:
            return 1
        return None

    def unblock(self, chat_id: int) -> None:
        self.faults = [f for f in self.faults if not (f.status == 403 and f.chat_id == chat_id)]

    def migrate(self, chat_id: int, new_chat_id: int) -> Fault:
        self.add_chat({"id": new_chat_id, "type": "supergroup", "title": "Migrated group"})
        return self.add_fault(
            Fault(
                400,
                "Bad Request: group chat was upgraded to a supergroup chat",
                {"migrate_to_chat_id": new_chat_id},
                chat_id=chat_id,
                remaining=None,
            )
        )

    def conflict(self, count: int = 1) -> Fault:
        return self.add_fault(
            Fault(409, CONFLICT_OTHER_POLLER, methods=frozenset({"getupdates"}), remaining=count)
        )

    def delay(
        self,
        seconds: float,
        count: int = 1,
        *,
        method: str | None = None,
        chat_id: int | None = None,
    ) -> Fault:
        """Answer normally but late: longer than the client's timeout simulates a lost reply
        (the request *was* carried out, as on the real server)."""
        return self.add_fault(
            Fault(
                None,
                delay=seconds,
                methods=frozenset({method.lower()}) if method else None,
                chat_id=chat_id,
                remaining=count,
            )
        )

    # --- chats and updates ------------------------------------------------------------------

    def add_chat(self, info: Json, user: Json | None = None) -> Json:
        chat = self._chats.setdefault(info["id"], _Chat(info=info, user=user))
        return chat.info

    def add_private_chat(self, chat_id: int, first_name: str = "Client") -> Json:
        user = {"id": chat_id, "is_bot": False, "first_name": first_name, "language_code": "en"}
        return self.add_chat({"id": chat_id, "type": "private", "first_name": first_name}, user)

    def push_update(self, payload: Json) -> int:
        """Queue an update (anything but ``update_id``) for getUpdates or the webhook."""
        update_id = self._next_update_id
        self._next_update_id += 1
        self._pending.append({"update_id": update_id, **payload})
        self._notify()
        return update_id

    def user_message(self, chat_id: int, **content: Any) -> Json:
        """A message from the person in a private chat with the bot, stored like a real one."""
        self.add_private_chat(chat_id)
        chat = self._chats[chat_id]
        return self._store(chat, {"from": chat.user, **content})

    def push_text(self, chat_id: int, text: str) -> int:
        return self.push_update({"message": self.user_message(chat_id, text=text)})

    def push_command(self, chat_id: int, command: str, args: str = "") -> int:
        head = f"/{command}"
        entity = {"type": "bot_command", "offset": 0, "length": utf16_len(head)}
        text = f"{head} {args}" if args else head
        return self.push_update(
            {"message": self.user_message(chat_id, text=text, entities=[entity])}
        )

    def push_sticker(self, chat_id: int) -> int:
        sticker = {
            "file_id": "sticker-1",
            "file_unique_id": "sticker-u1",
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": "👍",
        }
        return self.push_update({"message": self.user_message(chat_id, sticker=sticker)})

    def push_photo(self, chat_id: int, caption: str | None = None) -> int:
        photo = [{"file_id": "photo-1", "file_unique_id": "photo-u1", "width": 90, "height": 90}]
        extra = {"caption": caption} if caption else {}
        return self.push_update({"message": self.user_message(chat_id, photo=photo, **extra)})

    def push_edited_text(self, chat_id: int, message_id: int, text: str) -> int:
        original = self._messages[(chat_id, message_id)]
        edited = {**original, "text": text, "edit_date": int(self.clock())}
        self._messages[(chat_id, message_id)] = edited
        return self.push_update({"edited_message": edited})

    def push_group_text(
        self, group_id: int, text: str, *, user_id: int, chat_type: str = "group"
    ) -> int:
        chat = self._chats.get(group_id) or _Chat(
            info={"id": group_id, "type": chat_type, "title": "Some group"}
        )
        self._chats[group_id] = chat
        sender = {"id": user_id, "is_bot": False, "first_name": "Member"}
        return self.push_update({"message": self._store(chat, {"from": sender, "text": text})})

    def push_channel_post(self, channel_id: int, text: str) -> int:
        info = self.add_chat({"id": channel_id, "type": "channel", "title": "Some channel"})
        chat = self._chats[channel_id]
        return self.push_update(
            {"channel_post": self._store(chat, {"sender_chat": info, "text": text})}
        )

    def push_my_chat_member(self, chat_id: int, new_status: str, old_status: str = "member") -> int:
        """The bot's own membership changed: ``kicked`` is how a block arrives in a private chat."""
        self.add_private_chat(chat_id)
        chat = self._chats[chat_id]
        return self.push_update(
            {
                "my_chat_member": {
                    "chat": chat.info,
                    "from": chat.user,
                    "date": int(self.clock()),
                    "old_chat_member": self._member(old_status),
                    "new_chat_member": self._member(new_status),
                }
            }
        )

    def push_callback(self, chat_id: int, message_id: int, data: str) -> int:
        """The person pressed an inline button under one of the bot's messages."""
        message = self._messages[(chat_id, message_id)]
        query_id = f"{chat_id}-{self._next_update_id}"
        self._callbacks[query_id] = False
        update_id = self.push_update(
            {
                "callback_query": {
                    "id": query_id,
                    "from": self._chats[chat_id].user,
                    "message": message,
                    "chat_instance": f"ci-{chat_id}",
                    "data": data,
                }
            }
        )
        self._callback_by_update[update_id] = query_id
        return update_id

    async def deliver_to_webhook(self) -> list[int]:
        """Do what Telegram does with a webhook: POST each pending update with the secret
        header; an update stays pending unless the bot answered 2xx. Returns the statuses."""
        if self.webhook is None:
            raise AssertionError("no webhook is set")
        headers = {}
        if self.webhook.get("secret_token"):
            headers[SECRET_HEADER] = self.webhook["secret_token"]
        statuses: list[int] = []
        async with aiohttp.ClientSession() as session:
            for update in list(self._pending):
                async with session.post(self.webhook["url"], json=update, headers=headers) as r:
                    statuses.append(r.status)
                    if 200 <= r.status < 300:
                        self._pending.remove(update)
        return statuses

    # --- internals ------------------------------------------------------------------------------

    def _notify(self) -> None:
        self._changed.set()

    def _member(self, status: str) -> Json:
        member: Json = {"status": status, "user": self.bot_user}
        if status == "kicked":
            member["until_date"] = 0
        return member

    def _store(self, chat: _Chat, content: Json) -> Json:
        message = {
            "message_id": chat.next_message_id,
            "date": int(self.clock()),
            "chat": chat.info,
            **content,
        }
        chat.next_message_id += 1
        self._messages[(chat.info["id"], message["message_id"])] = message
        return message

    def _take_fault(self, method: str, chat_id: int | None) -> Fault | None:
        for fault in self.faults:
            if fault.matches(method, chat_id):
                if fault.after > 0:
                    fault.after -= 1
                    continue
                if fault.remaining is not None:
                    fault.remaining -= 1
                return fault
        return None

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params, files = await _read_params(request)
        call = ApiCall(method, params, files, self.clock())
        self.calls.append(call)
        self._notify()
        try:
            if request.match_info["token"] != self.token:
                raise ApiError(401, "Unauthorized")
            handler = self._handlers().get(method.lower())
            if handler is None:
                raise ApiError(404, "Not Found")
            fault = self._take_fault(method.lower(), call.chat_id)
            if fault is not None and fault.delay:
                await self._sleep(fault.delay)
            if fault is not None and fault.status is not None:
                raise ApiError(fault.status, fault.description, fault.parameters)
            is_send = method.lower() in _SEND_METHODS
            # When the server takes the send: its arrival, or the end of an injected delay.
            taken = self.clock()
            if is_send and (wait := self._over_limit(call.chat_id, taken)) is not None:
                raise ApiError(429, f"Too Many Requests: retry after {wait}", {"retry_after": wait})
            result = await handler(params, files)
            if is_send and call.chat_id is not None:
                self.send_times.append((taken, call.chat_id))
                self._chat_send_times.setdefault(call.chat_id, []).append(taken)
        except ApiError as exc:
            body: Json = {"ok": False, "error_code": exc.code, "description": exc.description}
            if exc.parameters:
                body["parameters"] = exc.parameters
            call.status, call.error = exc.code, body
            self._notify()
            return web.json_response(body, status=exc.code)
        call.status = 200
        self._notify()
        return web.json_response({"ok": True, "result": result})

    async def _sleep(self, seconds: float) -> None:
        # Woken by stop() so a test's teardown never waits out an injected delay.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), seconds)

    def _handlers(self) -> dict[str, Callable[[Json, dict[str, UploadedFile]], Awaitable[Any]]]:
        return {
            "getme": self._get_me,
            "getupdates": self._get_updates,
            "sendmessage": self._send_message,
            "sendphoto": self._send_photo,
            "senddocument": self._send_document,
            "editmessagetext": self._edit_message_text,
            "editmessagereplymarkup": self._edit_message_reply_markup,
            "answercallbackquery": self._answer_callback_query,
            "setmycommands": self._set_my_commands,
            "getmycommands": self._get_my_commands,
            "deletewebhook": self._delete_webhook,
            "setwebhook": self._set_webhook,
            "getwebhookinfo": self._get_webhook_info,
        }

    async def _get_me(self, params: Json, files: dict[str, UploadedFile]) -> Json:
        return self.bot_user

    async def _get_updates(self, params: Json, files: dict[str, UploadedFile]) -> list[Json]:
        if self.webhook is not None:
            raise ApiError(409, CONFLICT_WEBHOOK)
        self._poll_generation += 1
        generation = self._poll_generation
        self._notify()  # an older long poll wakes up and is terminated with 409
        offset = _as_int(params.get("offset"))
        if offset is not None:
            self._confirm(offset)
        if "allowed_updates" in params:
            self._allowed_updates = params["allowed_updates"] or None
        limit = _as_int(params.get("limit")) or 100
        loop = asyncio.get_running_loop()
        deadline = loop.time() + float(params.get("timeout") or 0)
        while True:
            ready = [u for u in self._pending if self._allowed(u)][:limit]
            if ready or self._closing.is_set() or loop.time() >= deadline:
                return ready
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), deadline - loop.time())
            if generation != self._poll_generation:
                raise ApiError(409, CONFLICT_OTHER_POLLER)

    def _confirm(self, offset: int) -> None:
        if offset < 0:
            self._pending = self._pending[offset:]
        else:
            self._pending = [u for u in self._pending if u["update_id"] >= offset]

    def _allowed(self, update: Json) -> bool:
        if self._allowed_updates is None:
            return True
        return any(kind in update for kind in self._allowed_updates)

    def _chat(self, params: Json) -> _Chat:
        chat = self._chats.get(_as_int(params.get("chat_id")) or 0)
        if chat is None:
            raise ApiError(400, "Bad Request: chat not found")
        return chat

    def _markup(self, params: Json) -> Json:
        markup = params.get("reply_markup")
        if not markup:
            return {}
        for row in markup.get("inline_keyboard", []):
            for button in row:
                data = button.get("callback_data")
                if data is not None and not 1 <= len(data.encode()) <= MAX_CALLBACK_DATA:
                    raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
                if not button.get("text"):
                    raise ApiError(
                        400, "Bad Request: text buttons are unallowed in the inline keyboard"
                    )
        return {"reply_markup": markup}

    def _sent_by_bot(self, chat: _Chat, content: Json, params: Json) -> Json:
        extra: Json = {"from": self.bot_user, **content, **self._markup(params)}
        if params.get("protect_content"):
            extra["has_protected_content"] = True
        message = self._store(chat, extra)
        self._sent.append(message)
        return message

    async def _send_message(self, params: Json, files: dict[str, UploadedFile]) -> Json:
        chat = self._chat(params)
        text = params.get("text")
        if not isinstance(text, str) or not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if utf16_len(text) > MAX_TEXT:
            raise ApiError(400, "Bad Request: message is too long")
        return self._sent_by_bot(chat, {"text": text}, params)

    def _caption(self, params: Json) -> Json:
        caption = params.get("caption")
        if not caption:
            return {}
        if utf16_len(caption) > MAX_CAPTION:
            raise ApiError(400, "Bad Request: message caption is too long")
        return {"caption": caption}

    def _file(self, name: str, params: Json, files: dict[str, UploadedFile]) -> tuple[str, int]:
        upload = files.get(name)
        if upload is not None:
            file_id = f"{name}-{self._next_file}"
            self._next_file += 1
            return file_id, len(upload.data)
        if isinstance(params.get(name), str) and params[name]:
            return params[name], 0
        raise ApiError(400, f"Bad Request: there is no {name} in the request")

    async def _send_photo(self, params: Json, files: dict[str, UploadedFile]) -> Json:
        chat = self._chat(params)
        file_id, size = self._file("photo", params, files)
        photo = [
            {
                "file_id": file_id,
                "file_unique_id": f"u-{file_id}",
                "width": 800,
                "height": 600,
                "file_size": size,
            }
        ]
        return self._sent_by_bot(chat, {"photo": photo, **self._caption(params)}, params)

    async def _send_document(self, params: Json, files: dict[str, UploadedFile]) -> Json:
        chat = self._chat(params)
        file_id, size = self._file("document", params, files)
        upload = files.get("document")
        document = {
            "file_id": file_id,
            "file_unique_id": f"u-{file_id}",
            "file_name": upload.filename if upload else None,
            "mime_type": upload.content_type if upload else None,
            "file_size": size,
        }
        document = {k: v for k, v in document.items() if v is not None}
        return self._sent_by_bot(chat, {"document": document, **self._caption(params)}, params)

    def _editable(self, params: Json) -> Json:
        chat = self._chat(params)
        key = (chat.info["id"], _as_int(params.get("message_id")) or 0)
        message = self._messages.get(key)
        if message is None or message.get("from", {}).get("id") != BOT_ID:
            raise ApiError(400, "Bad Request: message to edit not found")
        return message

    def _edit(self, params: Json, **changes: Any) -> Json:
        old = self._editable(params)
        new = {k: v for k, v in old.items() if k not in ("reply_markup", "edit_date")}
        new.update(changes, **self._markup(params))
        if new == {k: v for k, v in old.items() if k != "edit_date"}:
            raise ApiError(
                400,
                "Bad Request: message is not modified: specified new message content and reply "
                "markup are exactly the same as a current content and reply markup of the message",
            )
        new["edit_date"] = int(self.clock())
        self._messages[(old["chat"]["id"], old["message_id"])] = new
        self._sent = [new if m is old else m for m in self._sent]
        return new

    async def _edit_message_text(self, params: Json, files: dict[str, UploadedFile]) -> Json:
        text = params.get("text")
        if not isinstance(text, str) or not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if utf16_len(text) > MAX_TEXT:
            raise ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        return self._edit(params, text=text)

    async def _edit_message_reply_markup(
        self, params: Json, files: dict[str, UploadedFile]
    ) -> Json:
        return self._edit(params)

    async def _answer_callback_query(self, params: Json, files: dict[str, UploadedFile]) -> bool:
        query_id = params.get("callback_query_id")
        if not isinstance(query_id, str) or self._callbacks.get(query_id, True):
            raise ApiError(
                400,
                "Bad Request: query is too old and response timeout expired or query ID is invalid",
            )
        self._callbacks[query_id] = True
        self.answered_callbacks[query_id] = params
        return True

    @staticmethod
    def _scope_key(params: Json) -> str:
        scope = params.get("scope") or {"type": "default"}
        return json.dumps(scope, sort_keys=True) + "|" + str(params.get("language_code") or "")

    async def _set_my_commands(self, params: Json, files: dict[str, UploadedFile]) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise ApiError(400, "Bad Request: commands must be a list of at most 100 items")
        for command in commands:
            if not _COMMAND.match(str(command.get("command", ""))):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise ApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
        self.commands[self._scope_key(params)] = commands
        return True

    async def _get_my_commands(self, params: Json, files: dict[str, UploadedFile]) -> list[Json]:
        return self.commands.get(self._scope_key(params), [])

    async def _delete_webhook(self, params: Json, files: dict[str, UploadedFile]) -> bool:
        self.webhook = None
        if params.get("drop_pending_updates"):
            self._pending.clear()
        return True

    async def _set_webhook(self, params: Json, files: dict[str, UploadedFile]) -> bool:
        url = params.get("url")
        if not url:
            # An empty url removes the webhook, as on the real server.
            return await self._delete_webhook(params, files)
        secret = params.get("secret_token")
        if secret is not None and not _SECRET_TOKEN.match(secret):
            raise ApiError(400, "Bad Request: secret token contains unallowed characters")
        self.webhook = {
            "url": url,
            "secret_token": secret,
            "allowed_updates": params.get("allowed_updates"),
        }
        if params.get("drop_pending_updates"):
            self._pending.clear()
        return True

    async def _get_webhook_info(self, params: Json, files: dict[str, UploadedFile]) -> Json:
        info: Json = {
            "url": self.webhook["url"] if self.webhook else "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending),
        }
        if self.webhook and self.webhook.get("allowed_updates"):
            info["allowed_updates"] = self.webhook["allowed_updates"]
        return info
