#!/usr/bin/env python3
"""Prints the one table of scripts/bench-compare.sh (markdown) from the results in DIR.

  python3 scripts/bench/report.py target/bench-compare

Reads DIR/{machine,e2e,bulk,process,build}.json, DIR/rss.txt and the criterion estimates of the
signing and overhead benches (target/criterion). Medians throughout; a ratio is of two medians
measured in the same run.
"""

import json
import os
import statistics
import sys


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        return None


def crit_median_us(root, group, name):
    est = load(os.path.join(root, "criterion", group, name, "new", "estimates.json"))
    return est["median"]["point_estimate"] / 1000.0 if est else None


def verdict(ok):
    return "pass" if ok else "**miss**"


def main(out):
    target_dir = os.path.dirname(os.path.abspath(out))
    machine = load(os.path.join(out, "machine.json")) or {}
    e2e = load(os.path.join(out, "e2e.json")) or {}
    bulk = load(os.path.join(out, "bulk.json")) or {}
    process = load(os.path.join(out, "process.json"))
    build = load(os.path.join(out, "build.json"))
    rows = []

    def row(n, what, value, target, ok):
        rows.append((n, what, value, target, "" if ok is None else verdict(ok)))

    measured = machine.get("measured", True)
    for name in ("plain", "derived") if measured else ():
        us = crit_median_us(target_dir, "signing", name)
        if us is not None:
            row("1", f"sign one stop request, {name}", f"{us:.2f} µs", "≤ 3 µs", us <= 3.0)
    new_day = crit_median_us(target_dir, "signing", "derived_new_day")
    if new_day is not None and measured:
        row("1", "sign, derived, first request of a day (HKDF; cached for the rest of the day)",
            f"{new_day:.2f} µs", "", None)
    req = crit_median_us(target_dir, "overhead", "client_request_10")
    hand = crit_median_us(target_dir, "overhead", "hand_written_build_10")
    dec = crit_median_us(target_dir, "overhead", "decode_response_10")
    if req is not None and measured:
        row("2", "client overhead without I/O: validate + build + serialise + sign (10 targets)",
            f"{req:.2f} µs (hand-written build of a signed request: {hand:.2f} µs; decoding the answer: {dec:.2f} µs)",
            "", None)

    servers = e2e.get("e2e", {})
    for server, label in (("emulator", "emulator"), ("canned", "canned server")):
        ways = servers.get(server)
        if not ways:
            continue
        floor = ways["reqwest_floor"]["median_us"]
        for way, what in (("client_derived", "crate, derived AK/SK"), ("client_token", "crate, token"),
                          ("hand_same_work", "hand-written doing the same work (validate, sign, decode)")):
            r = ways[way]["ratio_to_floor"]
            target, ok = ("≤ 1.10×", r <= 1.10) if way != "hand_same_work" else ("", None)
            row("3", f"one call vs reqwest floor ({floor:.0f} µs), {label}: {what}",
                f"{r:.2f}× ({ways[way]['median_us']:.0f} µs)", target, ok)
        same = ways["hand_same_work"]["median_us"]
        row("3", f"(context) one call, {label}: crate (derived) / hand-written doing the same work",
            f"{ways['client_derived']['median_us'] / same:.2f}×", "", None)

    for server, label in (("emulator", "emulator"), ("canned", "canned server")):
        ways = bulk.get("bulk", {}).get(server)
        if ways:
            r = ways["crate_bulk"]["ratio_to_hand_written"]
            row("4", f"bulk 10,000 targets, 8 in flight, vs hand-written reqwest, {label}",
                f"{r:.2f}× ({ways['crate_bulk']['median_ms']:.1f} vs {ways['reqwest_hand_written']['median_ms']:.1f} ms)",
                "≤ 1.10×", r <= 1.10)
            signing = ways.get("hand_written_signing")
            if signing:
                row("4", f"(context) bulk, {label}: crate / hand-written that builds and signs its requests "
                    "inside the timing",
                    f"{ways['crate_bulk']['ratio_to_hand_written_signing']:.2f}× (hand-written signing: "
                    f"{signing['median_ms']:.1f} ms)", "", None)

    py = e2e.get("python_per_call")
    if py:
        row("5", "per call: official Python SDK / crate (derived), same emulator, alternating blocks",
            f"{py['ratio']:.1f}× ({py['python_median_us']:.0f} vs {py['crate_median_us']:.0f} µs)", "≥ 10×",
            py["ratio"] >= 10)
    if process:
        res = {r["command"]: r for r in process["results"]}
        cli, pysdk = res.get("crate_cli"), res.get("python_sdk")
        if cli and pysdk:
            r = pysdk["median"] / cli["median"]
            row("5", "whole process, one stop: Python SDK / `iotda-batchtask stop`",
                f"{r:.1f}× ({pysdk['median'] * 1e3:.0f} vs {cli['median'] * 1e3:.1f} ms)", "≥ 20×", r >= 20)

    if build:
        top = ", ".join(f"{u['unit']} {u['seconds']:.0f} s" for u in build["clean_top"][:4])
        row("6", "clean dev build, library, default features",
            f"{build['clean_s']:.0f} s, {build['crates_compiled']} crates compiled (longest: {top})", "report", None)
        for key, what in (("touch", "touching"), ("edit", "a one-word edit of")):
            units = ", ".join(f"{u['unit']} {u['seconds']:.1f} s" for u in build[f"{key}_units"])
            row("6", f"rebuild after {what} openapi/iotda-batchtask.yaml", f"{build[f'{key}_s']:.1f} s ({units})",
                "< 15 s", build[f"{key}_s"] < 15)

    rss_path = os.path.join(out, "rss.txt")
    if os.path.exists(rss_path):
        by = {}
        for line in open(rss_path):
            parts = line.split()
            if len(parts) >= 2:
                by.setdefault(parts[0], []).append(int(parts[1]))
        for key in ("concurrency=4", "concurrency=8"):
            if key in by:
                mib = max(by[key]) / 1024
                row("7", f"peak RSS, `iotda-batchtask stop` 10,000 targets, {key.replace('=', ' ')} (max of runs)",
                    f"{mib:.1f} MiB", "< 30 MiB", mib < 30)
        if "python_once" in by:
            row("7", "(context) peak RSS, Python SDK process doing one stop", f"{by['python_once'][0] / 1024:.1f} MiB",
                "", None)

    rates = e2e.get("throughput_rps", {})
    if rates:
        inflight = e2e.get("in_flight", 8)
        row("8", f"emulator throughput, signed stops, {inflight} in flight, 10 / 100 targets per request",
            f"{rates.get('emulator_10_targets', 0):,.0f} / {rates.get('emulator_100_targets', 0):,.0f} req/s "
            f"(canned server: {rates.get('canned_10_targets', 0):,.0f} req/s)", "", None)

    print(f"Machine: {machine.get('nproc', '?')} CPUs, {machine.get('cpu', '?')}, {machine.get('rustc', '?')}"
          + ("; vCPUs kept awake (--keep-awake)" if machine.get("keep_awake") else "")
          + ("; --quick (smoke test, not figures to quote)" if machine.get("quick") else ""))
    print()
    print("| # | measure | median | target | verdict |")
    print("|---|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(r) + " |")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "target/bench-compare")
