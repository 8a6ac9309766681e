import signal
import subprocess
import sys
import textwrap
import time

import dask.array as da
import numpy as np
import pytest
import xarray as xr

from pidengine.exceptions import ConfigError
from pidengine.io.location import Location
from pidengine.io.store import DatasetStore, StoreError, content_hash, manifest, publish_file


def small(value: float) -> xr.Dataset:
    return xr.Dataset({"v": ("sample", np.full(10, value))})


def names(folder: Location) -> list[str]:
    return [child.name for child in folder.children()]


def test_publish_is_idempotent_and_versioned(storage):
    store = DatasetStore(storage, "d")
    assert store.publish("raw", "k1", small(1.0)) is True
    version = store.current("raw")
    written = (version / "zarr.json").modified()
    assert store.publish("raw", "k1", small(1.0)) is False
    assert store.current("raw") == version and (version / "zarr.json").modified() == written
    assert store.publish("raw", "k2", small(2.0)) is True
    assert store.current_key("raw") == "k2" and float(store.open("raw").v[0]) == 2.0
    assert store.publish("raw", "k3", small(3.0)) is True
    # The previous version stays for readers holding it; older ones are removed, with their checksums.
    assert names(store.folder) == ["raw-k2.zarr", "raw-k2.zarr.checksums.json", "raw-k3.zarr",
                                   "raw-k3.zarr.checksums.json", "raw.current"]
    assert store.pointer("raw").read_text() == "raw-k3.zarr"


def test_missing_store_is_a_clear_error(storage):
    DatasetStore(storage, "d").publish("raw", "k1", small(1.0))
    with pytest.raises(StoreError, match="has no codes store"):
        DatasetStore(storage, "d").open("codes")


def test_failure_mid_write_leaves_the_old_version(storage):
    """An error while writing chunks (here: the 3rd chunk) keeps the current version. On a local disk no temporary is
    left; on an object store the unfinished version has no checksums, is never pointed at, and the next publish of
    its key rewrites it.

    The other chunks are slow, so they are still being written when the error reaches the writer.
    """
    store = DatasetStore(storage, "d")
    store.publish("raw", "old", small(1.0))

    def explode(block, block_info=None):
        if block_info[0]["chunk-location"][0] == 2:
            raise OSError("disk full")
        time.sleep(0.2)
        return block

    failing = xr.Dataset({"v": ("sample", da.ones(50, chunks=5).map_blocks(explode, dtype=float))})
    with pytest.raises(OSError, match="disk full"):
        store.publish("raw", "new", failing)
    time.sleep(0.5)  # chunks still in flight when the error surfaced would land by now
    assert store.current_key("raw") == "old"
    np.testing.assert_array_equal(store.open("raw").v.values, np.full(10, 1.0))
    left = [name for name in names(store.folder) if name != "raw-new.zarr" or store.folder.is_local]
    assert left == ["raw-old.zarr", "raw-old.zarr.checksums.json", "raw.current"]
    assert store.publish("raw", "new", small(2.0)) is True and float(store.open("raw").v[0]) == 2.0


WRITER = textwrap.dedent(
    """
    import sys, dask.array as da, numpy as np, xarray as xr
    from pidengine.io.store import DatasetStore
    def slow(block):
        import time; time.sleep(0.02); return block
    data = xr.Dataset({"v": ("sample", da.full(4000, 2.0, chunks=10).map_blocks(slow, dtype=float))})
    DatasetStore(sys.argv[1], "d").publish("raw", sys.argv[2], data)
    """
)


@pytest.mark.parametrize("storage", ["local", "s3"], indirect=True)  # memory:// lives in one process
def test_killed_writer_never_exposes_a_partial_store(storage):
    store = DatasetStore(storage, "d")
    store.publish("raw", "old", small(1.0))
    writer = subprocess.Popen([sys.executable, "-c", WRITER, storage, "new"])
    deadline = time.time() + 60
    while not any("raw-new.zarr" in name for name in names(store.folder)) and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)  # well inside the ~8 s write
    writer.send_signal(signal.SIGKILL)
    writer.wait()
    assert store.current_key("raw") == "old"
    np.testing.assert_array_equal(store.open("raw").v.values, np.full(10, 1.0))
    # A later publish of the same key completes normally next to the dead writer's leftovers.
    assert store.publish("raw", "new", small(2.0)) is True
    np.testing.assert_array_equal(store.open("raw").v.values, np.full(10, 2.0))


