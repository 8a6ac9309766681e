"""Where stores and results live: a local folder, or any URL that fsspec reaches (``s3://``, ``gs://``, ``memory://``).

A :class:`Location` is a folder on one filesystem. Everything pidengine writes goes through it, so a data directory
or a results directory can be an object store shared by workers that share no disk. Credentials never appear in a
URL here: fsspec's backends read them the usual way (``AWS_ACCESS_KEY_ID``, ``AWS_ENDPOINT_URL``, ``~/.aws``,
``GOOGLE_APPLICATION_CREDENTIALS``), so the URLs the pipeline logs hold none.

Object stores have no rename and no symbolic link. What readers rely on is therefore a single object written last:
:meth:`Location.write_text` replaces a file in one step (a rename of a private temporary file on a local disk, one
PUT on an object store, which stores whole objects only), and a store's versions are immutable folders that a small
pointer file names (:mod:`pidengine.io.store`).
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import fsspec
from fsspec.core import split_protocol
from fsspec.implementations.local import LocalFileSystem

from pidengine.exceptions import ConfigError

LOCAL = ("file", "local")


def _filesystem(url: str) -> tuple[fsspec.AbstractFileSystem, str]:
    """The filesystem of ``url`` and the path on it; a one-line error for an unknown scheme or a missing backend."""
    protocol = split_protocol(url)[0] or "file"
    try:
        return fsspec.core.url_to_fs(url)
    except ValueError as error:
        if "Protocol not known" not in str(error):
            raise
        known = ", ".join(f"{name}://" for name in ("file", "memory", "s3", "gs", "az"))
        raise ConfigError(f"{url}: no filesystem for '{protocol}://'; use a local folder or a URL such as {known}") \
            from None
    except ImportError as error:
        raise ConfigError(f"{url}: {error} (`pip install` the package, then run again)") from None


class Location:
    """A folder on a local disk or an fsspec filesystem.

    Parameters
    ----------
    where : str or path
        A local path (relative ones are made absolute, so workers started elsewhere see the same folder) or a URL.

    Examples
    --------
    >>> root = Location("memory://pidengine-doc")
    >>> (root / "a.txt").write_text("hello")
    >>> (root / "a.txt").read_text(), root.url, (root / "a.txt").exists()
    ('hello', 'memory://pidengine-doc', True)
    """

    def __init__(self, where: str | Path | Location) -> None:
        if isinstance(where, Location):
            self.fs, self.path = where.fs, where.path
            return
        text = str(where)
        self.fs, self.path = _filesystem(text if split_protocol(text)[0] else str(Path(text).resolve()))
        self.path = self.path.rstrip("/") or "/"

    @classmethod
    def _on(cls, fs: fsspec.AbstractFileSystem, path: str) -> Location:
        location = cls.__new__(cls)
        location.fs, location.path = fs, path
        return location

    @property
    def is_local(self) -> bool:
        return isinstance(self.fs, LocalFileSystem)

    @property
    def url(self) -> str:
        """A plain path for a local folder, else the URL with its scheme: what logs and messages show."""
        return self.path if self.is_local else self.fs.unstrip_protocol(self.path).replace(":///", "://", 1)

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]

    @property
    def parent(self) -> Location:
        return Location._on(self.fs, self.path.rsplit("/", 1)[0] or "/")

    def __truediv__(self, name: str) -> Location:
        return Location._on(self.fs, f"{self.path.rstrip('/')}/{name}")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Location) and (self.fs, self.path) == (other.fs, other.path)

    def __hash__(self) -> int:
        return hash(self.url)

    def __repr__(self) -> str:
        return f"Location({self.url!r})"

    def __str__(self) -> str:
        return self.url

    def exists(self) -> bool:
        self._forget()
        return self.fs.exists(self.path)

    def is_dir(self) -> bool:
        self._forget()
        return self.fs.isdir(self.path)

    def children(self) -> list[Location]:
        """The files and folders directly inside, by name; none when the folder does not exist."""
        self._forget()
        if not self.fs.isdir(self.path):
            return []
        names = sorted(entry.rstrip("/").rsplit("/", 1)[-1] for entry in self.fs.ls(self.path, detail=False))
        return [self / name for name in names]

    def files(self) -> list[str]:
        """Every file below, as a path relative to this folder (``/``-separated), sorted."""
        self._forget()
        root = self.path.rstrip("/") + "/"
        return sorted(found[len(root):] for found in self.fs.find(self.path) if found.startswith(root))

    def read_bytes(self) -> bytes:
        return self.fs.cat_file(self.path)

    def read_text(self) -> str:
        return self.read_bytes().decode()

    def write_text(self, text: str) -> None:
        """Replace the file with ``text`` in one step: a reader sees the old file or the new one, never a part."""
        self.write_with(lambda path: Path(path).write_text(text), lambda: self.fs.pipe_file(self.path, text.encode()))

    def write_with(
        self, write_local: Callable[[str], object], write_remote: Callable[[], object] | None = None
    ) -> None:
        """Replace the file with what ``write_local(path)`` writes to a private temporary file renamed into place (on
        a local disk), or what ``write_remote()`` uploads in one object (elsewhere; default: ``write_local`` into a
        temporary local file, uploaded)."""
        if self.is_local:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            temporary = f"{self.parent.path}/.{self.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
            try:
                write_local(temporary)
                os.replace(temporary, self.path)
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise
        elif write_remote is not None:
            write_remote()
        else:
            with tempfile.TemporaryDirectory() as folder:
                staged = f"{folder}/{self.name}"
                write_local(staged)
                self.fs.put_file(staged, self.path)

    def make_dir(self) -> None:
        """Create the folder (and its parents) where folders exist; object stores have none to create."""
        self.fs.makedirs(self.path, exist_ok=True)

    def remove(self) -> None:
        """Remove the file or the folder with everything inside; nothing when it is not there."""
        self._forget()
        if self.fs.exists(self.path):
            self.fs.rm(self.path, recursive=True)

    def modified(self) -> datetime | None:
        """When the file was last written (None where the filesystem does not say, e.g. a folder of an object store)."""
        try:
            return self.fs.modified(self.path)
        except (NotImplementedError, FileNotFoundError, KeyError, OSError):
            return None

    def zarr_store(self) -> str | object:
        """What :func:`xarray.open_zarr` and ``to_zarr`` take for this folder: the path itself on a local disk, else a
        Zarr store over the filesystem."""
        if self.is_local:
            return self.path
        import zarr.storage

        return zarr.storage.FsspecStore.from_url(self.fs.unstrip_protocol(self.path),
                                                 storage_options=getattr(self.fs, "storage_options", None))

    def _forget(self) -> None:
        """Drop the filesystem's cached listings: another process may have written since (s3fs caches them)."""
        self.fs.invalidate_cache(self.path)
