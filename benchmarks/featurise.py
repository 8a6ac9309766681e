"""Out-of-core featurisation (Dask over Zarr chunks) against single-process NumPy/scikit-learn in memory.

A synthetic modality of N rows × 256 features (a mixture of 20 Gaussian clusters, float64) is written to a Zarr
store chunk by chunk. Two child processes then turn it into 20 k-means codes with the same featuriser
(standardise, PCA to 8, k-means, fitted on the same 100,000-row subsample of the training rows):

- ``dask``: :func:`pidengine.features.discretize.discretize_out_of_core` over the store's chunks, codes written
  back to Zarr (what ``pidengine featurize`` does);
- ``numpy``: the whole array read into memory, fitted and transformed in one process with scikit-learn.

Each row of the table gives the median seconds over repeats, rows per second, the child's peak resident memory
above that of a child that only imports the libraries (MiB; ``ru_maxrss``), and the ratios dask / numpy. The codes
of the two must be identical. Run from the repository root:

    .venv/bin/python benchmarks/featurise.py                      # 250,000 and 1,000,000 rows
    .venv/bin/python benchmarks/featurise.py --rows 100000 --repeats 1
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import dask.array as da
import numpy as np
import xarray as xr

N_FEATURES = 256
N_CLUSTERS = 20
CHUNK_ROWS = 16_384  # 32 MiB of float64 per chunk
FIT_MAX_SAMPLES = 100_000


def write_modality(path: Path, n_rows: int) -> None:
    """N rows of a 20-cluster Gaussian mixture in 256 dimensions, generated and written one chunk at a time."""
    centres = np.random.default_rng(0).normal(scale=3.0, size=(N_CLUSTERS, N_FEATURES))

    def block(block_info=None):
        (start, stop), _ = block_info[None]["array-location"]
        rng = np.random.default_rng(start)
        labels = rng.integers(0, N_CLUSTERS, stop - start)
        return centres[labels] + rng.standard_normal((stop - start, N_FEATURES))

    rows = da.map_blocks(block, chunks=(da.core.normalize_chunks(CHUNK_ROWS, (n_rows,))[0], (N_FEATURES,)), dtype=float)
    xr.Dataset({"x": (("sample", "feature"), rows)}).to_zarr(path, mode="w", zarr_format=3, consolidated=False)


def featurizer():
    from pidengine.features.discretize import ModalityFeaturizer

    return ModalityFeaturizer("kmeans", n_clusters=N_CLUSTERS, n_components=8, random_state=0)


def train_rows(n_rows: int) -> np.ndarray:
    return np.arange(0, n_rows, 2)  # every other row is "training"


def child(mode: str, path: Path, out: Path) -> None:
    """Featurise in this process and print seconds and peak memory as JSON."""
    start = time.perf_counter()
    store = xr.open_zarr(path, consolidated=False)
    n_rows = store.sizes["sample"]
    if mode == "imports":
        from pidengine.features.discretize import discretize_out_of_core
    elif mode == "dask":
        from pidengine.features.discretize import discretize_out_of_core

        codes = discretize_out_of_core(
            store["x"].data, train_rows(n_rows), featurizer(), fit_max_samples=FIT_MAX_SAMPLES, seed=0
        )
        xr.Dataset({"codes": ("sample", codes)}).to_zarr(out, mode="w", zarr_format=3, consolidated=False)
    else:
        x = store["x"].values  # the whole modality in memory
        train = train_rows(n_rows)
        fit = (
            np.sort(np.random.default_rng(0).choice(train, FIT_MAX_SAMPLES, replace=False))
            if len(train) > FIT_MAX_SAMPLES
            else train
        )
        model = featurizer().fit(x[fit])
        codes = model.transform(x)
        xr.Dataset({"codes": ("sample", codes)}).to_zarr(out, mode="w", zarr_format=3, consolidated=False)
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def run_child(mode: str, path: Path, out: Path) -> dict:
    result = subprocess.run(
        [sys.executable, __file__, "--child", mode, str(path), str(out)], capture_output=True, text=True
    )
    if result.returncode != 0:
        raise RuntimeError(f"{mode} child failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[250_000, 1_000_000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", nargs=3, metavar=("MODE", "STORE", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], Path(args.child[1]), Path(args.child[2]))
        return

    print(
        f"Featurisation of N x {N_FEATURES} float64 -> {N_CLUSTERS} k-means codes "
        f"(PCA to 8, fit on {FIT_MAX_SAMPLES:,} rows);"
    )
    print(
        f"chunks of {CHUNK_ROWS:,} rows ({CHUNK_ROWS * N_FEATURES * 8 / 2**20:.0f} MiB); medians of {args.repeats}; "
        "dask = out of core over Zarr, numpy = in memory"
    )
    header = (
        f"{'rows':>10}{'GiB':>7}{'mode':>7}{'seconds':>10}{'rows/s':>12}{'+peak MiB':>10}"
        f"{'time ratio':>12}{'memory ratio':>14}{'codes equal':>13}"
    )
    print(header)
    for n_rows in args.rows:
        with tempfile.TemporaryDirectory(dir=".") as tmp:
            store = Path(tmp) / "modality.zarr"
            write_modality(store, n_rows)
            imports = run_child("imports", store, Path(tmp) / "none.zarr")["peak_mib"]
            runs = {
                mode: [run_child(mode, store, Path(tmp) / f"{mode}.zarr") for _ in range(args.repeats)]
                for mode in ("numpy", "dask")
            }
            codes = {
                mode: xr.open_zarr(Path(tmp) / f"{mode}.zarr", consolidated=False)["codes"].values for mode in runs
            }
        equal = bool(np.array_equal(codes["numpy"], codes["dask"]))
        medians = {
            mode: {
                "seconds": statistics.median(r["seconds"] for r in rs),
                "peak_mib": statistics.median(r["peak_mib"] for r in rs) - imports,
            }
            for mode, rs in runs.items()
        }
        for mode in ("numpy", "dask"):
            m = medians[mode]
            ratios = (
                f"{m['seconds'] / medians['numpy']['seconds']:>12.2f}"
                f"{m['peak_mib'] / medians['numpy']['peak_mib']:>14.2f}"
                if mode == "dask"
                else f"{'':>12}{'':>14}"
            )
            print(
                f"{n_rows:>10,}{n_rows * N_FEATURES * 8 / 2**30:>7.2f}{mode:>7}{m['seconds']:>10.1f}"
                f"{n_rows / m['seconds']:>12,.0f}{m['peak_mib']:>10.0f}{ratios}"
                f"{str(equal) if mode == 'dask' else '':>13}"
            )


if __name__ == "__main__":
    main()
