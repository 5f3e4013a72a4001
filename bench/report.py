"""The final table and the JSON file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .load import DUPLICATE, NEW, SEVERITY, Result

COLUMNS = (("run", 30), ("requests", 8), ("non-2xx", 10), ("wrong", 5), ("alerts/s", 8), ("p50 ms", 7),
           ("p99 ms", 7), ("drain s", 7), ("e2e/s", 7), ("client cpu", 10))


def summary(result: Result) -> dict[str, Any]:
    """One phase as plain numbers (the JSON file and the table are built from this)."""
    errors = {code: n for code, n in sorted(result.statuses.items()) if not code.startswith("2")}
    out: dict[str, Any] = {
        "name": result.name, "target": result.target, "path": result.path,
        "requests": result.requests, "statuses": dict(sorted(result.statuses.items())), "errors": errors,
        "wrong_replies": result.wrong,
        "mix": {kind: result.kinds[kind] for kind in (NEW, DUPLICATE, SEVERITY)}, "groups": result.groups,
        "seconds": round(result.elapsed, 3),
        "alerts_per_s": round(result.ok / result.elapsed, 1) if result.elapsed else 0.0,
        "p50_ms": round(result.percentile(0.50), 2), "p99_ms": round(result.percentile(0.99), 2),
        "client_cpu_share": round(result.client_cpu / result.elapsed, 2) if result.elapsed else 0.0,
    }
    if result.cpu:
        out["server_cpu_share"] = result.cpu
    if result.drain is not None:
        accepted = result.statuses["202"]
        # A drain that timed out has no end: no end-to-end rate rather than a flattering one.
        e2e = None if result.drain_missing else round(accepted / (result.elapsed + result.drain), 1)
        out.update(drain_s=round(result.drain, 3), drain_observed_s=round(result.drain_observed, 3),
                   drain_applied_s=round(result.drain_applied, 3), drain_method=result.drain_method,
                   drain_missing=result.drain_missing,
                   e2e_alerts_per_s=e2e)
    return out


def _cell(value: Any, width: int) -> str:
    return str(value).rjust(width)


def _row(s: dict[str, Any]) -> str:
    errors = sum(s["errors"].values())  # which ones: the phase's statuses line below the table
    cells = [s["name"].ljust(COLUMNS[0][1]), _cell(s["requests"], 8), _cell(errors, 10),
             _cell(s["wrong_replies"], 5), _cell(f"{s['alerts_per_s']:.0f}", 8), _cell(f"{s['p50_ms']:.1f}", 7),
             _cell(f"{s['p99_ms']:.1f}", 7), _cell(_drain(s), 7),
             _cell(f"{s['e2e_alerts_per_s']:.0f}" if s.get("e2e_alerts_per_s") else "-", 7),
             _cell(f"{s['client_cpu_share'] * 100:.0f}%", 10)]
    return "  ".join(cells)


def _drain(s: dict[str, Any]) -> str:
    if "drain_s" not in s:
        return "-"
    return f">{s['drain_s']:.0f}" if s["drain_missing"] else f"{s['drain_s']:.2f}"


def _ratio(ours: float, theirs: float) -> str:
    return f"{ours / theirs:.2f}x" if theirs else "n/a"


def table(summaries: list[dict[str, Any]], setup: dict[str, Any]) -> str:
    header = "  ".join(name.ljust(width) if i == 0 else name.rjust(width)
                       for i, (name, width) in enumerate(COLUMNS))
    lines = ["", f"alertbus benchmark: {setup['description']}", header, "-" * len(header)]
    lines += [_row(s) for s in summaries]
    lines.append("")
    for s in summaries:
        mix = s["mix"]
        lines.append(f"{s['name']}: {s['target']}, {s['seconds']:.1f}s, statuses {s['statuses']}, "
                     f"mix new/duplicate/severity {mix[NEW]}/{mix[DUPLICATE]}/{mix[SEVERITY]}, "
                     f"{s['groups']} alerts")
        if "drain_s" in s:
            missing = f", {s['drain_missing']} groups NOT stored at the timeout" if s["drain_missing"] else ""
            lines.append(f"  drain: {s['drain_s']:.2f}s after the last 202 (seen stored after "
                         f"{s['drain_observed_s']:.2f}s, last applied by the server after "
                         f"{s['drain_applied_s']:.2f}s), checked by {s['drain_method']}{missing}")
        if s.get("server_cpu_share"):
            shares = ", ".join(f"{name} {share * 100:.0f}%" for name, share in s["server_cpu_share"].items())
            lines.append(f"  cpu (share of one core; machine: of all cores): {shares}")
    ours = next((s for s in summaries if s["path"] == "201" and s["name"].startswith("alertbus")), None)
    ref = next((s for s in summaries if s["name"].startswith("reference")), None)
    if ours and ref:
        lines.append(f"alertbus/reference (201 path): alerts/s {_ratio(ours['alerts_per_s'], ref['alerts_per_s'])}"
                     f", p50 {_ratio(ours['p50_ms'], ref['p50_ms'])}, p99 {_ratio(ours['p99_ms'], ref['p99_ms'])}"
                     " (latency: lower is better)")
    lines.append("non-2xx: answers other than 2xx and client errors; wrong: answers (201) or stored alerts "
                 "(202, after the drain) whose severity/duplicateCount differ from what the requests must "
                 "produce; e2e/s: accepted / (send time + drain)")
    return "\n".join(lines)


def write_json(path: str, summaries: list[dict[str, Any]], setup: dict[str, Any]) -> None:
    Path(path).write_text(json.dumps({"setup": setup, "phases": summaries}, indent=2) + "\n")
