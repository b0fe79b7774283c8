"""Model registries: which version is in service, and evaluation results written back.

``mlflow`` is a small REST client of an MLflow tracking server (no ``mlflow`` package: it weighs ~850 MB);
``runs`` turns an evaluation summary into an MLflow run and model-version tags, logged once; ``errors`` is the
exception tree. The operator's use of them (resolve before recording, log after) is in
:mod:`modelmonitor.services.registry`; moving an alias as a rollback is :mod:`modelmonitor.rollback.mlflow_alias`.
"""

from modelmonitor.registry.errors import (
    RegistryConfigError,
    RegistryError,
    RegistryNotFound,
    RegistryRefused,
    RegistryUnauthorized,
    RegistryUnreachable,
)
from modelmonitor.registry.mlflow import MlflowClient, MlflowCredentials, ModelVersion, OutboundCheck

__all__ = [
    "MlflowClient",
    "MlflowCredentials",
    "ModelVersion",
    "OutboundCheck",
    "RegistryConfigError",
    "RegistryError",
    "RegistryNotFound",
    "RegistryRefused",
    "RegistryUnauthorized",
    "RegistryUnreachable",
]
