"""The data stages of a catalog entry, each from one Zarr store to the next.

``ingest``
    Load (or generate) the source, assign stratified splits, publish ``raw.zarr``: ``x1`` (sample × feature1),
    ``x2`` (sample × feature2), ``y`` (sample), the ``split`` coordinate, and attributes for the source, the catalog
    entry, the content hash and the true PID when the source knows it.
``encode``
    Map the modalities that have an encoder to embeddings, chunk by chunk with Dask, publish ``encoded.zarr``.
``featurize``
    Fit a :class:`~pidengine.features.discretize.ModalityFeaturizer` per modality on the training split (the encoded
    modality where there is one), apply it to every chunk with Dask, publish ``codes.zarr``: integer codes ``x1``,
    ``x2``, the label, the split and the fitted parameters.

Every stage is keyed by the content hash of its input and its settings: rerunning an unchanged stage writes nothing,
a changed one replaces the store atomically (:class:`~pidengine.io.store.DatasetStore`).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import dask.array as da
import numpy as np
import xarray as xr

from pidengine import __version__
from pidengine.catalog import CatalogEntry
from pidengine.datasets.types import MultimodalData, is_text, stratified_split
from pidengine.exceptions import ConfigError
from pidengine.features.discretize import discretize_out_of_core
from pidengine.io.store import DatasetStore, StoreError, content_hash
from pidengine.joint import JointTable, joint_from_samples
from pidengine.models.sweep import ModelInputs
from pidengine.models.training import Split

MODALITIES = ("x1", "x2")
_CHUNK_BYTES = 32 * 2**20
_KEY_LENGTH = 16
_TEXT_CHUNK = 256  # texts per encoder call: small enough to spread over workers and show progress


@dataclass(frozen=True)
class StageReport:
    """What one stage did for one dataset."""

    dataset: str
    stage: str
    key: str
    written: bool
    seconds: float
    detail: str = ""

    def __str__(self) -> str:
        action = "written" if self.written else "unchanged"
        extra = f" ({self.detail})" if self.detail else ""
        return f"{self.dataset}: {self.stage} {action} in {self.seconds:.1f} s{extra}"


def ingest(entry: CatalogEntry, data_dir: str | Path, base: str | Path = ".") -> StageReport:
    """Publish the entry's raw store (see the module docstring); nothing is written when the content is unchanged."""
    start = time.perf_counter()
    data = entry.load(Path(base))
    split = stratified_split(data.y, entry.splits.fractions(), entry.splits.seed)
    described = json.dumps(
        {"source": entry.source.model_dump(mode="json"), "modalities": entry.modalities, "label": entry.label}
    )
    modality_hashes = {"x1": content_hash(data.x1), "x2": content_hash(data.x2)}
    full_hash = content_hash(*modality_hashes.values(), data.y, split, described, "\n".join(data.label_names))
    key = full_hash[:_KEY_LENGTH]
    dataset = raw_dataset(data, split, entry, full_hash, modality_hashes)
    written = DatasetStore(data_dir, entry.name).publish("raw", key, dataset)
    widths = " + ".join("text" if is_text(x) else str(x.shape[1]) for x in (data.x1, data.x2))
    detail = f"{data.n_samples} samples, {widths} features, {len(data.label_names)} classes"
    return StageReport(entry.name, "raw", key, written, time.perf_counter() - start, detail)


def raw_dataset(
    data: MultimodalData, split: np.ndarray, entry: CatalogEntry, full_hash: str, modality_hashes: dict[str, str]
) -> xr.Dataset:
    """The xarray form of an ingested dataset, chunked along samples; a text modality is one string per sample."""
    rows = _chunk_rows(max(1 if is_text(x) else x.shape[1] for x in (data.x1, data.x2)))
    modalities = {}
    for name, values in (("x1", data.x1), ("x2", data.x2)):
        if is_text(values):  # variable-length strings are written from memory (Zarr infers their type there)
            modalities[name] = (("sample",), values)
        else:
            modalities[name] = (("sample", f"feature{name[1]}"), da.from_array(values, chunks=(rows, -1)))
    attrs = {
        "dataset": entry.name,
        "description": entry.description,
        "modalities": list(entry.modalities),
        "label": entry.label,
        "label_names": list(data.label_names),
        "source": entry.source.model_dump_json(),
        "catalog_entry": entry.to_json(),
        "content_hash": full_hash,
        # Per-modality hashes key the encoders' outputs: a new split or label does not recompute embeddings.
        "x1_hash": modality_hashes["x1"],
        "x2_hash": modality_hashes["x2"],
        "pidengine_version": __version__,
    }
    if data.true_pid is not None:
        attrs["true_pid_bits"] = data.true_pid
    return xr.Dataset(
        {**modalities, "y": ("sample", da.from_array(data.y, chunks=rows))},
        coords={"split": ("sample", split)},
        attrs=attrs,
    )


