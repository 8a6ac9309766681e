"""Versioned, atomically published Zarr stores, one folder per dataset, on a local disk or an object store.

Layout under the data directory (a local folder or an fsspec URL, :class:`~pidengine.io.location.Location`)::

    <data_dir>/<dataset>/raw.current      names raw-<key>.zarr       ingested modalities, label and split
    <data_dir>/<dataset>/encoded.current  names encoded-<key>.zarr   encoder outputs (only for encoded modalities)
    <data_dir>/<dataset>/codes.current    names codes-<key>.zarr     discrete codes and the fitted featuriser

Each stage's pointer file names an immutable version folder whose ``key`` is a content hash. Publishing writes the
new version, then its checksums beside it, then the pointer, each file replaced in one step (a rename on a local
disk, one object on an object store, which has neither renames nor links): a reader that follows the pointer opens
either the old complete version or the new one, never a half-written store, also when the writer is killed mid-write
(what it left has no checksums, is never pointed at, and is removed by a later publish). On a local disk a version is
written under a private temporary name and renamed into place, so two writers of one key never mix their files.
Publishing a key that is already current writes nothing. The previous version is kept for readers still holding it;
older ones go.

Each version records the SHA-256 of every file it holds in ``<version>.checksums.json`` beside it, signed with the
results key (:mod:`pidengine.io.results`). Opening a store checks them: a damaged or rewritten file is an error that
names the store and the command that rewrites it, and publishing the same key again replaces a damaged version
instead of trusting its pointer.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import dask
import numpy as np
import xarray as xr

from pidengine.exceptions import PIDEngineError
from pidengine.io.location import Location
from pidengine.io.results import signature, verify

STAGES = ("raw", "encoded", "codes")
MANIFEST_SUFFIX = ".checksums.json"  # beside the version folder: Zarr warns about foreign files inside a group
MANIFEST_FORMAT = "pidengine-store-checksums/1"
_REPAIR = {"raw": "ingest", "encoded": "featurize", "codes": "featurize"}
_STALE_SECONDS = 3600.0


class StoreError(PIDEngineError):
    """A dataset store is missing or cannot be written."""


def content_hash(*parts: np.ndarray | str | bytes) -> str:
    """SHA-256 (hex) over arrays (dtype, shape and bytes) and strings, in order."""
    digest = hashlib.sha256()
    for part in parts:
        if isinstance(part, np.ndarray):
            if part.dtype == object:
                part = part.astype(str)
            digest.update(f"{part.dtype.str}{part.shape}".encode())
            digest.update(np.ascontiguousarray(part).tobytes())
        else:
            digest.update(part if isinstance(part, bytes) else part.encode())
        digest.update(b"\x00")
    return digest.hexdigest()


class DatasetStore:
    """The stores of one dataset under ``data_dir/name``.

    Parameters
    ----------
    data_dir : str, path or Location
        Root folder holding one sub-folder per dataset: a local path or an fsspec URL.
    name : str
        Dataset name (a catalog entry's name).
    """

    def __init__(self, data_dir: str | Path | Location, name: str) -> None:
        self.folder = Location(data_dir) / name
        self.name = name

    def pointer(self, stage: str) -> Location:
        """The file that names the published version of ``stage``."""
        if stage not in STAGES:
            raise ValueError(f"unknown stage {stage!r}; stages are {STAGES}")
        return self.folder / f"{stage}.current"

    def current(self, stage: str) -> Location | None:
        """The published version of ``stage`` (its folder), or None if nothing is published."""
        try:
            name = self.pointer(stage).read_text().strip()
        except FileNotFoundError:
            return None
        return self.folder / name if name.startswith(f"{stage}-") and "/" not in name else None

    def current_key(self, stage: str) -> str | None:
        """The content key of the published version of ``stage``, or None if nothing is published."""
        version = self.current(stage)
        return version.name[len(stage) + 1 : -len(".zarr")] if version is not None else None

    def exists(self, stage: str) -> bool:
        return self._published(stage) is not None

    def _published(self, stage: str) -> Location | None:
        """The published version of ``stage`` when its folder is there (one read of the pointer)."""
        version = self.current(stage)
        return version if version is not None and version.exists() else None

    def is_current(self, stage: str, key: str) -> bool:
        """Whether version ``key`` of ``stage`` is published and intact (a stage with this key can skip its work)."""
        version = self.current(stage)
        return version is not None and version.name == f"{stage}-{key}.zarr" and damage(version) is None

    def describe(self, stage: str) -> dict[str, int] | None:
        """The published version's sizes (``sample``, ``feature1``, ...) and number of ``labels``, read from its
        metadata alone (for listings: no data read, no checksum checked); None when nothing is published."""
        version = self._published(stage)
        if version is None:
            return None
        metadata = xr.open_zarr(version.zarr_store(), consolidated=False)
        return {**{str(k): int(v) for k, v in metadata.sizes.items()},
                "labels": len(metadata.attrs.get("label_names", []))}

    def open(self, stage: str) -> xr.Dataset:
        """The published version of ``stage``, lazily (dask-backed), after checking its files against their checksums.

        Raises
        ------
        StoreError
            When nothing is published, or a file of the version does not match its checksum.
        """
        if not self.folder.is_dir():
            root = self.folder.parent
            known = [child.name for child in root.children() if child.is_dir()]
            close = difflib.get_close_matches(self.name, known, n=1)
            # A near miss is a typo of a stored dataset; anything else may just not be ingested yet.
            fix = (f"did you mean {close[0]!r}?" if close
                   else f"ingest it first (`pidengine ingest --only {self.name}`)")
            raise StoreError(f"no dataset {self.name!r} under {root}; {fix}")
        version = self._published(stage)
        if version is None:
            raise StoreError(f"dataset {self.name!r} has no {stage} store under {self.folder}; run the stage first")
        problem = damage(version)
        if problem is not None:
            raise StoreError(f"dataset {self.name!r}: the {stage} store {version} {problem}; rewrite it with "
                             f"`pidengine {_REPAIR[stage]} --only {self.name}`")
        return xr.open_zarr(version.zarr_store(), consolidated=False)

    def publish(self, stage: str, key: str, dataset: xr.Dataset) -> bool:
        """Write ``dataset`` as version ``key`` of ``stage`` and make it current, atomically.

        Returns
        -------
        bool
            False when ``key`` was already current (nothing written), True otherwise.
        """
        if self.is_current(stage, key):
            return False
        self.folder.make_dir()
        self._remove_stale_leftovers()
        version = self.folder / f"{stage}-{key}.zarr"
        if version.exists() and damage(version) is not None:
            version.remove()  # damaged or left half-written: rewritten, never trusted
        if not version.exists():
            _write_version(dataset, version)
        previous = self.current(stage)
        self.pointer(stage).write_text(version.name)
        self._prune(stage, keep={version.name, previous.name if previous else None})
        return True

    def _prune(self, stage: str, keep: set[str | None]) -> None:
        for old in self.folder.children():
            if old.name.startswith(f"{stage}-") and old.name.endswith(".zarr") and old.name not in keep:
                manifest(old).remove()  # first: what is left is never taken for a complete version
                old.remove()

    def _remove_stale_leftovers(self) -> None:
        """Remove what writers that died left (older than an hour: no live write takes that long here): temporary
        folders on a local disk, versions without checksums on an object store."""
        now = time.time()
        for leftover in self.folder.children():
            unfinished = (leftover.name.startswith(".") and ".tmp-" in leftover.name) or (
                leftover.name.endswith(".zarr") and not manifest(leftover).exists())
            written = (leftover / "zarr.json").modified() or leftover.modified()
            if unfinished and written is not None and now - written.timestamp() > _STALE_SECONDS:
                leftover.remove()


def _write_version(dataset: xr.Dataset, version: Location) -> None:
    """Write a complete version with its checksums. On a local disk it is written under a private temporary name and
    renamed into place; an object store has no rename, and there the checksums, written last, mark it complete."""
    if not version.is_local:
        _write_zarr(dataset, version)
        _write_manifest(version, manifest(version))
        return
    temporary = version.parent / f".{version.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        _write_zarr(dataset, temporary)
        _write_manifest(temporary, manifest(version))  # first: a version never stands without them
        _rename_into_place(temporary, version)
    except BaseException:
        temporary.remove()
        raise


def _write_zarr(dataset: xr.Dataset, path: Location) -> None:
    """Write ``dataset`` to a new Zarr v3 folder on a private thread pool.

    When one chunk fails, dask raises at once while other chunks are still being written; leaving the ``with``
    waits for them, so the caller's clean-up of ``path`` is not undone by a late chunk re-creating it. A caller that
    asked for dask's synchronous scheduler (a one-thread Dask worker) keeps it: nothing runs concurrently there.
    The pool has as many threads as the caller configured (``num_workers``), else one per core.
    """
    if dask.config.get("scheduler", None) in ("synchronous", "sync", "single-threaded"):
        dataset.to_zarr(path.zarr_store(), mode="w-", zarr_format=3, consolidated=False)
        return
    threads = dask.config.get("num_workers", None) or dask.system.CPU_COUNT
    with ThreadPoolExecutor(max_workers=threads) as pool, dask.config.set(scheduler="threads", pool=pool):
        dataset.to_zarr(path.zarr_store(), mode="w-", zarr_format=3, consolidated=False)


def _file_digests(version: Location) -> dict[str, str]:
    return {name: hashlib.sha256((version / name).read_bytes()).hexdigest() for name in version.files()}


def manifest(version: Location) -> Location:
    """The signed checksums of store version ``version`` (a file beside its folder)."""
    return version.parent / (version.name + MANIFEST_SUFFIX)


def _write_manifest(folder: Location, path: Location) -> None:
    """The signed checksums of ``folder``'s files, written to ``path``."""
    document = {"format": MANIFEST_FORMAT, "files": _file_digests(folder)}
    path.write_text(json.dumps({**document, "signature": signature(document)}, indent=1))


def damage(version: Location) -> str | None:
    """None when every file of the store version ``version`` matches its signed checksum, else what is wrong."""
    try:
        document = json.loads(manifest(version).read_bytes())
        unsigned = {"format": document["format"], "files": document["files"]}
    except FileNotFoundError:
        return f"has no {manifest(version).name} (left half-written, written by an older pidengine, or damaged)"
    except (ValueError, KeyError, TypeError):
        return f"has an unreadable {manifest(version).name}"
    if unsigned["format"] != MANIFEST_FORMAT or not verify(unsigned, document.get("signature")):
        return f"has a {manifest(version).name} that fails its signature (edited, or written with another results key)"
    recorded, found = unsigned["files"], _file_digests(version)
    changed = sorted(name for name in recorded.keys() | found.keys() if recorded.get(name) != found.get(name))
    if changed:
        more = f" and {len(changed) - 1} more" if len(changed) > 1 else ""
        return f"does not match its checksums ({changed[0]}{more} changed, added or missing)"
    return None


def _rename_into_place(temporary: Location, version: Location) -> None:
    """Move a finished local version into place; a concurrent writer of the same key may have won the race."""
    try:
        os.rename(temporary.path, version.path)
    except OSError:
        if not version.exists():
            raise
        # Same key means same content: the other writer's version is as good as ours.
        temporary.remove()


def publish_file(folder: str | Path | Location, stem: str, key: str, text: str, suffix: str = ".json") -> Location:
    """Write ``text`` as version ``key`` of a small file (``<stem>-<key><suffix>``) and as the current
    ``<stem><suffix>``.

    A reader of ``<stem><suffix>`` sees the old or the new file, never a partial one, and an unchanged file writes
    nothing (one whose content differs from ``text``, e.g. edited, is replaced). Returns the version's location.
    """
    folder = Location(folder)
    version, current = folder / f"{stem}-{key}{suffix}", folder / f"{stem}{suffix}"
    for target in (version, current):
        if not target.exists() or target.read_text() != text:
            target.write_text(text)
    return version
