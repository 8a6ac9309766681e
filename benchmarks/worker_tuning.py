"""What :func:`tasks._dask.tune_worker` buys on a worker started with Dask's defaults (an operator's ``dask worker``).

Each leg starts a fresh one-worker, one-thread ``LocalCluster`` with Dask's own configuration (the nanny's
``MALLOC_TRIM_THRESHOLD_=65536``, the profiler on) and times the same work in it: the exact PID of a 2,000-sample
table of 20 x 20 codes and 10 labels (the size of a featurised image dataset) with 100 bootstrap resamples and 50
label permutations, then a small torch training (BATCH on 2,000 samples). ``untuned`` calls the work directly;
``tuned`` runs it inside ``on_worker()`` as the pipeline's tasks do; ``config`` is the cluster-side alternative (the
nanny's variable unset and the profiler disabled before the worker starts). Legs alternate so that all see the same
load; medians over ``--repeats``.

    python benchmarks/worker_tuning.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time


def work(tuned: bool) -> float:
    import numpy as np

    from tasks._dask import on_worker

    def run() -> float:
        import warnings

        from pidengine.bootstrap import bootstrap_pid
        from pidengine.exceptions import SparseTableWarning

        warnings.simplefilter("ignore", SparseTableWarning)  # the bias it warns of is what the bootstrap corrects
        from pidengine.estimators.batch import BatchEstimator

        rng = np.random.default_rng(0)
        x1, x2 = rng.integers(0, 20, 2000), rng.integers(0, 20, 2000)
        y = (x1 // 2 + x2 // 4 + rng.integers(0, 3, 2000)) % 10
        start = time.perf_counter()
        bootstrap_pid(x1, x2, y, n_resamples=100, n_permutations=50, random_state=0)
        f1, f2 = rng.normal(size=(2000, 8)), rng.normal(size=(2000, 8))
        labels = (f1[:, 0] * f2[:, 0] > 0).astype(int)
        BatchEstimator(max_epochs=5, device="cpu", random_state=0).fit(f1, f2, labels).estimate(f1, f2, labels)
        return time.perf_counter() - start

    if not tuned:
        return run()
    with on_worker():
        return run()


LEGS = ("untuned", "config", "tuned")
CLUSTER_CONFIG = {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
                  "distributed.worker.profile.enabled": False}


def leg(name: str) -> float:
    import dask
    from distributed import Client, LocalCluster

    with dask.config.set(CLUSTER_CONFIG if name == "config" else {}), \
            LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster, \
            Client(cluster) as client:
        return client.submit(work, name == "tuned", pure=False).result()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    times: dict[str, list[float]] = {name: [] for name in LEGS}
    load = [os.getloadavg()[0]]
    for _ in range(args.repeats):
        for name in LEGS:
            times[name].append(leg(name))
    load.append(os.getloadavg()[0])
    baseline = statistics.median(times["untuned"])
    print(f"| worker | median seconds ({args.repeats} runs) | ratio to untuned | all runs |")
    print("|---|---|---|---|")
    for name in LEGS:
        median = statistics.median(times[name])
        print(f"| {name} | {median:.2f} | {median / baseline:.2f} | {', '.join(f'{t:.2f}' for t in times[name])} |")
    print(f"\nload average (1 min) before and after: {load[0]:.1f}, {load[1]:.1f}")


if __name__ == "__main__":
    main()
