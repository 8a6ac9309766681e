"""``pidengine run``: one of the pipeline's flows, checked, run and summarised.

Each option sets fields of the flow's parameters (:mod:`flows.params`), and its type, default, bounds and choices
are read from there: only the options given are passed on, so every default lives in the parameters alone and the
help cannot drift from what runs.
"""

from __future__ import annotations

import argparse
import importlib
import json
import signal
import sys
import time
import types
import typing
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from cli._parsing import EXIT_BAD_INPUT, OneLineParser, local_path
from flows import preflight
from flows.params import BenchmarkParams, ModelSweepParams, QuantifyParams, RefreshParams
from pidengine.exceptions import ConfigError, PIDEngineError

# Each flow: its parameters, and its function as "module:function", imported when it runs (Prefect loads for the
# flow only, never for the help).
FLOWS: dict[str, tuple[type[BaseModel], str]] = {
    "benchmark": (BenchmarkParams, "flows.benchmark:benchmark"),
    "quantify": (QuantifyParams, "flows.quantify:quantify_datasets"),
    "models": (ModelSweepParams, "flows.models:model_sweep"),
    "refresh": (RefreshParams, "flows.refresh:catalog_refresh"),
}
DEFAULT_FLOW = "benchmark"


@dataclass(frozen=True)
class Option:
    """A command-line option and the parameter fields (dotted paths) it sets; the first field gives its type,
    default and bounds. A switch (``const`` set) stores ``const`` in its fields when given."""

    flags: tuple[str, ...]
    fields: tuple[str, ...]
    help: str
    metavar: str | None = None
    const: Any = None

    @property
    def dest(self) -> str:
        return self.flags[0].lstrip("-").replace("-", "_")


OPTIONS = (
    Option(("--catalog",), ("data.catalog",), "catalog file", "FILE"),
    Option(("--data-dir",), ("data.data_dir",), "store root: a folder, or a storage URL such as s3://bucket/pid "
           "(credentials from the environment)", "DIR|URL"),
    Option(("--datasets", "--only"), ("data.datasets",), "only these catalog entries (default: all valid ones)",
           "NAME"),
    Option(("--estimators",), ("estimators",), "estimators to run: exact (discrete, on the codes), batch and "
           "crossfit (continuous features; crossfit: codes learned from the label, bias-corrected, with a "
           "significance flag)", "NAME"),
    Option(("--tracking-uri",), ("tracking.tracking_uri",), "MLflow tracking URI (a relative sqlite path is in the "
           "working directory)", "URI"),
    Option(("--experiment",), ("tracking.experiment",), "MLflow experiment (default: one per flow kind)", "NAME"),
    Option(("--run-name",), ("tracking.run_name",), "name of the parent MLflow run (default: the flow and its start "
           "time, 'benchmark 2026-11-30 04:12')", "NAME"),
    Option(("--dask-address",), ("compute.dask_address",), "run tasks on this Dask scheduler (default: a local "
           "cluster)", "tcp://HOST:8786"),
    Option(("--workers",), ("compute.n_workers",), "local Dask worker processes", "N"),
    Option(("--threads-per-worker",), ("compute.threads_per_worker",), "threads per worker", "N"),
    Option(("--no-workers-timeout",), ("compute.no_workers_timeout",), "fail the run when the Dask cluster has had "
           "no worker for this many seconds, at the start or later", "SECONDS"),
    Option(("--dashboard",), ("compute.dashboard",), "serve the local cluster's Dask dashboard on "
           "http://127.0.0.1:8787 (off by default)", const=True),
    Option(("--results-dir",), ("results_dir",), "the signed result cache: a folder or a storage URL", "DIR|URL"),
    Option(("--no-cache",), ("use_cache",), "recompute every estimate (and refresh the cache)", const=False),
    Option(("--bootstrap",), ("settings.exact.n_bootstrap",), "bootstrap resamples of the exact estimate (0: none)",
           "N"),
    Option(("--batch-epochs",), ("settings.batch.max_epochs",), "BATCH: most classifier epochs", "N"),
    Option(("--batch-max-samples",), ("settings.batch.max_train_samples", "settings.batch.max_eval_samples"),
           "BATCH: most train and test samples", "N"),
    Option(("--families",), ("models.families",), "model families of the sweep (default: all nine of the zoo, "
           "see docs/models.md)", "NAME"),
    Option(("--no-models",), ("models.families",), "skip the model sweep and selection", const=()),
    Option(("--train-epochs",), ("models.train.max_epochs",), "models: most training epochs", "N"),
    Option(("--train-max-samples",), ("models.train.max_train_samples",), "models: most training samples per "
           "dataset", "N"),
    Option(("--reference",), ("models.reference",), "reference datasets of model selection (default: the synthetic "
           "entries of the catalog)", "NAME"),
    Option(("--reference-table",), ("models.reference_table",), "select with this saved reference table (a file, or "
           "a folder holding reference.json) instead of building one (default: built from the reference datasets; "
           "with none, the table published last under DATA_DIR/reference, else the one shipped with pidengine)",
           "FILE"),
    Option(("--top-k",), ("models.top_k",), "families recommended per dataset", "K"),
)
EXCLUSIVE = (("--families", "--no-models"), ("--reference", "--reference-table"))


