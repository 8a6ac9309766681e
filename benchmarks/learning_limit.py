"""Raw figures for the learning-curve candidates: the cross-fitted estimate at full and reduced training size.

For each (set, n, seed) of the realistic-accuracy suite, one JSON line: the truth, the full estimate (corrected,
plug-in, basic intervals), the reduced-size plug-in parts with paired bootstrap replicates, and the informations
found at both sizes; ``--shuffled`` runs on permuted labels instead (true PID zero). Analysed by
``benchmarks/learning_limit_analysis.py``.

    python benchmarks/learning_limit.py --sizes 1000 3000 --seeds 0 1 2 --out runs.jsonl
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from realistic_accuracy import SETS

from pidengine.datasets.hidden_codes import hidden_codes
from pidengine.estimators.crossfit import CrossFitEstimator
from pidengine.parts import PARTS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sets", nargs="+", default=list(SETS), choices=list(SETS))
    parser.add_argument("--sizes", nargs="+", type=int, default=[3000])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--fraction", type=float, default=0.5)
    parser.add_argument("--model-seed", type=int, default=None, help="estimator seed (default: the data seed)")
    parser.add_argument("--shuffled", action="store_true")
    parser.add_argument("--signal", action="store_true",
                        help="each modality's signal coordinates without the nuisance (the signal-crossfit reference)")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    torch.set_num_threads(1)
    for n in args.sizes:
        for seed in args.seeds:
            for name in args.sets:
                data = hidden_codes(n, random_state=seed, **SETS[name])
                y = np.random.default_rng(seed + 1).permutation(data.y) if args.shuffled else data.y
                model_seed = seed if args.model_seed is None else args.model_seed
                start = time.perf_counter()
                x1, x2 = (data.signal1, data.signal2) if args.signal else (data.x1, data.x2)
                result = CrossFitEstimator(random_state=model_seed, learning_fraction=args.fraction).estimate(x1, x2, y)
                seconds = time.perf_counter() - start
                curve = result.learning
                info = result.diagnostics.heldout_information
                record = dict(
                    set=name + ("/signal" if args.signal else ""), n=n, seed=seed, model_seed=model_seed,
                    shuffled=args.shuffled, seconds=seconds,
                    reduced_seconds=curve.seconds, fraction=curve.fraction,
                    truth={p: (0.0 if args.shuffled else data.true_pid[p]) for p in PARTS},
                    corrected={p: getattr(result, p) for p in PARTS}, plugin=result.plugin,
                    intervals=result.intervals, significant=result.significant,
                    reduced_plugin=curve.plugin, samples=result.samples.tolist(),
                    reduced_samples=curve.samples.tolist(),
                    found={**result.diagnostics.code_information, "joint": max(info["joint"], info["codes"])},
                    reduced_found={"x1": curve.plugin["redundancy"] + curve.plugin["unique1"],
                                   "x2": curve.plugin["redundancy"] + curve.plugin["unique2"],
                                   "joint": max(curve.heldout_information[m] for m in ("joint", "codes"))},
                    learning_limited=curve.learning_limited, information_gain=curve.information_gain,
                )
                with args.out.open("a") as handle:
                    handle.write(json.dumps(record) + "\n")
                gain = {p: result.plugin[p] - curve.plugin[p] for p in PARTS}
                print(f"{name} n={n} seed={seed} {seconds:.0f}s (reduced {curve.seconds:.0f}s) err "
                      + " ".join(f"{getattr(result, p) - record['truth'][p]:+.2f}" for p in PARTS)
                      + " gain " + " ".join(f"{gain[p]:+.2f}" for p in PARTS), flush=True)


if __name__ == "__main__":
    main()