def encode(entry: CatalogEntry, data_dir: str | Path) -> StageReport:
    """Publish embeddings of the modalities the entry encodes (nothing to do when it encodes none).

    The store is keyed by the content of the encoded modalities and the encoder settings only, so a change of
    splits, labels or of the other modality reuses the embeddings already computed.
    """
    start = time.perf_counter()
    store = DatasetStore(data_dir, entry.name)
    raw = store.open("raw")
    if not entry.encode:
        return StageReport(entry.name, "encoded", "", False, time.perf_counter() - start, "no encoders configured")
    settings, inputs = _encoding_of(entry, raw)
    key = content_hash(json.dumps({"encoders": settings, "inputs": inputs}, sort_keys=True))[:_KEY_LENGTH]
    if store.is_current("encoded", key):
        return StageReport(entry.name, "encoded", key, False, time.perf_counter() - start, "embeddings cached")
    variables = {}
    for modality, spec in sorted(entry.encode.items()):
        encoder = spec.build()
        rows = raw[modality].data
        if rows.ndim == 1:  # text: one string per sample in, one embedding per sample out
            rows = rows.rechunk(_TEXT_CHUNK)
            embedded = rows.map_blocks(
                encoder, new_axis=1, chunks=(rows.chunks[0], (encoder.n_features,)), dtype=np.float64
            )
        else:
            rows = rows.rechunk({1: -1})
            embedded = rows.map_blocks(
                encoder, chunks=(rows.chunks[0], (encoder.n_features,)), dtype=np.float64, meta=np.empty((0, 0))
            )
        variables[modality] = (("sample", f"embedding{modality[1]}"), embedded)
    attrs = {"dataset": entry.name, "encoders": json.dumps(settings), "inputs": json.dumps(inputs)}
    written = store.publish("encoded", key, xr.Dataset(variables, attrs=attrs))
    return StageReport(entry.name, "encoded", key, written, time.perf_counter() - start, f"encoded {sorted(settings)}")


def _encoding_of(entry: CatalogEntry, raw: xr.Dataset) -> tuple[dict[str, dict], dict[str, str]]:
    """The entry's encoder settings and the content hashes of the raw modalities they encode."""
    settings = {m: spec.model_dump(mode="json") for m, spec in sorted(entry.encode.items())}
    return settings, {m: raw.attrs[f"{m}_hash"] for m in settings}


def featurize(entry: CatalogEntry, data_dir: str | Path) -> StageReport:
    """Publish the discrete codes of both modalities and the fitted featurisers' parameters."""
    start = time.perf_counter()
    store = DatasetStore(data_dir, entry.name)
    raw = store.open("raw")
    encoded = store.open("encoded") if entry.encode else None
    if encoded is not None:
        settings_now, inputs_now = _encoding_of(entry, raw)
        if json.loads(encoded.attrs["encoders"]) != settings_now or json.loads(encoded.attrs["inputs"]) != inputs_now:
            raise StoreError(
                f"dataset {entry.name!r}: encoded.zarr was made from other raw data or encoder settings; "
                "run the encode stage first (`pidengine featurize` does both)"
            )
    settings = entry.featurize
    key = content_hash(
        store.current_key("raw") or "", store.current_key("encoded") or "" if encoded is not None else "",
        settings.model_dump_json(),
    )[:_KEY_LENGTH]
    if store.is_current("codes", key):
        return StageReport(entry.name, "codes", key, False, time.perf_counter() - start)

    train = np.flatnonzero(raw["split"].values == "train")
    variables: dict[str, tuple] = {"y": ("sample", raw["y"].data)}
    attrs = {**raw.attrs, "featurize": settings.model_dump_json()}
    details = []
    for modality in MODALITIES:
        source = encoded[modality] if encoded is not None and modality in encoded else raw[modality]
        if source.ndim == 1:
            raise ConfigError(
                f"dataset {entry.name!r}: {modality} is text; give it an encoder (encode: {{{modality}: "
                "{kind: sentence_embedding}}) before it can be discretised"
            )
        featurizer = settings.featurizer()
        codes = discretize_out_of_core(
            source.data, train, featurizer, fit_max_samples=settings.fit_max_samples, seed=settings.seed
        )
        variables[modality] = ("sample", codes)
        for name, values in featurizer.parameters().items():
            dims = tuple(f"{modality}_{name}_dim{i}" for i in range(np.ndim(values)))
            variables[f"{modality}_{name}"] = (dims, np.asarray(values))
        attrs[f"{modality}_method"] = featurizer.method_
        attrs[f"{modality}_n_codes"] = featurizer.n_codes_
        details.append(f"{modality}: {featurizer.method_} → {featurizer.n_codes_} codes")
    dataset = xr.Dataset(variables, coords={"split": raw["split"]}, attrs=attrs)
    written = store.publish("codes", key, dataset)
    return StageReport(entry.name, "codes", key, written, time.perf_counter() - start, ", ".join(details))


def joint_of_codes(codes: xr.Dataset, split: str | None = None) -> JointTable:
    """The empirical joint of (code of x1, code of x2, label), over one split or all samples."""
    selected = codes if split is None else codes.isel(sample=np.flatnonzero(codes["split"].values == split))
    return joint_from_samples(selected["x1"].values, selected["x2"].values, selected["y"].values)


def _chunk_rows(n_features: int) -> int:
    """Rows per chunk so that one chunk of float64 features is about 32 MiB."""
    return max(1024, _CHUNK_BYTES // (8 * max(n_features, 1)))


def model_inputs(entry: CatalogEntry, data_dir: str | Path) -> ModelInputs:
    """Features (encoded where the entry encodes), labels and test codes of a featurised dataset, by split."""
    store = DatasetStore(data_dir, entry.name)
    raw, codes = store.open("raw"), store.open("codes")
    encoded = store.open("encoded") if entry.encode else None
    features = {
        m: (encoded[m] if encoded is not None and m in encoded else raw[m]).values for m in MODALITIES
    }
    if any(values.ndim != 2 for values in features.values()):
        raise ConfigError(f"dataset {entry.name!r}: models need numeric features; encode its text modalities")
    split, y = raw["split"].values, raw["y"].values
    splits = {
        name: Split.of(features["x1"][split == name], features["x2"][split == name], y[split == name], name)
        for name in ("train", "val", "test")
    }
    test = split == "test"
    return ModelInputs(
        entry.name, splits, (codes["x1"].values[test], codes["x2"].values[test]), len(raw.attrs["label_names"])
    )
