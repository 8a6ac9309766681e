"""A deployment's run with a partial ``--params`` override keeps the settings the deployment customised: Prefect's
own machinery (a deployment on the test server, ``run_deployment``, its engine running the flow run as a worker
does), with the override merged field by field."""

from __future__ import annotations

from mlflow import MlflowClient

from tasks import tracking

CATALOG = """
datasets:
  xor:
    source: {kind: gate, gate: xor, n_samples: 400, seed: 1}
  and:
    source: {kind: gate, gate: and, n_samples: 400, seed: 2}
"""


def test_a_params_override_merges_into_the_deployments_parameters(prefect_harness, tmp_path, monkeypatch):
    from prefect.deployments import run_deployment
    from prefect.flow_engine import run_flow

    from flows.params import ComputeParams, DataParams, RefreshParams, TrackingParams
    from flows.refresh import catalog_refresh

    (tmp_path / "catalog.yaml").write_text(CATALOG)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    customised = RefreshParams(data=DataParams(catalog=tmp_path / "catalog.yaml", data_dir=tmp_path / "data"),
                               compute=ComputeParams(n_workers=1),
                               tracking=TrackingParams(tracking_uri=uri, run_name="customised"))
    catalog_refresh.to_deployment(name="merge-test", parameters={"params": customised.model_dump(mode="json")},
                                  enforce_parameter_schema=True).apply()
    override = {"params": {"data": {"datasets": ["xor"]}}}  # prefect deployment run --params '...'
    flow_run = run_deployment("pidengine-catalog-refresh/merge-test", parameters=override, timeout=0)
    assert flow_run.parameters == override  # Prefect replaces the deployment's `params` whole

    monkeypatch.chdir(tmp_path)  # a default in place of the deployment's setting would read ./data_catalog.yaml
    state = run_flow(catalog_refresh, flow_run=flow_run, parameters=flow_run.parameters, return_type="state")
    assert state.is_completed(), state.message
    (parent,) = MlflowClient(uri).search_runs([tracking.experiment_id(uri, "pidengine-catalog-refresh")])
    assert parent.info.run_name == "customised"  # the deployment's settings
    assert parent.data.params["data.catalog"] == str(tmp_path / "catalog.yaml")
    assert parent.data.params["data.datasets"] == "xor"  # the override's
    assert parent.data.params["compute.n_workers"] == "1"
    assert (tmp_path / "data" / "xor").is_dir() and not (tmp_path / "data" / "and").exists()


def test_the_given_fields_are_laid_over_the_stored_ones_at_every_level():
    from flows._plan import _merged

    stored = {"data": {"catalog": "c.yaml", "datasets": ["a", "b"]}, "settings": {"exact": {"n_bootstrap": 7}},
              "use_cache": True}
    given = {"data": {"datasets": ["x"]}, "settings": {"exact": {"tol": 1e-9}}, "use_cache": False}
    assert _merged(stored, given) == {"data": {"catalog": "c.yaml", "datasets": ["x"]},
                                      "settings": {"exact": {"n_bootstrap": 7, "tol": 1e-9}}, "use_cache": False}
    assert stored["data"]["datasets"] == ["a", "b"]  # the stored parameters are not changed
