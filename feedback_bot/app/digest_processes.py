"""Every practitioner's digest now, drawn by several processes at once.

A digest costs mostly CPU in this process (reading and opening the words, the chart, sealing
the message), so one process keeps one core busy however many the machine has. Each process
takes the practitioners whose id falls in its share (``DigestService.send_all(share=…)``),
in its own transactions as before, and reports its counts over a queue, so the progress bar
and the total stay those of the whole run. Only counts cross the queue, never content.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import queue as queue_module
from collections.abc import Callable
from typing import Any

from feedback_bot.app.settings import Settings

SettingsFactory = Callable[[], Settings]
POLL_S = 0.2


class ShareFailed(RuntimeError):
    """A process's share did not finish; what it queued stays queued."""


def send_all_in_processes(
    settings_factory: SettingsFactory,
    jobs: int,
    progress: Callable[[int, int], None] = lambda done, total: None,
) -> int:
    """Run ``send_all`` in ``jobs`` processes; returns how many digests went out.

    ``settings_factory`` is called in each process (it must be picklable: a module-level
    function or a ``functools.partial`` of one), so every share opens its own connections."""
    context = multiprocessing.get_context("spawn")  # no inherited event loop or connections
    reports: Any = context.Queue()
    processes = [
        context.Process(target=_run_share, args=(settings_factory, k, jobs, reports), daemon=True)
        for k in range(jobs)
    ]
    for process in processes:
        process.start()
    counts = {k: (0, 0) for k in range(jobs)}
    sent: dict[int, int] = {}
    failures: list[str] = []
    try:
        while len(sent) + len(failures) < jobs:
            try:
                kind, k, *values = reports.get(timeout=POLL_S)
            except queue_module.Empty:
                dead = [
                    k
                    for k, p in enumerate(processes)
                    if not p.is_alive() and k not in sent and p.exitcode not in (None, 0)
                ]
                if dead and reports.empty():
                    failures += [f"share {k} stopped (exit {processes[k].exitcode})" for k in dead]
                    break
                continue
            if kind == "progress":
                counts[k] = (values[0], values[1])
                progress(sum(d for d, _ in counts.values()), sum(t for _, t in counts.values()))
            elif kind == "done":
                sent[k] = values[0]
            else:
                failures.append(f"share {k}: {values[0]}")
    finally:
        for process in processes:
            process.join(timeout=5)
            if process.is_alive():
                process.kill()
    if failures:
        raise ShareFailed("; ".join(failures))
    return sum(sent.values())


def _run_share(settings_factory: SettingsFactory, k: int, n: int, reports: Any) -> None:
    try:
        reports.put(("done", k, asyncio.run(_share(settings_factory(), k, n, reports))))
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which fails the run
        # The exception's type only: its message could hold a value from the database.
        reports.put(("error", k, type(exc).__name__))


async def _share(settings: Settings, k: int, n: int, reports: Any) -> int:
    from feedback_bot.app.bootstrap import build_app

    app = await build_app(settings, migrate=False)
    try:

        def tick(done: int, total: int) -> None:
            reports.put(("progress", k, done, total))

        return int(await app.digests.send_all(tick, share=(k, n)))
    finally:
        await app.close()
