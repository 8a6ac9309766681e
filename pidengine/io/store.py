"""Versioned, atomically published Zarr stores, one folder per dataset.

Layout under the data directory::

    <data_dir>/<dataset>/raw.zarr      -> raw-<key>.zarr        ingested modalities, label and split
    <data_dir>/<dataset>/encoded.zarr  -> encoded-<key>.zarr    encoder outputs (only for encoded modalities)
    <data_dir>/<dataset>/codes.zarr    -> codes-<key>.zarr      discrete codes and the fitted featuriser

Each stage's name is a symbolic link to an immutable version folder whose ``key`` is a content hash. Publishing
writes the new version under a private temporary name, renames it into place, then swaps the link with one atomic
``rename``: a reader opens either the old complete version or the new one, never a half-written store, also when the
writer is killed mid-write (its temporary folder is left behind and removed by a later publish). Publishing a key
that is already current writes nothing. The previous version is kept for readers still holding it; older ones go.

Each version records the SHA-256 of every file it holds in ``<version>.checksums.json`` beside it, signed with the
results key (:mod:`pidengine.io.results`). Opening a store checks them: a damaged or rewritten file is an error that
names the store and the command that rewrites it, and publishing the same key again replaces a damaged version
instead of trusting its link.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import shutil
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import dask
import numpy as np
import xarray as xr

from pidengine.exceptions import PIDEngineError
from pidengine.io.results import signature, verify, write_atomically

STAGES = ("raw", "encoded", "codes")
MANIFEST_SUFFIX = ".checksums.json"  # beside the version folder: Zarr warns about foreign files inside a group
MANIFEST_FORMAT = "pidengine-store-checksums/1"
_REPAIR = {"raw": "ingest", "encoded": "featurize", "codes": "featurize"}
_STALE_TEMP_SECONDS = 3600.0


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
    data_dir : path
        Root folder holding one sub-folder per dataset.
    name : str
        Dataset name (a catalog entry's name).
    """

    def __init__(self, data_dir: str | Path, name: str) -> None:
        self.folder = Path(data_dir) / name
        self.name = name

    def link(self, stage: str) -> Path:
        if stage not in STAGES:
            raise ValueError(f"unknown stage {stage!r}; stages are {STAGES}")
        return self.folder / f"{stage}.zarr"

    def current_key(self, stage: str) -> str | None:
        """The content key of the published version of ``stage``, or None if nothing is published."""
        link = self.link(stage)
        if not link.is_symlink():
            return None
        target = os.readlink(link)
        prefix = f"{stage}-"
        return target[len(prefix) : -len(".zarr")] if target.startswith(prefix) else None

    def exists(self, stage: str) -> bool:
        return self.current_key(stage) is not None and self.link(stage).exists()

    def is_current(self, stage: str, key: str) -> bool:
        """Whether version ``key`` of ``stage`` is published and intact (a stage with this key can skip its work)."""
        return self.current_key(stage) == key and self.exists(stage) and damage(self.link(stage).resolve()) is None

    def describe(self, stage: str) -> dict[str, int] | None:
        """The published version's sizes (``sample``, ``feature1``, ...) and number of ``labels``, read from its
        metadata alone (for listings: no data read, no checksum checked); None when nothing is published."""
        if not self.exists(stage):
            return None
        metadata = xr.open_zarr(self.link(stage), consolidated=False)
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
            known = [path.name for path in root.iterdir() if path.is_dir()] if root.is_dir() else []
            close = difflib.get_close_matches(self.name, known, n=1)
            # A near miss is a typo of a stored dataset; anything else may just not be ingested yet.
            fix = (f"did you mean {close[0]!r}?" if close
                   else f"ingest it first (`pidengine ingest --only {self.name}`)")
            raise StoreError(f"no dataset {self.name!r} under {self.folder.parent}; {fix}")
        if not self.exists(stage):
            raise StoreError(f"dataset {self.name!r} has no {stage} store under {self.folder}; run the stage first")
        version = self.link(stage).resolve()
        problem = damage(version)
        if problem is not None:
            raise StoreError(f"dataset {self.name!r}: the {stage} store {version} {problem}; rewrite it with "
                             f"`pidengine {_REPAIR[stage]} --only {self.name}`")
        return xr.open_zarr(version, consolidated=False)

    def publish(self, stage: str, key: str, dataset: xr.Dataset) -> bool:
        """Write ``dataset`` as version ``key`` of ``stage`` and make it current, atomically.

        Returns
        -------
        bool
            False when ``key`` was already current (nothing written), True otherwise.
        """
        if self.is_current(stage, key):
            return False
        self.folder.mkdir(parents=True, exist_ok=True)
        self._remove_stale_temporaries()
        version = self.folder / f"{stage}-{key}.zarr"
        if version.exists() and damage(version) is not None:
            shutil.rmtree(version, ignore_errors=True)  # damaged: rewritten, never trusted
        if not version.exists():
            temporary = self.folder / f".{version.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
            try:
                _write_zarr(dataset, temporary)
                _write_manifest(temporary, manifest(version))  # first: a version never stands without them
                _rename_into_place(temporary, version)
            except BaseException:
                shutil.rmtree(temporary, ignore_errors=True)
                raise
        previous = os.readlink(self.link(stage)) if self.link(stage).is_symlink() else None
        _swap_link(self.link(stage), version.name)
        self._prune(stage, keep={version.name, previous})
        return True

    def _prune(self, stage: str, keep: set[str | None]) -> None:
        for old in self.folder.glob(f"{stage}-*.zarr"):
            if old.name not in keep:
                shutil.rmtree(old, ignore_errors=True)
                manifest(old).unlink(missing_ok=True)

    def _remove_stale_temporaries(self) -> None:
        """Remove temporary folders of writers that died (older than an hour: no live write takes that long here)."""
        now = time.time()
        for temporary in self.folder.glob(".*.tmp-*"):
            if now - temporary.stat().st_mtime > _STALE_TEMP_SECONDS:
                if temporary.is_dir():
                    shutil.rmtree(temporary, ignore_errors=True)
                else:
                    temporary.unlink(missing_ok=True)


