"""Prefect (and MLflow) settings the pipeline needs before Prefect is imported (environment variables, only where
unset).

Prefect 3 starts a temporary local API server on first use when no ``PREFECT_API_URL`` is configured. On a loaded
2-core machine it takes ~20 s, which is Prefect's default startup timeout; the names below are Prefect 3's own
(``prefect/settings/models/server/ephemeral.py``, ``server/root.py``, ``telemetry.py``). A value set by the user
(environment or profile) wins: ``setdefault`` only fills gaps.
"""

from __future__ import annotations

import os

DEFAULTS = {
    # Wait up to 2 minutes for the temporary API server instead of 20 s (it can time out under load otherwise).
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
    # No anonymous usage report on server startup (no network here, and it delays startup).
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    # No OS resource-metrics sampling thread in flow-run processes.
    "PREFECT_TELEMETRY_ENABLE_RESOURCE_METRICS": "false",
    # MLflow 3 sends usage telemetry from a background thread unless this is set (mlflow/telemetry/utils.py).
    "MLFLOW_DISABLE_TELEMETRY": "true",
    # Generous API timeouts for the SQLite-backed local server under load.
    "PREFECT_API_REQUEST_TIMEOUT": "120",
}


def configure() -> None:
    for name, value in DEFAULTS.items():
        os.environ.setdefault(name, value)
