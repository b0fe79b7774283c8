"""Markdown table rows from results JSON of run.py, and the median row of several runs:
`python bench/operator_load/table.py results/fleet-5000-b*.json`."""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path
from typing import Any


def row(name: str, result: dict[str, Any]) -> list[str]:
    latency, rss, evaluations = result["completion_to_status_seconds"], result["rss_mib"], result["evaluations"]
    processes = result.get("control_plane_processes") or {}
    server = processes.get("kube-apiserver") or {}
    lag = result.get("job_created_to_complete_seen_seconds") or {}
    return [
        name, f"{result['conditions']['load_average_during_load']:.1f}", f"{result['startup_seconds']:.0f} s",
        f"{latency['p50']:.2f} / {latency['p90']:.2f} / **{latency['p99']:.2f}** / {latency['max']:.2f} s",
        f"{result['handler_start_to_status_seconds_mean']:.2f} s",
        f"{rss['after_startup']:.0f} / **{rss['peak']:.0f}** MiB",
        f"{result['cpu_cores_during_load']:.2f}",
        f"{result['api_requests_per_evaluation']['operator_code']:.1f}",
        f"{lag.get('p50', float('nan')):.1f} s" if lag else "-",
        f"{server.get('rss_peak_mib', 0):.0f} MiB / {server.get('cpu_cores_load', 0):.2f}" if server else "-",
        f"{evaluations['twice']} / {evaluations['lost']} of {evaluations['created']:,}",
    ]


def median_row(name: str, results: list[dict[str, Any]]) -> list[str]:
    def med(*path: str) -> float:
        values = []
        for result in results:
            value: Any = result
            for key in path:
                value = value[key]
            values.append(float(value))
        return statistics.median(values)

    twice = sum(r["evaluations"]["twice"] for r in results)
    lost = sum(r["evaluations"]["lost"] for r in results)
    created = sum(r["evaluations"]["created"] for r in results)
    return [
        f"**{name}**", f"{med('conditions', 'load_average_during_load'):.1f}", f"{med('startup_seconds'):.0f} s",
        f"{med('completion_to_status_seconds', 'p50'):.2f} / {med('completion_to_status_seconds', 'p90'):.2f} / "
        f"**{med('completion_to_status_seconds', 'p99'):.2f}** / {med('completion_to_status_seconds', 'max'):.2f} s",
        f"{med('handler_start_to_status_seconds_mean'):.2f} s",
        f"{med('rss_mib', 'after_startup'):.0f} / **{med('rss_mib', 'peak'):.0f}** MiB",
        f"{med('cpu_cores_during_load'):.2f}", f"{med('api_requests_per_evaluation', 'operator_code'):.1f}",
        f"{med('job_created_to_complete_seen_seconds', 'p50'):.1f} s",
        f"{med('control_plane_processes', 'kube-apiserver', 'rss_peak_mib'):.0f} MiB / "
        f"{med('control_plane_processes', 'kube-apiserver', 'cpu_cores_load'):.2f}",
        f"{twice} / {lost} of {created:,}",
    ]


def main(paths: list[str]) -> int:
    results = [(Path(p).stem, json.loads(Path(p).read_text())) for p in paths]
    for name, result in results:
        print("| " + " | ".join(row(name, result)) + " |")
    if len(results) > 1:
        print("| " + " | ".join(median_row(f"median of {len(results)}", [r for _, r in results])) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
