"""Creating a client record from the practice's defaults."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from feedback_bot.people.practice_config import PracticeConfig
from feedback_bot.scheduling.wallclock import WEEKDAYS
from feedback_bot.storage.models import Client
from feedback_bot.storage.states import ClientStatus


async def get_or_create_client(
    session: AsyncSession,
    config: PracticeConfig,
    practitioner_id: int,
    alias: str | None,
    now: datetime,
) -> Client:
    if not alias:
        count = await session.scalar(
            select(func.count())
            .select_from(Client)
            .where(Client.practitioner_id == practitioner_id)
        )
        alias = f"Client {int(count or 0) + 1}"
    client = (
        await session.execute(
            select(Client).where(Client.practitioner_id == practitioner_id, Client.alias == alias)
        )
    ).scalar_one_or_none()
    if client is not None:
        return client
    c = config.checkins
    client = Client(
        practitioner_id=practitioner_id,
        alias=alias,
        status=ClientStatus.INVITED,
        checkin_cadence=c.cadence,
        checkin_weekday=WEEKDAYS.index(c.weekly_day),
        checkin_time=c.weekly_time,
        after_session_hours=c.after_session_hours,
        quiet_start=c.quiet_start,
        quiet_end=c.quiet_end,
        created_at=now,
    )
    session.add(client)
    await session.flush()
    return client
