"""The README's benchmark headline is the one bench/headline.py generates from the committed raw JSON."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[3]


def _headline_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_headline", ROOT / "bench" / "headline.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_readme_headline_is_generated_from_the_committed_json() -> None:
    headline = _headline_module()
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert headline.block() in readme, "README.md's benchmark headline is stale: run python bench/headline.py --write"


def test_the_headline_carries_the_json_numbers() -> None:
    headline = _headline_module()
    document = json.loads((ROOT / headline.SOURCE).read_text(encoding="utf-8"))
    text = " ".join(headline.render().split())
    script = next(r for r in document["results"] if r["contender"].startswith("pandas"))
    cold = next(r for r in document["results"] if "(cold" in r["contender"])
    assert f"{script['seconds']:.1f} s" in text and f"{cold['seconds']:.1f} s" in text
    assert f"{script['seconds'] / cold['seconds']:.1f}x cold" in text
