r"""Coverage of the model PID's bootstrap intervals on laws whose PID is known exactly.

The pipeline measures each trained model by the exact PID of (code of x1, code of x2, predicted label) on the test
rows, bias-corrected by the bootstrap with basic 95 % intervals (:func:`pidengine.quantify.exact_estimate` with
``ModelParams.pid``: 30 resamples, no label permutations; a part is significant when its interval lies above 0).
This script checks what those intervals claim. For known discrete laws :math:`p(q_1, q_2, \hat y)` of the shapes
that occur in ``make run`` (codes per modality, labels, test rows: ``--shapes``) it samples the test rows, runs the
estimate, and counts how often each part's interval holds the law's true PID (the exact solver,
:class:`~pidengine.estimators.exact.ExactEstimator`, on the law itself), and how often a part whose true value is 0
is flagged significant.

Laws (``--laws``), each drawn afresh per repetition:

``bayes``
    Latent classes :math:`c` seen by both modalities through codes of limited purity; :math:`\hat y` is the most
    probable class given both codes, replaced by a uniform label with probability ``--noise``: a good model, mostly
    redundancy.
``x1-only``
    As ``bayes``, but :math:`\hat y` is the most probable class given :math:`q_1` alone: U2 = S = 0 exactly.
``xor``
    Independent codes, each labelled uniformly over the classes; :math:`\hat y` is the sum of the two labels modulo
    the number of classes (with the noise): R = U1 = U2 = 0 exactly, all synergy.
``function``
    The latent codes of ``bayes``, and a random label for every pair of codes (with the noise): a model that has
    memorised an arbitrary function of both codes.
``dirichlet``
    The latent codes of ``bayes``, and :math:`p(\hat y \mid q_1, q_2)` drawn from a flat Dirichlet for every pair: a
    model whose prediction the codes say little about.

Intervals compared (all basic bootstrap intervals around the bias-corrected estimate; ``B`` resamples):

``B=30 pipeline``
    The intervals ``make run`` reports: ``exact_estimate`` with 30 resamples (``ModelParams.pid``; its 10 label
    permutations change only the significance flags, compared as ``& null 10``).
``B=100 datasets``
    The datasets' own number of resamples (:func:`~pidengine.bootstrap.bootstrap_pid` with the same estimator and
    seed; the intervals are those of ``exact_estimate`` with ``n_bootstrap=100``, the permutation null apart).
``B=k linear``, ``B=k weibull``
    Computed from the first ``k`` resamples of that run (with the same seed they are the resamples a ``k``-resample
    run draws; checked against the ``B=30`` run on every repetition), with the quantiles at NumPy's default linear
    positions (what pidengine used before), or at the positions :math:`p(B + 1)` (``method="weibull"``, what
    :func:`~pidengine.estimators.intervals.basic_bootstrap` uses), whose order statistics have the nominal
    expected tail :math:`\alpha / 2` once :math:`(B + 1)\alpha/2 \ge 1`, i.e. from 39 resamples on at 95 %.

Coverage is the share of (repetition, part) intervals that hold the truth, with its binomial standard error;
``miss <`` and ``miss >`` split the misses into intervals lying below and above the truth (one-sided misses mean
bias, not width); ``width`` is the median interval width in bits; ``false sig.`` counts the parts whose true value
is 0 (below 1e-4 bits) flagged significant by the interval alone, ``+k`` those whose plug-in also exceeds the 95 %
quantile of ``k`` label permutations (the first ``k`` of the datasets' 50), ``found`` the share of parts of at least
0.05 bits flagged; the last columns of the shape table are the mean seconds of one estimate on one thread (the
truth, the pipeline's, the datasets' with its 50 permutations). ``SparseTableWarning`` s are expected (that is the
regime studied) and silenced.

With ``--stores DATA_DIR`` it times the model PID instead, on the test codes of every dataset featurised under
``DATA_DIR`` (a ``make run``'s ``data``), the labels standing in for a model's predictions, at the pipeline's settings
and with 10 or 20 label permutations; the last line multiplies by the number of families.

Run from the repository root (9-12 minutes on one thread of a 2-core machine with the defaults; --stores about 2)::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/model_pid_coverage.py
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/model_pid_coverage.py --repeats 2 --laws xor --shapes 2x2x2:800
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/model_pid_coverage.py --stores data
"""

from __future__ import annotations

