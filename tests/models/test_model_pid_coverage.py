"""The model PID's intervals, at the pipeline's model settings, on a law where the bootstrap is in its regime.

benchmarks/model_pid_coverage.py measures them on the shapes of ``make run``: near nominal on small code tables,
far below it on 20 x 20 tables of a few hundred rows (the plug-in bias the bootstrap under-corrects).
"""

import numpy as np

from pidengine.estimators import ExactEstimator
from pidengine.models.evaluate import model_pid
from pidengine.parts import PARTS


def test_thirty_resample_intervals_cover_a_gate_sized_law_and_are_as_wide_as_the_sampling_spread():
    from flows.params import ModelParams  # the pipeline's settings: 30 resamples, 10 permutations

    # Its intervals; the label permutations after the resamples change only the flags, and are skipped here.
    settings = ModelParams().pid.model_copy(update={"n_permutations": 0})
    # A 2 x 2 x 2 law with every part above 0.03 bits (a gate's shape; 800 test rows as the gates of `make run`).
    pmf = np.random.default_rng(11).dirichlet(np.ones(8)).reshape(2, 2, 2)
    truth = ExactEstimator().estimate(pmf)
    rng = np.random.default_rng(0)
    covered, widths, corrected = [], [], []
    for _ in range(60):
        x1, x2, y = np.unravel_index(rng.choice(8, size=800, p=pmf.ravel()), pmf.shape)
        pid = model_pid(x1, x2, y, settings)
        covered.append([pid[f"{part}_low"] <= getattr(truth, part) <= pid[f"{part}_high"] for part in PARTS])
        widths.append([pid[f"{part}_high"] - pid[f"{part}_low"] for part in PARTS])
        corrected.append([pid[part] for part in PARTS])
    # 300 (sample, part) intervals. At the positions p(B + 1) the 2.5 % and 97.5 % quantiles of 30 resamples are
    # their smallest and largest, which hold a further draw of a well-behaved pivot with probability 29/31: ~94 %
    # coverage; s.e. ~2 % (one sample's parts correlate).
    assert 0.80 <= np.mean(covered) <= 0.97, np.mean(covered, axis=0)
    # So the width should be about the expected range of 30 normal draws, 2 x 2.043 s.d. of the corrected estimate,
    # the s.d. taken over the 60 independent samples (relative s.e. ~9 %): too narrow or too wide intervals fail here,
    # whatever their coverage.
    ratio = np.median(widths, axis=0) / (2 * 2.043 * np.std(corrected, axis=0, ddof=1))
    assert np.all((ratio > 0.75) & (ratio < 1.33)), dict(zip(PARTS, ratio.round(2)))
