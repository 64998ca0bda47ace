"""Who sent what, in which state: picks the handler for one event."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from feedback_bot.conversation import (
    checkin_answers,
    client_settings,
    feedback,
    my_items,
    practitioner,
)
from feedback_bot.conversation.answers import STALE, resolve
from feedback_bot.conversation.notify import notify_practitioner
from feedback_bot.conversation.onboarding import handle_start, on_alerts, on_consent
from feedback_bot.conversation.turn import Turn
from feedback_bot.people.codes import FailedCodeThrottle
from feedback_bot.ports import EventKind
from feedback_bot.storage.models import SafetyEvent

Handler = Callable[[Turn], Awaitable[None]]
DigestHooks = tuple[Callable[[Turn], Awaitable[None]], Callable[[Turn], Awaitable[None]]]

CLIENT_COMMANDS: dict[str, Handler] = {
    "feedback": lambda t: feedback.start(t),
    "mine": my_items.show_mine,
    "edit": my_items.start_edit,
    "withdraw": my_items.withdraw,
    "pause": client_settings.pause,
    "resume": client_settings.resume,
    "stop": client_settings.stop,
    "export": client_settings.export,
    "delete": client_settings.ask_delete,
    "language": client_settings.language,
    "checkins": client_settings.checkins,
    "timezone": client_settings.timezone,
    "quiet": client_settings.quiet,
    "notices": client_settings.notices,
}
# Before consent only these make sense: nothing else may store anything.
BEFORE_CONSENT = {"delete", "language", "help", "start", "export"}
# After "stop" (consent withdrawn) nothing new is taken in until they resume.
STORE_NEW_WORDS = {"feedback", "edit"}


class Router:
    def __init__(self, digest_hooks: DigestHooks) -> None:
        self._throttle = FailedCodeThrottle()
        self._on_digest, self._on_ack = digest_hooks
        self.already_warned: set[str] = set()  # event ids answered by the emergency path
        self._groups_told: set[str] = set()  # in memory: nothing about a group is stored

    async def handle(self, turn: Turn, *, risky: bool) -> None:
        event = turn.event
        if event.kind is EventKind.GROUP:
            # Once per group: a busy group must not get a reply to every message.
            group = turn.deps.vault.keyed_hash(event.platform, event.address)
            if group not in self._groups_told:
                self._groups_told.add(group)
                turn.say(turn.t("group_refused"))
            return
        if event.kind is EventKind.THROTTLED:
            turn.say(turn.t("common.slow_down"))
            return
        if event.kind in (EventKind.BLOCKED, EventKind.UNBLOCKED):
            if turn.identity is not None:
                turn.identity.reachable = event.kind is EventKind.UNBLOCKED
            return
        if event.kind is EventKind.UNREADABLE:  # linked or not: they should simply resend
            turn.say(turn.t("unreadable"))
            return
        if risky:  # before anything that could turn the message away, even its length
            await self._safety(turn)
        if event.text is not None and len(event.text) > turn.deps.max_text_chars:
            turn.say(turn.t("too_long", limit=f"{turn.deps.max_text_chars:,}"))
            return
        if event.kind is EventKind.COMMAND and event.command == "start":
            await handle_start(turn, self._throttle)
        elif turn.identity is None:
            turn.say(turn.t("unlinked"))
        elif event.kind is EventKind.NON_TEXT:
            turn.say(turn.t("non_text"))
        elif event.kind is EventKind.EDIT:
            turn.say(turn.t("edit_ignored"))
        elif turn.client is None:
            await self._practitioner(turn)
        else:
            await self._client(turn, risky)

    async def _safety(self, turn: Turn) -> None:
        if turn.event.event_id not in self.already_warned:
            turn.say(turn.t("safety.reply") + "\n\n" + turn.crisis_block(), kind="safety")
        self.already_warned.discard(turn.event.event_id)
        if turn.client is None or turn.client.status not in ("active", "paused"):
            return
        alerted = False
        if turn.client.risk_alerts:
            alerted = bool(
                await notify_practitioner(
                    turn, "practitioner.risk_alert", kind="safety", alias=turn.client.alias
                )
            )
        turn.session.add(SafetyEvent(client_id=turn.client.id, at=turn.now, alerted=alerted))
        if alerted:
            turn.say(turn.t("safety.alerted"), kind="safety")

    async def _practitioner(self, turn: Turn) -> None:
        commands: dict[str, Handler] = {
            "invite": practitioner.invite,
            "clients": practitioner.clients,
            "session": practitioner.set_session,
            "digest": self._on_digest,
            "ack": self._on_ack,
        }
        event = turn.event
        if event.kind is EventKind.CHOICE and (event.choice_id or "").startswith("d"):
            await self._on_ack(turn)
        elif event.kind is EventKind.COMMAND and event.command in commands:
            await commands[event.command](turn)
        elif event.kind is EventKind.COMMAND and event.command != "help":
            turn.say(
                turn.t("unknown_command", command=(event.command or "")[:32])
                + "\n"
                + turn.t("help.practitioner")
            )
        else:
            turn.say(turn.t("help.practitioner"))

    async def _client(self, turn: Turn, risky: bool) -> None:
        event, client = turn.event, turn.client
        assert client is not None
        if event.kind is EventKind.COMMAND:
            name = event.command or ""
            if client.status == "invited" and name not in BEFORE_CONSENT:
                turn.say(turn.t("onboarding.need_consent"))
            elif client.status == "stopped" and name in STORE_NEW_WORDS:
                turn.say(turn.t("pause.stopped_already"))
            elif name in CLIENT_COMMANDS:
                await CLIENT_COMMANDS[name](turn)
            elif name == "help":
                turn.say(turn.t("help.client") + "\n\n" + turn.footer())
            else:
                turn.say(
                    turn.t("unknown_command", command=name[:32]) + "\n" + turn.t("help.client")
                )
            return
        if event.kind is EventKind.CHOICE and (event.choice_id or "").startswith("c"):
            if client.status == "stopped":
                turn.say(turn.t("pause.stopped_already"))
            else:
                await checkin_answers.on_checkin_choice(turn)
            return
        conv = await turn.conv()
        if risky and (draft := await feedback.current_item(turn)) is not None:
            draft.risk = True
        key = await resolve(turn)
        if key == STALE:
            turn.say(turn.t("feedback.stale_choice"))
            return
        if conv.state != "idle" and await self._answer(turn, conv.state, key):
            return
        if event.kind is not EventKind.TEXT:
            return
        if client.status == "invited":
            turn.say(turn.t("onboarding.need_consent"))
        elif client.status == "stopped":
            turn.say(turn.t("pause.stopped_already"))
        elif (open_checkin := await checkin_answers.open_checkin(turn)) is not None:
            await checkin_answers.answer_with_text(turn, open_checkin, event.text or "", risky)
        else:
            await feedback.start(turn, event.text, risk=risky)

    async def _answer(self, turn: Turn, state: str, key: str | None) -> bool:
        """Handle an answer to the pending question; False if the state takes no answer."""
        chosen_only: dict[str, Callable[[Turn, str], Awaitable[None]]] = {
            "consent": on_consent,
            "alerts": on_alerts,
            "delete": client_settings.on_delete,
            "cadence": client_settings.on_cadence,
            "language": lambda t, k: client_settings.set_language(t, k.removeprefix("lang_")),
        }
        if state in chosen_only:
            if key is None:
                return False
            await chosen_only[state](turn, key)
        elif state == "valence":
            await feedback.on_valence(turn, key)
        elif state == "words":
            await feedback.on_words(turn, key)
        elif state == "routing":
            item = await feedback.on_routing(turn, key)
            if item is not None and item.checkin_id is not None:
                await checkin_answers.start_alliance(turn, item.checkin_id)
        elif state == "edit":
            await my_items.on_edit(turn, key)
        elif state == "alliance":
            await checkin_answers.on_alliance(turn, key)
        else:
            return False
        return True