import argparse
import math
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from pidengine.bootstrap import bootstrap_pid
from pidengine.estimators.exact import ExactEstimator
from pidengine.estimators.intervals import QUANTILE_METHOD
from pidengine.exceptions import SparseTableWarning
from pidengine.parts import ATOMS, PARTS
from pidengine.quantify import ExactSettings, exact_estimate

# The shapes of the model PIDs of `make run` (data_catalog.yaml, test split 20 %, k-means codes): gates (2 x 2 x 2,
# 800 rows), drug reviews (10 codes, 3 labels, 196 rows), latent concepts (20 x 20 x 4, 1200), digits and UCI
# (20 x 20 x 10, 359-400), the noisy latent sets (16 labels, ~600), Gaussian mixtures (20 x 20 x 2, 4000).
SHAPES = ("2x2x2:800", "10x10x3:200", "20x20x4:1200", "20x20x10:400", "20x20x16:600", "20x20x2:4000")
LAWS = ("bayes", "x1-only", "xor", "function", "dirichlet")
ZERO_BITS = 1e-4  # a true part below this is taken as 0 for the false-significance count
REAL_BITS = 0.05  # a true part from this on should be found: the power count
MODEL_RESAMPLES = 30  # ModelParams.pid
DATASET_RESAMPLES = 100  # ExactSettings' default


@dataclass(frozen=True)
class Shape:
    k1: int
    k2: int
    n_labels: int
    n_rows: int

    @classmethod
    def parse(cls, text: str) -> Shape:
        cells, _, rows = text.partition(":")
        k1, k2, n_labels = (int(v) for v in cells.split("x"))
        return cls(k1, k2, n_labels, int(rows))

    def __str__(self) -> str:
        return f"{self.k1}x{self.k2}x{self.n_labels}:{self.n_rows}"


def _latent_codes(shape: Shape, rng: np.random.Generator) -> tuple[NDArray, NDArray]:
    """p(c, q1, q2) of latent classes seen through codes: code q's home class is q mod |Y|, and a code is drawn from
    its class's home codes with probability ``purity`` (one per modality, 0.5-0.9), else uniformly."""
    p_c = rng.dirichlet(np.full(shape.n_labels, 5.0))
    conditionals = []
    for k in (shape.k1, shape.k2):
        home = np.arange(k) % shape.n_labels == np.arange(shape.n_labels)[:, None]  # (c, q)
        purity = rng.uniform(0.5, 0.9)
        own = np.where(home.any(axis=1, keepdims=True), home / np.maximum(home.sum(axis=1, keepdims=True), 1), 1 / k)
        conditionals.append(purity * own + (1 - purity) / k)
    p_cq = p_c[:, None, None] * conditionals[0][:, :, None] * conditionals[1][:, None, :]
    return p_cq, p_cq.sum(axis=0)


def _noisy(labels: NDArray[np.int64], n_labels: int, noise: float) -> NDArray[np.float64]:
    """p(y | pair) putting 1 - noise on each pair's label and the noise uniformly on all labels."""
    return (1 - noise) * np.eye(n_labels)[labels] + noise / n_labels


def make_law(law: str, shape: Shape, noise: float, rng: np.random.Generator) -> NDArray[np.float64]:
    """A joint p(q1, q2, y) of ``shape`` built as ``law`` describes (module docstring)."""
    n_labels = shape.n_labels
    if law == "xor":
        pmfs = []
        for k in (shape.k1, shape.k2):  # each label class gets mass 1 / |Y|, whatever its number of codes
            labels = np.arange(k) % n_labels
            pmfs.append((labels, 1 / (n_labels * np.bincount(labels, minlength=n_labels)[labels])))
        (a, pa), (b, pb) = pmfs
        pair = pa[:, None] * pb[None, :]
        y_given = _noisy((a[:, None] + b[None, :]) % n_labels, n_labels, noise)
        return pair[:, :, None] * y_given
    p_cq, pair = _latent_codes(shape, rng)
    if law == "bayes":
        y_given = _noisy(p_cq.argmax(axis=0), n_labels, noise)
    elif law == "x1-only":
        best = p_cq.sum(axis=2).argmax(axis=0)  # argmax_c p(c, q1)
        y_given = _noisy(np.broadcast_to(best[:, None], pair.shape), n_labels, noise)
    elif law == "function":
        y_given = _noisy(rng.integers(0, n_labels, pair.shape), n_labels, noise)
    elif law == "dirichlet":
        y_given = rng.dirichlet(np.ones(n_labels), size=pair.shape)
    else:
        raise ValueError(f"unknown law {law!r}; known: {', '.join(LAWS)}")
    return pair[:, :, None] * y_given


