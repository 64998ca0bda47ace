"""Markdown for ``docs/benchmarks.md``: the machine, then one table per benchmark.

Only the part between the two markers is generated; the prose around it (how to run, how
to read the numbers) is written by hand and kept when the file is regenerated.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.dispatch import DispatchResult
from bench.inbound import InboundResult
from bench.memory import BuildMemory, CryptoRow, crypto_summary
from bench.outbound import OutboundResult, render_outbound
from bench.stats import fmt, fmt_ratio, median, percentile, ratio, spread
from bench.ticks import TickPoint

START_MARK = "<!-- bench:results:start (written by `python -m bench.run`; edits here are lost) -->"
END_MARK = "<!-- bench:results:end -->"
NAMES = {"sqlite": "SQLite", "postgres": "PostgreSQL"}


@dataclass
class Results:
    mode: str
    machine: dict[str, str]
    elapsed_s: float = 0.0
    inbound: list[InboundResult] = field(default_factory=list)
    dispatch: list[DispatchResult] = field(default_factory=list)
    ticks: list[TickPoint] = field(default_factory=list)
    build: list[BuildMemory] = field(default_factory=list)
    crypto: list[CryptoRow] = field(default_factory=list)
    outbound: list[OutboundResult] = field(default_factory=list)
    crypto_loops: int = 0
    notes: list[str] = field(default_factory=list)
    section_s: dict[str, float] = field(default_factory=dict)
    # Markdown of benchmarks that render themselves, by name, in the order they ran.
    sections: dict[str, list[str]] = field(default_factory=dict)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    align = ["---"] + ["---:"] * (len(header) - 1)
    out = ["| " + " | ".join(header) + " |", "| " + " | ".join(align) + " |"]
    out += ["| " + " | ".join(row) + " |" for row in rows]
    return out


def _mb(kb: float) -> str:
    return fmt(kb / 1024, 1)


def _machine(r: Results) -> list[str]:
    m = r.machine
    rows = [[k, v] for k, v in m.items()]
    return [
        "### Machine and run",
        "",
        *_table(["", ""], rows),
        "",
        f"Mode: **{r.mode}**; whole run {r.elapsed_s / 60:.1f} min ("
        + ", ".join(f"{k} {v:.0f} s" for k, v in r.section_s.items())
        + ").",
        "",
    ]


def _inbound(results: list[InboundResult]) -> list[str]:
    if not results:
        return []
    first = results[0]
    header = ["", *(NAMES[x.backend] for x in results)]
    if len(results) == 2:
        header.append("PostgreSQL / SQLite")

    def row(label: str, values: list[float], digits: int = 1, with_ratio: bool = True) -> list[str]:
        cells = [label, *(fmt(v, digits) for v in values)]
        if len(results) == 2:
            cells.append(fmt_ratio(ratio(values[1], values[0])) if with_ratio else "")
        return cells

    def per_event_ms(x: InboundResult, parts: list[float]) -> float:
        return median(parts) / x.clients * 1000

    rows = [
        row("**events/s end to end** (median)", [median(x.eps) for x in results]),
        [
            "— range over repetitions",
            *(spread(x.eps) for x in results),
            *([""] if len(results) == 2 else []),
        ],
        row("inbox commit (`receive`), ms/event", [per_event_ms(x, x.receive_s) for x in results]),
        row("`process_inbox`, ms/event", [per_event_ms(x, x.process_s) for x in results]),
        row("dispatcher drain, ms/event", [per_event_ms(x, x.dispatch_s) for x in results]),
        row(
            "CPU of this process, ms/event",
            [median(x.cpu_s) / x.clients * 1000 for x in results],
        ),
        row(
            "**inbox commit latency, median ms**",
            [median(x.commit_ms) for x in results],
            2,
        ),
        row("**inbox commit latency, p95 ms**", [percentile(x.commit_ms, 95) for x in results], 2),
        row(
            "onboarding one client through the chat, s (4 events)",
            [x.onboard_s_per_client for x in results],
            2,
        ),
    ]
    return [
        "### 1. Inbound: free-text feedback, end to end",
        "",
        f"{first.clients} linked, consenting clients ({first.via_chat} onboarded through the "
        f"chat, the rest seeded as rows); each repetition every client sends one free-text "
        f"message, which is committed to the inbox, processed (a draft and the first "
        f"question) and the question delivered. Median of {first.reps} repetitions; the "
        f"commit latency is over all {len(first.commit_ms)} events.",
        "",
        *_table(header, rows),
        "",
    ]


def _dispatch(results: list[DispatchResult]) -> list[str]:
    if not results:
        return []
    first = results[0]
    lines = [
        "### 2. Dispatcher",
        "",
        f"{first.messages:,} queued check-in-sized messages across {first.chats} chats "
        f"({first.messages // first.chats} per chat), console adapter, rate limit set out of "
        f"the way. Median of {first.reps} repetitions.",
        "",
    ]
    rows = []
    for x in results:
        rows.append(
            [
                NAMES[x.backend],
                fmt(median(x.mps), 0),
                spread(x.mps, 0),
                fmt(median(x.cpu_s) / x.messages * 1000, 2) if x.cpu_s else "—",
            ]
        )
    lines += _table(["", "messages/s (median)", "range", "CPU ms/message"], rows)
    if len(results) == 2:
        lines += [
            "",
            "PostgreSQL / SQLite: "
            + fmt_ratio(ratio(median(results[1].mps), median(results[0].mps)))
            + " messages/s.",
        ]
    paced = [x for x in results if x.pacing is not None]
    if paced:
        p0 = paced[0].pacing
        assert p0 is not None
        per_chat = p0.messages // p0.chats
        lines += [
            "",
            f"**Pacing at 1 message/s per chat** ({p0.messages} messages across {p0.chats} "
            f"chats, {per_chat} per chat; a fake sleep advances the fake clock). The first "
            f"message to each chat goes at once, so the expected simulated time is "
            f"{per_chat - 1} s.",
            "",
        ]
        rows = []
        for x in paced:
            p = x.pacing
            assert p is not None
            rows.append(
                [
                    NAMES[x.backend],
                    fmt(p.simulated_s, 2),
                    fmt(p.min_gap_s, 2),
                    str(p.per_chat) if p.per_chat >= 0 else "uneven",
                    f"{p.releases:,} ({p.releases / p.messages:.1f} per message)",
                    fmt(p.wall_s, 1),
                    fmt(p.messages / p.wall_s, 0),
                ]
            )
        lines += _table(
            [
                "",
                "simulated s",
                "smallest gap in a chat, s",
                "messages per chat",
                "claimed, then put back (not due yet)",
                "wall s",
                "messages/s wall",
            ],
            rows,
        )
    for x in results:
        if not x.two_proc_mps:
            continue
        one = median(x.mps)
        splits = ", ".join(f"{a}/{b}" for a, b in x.two_proc_split)
        lines += [
            "",
            f"**Two dispatchers on PostgreSQL** (two worker processes sharing the queue with "
            f"`FOR UPDATE SKIP LOCKED`), interleaved with the one-dispatcher runs above in "
            f"each of {x.reps} repetitions so load drift hits both alike:",
            "",
            *_table(
                ["", "messages/s (median)", "range", "vs one dispatcher"],
                [
                    ["one dispatcher", fmt(one, 0), spread(x.mps, 0), "×1.00"],
                    [
                        "two worker processes",
                        fmt(median(x.two_proc_mps), 0),
                        spread(x.two_proc_mps, 0),
                        fmt_ratio(ratio(median(x.two_proc_mps), one)),
                    ],
                ],
            ),
            "",
            f"Every message was delivered exactly once in every run; messages per worker: "
            f"{splits}.",
        ]
    return [*lines, ""]


def _ticks(points: list[TickPoint]) -> list[str]:
    if not points:
        return []
    lines = [
        "### 3. Scheduler tick vs active clients",
        "",
        "All clients on weekly check-ins, 25 per practitioner. *Steady*: a beat with nothing "
        "due (every 30 s). *Burst*: the beat that sends every client's weekly check-in. "
        "Medians over the runs shown; CPU is the ticking process's own (for PostgreSQL the "
        "server's work is not in it).",
        "",
    ]
    rows = []
    for p in points:
        s, bu = p.steady, p.burst
        rows.append(
            [
                NAMES[p.backend],
                f"{p.clients:,}",
                f"{len(s.total_ms)} / {len(bu.total_ms)}",
                fmt(median(s.total_ms), 0),
                f"{fmt(median(s.checkins_ms), 0)} / {fmt(median(s.digests_ms), 0)}",
                fmt(median(s.cpu_ms), 0),
                fmt(median(s.total_ms) / p.clients, 2),
                fmt(median(bu.total_ms), 0),
                fmt(median(bu.cpu_ms), 0),
                fmt(p.clients / (median(bu.checkins_ms) / 1000), 0),
                _mb(max(p.burst_peak_kb, p.built_rss_kb)),
            ]
        )
    lines += _table(
        [
            "",
            "clients",
            "runs (steady / burst)",
            "steady ms",
            "check-ins / digests ms",
            "steady CPU ms",
            "steady ms per client",
            "burst ms",
            "burst CPU ms",
            "burst check-ins queued/s",
            "peak RSS MB",
        ],
        rows,
    )
    lines += ["", "Growth (ratio of medians between sizes; ×10 clients each step):", ""]
    growth = []
    for backend in dict.fromkeys(p.backend for p in points):
        mine = [p for p in points if p.backend == backend]
        for a, b in zip(mine, mine[1:], strict=False):
            growth.append(
                [
                    NAMES[backend],
                    f"{a.clients:,} → {b.clients:,}",
                    fmt_ratio(ratio(median(b.steady.total_ms), median(a.steady.total_ms))),
                    fmt_ratio(ratio(median(b.steady.cpu_ms), median(a.steady.cpu_ms))),
                    fmt_ratio(ratio(median(b.burst.total_ms), median(a.burst.total_ms))),
                    fmt_ratio(ratio(median(b.burst.cpu_ms), median(a.burst.cpu_ms))),
                ]
            )
    lines += _table(["", "clients", "steady", "steady CPU", "burst", "burst CPU"], growth)
    return [*lines, ""]


def _memory(r: Results) -> list[str]:
    lines = ["### 4. Memory and encryption", ""]
    if r.build:
        header = ["", *(NAMES[m.backend] for m in r.build)]
        rows = [
            ["interpreter + asyncio, RSS MB", *(_mb(m.bare_rss_kb) for m in r.build)],
            [
                "+ matplotlib/numpy (loaded here; the app loads it to draw a chart), RSS MB",
                *(_mb(m.matplotlib_rss_kb) for m in r.build),
            ],
            ["+ the rest of the app's imports, RSS MB", *(_mb(m.imports_rss_kb) for m in r.build)],
            ["**after `build_app`, RSS MB**", *(_mb(m.built_rss_kb) for m in r.build)],
            ["**peak RSS during `build_app`, MB**", *(_mb(m.build_peak_kb) for m in r.build)],
            [
                "tracemalloc peak during `build_app`, MB",
                *(_mb(m.build_traced_peak_kb) for m in r.build),
            ],
            ["imports, s", *(fmt(m.imports_s, 2) for m in r.build)],
            ["`build_app` (existing schema), s", *(fmt(m.build_s, 2) for m in r.build)],
        ]
        lines += [
            "**Building the app** (fresh process; one run, so the seconds are indicative):",
            "",
            *_table(header, rows),
            "",
        ]
    if r.ticks:
        rows = []
        for p in r.ticks:
            rows.append(
                [
                    NAMES[p.backend],
                    f"{p.clients:,}",
                    _mb(p.built_rss_kb),
                    _mb(p.burst_peak_kb),
                    f"+{_mb(p.burst_peak_kb - p.built_rss_kb)}",
                    _mb(p.burst_traced_peak_kb) if p.burst_traced_peak_kb else "—",
                ]
            )
        untraced = sorted({p.clients for p in r.ticks if not p.burst_traced_peak_kb})
        skipped = (
            f" tracemalloc was not run for {', '.join(f'{n:,}' for n in untraced)} clients: "
            "the traced burst runs ~2.5× slower, and RSS covers those sizes."
            if untraced
            else ""
        )
        lines += [
            "**Scheduler ticks** (the processes of section 3; the peak is reset once the app "
            f"is built, so *over build* is what the burst ticks themselves added).{skipped}",
            "",
            *_table(
                [
                    "",
                    "clients",
                    "RSS after build, MB",
                    "peak RSS in burst ticks, MB",
                    "burst over build",
                    "tracemalloc peak of a burst tick, MB",
                ],
                rows,
            ),
            "",
        ]
    if r.crypto:
        rows = []
        for c in r.crypto:
            s = crypto_summary(c)
            rows.append(
                [
                    c.sample,
                    f"{c.json_bytes:,}",
                    fmt(s["dumps"], 1),
                    fmt(s["dumps_loads"], 1),
                    fmt(s["seal"], 1),
                    fmt(s["seal_open"], 1),
                    fmt_ratio(ratio(s["seal_open"], s["dumps_loads"])),
                    fmt_ratio(ratio(s["seal_open"], s["dumps"])),
                ]
            )
        lines += [
            f"**Encryption** (AES-256-GCM via `Vault.seal_json`/`open_json`, µs per value, "
            f"median of {len(r.crypto[0].dumps_us)} × {r.crypto_loops:,} calls):",
            "",
            *_table(
                [
                    "value",
                    "JSON bytes",
                    "`json.dumps`",
                    "dumps + loads",
                    "seal",
                    "seal + open",
                    "seal+open / dumps+loads",
                    "seal+open / dumps",
                ],
                rows,
            ),
            "",
        ]
    return lines


def render(r: Results) -> str:
    parts = [
        START_MARK,
        "",
        *_machine(r),
        *_inbound(r.inbound),
        *_dispatch(r.dispatch),
        *_ticks(r.ticks),
        *_memory(r),
        *render_outbound(r.outbound),
        *(line for lines in r.sections.values() for line in lines),
    ]
    if r.notes:
        parts += ["**Notes from this run:**", "", *(f"* {n}" for n in r.notes), ""]
    parts.append(END_MARK)
    return "\n".join(parts) + "\n"


DEFAULT_PROSE = """# Benchmarks

Run with `make bench` (or `python -m bench.run`; `--quick` for a smaller run).

"""


def write(path: Path, r: Results) -> None:
    """Replace the generated part of ``path``, keeping the hand-written prose around it."""
    generated = render(r)
    text = path.read_text(encoding="utf-8") if path.exists() else DEFAULT_PROSE
    if START_MARK in text and END_MARK in text:
        head, rest = text.split(START_MARK, 1)
        _, tail = rest.split(END_MARK, 1)
        text = head + generated.rstrip("\n") + tail
    else:
        text = text.rstrip("\n") + "\n\n" + generated
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
