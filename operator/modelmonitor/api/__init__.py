"""The ModelMonitor resource: its typed spec model, its schema (the single source of the CRD) and readers.

Import from here; the modules behind are private layout:

- ``model``      dataclasses of the spec (``MonitorSpec`` and its parts), enumerations as ``Literal`` types
- ``schema``     the OpenAPI v3 schema with CEL rules, built in Python
- ``crd``        the CustomResourceDefinition and its YAML rendering (``hack/generate_crd.py`` writes it)
- ``parsing``    ``parse_spec``: a spec dict -> ``MonitorSpec``, checked as the API server checks it;
                 ``parse_monitor``: the same for a document with the spec under ``spec:``
- ``rules``      the schema's CEL rules, evaluated for ``parse_spec``
- ``secrets``    ``secret_references``: every Secret a spec names, with its field
- ``display``    ``version_label``: a model version as people see it (``v2``, never ``vv2``)
- ``durations``  ``parse_duration``: "30m" -> ``timedelta``
"""

from modelmonitor.api.crd import API_VERSION, CRD_NAME, GROUP, KIND, PLURAL, VERSION, build_crd, render_crd_yaml
from modelmonitor.api.durations import format_duration, parse_duration
from modelmonitor.api.errors import ApiError, SpecError
from modelmonitor.api.model import (
    AlertChannel,
    AlertPolicy,
    AlertsSpec,
    DataSpec,
    DriftSpec,
    EvaluationSpec,
    MetricThreshold,
    ModelSpec,
    MonitorSpec,
    RollbackSpec,
    RollbackTarget,
)
from modelmonitor.api.parsing import dump_spec, parse_monitor, parse_part, parse_spec, unknown_key_error
from modelmonitor.api.schema import MAX_MONITOR_NAME_LENGTH, monitor_schema, spec_schema, status_schema

__all__ = [
    "API_VERSION",
    "CRD_NAME",
    "GROUP",
    "KIND",
    "MAX_MONITOR_NAME_LENGTH",
    "PLURAL",
    "VERSION",
    "AlertChannel",
    "AlertPolicy",
    "AlertsSpec",
    "ApiError",
    "DataSpec",
    "DriftSpec",
    "EvaluationSpec",
    "MetricThreshold",
    "ModelSpec",
    "MonitorSpec",
    "RollbackSpec",
    "RollbackTarget",
    "SpecError",
    "build_crd",
    "dump_spec",
    "format_duration",
    "monitor_schema",
    "parse_duration",
    "parse_monitor",
    "parse_part",
    "parse_spec",
    "render_crd_yaml",
    "spec_schema",
    "status_schema",
    "unknown_key_error",
]
