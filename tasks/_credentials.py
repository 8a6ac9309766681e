"""Tracking URIs and their credentials: a password is shown masked (:func:`redact`), travels in the environment
(:func:`move_credentials_to_environment`) and is put back only where an MLflow client is made
(:func:`with_credentials`, called by :func:`tasks.tracking.client`). So flow and task parameters, which Prefect
stores, log lines, and MLflow params and tags hold the masked URI only.

Only the standard library: the command line checks URIs with it before importing Prefect.
"""

from __future__ import annotations

import os
from urllib.parse import unquote, urlsplit, urlunsplit

from pidengine.exceptions import ConfigError

MASK = "***"


def redact(uri: str) -> str:
    """``uri`` with its password, if any, shown as ``***`` (for every message and log line)."""
    parts = urlsplit(uri)
    if parts.password is None:
        return uri
    return urlunsplit(parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", f":{MASK}@", 1)))


def move_credentials_to_environment(uri: str) -> str:
    """``uri`` as flow parameters may hold it: without a password, which goes to the environment instead.

    An MLflow server's ``user:password@`` go to ``MLFLOW_TRACKING_USERNAME`` and ``MLFLOW_TRACKING_PASSWORD``, which
    MLflow's client reads for HTTP basic authentication (variables already set are kept). A database URI with a
    password goes whole to ``MLFLOW_TRACKING_URI`` and comes back masked (``user:***@``); :func:`with_credentials`
    restores it where a client is made. So credentials reach no flow parameter, log line, MLflow param or tag.
    """
    parts = urlsplit(uri)
    if parts.scheme in ("http", "https") and parts.username is not None:
        os.environ.setdefault("MLFLOW_TRACKING_USERNAME", unquote(parts.username))
        if parts.password is not None:
            os.environ.setdefault("MLFLOW_TRACKING_PASSWORD", unquote(parts.password))
        return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))
    if parts.password is None or parts.password == MASK:
        return uri
    os.environ["MLFLOW_TRACKING_URI"] = uri
    return redact(uri)


def with_credentials(uri: str) -> str:
    """A tracking URI whose password is masked, completed from ``MLFLOW_TRACKING_URI`` (the same URI with its
    password); any other URI as it is."""
    if urlsplit(uri).password != MASK:
        return uri
    full = os.environ.get("MLFLOW_TRACKING_URI", "")
    if full and redact(full) == uri:
        return full
    raise ConfigError(
        f"tracking URI {uri} has a masked password; set MLFLOW_TRACKING_URI to the full URI where the flow runs"
    )
