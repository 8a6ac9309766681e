"""Checks that run before any work: an unreachable tracking store, Dask scheduler or Prefect API fails in seconds
with a message that says what to do, instead of after the data stages (or never).

Only the standard library is imported at module level, so the CLI can run these checks before importing Prefect.
"""

from __future__ import annotations

import base64
import contextlib
import os
import socket
import sqlite3
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote, urlparse, urlsplit, urlunsplit

from pidengine.exceptions import ConfigError
from tasks._credentials import (  # noqa: F401  (the command line uses them through this module)
    move_credentials_to_environment,
    redact,
    with_credentials,
)

TIMEOUT_SECONDS = 5.0


class PreflightError(ConfigError):
    """A service the pipeline needs is unreachable or unusable."""


def resolve_tracking_uri(uri: str) -> str:
    """A relative ``sqlite:///file.db`` as an absolute one (Dask workers and the MLflow UI may run elsewhere)."""
    if uri.startswith("sqlite:///") and not uri.startswith("sqlite:////"):
        return "sqlite:///" + str(Path(uri[len("sqlite:///"):]).resolve())
    return uri


def check_tracking_uri(uri: str, timeout: float = TIMEOUT_SECONDS) -> str:
    """Raise :class:`PreflightError` unless the MLflow tracking store at ``uri`` can be used; return it resolved.

    Messages show the URI with its password masked (:func:`redact`)."""
    resolved = resolve_tracking_uri(uri)
    shown = redact(uri)
    parsed = urlparse(resolved)
    if parsed.scheme == "sqlite":
        path = Path(resolved[len("sqlite:///"):])
        if not path.parent.is_dir():
            raise PreflightError(
                f"tracking URI {shown}: folder {path.parent} does not exist; create it or pass another --tracking-uri"
            )
        if not os.access(path.parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
            raise PreflightError(f"tracking URI {shown}: {path} is not writable")
        if path.exists():
            try:
                with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=timeout) as connection:
                    connection.execute("PRAGMA schema_version").fetchone()
            except sqlite3.DatabaseError as exc:
                raise PreflightError(f"tracking URI {shown}: {path} is not an SQLite database ({exc})") from exc
        return resolved
    if parsed.scheme in ("http", "https"):
        base = resolved.rstrip("/")
        try:
            with urllib.request.urlopen(_health_request(base), timeout=timeout) as response:
                if response.status == 200:
                    return resolved
        except urllib.error.HTTPError as exc:
            raise PreflightError(
                f"tracking URI {shown} answered HTTP {exc.code} at /health; is it an MLflow server?"
            ) from exc
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise PreflightError(
                f"tracking URI {shown} is unreachable ({reason}); start it (`mlflow server --host HOST --port PORT`) "
                f"or pass --tracking-uri sqlite:///mlflow.db"
            ) from exc
        raise PreflightError(f"tracking URI {shown} did not answer /health with HTTP 200")
    if parsed.scheme in ("", "file"):
        path = Path(parsed.path if parsed.scheme == "file" else resolved)
        folder = path if path.exists() else path.parent
        if not folder.is_dir() or not os.access(folder, os.W_OK):
            raise PreflightError(f"tracking URI {shown}: {folder} is not a writable folder")
        return resolved
    if parsed.scheme.split("+")[0] not in _TRACKING_SCHEMES:
        raise PreflightError(
            f"tracking URI scheme {parsed.scheme!r} is not one MLflow stores runs in; use sqlite:///mlflow.db, "
            "http(s)://HOST:PORT (an MLflow server), file:///FOLDER, databricks or a database URI "
            f"({', '.join(sorted(_DEFAULT_PORTS))})")
    if parsed.hostname:  # a database server (postgresql://, mysql://, ...): can we open a connection at all?
        _check_tcp(
            parsed.hostname, parsed.port or _DEFAULT_PORTS.get(parsed.scheme.split("+")[0]), timeout,
            f"tracking URI {shown}",
        )
    return resolved