def _write_zarr(dataset: xr.Dataset, path: Path) -> None:
    """Write ``dataset`` to a new Zarr v3 folder on a private thread pool.

    When one chunk fails, dask raises at once while other chunks are still being written; leaving the ``with``
    waits for them, so the caller's clean-up of ``path`` is not undone by a late chunk re-creating it. A caller that
    asked for dask's synchronous scheduler (a one-thread Dask worker) keeps it: nothing runs concurrently there.
    The pool has as many threads as the caller configured (``num_workers``), else one per core.
    """
    if dask.config.get("scheduler", None) in ("synchronous", "sync", "single-threaded"):
        dataset.to_zarr(path, mode="w-", zarr_format=3, consolidated=False)
        return
    threads = dask.config.get("num_workers", None) or dask.system.CPU_COUNT
    with ThreadPoolExecutor(max_workers=threads) as pool, dask.config.set(scheduler="threads", pool=pool):
        dataset.to_zarr(path, mode="w-", zarr_format=3, consolidated=False)


def _file_digests(version: Path) -> dict[str, str]:
    return {path.relative_to(version).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(version.rglob("*")) if path.is_file()}


def manifest(version: Path) -> Path:
    """The signed checksums of store version ``version`` (a file beside its folder)."""
    return version.with_name(version.name + MANIFEST_SUFFIX)


def _write_manifest(folder: Path, path: Path) -> None:
    """The signed checksums of ``folder``'s files, written to ``path``."""
    document = {"format": MANIFEST_FORMAT, "files": _file_digests(folder)}
    write_atomically(path, json.dumps({**document, "signature": signature(document)}, indent=1))


def damage(version: Path) -> str | None:
    """None when every file of the store version ``version`` matches its signed checksum, else what is wrong."""
    try:
        document = json.loads(manifest(version).read_bytes())
        unsigned = {"format": document["format"], "files": document["files"]}
    except FileNotFoundError:
        return f"has no {manifest(version).name} (written by an older pidengine, or damaged)"
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


def _rename_into_place(temporary: Path, version: Path) -> None:
    """Move a finished version into place; a concurrent writer of the same key may have won the race."""
    try:
        os.rename(temporary, version)
    except OSError:
        if not version.exists():
            raise
        # Same key means same content: the other writer's version is as good as ours.
        shutil.rmtree(temporary, ignore_errors=True)


def publish_file(folder: str | Path, stem: str, key: str, text: str, suffix: str = ".json") -> Path:
    """Write ``text`` as version ``key`` of a small file (``<stem>-<key><suffix>``) and point ``<stem><suffix>`` at it.

    The same guarantees as a store: a reader of ``<stem><suffix>`` sees the old or the new file, never a partial one,
    and an unchanged file writes nothing (one whose content differs from ``text``, e.g. edited, is replaced).
    Returns the version's path.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    version = folder / f"{stem}-{key}{suffix}"
    if not version.exists() or version.read_text() != text:
        write_atomically(version, text)
    _swap_link(folder / f"{stem}{suffix}", version.name)
    return version


def _swap_link(link: Path, target: str) -> None:
    """Point ``link`` at ``target`` with one atomic rename over the old link."""
    temporary = link.with_name(f".{link.name}.link-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    os.symlink(target, temporary)
    os.replace(temporary, link)
