"""Stop Prefect's temporary API server when the process that started it dies without cleaning up.

Prefect stops its temporary server (a ``uvicorn`` child process) at interpreter exit, which ``kill -9`` skips: the
server would then live on, holding its port and database. :func:`stop_temporary_server_with_this_process` starts a
small watcher in a session of its own (so a signal to this process group does not reach it) that checks once a
second whether this process still exists and terminates the server when it does not. The watcher ends with the
server, so a normal exit leaves nothing behind either.

Run as ``python -m flows._server_watch PARENT_PID SERVER_PID``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

POLL_SECONDS = 1.0
_watchers: list[subprocess.Popen] = []  # kept so the handles are not collected while the watchers run


def stop_temporary_server_with_this_process() -> int | None:
    """Start Prefect's temporary server now, if this process uses one, and a watcher that stops it when this
    process is gone. Returns the server's process id, or None when a configured server is used."""
    from prefect.client.orchestration import get_client
    from prefect.server.api.server import SubprocessASGIServer
    from prefect.settings import PREFECT_API_URL

    if PREFECT_API_URL.value():
        return None
    get_client(sync_client=True)  # starts the temporary server if none runs yet
    processes = [server.server_process for server in SubprocessASGIServer._instances.values()
                 if server.server_process is not None]
    if not processes:
        return None
    server_pid = processes[0].pid
    _watchers.append(subprocess.Popen(
        [sys.executable, "-m", "flows._server_watch", str(os.getpid()), str(server_pid)],
        start_new_session=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    ))
    return server_pid


def watch(parent_pid: int, server_pid: int, poll_seconds: float = POLL_SECONDS) -> bool:
    """Wait until either process is gone; terminate the server if the parent went first. True if it did."""
    import psutil

    try:
        server = psutil.Process(server_pid)
    except psutil.NoSuchProcess:
        return False
    try:
        parent = psutil.Process(parent_pid)
    except psutil.NoSuchProcess:  # killed before the watcher started
        parent = None
    while parent is not None and _alive(parent) and _alive(server):
        time.sleep(poll_seconds)
    if not _alive(server):
        return False
    server.terminate()
    try:
        server.wait(timeout=5)
    except psutil.TimeoutExpired:
        server.kill()
    return True


def _alive(process) -> bool:
    """Running and not a zombie; is_running() compares creation times, so a reused process id does not count."""
    import psutil

    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


if __name__ == "__main__":
    watch(int(sys.argv[1]), int(sys.argv[2]))
