"""Signed, data-only results: what the pipeline caches and what ``recommend`` trusts.

A cached result is a JSON document, never a pickle, so reading one cannot run code. Each carries an HMAC-SHA256 of
its content keyed by a secret that does not live beside the results, so a result edited by hand (synergy = 42 bits)
or copied from another entry fails its check: the cache then warns, naming the file, and the result is recomputed.

The key comes from the environment variable ``PIDENGINE_RESULTS_KEY`` (set the same value on every worker of a
cluster), else from the key file ``$XDG_CONFIG_HOME/pidengine/results.key`` (``~/.config`` by default), created with
32 random bytes and mode 0600 on first use. A key file that others can read is refused: anyone who reads the key can
forge results.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import uuid
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pidengine.exceptions import ConfigError
from pidengine.io.location import Location

KEY_VARIABLE = "PIDENGINE_RESULTS_KEY"
RESULT_FORMAT = "pidengine-result/1"
_MIN_KEY_CHARS = 16


class IntegrityWarning(UserWarning):
    """A stored result failed its integrity check and is not used (it is recomputed)."""


def key_file() -> Path:
    """Where the results key is kept when ``PIDENGINE_RESULTS_KEY`` is not set."""
    config = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(config) / "pidengine" / "results.key"


def results_key() -> bytes:
    """The secret that signs results: ``PIDENGINE_RESULTS_KEY``, else the key file (created on first use).

    Raises
    ------
    ConfigError
        When the variable is too short to be a secret, or the key file can be read by other users.
    """
    value = os.environ.get(KEY_VARIABLE)
    if value is not None:
        if len(value) < _MIN_KEY_CHARS:
            raise ConfigError(f"{KEY_VARIABLE} must be a secret of at least {_MIN_KEY_CHARS} characters "
                              f"(e.g. `python -c 'import secrets; print(secrets.token_hex(32))'`)")
        return value.encode()
    path = key_file()
    if not path.exists():
        _create_key(path)
    if path.stat().st_mode & 0o077:
        raise ConfigError(f"the results key {path} can be read by other users; run `chmod 600 {path}`")
    key = path.read_text().strip()
    if len(key) < _MIN_KEY_CHARS:
        raise ConfigError(f"the results key {path} is empty or truncated; delete it and a new one is made "
                          "(cached results are then recomputed)")
    return key.encode()


def _create_key(path: Path) -> None:
    """Write a new random key to ``path`` (mode 0600) in one step: Dask workers starting together on a fresh machine
    all end up with the first one published, and none reads it half-written."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_hex(32))
        os.link(temporary, path)  # fails if another process published first: theirs is used
    except FileExistsError:
        pass
    finally:
        temporary.unlink(missing_ok=True)


def canonical_json(document: Any) -> str:
    """The one text of ``document`` that is signed: sorted keys, no spaces (floats keep their exact repr)."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"))


def signature(document: Any, key: bytes | None = None) -> str:
    """HMAC-SHA256 (hex) of ``document``'s canonical JSON under ``key`` (default: :func:`results_key`)."""
    key = results_key() if key is None else key
    return hmac.new(key, canonical_json(document).encode(), hashlib.sha256).hexdigest()


def verify(document: Any, claimed: object, key: bytes | None = None) -> bool:
    """Whether ``claimed`` is ``document``'s signature (compared in constant time)."""
    return isinstance(claimed, str) and hmac.compare_digest(signature(document, key), claimed)


class ResultCache:
    """Signed JSON results in one folder, one file per cache key (``<key>.json``).

    Parameters
    ----------
    directory : path
        The folder; created on the first save.
    key : bytes, optional
        The signing secret; default :func:`results_key`.

    Examples
    --------
    >>> import tempfile
    >>> cache = ResultCache(tempfile.mkdtemp(), key=b"0123456789abcdef")
    >>> path = cache.save("pid-gate-xor-exact-1f2e", {"synergy": 1.0})
    >>> cache.load("pid-gate-xor-exact-1f2e")
    {'synergy': 1.0}
    """

    def __init__(self, directory: str | Path | Location, key: bytes | None = None) -> None:
        self.directory = Location(directory)
        self._key = results_key() if key is None else key

    def path(self, name: str) -> Location:
        if not name or "/" in name or name.startswith("."):
            raise ConfigError(f"invalid result name {name!r}")
        return self.directory / f"{name}.json"

    def load(self, name: str) -> Any | None:
        """The payload saved under ``name``; None when there is none, or when it fails its check (with an
        :class:`IntegrityWarning` naming the file)."""
        path = self.path(name)
        try:
            text = path.read_bytes()
        except FileNotFoundError:
            return None
        try:
            document = json.loads(text)
            signed = {"format": document["format"], "name": document["name"], "payload": document["payload"]}
            valid = (signed["format"] == RESULT_FORMAT and signed["name"] == name
                     and verify(signed, document["signature"], self._key))
        except (ValueError, KeyError, TypeError):
            valid = False
        if not valid:
            warnings.warn(f"{path} fails its integrity check (edited, truncated or signed with another key); "
                          "it is not used and will be recomputed", IntegrityWarning, stacklevel=2)
            return None
        return signed["payload"]

    def save(self, name: str, payload: Any) -> Location:
        """Write ``payload`` (JSON-ready) signed under ``name``; readers see the old file or the new one, never a
        partial one."""
        path = self.path(name)
        payload = json.loads(json.dumps(payload))  # what a reader will see: lists for tuples, string keys
        signed = {"format": RESULT_FORMAT, "name": name, "payload": payload}
        text = json.dumps({**signed, "signature": signature(signed, self._key)}, indent=1, sort_keys=True)
        path.write_text(text)
        return path


def write_atomically(path: str | Path | Location, content: str | Callable[[str], object]) -> None:
    """Write ``content`` to ``path`` (a local path or a URL) in one step: readers see the old file or the new one, never
    a partial one. ``content`` is text, or a function that writes the file it is given (a figure's ``savefig``, with
    the format named: the temporary file has no telling suffix)."""
    target = Location(path)
    if callable(content):
        target.write_with(content)
    else:
        target.write_text(content)
