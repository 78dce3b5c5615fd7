"""The outbox worker: the dispatcher in a process of its own, so that sending never takes CPU time
(or the GIL) from receiving. `chatflow serve` starts and stops it.

The server wakes it through the worker's standard input: `m` (messages were committed) or `a`
(the accounts may have changed). End of input stops it, after the sends in flight are recorded.
When the worker dies, the server stops with the worker's exit code: one unit for a supervisor to
restart, never a server that receives but cannot send.

    python -m controller.runtime.worker --state .chatflow/state.db
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Callable

import structlog

from controller.store.sqlite import SQLiteStore

from .dispatcher import DispatchConfig, Dispatcher
from .live import LiveAccounts
from .settings import SettingError

log = structlog.get_logger("chatflow.outbox")

WAKE = b"m"
ACCOUNTS = b"a"
ACCOUNTS_EVERY = 60.0  # seconds: the accounts are read again at least this often
NICENESS = 10  # the worker's scheduling priority below the server's
STOP_GRACE = 20.0  # seconds the server waits for the worker to finish its sends


class OutboxWorker:
    """The server's handle on the worker process."""

    def __init__(self, state: Path, on_exit: Callable[[int], None]) -> None:
        self.state = state
        self.on_exit = on_exit
        self.proc: subprocess.Popen[bytes] | None = None
        self._stopping = False
        self._fd: int | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "controller.runtime.worker", "--state", str(self.state)],
                                     stdin=subprocess.PIPE)
        assert self.proc.stdin is not None
        self._fd = self.proc.stdin.fileno()
        os.set_blocking(self._fd, False)

    def wake(self) -> None:
        """Messages were committed; safe from any thread."""
        self._write(WAKE)

    def refresh(self) -> None:
        """The live set changed; safe from any thread."""
        self._write(ACCOUNTS)

    def _write(self, data: bytes) -> None:
        if self._fd is None:
            return
        try:
            os.write(self._fd, data)
        except BlockingIOError:
            pass  # the pipe is full of wakes the worker has not read yet: it will look anyway
        except OSError:
            pass  # the worker is gone: watch() reports it

    async def watch(self) -> None:
        """Wait for the worker to exit; an exit the server did not ask for is reported."""
        assert self.proc is not None
        code = await asyncio.to_thread(self.proc.wait)
        if not self._stopping:
            log.error("the outbox worker stopped; stopping the server", exit_code=code)
            self.on_exit(code)

    def stop(self, timeout: float = STOP_GRACE) -> int | None:
        """Ask the worker to finish (end of its input) and wait for it."""
        self._stopping = True
        if self.proc is None:
            return None
        if self.proc.stdin is not None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
        self._fd = None
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            log.warning("the outbox worker did not stop in time; killing it (its unsent messages stay queued)")
            self.proc.kill()
            return self.proc.wait()


# ---- the worker process ------------------------------------------------------------------------


async def serve(dispatcher: Dispatcher, accounts: LiveAccounts, wakes: int) -> None:
    loop = asyncio.get_running_loop()
    os.set_blocking(wakes, False)

    def readable() -> None:
        try:
            data = os.read(wakes, 65536)
        except BlockingIOError:
            return
        if not data:  # the server closed our input: finish and stop
            loop.remove_reader(wakes)
            dispatcher.stop()
            return
        if ACCOUNTS in data:
            accounts.refresh()
        dispatcher.wake()

    async def reread() -> None:
        while True:
            await asyncio.sleep(ACCOUNTS_EVERY)
            accounts.refresh()

    loop.add_reader(wakes, readable)
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, dispatcher.stop)
    rereading = asyncio.create_task(reread())
    try:
        await dispatcher.run()
    finally:
        rereading.cancel()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m controller.runtime.worker", description=__doc__.splitlines()[0])
    parser.add_argument("--state", required=True, type=Path)
    args = parser.parse_args(argv)
    from controller.logs import configure

    configure()
    # receiving comes first: a burst of webhooks is answered (and durably queued) before the
    # replies to it are sent; the channels' own rate limits pace sending anyway
    os.nice(NICENESS)
    try:
        config = DispatchConfig.from_env()
    except SettingError as exc:
        raise SystemExit(f"error: {exc}") from None
    store = SQLiteStore(args.state)
    accounts = LiveAccounts(store)
    dispatcher = Dispatcher(store, lambda name: accounts.current.get(name), config)
    try:
        asyncio.run(serve(dispatcher, accounts, sys.stdin.fileno()))
    finally:
        store.close()
    log.info("outbox worker stopped", sent=dispatcher.sent, failed=dispatcher.failed, retried=dispatcher.retried)


if __name__ == "__main__":
    main()
