r"""Model selection from a dataset's PID (Liang et al., 2023, §5).

A reference table lists synthetic datasets with their PID and the test accuracy of every model family on them.
For a new dataset, its PID is normalised to proportions
:math:`\bar\pi = (R, U_1, U_2, S) / (R + U_1 + U_2 + S)`, where a part that does not clear its null (its
significance flag, :class:`pidengine.parts.PartEstimate`) counts as 0, on the dataset as on the references; the
reference dataset nearest in L1 distance
:math:`\lVert \bar\pi - \bar\pi_{\mathrm{ref}} \rVert_1` is found, and its ``k`` best families are recommended.
The selection score of a recommendation on a dataset where all families were trained is

.. math:: 100 \times \max_{f \in \text{recommended}} \mathrm{acc}(f) \,/\, \max_{f} \mathrm{acc}(f).

A score means something only beside what a choice without PID reaches on the same accuracies
(:class:`SelectionBaselines`): the ``k`` families strongest over the whole reference table whatever the dataset
(``pid_free``), ``k`` families drawn at random (``random``, its expectation) and the best family (the oracle, 100
by definition).

A recommendation is a point answer; its **support** says whether the dataset's PID uncertainty could flip it: the
share of draws of the PID within its intervals (:func:`part_spread`) that lead to the same recommended families
(:func:`recommend`, ``spread``).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from statistics import NormalDist
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from pidengine.exceptions import ConfigError, InvalidJointError
from pidengine.io.location import Location
from pidengine.io.results import KEY_VARIABLE, signature, verify
from pidengine.io.store import publish_file
from pidengine.parts import ATOMS, PARTS, read_parts
from pidengine.quantify import input_key

if TYPE_CHECKING:  # the report and the sweep import pandas and torch; selection reads their records' fields only
    from pidengine.models.sweep import ModelReport
    from pidengine.report import RunRecord

REFERENCE_FORMAT = "pidengine-reference/2"
# Tables of format 1 carry no significance flags (every part counts as estimated); they read the same otherwise.
_READABLE_FORMATS = (REFERENCE_FORMAT, "pidengine-reference/1")
REFERENCE_STEM = "reference"
SHIPPED_REFERENCE = Path(__file__).parent / "data" / "reference.json"
"""Built by ``pidengine run`` on the default catalog's synthetic datasets and on :data:`REFERENCE_CATALOG`, the two
tables :meth:`ReferenceTable.combined` (see docs/models.md)."""
REFERENCE_CATALOG = Path(__file__).parent / "data" / "reference_catalog.yaml"
"""The reference grid: synthetic sets across the PID simplex crossed with sample size, feature noise, nuisance and
label count, too many to train in every ``make run`` (the rule that made it is in the file's header)."""
PID_ESTIMATOR = "exact"
"""The estimator of the dataset PIDs that selection compares: certified, on the codes every family's model PID is
measured on too."""
# Reference datasets whose distances differ by less than this are equally near, and their accuracies are pooled:
# with parts below their null counted as 0, references of one kind coincide exactly (every x1-unique set sits on
# the U1 corner), and an order by name among them would be arbitrary.
DISTANCE_TIE = 1e-6
# Accuracies closer than this count as tied when ranking families on one reference dataset (about one test
# sample in 200: differences below it are noise of the split, not of the family).
TIE_TOLERANCE = 0.005
SUPPORT_DRAWS = 200
"""Draws of the dataset's PID behind a recommendation's support (:func:`recommend`): its Monte Carlo standard error
is at most 0.5 / sqrt(200) = 3.5 points, well below what separates a firm recommendation from a coin toss."""
# Shares of a PID whose compared parts sum to no more than this are undefined: nothing above zero to compare.
_EMPTY_PID = 1e-9


def compared_parts(pid: Mapping[str, float], significant: Mapping[str, bool] | None = None) -> dict[str, float]:
    """The parts (R, U1, U2, S) selection compares, in bits: each as estimated, and 0 where ``significant`` flags it
    as not clearing its null (a part without a flag counts as estimated).

    >>> compared_parts({"redundancy": 0.8, "unique1": 0.1, "unique2": 0.0, "synergy": 0.3}, {"synergy": False})
    {'redundancy': 0.8, 'unique1': 0.1, 'unique2': 0.0, 'synergy': 0.0}
    """
    missing = [part for part in ATOMS if part not in pid]
    if missing:
        raise InvalidJointError(f"the PID lacks {missing}; it needs {list(ATOMS)}")
    flags = significant or {}
    return {part: 0.0 if flags.get(part) is False else float(pid[part]) for part in ATOMS}


def normalized_pid(pid: Mapping[str, float], significant: Mapping[str, bool] | None = None) -> NDArray[np.float64]:
    """(R, U1, U2, S) as proportions of their sum, a part not significant counting as 0 (:func:`compared_parts`).

    Parts below zero are estimator noise (certified within the solver's tolerance); they count as 0 here so the
    proportions stay a distribution.
    """
    parts = np.array(list(compared_parts(pid, significant).values()))
    if not np.isfinite(parts).all():
        raise InvalidJointError(f"the PID has non-finite parts: {dict(pid)}")
    shares, placed = _shares(parts[None, :])
    if not placed[0]:
        raise InvalidJointError("no part of the PID is above zero and clears its null: the modalities carry no "
                                "information about the label to compare")
    return shares[0]


def _shares(parts: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """Each row of compared parts (n, 4), in bits, as shares of its sum with parts below zero at 0, and whether the
    row has a part above zero (where it has none its shares are 0 and mean nothing)."""
    clipped = np.maximum(parts, 0.0)
    total = clipped.sum(axis=1, keepdims=True)
    placed = total[:, 0] > _EMPTY_PID
    return np.divide(clipped, total, out=np.zeros_like(clipped), where=placed[:, None]), placed


def part_spread(values: Mapping[str, Any]) -> dict[str, float]:
    r"""The standard deviation, in bits, of each part (R, U1, U2, S) of a flat view (:func:`pidengine.parts.read_parts`)
    that has an interval: :math:`(\mathrm{high} - \mathrm{low}) / (2 z)`, :math:`z` the normal quantile of the
    view's two-sided ``confidence`` (1.96 at 95 %). A part without an interval is left out: it has no spread.

    The normal is an approximation of the bootstrap distribution the interval came from, for the draws of a
    recommendation's support (:func:`recommend`).

    Raises ``InvalidJointError`` when the view has intervals but no ``confidence`` to read their level from.

    >>> spread = part_spread({"synergy": 1.0, "synergy_low": 0.6, "synergy_high": 1.4, "redundancy": 0.1,
    ...                       "unique1": 0.0, "unique2": 0.0, "confidence": 0.95})
    >>> {part: round(sd, 4) for part, sd in spread.items()}  # 0.8 / (2 × 1.96)
    {'synergy': 0.2041}
    """
    parts = read_parts(values)
    bounded = {part: parts[part] for part in ATOMS
               if part in parts and parts[part].low is not None and parts[part].high is not None}
    if not bounded:
        return {}
    if values.get("confidence") is None:
        raise InvalidJointError(f"the PID has intervals for {sorted(bounded)} but no 'confidence' to read their "
                                "level from; give the estimate's flat view (to_dict) as it was computed")
    z = NormalDist().inv_cdf((1 + float(values["confidence"])) / 2)
    return {part: (float(estimate.high) - float(estimate.low)) / (2 * z) for part, estimate in bounded.items()}


@dataclass(frozen=True)
class ReferenceRow:
    """One reference dataset: its PID (bits), each family's test accuracy on it, and whether each part clears its
    null (``significant``; empty for a table built without flags, where every part counts)."""

    dataset: str
    pid: dict[str, float]
    accuracy: dict[str, float]
    significant: dict[str, bool] = field(default_factory=dict)

    def compared(self) -> dict[str, float]:
        """The parts selection compares (:func:`compared_parts`)."""
        return compared_parts(self.pid, self.significant)

    @property
    def placed(self) -> bool:
        """Whether a part is above zero and clears its null: the row has a place among the shares (a reference
        whose estimate is indistinguishable from shuffled labels has none)."""
        return any(value > 1e-9 for value in self.compared().values())

    def ranked_families(self, strength: dict[str, float] | None = None, tie_tolerance: float = 0.0) -> list[str]:
        """Families from best to worst accuracy on this dataset.

        Families within ``tie_tolerance`` of the best remaining accuracy count as tied; a tie goes to the higher
        ``strength`` (e.g. :meth:`ReferenceTable.strength`), then to the name, so the order is reproducible.
        """
        strength = strength or {}
        remaining, ranked = set(self.accuracy), []
        while remaining:
            top = max(self.accuracy[f] for f in remaining)
            tied = [f for f in remaining if self.accuracy[f] >= top - tie_tolerance]
            chosen = min(tied, key=lambda f: (-strength.get(f, 0.0), -self.accuracy[f], f))
            ranked.append(chosen)
            remaining.remove(chosen)
        return ranked


@dataclass(frozen=True)
class ReferenceTable:
    """The reference datasets with every family's accuracy, and what they were computed from.

    ``provenance`` records the inputs (each dataset's codes/raw content keys, the training settings, the code
    version); ``key`` is a hash of rows, families and provenance, so an unchanged rebuild has the same key and a
    saved version is never overwritten with other content.
    """

    rows: tuple[ReferenceRow, ...]
    families: tuple[str, ...]
    provenance: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        dataset_pids: dict[str, dict[str, float]],
        accuracy: dict[str, dict[str, float]],
        provenance: dict[str, Any] | None = None,
        significance: dict[str, dict[str, bool]] | None = None,
    ) -> ReferenceTable:
        """One row per dataset that has both a PID and the accuracy of every family trained on any of them, with
        the significance flags of its parts where ``significance`` has them (:func:`dataset_significance`).

        Raises ``ConfigError`` when no dataset qualifies, or when families are missing on a dataset (a partial row
        would bias its ranking toward the families that happened to finish).
        """
        families = tuple(sorted({family for per_family in accuracy.values() for family in per_family}))
        incomplete = {name: sorted(set(families) - set(accuracy.get(name, {})))
                      for name in dataset_pids if set(accuracy.get(name, {})) != set(families)}
        if incomplete:
            raise ConfigError(f"reference datasets lack trained families: {incomplete}")
        if not dataset_pids:
            raise ConfigError("no reference dataset has both a PID and trained families")
        flags = significance or {}
        rows = tuple(
            ReferenceRow(
                name, {part: float(dataset_pids[name][part]) for part in ATOMS}, dict(sorted(accuracy[name].items())),
                {part: bool(flags[name][part]) for part in ATOMS if part in flags.get(name, {})},
            )
            for name in sorted(dataset_pids)
        )
        return cls(rows, families, dict(provenance or {}))

    def strength(self) -> dict[str, float]:
        """Each family's accuracy relative to the best family, averaged over the reference datasets (1 = always
        best)."""
        relative = {family: [] for family in self.families}
        for row in self.rows:
            best = max(row.accuracy.values())
            for family, accuracy in row.accuracy.items():
                relative[family].append(accuracy / best if best > 0 else 0.0)
        return {family: float(np.mean(values)) for family, values in relative.items() if values}

    @property
    def key(self) -> str:
        return hashlib.sha256(json.dumps(self._content(), sort_keys=True).encode()).hexdigest()[:16]

    def to_json(self) -> str:
        """The table as JSON, signed with the results key (:mod:`pidengine.io.results`)."""
        document = {"format": REFERENCE_FORMAT, "key": self.key, **self._content()}
        return json.dumps({**document, "signature": signature(document)}, indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str, source: str = "reference table", signed: bool = True) -> ReferenceTable:
        """Read a table; ``signed=False`` skips the signature check, for the table shipped inside the package (as
        trusted as its code, and signed with no user's key); its content must still match its key."""
        try:
            document = json.loads(text)
            if document.get("format") not in _READABLE_FORMATS:
                raise ConfigError(f"{source}: not a {REFERENCE_FORMAT} document (format {document.get('format')!r})")
            rows = tuple(ReferenceRow(r["dataset"], r["pid"], r["accuracy"], r.get("significant", {}))
                         for r in document["rows"])
            table = cls(rows, tuple(document["families"]), document.get("provenance", {}))
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
            raise ConfigError(f"{source}: unreadable reference table ({type(exc).__name__}: {exc})") from exc
        if document.get("key") != table.key:
            raise ConfigError(f"{source}: content does not match its key {document.get('key')!r} (edited by hand?)")
        unsigned = {name: value for name, value in document.items() if name != "signature"}
        if signed and not verify(unsigned, document.get("signature")):
            raise ConfigError(f"{source}: its signature does not match (edited, or built with another results key); "
                              f"rebuild it with `pidengine run`, or set {KEY_VARIABLE} to the key it was built with")
        return table

    def save(self, folder: str | Path | Location) -> Location:
        """Publish as ``reference-<key>.json`` in ``folder`` and as ``reference.json`` (atomic)."""
        return publish_file(folder, REFERENCE_STEM, self.key, self.to_json())

    @classmethod
    def load(cls, path: str | Path | Location) -> ReferenceTable:
        """Read a saved table; ``path`` is a file or a folder holding ``reference.json`` (local or a URL)."""
        path = Location(path)
        if path.is_dir():
            path = path / f"{REFERENCE_STEM}.json"
        if not path.exists():
            raise ConfigError(
                f"no reference table at {path}; build it with `pidengine run` "
                "(the model sweep on the synthetic datasets)"
            )
        return cls.from_json(path.read_text(), source=str(path))

    @classmethod
    def shipped(cls) -> ReferenceTable:
        """The table shipped with pidengine: the default catalog's synthetic datasets, every family trained with the
        default settings (:data:`SHIPPED_REFERENCE`)."""
        return cls.from_json(SHIPPED_REFERENCE.read_text(), source=str(SHIPPED_REFERENCE), signed=False)

    @classmethod
    def combined(cls, tables: Sequence[ReferenceTable]) -> ReferenceTable:
        """The rows of ``tables`` in one table, for a reference built by more than one run (the shipped one: the
        default catalog's synthetic datasets and the reference grid, :data:`REFERENCE_CATALOG`).

        Rows are comparable only when measured alike: the tables must have the same families and the same
        provenance but for its ``datasets`` (the training settings, how the PIDs were estimated, the code version),
        and no dataset may appear twice. Raises ``ConfigError`` naming what differs.
        """
        if not tables:
            raise ConfigError("no reference table to combine")
        first = tables[0]
        shared = {name: value for name, value in first.provenance.items() if name != "datasets"}
        for table in tables[1:]:
            if set(table.families) != set(first.families):
                raise ConfigError(f"reference tables of other families cannot be combined: {sorted(first.families)} "
                                  f"and {sorted(table.families)}")
            other = {name: value for name, value in table.provenance.items() if name != "datasets"}
            differing = sorted(name for name in shared.keys() | other.keys() if shared.get(name) != other.get(name))
            if differing:
                raise ConfigError(f"reference tables built differently cannot be combined: their {differing} differ; "
                                  "rebuild them with the same code and settings")
        rows = [row for table in tables for row in table.rows]
        names = [row.dataset for row in rows]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ConfigError(f"datasets {repeated} are in more than one of the reference tables to combine")
        datasets = {name: value for table in tables for name, value in table.provenance.get("datasets", {}).items()}
        provenance = {**shared, **({"datasets": dict(sorted(datasets.items()))} if datasets else {})}
        return cls(tuple(sorted(rows, key=lambda row: row.dataset)), tuple(sorted(first.families)), provenance)

    def restricted_to(self, datasets: Sequence[str]) -> ReferenceTable:
        """The rows of these reference datasets only; an unknown name is an error that lists the table's."""
        known = [row.dataset for row in self.rows]
        unknown = [name for name in datasets if name not in known]
        if unknown:
            raise ConfigError(f"the reference table has no dataset {unknown}; it has {known}")
        return type(self)(tuple(row for row in self.rows if row.dataset in datasets), self.families,
                          self.provenance)

    def _content(self) -> dict[str, Any]:
        # A row without flags is written as format 1 wrote it, so a table read from that format keeps its key.
        return {"families": list(self.families), "provenance": self.provenance,
                "rows": [{"dataset": r.dataset, "pid": r.pid, "accuracy": r.accuracy,
                          **({"significant": r.significant} if r.significant else {})} for r in self.rows]}


def find_reference(
    data_dir: str | Path | Location, table_file: str | Path | None = None
) -> tuple[ReferenceTable, Location]:
    """The reference table to select with and the file it came from: ``table_file`` when given, else the table
    published last under ``<data_dir>/reference`` (by ``pidengine run``), else the one shipped with pidengine."""
    source = Location(table_file if table_file is not None else Location(data_dir) / REFERENCE_STEM)
    current = source / f"{REFERENCE_STEM}.json" if table_file is None or source.is_dir() else source
    if table_file is None and not current.exists():
        return ReferenceTable.shipped(), Location(SHIPPED_REFERENCE)
    table = ReferenceTable.load(current)
    version = current.parent / f"{REFERENCE_STEM}-{table.key}.json"  # the same table, in the file named by its key
    return table, version if version.exists() else current


@dataclass(frozen=True)
class Recommendation:
    """The recommended families for one dataset, with the evidence behind them."""

    dataset: str
    families: tuple[str, ...]
    nearest: str
    distance: float
    neighbours: tuple[tuple[str, float], ...]
    """Every reference dataset with its L1 distance, nearest first (those with no significant part have no place
    among them)."""
    compared: dict[str, float] = field(default_factory=dict)
    """The dataset's parts as compared (:func:`compared_parts`), in bits."""
    tied: tuple[str, ...] = ()
    """The other reference datasets as near as ``nearest`` (within :data:`DISTANCE_TIE`), whose accuracies were
    pooled with its own."""
    support: float | None = None
    """The share of ``support_draws`` draws of the dataset's PID within its intervals that give the same families
    (as a set; :func:`recommend`); None where the PID has no intervals."""
    support_draws: int = 0
    """How many draws ``support`` counts (0 where it is None)."""


def recommend(
    dataset: str,
    pid: Mapping[str, float],
    reference: ReferenceTable | list[ReferenceRow],
    k: int = 3,
    tie_tolerance: float = TIE_TOLERANCE,
    significant: Mapping[str, bool] | None = None,
    spread: Mapping[str, float] | None = None,
    n_draws: int = SUPPORT_DRAWS,
    random_state: int = 0,
) -> Recommendation:
    """The ``k`` best families of the reference dataset whose normalised PID is nearest (L1) to ``pid``.

    A part that does not clear its null (``significant`` for the dataset, :attr:`ReferenceRow.significant` for a
    reference) counts as 0 in the shares (:func:`normalized_pid`): a part indistinguishable from what shuffled
    labels give is no evidence of an interaction. A reference dataset with no significant part has no place among
    the shares and is left out. Reference datasets equally near (within :data:`DISTANCE_TIE`; coinciding shares)
    are pooled: each family's accuracy relative to the best family on each of them, averaged, ranks the families.

    Families whose accuracy on that dataset is within ``tie_tolerance`` of each other are ranked by their strength
    over the whole reference table (:meth:`ReferenceTable.strength`): on easy synthetic sets many families reach the
    same accuracy, and the nearest dataset alone cannot separate them. A reference dataset of the same name is left
    out: a dataset is never its own evidence.

    With ``spread`` (each part's standard deviation in bits, :func:`part_spread`), the recommendation's
    :attr:`~Recommendation.support` is the share of ``n_draws`` draws of the PID that give the same families, as a
    set, by the same rules (reference table, ``k``, pooling and ties). Each part is drawn on its own from a normal
    centred on its estimate with its ``spread`` (a part without one does not move), a part not significant stays 0
    and a drawn part below 0 counts as 0, as in the shares. The normal approximates the bootstrap distribution the
    intervals came from and ignores the correlation between the parts (their sum is better known than each); a draw
    with no part above zero recommends nothing and counts against. The draws are seeded with ``random_state``.
    Without ``spread`` (or with no part in it) the support is None.
    """
    if isinstance(reference, ReferenceTable):
        table = reference
    else:
        table = ReferenceTable(tuple(reference), tuple(sorted({f for row in reference for f in row.accuracy})))
    others = [row for row in table.rows if row.dataset != dataset]
    if not others:
        raise ConfigError("the reference table is empty; build it from the synthetic datasets first")
    rows = [row for row in others if row.placed]
    if not rows:
        raise ConfigError(f"the reference table has no dataset with a significant part above zero among "
                          f"{[row.dataset for row in others]}; rebuild it from the synthetic datasets")
    if k < 1:
        raise ConfigError(f"k must be at least 1, got {k}")
    if n_draws < 1:
        raise ConfigError(f"n_draws must be at least 1, got {n_draws}")
    references = np.array([normalized_pid(row.pid, row.significant) for row in rows])
    strength = table.strength()
    distance = _distances(normalized_pid(pid, significant)[None, :], references)[0]
    nearest = _nearest(distance[None, :])[0]
    families = _families([row for row, near in zip(rows, nearest) if near], table, strength, k, tie_tolerance)
    distances = sorted(((row.dataset, float(d)) for row, d in zip(rows, distance)), key=lambda item: (item[1], item[0]))
    near_names = {row.dataset for row, near in zip(rows, nearest) if near}
    ties = [name for name, _ in distances if name in near_names]  # the nearest first, then by name
    compared = compared_parts(pid, significant)
    support = None
    if spread:
        draws = np.random.default_rng(random_state).normal(
            list(compared.values()),
            [0.0 if (significant or {}).get(part) is False else float(spread.get(part, 0.0)) for part in ATOMS],
            size=(n_draws, len(ATOMS)),
        )
        shares, placed = _shares(draws)
        groups, which = np.unique(_nearest(_distances(shares, references)), axis=0, return_inverse=True)
        # The draws nearest the same references get the same families: the ranking runs once per group.
        agreeing = np.array([set(_families([row for row, member in zip(rows, group) if member], table, strength, k,
                                           tie_tolerance)) == set(families) for group in groups])
        support = float((agreeing[which.reshape(-1)] & placed).mean())
    return Recommendation(dataset, families, ties[0], distances[0][1], tuple(distances), compared, tuple(ties[1:]),
                          support, n_draws if spread else 0)


def _distances(shares: NDArray[np.float64], references: NDArray[np.float64]) -> NDArray[np.float64]:
    """The L1 distance (n, m) of each of n rows of shares to each of m references' shares."""
    return np.abs(shares[:, None, :] - references[None, :, :]).sum(axis=2)


def _nearest(distances: NDArray[np.float64]) -> NDArray[np.bool_]:
    """For each row of distances (n, m), the references as near as the nearest (within :data:`DISTANCE_TIE`)."""
    return distances <= distances.min(axis=1, keepdims=True) + DISTANCE_TIE


def _families(nearest: list[ReferenceRow], table: ReferenceTable, strength: dict[str, float], k: int,
              tie_tolerance: float) -> tuple[str, ...]:
    """The ``k`` best families on the nearest references (in table order): on one, by its accuracy; on more, by
    each family's accuracy relative to the best on each, averaged (pooled); ties by ``strength``, then name."""
    if len(nearest) > 1:
        evidence = ReferenceRow(nearest[0].dataset, nearest[0].pid, ReferenceTable(tuple(nearest), table.families)
                                .strength())
    else:
        evidence = nearest[0]
    return tuple(evidence.ranked_families(strength, tie_tolerance)[:k])


def selection_score(recommended: tuple[str, ...] | list[str], accuracy: dict[str, float]) -> float:
    """100 × best accuracy among the recommended families ÷ best accuracy of all families."""
    unknown = [family for family in recommended if family not in accuracy]
    if unknown:
        raise ConfigError(f"no accuracy for recommended families {unknown}; trained: {sorted(accuracy)}")
    best = max(accuracy.values())
    if best <= 0:
        raise InvalidJointError("every family has accuracy 0; the score is undefined")
    return 100.0 * max(accuracy[family] for family in recommended) / best


def pid_free_families(reference: ReferenceTable, k: int) -> tuple[str, ...]:
    """The ``k`` families strongest over the whole reference table (:meth:`ReferenceTable.strength`): the choice
    made without looking at the dataset's PID."""
    strength = reference.strength()
    return tuple(sorted(strength, key=lambda family: (-strength[family], family))[:k])


def expected_random_score(accuracy: dict[str, float], k: int) -> float:
    """The expected selection score of ``k`` families drawn uniformly at random without replacement.

    With the accuracies sorted ascending, the ``i``-th (1-based) is the best of a random ``k``-subset with
    probability :math:`\binom{i - 1}{k - 1} / \binom{m}{k}`.
    """
    values = sorted(accuracy.values())
    m, k = len(values), min(k, len(values))
    weights = [math.comb(i - 1, k - 1) for i in range(1, m + 1)]
    return 100.0 * sum(w * v for w, v in zip(weights, values)) / (math.comb(m, k) * max(values))


@dataclass(frozen=True)
class SelectionBaselines:
    """The selection score of the PID recommendation on one dataset beside the scores of choices without PID."""

    pid: float
    pid_free: float
    random: float


@dataclass(frozen=True)
class SelectionComparison:
    """Mean scores over the scored datasets and the mean paired difference PID − PID-free with a percentile
    bootstrap interval over datasets (few datasets: a wide interval is the honest answer)."""

    n_datasets: int
    pid: float
    pid_free: float
    random: float
    difference: float
    difference_low: float
    difference_high: float
    confidence: float = 0.95


@dataclass(frozen=True)
class Selection:
    """The outcome of selection over a sweep: the reference table, a recommendation per other dataset, and the
    selection score of each recommendation where every family was trained on that dataset."""

    reference: ReferenceTable
    recommendations: dict[str, Recommendation]
    scores: dict[str, float]
    accuracy: dict[str, dict[str, float]]
    excluded: dict[str, str] = field(default_factory=dict)
    """Datasets left out (reference datasets with families missing, datasets without a PID), with the reason."""
    baselines: dict[str, SelectionBaselines] = field(default_factory=dict)
    pid_free: tuple[str, ...] = ()
    """The PID-free choice the baselines compare against (:func:`pid_free_families`)."""

    def comparison(self, confidence: float = 0.95, n_resamples: int = 2000, random_state: int = 0
                   ) -> SelectionComparison | None:
        """The baselines averaged over the scored datasets; None when none was scored."""
        if not self.baselines:
            return None
        rows = list(self.baselines.values())
        differences = np.array([row.pid - row.pid_free for row in rows])
        resampled = np.random.default_rng(random_state).choice(differences, (n_resamples, len(differences)))
        tail = (1 - confidence) / 2
        low, high = np.quantile(resampled.mean(axis=1), [tail, 1 - tail])
        return SelectionComparison(len(rows), float(np.mean([r.pid for r in rows])),
                                   float(np.mean([r.pid_free for r in rows])), float(np.mean([r.random for r in rows])),
                                   float(differences.mean()), float(low), float(high), confidence)

    def rows(self) -> list[dict[str, Any]]:
        """One row per recommended dataset: nearest reference, distance, families with their support (None where
        the PID has no intervals) and the draws it counts, and the score's ingredients."""
        rows = []
        for name, rec in sorted(self.recommendations.items()):
            accuracy = self.accuracy.get(name, {})
            best = max(accuracy, key=lambda f: (accuracy[f], f)) if accuracy else ""
            rows.append({
                "dataset": name, "nearest_reference": rec.nearest, "tied_references": ", ".join(rec.tied),
                "distance": rec.distance,
                "recommended": ", ".join(rec.families), "support": rec.support,
                "support_draws": rec.support_draws,
                "best_recommended_accuracy": max((accuracy[f] for f in rec.families if f in accuracy), default=None),
                "best_family": best, "best_accuracy": accuracy.get(best),
                "selection_score": self.scores.get(name),
                "pid_free_score": self.baselines[name].pid_free if name in self.baselines else None,
                "random_score": self.baselines[name].random if name in self.baselines else None,
            })
        return rows

    def table(self) -> str:
        k = len(self.pid_free)
        lines = [f"{'dataset':<24}{'nearest reference':<26}{'L1':>6}  {'recommended':<48}{'support':>8}{'score':>7}"
                 f"{'PID-free':>10}{f'random {k}':>10}"]
        for row in self.rows():
            cells = [f"{row[key]:.1f}" if row[key] is not None else "-"
                     for key in ("selection_score", "pid_free_score", "random_score")]
            support = f"{row['support']:.0%}" if row["support"] is not None else "-"
            tied = self.recommendations[row["dataset"]].tied  # "+n": n more as near, their accuracies pooled
            nearest = row["nearest_reference"] + (f" +{len(tied)}" if tied else "")
            lines.append(f"{row['dataset']:<24}{nearest:<26}{row['distance']:>6.3f}  "
                         f"{row['recommended']:<48}{support:>8}{cells[0]:>7}{cells[1]:>10}{cells[2]:>10}")
        draws = sorted({rec.support_draws for rec in self.recommendations.values() if rec.support is not None})
        if draws:
            lines.append(f"support: the share of {' or '.join(map(str, draws))} draws of each dataset's PID within its "
                         "intervals that give the same families")
        if self.scores:
            lines.append(f"selection score: mean {np.mean(list(self.scores.values())):.1f}, "
                         f"min {min(self.scores.values()):.1f} over {len(self.scores)} datasets")
        summary = self.comparison()
        if summary is not None:
            lines.append(
                f"PID-free choice (the {k} families strongest over the reference table: {', '.join(self.pid_free)}): "
                f"mean {summary.pid_free:.1f}; {k} random families: mean {summary.random:.1f}; oracle 100.0")
            lines.append(
                f"PID minus PID-free: mean {summary.difference:+.1f} points, {summary.confidence:.0%} interval "
                f"[{summary.difference_low:+.1f}, {summary.difference_high:+.1f}] (bootstrap over "
                f"{summary.n_datasets} datasets)")
        lines += [f"left out: {name} ({reason})" for name, reason in sorted(self.excluded.items())]
        return "\n".join(lines)


def build_reference(
    dataset_pids: dict[str, dict[str, float]],
    accuracy: dict[str, dict[str, float]],
    names: list[str],
    provenance: dict[str, Any] | None = None,
    significance: dict[str, dict[str, bool]] | None = None,
) -> tuple[ReferenceTable, dict[str, str]]:
    """The reference table of datasets ``names`` (in the pipeline: the synthetic ones, whose PID is known by
    construction), and the names left out with the reason (no PID, or not every family trained on it)."""
    families = {family for per_family in accuracy.values() for family in per_family}
    excluded: dict[str, str] = {}
    complete = {}
    for name in names:
        missing = sorted(families - set(accuracy.get(name, {})))
        if name not in dataset_pids:
            excluded[name] = "no dataset PID"
        elif missing:
            excluded[name] = f"families not trained: {missing}"
        else:
            complete[name] = dataset_pids[name]
    return ReferenceTable.build(complete, {n: accuracy[n] for n in complete}, provenance, significance), excluded


def select(
    dataset_pids: dict[str, dict[str, float]],
    accuracy: dict[str, dict[str, float]],
    reference: ReferenceTable,
    k: int = 3,
    significance: dict[str, dict[str, bool]] | None = None,
    spread: dict[str, dict[str, float]] | None = None,
) -> Selection:
    """Recommend ``k`` families for every dataset of ``dataset_pids`` that is not in the reference table, with their
    support where the dataset's PID has intervals, and score each recommendation where every reference family was
    trained on that dataset.

    Parameters
    ----------
    dataset_pids : {dataset: {part: bits}}
        Each dataset's PID (R, U1, U2, S).
    accuracy : {dataset: {family: test accuracy}}
        The families trained on each dataset.
    significance : {dataset: {part: bool}}, optional
        Whether each part clears its null (:func:`dataset_significance`); a part flagged False counts as 0.
    spread : {dataset: {part: bits}}, optional
        The standard deviation of each part (:func:`dataset_spread`), for each recommendation's support.
    """
    in_reference = {row.dataset for row in reference.rows}
    recommendations, scores, excluded, baselines = {}, {}, {}, {}
    pid_free = pid_free_families(reference, k)
    for name in sorted(set(dataset_pids) - in_reference):
        try:
            recommendations[name] = recommend(name, dataset_pids[name], reference, k,
                                              significant=(significance or {}).get(name),
                                              spread=(spread or {}).get(name))
        except InvalidJointError as exc:
            excluded[name] = str(exc)
            continue
        if set(accuracy.get(name, {})) >= set(reference.families):
            scores[name] = selection_score(recommendations[name].families, accuracy[name])
            baselines[name] = SelectionBaselines(scores[name], selection_score(pid_free, accuracy[name]),
                                                 expected_random_score(accuracy[name], k))
    return Selection(reference, recommendations, scores, accuracy, excluded, baselines, pid_free)


def dataset_pids(records: Sequence[RunRecord]) -> dict[str, dict[str, float]]:
    """Each dataset's PID (bits, every part) by :data:`PID_ESTIMATOR`, from a pipeline run's records; failed
    estimates and other estimators are left out."""
    return {r.dataset: {part: float(r.values[part]) for part in PARTS} for r in records
            if r.estimator == PID_ESTIMATOR and r.status == "ok"}


def dataset_significance(records: Sequence[RunRecord]) -> dict[str, dict[str, bool]]:
    """Whether each part (R, U1, U2, S) of each dataset's :data:`PID_ESTIMATOR` estimate clears its null, for the
    parts that carry the flag (the exact estimate with its bootstrap and label permutations does)."""
    return {r.dataset: {part: bool(r.parts[part].significant) for part in ATOMS
                        if part in r.parts and r.parts[part].significant is not None}
            for r in records if r.estimator == PID_ESTIMATOR and r.status == "ok"}


def dataset_spread(records: Sequence[RunRecord]) -> dict[str, dict[str, float]]:
    """The standard deviation of each part (R, U1, U2, S) of each dataset's :data:`PID_ESTIMATOR` estimate, from
    its intervals (:func:`part_spread`; the parts without an interval are left out)."""
    return {r.dataset: part_spread(r.values) for r in records if r.estimator == PID_ESTIMATOR and r.status == "ok"}


def select_from_run(
    records: Sequence[RunRecord],
    reports: Sequence[ModelReport],
    data_dir: str | Path | Location,
    reference: Sequence[str] = (),
    table_file: str | Path | None = None,
    k: int = 3,
    provenance: dict[str, Any] | None = None,
) -> tuple[Selection, Location]:
    """Selection over a pipeline run: its dataset PIDs (:func:`dataset_pids`) with their significance flags
    (:func:`dataset_significance`, on the reference datasets as on the others), their intervals for each
    recommendation's support (:func:`dataset_spread`) and the models it trained.

    With ``reference`` datasets named, the reference table is built from them and published, versioned, under
    ``<data_dir>/reference``; its provenance records each one's codes and features store keys, how the PIDs were
    estimated and ``provenance`` (the training settings, the code version). Without, the table is found as
    :func:`find_reference` says (``table_file``, else the one published last, else the shipped one).

    Parameters
    ----------
    records : RunRecord
        The run's estimates (:class:`pidengine.report.RunRecord`).
    reports : ModelReport
        The run's trained models, one per (dataset, family) that trained.
    data_dir : path
        Root of the dataset stores, where the reference table is published.
    k : int, default=3
        Families recommended per dataset.

    Returns
    -------
    selection : Selection
        With the reference datasets left out of the table built (and why) among ``excluded``.
    path : Location
        The reference table's file.

    Raises
    ------
    ConfigError
        When no reference dataset has a PID and every family trained, or the table found is unreadable.
    """
    pids, significance = dataset_pids(records), dataset_significance(records)
    accuracy: dict[str, dict[str, float]] = {}
    for report in reports:
        accuracy.setdefault(report.dataset, {})[report.family] = report.test_accuracy
    if reference:
        provenance = {
            # The stores the reference PIDs and the families' features came from (the keys their estimates read).
            "datasets": {name: {"codes": input_key(data_dir, name, PID_ESTIMATOR),
                                "features": input_key(data_dir, name, "batch")} for name in reference},
            "pid": f"{PID_ESTIMATOR} estimator on the codes, all samples",
            **(provenance or {}),
        }
        table, excluded = build_reference(pids, accuracy, list(reference), provenance, significance)
        path = table.save(Location(data_dir) / REFERENCE_STEM)
    else:
        (table, path), excluded = find_reference(data_dir, table_file), {}
    selection = select(pids, accuracy, table, k, significance, dataset_spread(records))
    return replace(selection, excluded={**excluded, **selection.excluded}), path
