"""One dispatcher in its own process, driven by ``bench.dispatch`` over stdin/stdout.

``python -m bench.dispatch_worker DATABASE_URL WORKER_ID`` with the encryption key in
``FEEDBACK_BOT_BENCH_KEY``. Prints ``{"ready": true}``; then each ``go`` line drains the
outbox once and prints the delivered outbox ids; ``quit`` ends it.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys

from bench.common import KEY_ENV, UNPACED, make_rig


def _say(value: object) -> None:
    sys.stdout.write(json.dumps(value) + "\n")
    sys.stdout.flush()


async def main(url: str, worker_id: str) -> None:
    rig = await make_rig(url, key=os.environ[KEY_ENV], worker_id=worker_id, migrate=False)
    loop = asyncio.get_running_loop()
    try:
        _say({"ready": True})
        while True:
            line = (await loop.run_in_executor(None, sys.stdin.readline)).strip()
            if line != "go":
                break
            await rig.fresh_console(UNPACED)
            rig.delivered.clear()
            await rig.app.dispatcher.drain()
            _say({"ids": [outbox_id for _, _, outbox_id in rig.delivered]})
    finally:
        await rig.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