@dataclass(frozen=True)
class Record:
    """One repetition: the law's true parts, and per interval method the bounds and significance flags of R, U1,
    U2, S and the total (arrays in the order of :data:`PARTS`)."""

    law: str
    shape: Shape
    truth: NDArray[np.float64]
    low: dict[str, NDArray[np.float64]]
    high: dict[str, NDArray[np.float64]]
    flagged: dict[str, NDArray[np.bool_]]  # significance: the interval above 0, then also above the null
    error: NDArray[np.float64]  # corrected - truth at B=100
    seconds: dict[str, float]


def _basic(plugin: NDArray, replicates: NDArray, method: str) -> tuple[NDArray, NDArray]:
    """Basic 95 % intervals of ``plugin`` from ``replicates`` with NumPy quantile ``method`` (``QUANTILE_METHOD`` is
    :func:`~pidengine.estimators.intervals.basic_bootstrap`'s)."""
    upper, lower = np.quantile(replicates, [0.975, 0.025], axis=0, method=method)
    return 2 * plugin - upper, 2 * plugin - lower


def estimate(law: str, shape: Shape, noise: float, rng: np.random.Generator, variants: list[tuple[int, str]],
             null_sizes: list[int]) -> Record:
    """Draw a law, sample its test rows, and estimate them as the pipeline does and with the datasets' settings."""
    # ModelParams.pid's intervals (its label permutations come after the resamples and change only the flags,
    # compared below as "& null k")
    model = ExactSettings(n_bootstrap=MODEL_RESAMPLES, n_permutations=0)
    datasets = ExactSettings()  # the datasets' estimate: 100 resamples, 50 permutations
    p = make_law(law, shape, noise, rng)
    seconds = {}
    start = time.perf_counter()
    truth_result = ExactEstimator().estimate(p)
    seconds["truth"] = time.perf_counter() - start
    truth = np.array([getattr(truth_result, part) for part in PARTS])
    x1, x2, y = np.unravel_index(rng.choice(p.size, size=shape.n_rows, p=p.ravel()), p.shape)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SparseTableWarning)
        start = time.perf_counter()
        pipeline = exact_estimate(x1, x2, y, model)
        seconds[f"B={MODEL_RESAMPLES}"] = time.perf_counter() - start
        start = time.perf_counter()  # what exact_estimate(x1, x2, y, datasets) runs, keeping the replicates
        full = bootstrap_pid(x1, x2, y, n_resamples=datasets.n_bootstrap,
                             estimator=ExactEstimator(**datasets.arguments(ExactEstimator)),
                             **datasets.arguments(bootstrap_pid))
        seconds[f"B={DATASET_RESAMPLES}+{datasets.n_permutations}"] = time.perf_counter() - start
    plugin = np.array([getattr(full.estimate, part) for part in PARTS])
    replicates, null = full.samples, full.null
    low = {"30 pipeline": np.array([pipeline[f"{part}_low"] for part in PARTS]),
           "100 datasets": np.array([full.intervals[part][0] for part in PARTS])}
    high = {"30 pipeline": np.array([pipeline[f"{part}_high"] for part in PARTS]),
            "100 datasets": np.array([full.intervals[part][1] for part in PARTS])}
    if full.n_failed == 0:  # with the same seed, the first 30 of the 100 resamples are the pipeline's 30
        prefix = _basic(plugin, replicates[:MODEL_RESAMPLES], QUANTILE_METHOD)
        if not (np.allclose(prefix[0], low["30 pipeline"], atol=1e-9)
                and np.allclose(prefix[1], high["30 pipeline"], atol=1e-9)):
            raise AssertionError("the first 30 of the 100 resamples are not the pipeline's 30 resamples")
    for k, method in variants:
        low[f"{k} {method}"], high[f"{k} {method}"] = _basic(plugin, replicates[:k], method)
    flagged = {}
    for name in low:
        flagged[name] = low[name] > 0
        for n_null in null_sizes:
            flagged[f"{name} & null {n_null}"] = flagged[name] & (plugin > np.quantile(null[:n_null], 0.95, axis=0))
    if not np.array_equal(flagged[f"100 datasets & null {datasets.n_permutations}"],
                          [full.significant[part] for part in PARTS]):
        raise AssertionError("the significance recomputed here is not bootstrap_pid's")
    error = np.array([full.corrected[part] for part in PARTS]) - truth
    return Record(law, shape, truth, low, high, flagged, error, seconds)


