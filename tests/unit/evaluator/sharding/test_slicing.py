"""Slices are deterministic, disjoint and together the whole input; the environment names a valid shard."""

from __future__ import annotations

import pytest

from modelmonitor.evaluator.errors import ConfigError
from modelmonitor.evaluator.sharding import Shard, plan_slices, shard_from_environment

PATHS = [f"bucket/current/part-{index:02d}.parquet" for index in range(7)]


def _units(slices: list[list[tuple[str, tuple[int, ...] | None]]], row_groups: dict[str, int]) -> list[tuple[str, int]]:
    found: list[tuple[str, int]] = []
    for parts in slices:
        for path, groups in parts:
            found.extend((path, group) for group in (range(row_groups[path]) if groups is None else groups))
    return found


@pytest.mark.parametrize("shards", [1, 2, 3, 4, 7])
def test_whole_files_are_split_in_contiguous_runs_that_cover_every_file_once(shards: int) -> None:
    slices = plan_slices(PATHS, None, shards)
    assert len(slices) == shards
    assert [path for parts in slices for path, _ in parts] == PATHS
    assert all(groups is None for parts in slices for _, groups in parts)
    sizes = [len(parts) for parts in slices]
    assert max(sizes) - min(sizes) <= 1
    assert plan_slices(list(PATHS), None, shards) == slices


def test_fewer_files_than_shards_split_by_row_groups_in_file_order() -> None:
    paths = PATHS[:2]
    row_groups = {paths[0]: 3, paths[1]: 4}
    slices = plan_slices(paths, [3, 4], 5)
    assert slices == [
        [(paths[0], (0,))],
        [(paths[0], (1,))],
        [(paths[0], (2,)), (paths[1], (0,))],  # a slice may span the end of one file and the next's start
        [(paths[1], (1,))],
        [(paths[1], (2, 3))],
    ]
    assert _units(slices, row_groups) == [(path, group) for path in paths for group in range(row_groups[path])]


def test_consecutive_row_groups_of_a_file_stay_one_part() -> None:
    paths = PATHS[:2]
    assert plan_slices(paths, [3, 3], 4) == [
        [(paths[0], (0,))],
        [(paths[0], (1, 2))],
        [(paths[1], (0,))],
        [(paths[1], (1, 2))],
    ]


def test_more_shards_than_row_groups_leaves_the_last_shards_empty() -> None:
    slices = plan_slices(PATHS[:1], [2], 4)
    assert [len(parts) for parts in slices].count(0) == 2
    assert _units(slices, {PATHS[0]: 2}) == [(PATHS[0], 0), (PATHS[0], 1)]


def test_formats_without_row_groups_split_by_files_only() -> None:
    slices = plan_slices(PATHS[:2], None, 3)
    assert slices == [[], [(PATHS[0], None)], [(PATHS[1], None)]]


def test_the_environment_names_the_shard() -> None:
    assert shard_from_environment({}) is None
    assert shard_from_environment({"MODELMONITOR_SHARD_INDEX": "0", "MODELMONITOR_SHARD_COUNT": "1"}) is None
    assert shard_from_environment({"MODELMONITOR_SHARD_INDEX": "2", "MODELMONITOR_SHARD_COUNT": "3"}) == Shard(2, 3)


@pytest.mark.parametrize(
    "environment",
    [
        {"MODELMONITOR_SHARD_INDEX": "3", "MODELMONITOR_SHARD_COUNT": "3"},
        {"MODELMONITOR_SHARD_INDEX": "-1", "MODELMONITOR_SHARD_COUNT": "3"},
        {"MODELMONITOR_SHARD_INDEX": "one", "MODELMONITOR_SHARD_COUNT": "3"},
        {"MODELMONITOR_SHARD_COUNT": "3"},
    ],
)
def test_a_shard_outside_the_count_is_a_configuration_error(environment: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match="MODELMONITOR_SHARD"):
        shard_from_environment(environment)
