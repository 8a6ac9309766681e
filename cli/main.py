"""Command-line interface: ``pidengine pid | examples | catalog list | catalog validate | ingest | featurize |
recommend | run``.

Every failure caused by the input exits with status 2 and one line on stderr, never a traceback. pidengine's own
warnings (a sparse table of samples, an uncertified estimate) are one line on stderr too, and leave the exit status
as it is.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import numpy as np

from cli import report as report_command
from cli._parsing import EXIT_BAD_INPUT, OneLineParser, check_output, local_path, storage_location
from pidengine.catalog import DEFAULT_CATALOG, load_catalog
from pidengine.estimators import DISCRETE, get_estimator
from pidengine.exceptions import (
    ConfigError,
    ConvergenceWarning,
    InvalidJointError,
    PIDEngineError,
    SparseTableWarning,
)
from pidengine.io.numpy_files import load_array, load_arrays
from pidengine.io.results import write_atomically
from pidengine.parts import ATOMS, read_parts

if TYPE_CHECKING:
    from pidengine.bootstrap import BootstrapResult
    from pidengine.estimators.base import BasePIDEstimator, PIDResult

# Heavy modules (torch, cvxpy, dask, the data loaders) are imported by the commands that use them, so that
# `pidengine --help` and `catalog list` answer at once.

# Warnings pidengine issues about the input or the estimate, shown like its errors; any other keeps Python's format.
OWN_WARNINGS = (ConvergenceWarning, SparseTableWarning)


def _read_samples(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    arrays = load_arrays(path, ("x1", "x2", "y"))
    labels = np.unique(arrays["y"])
    if labels.size == 1:  # the PID would be 0 bits in every part: a wrong column, more likely than a real answer
        raise InvalidJointError(f"y in {path} has a single value ({labels[0].item()!r}); PID needs samples of at "
                                "least two labels: check that y is the label column")
    return arrays["x1"], arrays["x2"], arrays["y"]


def _format_table(result: PIDResult, title: str, boot: BootstrapResult | None = None) -> str:
    c = result.certificate
    header = f"  {'part':<12}{'bits':>12}"
    if boot is not None:
        header = f"  {'part':<12}{'corrected':>12}{'plug-in':>12}{f'{boot.confidence:.0%} interval':>26}  significant"
    lines = [title, header]
    for name, value in (*result.atoms().items(), ("total", result.total)):
        if boot is None:
            lines.append(f"  {name:<12}{value:>12.6f}")
            continue
        low, high = boot.intervals[name]
        span = f"[{low:.6f}, {high:.6f}]"
        lines.append(f"  {name:<12}{boot.corrected[name]:>12.6f}{value:>12.6f}{span:>26}  "
                     f"{'yes' if boot.significant[name] else 'no'}")
    verdict = "certified" if c.certified else "NOT CERTIFIED"
    lines.append(
        f"certificate: {c.solver} {c.status}, duality gap {c.duality_gap:.1e} bits, "
        f"marginal violation {c.marginal_violation:.1e} -> {verdict}"
    )
    if boot is not None:
        bound = boot.information_lower
        lines.append(f"at least ({boot.confidence:.0%}, one-sided): I(X1;Y) >= {bound['x1']:.6f}, I(X2;Y) >= "
                     f"{bound['x2']:.6f}, I(X1,X2;Y) >= {bound['joint']:.6f} bits")
        lines.append("corrected: the plug-in minus its bootstrap bias; significant: the interval lies above 0"
                     + (f" and the plug-in above {boot.confidence:.0%} of its {len(boot.null)} label permutations"
                        if boot.null is not None else ""))
    return "\n".join(lines)


def _estimator_from(args: argparse.Namespace) -> BasePIDEstimator:
    options: dict[str, object] = {} if args.tol is None else {"tol": args.tol}
    if args.progress and not args.bootstrap:  # with --bootstrap the bar counts the resamples instead
        if args.estimator not in ("auto", "exact"):
            raise ConfigError(f"--progress applies only to --estimator exact, not {args.estimator!r}")
        options["progress"] = True
    solver_options = {"solver": args.solver, "fallback_solver": args.fallback_solver}
    given = {key: value for key, value in solver_options.items() if value}
    if given and args.estimator != "cvxpy":
        flags = ", ".join("--" + key.replace("_", "-") for key in given)
        verb = "applies" if len(given) == 1 else "apply"
        raise ConfigError(f"{flags} {verb} only to --estimator cvxpy, not {args.estimator!r}")
    return get_estimator(args.estimator, **options, **given)


def _cmd_pid(args: argparse.Namespace) -> int:
    from pidengine.bootstrap import bootstrap_pid
    from pidengine.joint import joint_from_samples

    for path, suffixes in ((args.out, (".csv", ".json")), (args.plot, (".png",))):
        if path is not None:  # checked before the work, which may be long
            check_output(path, suffixes)
    estimator = _estimator_from(args)
    if args.bootstrap and args.samples is None:
        raise ConfigError("--bootstrap resamples rows of samples: use it with --samples, not --joint")
    boot = None
    if args.joint is not None:
        result = estimator.estimate(load_array(args.joint))
        source = args.joint
        payload = result.to_dict()
    elif args.bootstrap:
        boot = bootstrap_pid(
            *_read_samples(args.samples), n_resamples=args.bootstrap, n_permutations=args.permutations,
            estimator=estimator, random_state=args.seed, progress=args.progress or sys.stderr.isatty(),
        )
        result, source, payload = boot.estimate, args.samples, boot.to_dict()
    else:
        table = joint_from_samples(*_read_samples(args.samples))
        result = estimator.estimate(table.pmf, n_samples=table.n_samples)
        source = args.samples
        payload = result.to_dict()
    if args.out is not None:
        _write_table(args.out, payload, source)
    if args.plot is not None:
        from pidengine.report import RunRecord, pid_figure

        record = RunRecord(Path(source).name, result.estimator, "ok", payload)
        write_atomically(args.plot, lambda path: pid_figure([record]).savefig(path, dpi=110, format="png"))
    if args.json:
        print(json.dumps(payload))
    else:
        shape = " x ".join(str(n) for n in result.q.shape)
        samples = f", {result.n_samples} samples" if result.n_samples else ""
        resamples = f", {args.bootstrap} bootstrap resamples" if boot is not None else ""
        title = f"PID of {source} ({shape}{samples}{resamples}), estimator {result.estimator}"
        print(_format_table(result, title, boot))
    return 0


def _write_table(path: Path, payload: dict, source: Path) -> None:
    """The PID table (a row per part with its interval, shuffled floor and significance where computed) as CSV, or
    as JSON with every figure of the estimate, chosen by the file's suffix."""
    from pidengine.report import pid_table, to_csv

    rows = pid_table(payload)
    if path.suffix == ".csv":
        text = to_csv(rows)
    else:
        text = json.dumps({"source": str(source), "units": "bits", "table": rows, "values": payload}, indent=2)
    write_atomically(path, text)