def _share(flags: list[bool] | NDArray[np.bool_]) -> str:
    """A proportion in % with its binomial standard error."""
    flags = np.asarray(flags, dtype=bool).ravel()
    if not flags.size:
        return "-"
    share = flags.mean()
    return f"{100 * share:.1f} ± {100 * math.sqrt(share * (1 - share) / flags.size):.1f}"


def _cover(records: list[Record], method: str) -> NDArray[np.bool_]:
    """(repetition, part) whether the interval holds the truth."""
    return np.array([(r.low[method] <= r.truth) & (r.truth <= r.high[method]) for r in records])


def _false(records: list[Record], flag: str) -> str:
    """Parts (R, U1, U2, S) whose truth is 0 flagged significant: count / parts."""
    hits = [r.flagged[flag][i] for r in records for i in range(N_ATOMS) if abs(r.truth[i]) < ZERO_BITS]
    return f"{sum(hits)}/{len(hits)}"


def _power(records: list[Record], flag: str) -> str:
    """Parts (R, U1, U2, S) of at least ``REAL_BITS`` flagged significant, in %."""
    hits = [r.flagged[flag][i] for r in records for i in range(N_ATOMS) if r.truth[i] >= REAL_BITS]
    return f"{100 * np.mean(hits):.0f}" if hits else "-"


def _row(label: str, cells: list[str], widths: list[int]) -> str:
    return label + "".join(f"{cell:>{width}}" for cell, width in zip(cells, widths))


def report(records: list[Record], laws: list[str], shapes: list[Shape], null_sizes: list[int]) -> None:
    """Print the three tables (module docstring)."""
    nulls = [f" & null {n}" for n in null_sizes]
    print("Coverage of the 95 % intervals, % ± binomial s.e.; 'all' pools R, U1, U2 and S; 'miss <' / 'miss >': "
          "intervals below / above the truth;\n'false sig.': parts (R-S) of true value 0 flagged significant, by "
          "the interval above 0 alone and with the plug-in also above the 95 % quantile of k label permutations\n"
          f"('+k'); 'found': % of the parts of at least {REAL_BITS} bits flagged significant\n")
    widths = [13] * 6 + [8, 8, 8, 11] + [9] * len(nulls) + [7, 7]
    head = ["R", "U1", "U2", "S", "total", "all R-S", "miss <", "miss >", "width", "false sig.",
            *(f"+{n}" for n in null_sizes), "found", f"+{null_sizes[-1]}"]
    for method in ("30 pipeline", "100 datasets"):
        print(_row(f"{'law':<11}", head, widths) + f"   (B = {method})")
        for law in [*laws, "all"]:
            picked = [r for r in records if law in ("all", r.law)]
            cover = _cover(picked, method)
            below = sum(int(np.sum(r.high[method][:N_ATOMS] < r.truth[:N_ATOMS])) for r in picked)
            misses = int(np.sum(~cover[:, :N_ATOMS]))
            width = np.median([r.high[method][:N_ATOMS] - r.low[method][:N_ATOMS] for r in picked])
            print(_row(f"{law:<11}", [*(_share(cover[:, i]) for i in range(len(PARTS))),
                                      _share(cover[:, :N_ATOMS]), str(below), str(misses - below), f"{width:.3f}",
                                      *(_false(picked, method + null) for null in ["", *nulls]),
                                      _power(picked, method), _power(picked, method + nulls[-1])], widths))
        print()

    print("By shape (K1xK2xLABELS:ROWS), every law: coverage of R-S, mean error of the B=100 corrected estimate "
          "(bits), parts of true value 0 flagged at B=30, seconds per estimate on one thread")
    time_keys = list(records[0].seconds)
    compared = ("30 pipeline", "30 linear", "100 datasets", "39 weibull")
    widths = [13] * len(compared) + [8, 8, 9] + [7] * len(nulls) + [12] * len(time_keys)
    print(_row(f"{'shape':<15}", [*compared, "err S", "err I", "false", *(f"+{n}" for n in null_sizes),
                                  *time_keys], widths))
    for shape in [*shapes, "all"]:
        picked = [r for r in records if shape in ("all", r.shape)]
        cells = [_share(_cover(picked, m)[:, :N_ATOMS]) if m in picked[0].low else "-" for m in compared]
        cells += [f"{np.mean([r.error[PARTS.index(p)] for r in picked]):+.3f}" for p in ("synergy", "total")]
        cells += [_false(picked, "30 pipeline" + null) for null in ["", *nulls]]
        cells += [f"{np.mean([r.seconds[key] for r in picked]):.2f}" for key in time_keys]
        print(_row(f"{shape!s:<15}", cells, widths))
    print()

    print("Every interval method, every law and shape ('k linear/weibull': from the first k of the 100 resamples)")
    widths = [13, 8, 11] + [9] * len(nulls) + [7] * (1 + len(nulls))
    print(_row(f"{'B':<15}", ["all R-S", "width", "false sig.", *(f"+{n}" for n in null_sizes), "found",
                              *(f"+{n}" for n in null_sizes)], widths))
    for method in records[0].low:
        cells = [_share(_cover(records, method)[:, :N_ATOMS]),
                 f"{np.median([r.high[method][:N_ATOMS] - r.low[method][:N_ATOMS] for r in records]):.3f}",
                 *(_false(records, method + null) for null in ["", *nulls]),
                 *(_power(records, method + null) for null in ["", *nulls])]
        print(_row(f"{method:<15}", cells, widths))


