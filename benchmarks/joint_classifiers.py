"""How much of I(X1, X2; Y) each candidate joint classifier of the cross-fitted estimator finds on held-out rows.

For every (set, n, seed) of the known-truth suite (``realistic_accuracy.SETS``), each architecture of
:func:`pidengine.estimators.posterior.fit_posterior` is trained alone (its scalings and capacities chosen on
validation cross-entropy as usual) on 80 % of the rows; the table gives H(Y) − CE on the other 20 % (bits, a lower
bound on the information, tight for a calibrated posterior), its difference from the ``fusion`` network's, the
truth, and the seconds. Usage::

    python benchmarks/joint_classifiers.py                                   # four sets, n = 3000, seeds 0 and 1
    python benchmarks/joint_classifiers.py --sets clusters-8 --sizes 12000 --seeds 0
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from realistic_accuracy import SETS

from pidengine.datasets.hidden_codes import hidden_codes
from pidengine.estimators.posterior import ARCHITECTURES, PosteriorSettings, fit_posterior
from pidengine.info import entropy
from pidengine.parts import ATOMS

BASELINE = "fusion"


def heldout_information(data, architecture: str, seed: int) -> float:
    x, y = np.hstack([data.x1, data.x2]), data.y
    n_labels = int(y.max()) + 1
    order = np.random.default_rng(100 + seed).permutation(len(y))
    test, train = order[: len(y) // 5], order[len(y) // 5:]
    fitted = fit_posterior(x[train], y[train], n_labels, PosteriorSettings(architectures=(architecture,)), seed,
                           blocks=(data.x1.shape[1], data.x2.shape[1]))
    p = fitted.predict_proba(x[test])[np.arange(len(test)), y[test]]
    return float(entropy(np.bincount(y[train], minlength=n_labels)) - np.mean(-np.log2(np.clip(p, 1e-12, 1))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sets", nargs="+", default=["clusters-8", "cones-8", "random-law-4", "halfspaces-skewed-8"],
                        choices=list(SETS))
    parser.add_argument("--sizes", nargs="+", type=int, default=[3000])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"held-out I(X1, X2; Y) found (bits), 80 / 20 split; difference against '{BASELINE}'")
    print(f"{'set':<21}{'n':>7}{'seed':>5}{'truth':>7}" + "".join(f"{a:>16}" for a in ARCHITECTURES))
    for name in args.sets:
        for n in args.sizes:
            for seed in args.seeds:
                data = hidden_codes(n, random_state=seed, **SETS[name])
                truth = sum(data.true_pid[part] for part in ATOMS)
                found, seconds = {}, {}
                for architecture in ARCHITECTURES:
                    start = time.perf_counter()
                    found[architecture] = heldout_information(data, architecture, seed)
                    seconds[architecture] = time.perf_counter() - start
                cells = "".join(f"{found[a]:>7.3f} {found[a] - found[BASELINE]:+.2f}{seconds[a]:>3.0f}s"
                                for a in ARCHITECTURES)
                print(f"{name:<21}{n:>7}{seed:>5}{truth:>7.3f}{cells}", flush=True)


if __name__ == "__main__":
    main()
