"""How often the exact estimator fails to certify, or disagrees with cvxpy, on small laws.

A seeded sweep of random small joints (Dirichlet with concentrations 1, 0.5 and 0.1 on shapes 2x2x2 to 5x5x4) and
of boundary cases (a unique part exactly 0, labels that are a function of X1 alone, copies, exact zeros in the
table), each solved by ExactEstimator one at a time and by ExactManyEstimator (CPU) a shape at a time, and compared
with cvxpy (Clarabel, the reference) on every part. A law counts as a failure of an estimator when its estimate is
not certified or any part differs from cvxpy's by more than --atol bits; for ExactManyEstimator the table also
counts the joints that left the batch and were solved alone. Prints one row per group and a total. Run from the
repository root:

    .venv/bin/python benchmarks/exact_robustness.py
    .venv/bin/python benchmarks/exact_robustness.py --per-group 50 --per-group-2x2x2 1000 --show 5
"""

from __future__ import annotations

import argparse
import warnings
from collections.abc import Iterator

import numpy as np

from pidengine.estimators import ExactEstimator, get_estimator
from pidengine.estimators.exact_many import ExactManyEstimator
from pidengine.exceptions import ConvergenceWarning
from pidengine.parts import ATOMS

SHAPES = ((2, 2, 2), (2, 3, 2), (3, 3, 2), (3, 3, 3), (4, 4, 3), (5, 5, 4))
CONCENTRATIONS = (1.0, 0.5, 0.1)


def random_groups(per_group: int, per_group_2x2x2: int, seed: int) -> Iterator[tuple[str, np.ndarray]]:
    """Dirichlet laws, one group per shape and concentration (2x2x2, the cheapest and the most fragile, larger)."""
    rng = np.random.default_rng(seed)
    for shape in SHAPES:
        for alpha in CONCENTRATIONS:
            size, n = int(np.prod(shape)), per_group_2x2x2 if shape == (2, 2, 2) else per_group
            yield (
                f"{'x'.join(map(str, shape))} Dir({alpha:g})",
                rng.dirichlet(np.full(size, alpha), n).reshape(n, *shape),
            )


def boundary_groups(per_group: int, seed: int) -> Iterator[tuple[str, np.ndarray]]:
    """Laws whose optimum lies on the boundary of the simplex or whose parts sit exactly at 0."""
    rng = np.random.default_rng(seed + 1)
    shape = (3, 3, 2)
    n1, n2, ny = shape
    # X2 independent of (X1, Y): I(X2; Y) = 0, so U2 = R = 0.
    yield (
        "3x3x2 X2 independent (U2=0)",
        np.stack(
            [
                rng.dirichlet(np.ones(n1 * ny)).reshape(n1, 1, ny) * rng.dirichlet(np.ones(n2)).reshape(1, n2, 1)
                for _ in range(per_group)
            ]
        ),
    )
    # Y a function of X1, X2 anything: S = U2 = 0.
    laws = []
    for _ in range(per_group):
        f = rng.integers(0, ny, n1)
        f[:ny] = np.arange(ny)  # every label occurs
        laws.append(rng.dirichlet(np.ones(n1 * n2)).reshape(n1, n2, 1) * np.eye(ny)[f][:, None, :])
    yield "3x3x2 Y = f(X1)", np.stack(laws)
    # X1 = X2 = Y (copies, with noise on X2): R = I(X2; Y).
    laws = []
    for _ in range(per_group):
        py = rng.dirichlet(np.ones(ny))
        noise = rng.dirichlet(np.full(ny, 0.3), ny)  # p(x2 | y)
        law = np.zeros((ny, ny, ny))
        for y in range(ny):
            law[y, :, y] = py[y] * noise[y]
        laws.append(law)
    yield f"{ny}x{ny}x{ny} X1 = Y, X2 noisy copy", np.stack(laws)
    # Sparse tables: about half the entries exactly zero.
    for shape in ((2, 2, 2), (3, 3, 3)):
        laws = []
        while len(laws) < per_group:
            law = rng.dirichlet(np.ones(int(np.prod(shape)))) * (rng.random(int(np.prod(shape))) < 0.5)
            if law.sum() > 0:
                laws.append((law / law.sum()).reshape(shape))
        yield f"{'x'.join(map(str, shape))} half zeros", np.stack(laws)


def failures(results, reference, atol: float) -> list[int]:
    """Indices whose estimate is uncertified or differs from the reference by more than atol on some part."""
    bad = []
    for i, (r, ref) in enumerate(zip(results, reference)):
        if not r.certificate.certified or max(abs(getattr(r, k) - getattr(ref, k)) for k in ATOMS) > atol:
            bad.append(i)
    return bad


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-group", type=int, default=25, help="laws per group")
    parser.add_argument("--per-group-2x2x2", type=int, default=200, help="laws per random 2x2x2 group")
    parser.add_argument("--atol", type=float, default=1e-6, help="largest accepted difference from cvxpy (bits)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--show", type=int, default=0, help="print the gap of this many failing laws per group")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore", ConvergenceWarning)
    cvx = get_estimator("cvxpy")
    single = ExactEstimator(on_failure="warn")
    many = ExactManyEstimator(device="cpu", on_failure="warn")

    header = f"{'group':<30}{'laws':>6}{'cvxpy uncert.':>14}{'exact fail':>12}{'many fail':>11}{'many alone':>12}"
    print(f"failures against cvxpy (any part off by > {args.atol:g} bits, or uncertified); seed {args.seed}")
    print(header)
    print("-" * len(header))
    totals = np.zeros(5, dtype=int)
    groups = [
        *random_groups(args.per_group, args.per_group_2x2x2, args.seed),
        *boundary_groups(args.per_group, args.seed),
    ]
    for name, laws in groups:
        reference = [cvx.estimate(law) for law in laws]
        exact = [single.estimate(law) for law in laws]
        batch = many.estimate_many(laws)
        uncertified = sum(not r.certificate.certified for r in reference)
        bad_single, bad_many = failures(exact, reference, args.atol), failures(batch, reference, args.atol)
        alone = sum(r.certificate.status.startswith("left the batch") for r in batch)
        row = np.array([len(laws), uncertified, len(bad_single), len(bad_many), alone])
        totals += row
        print(f"{name:<30}{row[0]:>6}{row[1]:>14}{row[2]:>12}{row[3]:>11}{row[4]:>12}")
        for i in bad_single[: args.show]:
            c = exact[i].certificate
            print(f"    law {i}: gap {c.duality_gap:.2g} bits, violation {c.marginal_violation:.2g}, {c.status}")
    print("-" * len(header))
    print(f"{'total':<30}{totals[0]:>6}{totals[1]:>14}{totals[2]:>12}{totals[3]:>11}{totals[4]:>12}")


if __name__ == "__main__":
    main()