def test_concurrent_writers_of_one_key_leave_one_complete_version(tmp_path):
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER.replace("4000", "400"), str(tmp_path), "same"])
        for _ in range(3)
    ]
    assert [w.wait(timeout=120) for w in writers] == [0, 0, 0]
    store = DatasetStore(tmp_path, "d")
    assert store.current_key("raw") == "same"
    np.testing.assert_array_equal(store.open("raw").v.values, np.full(400, 2.0))
    assert names(store.folder) == ["raw-same.zarr", "raw-same.zarr.checksums.json", "raw.current"]


def test_content_hash_sees_values_dtype_and_shape():
    a = np.arange(6)
    assert content_hash(a) == content_hash(a.copy())
    assert len(
        {content_hash(a), content_hash(a.astype(float)), content_hash(a.reshape(2, 3)), content_hash(a + 1)}
    ) == 4
    assert content_hash(np.array(["x"], dtype=object)) == content_hash(np.array(["x"], dtype=object))


def test_a_rewritten_store_is_refused_by_name_and_repaired_by_publishing_again(storage):
    import zarr

    store = DatasetStore(storage, "d")
    store.publish("codes", "k1", small(1.0))
    version = store.current("codes")
    assert manifest(version).exists() and not (version / "checksums.json").exists()
    zarr.open_group(version.zarr_store(), mode="r+")["v"][:] = 0.0  # a format-valid rewrite, as a tamperer would
    with pytest.raises(StoreError, match=r"'d': the codes store .* does not match its checksums \(v/c/0 changed.*"
                                         r"`pidengine featurize --only d`"):
        store.open("codes")
    assert not store.is_current("codes", "k1")
    assert store.publish("codes", "k1", small(1.0)) is True  # the same key again: rewritten, not trusted
    assert float(store.open("codes").v[0]) == 1.0 and store.is_current("codes", "k1")


@pytest.mark.parametrize("damage", ["no manifest", "forged manifest", "extra file"])
def test_a_store_whose_checksums_cannot_be_trusted_is_refused(storage, damage):
    import hashlib
    import json

    store = DatasetStore(storage, "d")
    store.publish("raw", "k1", small(1.0))
    version = store.current("raw")
    checksums = manifest(version)
    if damage == "no manifest":
        checksums.remove()
        expected = "has no raw-k1.zarr.checksums.json"
    elif damage == "forged manifest":
        chunk = version / "v" / "c" / "0"
        chunk.fs.pipe_file(chunk.path, chunk.read_bytes()[::-1])
        document = json.loads(checksums.read_text())
        document["files"]["v/c/0"] = hashlib.sha256(chunk.read_bytes()).hexdigest()  # recomputed, unkeyed
        checksums.write_text(json.dumps(document))
        expected = "fails its signature"
    else:
        (version / "v" / "c" / "1").write_text("\0")
        expected = r"v/c/1 changed, added or missing"
    with pytest.raises(StoreError, match=f"{expected}.*`pidengine ingest --only d`"):
        store.open("raw")
    assert store.publish("raw", "k1", small(1.0)) is True and float(store.open("raw").v[0]) == 1.0


def test_an_unknown_dataset_is_named_with_the_closest_one(storage):
    DatasetStore(storage, "digits-halves").publish("raw", "k1", small(1.0))
    with pytest.raises(StoreError, match=r"no dataset 'digits-halfs' under .*did you mean 'digits-halves'"):
        DatasetStore(storage, "digits-halfs").open("raw")


def test_a_published_file_is_current_and_versioned(storage):
    folder = Location(storage) / "reference"
    publish_file(folder, "reference", "k1", '{"a": 1}')
    version = publish_file(folder, "reference", "k2", '{"a": 2}')
    assert version.name == "reference-k2.json" and (folder / "reference.json").read_text() == '{"a": 2}'
    assert names(folder) == ["reference-k1.json", "reference-k2.json", "reference.json"]


@pytest.mark.parametrize(("url", "message"), [
    ("nosuch://bucket/pid", r"nosuch://bucket/pid: no filesystem for 'nosuch://'; use a local folder or a URL"),
    ("gs://bucket/pid", r"gs://bucket/pid: .*gcsfs.*`pip install` the package"),
])
def test_an_unknown_scheme_or_missing_backend_is_one_line(url, message):
    with pytest.raises(ConfigError, match=message) as error:
        DatasetStore(url, "d")
    assert "\n" not in str(error.value)