def field_at(model: type[BaseModel], path: str) -> FieldInfo | None:
    """The field a dotted path names in ``model`` and its nested models, or None where ``model`` has no such field."""
    owner = _owner(model, path)
    return owner[0].model_fields[owner[1]] if owner else None


def _owner(model: type[BaseModel], path: str) -> tuple[type[BaseModel], str] | None:
    """The (nested) model that holds the field a dotted path names, and the field's name."""
    *parents, name = path.split(".")
    for parent in parents:
        if parent not in model.model_fields:
            return None
        model = model.model_fields[parent].annotation
    return (model, name) if name in model.model_fields else None


def _default(field: FieldInfo) -> Any:
    return field.get_default(call_default_factory=True)


def _shown(value: Any) -> str:
    return " ".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)


def _bounds(model: type[BaseModel], path: str) -> str:
    """The bounds of a field as the flows' parameter schema states them: a ``Field(ge=...)`` of the parameters, or
    an estimator's own bounds, which the estimator settings carry (:mod:`pidengine.quantify`)."""
    owner = _owner(model, path)
    if owner is None:
        return ""
    schema = owner[0].model_json_schema()["properties"][owner[1]]
    words = {"minimum": "at least", "exclusiveMinimum": "above", "maximum": "at most", "exclusiveMaximum": "below"}
    return ", ".join(f"{word} {schema[keyword]}" for keyword, word in words.items() if keyword in schema)


def _help(option: Option) -> str:
    """The option's help, then the default of every flow that has the field (where they differ) and its bounds."""
    notes = []
    if option.const is None and "default:" not in option.help:
        defaults: dict[str, list[str]] = {}
        for flow, (params, _) in FLOWS.items():
            field = field_at(params, option.fields[0])
            if field is not None and _default(field) is not None:
                defaults.setdefault(_shown(_default(field)), []).append(flow)
        shown = list(defaults.items())
        if shown:
            notes.append("default: " + "; ".join(
                value if i == 0 else f"{value} with --flow {' / '.join(flows)}" for i, (value, flows) in
                enumerate(shown)))
    bounds = _bounds(BenchmarkParams, option.fields[0])
    if bounds:
        notes.append(bounds)
    text = option.help + (f" ({'; '.join(notes)})" if notes else "")
    return text.replace("%", "%%")


def _argument_kwargs(field: FieldInfo) -> dict[str, Any]:
    """argparse's type, nargs and choices for a field's annotation (int, float, str, Path, their optionals, lists,
    lists of literals)."""
    annotation = field.annotation
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        annotation = next(arg for arg in typing.get_args(annotation) if arg is not type(None))
    kwargs: dict[str, Any] = {}
    if typing.get_origin(annotation) is list:
        kwargs["nargs"] = "+"
        (annotation,) = typing.get_args(annotation)
    if typing.get_origin(annotation) is typing.Literal:
        kwargs["choices"] = list(typing.get_args(annotation))
        return kwargs
    kwargs["type"] = local_path if annotation is Path else annotation
    return kwargs


def build_parser(prog: str = "pidengine run") -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog=prog,
        description="Run the pipeline as Prefect flows on Dask: every (dataset, estimator) PID, every (dataset, model "
        "family) with its model PID, and model selection, logged to MLflow.",
    )
    parser.add_argument(
        "--flow", choices=list(FLOWS), default=DEFAULT_FLOW,
        help="benchmark: ingest + featurise + estimate + model sweep and selection (default); quantify: featurise "
        "+ estimate; models: featurise + exact PID + model sweep and selection; refresh: ingest",
    )
    groups: dict[str, Any] = {}
    for flags in EXCLUSIVE:
        groups.update(dict.fromkeys(flags, parser.add_mutually_exclusive_group()))
    for option in OPTIONS:
        kwargs: dict[str, Any] = {"dest": option.dest, "default": argparse.SUPPRESS, "help": _help(option)}
        if option.const is not None:
            kwargs.update(action="store_const", const=option.const)
        else:
            kwargs.update(metavar=option.metavar, **_argument_kwargs(field_at(BenchmarkParams, option.fields[0])))
        groups.get(option.flags[0], parser).add_argument(*option.flags, **kwargs)
    parser.add_argument("--json", action="store_true", help="print the records as JSON instead of a table")
    return parser


