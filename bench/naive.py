"""The naive design, for comparison: one APScheduler job per client (a cron trigger on the
client's weekly slot in their zone), each firing a transaction that plans and queues that
client's check-in. Jobs run as concurrent tasks, as AsyncIOScheduler runs coroutines.
Not the bot's design; measured so the table can say what it avoids.

    python -m bench.naive DATABASE_URL CLIENTS      # the parent seeded the database

APScheduler runs on wall time, so the burst is every job moved to fire two seconds from
now. Reported: seconds to add the jobs, RSS with them, the burst's check-ins per second
how many jobs APScheduler dropped as misfired (the app's ``misfire_grace_time``) and how
many failed (a burst of tasks waits on a pool of connections).
One JSON object goes to stdout; the key comes in ``FEEDBACK_BOT_BENCH_KEY``.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MISSED,
    JobExecutionEvent,
)
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import func, select

from bench.common import KEY_ENV, Rig, make_rig
from bench.probe import peak_kb, reset_peak, rss_kb
from feedback_bot.delivery.outbox import enqueue
from feedback_bot.people.rules import client_chat
from feedback_bot.scheduling.wallclock import WEEKDAYS
from feedback_bot.storage.models import Checkin, Client, Practice, Practitioner
from feedback_bot.storage.states import CheckinKind, CheckinStatus, Delivery, OutboxKind


async def send_one(rig: Rig, client_id: int) -> None:
    """One job: this client's check-in, in its own transaction (what the old tick did per
    client, without the scan)."""
    app = rig.app
    now = datetime.now(UTC)
    async with app.sessions() as session, session.begin():
        client = await session.get(Client, client_id)
        target = await client_chat(session, client_id)
        if client is None or target is None:
            return
        checkin = Checkin(
            client_id=client_id,
            kind=CheckinKind.WEEKLY,
            slot_at=now,
            due_at=now,
            status=CheckinStatus.SENT,
            sent_at=now,
            reminded=False,
            created_at=now,
        )
        session.add(checkin)
        await session.flush()
        enqueue(
            session,
            app.deps.vault,
            platform=target.platform,
            address=target.address,
            identity_id=target.id,
            text=app.deps.catalog.t("checkin.ask", client.language or "en"),
            kind=OutboxKind.CHECKIN,
            delivery=Delivery.AT_MOST_ONCE,
            now=now,
        )


async def naive(url: str, clients: int) -> dict[str, Any]:
    rig = await make_rig(url, key=os.environ[KEY_ENV])
    out: dict[str, Any] = {"built_rss_kb": rss_kb(), "reset_ok": reset_peak()}
    scheduler = AsyncIOScheduler(
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 60},
        timezone="UTC",
    )
    done: list[float] = []
    missed = failed = 0

    def listener(event: JobExecutionEvent) -> None:
        nonlocal missed, failed
        if event.code == EVENT_JOB_MISSED:
            missed += 1
        elif event.code == EVENT_JOB_ERROR:  # e.g. no pooled connection within 30 s
            failed += 1
        else:
            done.append(time.perf_counter())

    scheduler.add_listener(listener, EVENT_JOB_EXECUTED | EVENT_JOB_MISSED | EVENT_JOB_ERROR)
    async with rig.app.sessions() as session:
        rows = (
            await session.execute(
                select(
                    Client.id,
                    Client.checkin_weekday,
                    Client.checkin_time,
                    func.coalesce(Client.timezone, Practitioner.timezone, Practice.timezone),
                )
                .join(Practitioner, Practitioner.id == Client.practitioner_id)
                .join(Practice, Practice.id == Practitioner.practice_id)
            )
        ).all()
    scheduler.start()
    t0 = time.perf_counter()
    for cid, weekday, at, tz in rows:
        hh, mm = at.split(":")
        scheduler.add_job(
            send_one,
            CronTrigger(day_of_week=WEEKDAYS[weekday][:3], hour=hh, minute=mm, timezone=tz),
            args=[rig, cid],
            id=f"checkin-{cid}",
        )
    out["add_jobs_s"] = time.perf_counter() - t0
    out["jobs_rss_kb"] = rss_kb()
    # Steady: the event loop with every job waiting (APScheduler wakes at the next fire).
    cpu0, wall0 = time.process_time(), time.perf_counter()
    await asyncio.sleep(3)
    out["idle_cpu_ms_per_s"] = (time.process_time() - cpu0) * 1000 / (time.perf_counter() - wall0)
    # Burst: every job due in two seconds.
    fire = datetime.now(UTC) + timedelta(seconds=2)
    t0 = time.perf_counter()
    for job in scheduler.get_jobs():
        job.modify(next_run_time=fire)
    out["reschedule_s"] = time.perf_counter() - t0
    start = time.perf_counter() + (fire - datetime.now(UTC)).total_seconds()
    deadline = time.perf_counter() + 900
    while len(done) + missed + failed < clients and time.perf_counter() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.5)
    await asyncio.sleep(1)  # jobs still running finish their transactions
    scheduler.shutdown(wait=False)
    out["burst_peak_kb"] = peak_kb()
    out["executed"], out["missed"], out["failed"] = len(done), missed, failed
    out["burst_s"] = (max(done) - start) if done else 0.0
    out["burst_checkins_per_s"] = len(done) / out["burst_s"] if out["burst_s"] else 0.0
    await rig.close()
    return out


def main(argv: list[str]) -> None:
    result = asyncio.run(naive(argv[0], int(argv[1])))
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
