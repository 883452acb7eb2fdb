"""bench/RESULTS.md from one run's results (bench/results.json holds the same numbers, raw)."""

from __future__ import annotations

import statistics
from typing import Any

Results = dict[str, Any]  # size key -> scenario -> figures; "_run" -> the run's own facts

SCENARIOS = [("floor", "bare Flask JSON endpoint (the floor)"),
             ("minimal", "minimal design, right PIN (1 read, 1 EVALSHA, 1 single-statement durable write)"),
             ("right", "PIN check, right PIN"),
             ("wrong", "PIN check, wrong PIN"), ("code", "PIN + code (code path; codes are single-use, "
             "so this measures lookup + mismatch)"), ("send", "code send (challenge + outbox + audit)"),
             ("summary", "customer summary read"),
             ("right_half", "PIN check, right PIN, at about half its peak rate"),
             ("minimal_half", "minimal design, at about half its peak rate (the host's own tail, for the p99 above)"),
             ("right_during_sweep", "PIN check, right PIN, while `flask retention run` sweeps")]
THROUGHPUT_TARGET, P99_TARGET = 0.90, 1.5  # against the smallest size of the run (issue 20 item 4)


def _ratio(value: float, reference: dict[str, float] | None) -> str:
    """A throughput ratio, or a dash when the reference was not measured in this run."""
    return f"{value / reference['rps']:.0%}" if reference else "–"


def growth(results: Results, labels: dict[str, str]) -> list[str]:
    """Each size against the first: the targets of issue 20 item 4."""
    keys = [key for key in results if not key.startswith("_")]
    base = results[keys[0]]
    lines = [f"\n## How cost grows (against {labels[keys[0]]}, same run)\n",
             f"Targets: throughput at least {THROUGHPUT_TARGET:.0%} of the smallest size's, p99 at most "
             f"{P99_TARGET}x. The minimal design's rows show how much the host moved between sizes.\n",
             "| size | scenario | requests/s | ratio | p99 ms | p99 ratio | targets |",
             "| --- | --- | ---: | ---: | ---: | ---: | --- |"]
    for key in keys:
        for mode in ("right", "wrong", "right_half", "minimal", "minimal_half"):
            if mode not in results[key] or mode not in base:
                continue
            now, then = results[key][mode], base[mode]
            if not (then["rps"] and then["p99"]):
                continue  # wrk got no answer in time at the reference size: nothing to compare with
            rate, tail = now["rps"] / then["rps"], now["p99"] / then["p99"]
            held = "–" if key == keys[0] else (
                "held" if (mode.endswith("_half") or rate >= THROUGHPUT_TARGET) and tail <= P99_TARGET else "MISSED")
            lines.append(f"| {labels[key]} | {mode} | {now['rps']:.0f} | {rate:.2f} | {now['p99']:.2f} | "
                         f"{tail:.2f} | {held} |")
    lines.append("\n(At half peak the rate is set by the bench, so only the p99 target applies there.)")
    return lines + interleaved(results, labels)


def interleaved(results: Results, labels: dict[str, str]) -> list[str]:
    """The interleaved pass: each size's right-PIN runs in alternating rounds, medians against the first size's."""
    runs = results.get("_interleaved")
    if not runs:
        return []
    keys = list(runs)
    lines = ["\nThe same check, **interleaved**: every size's gunicorn up at once, one run per size in each round "
             "(in a rotated order), so the host's drift over the run falls on every size alike. "
             "Medians of the rounds:\n",
             "| size | requests/s, each round | median | ratio | p99 ms, each round | median | p99 ratio | targets |",
             "| --- | --- | ---: | ---: | --- | ---: | ---: | --- |"]
    base_rps, base_p99 = statistics.median(runs[keys[0]]["rps"]), statistics.median(runs[keys[0]]["p99"])
    for key in keys:
        rps, p99 = statistics.median(runs[key]["rps"]), statistics.median(runs[key]["p99"])
        rate, tail = rps / base_rps, p99 / base_p99
        held = "–" if key == keys[0] else ("held" if rate >= THROUGHPUT_TARGET and tail <= P99_TARGET else "MISSED")
        lines.append(f"| {labels[key]} | {', '.join(f'{v:.0f}' for v in runs[key]['rps'])} | {rps:.0f} | "
                     f"{rate:.2f} | {', '.join(f'{v:.1f}' for v in runs[key]['p99'])} | {p99:.2f} | {tail:.2f} | "
                     f"{held} |")
    return lines


