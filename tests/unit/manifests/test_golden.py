"""Golden files: the exact objects built for each sample monitor, reviewed as YAML.

After an intended change, regenerate with ``UPDATE_GOLDEN=1 pytest tests/unit/manifests`` and review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from tests.unit.manifests.builders import SAMPLES, build_all, sample_monitor

GOLDEN = Path(__file__).parent / "golden"


class _ReadableDumper(yaml.SafeDumper):
    """Multi-line strings (the ConfigMap's config.json) as block literals, so the golden files read well."""


def _represent_string(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_ReadableDumper.add_representer(str, _represent_string)


@pytest.mark.parametrize("sample", SAMPLES)
def test_built_objects_equal_the_golden_file(sample: str) -> None:
    built = build_all(sample_monitor(sample))
    golden = GOLDEN / sample.replace("valid-", "objects-")
    rendered = yaml.dump_all(built, Dumper=_ReadableDumper, sort_keys=False, width=120)
    if os.environ.get("UPDATE_GOLDEN") == "1":
        golden.write_text(rendered, encoding="utf-8")
    assert golden.exists(), f"{golden} is missing: run with UPDATE_GOLDEN=1"
    assert list(yaml.safe_load_all(golden.read_text(encoding="utf-8"))) == built
