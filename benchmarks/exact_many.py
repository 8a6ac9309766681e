"""Many joints of one shape: the vectorised (torch) exact estimator, ExactManyEstimator, against a loop of single
solves.

Prints, per device, the median seconds over repeats for the batch and for the loop (CPU, NumPy), their ratio,
and the largest difference of the four parts between the two. Run from the repository root:

    .venv/bin/python benchmarks/exact_many.py
    .venv/bin/python benchmarks/exact_many.py --n-joints 1000 --shape 20x20x4 --repeats 3
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from pidengine import ExactEstimator
from pidengine.estimators.exact_many import ExactManyEstimator
from pidengine.parts import ATOMS


def timed(function, repeats: int):
    seconds, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds), result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-joints", type=int, default=1000)
    parser.add_argument("--shape", default="20x20x4")
    parser.add_argument("--alpha", type=float, default=1.0, help="Dirichlet concentration of the joints")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    shape = tuple(int(v) for v in args.shape.split("x"))
    rng = np.random.default_rng(args.seed)
    joints = rng.dirichlet(np.full(int(np.prod(shape)), args.alpha), size=args.n_joints).reshape(-1, *shape)

    loop_s, loop = timed(lambda: [ExactEstimator().estimate(j) for j in joints], args.repeats)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    print(f"{args.n_joints} joints of {args.shape}, Dirichlet({args.alpha:g}); median of {args.repeats} runs")
    header = f"{'method':<28}{'seconds':>10}{'joints/s':>10}{'ratio':>8}{'max|d| bits':>13}{'solved alone':>14}"
    print(header)
    print("-" * len(header))
    print(f"{'loop of single solves (cpu)':<28}{loop_s:>10.2f}{args.n_joints / loop_s:>10.0f}{1:>8.1f}{'':>13}{'':>14}")
    for device in devices:
        batch_s, batch = timed(
            lambda device=device: ExactManyEstimator(device=device).estimate_many(joints), args.repeats
        )
        delta = max(abs(getattr(a, k) - getattr(b, k)) for a, b in zip(batch, loop) for k in ATOMS)
        alone = sum(r.certificate.status.startswith("left the batch") for r in batch)
        name = f"exact_many ({device})"
        speed = f"{batch_s:>10.2f}{args.n_joints / batch_s:>10.0f}{loop_s / batch_s:>8.1f}"
        print(f"{name:<28}{speed}{delta:>13.1e}{alone:>14}")


if __name__ == "__main__":
    main()
