"""The evaluation config: an owned ConfigMap holding ``config.json`` (docs/contracts.md §1).

One ConfigMap serves every run of the CronJob, so it holds nothing run-specific (the run id comes from the
Job name through the downward API). It holds the typed spec the operator validated, with every default filled
in (``dump_spec``), so the evaluator reads exactly what the operator read (``parse_spec`` of it gives the same
``MonitorSpec``); it names Secrets but never contains a secret value. The JSON is rendered with sorted keys
so an unchanged spec gives an unchanged ConfigMap (no needless updates).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from modelmonitor.api import API_VERSION, MonitorSpec, dump_spec
from modelmonitor.manifests.metadata import config_map_name, monitor_metadata_field, object_metadata

__all__ = ["CONFIG_FILE", "CONFIG_KEY", "CONFIG_MOUNT_PATH", "build_config", "build_config_map"]

CONFIG_KEY = "config.json"
CONFIG_MOUNT_PATH = "/etc/modelmonitor"
CONFIG_FILE = f"{CONFIG_MOUNT_PATH}/{CONFIG_KEY}"


def build_config(monitor: Mapping[str, Any], spec: MonitorSpec) -> dict[str, Any]:
    """The content of ``config.json``: the monitor's identity, its typed spec, and where to write output."""
    config: dict[str, Any] = {
        "apiVersion": API_VERSION,
        "monitor": {
            "namespace": monitor_metadata_field(monitor, "namespace"),
            "name": monitor_metadata_field(monitor, "name"),
            "uid": monitor_metadata_field(monitor, "uid"),
        },
        "spec": dump_spec(spec),
    }
    if spec.output is not None:
        config["output"] = {"uri": spec.output.uri}
    return config


def build_config_map(monitor: Mapping[str, Any], spec: MonitorSpec) -> dict[str, Any]:
    """The owned ConfigMap ``<monitor>-config`` with the one key ``config.json``."""
    name = config_map_name(monitor_metadata_field(monitor, "name"))
    text = json.dumps(build_config(monitor, spec), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": object_metadata(monitor, name),
        "data": {CONFIG_KEY: text},
    }
