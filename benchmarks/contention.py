"""How the pipeline's work shares a busy machine: the exact estimator and one pipeline leg beside 0, 1, 2 and 4
CPU-bound processes (issue 17: a worker sharing its node must not slow down tenfold).

Each measurement runs in a fresh process. The
work: the exact PID of a 100 x 100 x 4 table (the case that took 9-11 s instead of 1 s on a loaded 2-core machine),
and the exact leg of the pipeline on a 2,000-sample dataset of 20 x 20 codes and 10 labels (100 bootstrap resamples,
50 label permutations). The competitors are busy loops, one process each.

Legs: ``process`` (a plain Python process with torch's defaults: as many OpenMP threads as cores), ``worker`` (a
one-thread Dask worker started by its nanny with Dask's defaults, which include ``OMP_NUM_THREADS=1``), ``tuned``
(the same, inside ``on_worker()`` as the pipeline's tasks run). ``fair`` is the time the work would take with its
fair share of the cores: the quiet ``tuned`` time times ``max(1, (competitors + 1) / cores)``. The target is
``time / fair`` at most 1.5 for the pipeline's legs.

    python benchmarks/contention.py [--competitors 0 1 2 4] [--repeats 3]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import time


def exact_table() -> None:
    import numpy as np

    from pidengine.estimators import ExactEstimator

    rng = np.random.default_rng(0)
    joint = rng.dirichlet(np.full(100 * 100 * 4, 0.5)).reshape(100, 100, 4)
    ExactEstimator().estimate(joint)


def pipeline_leg() -> None:
    import warnings

    import numpy as np

    from pidengine.bootstrap import bootstrap_pid
    from pidengine.exceptions import SparseTableWarning

    warnings.simplefilter("ignore", SparseTableWarning)  # the bias it warns of is what the bootstrap corrects
    rng = np.random.default_rng(0)
    x1, x2 = rng.integers(0, 20, 2000), rng.integers(0, 20, 2000)
    y = (x1 // 2 + x2 // 4 + rng.integers(0, 3, 2000)) % 10
    bootstrap_pid(x1, x2, y, n_resamples=100, n_permutations=50, random_state=0)


WORK = {"exact 100x100x4": exact_table, "exact leg (bootstrap)": pipeline_leg}
LEGS = ("process", "worker", "tuned")


def _timed(name: str, tuned: bool = False) -> float:
    """Seconds of one run of ``WORK[name]`` after a warm-up run (imports, first allocations)."""
    from contextlib import nullcontext

    from tasks._dask import on_worker

    with on_worker() if tuned else nullcontext():
        WORK[name]()
        start = time.perf_counter()
        WORK[name]()
        return time.perf_counter() - start


def _in_process(name: str, result: multiprocessing.Queue) -> None:
    result.put(_timed(name))


def measure(name: str, leg: str) -> float:
    """One measurement in a fresh process: ``process`` (a plain Python process, torch's defaults), ``worker`` (a
    one-thread Dask worker started by its nanny with Dask's defaults, the work called directly) or ``tuned`` (the
    same worker, the work inside ``on_worker()`` as the pipeline's tasks run it)."""
    if leg == "process":
        context = multiprocessing.get_context("spawn")
        result = context.Queue()
        process = context.Process(target=_in_process, args=(name, result))
        process.start()
        seconds = result.get()
        process.join()
        return seconds
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        return client.submit(_timed, name, leg == "tuned", pure=False).result()


def _spin() -> None:
    while True:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--competitors", type=int, nargs="+", default=[0, 1, 2, 4])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    context = multiprocessing.get_context("spawn")
    print(f"{cores} cores; medians of {args.repeats}; fair = quiet tuned time x max(1, (k + 1) / cores)\n")
    print("| work | competitors k | " + " | ".join(f"{leg} (s)" for leg in LEGS) + " | fair (s) | "
          + " | ".join(f"{leg} / fair" for leg in LEGS) + " |")
    print("|---|---|" + "---|" * (2 * len(LEGS) + 1))
    for name in WORK:
        quiet = statistics.median(measure(name, "tuned") for _ in range(args.repeats))
        for k in args.competitors:
            spinners = [context.Process(target=_spin, daemon=True) for _ in range(k)]
            for spinner in spinners:
                spinner.start()
            try:
                times = {leg: statistics.median(measure(name, leg) for _ in range(args.repeats)) for leg in LEGS}
            finally:
                for spinner in spinners:
                    spinner.terminate()
            fair = quiet * max(1.0, (k + 1) / cores)
            print(f"| {name} | {k} | " + " | ".join(f"{times[leg]:.2f}" for leg in LEGS) + f" | {fair:.2f} | "
                  + " | ".join(f"{times[leg] / fair:.2f}" for leg in LEGS) + " |", flush=True)


if __name__ == "__main__":
    main()
