"""Accuracy and speed of the BATCH estimator on synthetic datasets with known PID.

For each dataset: draw it, fit on a random 80% and estimate on the other 20% with the default settings, and print
one row per part (R, U1, U2, S, total): the truth, the estimate, the error, the spread over held-out batches, and,
once per dataset, the seconds (fit + estimate) and samples per second. For discrete datasets (gates) the exact PID
of the same held-out samples is printed too: it shows how much of the error is sampling noise of the data rather
than error of the estimator. Targets: |error| <= 0.05 bits (or 10% of the total, where larger) on latent-concept
sets, <= 0.02 bits on gates, <= 0.05 bits on the Gaussian mixtures. Run from the repository root:

    .venv/bin/python benchmarks/batch_accuracy.py
    .venv/bin/python benchmarks/batch_accuracy.py --quick
    .venv/bin/python benchmarks/batch_accuracy.py --device cuda --n-samples 10000 --dims 32 128 512
"""

from __future__ import annotations

import argparse
import time
import warnings
from collections.abc import Callable

import numpy as np
import torch

from pidengine import BatchEstimator, ExactEstimator
from pidengine.datasets import SyntheticDataset, gate_samples, gaussian_mixture, latent_concept
from pidengine.parts import PARTS

SHORT = {"redundancy": "R", "unique1": "U1", "unique2": "U2", "synergy": "S", "total": "total"}


def datasets(n: int, dims: list[int], seed: int) -> list[tuple[str, float, Callable[[], SyntheticDataset]]]:
    """(name, target in bits, generator) for every benchmarked dataset."""
    out: list[tuple[str, float, Callable[[], SyntheticDataset]]] = []
    for dim in dims:
        out.append((f"latent d={dim}", 0.05, lambda d=dim: latent_concept(n, dim1=d, dim2=d, random_state=seed)))
    out.append(
        (
            "latent d=64 2R+noise",
            0.05,
            lambda: latent_concept(
                n,
                n_redundant=2,
                n_unique1=1,
                n_unique2=0,
                n_synergy=1,
                label_noise=0.1,
                dim1=64,
                dim2=64,
                random_state=seed,
            ),
        )
    )
    for gate in ("and", "or", "xor", "unique1", "copy", "redundant"):
        out.append((f"gate {gate}", 0.02, lambda g=gate: gate_samples(g, n, random_state=seed)))
    for coords, angle in (("cartesian", 0.0), ("cartesian", 45.0), ("polar", 45.0)):
        name = f"gauss {coords} {angle:g}"
        out.append(
            (name, 0.05, lambda c=coords, a=angle: gaussian_mixture(n, angle=a, coordinates=c, random_state=seed))
        )
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="auto", help="auto (CUDA when present), cpu or cuda")
    parser.add_argument("--n-samples", type=int, default=10_000)
    parser.add_argument("--dims", nargs="+", type=int, default=[32, 128, 512], help="latent-concept feature dims")
    parser.add_argument("--quick", action="store_true", help="2,000 samples, dims 32 only, fewer epochs")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--only", nargs="+", default=None, help="run only datasets whose name contains one of these")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    settings: dict = {"device": args.device, "random_state": args.seed}
    n, dims = args.n_samples, args.dims
    if args.quick:
        n, dims = 2000, [32]
        settings.update(hidden_dim=64, batch_size=128, max_epochs=60, align_max_epochs=10)

    print(
        f"BATCH estimator, {n} samples per dataset (80% fit / 20% estimate), settings {settings}, "
        f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads"
    )
    header = f"{'dataset':<22}{'part':<7}{'truth':>9}{'exact(test)':>12}{'estimate':>10}{'error':>9}{'spread':>8}"
    header += f"{'seconds':>9}{'samples/s':>11}  target"
    print(header)
    print("-" * len(header))
    worst: list[tuple[str, float, float]] = []
    for name, target, make in datasets(n, dims, args.seed):
        if args.only and not any(key in name for key in args.only):
            continue
        data = make()
        estimator = BatchEstimator(**settings)
        order = np.random.default_rng(args.seed).permutation(len(data.y))
        test, train = order[: len(order) // 5], order[len(order) // 5 :]
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        start = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            estimator.fit(data.x1[train], data.x2[train], data.y[train])
            result = estimator.estimate(data.x1[test], data.x2[test], data.y[test])
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        seconds = time.perf_counter() - start
        plug_in = None
        if name.startswith("gate"):
            plug_in = ExactEstimator().estimate_samples(data.x1[test, 0], data.x2[test, 0], data.y[test]).to_dict()
        allowed = max(target, 0.1 * data.true_pid["total"]) if name.startswith("latent") else target
        error = max(abs(getattr(result, p) - data.true_pid[p]) for p in PARTS[:4])
        worst.append((name, error, allowed))
        for i, part in enumerate(PARTS):
            value = getattr(result, part)
            ref = f"{plug_in[part]:>12.4f}" if plug_in is not None else f"{'':>12}"
            row = f"{name if i == 0 else '':<22}{SHORT[part]:<7}{data.true_pid[part]:>9.4f}{ref}{value:>10.4f}"
            row += f"{value - data.true_pid[part]:>+9.4f}{result.std[part]:>8.4f}"
            if i == 0:
                row += f"{seconds:>9.1f}{len(data.y) / seconds:>11.0f}  {'ok' if error <= allowed else 'MISSED'}"
                row += (
                    f" (max |error| {error:.4f} <= {allowed:.2f})"
                    if error <= allowed
                    else f" ({error:.4f} > {allowed:.2f})"
                )
            print(row, flush=True)
        for w in caught:
            print(f"{'':<22}warning: {str(w.message)[:150]}")
    met = sum(e <= a for _, e, a in worst)
    print(f"\n{met} of {len(worst)} datasets within target")


if __name__ == "__main__":
    main()
