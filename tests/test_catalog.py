from pathlib import Path

import pytest

from pidengine import ConfigError
from pidengine.catalog import DEFAULT_CATALOG, load_catalog

REPO = Path(__file__).resolve().parents[1]


def write(tmp_path, text: str) -> Path:
    path = tmp_path / "catalog.yaml"
    path.write_text(text)
    return path


def test_default_catalog_is_valid_and_its_sources_are_installed():
    catalog = load_catalog(REPO / DEFAULT_CATALOG)
    assert catalog.errors == {}
    assert len(catalog.entries) >= 15
    kinds = {entry.source.kind for entry in catalog.entries.values()}
    assert {"gate", "gaussian_mixture", "latent_concept", "hidden_codes", "digits", "uci_multifeature",
            "basic_motions", "mnist", "japanese_vowels", "flights", "diamonds", "loans", "churn"} <= kinds
    assert sum(not entry.is_synthetic for entry in catalog.entries.values()) >= 12
    for entry in catalog.entries.values():
        entry.check(catalog.base)


def test_pidengine_catalog_validate_passes_on_the_default_catalog(capsys):
    from cli.main import main

    assert main(["catalog", "validate", "--catalog", str(REPO / DEFAULT_CATALOG)]) == 0
    out = capsys.readouterr()
    assert out.err == "" and " entries valid" in out.out


def test_hidden_codes_entry_carries_the_exact_truth_of_its_generator(tmp_path):
    from pidengine.datasets.hidden_codes import hidden_codes

    catalog = load_catalog(write(tmp_path, """datasets:
  hard:
    source: {kind: hidden_codes, layout: halfspaces, n_labels: 4, dim: 16, n_samples: 500, seed: 3}
"""))
    data = catalog.entries["hard"].load(tmp_path)
    expected = hidden_codes(500, layout="halfspaces", n_labels=4, dim=16, nuisance=2.0, random_state=3)
    assert data.true_pid == pytest.approx(expected.true_pid)
    assert catalog.entries["hard"].is_synthetic


@pytest.mark.parametrize(
    "body, message",
    [
        (
            "source: {kind: gate, gate: xor, n_samples: -4}",
            "source.gate.n_samples: Input should be greater than or equal to 1",
        ),
        ("source: {kind: webcam}", "source: Input tag 'webcam'"),
        ("source: {kind: gate, gate: nand}", "source.gate.gate"),
        ("source: {kind: digits}\n    splts: {train: 1}", "splts: Extra inputs are not permitted"),
        ("source: {kind: digits}\n    splits: {train: 0.5, val: 0.1, test: 0.1}", "train + val + test must be 1"),
        ("source: {kind: uci_multifeature, views: [fou, xyz]}", "source.uci_multifeature.views.1"),
        ("source: {kind: digits}\n    featurize: {n_clusters: 1}", "featurize.n_clusters"),
        ("source: {kind: digits}\n    encode: {x3: {kind: random_conv, image_shape: [4, 8]}}", "encode.x3"),
        ("source: {kind: table, path: t.csv, x1_columns: [], x2_columns: [b], y_column: y}", "x1_columns"),
        ("description: no source", "source: Field required"),
        ("[1, 2]", "must be a mapping"),
    ],
)
def test_a_broken_entry_is_named_and_the_others_still_load(tmp_path, body, message):
    catalog = load_catalog(
        write(tmp_path, f"datasets:\n  good:\n    source: {{kind: digits}}\n  broken:\n    {body}\n")
    )
    assert list(catalog.entries) == ["good"]
    assert message in catalog.errors["broken"]
    with pytest.raises(ConfigError, match="'broken' is invalid"):
        catalog.select(["broken"])


def test_bad_names_and_duplicates(tmp_path):
    catalog = load_catalog(write(tmp_path, "datasets:\n  Bad Name:\n    source: {kind: digits}\n"))
    assert "name: String should match pattern" in catalog.errors["Bad Name"]
    with pytest.raises(ConfigError, match="duplicate key 'a'"):
        load_catalog(write(tmp_path, "datasets:\n  a: {source: {kind: digits}}\n  a: {source: {kind: digits}}\n"))


@pytest.mark.parametrize(
    "text, message",
    [
        ("datasets: [a, b]", "top-level mapping"),
        ("datasets: {a: 1}\nextra: 2", "unknown top-level keys"),
        ("a: [", "not valid YAML"),
    ],
)
def test_broken_files(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message):
        load_catalog(write(tmp_path, text))
    with pytest.raises(ConfigError, match="does not exist"):
        load_catalog(tmp_path / "nope.yaml")


def test_check_finds_missing_files_relative_to_the_catalog(tmp_path):
    catalog = load_catalog(write(tmp_path, "datasets:\n  mine:\n    source: {kind: npz, path: data/mine.npz}\n"))
    with pytest.raises(ConfigError, match=r"dataset 'mine': source.path: .*mine.npz does not exist"):
        catalog.entries["mine"].check(catalog.base)
    with pytest.raises(ConfigError, match="dataset 'mine'"):
        catalog.entries["mine"].load(catalog.base)


def test_select_unknown_name(tmp_path):
    catalog = load_catalog(write(tmp_path, "datasets:\n  a:\n    source: {kind: digits}\n"))
    assert [e.name for e in catalog.select(None)] == ["a"]
    with pytest.raises(ConfigError, match="no dataset 'b'"):
        catalog.select(["b"])
