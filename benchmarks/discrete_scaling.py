"""Speed, accuracy and memory of the exact discrete PID estimator against the cvxpy reference.

For each joint shape and Dirichlet concentration, draws one random joint, times the exact estimator (median over
repeats) and the cvxpy reference once, in a subprocess with a time limit, and prints one table row: seconds, the
ratio cvxpy / exact, the largest difference of the four parts in bits and the certificates' duality gaps. The
exact estimator's peak memory is the peak resident size of a child process that solves the joint, minus that of
one that solves a 2 x 2 x 2 joint (interpreter, NumPy and torch themselves). Run from the repository root:

    .venv/bin/python benchmarks/discrete_scaling.py
    .venv/bin/python benchmarks/discrete_scaling.py --shapes 100x100x4 200x200x4 --repeats 5 --cvxpy-limit 120
    .venv/bin/python benchmarks/discrete_scaling.py --shapes 1000x1000x10 --alphas 1 --repeats 1 --no-cvxpy

With ``--no-cvxpy`` the reference is not run (it cannot build, let alone solve, the largest shapes); the table then
shows the exact estimator's time, iterations, memory and certified duality gap only. ``--device cuda`` times the
exact estimator on a GPU, and its memory column is then the peak GPU memory torch allocated in the timed runs;
``--progress`` shows each solve's iterations on stderr (minutes per solve from 1000 x 1000 x 10 on a CPU):

    .venv/bin/python benchmarks/discrete_scaling.py --shapes 1000x1000x10 --repeats 3 --no-cvxpy --device cuda
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from pidengine import ExactEstimator
from pidengine.parts import ATOMS

DEFAULT_SHAPES = ["20x20x4", "50x50x4", "100x100x4", "150x150x4", "200x200x4"]

_MEMORY_SNIPPET = """
import resource, sys
import numpy as np
from pidengine import ExactEstimator
ExactEstimator().estimate(np.load(sys.argv[1]))
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""

_CVXPY_SNIPPET = """
import json, sys, time, warnings
import numpy as np
from pidengine import CVXEstimator
warnings.simplefilter("ignore")
p = np.load(sys.argv[1])
start = time.perf_counter()
result = CVXEstimator(on_failure="warn").estimate(p)
seconds = time.perf_counter() - start
print(json.dumps({**result.to_dict(), "seconds": seconds}))
"""


def parse_shape(text: str) -> tuple[int, int, int]:
    parts = tuple(int(v) for v in text.lower().split("x"))
    if len(parts) != 3 or min(parts) < 1:
        raise argparse.ArgumentTypeError(f"shape must look like 100x100x4, got {text!r}")
    return parts  # type: ignore[return-value]


def run_cvxpy(joint: np.ndarray, limit: float) -> dict | None:
    """The cvxpy reference in a child process; None when it does not finish within ``limit`` seconds."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "joint.npy"
        np.save(path, joint)
        try:
            out = subprocess.run(
                [sys.executable, "-c", _CVXPY_SNIPPET, str(path)], capture_output=True, text=True, timeout=limit
            )
        except subprocess.TimeoutExpired:
            return None
    if out.returncode != 0:
        raise RuntimeError(f"cvxpy reference failed: {out.stderr.strip().splitlines()[-1]}")
    return json.loads(out.stdout)


def peak_rss_mib(joint: np.ndarray) -> float:
    """Peak resident memory (MiB) of a child process that solves ``joint`` with the exact estimator."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "joint.npy"
        np.save(path, joint)
        out = subprocess.run([sys.executable, "-c", _MEMORY_SNIPPET, str(path)], capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"memory probe failed: {out.stderr.strip().splitlines()[-1]}")
    return int(out.stdout) / 1024  # ru_maxrss is in KiB on Linux


def time_exact(joint: np.ndarray, repeats: int, estimator: ExactEstimator) -> tuple[float, object]:
    """Median seconds over ``repeats`` runs, and the last result (results come back to the host, so GPU work is
    finished when the clock stops)."""
    seconds = []
    result = None
    for _ in range(repeats):
        start = time.perf_counter()
        result = estimator.estimate(joint)
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds), result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shapes", nargs="+", type=parse_shape, default=[parse_shape(s) for s in DEFAULT_SHAPES])
    parser.add_argument("--alphas", nargs="+", type=float, default=[1.0, 0.1], help="Dirichlet concentrations")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of the exact estimator (median)")
    parser.add_argument("--cvxpy-limit", type=float, default=90.0, help="seconds before the reference is abandoned")
    parser.add_argument("--no-cvxpy", action="store_true", help="skip the cvxpy reference (for the largest shapes)")
    parser.add_argument("--device", default="cpu", help="where the exact estimator runs: cpu (default) or cuda")
    parser.add_argument("--progress", action="store_true", help="show each exact solve's iterations on stderr")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    gpu = torch.device(args.device).type == "cuda"
    if gpu and not torch.cuda.is_available():
        parser.error(f"--device {args.device}: torch sees no CUDA device")
    estimator = ExactEstimator(device=args.device, progress=args.progress)
    rng = np.random.default_rng(args.seed)
    baseline = 0.0 if gpu else peak_rss_mib(np.full((2, 2, 2), 0.125))
    memory = "GPU MiB" if gpu else "peak MiB"
    header = (
        f"{'shape':<14}{'alpha':>6}{'exact s':>10}{'iters':>6}{memory:>10}"
        f"{'cvxpy s':>10}{'ratio':>8}{'max|d| bits':>13}{'gap exact':>11}{'gap cvxpy':>11}"
    )
    print(header)
    print("-" * len(header))
    for shape in args.shapes:
        for alpha in args.alphas:
            joint = rng.dirichlet(np.full(int(np.prod(shape)), alpha)).reshape(shape)
            if gpu:
                torch.cuda.reset_peak_memory_stats()
            seconds, result = time_exact(joint, args.repeats, estimator)
            peak = torch.cuda.max_memory_allocated() / 2**20 if gpu else peak_rss_mib(joint) - baseline
            reference = None if args.no_cvxpy else run_cvxpy(joint, args.cvxpy_limit)
            name = "x".join(map(str, shape))
            row = f"{name:<14}{alpha:>6g}{seconds:>10.3f}{result.certificate.n_iter:>6}{peak:>10.1f}"
            if reference is None:
                skipped = "skipped" if args.no_cvxpy else "> " + format(args.cvxpy_limit, "g")
                row += f"{skipped:>10}{'':>8}{'':>13}"
                row += f"{result.certificate.duality_gap:>11.1e}{'':>11}"
            else:
                delta = max(abs(getattr(result, k) - reference[k]) for k in ATOMS)
                row += f"{reference['seconds']:>10.2f}{reference['seconds'] / seconds:>8.0f}{delta:>13.1e}"
                row += f"{result.certificate.duality_gap:>11.1e}{reference['duality_gap_bits']:>11.1e}"
            print(row, flush=True)


if __name__ == "__main__":
    main()