def _cmd_examples(args: argparse.Namespace) -> int:
    from pidengine.datasets.canonical import CANONICAL

    estimator = get_estimator(args.estimator)
    rows = []
    for example in CANONICAL.values():
        result = estimator.estimate(example.pmf)
        expected = example.expected()
        error = max(abs(getattr(result, key) - expected[key]) for key in expected)
        rows.append((example, result, error))
    if args.json:
        print(json.dumps([{"name": ex.name, **res.to_dict(), "max_abs_error_bits": err} for ex, res, err in rows]))
        return 0
    header = f"{'joint':<10}{'description':<28}" + "".join(f"{k:>12}" for k in (*ATOMS, "total"))
    print(f"PID of textbook joints (bits), estimator {estimator.name}; error = max |estimate - closed form|")
    print(header + f"{'error':>10}")
    for ex, res, err in rows:
        values = "".join(f"{getattr(res, k):>12.6f}" for k in (*ATOMS, "total"))
        print(f"{ex.name:<10}{ex.description:<28}{values}{err:>10.1e}")
    return 0


def _cmd_catalog_list(args: argparse.Namespace) -> int:
    from pidengine.io.store import STAGES, DatasetStore

    catalog = load_catalog(args.catalog)
    print(f"stores under {args.data_dir}/ ('-': not ingested)")
    print(f"{'dataset':<26}{'stores':<12}{'samples':>8}{'labels':>7}  {'source':<18}{'modalities':<44}description")
    for entry in catalog.entries.values():
        store = DatasetStore(args.data_dir, entry.name)
        stores = " ".join(stage for stage in STAGES if store.exists(stage)) or "-"
        raw = store.describe("raw") or {}
        samples, labels = raw.get("sample", "-"), raw.get("labels") or "-"
        modalities = " | ".join(entry.modalities)
        print(f"{entry.name:<26}{stores:<12}{samples:>8}{labels:>7}  {entry.source.kind:<18}{modalities:<44}"
              f"{entry.description}")
    for name in catalog.errors:
        print(f"{name:<26}{'INVALID':<18}(see `pidengine catalog validate`)")
    return 0