def check_cost(results: Results, labels: dict[str, str]) -> list[str]:
    """Issue 20 item 5: instructions per check and the p99 at half peak, the check's beside the minimal design's."""
    lines = ["\n## The check beside the minimal design\n"]
    ir = results.get("_run", {}).get("instructions")
    if ir:
        lines.append(f"Instructions per check (callgrind, in-process, `bench/profile_check.py --callgrind "
                     f"--customers 200 --checks 200`, measured {ir['measured'][:16].replace('T', ' ')} UTC): "
                     f"**service {ir['service'] / 1e6:.2f} M, minimal design {ir['minimal'] / 1e6:.2f} M** "
                     f"({ir['service'] / ir['minimal']:.2f}x). Instruction counts do not depend on the host's "
                     "load.\n")
    else:
        lines.append("Instructions per check: not measured in this run (`--no-callgrind`).\n")
    lines += ["| size | check p50 / p99 at half peak, ms | minimal design p50 / p99 at half peak, ms |",
              "| --- | ---: | ---: |"]
    for key, label in labels.items():
        check, minimal = results[key].get("right_half"), results[key].get("minimal_half")
        if check and minimal:
            lines.append(f"| {label} | {check['p50']:.2f} / {check['p99']:.2f} | "
                         f"{minimal['p50']:.2f} / {minimal['p99']:.2f} |")
    return lines


def storage(results: Results, labels: dict[str, str]) -> list[str]:
    """Bytes per check, table by table (pg_total_relation_size before and after the right-PIN scenario)."""
    tables: list[str] = []
    for key in labels:
        for name in results[key].get("bytes_per_check", {}):
            if name not in tables and name not in ("total", "checks"):
                tables.append(name)
    lines = ["\n## Bytes per check, table by table\n",
             "Growth of each table (heap, TOAST and indexes: `pg_total_relation_size`) over the right-PIN, wrong-PIN "
             "and PIN + code scenarios, divided by the checks they made."
             " Tables grow by whole pages and extents, so small figures are coarse.\n",
             "| size | checks | " + " | ".join(tables) + " | total |", "| --- | ---: |" + " ---: |" * (len(tables) + 1)]
    for key, label in labels.items():
        grown = results[key].get("bytes_per_check")
        if grown:
            cells = " | ".join(f"{grown.get(name, 0):.0f}" for name in tables)
            lines.append(f"| {label} | {grown['checks']:.0f} | {cells} | {grown['total']:.0f} |")
    for key, label in labels.items():
        scans = results[key].get("seq_scans")
        if scans:
            found = ", ".join(f"{name} {count:.0f}" for name, count in sorted(scans.items()))
            lines.append(f"\nSequential scans during those checks ({label}; `pg_stat_user_tables`): {found}.")
    return lines


YEAR_S = 365 * 86_400


def capacity(results: Results, labels: dict[str, str]) -> list[str]:
    """Rows and bytes per check, and what a year holds at 1, 10 and 100 checks a second (the README's table)."""
    lines = ["\n## Capacity planning\n",
             "A check stores 2 rows: its record (`verifications`) and its audit event (`audit_events`); each customer "
             "has one `audit_heads` row, updated in place. Bytes per check as the service writes them (the live "
             "figure of the largest size above) and as a bulk load packs them (the stored history):\n"]
    live = next((results[key]["bytes_per_check"] for key in reversed(list(labels))
                 if results[key].get("bytes_per_check", {}).get("checks")), None)
    packed = None
    for key in labels:
        stored = results[key].get("stored", {})
        if ":" in key and stored.get("checks"):
            packed = (stored.get("verifications", 0) + stored.get("audit_events", 0)) / stored["checks"]
    figures = [("live", live["verifications"] + live["audit_events"])] if live else []
    figures += [("bulk-loaded", packed)] if packed else []
    heads = " | ".join(f"bytes a year ({name}, {per:,.0f} B/check)" for name, per in figures)
    lines += [f"| checks a second | checks a year | rows a year | {heads} |",
              "| ---: | ---: | ---: |" + " ---: |" * len(figures)]
    for rate in (1, 10, 100):
        checks = rate * YEAR_S
        cells = " | ".join(f"{checks * per / 1e9:,.0f} GB" for _, per in figures)
        lines.append(f"| {rate} | {checks / 1e6:,.1f} M | {2 * checks / 1e6:,.1f} M | {cells} |")
    return lines


