r"""Accuracy and interval coverage of the continuous-data estimators on data whose PID is known exactly.

The sets come from :func:`pidengine.datasets.hidden_codes.hidden_codes`: the label sees each modality only through
a hidden code, under a nuisance larger than the signal, with codes that are clusters, cones or offset half-spaces.
For every (set, n, seed, estimator) the table gives each part's error (estimate − truth, bits), how many of the five
intervals (R, U1, U2, S, total) cover the truth, how many of the three one-sided lower bounds of the informations
I(X1; Y), I(X2; Y), I(X1, X2; Y) (``information_lower``, for the estimators whose informations are bounds) lie at or
below the true ones, and the time; a second table gives how much of each information
the estimator's codes or held-out models found (what learning left on the table); unless ``--no-shuffled``, a run
with the labels permuted (true PID zero) counts the parts flagged significant there. The summary gives, per
estimator, the median largest error and the coverage over all (set, part) pairs.

Estimators:

``kmeans``
    What the pipeline's ``exact`` estimator does with its default settings: standardise, PCA to 8 dimensions, k-means
    with 20 clusters fitted on 60 % of the rows, the exact PID of the codes' table corrected by its bootstrap bias,
    basic intervals and the significance flag of :func:`~pidengine.bootstrap.bootstrap_pid` (with label
    permutations).
``crossfit``
    :class:`~pidengine.estimators.crossfit.CrossFitEstimator` with its defaults.
``gaussian`` (only when asked for)
    :class:`~pidengine.estimators.gaussian_encoding.GaussianEncodingEstimator`: the Gaussian PID of the cross-fitted
    unimodal posteriors (centred log-probabilities) and the one-hot label, bootstrap-corrected; its "found"
    informations are the Gaussian ones the parts come from.
``true-gaussian`` (only when asked for; a reference no user can run)
    The same Gaussian PID on the posteriors of the hidden codes, :math:`p(y \mid q_i)` counted on all rows: what
    the Gaussian surrogate gives when the encodings are (near) perfect, so that its error is the surrogate's own
    (each probability jittered by a factor exp(N(0, 1e-3²)): a bit shared by both codes is otherwise an exact common
    component of the two encodings and the covariance singular).

References (``--references``), which no user can run but which locate an error:

``true-codes``
    The bias-corrected exact estimate (as ``kmeans``) on the hidden codes themselves: the error left by sampling
    alone, the floor under any estimator at this n.
``signal-crossfit``
    ``crossfit`` on each modality's signal coordinates without the nuisance directions: what the learner reaches
    when it knows where to look. Anything an estimator does on the features it could do here after adding a
    nuisance of its own, so the error of the best learner here bounds what learning from the features can reach.

Usage::

    python benchmarks/realistic_accuracy.py                       # every set at n = 3000, seed 0, with shuffled
    python benchmarks/realistic_accuracy.py --sizes 3000 12000 --seeds 0 1 --out docs/figures/realistic_accuracy.md
    python benchmarks/realistic_accuracy.py --estimators crossfit --references --no-shuffled   # where errors come from
    python benchmarks/realistic_accuracy.py --estimators gaussian --seeds 0 1   # the Gaussian PID on encodings
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from pidengine.bootstrap import bootstrap_pid
from pidengine.datasets.hidden_codes import hidden_codes
from pidengine.estimators.crossfit import CrossFitEstimator
from pidengine.estimators.gaussian_encoding import GaussianEncodingEstimator, gaussian_pid_of_posteriors
from pidengine.features.discretize import ModalityFeaturizer
from pidengine.parts import PARTS
from pidengine.quantify import ExactSettings

SETS: dict[str, dict] = {
    "clusters-8": dict(layout="clusters", law="latent", n_labels=8, dim=48, nuisance=2.0, label_noise=0.1),
    "cones-8": dict(layout="cones", law="latent", n_labels=8, dim=48, nuisance=2.0, label_noise=0.1),
    "halfspaces-skewed-8": dict(layout="halfspaces", law="latent", n_labels=8, dim=48, nuisance=2.0, code_skew=1.0),
    "random-law-4": dict(layout="clusters", law="random", n_labels=4, dim=32, nuisance=1.5),
    "wide-16": dict(layout="clusters", law="latent", n_labels=16, dim=256, nuisance=2.0),
    "binary-noisy-2": dict(layout="cones", law="latent", n_labels=2, dim=16, nuisance=2.0, label_noise=0.2),
}
ESTIMATORS = ("kmeans", "crossfit")
OPTIONAL = ("gaussian", "true-gaussian")  # a research estimator and its reference, run only when named
REFERENCES = ("true-codes", "signal-crossfit")


@dataclass(frozen=True)
class Outcome:
    values: dict[str, float]
    intervals: dict[str, tuple[float, float]]
    significant: dict[str, bool]
    found: dict[str, float]  # the informations the codes or held-out models found (x1, x2, joint)
    limited: dict[str, bool] | None = None  # learning-limited parts (None: no learning-curve check)
    lower: dict[str, float] | None = None  # one-sided lower bounds of the informations (None: not bounds)


def kmeans_plugin(x1, x2, y, seed: int) -> Outcome:
    """The pipeline's discretise-then-solve estimate: bias-corrected, basic intervals, permutation-checked flags."""
    fit_rows = np.random.default_rng(seed).permutation(len(y))[: int(0.6 * len(y))]
    codes = [ModalityFeaturizer("kmeans", random_state=seed).fit(x[fit_rows]).transform(x) for x in (x1, x2)]
    return corrected_exact(codes[0], codes[1], y, seed)