def parameters(args: argparse.Namespace) -> BaseModel:
    """The flow's parameters from the options given; a value the parameters refuse is named by its option."""
    given = [option for option in OPTIONS if hasattr(args, option.dest)]
    nested: dict[str, Any] = {}
    for option in given:
        value = getattr(args, option.dest)
        if option.dest == "tracking_uri":  # a password goes to the environment, never into the parameters
            value = preflight.move_credentials_to_environment(value)
        for path in option.fields:
            *parents, name = path.split(".")
            level = nested
            for parent in parents:
                level = level.setdefault(parent, {})
            level[name] = list(value) if isinstance(value, (list, tuple)) else value
    try:
        return FLOWS[args.flow][0].model_validate(nested)
    except ValidationError as exc:
        raise ConfigError("; ".join(_explain(error, given, args.flow) for error in exc.errors())) from None


def _explain(error: Any, given: Sequence[Option], flow: str) -> str:
    location = ".".join(str(part) for part in error["loc"] if not isinstance(part, int))
    flags = [option.flags[0] for option in given
             if location and any(path == location or path.startswith(location + ".") for path in option.fields)]
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        return f"{', '.join(flags) or location} does not apply to --flow {flow}"
    return f"{', '.join(flags)}: {message}" if flags else message


@contextmanager
def interrupts_end_the_flow() -> Iterator[list[int]]:
    """SIGTERM interrupts the flow as Ctrl-C does (Python's default would end the process at once, leaving the
    flow's MLflow runs RUNNING): both raise KeyboardInterrupt in the flow, whose runs are then ended as KILLED.
    Yields the list that receives the signal's number."""
    received: list[int] = []

    def interrupt(signum: int, frame: Any) -> None:
        received.append(signum)
        raise KeyboardInterrupt(signal.Signals(signum).name)

    previous = {signum: signal.signal(signum, interrupt) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield received
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def run(args: argparse.Namespace) -> int:
    """Check, run one flow, print its summary and how to browse the results; 2 when a dataset failed."""
    params = parameters(args)
    # Fail fast, before Prefect starts its server: catalog names, tracking store, Prefect API (one a remote cluster's
    # workers reach), Dask scheduler.
    from pidengine.catalog import load_catalog

    load_catalog(params.data.catalog).select(params.data.datasets)
    preflight.check_tracking_uri(preflight.with_credentials(params.tracking.tracking_uri))
    api_url = preflight.check_prefect_api()
    preflight.check_cluster_api(params.compute.dask_address, api_url)
    if params.compute.dask_address:
        preflight.check_dask_address(params.compute.dask_address,
                                     wait_for_workers=params.compute.no_workers_timeout,
                                     notify=lambda line: print(f"pidengine: {line}", file=sys.stderr))
    if api_url is None:
        from flows._server_watch import stop_temporary_server_with_this_process

        stop_temporary_server_with_this_process()

    start = time.perf_counter()
    with interrupts_end_the_flow() as received:
        try:
            state = _flow(args.flow)(params, return_state=True)
        except KeyboardInterrupt:
            signum = received[-1] if received else signal.SIGINT
            print(f"pidengine: interrupted ({signal.Signals(signum).name}); the flow's MLflow runs were ended as "
                  "KILLED", file=sys.stderr)
            return 128 + signum
    summary = state.result(raise_on_failure=False)
    if isinstance(summary, PIDEngineError):  # a service that stopped answering, a cluster without workers: one line
        raise summary
    if isinstance(summary, BaseException) or summary is None:
        print(f"pidengine: error: the {args.flow} flow crashed: {state.message or summary}", file=sys.stderr)
        return EXIT_BAD_INPUT
    elapsed = time.perf_counter() - start
    if args.json:
        print(json.dumps({"records": [asdict(r) for r in summary.records], "failed": summary.failed,
                          "parent_run_id": summary.parent_run_id, "tracking_uri": summary.tracking_uri,
                          "seconds": elapsed}, default=str))
    else:
        print()
        print(summary.table())
        for stage in summary.stages:
            if stage.error:
                print(f"  {stage.dataset}: {stage.stage} FAILED: {stage.error}")
        print(f"\n{args.flow} flow finished in {elapsed:.1f} s ({state.name}); MLflow experiment "
              f"{summary.experiment!r}, parent run {summary.parent_run_id}")
        print(f"Browse the results: mlflow ui --backend-store-uri {_display_uri(params.tracking.tracking_uri)}")
    return EXIT_BAD_INPUT if summary.failed else 0


def _flow(kind: str) -> Any:
    module, _, function = FLOWS[kind][1].partition(":")
    return getattr(importlib.import_module(module), function)


def _display_uri(uri: str) -> str:
    uri = preflight.redact(uri)
    return uri if not uri.startswith(("http://", "https://")) else f"{uri}  (or open {uri} in a browser)"