def audit(results: Results, labels: dict[str, str]) -> list[str]:
    """`audit verify` after each size's load."""
    lines = ["\n## `flask audit verify` after the load\n",
             "| size | events | seconds | events/s | peak memory (maxrss) MB | answer |",
             "| --- | ---: | ---: | ---: | ---: | --- |"]
    for key, label in labels.items():
        found = results[key].get("audit")
        if found:
            lines.append(f"| {label} | {found['events']:.0f} | {found['seconds']:.1f} | {found['events_per_s']:.0f} | "
                         f"{found['maxrss_mb']:.0f} | {found['line']} |")
        else:
            lines.append(f"| {label} | – | – | – | – | not run (`--history-verify`): see below |")
    for key, label in labels.items():
        part = results[key].get("audit_sample")
        if part:
            lines.append(f"\nOn {label}, `audit verify`'s own code (`AuditReader.verify`: `chains()` streams each "
                         f"chain with its head and archive cut, in chain and seq order, through `verify_chains`) over "
                         f"the first {part['events']:,.0f} events of {part['chains']:,.0f} chains: "
                         f"{part['events_per_s']:,.0f} events/s, the first chain after {part['first_chain_s']:.2f} s, "
                         f"peak memory {part['maxrss_mb']:,.0f} MB, {part['problems']:.0f} altered or missing "
                         f"event(s). At that rate the stored events alone take about "
                         f"{int(key.split(':')[1]) / part['events_per_s'] / 60:.0f} min.")
    return lines


def retention(results: Results, labels: dict[str, str]) -> list[str]:
    """The retention scenario's figures, or why there are none."""
    lines = ["\n## Retention sweep while checking\n"]
    for key, label in labels.items():
        found = results[key].get("retention")
        if found is None:
            continue
        if found["skipped"]:
            lines.append(f"{label}: **skipped**: this tree has no `flask --app wsgi retention run` (issue 20 item 1, "
                         "on another branch). `bench/run.py`'s `retention_scenario` runs it when it exists.")
            continue
        during, right = results[key].get("right_during_sweep"), results[key].get("right")
        tail = f", p99 {during['p99']:.2f} ms against {right['p99']:.2f} ms without a sweep " \
               f"({during['p99'] / right['p99']:.2f}x; target 1.5x)" if during and right else ""
        archived = f"; the audit events went to {found['archive_bytes'] / 2**20:,.0f} MB of archive segments " \
                   "first" if found.get("archive_bytes") else ""
        lines.append(f"{label}: removed {found['removed']:,.0f} rows (check records and audit events) in "
                     f"{found['seconds']:.1f} s ({found['rows_per_s']:,.0f} rows/s, exit {found['exit']:.0f})"
                     f"{archived}{tail}.")
        for output in results.get("_run", {}).get("retention_output", []):
            lines.append("\n```\n" + output + "\n```")
    return lines


def scenario_tables(results: Results, labels: dict[str, str]) -> list[str]:
    """Every scenario of every size, against the floor and the minimal design of that size."""
    lines: list[str] = []
    for key, label in labels.items():
        res = results[key]
        floor, minimal = res.get("floor"), res.get("minimal")
        lines.append(f"\n## {label}\n\n| scenario | requests/s | p50 ms | p99 ms | vs floor | vs minimal | non-2xx |")
        lines.append("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
        for mode, text in SCENARIOS:
            if mode in res:
                r = res[mode]
                lines.append(f"| {text} | {r['rps']:.0f} | {r['p50']:.2f} | {r['p99']:.2f} | "
                             f"{_ratio(r['rps'], floor)} | {_ratio(r['rps'], minimal)} | {r['non2xx']:.0f} |")
        seeded = results.get("_run", {}).get("seeding", {}).get(key)
        if seeded:
            lines.append(f"\nThe stored checks were seeded in bulk in {seeded / 60:.1f} min (`bench/seed.py`).")
    return lines


def report(results: Results, labels: dict[str, str], header: str) -> str:
    """RESULTS.md: the run, then growth, the check's cost, storage, audit verify, retention, every scenario."""
    lines = [header]
    for part in (growth, check_cost, storage, capacity, audit, retention, scenario_tables):
        lines += part(results, labels)
    return "\n".join(lines) + "\n"