def _cmd_catalog_validate(args: argparse.Namespace) -> int:
    catalog = load_catalog(args.catalog)
    problems = dict(catalog.errors)
    for entry in catalog.entries.values():
        try:
            entry.check(catalog.base)
        except ConfigError as exc:
            problems[entry.name] = str(exc)
    for name, message in problems.items():
        print(f"{catalog.path}: {name}: {message}", file=sys.stderr)
    n_total = len(catalog.entries) + len(catalog.errors)
    print(f"{catalog.path}: {n_total - len(problems)} of {n_total} entries valid")
    return EXIT_BAD_INPUT if problems else 0


def _run_stages(args: argparse.Namespace, stages: tuple[str, ...]) -> int:
    """Run data stages per selected entry; one broken dataset does not stop the others (exit 2 at the end)."""
    from dask.diagnostics import ProgressBar

    from pidengine import stages as data_stages

    catalog = load_catalog(args.catalog)
    entries = catalog.select(args.only)
    failures = {} if args.only else dict(catalog.errors)
    for number, entry in enumerate(entries, 1):
        try:
            with ProgressBar(minimum=5.0, out=sys.stderr) if sys.stderr.isatty() else contextlib.nullcontext():
                for stage in stages:
                    if stage == "encode" and not entry.encode:
                        continue
                    if stage == "ingest":
                        report = data_stages.ingest(entry, args.data_dir, catalog.base)
                    else:
                        report = getattr(data_stages, stage)(entry, args.data_dir)
                    print(f"[{number}/{len(entries)}] {report}", flush=True)
        except Exception as exc:  # one broken dataset, whatever broke it, does not stop the others
            failures[entry.name] = _one_line(exc)
            print(f"[{number}/{len(entries)}] {entry.name}: FAILED: {failures[entry.name]}", flush=True)
    for name, message in failures.items():
        print(f"pidengine: error: {name}: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT if failures else 0


def _cmd_ingest(args: argparse.Namespace) -> int:
    return _run_stages(args, ("ingest",))


def _cmd_featurize(args: argparse.Namespace) -> int:
    return _run_stages(args, ("encode", "featurize"))


def _add_catalog_arguments(parser: argparse.ArgumentParser, data_dir: bool = True) -> None:
    parser.add_argument(
        "--catalog", type=local_path, default=DEFAULT_CATALOG, metavar="FILE",
        help="catalog file (default: %(default)s)",
    )
    if data_dir:
        _add_data_dir(parser)
        parser.add_argument("--only", nargs="+", metavar="NAME", help="only these datasets (default: all)")


def _cmd_recommend(args: argparse.Namespace) -> int:
    """Nearest reference datasets by normalised PID and their best families (:mod:`pidengine.selection`)."""
    from pidengine.io.store import DatasetStore
    from pidengine.quantify import quantify
    from pidengine.selection import (
        TIE_TOLERANCE,
        find_reference,
        normalized_pid,
        part_spread,
        pid_free_families,
        recommend,
    )

    if args.plot is not None:
        check_output(args.plot, (".png",))
    moved = [name for name in args.reference or () if name.endswith(".json") or Path(name).exists()]
    if moved:  # --reference took the table file until it named reference datasets, as in `pidengine run`
        raise ConfigError(f"--reference names reference datasets; give the table file {moved[0]} with "
                          "--reference-table")
    DatasetStore(args.data_dir, args.dataset).open("codes")  # an unknown or unfeaturised dataset is named first
    table, table_file = find_reference(args.data_dir, args.reference_table)
    if args.reference:
        table = table.restricted_to(args.reference)
    # The pipeline's exact estimate with its defaults: the reference table's PIDs were computed the same way.
    outcome = quantify(args.data_dir, args.dataset, "exact")
    pid = outcome.parts()
    significant = {part: bool(read_parts(outcome.values)[part].significant) for part in ATOMS}
    result = recommend(args.dataset, pid, table, args.top_k, significant=significant,
                       spread=part_spread(outcome.values))
    nearest = next(row for row in table.rows if row.dataset == result.nearest)
    if args.plot is not None:
        from pidengine.report import selection_figure

        figure = selection_figure({row.dataset: row.compared() for row in table.rows if row.placed},
                                  {args.dataset: result.compared},
                                  {args.dataset: result.nearest})
        write_atomically(args.plot, lambda path: figure.savefig(path, dpi=110, format="png"))
    if args.json:
        print(json.dumps({"dataset": args.dataset, "pid_bits": pid, "significant": significant,
                          "recommended": list(result.families),
                          "support": result.support, "support_draws": result.support_draws,
                          "pid_free": list(pid_free_families(table, args.top_k)),
                          "nearest": result.nearest, "tied": list(result.tied), "distance": result.distance,
                          "neighbours": [{"dataset": n, "distance": d} for n, d in result.neighbours],
                          "nearest_accuracy": nearest.accuracy, "reference_key": table.key,
                          "reference_table": str(table_file)}))
        return 0
    shares = dict(zip(ATOMS, normalized_pid(pid, significant)))
    print(f"{args.dataset}: PID of its codes (exact, bias-corrected, {outcome.n_samples} samples), bits and share "
          "of R+U1+U2+S; * = not significant (its interval does not clear the null)")
    print("  " + "   ".join(f"{part} {pid[part]:.3f}{'' if significant[part] else '*'} ({shares[part]:.0%})"
                            for part in ATOMS))
    print(f"\nNearest reference datasets (L1 distance of the shares; reference table {table_file}, key {table.key}):")
    for name, distance in result.neighbours[: args.neighbours]:
        print(f"  {name:<26}{distance:.3f}")
    pooled = (f" pooled with the {len(result.tied)} references as near ({', '.join(result.tied)}: accuracies "
              "relative to each one's best, averaged)" if result.tied else "")
    print(f"\nRecommended families (best on {result.nearest}{pooled}, test accuracy on {result.nearest}; families "
          f"within {TIE_TOLERANCE} of each other count as tied, and a tie goes to the family stronger over the whole "
          "table):")
    for rank, family in enumerate(result.families, 1):
        print(f"  {rank}. {family:<20}{nearest.accuracy[family]:.3f}")
    if result.support is None:
        print("support: none (the PID has no intervals to draw from)")
    else:
        agreeing = round(result.support * result.support_draws)
        print(f"support: {result.support:.0%} ({agreeing} of {result.support_draws} draws of the PID within its "
              "intervals give these families)")
    print(f"\nWithout PID (the {args.top_k} families strongest over the whole reference table): "
          f"{', '.join(pid_free_families(table, args.top_k))}")
    return 0


def _add_data_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir", type=storage_location, default="data", metavar="DIR|URL",
        help="store root: a folder or a storage URL such as s3://bucket/pid (default: %(default)s)"
    )


