"""How often the clock beats and how patient delivery is (``FEEDBACK_BOT_SCHEDULING__*``)."""

from __future__ import annotations

from pydantic import BaseModel


class SchedulingSettings(BaseModel):
    tick_seconds: int = 30
    # The delivery loop wakes for what this worker queues and for pacing at once; rows
    # another worker queued are found within this.
    dispatch_seconds: float = 1.0
    misfire_grace_seconds: int = 60
    missed_slot_grace_minutes: int = 120  # a check-in missed by less than this is still sent once
    jitter_seconds: int = 300
    max_send_attempts: int = 8
    backoff_base_seconds: float = 2.0
    backoff_max_seconds: float = 900.0
    # A worker's lease on the messages it has claimed: renewed every third of this while
    # it lives; once it lapses, any worker resolves them with the crash rule (dispatcher).
    sending_stale_seconds: int = 30
