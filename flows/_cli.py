"""Command line of the flows: ``pidengine run`` and ``python -m flows.<benchmark|quantify|refresh>``.

The arguments are defined in :func:`pidengine.cli.add_run_arguments` (so ``pidengine run --help`` needs no Prefect);
this module turns them into flow parameters, checks the services first, runs the flow and prints the summary.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from typing import Any

from flows import preflight
from flows.params import (
    BenchmarkParams,
    ComputeParams,
    DataParams,
    ModelParams,
    ModelSweepParams,
    QuantifyParams,
    RefreshParams,
    TrackingParams,
)

EXIT_FAILED = 2


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


def params_from_args(args: argparse.Namespace) -> BenchmarkParams:
    from pidengine.models.training import TrainSettings
    from pidengine.quantify import BatchSettings, EstimatorSettings, ExactSettings

    exact = ExactSettings(n_bootstrap=args.bootstrap)
    batch_fields = {"max_epochs": args.batch_epochs, "max_train_samples": args.batch_max_samples,
                    "max_eval_samples": args.batch_max_samples}
    batch = BatchSettings(**{k: v for k, v in batch_fields.items() if v is not None})
    train_fields = {"max_epochs": args.train_epochs, "max_train_samples": args.train_max_samples}
    models = ModelParams(
        train=TrainSettings(**{k: v for k, v in train_fields.items() if v is not None}),
        reference=list(args.reference or []), top_k=args.top_k,
        **({"families": []} if args.no_models else {"families": list(args.families)} if args.families else {}),
    )
    kind = ModelSweepParams if getattr(args, "flow", "benchmark") == "models" else BenchmarkParams
    return kind(
        data=DataParams(catalog=args.catalog, data_dir=args.data_dir, datasets=list(args.datasets or [])),
        **({"estimators": list(args.estimators)} if args.estimators else {}),
        settings=EstimatorSettings(exact=exact, batch=batch),
        compute=ComputeParams(dask_address=args.dask_address, n_workers=args.workers,
                              threads_per_worker=args.threads_per_worker, dashboard=args.dashboard),
        tracking=TrackingParams(tracking_uri=args.tracking_uri, experiment=args.experiment,
                                run_name=args.run_name),
        results_dir=args.results_dir,
        use_cache=not args.no_cache,
        models=models,
    )


def run(args: argparse.Namespace) -> int:
    """Check, run one flow, print its summary and how to browse the results; 2 when a dataset failed."""
    args.tracking_uri = preflight.move_credentials_to_environment(args.tracking_uri)
    params = params_from_args(args)
    # Fail fast, before Prefect starts its server: catalog names, tracking store, Dask scheduler, Prefect API.
    from pidengine.catalog import load_catalog

    load_catalog(params.data.catalog).select(params.data.datasets)
    preflight.check_tracking_uri(preflight.with_credentials(params.tracking.tracking_uri))
    if params.compute.dask_address:
        preflight.check_dask_address(params.compute.dask_address)
    if preflight.check_prefect_api() is None:
        from flows._server_watch import stop_temporary_server_with_this_process

        stop_temporary_server_with_this_process()

    start = time.perf_counter()
    flow, flow_params = _flow_and_params(args.flow, params)
    with interrupts_end_the_flow() as received:
        try:
            state = flow(flow_params, return_state=True)
        except KeyboardInterrupt:
            signum = received[-1] if received else signal.SIGINT
            print(f"pidengine: interrupted ({signal.Signals(signum).name}); the flow's MLflow runs were ended as "
                  "KILLED", file=sys.stderr)
            return 128 + signum
    summary = state.result(raise_on_failure=False)
    if isinstance(summary, BaseException) or summary is None:
        print(f"pidengine: error: the {args.flow} flow crashed: {state.message or summary}", file=sys.stderr)
        return EXIT_FAILED
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
        print(f"Browse the results: mlflow ui --backend-store-uri {_display_uri(args.tracking_uri)}")
    return EXIT_FAILED if summary.failed else 0


def _flow_and_params(kind: str, params: BenchmarkParams) -> tuple[Any, Any]:
    if kind == "refresh":
        from flows.refresh import catalog_refresh

        return catalog_refresh, RefreshParams(data=params.data, compute=params.compute, tracking=params.tracking)
    if kind == "quantify":
        from flows.quantify import quantify_datasets

        return quantify_datasets, QuantifyParams(**{k: getattr(params, k) for k in QuantifyParams.model_fields})
    if kind == "models":
        from flows.models import model_sweep

        return model_sweep, params
    from flows.benchmark import benchmark

    return benchmark, params


def _display_uri(uri: str) -> str:
    uri = preflight.redact(uri)
    return uri if not uri.startswith(("http://", "https://")) else f"{uri}  (or open {uri} in a browser)"


def main(kind: str) -> None:
    """``python -m flows.<kind>``: the arguments of ``pidengine run`` for one flow."""
    from pidengine.cli import _OneLineParser, add_run_arguments
    from pidengine.exceptions import PIDEngineError

    parser = _OneLineParser(prog=f"python -m flows.{kind}", description=sys.modules["__main__"].__doc__,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    add_run_arguments(parser, flow_choice=False)
    args = parser.parse_args()
    args.flow = kind
    try:
        sys.exit(run(args))
    except PIDEngineError as exc:
        print(f"pidengine: error: {' '.join(str(exc).split())}", file=sys.stderr)
        sys.exit(EXIT_FAILED)