def _cmd_report(args: argparse.Namespace) -> int:
    return report_command.run(args)


def _cmd_run(args: argparse.Namespace, arguments: Sequence[str]) -> int:
    """The pipeline: Prefect, Dask and MLflow are imported for this command only."""
    from cli import run

    return run.run(run.build_parser().parse_args(arguments))


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="pidengine",
        description="Partial Information Decomposition (redundancy, uniqueness, synergy; in bits).",
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    estimators = ["auto", *DISCRETE]

    pid = sub.add_parser("pid", help="PID of one discrete joint distribution or one set of samples")
    source = pid.add_mutually_exclusive_group(required=True)
    source.add_argument("--joint", type=local_path, metavar="FILE.npy", help="array of shape |X1| x |X2| x |Y|")
    source.add_argument(
        "--samples", type=local_path, metavar="FILE.npz",
        help="arrays x1, x2, y of discrete samples (integer codes, strings or booleans; not continuous floats)",
    )
    pid.add_argument("--estimator", choices=estimators, default="auto", help="default: %(default)s")
    pid.add_argument("--solver", help="with --estimator cvxpy: the cvxpy solver (default: CLARABEL)")
    pid.add_argument("--fallback-solver", help="second cvxpy solver, tried only if the first fails")
    pid.add_argument(
        "--tol", type=float, help="largest accepted duality gap in bits (default: 1e-7 for exact, 1e-6 for cvxpy)"
    )
    pid.add_argument(
        "--bootstrap", type=int, default=0, metavar="N",
        help="with --samples: N resamples for a bias-corrected estimate, 95%% intervals and significance",
    )
    pid.add_argument(
        "--permutations", type=int, default=100, metavar="N",
        help="with --bootstrap: label permutations a significant part must exceed (%(default)s; 0: none)",
    )
    pid.add_argument("--seed", type=int, default=0, help="seed of the bootstrap resampling (%(default)s)")
    pid.add_argument(
        "--progress", action="store_true",
        help="show a bar on stderr: the exact estimator's way to its tolerance (large joints), or with --bootstrap "
        "the resamples and permutations done and the time left (shown anyway when stderr is a terminal)",
    )
    pid.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    pid.add_argument("--out", type=local_path, metavar="FILE.csv|FILE.json",
                     help="also write the table (intervals, shuffled floor, significance where computed)")
    pid.add_argument("--plot", type=local_path, metavar="FILE.png",
                     help="also draw the parts, with intervals and shuffled floor where computed")
    pid.set_defaults(func=_cmd_pid)

    examples = sub.add_parser("examples", help="PID of textbook joints (AND, OR, XOR, ...) against closed forms")
    examples.add_argument("--estimator", choices=estimators, default="auto", help="default: %(default)s")
    examples.add_argument("--json", action="store_true", help="print JSON instead of a table")
    examples.set_defaults(func=_cmd_examples)

    catalog = sub.add_parser("catalog", help="list or validate the datasets of a data catalog")
    catalog_sub = catalog.add_subparsers(dest="catalog_command", required=True, parser_class=OneLineParser)
    listing = catalog_sub.add_parser(
        "list", help="one line per dataset: its stores under the data folder, samples, labels, source, description")
    _add_catalog_arguments(listing)
    listing.set_defaults(func=_cmd_catalog_list)
    validate = catalog_sub.add_parser(
        "validate", help="check every entry (schema, files, data packages); exit 2 if any is broken"
    )
    _add_catalog_arguments(validate, data_dir=False)
    validate.set_defaults(func=_cmd_catalog_validate)

    ingest = sub.add_parser("ingest", help="write each dataset's versioned Zarr store (unchanged sources are skipped)")
    _add_catalog_arguments(ingest)
    ingest.set_defaults(func=_cmd_ingest)
    featurize = sub.add_parser(
        "featurize", help="encode and discretise ingested datasets (codes for the exact estimator)"
    )
    _add_catalog_arguments(featurize)
    featurize.set_defaults(func=_cmd_featurize)

    recommend = sub.add_parser(
        "recommend", help="recommend model families for a featurised dataset from its PID and the reference table"
    )
    recommend.add_argument(
        "--dataset", required=True, metavar="NAME", help="a featurised dataset (see pidengine featurize)"
    )
    _add_data_dir(recommend)
    recommend.add_argument(
        "--reference-table", type=local_path, metavar="FILE",
        help="reference table file or folder (default: the one published last under DATA_DIR/reference by pidengine "
        "run, else the one shipped with pidengine)",
    )
    recommend.add_argument(
        "--reference", nargs="+", metavar="NAME", help="only these reference datasets of the table (default: all)")
    recommend.add_argument("--top-k", type=int, default=3, metavar="K", help="families to recommend (%(default)s)")
    recommend.add_argument(
        "--neighbours", type=int, default=5, metavar="N", help="reference datasets shown (%(default)s)"
    )
    recommend.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    recommend.add_argument("--plot", type=local_path, metavar="FILE.png",
                           help="also draw the dataset and the reference datasets on the triangle of PID shares")
    recommend.set_defaults(func=_cmd_recommend)

    report = sub.add_parser(
        "report", help="print or export the PID results of a tracked run (the latest by default), with intervals, "
        "shuffled floor, significance and truth; draw its figures")
    report_command.add_arguments(report)
    report.set_defaults(func=_cmd_report)

    # Its options are read from the flows' parameters, which import the pipeline: `pidengine run` parses them itself.
    sub.add_parser(
        "run", add_help=False,
        help="the whole pipeline: refresh the catalog, quantify every dataset, train the model zoo, select, "
        "log to MLflow (see pidengine run --help)",
    )
    return parser


