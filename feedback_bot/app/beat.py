"""APScheduler is only the clock: a few jobs with stable ids that call into the app.
Every schedule lives in the database; job arguments carry nothing but the app itself."""

from __future__ import annotations

from typing import TYPE_CHECKING

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

if TYPE_CHECKING:
    from feedback_bot.app.bootstrap import App


def start_clock_jobs(app: App) -> AsyncIOScheduler:
    s = app.settings.scheduling
    scheduler = AsyncIOScheduler(
        job_defaults={
            "coalesce": True,
            "max_instances": 1,
            "misfire_grace_time": s.misfire_grace_seconds,
        },
        timezone="UTC",
    )
    scheduler.add_job(
        app.tick, IntervalTrigger(seconds=s.tick_seconds), id="tick", replace_existing=True
    )
    scheduler.add_job(app.purge, CronTrigger(hour=3, minute=30), id="purge", replace_existing=True)
    scheduler.start()
    return scheduler