def _health_request(base: str) -> urllib.request.Request:
    """GET ``/health`` with basic authentication as MLflow's client sends it: the URI's ``user:password@``, else
    MLflow's variables."""
    parts = urlsplit(base)
    user, password = os.environ.get("MLFLOW_TRACKING_USERNAME"), os.environ.get("MLFLOW_TRACKING_PASSWORD")
    if parts.username is not None:
        user, password = unquote(parts.username), unquote(parts.password or "")
        base = urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))
    request = urllib.request.Request(f"{base}/health")
    if user is not None:
        token = base64.b64encode(f"{user}:{password or ''}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    return request


_DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306, "mssql": 1433}
_TRACKING_SCHEMES = {*_DEFAULT_PORTS, "databricks", "databricks-uc", "uc"}


def check_dask_address(address: str, timeout: float = TIMEOUT_SECONDS, wait_for_workers: float = 0.0,
                       notify: Callable[[str], None] | None = None) -> int:
    """Raise :class:`PreflightError` unless a Dask scheduler answers at ``address`` and has a worker, or gets one
    within ``wait_for_workers`` seconds (``notify`` is told when it waits); return its number of workers."""
    import distributed

    try:
        client = distributed.Client(address, timeout=f"{timeout}s", set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise PreflightError(
            f"no Dask scheduler answers at {address} ({type(exc).__name__}: {' '.join(str(exc).split())[:200]}); "
            "start one (`dask scheduler` and `dask worker ADDRESS`) or leave --dask-address out for a local cluster"
        ) from exc
    with client:
        n_workers = len(client.nthreads())
        if n_workers == 0 and wait_for_workers > 0:
            if notify is not None:
                notify(f"the Dask scheduler at {address} has no workers; waiting up to {wait_for_workers:g} s for one")
            with contextlib.suppress(TimeoutError):  # distributed's, which is the built-in one
                client.wait_for_workers(1, timeout=wait_for_workers)
            n_workers = len(client.nthreads())
    if n_workers == 0:
        raise PreflightError(no_workers_message(address, wait_for_workers))
    return n_workers


def no_workers_message(address: str, seconds: float) -> str:
    """What to do about a scheduler without workers (``seconds``: how long it has had none)."""
    waited = f" for {seconds:g} s" if seconds > 0 else ""
    return f"no Dask workers at {address}{waited}: start `dask worker {address}` or drop --dask-address"


def check_prefect_api(timeout: float = TIMEOUT_SECONDS) -> str | None:
    """When ``PREFECT_API_URL`` points at a server, raise unless it answers; None when Prefect will start its own."""
    url = os.environ.get("PREFECT_API_URL")
    if not url:
        try:
            from prefect.settings import PREFECT_API_URL  # the active profile may set it

            url = PREFECT_API_URL.value()
        except Exception:
            url = None
    if not url:
        return None
    try:
        with urllib.request.urlopen(f"{url.rstrip('/')}/health", timeout=timeout):
            return url
    except (urllib.error.URLError, OSError) as exc:
        raise PreflightError(
            f"the Prefect API at {url} is unreachable ({getattr(exc, 'reason', exc)}); start it with "
            "`prefect server start`, or unset PREFECT_API_URL to let Prefect start a temporary one"
        ) from exc


def check_cluster_api(dask_address: str | None, api_url: str | None) -> None:
    """Refuse an existing Dask cluster without a Prefect API server (``api_url``, from ``PREFECT_API_URL``).

    Without one, Prefect's temporary server is this process's alone, on a new port each run, and a worker reports its
    task runs to the first API it was told for as long as it lives (Prefect's events client is made once per
    process): the task runs of later runs vanish, and the workers retry a dead address every few seconds.
    """
    if dask_address and not api_url:
        raise PreflightError(
            f"--dask-address {dask_address} needs a Prefect API server its workers reach: set PREFECT_API_URL to one "
            "(`prefect server start --host 0.0.0.0`, then PREFECT_API_URL=http://HOST:4200/api here and on the "
            "workers)")


def _check_tcp(host: str, port: int | None, timeout: float, what: str) -> None:
    if port is None:
        return
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError as exc:
        raise PreflightError(f"{what}: cannot connect to {host}:{port} ({exc})") from exc
