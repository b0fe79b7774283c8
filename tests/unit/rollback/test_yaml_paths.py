"""One scalar of a YAML file changed by path, every other byte kept; what cannot be changed safely is refused."""

from __future__ import annotations

import pytest

from modelmonitor.rollback.yaml_paths import YamlPathError, read_yaml_value, set_yaml_value

VALUES = """# credit-model
sidecar:
  image:
    tag: "9"
image:
  repository: registry.local/credit  # where it lives
  tag: "2"   # the model version
  pullPolicy: IfNotPresent
plain:
  tag: v2
"""


def test_only_the_value_at_the_path_changes_with_its_quotes_and_comment() -> None:
    changed = set_yaml_value(VALUES, "image.tag", "1")
    assert changed == VALUES.replace('tag: "2"   # the model', 'tag: "1"   # the model')
    assert read_yaml_value(changed, "sidecar.image.tag") == "9"


def test_a_plain_scalar_stays_plain_unless_yaml_would_read_another_type() -> None:
    assert set_yaml_value(VALUES, "plain.tag", "v1").endswith("  tag: v1\n")
    assert set_yaml_value(VALUES, "plain.tag", "1.10").endswith('  tag: "1.10"\n')  # not the float 1.1


@pytest.mark.parametrize(("text", "path", "message"), [
    (VALUES, "image.digest", "has no image.digest"),
    (VALUES, "image", "holds a dict"),
    ("image: {tag: '2'}\n", "image.tag", "flow style"),
    ("image:\n  tag: |\n    2\n", "image.tag", "single-line"),
    ("image: [\n", "image.tag", "not valid YAML"),
])
def test_what_cannot_be_changed_safely_is_refused_naming_the_path(text: str, path: str, message: str) -> None:
    with pytest.raises(YamlPathError, match=message):
        set_yaml_value(text, path, "1")
