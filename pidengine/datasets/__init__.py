"""Datasets with known PID, and loaders for real data.

The names below load on first use (PEP 562): the catalog's schema needs this package's light modules only, and
generating a dataset imports the exact solver.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pidengine._lazy import lazy_exports

if TYPE_CHECKING:
    from pidengine.datasets.canonical import CANONICAL, CanonicalJoint
    from pidengine.datasets.gaussian import gaussian_mixture
    from pidengine.datasets.mixed_table import mixed_table
    from pidengine.datasets.synthetic import SyntheticDataset, gate_samples, latent_concept

_EXPORTS = {
    "CANONICAL": "pidengine.datasets.canonical",
    "CanonicalJoint": "pidengine.datasets.canonical",
    "gaussian_mixture": "pidengine.datasets.gaussian",
    "SyntheticDataset": "pidengine.datasets.synthetic",
    "gate_samples": "pidengine.datasets.synthetic",
    "latent_concept": "pidengine.datasets.synthetic",
    "mixed_table": "pidengine.datasets.mixed_table",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)