def time_stores(data_dir: str, null_sizes: list[int], n_families: int) -> None:
    """Seconds of the model PID on the test codes of every featurised dataset under ``data_dir`` (the labels stand in
    for a model's predictions: same rows, same codes), at the pipeline's settings and with label permutations."""
    from pidengine.io.store import DatasetStore

    settings = [ExactSettings(n_bootstrap=MODEL_RESAMPLES, n_permutations=n) for n in [0, *null_sizes]]
    widths = [7, 14] + [10] * len(settings)
    print(_row(f"{'dataset':<25}", ["rows", "table", *(f"+{s.n_permutations} perm." for s in settings)], widths))
    totals = np.zeros(len(settings))
    exact_estimate([0, 1, 0, 1], [0, 0, 1, 1], [0, 1, 1, 0], settings[0])  # load torch before the clock runs
    for folder in sorted(Path(data_dir).iterdir()):
        store = DatasetStore(data_dir, folder.name)
        if not store.exists("codes"):
            continue
        codes = store.open("codes")
        test = codes["split"].values == "test"
        x1, x2, y = (codes[name].values[test] for name in ("x1", "x2", "y"))
        seconds = []
        for setting in settings:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", SparseTableWarning)
                start = time.perf_counter()
                exact_estimate(x1, x2, y, setting)
                seconds.append(time.perf_counter() - start)
        totals += seconds
        table = "x".join(str(len(np.unique(v))) for v in (x1, x2, y))
        print(_row(f"{folder.name:<25}", [str(int(test.sum())), table, *(f"{t:.2f}" for t in seconds)], widths))
    print(_row(f"{f'all x {n_families} families':<25}", ["", "", *(f"{n_families * t:.0f}" for t in totals)],
               widths) + "   seconds on one thread")


N_ATOMS = len(ATOMS)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--laws", nargs="+", default=list(LAWS), choices=LAWS)
    parser.add_argument("--shapes", nargs="+", default=list(SHAPES), help="K1xK2xLABELS:ROWS")
    parser.add_argument("--repeats", type=int, default=4, help="laws drawn and sampled per (law, shape)")
    parser.add_argument("--noise", type=float, default=0.05, help="share of uniform labels in the functional laws")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--stores", metavar="DATA_DIR",
                        help="instead: time the model PID on the test codes of every dataset featurised there")
    parser.add_argument("--families", type=int, default=9, help="models per dataset, for the --stores total")
    args = parser.parse_args(argv)
    shapes = [Shape.parse(text) for text in args.shapes]
    variants = [(30, "linear"), (39, "linear"), (39, "weibull"), (50, "linear"), (100, "linear")]
    null_sizes = [10, 20, ExactSettings().n_permutations]
    if args.stores:
        time_stores(args.stores, null_sizes[:-1], args.families)
        return
    rng = np.random.default_rng(args.seed)
    start = time.perf_counter()
    records = [estimate(law, shape, args.noise, rng, variants, null_sizes)
               for law in args.laws for shape in shapes for _ in range(args.repeats)]
    print(f"{args.repeats} repetitions x {len(shapes)} shapes x {len(args.laws)} laws = {len(records)} estimates; "
          f"noise {args.noise}; seed {args.seed}\n")
    report(records, args.laws, shapes, null_sizes)
    print(f"\n{time.perf_counter() - start:.0f} s in all")


if __name__ == "__main__":
    main()
