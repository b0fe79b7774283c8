"""The reference profile's fingerprint is stored in its cached document and never changes value.

Accumulator states, stored step profiles, shard plans and the segments cache all carry the fingerprint; a
changed value would make every stored state a mismatch and rebuild them. ``legacy_profile_v2.json`` is a
small profile (60 rows, 16 edges per numeric column) in the format cached before the fingerprint was
stored; the evaluator of commit 0f7a948 gives it the fingerprint ``e271586315c4c329``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from modelmonitor.evaluator.stats import ReferenceProfile

LEGACY = Path(__file__).with_name("legacy_profile_v2.json")
LEGACY_FINGERPRINT = "e271586315c4c329"


def legacy_document() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(LEGACY.read_text())
    return document


def test_a_document_cached_before_the_fingerprint_was_stored_keeps_its_value() -> None:
    document = legacy_document()
    assert "fingerprint" not in document
    profile = ReferenceProfile.from_dict(document)
    assert profile.fingerprint == LEGACY_FINGERPRINT


def test_the_cached_document_carries_the_same_value_and_a_reload_does_not_compute_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    written = ReferenceProfile.from_dict(legacy_document()).to_dict()
    assert written["fingerprint"] == LEGACY_FINGERPRINT
    assert {key: value for key, value in written.items() if key != "fingerprint"} == legacy_document()

    def serialise_again(self: ReferenceProfile) -> dict[str, Any]:
        raise AssertionError("the fingerprint was computed again instead of read from the document")

    reloaded = json.loads(json.dumps(written, allow_nan=False))  # as written to and read from the cache
    with monkeypatch.context() as patched:
        patched.setattr(ReferenceProfile, "_content", serialise_again)
        assert ReferenceProfile.from_dict(reloaded).fingerprint == LEGACY_FINGERPRINT
    assert ReferenceProfile.from_dict(reloaded).to_dict() == written


def test_a_freshly_built_profile_stores_the_digest_of_its_content() -> None:
    profile = ReferenceProfile.from_dict(legacy_document())
    profile._fingerprint = None  # as build_reference_profile leaves it
    profile.rows += 1  # another content: another fingerprint
    document = profile.to_dict()
    assert document["fingerprint"] == profile.fingerprint != LEGACY_FINGERPRINT
    document.pop("fingerprint")
    assert ReferenceProfile.from_dict(document).fingerprint == profile.fingerprint


@pytest.mark.parametrize("stored", [None, 42, "", "E271586315C4C329", "e271586315c4c32", "not-a-fingerprint!"])
def test_a_malformed_stored_fingerprint_is_computed_again(stored: object) -> None:
    document = dict(legacy_document(), fingerprint=stored)
    assert ReferenceProfile.from_dict(document).fingerprint == LEGACY_FINGERPRINT


def test_the_written_json_is_the_document_and_a_fresh_profile_gets_the_same_fingerprint_either_way() -> None:
    profile = ReferenceProfile.from_dict(legacy_document())
    assert json.loads(profile.to_json()) == profile.to_dict()
    profile._fingerprint = None  # as build_reference_profile leaves it
    profile.rows += 1
    written = json.loads(profile.to_json())
    profile._fingerprint = None
    assert written == profile.to_dict()
    assert written["fingerprint"] == profile.fingerprint != LEGACY_FINGERPRINT


def test_a_content_that_json_cannot_carry_is_refused() -> None:
    profile = ReferenceProfile.from_dict(legacy_document())
    profile.decision_threshold = float("nan")
    with pytest.raises(ValueError, match="JSON compliant"):
        profile.to_json()