def corrected_exact(codes1, codes2, y, seed: int) -> Outcome:
    defaults = ExactSettings()
    boot = bootstrap_pid(codes1, codes2, y, n_resamples=defaults.n_bootstrap,
                         n_permutations=defaults.n_permutations, random_state=seed)
    plugin = {part: float(getattr(boot.estimate, part)) for part in PARTS}
    found = {"x1": plugin["redundancy"] + plugin["unique1"], "x2": plugin["redundancy"] + plugin["unique2"],
             "joint": plugin["total"]}
    return Outcome(boot.corrected, boot.intervals, boot.significant, found, lower=boot.information_lower)


def crossfit(x1, x2, y, seed: int) -> Outcome:
    result = CrossFitEstimator(random_state=seed).estimate(x1, x2, y)
    info = result.diagnostics.heldout_information
    found = {**result.diagnostics.code_information, "joint": max(info["joint"], info["codes"])}
    limited = result.learning.learning_limited if result.learning else None
    return Outcome({part: getattr(result, part) for part in PARTS}, result.intervals, result.significant, found,
                   limited, result.information_lower)


def gaussian(x1, x2, y, seed: int) -> Outcome:
    result = GaussianEncodingEstimator(random_state=seed).estimate(x1, x2, y)
    return Outcome({part: getattr(result, part) for part in PARTS}, result.intervals, result.significant,
                   result.gaussian_information)


def true_gaussian(codes1, codes2, y, seed: int) -> Outcome:
    n_labels = int(y.max()) + 1
    posteriors = []
    for codes in (codes1, codes2):
        counts = np.zeros((int(codes.max()) + 1, n_labels))
        np.add.at(counts, (codes, y), 1.0)
        posteriors.append(((counts + 0.5) / (counts + 0.5).sum(axis=1, keepdims=True))[codes])
    # A latent bit in both codes makes the two encodings share an exact linear component (a singular covariance,
    # whose Gaussian information is a limit): a jitter of relative size 1e-3 keeps it positive definite.
    jitter = np.random.default_rng(seed).lognormal(0.0, 1e-3, (2, *posteriors[0].shape))
    result = gaussian_pid_of_posteriors(posteriors[0] * jitter[0], posteriors[1] * jitter[1], y, random_state=seed)
    return Outcome({part: getattr(result, part) for part in PARTS}, result.intervals, result.significant,
                   result.gaussian_information)