def _one_line_warnings(default: Callable[..., None]) -> Callable[..., None]:
    """A ``warnings.showwarning`` that prints :data:`OWN_WARNINGS` as one line on stderr and hands the rest on."""

    def show(
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: TextIO | None = None,
        line: str | None = None,
    ) -> None:
        if issubclass(category, OWN_WARNINGS):
            print(f"pidengine: warning: {' '.join(str(message).split())}", file=sys.stderr)
        else:
            default(message, category, filename, lineno, file, line)

    return show


def _one_line(exc: BaseException) -> str:
    """An error as one line: pidengine's own messages as they are, a settings validation as field: problem, any
    other with its type."""
    if type(exc).__name__ == "ValidationError" and callable(getattr(exc, "errors", None)):  # pydantic's
        return "; ".join(f"{'.'.join(map(str, error['loc']))}: {error['msg']}" for error in exc.errors())
    message = " ".join(str(exc).split())
    return message if isinstance(exc, (PIDEngineError, OSError, ValueError, EOFError)) and message else (
        f"{type(exc).__name__}: {message}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, rest = parser.parse_known_args(argv)
    if rest and args.command != "run":
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    with warnings.catch_warnings():  # restores showwarning on the way out (main also runs inside other programs)
        warnings.showwarning = _one_line_warnings(warnings.showwarning)
        try:
            return _cmd_run(args, rest) if args.command == "run" else args.func(args)
        except BrokenPipeError:  # `pidengine catalog list | head`: the reader has what it wanted
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error when Python flushes
            return 0
        except (PIDEngineError, OSError, ValueError, EOFError) as exc:
            print(f"pidengine: error: {_one_line(exc)}", file=sys.stderr)
            return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
