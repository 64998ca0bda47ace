"""Memory of building the app (in a fresh process), and the cost of field encryption.

Encryption: every inbox payload, outbox payload and feedback text is sealed with AES-GCM
(:class:`feedback_bot.privacy.vault.Vault`), bound to its table, column and row. Here a value
sealed and opened again is timed against the plain JSON round trip it wraps.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from bench.common import Backend, bench_settings, make_rig, run_child
from bench.stats import median, settle
from feedback_bot.app.bootstrap import make_vault
from feedback_bot.privacy.crypto import generate_key
from feedback_bot.privacy.vault import Vault
from feedback_bot.storage.models import new_uid


@dataclass
class BuildMemory:
    backend: str
    bare_rss_kb: int = 0  # the interpreter alone
    matplotlib_rss_kb: int = 0  # + matplotlib and numpy, imported by digest/chart.py
    imports_rss_kb: int = 0  # + everything else the app imports
    built_rss_kb: int = 0  # after build_app (engine, migrations check, catalog, detector)
    build_peak_kb: int = 0  # peak RSS during build_app
    build_traced_peak_kb: float = 0.0  # tracemalloc peak during build_app (a separate run)
    imports_s: float = 0.0
    build_s: float = 0.0
    peak_reset: bool = True  # False: /proc/self/clear_refs refused, the peak is since start


async def run_build_memory(backend: Backend) -> BuildMemory:
    key = generate_key()
    async with backend.database() as url:
        rig = await make_rig(url, key=key)  # migrate, so the probe measures a restart
        await rig.close()
        plain = await run_child("bench.probe", "build", url, key=key)
        traced = await run_child("bench.probe", "build", url, "--tracemalloc", key=key)
    m = BuildMemory(backend.name)
    for name in (
        "bare_rss_kb",
        "matplotlib_rss_kb",
        "imports_rss_kb",
        "built_rss_kb",
        "build_peak_kb",
    ):
        setattr(m, name, int(plain[name]))
    m.imports_s = float(plain["imports_s"])
    m.build_s = float(plain["build_s"])
    m.build_traced_peak_kb = float(traced["build_traced_peak_kb"])
    m.peak_reset = bool(plain["reset_ok"])
    return m


# -- encryption ------------------------------------------------------------------------


def _payload(text: str) -> dict[str, object]:
    """The shape of an outbox payload (what ``outbox.enqueue`` seals)."""
    return {
        "address": "123456789",
        "text": text,
        "choices": [["q1a2b3.good", "Good"], ["q1a2b3.not_right", "Not quite right"]],
        "protect": False,
    }


SAMPLES: dict[str, object] = {
    "short reply": _payload("Thank you, that's saved."),
    "check-in question": _payload(
        "How are you feeling about our work together since the last session? There are no "
        "right or wrong answers, and you can skip this. " * 2
    ),
    "long feedback text": _payload(
        "I wanted to say more about last week, because it has stayed with me. " * 58
    ),
}


@dataclass
class CryptoRow:
    sample: str
    json_bytes: int
    dumps_us: list[float] = field(default_factory=list)
    dumps_loads_us: list[float] = field(default_factory=list)
    seal_us: list[float] = field(default_factory=list)
    seal_open_us: list[float] = field(default_factory=list)


def _per_call_us(fn: Callable[[], object], loops: int) -> float:
    t0 = time.perf_counter()
    for _ in range(loops):
        fn()
    return (time.perf_counter() - t0) / loops * 1e6


def run_crypto(*, loops: int, reps: int) -> list[CryptoRow]:
    vault: Vault = make_vault(bench_settings("sqlite+aiosqlite://", generate_key()))
    uid = new_uid()
    rows = []
    for name, value in SAMPLES.items():
        row = CryptoRow(name, len(json.dumps(value, separators=(",", ":")).encode()))
        token = vault.seal_json("outbox", "payload", uid, value)
        if vault.open_json("outbox", "payload", uid, token) != value:
            raise RuntimeError("vault round trip changed the value")

        def dumps(value: object = value) -> object:
            return json.dumps(value, separators=(",", ":"))

        def dumps_loads(value: object = value) -> object:
            return json.loads(json.dumps(value, separators=(",", ":")))

        def seal(value: object = value) -> object:
            return vault.seal_json("outbox", "payload", uid, value)

        def seal_open(value: object = value) -> object:
            return vault.open_json(
                "outbox", "payload", uid, vault.seal_json("outbox", "payload", uid, value)
            )

        for _ in range(reps):  # interleaved, so load drift hits all four alike
            settle()
            row.dumps_us.append(_per_call_us(dumps, loops))
            row.dumps_loads_us.append(_per_call_us(dumps_loads, loops))
            row.seal_us.append(_per_call_us(seal, loops))
            row.seal_open_us.append(_per_call_us(seal_open, loops))
        rows.append(row)
    return rows


def crypto_summary(row: CryptoRow) -> dict[str, float]:
    return {
        "dumps": median(row.dumps_us),
        "dumps_loads": median(row.dumps_loads_us),
        "seal": median(row.seal_us),
        "seal_open": median(row.seal_open_us),
    }