# Each runner takes (dataset, labels, seed): the labels are the dataset's own or a permutation of them.
RUNNERS = {
    "kmeans": lambda data, y, seed: kmeans_plugin(data.x1, data.x2, y, seed),
    "crossfit": lambda data, y, seed: crossfit(data.x1, data.x2, y, seed),
    "gaussian": lambda data, y, seed: gaussian(data.x1, data.x2, y, seed),
    "true-gaussian": lambda data, y, seed: true_gaussian(data.latent1, data.latent2, y, seed),
    "true-codes": lambda data, y, seed: corrected_exact(data.latent1, data.latent2, y, seed),
    "signal-crossfit": lambda data, y, seed: crossfit(data.signal1, data.signal2, y, seed),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sets", nargs="+", default=list(SETS), choices=list(SETS))
    parser.add_argument("--sizes", nargs="+", type=int, default=[3000])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--estimators", nargs="+", default=list(ESTIMATORS), choices=[*ESTIMATORS, *OPTIONAL])
    parser.add_argument("--references", action="store_true", help=f"add the reference rows {list(REFERENCES)}")
    parser.add_argument("--no-shuffled", action="store_true", help="skip the permuted-label runs")
    parser.add_argument("--out", type=Path, help="also write the tables to this Markdown file")
    args = parser.parse_args()
    torch.set_num_threads(1)  # OpenMP spinning costs more than it gives on a shared 2-core machine
    estimators = list(args.estimators) + (list(REFERENCES) if args.references else [])

    header = ("| set | n | seed | estimator | R err | U1 err | U2 err | S err | total err | max abs err | covered "
              "| learning-limited | information bounds held | s |")
    lines = [header, "|" + "---|" * 14]
    nulls = ["| set | n | seed | estimator | parts flagged significant (of 5) | learning-limited (of 5) |",
             "|---|---|---|---|---|---|"]
    learned = [
        "| set | n | seed | estimator | I(X1;Y) found / true | I(X2;Y) found / true | I(X1,X2;Y) found / true |",
        "|---|---|---|---|---|---|---|",
    ]
    summary: dict[str, dict[str, list]] = {e: {"max": [], "covered": [], "null_flags": [], "limited": [],
                                               "null_limited": [], "held": [], "slack": [], "null_held": []}
                                           for e in estimators}
    for name in args.sets:
        for n in args.sizes:
            for seed in args.seeds:
                data = hidden_codes(n, random_state=seed, **SETS[name])
                for estimator in estimators:
                    start = time.perf_counter()
                    outcome = RUNNERS[estimator](data, data.y, seed)
                    seconds = time.perf_counter() - start
                    truth = data.true_pid
                    errors = {p: outcome.values[p] - truth[p] for p in PARTS}
                    covered = [outcome.intervals[p][0] <= truth[p] <= outcome.intervals[p][1] for p in PARTS]
                    worst = max(abs(e) for e in errors.values())
                    figures = summary[estimator]
                    figures["max"].append(worst)
                    figures["covered"] += covered
                    limited = outcome.limited
                    figures["limited"] += [limited[p] for p in PARTS] if limited else []
                    informations = {"x1": truth["redundancy"] + truth["unique1"],
                                    "x2": truth["redundancy"] + truth["unique2"], "joint": truth["total"]}
                    held = "–"
                    if outcome.lower is not None:
                        figures["held"] += [outcome.lower[k] <= v for k, v in informations.items()]
                        figures["slack"] += [v - outcome.lower[k] for k, v in informations.items()]
                        held = f"{sum(figures['held'][-3:])}/3"
                    cells = " | ".join(f"{errors[p]:+.3f}" for p in PARTS)
                    flagged = f"{sum(limited.values())}/5" if limited else "–"
                    lines.append(
                        f"| {name} | {n} | {seed} | {estimator} | {cells} | {worst:.3f} | {sum(covered)}/5 "
                        f"| {flagged} | {held} | {seconds:.0f} |"
                    )
                    print(lines[-1], flush=True)
                    found = outcome.found
                    learned.append(
                        f"| {name} | {n} | {seed} | {estimator} | {found['x1']:.3f} / {informations['x1']:.3f} "
                        f"| {found['x2']:.3f} / {informations['x2']:.3f} | {found['joint']:.3f} / "
                        f"{informations['joint']:.3f} |"
                    )
                    if args.no_shuffled:
                        continue
                    permuted = np.random.default_rng(seed + 1).permutation(data.y)
                    null = RUNNERS[estimator](data, permuted, seed)
                    null_limited = null.limited
                    flags = [null.significant[p] for p in PARTS]
                    if null.lower is not None:  # the informations are 0: a bound above it claims what is not there
                        summary[estimator]["null_held"] += [bound <= 0 for bound in null.lower.values()]
                    summary[estimator]["null_flags"] += flags
                    summary[estimator]["null_limited"] += [null_limited[p] for p in PARTS] if null_limited else []
                    nulls.append(f"| {name} | {n} | {seed} | {estimator} | {sum(flags)} "
                                 f"| {sum(null_limited.values()) if null_limited else '–'} |")
                    print(nulls[-1], flush=True)
    rows = ["| estimator | median max abs err (bits) | coverage of (set, part) pairs "
            "| learning-limited among missed / covered | coverage where not learning-limited "
            "| shuffled parts not significant / not learning-limited "
            "| information lower bounds held (median truth − bound, bits) / with permuted labels |",
            "|---|---|---|---|---|---|---|"]
    for estimator, figures in summary.items():
        flags, covered = figures["null_flags"], np.array(figures["covered"])
        not_significant = f"{1 - np.mean(flags):.0%} of {len(flags)}" if flags else "not run"
        null_limited = figures["null_limited"]
        if null_limited:
            not_significant += f" / {1 - np.mean(null_limited):.0%}"
        limited, flagged, unflagged = np.array(figures["limited"], dtype=bool), "–", "–"
        if len(limited):
            flagged = (f"{limited[~covered].mean() if (~covered).any() else np.nan:.0%} of {(~covered).sum()} / "
                       f"{limited[covered].mean() if covered.any() else np.nan:.0%} of {covered.sum()}")
            unflagged = f"{covered[~limited].mean() if (~limited).any() else np.nan:.0%} of {(~limited).sum()}"
        held = figures["held"]
        bounds = f"{np.mean(held):.0%} of {len(held)} ({np.median(figures['slack']):.3f})" if held else "–"
        if figures["null_held"]:
            bounds += f" / {np.mean(figures['null_held']):.0%} of {len(figures['null_held'])}"
        rows.append(
            f"| {estimator} | {np.median(figures['max']):.3f} | {covered.mean():.0%} of "
            f"{len(covered)} | {flagged} | {unflagged} | {not_significant} | {bounds} |"
        )
    text = "\n".join(lines + [""] + learned + [""] + ([] if args.no_shuffled else [*nulls, ""]) + rows) + "\n"
    print("\n" + "\n".join(rows))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)


if __name__ == "__main__":
    main()
