"""Orchestration overhead: the same work through the library alone and through the Prefect/Dask/MLflow pipeline.

The work, per catalog dataset: ingest, encode + featurise, the exact PID (with bootstrap intervals and the
shuffled-label baseline), the BATCH PID and the model sweep (every family of the zoo trained and measured), with
the pipeline's default settings. Every leg starts from an empty data folder (and an empty MLflow store and result
cache for the flows) and runs as its own process, so interpreter and import time count on both sides.

    library      one process, one thread per BLAS/OpenMP/torch pool (what a Dask worker gets), no tracking
    flow, 1 wkr  `pidengine run --workers 1`: the same sequential compute on one Dask worker, plus the Prefect API
                 server, the Dask cluster, task orchestration and MLflow logging: the overhead
    flow, 2 wkr  `pidengine run` as `make run` runs it (two workers on two cores)
    rerun        `pidengine run` again: unchanged stores and cached estimates

    python benchmarks/pipeline_overhead.py [--datasets NAME ...] [--bootstrap N]

Overhead = (flow, 1 worker) / library - 1. Timings on a shared machine vary with its load; the table says how loaded
it was (1-minute load average before and after each leg).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


def library_leg(catalog: Path, data_dir: Path, datasets: list[str], bootstrap: int) -> None:
    """The work without any orchestration (run in a child process), on one core like a one-thread Dask worker: one
    thread per BLAS/OpenMP/torch pool (environment) and dask's synchronous scheduler for the stages' chunks."""
    import warnings

    import dask

    dask.config.set(scheduler="synchronous")

    from pidengine import stages
    from pidengine.catalog import load_catalog
    from pidengine.models.settings import TrainSettings
    from pidengine.models.sweep import evaluate_family
    from pidengine.models.zoo import FAMILIES
    from pidengine.quantify import EstimatorSettings, ExactSettings, quantify

    settings = EstimatorSettings(exact=ExactSettings(n_bootstrap=bootstrap))
    loaded = load_catalog(catalog)
    for entry in loaded.select(datasets):
        try:
            stages.ingest(entry, data_dir, loaded.base)
            if entry.encode:
                stages.encode(entry, data_dir)
            stages.featurize(entry, data_dir)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                for estimator in ("exact", "batch"):
                    quantify(data_dir, entry.name, estimator, settings, use_encoded=bool(entry.encode))
                inputs = stages.model_inputs(entry, data_dir)
                for family in FAMILIES:
                    evaluate_family(inputs, family, TrainSettings())
        except Exception as exc:  # the flow records failures and carries on; so does this leg
            print(f"{entry.name}: {type(exc).__name__}: {exc}", file=sys.stderr)


def timed(command: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float, float, float]:
    """Wall seconds, CPU seconds (user + system of the command and every process it waited for: the Prefect server,
    the Dask nanny and workers) and the 1-minute load average before and after."""
    load_before = os.getloadavg()[0]
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - usage.ru_utime) + (after.ru_stime - usage.ru_stime)
    if done.returncode not in (0, 2):
        print(done.stderr[-3000:], file=sys.stderr)
    return seconds, cpu, load_before, os.getloadavg()[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--catalog", type=Path, default=ROOT / "data_catalog.yaml")
    parser.add_argument("--datasets", nargs="+", default=[])
    parser.add_argument("--bootstrap", type=int, default=100)
    parser.add_argument("--json", type=Path, help="also write the table as JSON here")
    parser.add_argument("--legs", nargs="+", default=["library", "flow1", "flow2", "rerun"],
                        choices=["library", "flow1", "flow2", "rerun"], help="which legs to run (default: all)")
    parser.add_argument("--library-leg", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.library_leg:
        library_leg(args.catalog.resolve(), args.library_leg, args.datasets, args.bootstrap)
        return

    work = Path(tempfile.mkdtemp(prefix="pidengine-overhead-"))
    env = {**os.environ, **ONE_THREAD}
    python = sys.executable
    pidengine = [python, "-m", "cli"]
    datasets = ["--datasets", *args.datasets] if args.datasets else []
    rows = []
    try:
        seconds, cpu, before, after = timed(
            [python, __file__, "--catalog", str(args.catalog), "--bootstrap", str(args.bootstrap),
             "--library-leg", str(work / "library"), *(["--datasets", *args.datasets] if args.datasets else [])],
            env, work,
        )
        rows.append(("library (1 process)", seconds, cpu, before, after))
        legs = (("flow1", "flow, 1 worker", 1, True), ("flow2", "flow, 2 workers", 2, True),
                ("rerun", "flow rerun, 2 workers", 2, False))
        for leg, label, workers, clean in legs:
            if leg not in args.legs:
                continue
            folder = work / f"flow-{workers}"
            if clean and folder.exists():
                shutil.rmtree(folder)
            folder.mkdir(exist_ok=True)
            command = [*pidengine, "run", "--catalog", str(args.catalog.resolve()), "--data-dir", "data",
                       "--workers", str(workers), "--bootstrap", str(args.bootstrap), *datasets]
            seconds, cpu, before, after = timed(command, dict(os.environ), folder)
            rows.append((label, seconds, cpu, before, after))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    library, library_cpu = rows[0][1], rows[0][2]
    print(f"{'leg':<24}{'wall s':>9}{'x library':>11}{'overhead':>10}{'CPU s':>9}{'x library':>11}"
          f"{'load before/after':>20}")
    for label, seconds, cpu, before, after in rows:
        overhead = f"{100 * (seconds / library - 1):>+9.1f}%" if label.startswith("flow, 1") else f"{'':>10}"
        print(f"{label:<24}{seconds:>9.1f}{seconds / library:>11.2f}{overhead}{cpu:>9.1f}{cpu / library_cpu:>11.2f}"
              f"{before:>11.1f} / {after:<6.1f}")
    print("overhead = (flow, 1 worker) / library - 1 in wall time: the Prefect API server, the Dask cluster, task "
          "orchestration and MLflow logging around the same sequential compute; CPU s counts every process of a leg, "
          "so its ratio also shows the orchestration work done on the second core")
    if args.json:
        keys = ("leg", "seconds", "cpu_seconds", "load_before", "load_after")
        args.json.write_text(json.dumps([dict(zip(keys, r)) for r in rows]))


if __name__ == "__main__":
    main()
