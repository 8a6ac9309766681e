"""How close the exact PID of discretised data comes to the true PID, per synthetic dataset of a catalog.

Ingests and featurises every catalog entry whose source knows its true PID (into a temporary data directory unless
``--data-dir`` is given), computes the exact PID of (code of x1, code of x2, y) over all samples, and prints the
estimate, the truth and the largest error of the four parts in bits. Run from the repository root:

    .venv/bin/python benchmarks/discretisation_accuracy.py
    .venv/bin/python benchmarks/discretisation_accuracy.py --catalog data_catalog.yaml --only latent-mix
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from pidengine import ExactEstimator
from pidengine.catalog import DEFAULT_CATALOG, load_catalog
from pidengine.io.store import DatasetStore
from pidengine.parts import ATOMS, PARTS
from pidengine.stages import encode, featurize, ingest, joint_of_codes

SHORT = {"redundancy": "R", "unique1": "U1", "unique2": "U2", "synergy": "S", "total": "I"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--catalog", type=Path, default=DEFAULT_CATALOG)
    parser.add_argument("--data-dir", type=Path)
    parser.add_argument("--only", nargs="+")
    args = parser.parse_args()
    catalog = load_catalog(args.catalog)
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = args.data_dir or Path(tmp)
        print(f"Exact PID of the codes (all samples) vs the true PID, bits; catalog {args.catalog}")
        values = "".join(f"{SHORT[p]:>7}" for p in PARTS)
        print(f"{'dataset':<20}{'samples':>8}{'codes':>9}  {'estimate':<8}{values}  {'truth':<5}{values}{'max err':>9}")
        for entry in catalog.select(args.only):
            ingest(entry, data_dir, catalog.base)
            if entry.encode:
                encode(entry, data_dir)
            featurize(entry, data_dir)
            codes = DatasetStore(data_dir, entry.name).open("codes")
            truth = codes.attrs.get("true_pid_bits")
            if truth is None:
                continue
            joint = joint_of_codes(codes)
            estimate = ExactEstimator().estimate(joint.pmf).to_dict()
            error = max(abs(estimate[p] - truth[p]) for p in ATOMS)
            shape = f"{codes.attrs['x1_n_codes']}x{codes.attrs['x2_n_codes']}"
            print(
                f"{entry.name:<20}{joint.n_samples:>8}{shape:>9}  {'':<8}"
                + "".join(f"{estimate[p]:>7.3f}" for p in PARTS)
                + f"  {'':<5}"
                + "".join(f"{truth[p]:>7.3f}" for p in PARTS)
                + f"{error:>9.3f}"
            )


if __name__ == "__main__":
    main()
