"""Outbound against the platform's limits: 1,000 queued messages for 300 chats, delivered by
real ``feedback-bot run`` worker processes (PostgreSQL, the real Telegram adapter) through
the loopback fake Bot API, which answers 429 as Telegram does to a chat above 1 message per
second or a bot above 30 (``tests/fakes/telegram_api.py``, ``enforce_limits``).

Scenarios, interleaved in each repetition so that a drifting load hits them alike:

* this code, three workers, and one worker;
* the code before (``--before``, by default ``git merge-base HEAD main``, exported to a
  temporary directory), three workers and one. Comparing with the per-process pacing of
  old: ``--before 26de5af^`` or any commit before shared pacing was merged.

Figures: the achieved rate as a fraction of 30/s (messages ÷ time from the backlog's commit
to the last message the server accepted), how long the first send took after that commit
(the workers find another process's backlog on their next idle poll), the busiest
one-second window of the bot and of any chat (as the server counted them), 429s answered,
and messages delivered twice or not at all. ``python -m bench.outbound`` prints the
section on its own.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func, select

from bench.common import REPO, Backend, pg_admin_url
from bench.stats import median
from feedback_bot.app.bootstrap import build_app
from feedback_bot.delivery.outbox import enqueue
from feedback_bot.privacy.crypto import generate_key
from feedback_bot.privacy.hash_key import load_hash_key
from feedback_bot.storage.models import OutboxMessage
from feedback_bot.storage.states import OutboxStatus
from tests.fakes.telegram_api import DEFAULT_TOKEN, FakeTelegramApi
from tests.harness import settings_for

PLATFORM_RATE = 30.0
FIRST_CHAT = 6_000_000
RUNNING_NOTE = "feedback bot running"


@dataclass
class OutboundRun:
    scenario: str
    messages: int
    chats: int
    workers: int
    seconds: float = 0.0  # backlog committed → last message accepted
    first_send_s: float = 0.0  # backlog committed → first message accepted
    rate: float = 0.0
    busiest_second: int = 0
    busiest_chat_second: int = 0
    too_many: int = 0  # 429s answered
    twice: int = 0
    lost: int = 0
    finished: bool = True  # False: stopped waiting (the time limit)
    # The profile: medians in ms, from the claim to the server taking the send, and from
    # there to the worker having the answer (what each platform token's cycle adds to 1 s).
    claim_to_server_ms: float = 0.0
    server_to_answer_ms: float = 0.0

    @property
    def fraction(self) -> float:
        return self.rate / PLATFORM_RATE


@dataclass
class OutboundResult:
    backend: str
    runs: list[OutboundRun] = field(default_factory=list)
    before_commit: str = ""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _git(*args: str) -> str:
    out = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=True)
    return out.stdout.strip()


@contextmanager
def before_tree(ref: str | None = None) -> Iterator[tuple[Path, str]]:
    """The code to compare with, exported (no worktree, no checkout)."""
    commit = _git("rev-parse", ref) if ref else _git("merge-base", "HEAD", "main")
    with tempfile.TemporaryDirectory(prefix="fbbench-before-") as tmp:
        archive = Path(tmp) / "tree.tar"
        subprocess.run(
            ["git", "archive", "--format=tar", "-o", str(archive), commit],
            cwd=REPO,
            check=True,
        )
        root = Path(tmp) / "tree"
        with tarfile.open(archive) as tar:
            tar.extractall(root, filter="data")
        yield root, commit[:7]


class Worker:
    """``feedback-bot run`` (via ``tests.crash_runner`` without a marker) from ``tree``."""

    def __init__(self, name: str, tree: Path, workdir: Path, settings: dict[str, str]) -> None:
        self.name = name
        self.log = workdir / f"{name}.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("FEEDBACK_BOT_")}
        env.update(settings, PYTHONPATH=str(tree), PYTHONUNBUFFERED="1")
        with self.log.open("wb") as out:
            self.popen = subprocess.Popen(
                [sys.executable, "-m", "tests.crash_runner"],
                cwd=workdir,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    async def running(self, seconds: float = 120.0) -> None:
        deadline = time.monotonic() + seconds
        while RUNNING_NOTE not in self.log.read_text(errors="replace"):
            if self.popen.poll() is not None or time.monotonic() > deadline:
                tail = self.log.read_text(errors="replace")[-3000:]
                raise RuntimeError(f"{self.name} did not start:\n{tail}")
            await asyncio.sleep(0.1)

    async def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            for _ in range(150):
                if self.popen.poll() is not None:
                    return
                await asyncio.sleep(0.1)
            self.popen.kill()
        self.popen.wait(timeout=10)


def _settings(url: str, key: str, api: FakeTelegramApi, name: str) -> dict[str, str]:
    port = _free_port()
    return {
        "FEEDBACK_BOT_DATABASE_URL": url,
        "FEEDBACK_BOT_ENCRYPTION_KEY": key,
        "FEEDBACK_BOT_PROMPTS_FILE": str(REPO / "config" / "prompts.yaml"),
        "FEEDBACK_BOT_LOG_LEVEL": "INFO",  # the "running" line
        "FEEDBACK_BOT_WORKER_NAME": name,
        "FEEDBACK_BOT_TELEGRAM__TOKEN": DEFAULT_TOKEN,
        "FEEDBACK_BOT_TELEGRAM__BASE_URL": api.base_url,
        # Several workers behind one webhook URL (polling allows one poller per bot).
        "FEEDBACK_BOT_TELEGRAM__MODE": "webhook",
        "FEEDBACK_BOT_TELEGRAM__WEBHOOK_URL": f"http://127.0.0.1:{port}/telegram",
        "FEEDBACK_BOT_TELEGRAM__WEBHOOK_PORT": str(port),
        "FEEDBACK_BOT_TELEGRAM__WEBHOOK_SECRET": secrets.token_urlsafe(32),
    }


async def _one_run(
    backend: Backend,
    scenario: str,
    tree: Path,
    workers: int,
    messages: int,
    chats: int,
    limit_s: float,
) -> OutboundRun:
    run = OutboundRun(scenario, messages, chats, workers)
    key = generate_key()
    api = FakeTelegramApi()
    await api.start()
    api.enforce_limits(per_chat=1.0, overall=PLATFORM_RATE)
    chat_ids = range(FIRST_CHAT, FIRST_CHAT + chats)
    for chat in chat_ids:
        api.add_private_chat(chat)
    procs: list[Worker] = []
    async with backend.database() as url:
        with tempfile.TemporaryDirectory(prefix="fbbench-outbound-") as tmp:
            try:
                for i in range(workers):
                    name = f"bench-{i}"
                    procs.append(Worker(name, tree, Path(tmp), _settings(url, key, api, name)))
                    if i == 0:  # the first one migrates the database, alone
                        await procs[0].running()
                for proc in procs:
                    await proc.running()
                # Queues as the app would, into whatever schema the workers' code made.
                app = await build_app(settings_for(url, encryption_key=key), migrate=False)
                try:
                    await load_hash_key(app.sessions, app.vault)
                    texts = [
                        f"message {n} for chat {FIRST_CHAT + n % chats}" for n in range(messages)
                    ]
                    async with app.sessions() as session, session.begin():
                        now = app.clock.now()
                        for n, text in enumerate(texts):
                            enqueue(
                                session,
                                app.vault,
                                platform="telegram",
                                address=str(FIRST_CHAT + n % chats),
                                text=text,
                                now=now,
                            )
                    committed = time.time()
                    by_hash = {app.vault.keyed_hash("telegram", str(c)): c for c in chat_ids}
                    deadline = time.monotonic() + limit_s
                    while True:
                        async with app.sessions() as session:
                            left = await session.scalar(
                                select(func.count())
                                .select_from(OutboxMessage)
                                .where(OutboxMessage.status != OutboxStatus.SENT)
                            )
                        if not left:
                            break
                        if time.monotonic() > deadline:
                            run.finished = False
                            break
                        await asyncio.sleep(0.2)
                    async with app.sessions() as session:
                        rows = (
                            await session.execute(
                                select(
                                    OutboxMessage.address,
                                    OutboxMessage.platform_message_id,
                                    OutboxMessage.claimed_at,
                                    OutboxMessage.sent_at,
                                )
                            )
                        ).all()
                finally:
                    await app.close()
            finally:
                for proc in procs:
                    await proc.stop()
    await api.stop()
    taken = {
        (m["chat"]["id"], str(m["message_id"])): at
        for m, (at, _) in zip(api.sent(), api.send_times, strict=True)
    }
    before, after = [], []
    for address, message_id, claimed_at, sent_at in rows:
        at = taken.get((by_hash.get(address, 0), message_id or ""))
        if at is None or claimed_at is None or sent_at is None:
            continue
        before.append((at - claimed_at.timestamp()) * 1000)
        after.append((sent_at.timestamp() - at) * 1000)
    run.claim_to_server_ms = median(before)
    run.server_to_answer_ms = median(after)
    accepted = [at for at, _ in api.send_times]
    last = max(accepted, default=committed)
    run.seconds = last - committed
    run.first_send_s = min(accepted, default=committed) - committed
    run.rate = len(accepted) / run.seconds if run.seconds > 0 else 0.0
    run.busiest_second = api.busiest_window()
    run.busiest_chat_second = api.busiest_chat_window()
    run.too_many = len(api.too_many_requests())
    got = Counter(m["text"] for m in api.sent())
    run.twice = sum(1 for n in got.values() if n > 1)
    run.lost = sum(1 for t in set(texts) if t not in got)
    return run


async def run_outbound(
    backend: Backend,
    *,
    messages: int = 1000,
    chats: int = 300,
    reps: int = 1,
    limit_s: float = 240.0,
    log: object = None,
    before: str | None = None,
) -> OutboundResult:
    result = OutboundResult(backend.name)
    if backend.name != "postgres":
        return result  # several workers need PostgreSQL
    with before_tree(before) as (old_tree, commit):
        result.before_commit = commit
        for _ in range(reps):
            for scenario, tree, workers in (
                ("this code", REPO, 3),
                (f"before ({commit})", old_tree, 3),
                ("this code", REPO, 1),
                (f"before ({commit})", old_tree, 1),
            ):
                if callable(log):
                    log(f"outbound: {scenario}, {workers} worker(s)")
                result.runs.append(
                    await _one_run(backend, scenario, tree, workers, messages, chats, limit_s)
                )
    return result


def render_outbound(results: list[OutboundResult]) -> list[str]:
    lines: list[str] = []
    for r in results:
        if not r.runs:
            continue
        first = r.runs[0]
        lines += [
            f"### Outbound against Telegram's limits ({r.backend})",
            "",
            f"{first.messages:,} queued messages for {first.chats} chats, real worker "
            "processes with the Telegram adapter, fake Bot API enforcing 1/s per chat and "
            f"30/s per bot with 429s; before = `{r.before_commit}`. Medians over "
            f"{len(r.runs) // 4} repetition(s), range in brackets.",
            "",
            "| scenario | workers | rate (× 30/s) | first send, s | busiest second (bot) | "
            "busiest second (one chat) | 429s | sent twice | lost | claim → server, ms | "
            "server → answer, ms |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        groups: dict[tuple[str, int], list[OutboundRun]] = {}
        for run in r.runs:
            groups.setdefault((run.scenario, run.workers), []).append(run)
        for (scenario, workers), runs in groups.items():
            fr = [x.fraction for x in runs]
            unfinished = "" if all(x.finished for x in runs) else " (time limit hit)"
            lines.append(
                f"| {scenario}{unfinished} | {workers} | {median(fr):.2f} "
                f"[{min(fr):.2f}–{max(fr):.2f}] | "
                f"{median([x.first_send_s for x in runs]):.2f} | "
                f"{max(x.busiest_second for x in runs)} | "
                f"{max(x.busiest_chat_second for x in runs)} | "
                f"{', '.join(str(x.too_many) for x in runs)} | "
                f"{', '.join(str(x.twice) for x in runs)} | "
                f"{', '.join(str(x.lost) for x in runs)} | "
                f"{median([x.claim_to_server_ms for x in runs]):.0f} | "
                f"{median([x.server_to_answer_ms for x in runs]):.0f} |"
            )
        lines.append("")
    return lines


async def _main(args: argparse.Namespace) -> None:
    backend = Backend("postgres", pg_admin_url(args.postgres_url))

    def log(msg: str) -> None:
        sys.stderr.write(f"[{time.strftime('%H:%M:%S')}] {msg}\n")

    result = await run_outbound(
        backend,
        messages=args.messages,
        chats=args.chats,
        reps=args.reps,
        log=log,
        before=args.before,
    )
    for run in result.runs:
        log(str(run))
    sys.stdout.write("\n".join(render_outbound([result])) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.outbound", description=__doc__)
    parser.add_argument("--postgres-url")
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--chats", type=int, default=300)
    parser.add_argument("--reps", type=int, default=1)
    parser.add_argument("--before", help="commit to compare with (default: merge-base with main)")
    asyncio.run(_main(parser.parse_args()))


if __name__ == "__main__":
    main()
