#!/usr/bin/env python3
"""bench/report.py: the records and the report of bench/run.sh.

Subcommands (run.sh calls them; standard library only):
  record       parse one load's raw output (wrk with wrk_report.lua, or
               grpc_load's JSON) and the RSS sample into one JSON line
  brief        one human line about the last record, for the progress log
  report       min/median/max of every figure over the runs, the issue's
               ratios (paired within each run, then min/median/max), RSS;
               writes the JSON and the Markdown report
  smoke_check  every expected figure ran, without setup error, and served
               requests; prints 'smoke: N passed, M failed'
"""

import argparse
import os
import json
import re
import statistics
import sys

# Figures in report order: name -> what it measures.
FIGURES = {
    "gw_get_v1_c32": "gateway GET /v1/users/{id}",
    "gwgo_get_v1_c32": "grpc-gateway (Go) GET /v1/users/{id}",
    "grpc_get_c32": "direct gRPC GetUser (mesh channel)",
    "gw_get_user_c32": "gateway GET /user?id=",
    "flask_get_user_c32": "Flask GET /user?id=",
    "gw_post_v1_c32": "gateway POST /v1/users",
    "gwgo_post_v1_c32": "grpc-gateway (Go) POST /v1/users",
    "gw_get_v1_c1": "gateway GET /v1/users/{id}",
    "gwgo_get_v1_c1": "grpc-gateway (Go) GET /v1/users/{id}",
    "flask_get_user_c1": "Flask GET /user?id=",
    "grpc_get_c1": "direct gRPC GetUser (mesh channel)",
    "grpc_get_c1_plain": "direct gRPC GetUser (plain channel, --mesh_less)",
    "gw_get_v1_c1_apart": "gateway GET /v1/users/{id}; user_svc on the load CPU",
    "gwgo_get_v1_c1_apart": "grpc-gateway (Go) GET /v1/users/{id}; user_svc on the load CPU",
    "grpc_get_c1_apart": "direct gRPC GetUser (mesh channel); user_svc on the load CPU, grpc_load on the SUT CPU",
    "hop_proxy_c1": "gRPC GetUser through nghttpx (mesh channel)",
    "order_direct_c1": "CreateOrder, order_svc -> user_svc direct",
    "order_proxy_c1": "CreateOrder, order_svc -> nghttpx -> user_svc",
    "order_direct_c32": "CreateOrder, order_svc -> user_svc direct",
    "order_proxy_c32": "CreateOrder, order_svc -> nghttpx -> user_svc",
}

METRICS = ["rps", "p50_us", "p90_us", "p99_us", "max_us"]


def parse_wrk(text):
    """The WRKJSON line of wrk_report.lua, and wrk's --latency block."""
    rec = {}
    m = re.search(r"^WRKJSON (\{.*\})\s*$", text, re.M)
    if not m:
        first = text.strip().splitlines()[:3]
        rec["setup_error"] = "wrk printed no result: " + " | ".join(first)
        return rec
    w = json.loads(m.group(1))
    e = w["errors"]
    seconds = w["duration_us"] / 1e6 or 1e-9
    ok = w["requests"] - e["status"]
    rec.update(
        requests=ok,
        errors=e["status"] + e["connect"] + e["read"] + e["write"] + e["timeout"],
        error_detail={k: v for k, v in e.items() if v},
        rps=ok / seconds,
        p50_us=w["latency_us"]["p50"],
        p90_us=w["latency_us"]["p90"],
        p99_us=w["latency_us"]["p99"],
        max_us=w["latency_us"]["max"],
        mean_us=w["latency_us"]["mean"],
        duration_s=seconds,
    )
    d = re.search(r"Latency Distribution\n((?:\s+\d+%\s+\S+\n)+)", text)
    if d:
        rec["wrk_distribution"] = " ".join(
            "%s=%s" % tuple(line.split()) for line in d.group(1).strip().splitlines())
    return rec


def parse_grpc(text):
    rec = {}
    lines = [l for l in text.splitlines() if l.startswith("{")]
    if not lines:
        rec["setup_error"] = "grpc_load printed no result: " + text.strip()[:300]
        return rec
    g = json.loads(lines[-1])
    if "setup_error" in g:
        rec["setup_error"] = g["setup_error"]
        return rec
    lat = g["latency_us"]
    rec.update(
        requests=g["requests"],
        errors=g["errors"],
        error_detail=g["error_codes"],
        first_error=g["first_error"],
        rps=g["rps"],
        p50_us=lat["p50"],
        p90_us=lat["p90"],
        p99_us=lat["p99"],
        max_us=lat["max"],
        mean_us=lat["mean"],
        duration_s=g["duration_s"],
        mesh=g["mesh"],
    )
    return rec


def cmd_record(a):
    with open(a.raw, errors="replace") as f:
        text = f.read()
    rec = {
        "figure": a.figure,
        "run": a.run,
        "tool": a.tool,
        "system": a.system,
        "concurrency": a.concurrency,
        "exit_code": a.exit_code,
    }
    rec.update(parse_wrk(text) if a.tool == "wrk" else parse_grpc(text))
    if a.exit_code != 0 and "setup_error" not in rec:
        rec["setup_error"] = "%s exited with %d" % (a.tool, a.exit_code)
    try:
        with open(a.rss) as f:
            rec["rss_kb"] = json.load(f)
    except (OSError, ValueError):
        rec["rss_kb"] = {}
    # CPU seconds each system under test used during the load (utime+stime).
    rec["cpu_s"] = {}
    try:
        with open(a.cpu_before) as f:
            before = json.load(f)
        with open(a.cpu_after) as f:
            after = json.load(f)
        for proc, ticks in after.items():
            if proc in before:
                rec["cpu_s"][proc] = (ticks - before[proc]) / a.clk_tck
    except (OSError, ValueError, TypeError):
        pass
    print(json.dumps(rec, sort_keys=True))


def cmd_brief(a):
    with open(a.last) as f:
        lines = f.read().splitlines()
    r = json.loads(lines[-1])
    if "setup_error" in r:
        print("  %-20s run %d: SETUP ERROR %s" % (r["figure"], r["run"], r["setup_error"]))
        return
    print("  %-20s run %d: %9.1f req/s  p50 %8.1f us  p99 %8.1f us  errors %d"
          % (r["figure"], r["run"], r["rps"], r["p50_us"], r["p99_us"], r["errors"]))


def mmm(values):
    values = [v for v in values if v is not None]
    if not values:
        return None
    return {"min": min(values), "median": statistics.median(values), "max": max(values),
            "n": len(values)}


def load_records(path):
    with open(path) as f:
        return [json.loads(l) for l in f if l.strip()]


def by_figure_run(records):
    out = {}
    for r in records:
        if "setup_error" not in r:
            out.setdefault(r["figure"], {})[r["run"]] = r
    return out


# The ratios: name -> (description, function of the per-run records
# {figure: record} giving a value or None, target (op, bound) or None, unit).
def cpu_us_per_request(rec, proc):
    """CPU µs `proc` used per request of the load `rec` records, or None."""
    seconds = rec.get("cpu_s", {}).get(proc)
    if seconds is None or not rec.get("requests"):
        return None
    return seconds * 1e6 / rec["requests"]


def ratio_defs():
    def rate(a, b, key):
        def f(run):
            if a in run and b in run and run[b][key]:
                return run[a][key] / run[b][key]
            return None
        return f

    def diff(a, b, key):
        def f(run):
            if a in run and b in run:
                return run[a][key] - run[b][key]
            return None
        return f

    def cpu_rate(a, proc_a, b, proc_b):
        """CPU per request of proc_a under figure a / of proc_b under b."""
        def f(run):
            if a not in run or b not in run:
                return None
            x, y = cpu_us_per_request(run[a], proc_a), cpu_us_per_request(run[b], proc_b)
            return x / y if x and y else None
        return f

    return [
        ("gw_vs_gwgo_rps_get", "gateway / grpc-gateway req/s, GET /v1/users/{id}, c=32",
         rate("gw_get_v1_c32", "gwgo_get_v1_c32", "rps"), (">=", 2.0), "x"),
        ("gw_vs_gwgo_p99_get", "gateway / grpc-gateway p99, GET /v1/users/{id}, c=32",
         rate("gw_get_v1_c32", "gwgo_get_v1_c32", "p99_us"), ("<=", 0.5), "x"),
        ("gw_vs_gwgo_rps_post", "gateway / grpc-gateway req/s, POST /v1/users, c=32",
         rate("gw_post_v1_c32", "gwgo_post_v1_c32", "rps"), (">=", 2.0), "x"),
        ("gw_vs_gwgo_p99_post", "gateway / grpc-gateway p99, POST /v1/users, c=32",
         rate("gw_post_v1_c32", "gwgo_post_v1_c32", "p99_us"), ("<=", 0.5), "x"),
        ("gw_vs_flask_rps", "gateway / Flask req/s, GET /user?id=, c=32",
         rate("gw_get_user_c32", "flask_get_user_c32", "rps"), (">=", 25.0), "x"),
        ("gw_minus_grpc_p50_c1", "gateway p50 - direct gRPC p50 (mesh channel), c=1",
         diff("gw_get_v1_c1", "grpc_get_c1", "p50_us"), ("<=", 60.0), "us"),
        ("gw_minus_grpc_plain_p50_c1", "gateway p50 - direct gRPC p50 (plain channel), c=1",
         diff("gw_get_v1_c1", "grpc_get_c1_plain", "p50_us"), None, "us"),
        ("gw_minus_grpc_p50_c1_apart",
         "gateway p50 - direct gRPC p50, c=1, user_svc beside the load generator "
         "(the gateway alone on its CPU)",
         diff("gw_get_v1_c1_apart", "grpc_get_c1_apart", "p50_us"), ("<=", 60.0), "us"),
        ("gwgo_minus_grpc_p50_c1_apart",
         "grpc-gateway p50 - direct gRPC p50, c=1, user_svc beside the load generator",
         diff("gwgo_get_v1_c1_apart", "grpc_get_c1_apart", "p50_us"), None, "us"),
        ("hop_direct_vs_proxy_p50", "hop user_svc GetUser p50: direct / through nghttpx, c=1",
         rate("grpc_get_c1", "hop_proxy_c1", "p50_us"), ("<=", 0.333), "x"),
        ("hop_proxy_added_p50", "hop p50 added by nghttpx (through - direct), c=1",
         diff("hop_proxy_c1", "grpc_get_c1", "p50_us"), None, "us"),
        ("order_direct_vs_proxy_p50", "CreateOrder p50: user hop direct / through nghttpx, c=1",
         rate("order_direct_c1", "order_proxy_c1", "p50_us"), None, "x"),
        ("order_proxy_added_p50", "CreateOrder p50 added by nghttpx (through - direct), c=1",
         diff("order_proxy_c1", "order_direct_c1", "p50_us"), None, "us"),
        ("order_direct_vs_proxy_rps_c32", "CreateOrder req/s: direct / through nghttpx, c=32",
         rate("order_direct_c32", "order_proxy_c32", "rps"), None, "x"),
        ("gw_vs_grpc_rps_c32", "gateway GET /v1/users/{id} / direct gRPC GetUser req/s, c=32",
         rate("gw_get_v1_c32", "grpc_get_c32", "rps"), None, "x"),
        ("gwgo_vs_grpc_rps_c32", "grpc-gateway GET /v1/users/{id} / direct gRPC req/s, c=32",
         rate("gwgo_get_v1_c32", "grpc_get_c32", "rps"), None, "x"),
        ("gw_vs_gwgo_cpu_get", "gateway / grpc-gateway own CPU per request, GET /v1/users/{id}, c=32",
         cpu_rate("gw_get_v1_c32", "gateway", "gwgo_get_v1_c32", "gwgo"), None, "x"),
        ("gw_vs_gwgo_cpu_post", "gateway / grpc-gateway own CPU per request, POST /v1/users, c=32",
         cpu_rate("gw_post_v1_c32", "gateway", "gwgo_post_v1_c32", "gwgo"), None, "x"),
        ("user_svc_cpu_gw_vs_gwgo", "user_svc CPU per request behind the gateway / behind grpc-gateway, GET, c=32",
         cpu_rate("gw_get_v1_c32", "user_svc", "gwgo_get_v1_c32", "user_svc"), None, "x"),
    ]


# RSS targets: (process, figures whose loads count, bound in MiB).
RSS_TARGETS = [
    ("gateway", ["gw_get_v1_c32", "gw_get_user_c32", "gw_post_v1_c32"], 50),
    ("user_svc", ["gw_get_v1_c32", "gw_get_user_c32", "gw_post_v1_c32"], 30),
]
RSS_INFO = [
    ("gwgo", ["gwgo_get_v1_c32", "gwgo_post_v1_c32"]),
    ("flask", ["flask_get_user_c32"]),
    ("user_svc", ["grpc_get_c32"]),
    ("order_direct", ["order_direct_c32"]),
    ("nghttpx", ["order_proxy_c32"]),
]


def met(value, target):
    op, bound = target
    return value >= bound if op == ">=" else value <= bound


def miss_text(value, target, unit):
    op, bound = target
    if met(value, target):
        return "met"
    if unit == "us":
        return "missed by %.0f us" % (value - bound)
    if op == ">=":
        return "missed: %.2fx of the %.2fx wanted (%.0f%% short)" % (
            value, bound, 100 * (1 - value / bound))
    return "missed: %.2fx, %.2fx over the %.2fx bound" % (value, value / bound, bound)


def fmt(v, unit=""):
    if v is None:
        return "-"
    if unit == "x":
        return "%.2f" % v
    if abs(v) >= 100:
        return "%.0f" % v
    return "%.1f" % v


def mmm_text(m, unit=""):
    if m is None:
        return "-"
    if m["n"] == 1:
        return fmt(m["median"], unit)
    return "%s / **%s** / %s" % (fmt(m["min"], unit), fmt(m["median"], unit), fmt(m["max"], unit))


def cmd_report(a):
    records = load_records(a.records)
    meta = {}
    for kv in a.meta:
        k, _, v = kv.partition("=")
        meta[k] = v
    figs = by_figure_run(records)
    runs = sorted({r["run"] for r in records})

    figures = {}
    order = [f for f in FIGURES if f in figs] + sorted(f for f in figs if f not in FIGURES)
    for f in order:
        recs = [figs[f][r] for r in sorted(figs[f])]
        first = recs[0]
        figures[f] = {
            "what": FIGURES.get(f, f),
            "tool": first["tool"],
            "system": first["system"],
            "concurrency": first["concurrency"],
            "runs": len(recs),
            "requests_total": sum(r["requests"] for r in recs),
            "errors_total": sum(r["errors"] for r in recs),
        }
        for k in METRICS:
            figures[f][k] = mmm([r[k] for r in recs])
        rss = {}
        for r in recs:
            for proc, kb in r.get("rss_kb", {}).items():
                rss.setdefault(proc, []).append(kb)
        figures[f]["rss_kb"] = {p: mmm(v) for p, v in sorted(rss.items())}
        cpu = {}
        for r in recs:
            for proc in r.get("cpu_s", {}):
                us = cpu_us_per_request(r, proc)
                if us is not None:
                    cpu.setdefault(proc, []).append(us)
        figures[f]["cpu_us_per_request"] = {p: mmm(v) for p, v in sorted(cpu.items())}

    per_run = {run: {f: figs[f][run] for f in figs if run in figs[f]} for run in runs}
    ratios = {}
    for name, desc, fn, target, unit in ratio_defs():
        vals = [fn(per_run[run]) for run in runs]
        m = mmm(vals)
        if m is None:
            continue
        entry = {"what": desc, "unit": unit, "per_run": vals, **{k: m[k] for k in ("min", "median", "max", "n")}}
        if target:
            entry["target"] = "%s %s" % (target[0], fmt(target[1], unit))
            entry["met"] = met(m["median"], target)
            entry["verdict"] = miss_text(m["median"], target, unit)
        ratios[name] = entry

    rss_targets = {}
    for proc, fl, bound in RSS_TARGETS:
        vals = [figs[f][run].get("rss_kb", {}).get(proc) for f in fl if f in figs for run in figs[f]]
        vals = [v for v in vals if v]
        if not vals:
            continue
        peak = max(vals) / 1024
        rss_targets[proc] = {"max_mib": peak, "bound_mib": bound, "under_loads": fl,
                             "met": peak <= bound,
                             "verdict": "met" if peak <= bound else "missed by %.1f MiB" % (peak - bound)}

    setup_errors = [{"figure": r["figure"], "run": r["run"], "error": r["setup_error"]}
                    for r in records if "setup_error" in r]
    result = {"mode": a.mode, "meta": meta, "figures": figures, "ratios": ratios,
              "rss_targets": rss_targets, "setup_errors": setup_errors,
              "micro": load_micro(a.micro), "records": records}
    with open(a.json, "w") as f:
        json.dump(result, f, indent=1, sort_keys=False)
        f.write("\n")
    with open(a.markdown, "w") as f:
        f.write(markdown(result, runs))


ROUTE_FLATNESS_BOUND = 2.0  # route matching: 1,000 routes at most 2x 10


def load_micro(paths):
    """Google Benchmark JSON outputs -> medians (CPU ns) and the route
    table's 1,000 / 10 routes ratios."""
    if not paths:
        return None
    rows = []
    for path in paths:
        with open(path) as f:
            data = json.load(f)
        for b in data.get("benchmarks", []):
            if b.get("run_type") == "aggregate" and b.get("aggregate_name") != "median":
                continue
            scale = {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}[b.get("time_unit", "ns")]
            rows.append({"binary": os.path.basename(path).replace(".json", ""),
                         "name": b.get("run_name", b["name"]),
                         "cpu_ns": b["cpu_time"] * scale,
                         "real_ns": b["real_time"] * scale,
                         "label": b.get("label", ""),
                         "repetitions": b.get("repetitions", 1)})
    by_name = {r["name"]: r for r in rows}
    flatness = []
    for r in rows:
        if r["binary"] == "route_table_benchmark" and r["name"].endswith("/1000"):
            small = by_name.get(r["name"][:-len("/1000")] + "/10")
            if small and small["cpu_ns"] > 0:
                ratio = r["cpu_ns"] / small["cpu_ns"]
                flatness.append({"what": r["name"][:-len("/1000")], "ratio": ratio,
                                 "bound": ROUTE_FLATNESS_BOUND,
                                 "met": ratio <= ROUTE_FLATNESS_BOUND})
    return {"benchmarks": rows, "route_flatness": flatness}


def micro_markdown(micro):
    out = ["### Micro-benchmarks (Google Benchmark, median of the repetitions)\n",
           "CPU time per operation (the wall time is in RESULTS.json; on a shared "
           "machine it includes waiting for the CPU).\n",
           "| binary | benchmark | CPU ns/op | note |", "|---|---|---:|---|"]
    for r in micro["benchmarks"]:
        out.append("| %s | %s | %.0f | %s |" % (r["binary"], r["name"], r["cpu_ns"], r["label"]))
    if micro["route_flatness"]:
        out += ["", "Route matching, 1,000 routes / 10 routes (target: <= %.1fx):\n" % ROUTE_FLATNESS_BOUND,
                "| match | ratio | verdict |", "|---|---:|---|"]
        for f in micro["route_flatness"]:
            out.append("| %s | %.2fx | %s |" % (f["what"], f["ratio"], "met" if f["met"] else "missed"))
    return "\n".join(out) + "\n"


def markdown(res, runs):
    meta = res["meta"]
    out = []
    w = out.append
    w("## stubmesh benchmarks, %s%s\n" % (meta.get("started", ""),
                                          " (smoke: 1 s loads, numbers not meaningful)"
                                          if res["mode"] == "smoke" else ""))
    w("- command: `%s`" % meta.get("command", ""))
    w("- runs: %s x %s s per figure, A/B order reversed on every other run; "
      "cells are min / **median** / max over the runs" % (meta.get("runs"), meta.get("duration_s")))
    for k in ("cpu", "nproc", "kernel", "pinning", "loadavg", "http_servers", "servers", "git", "tools"):
        if k in meta:
            w("- %s: %s" % (k, meta[k]))
    w("")
    w("### Figures\n")
    w("| figure | what | c | req/s | p50 µs | p90 µs | p99 µs | max µs | errors |")
    w("|---|---|---:|---|---|---|---|---|---:|")
    for name, f in res["figures"].items():
        w("| %s | %s | %d | %s | %s | %s | %s | %s | %d |" % (
            name, f["what"], f["concurrency"], mmm_text(f["rps"]), mmm_text(f["p50_us"]),
            mmm_text(f["p90_us"]), mmm_text(f["p99_us"]), mmm_text(f["max_us"]),
            f["errors_total"]))
    w("")
    w("### Ratios (paired within each run)\n")
    w("| ratio | min / **median** / max | target | verdict (median) |")
    w("|---|---|---|---|")
    for name, r in res["ratios"].items():
        w("| %s | %s %s | %s | %s |" % (
            r["what"], mmm_text(r, r["unit"]), "µs" if r["unit"] == "us" else "x",
            r.get("target", "-"), r.get("verdict", "-")))
    w("")
    w("### Memory (VmRSS, largest sample every 0.25 s during the loads)\n")
    w("| process | under the loads | RSS MiB (min / **median** / max over runs) | target | verdict |")
    w("|---|---|---|---|---|")
    figs = res["figures"]
    for proc, fl, bound in RSS_TARGETS:
        for f in fl:
            m = figs.get(f, {}).get("rss_kb", {}).get(proc)
            if m:
                mib = {k: m[k] / 1024 for k in ("min", "median", "max")}
                mib["n"] = m["n"]
                w("| %s | %s | %s | <= %d MiB | %s |" % (
                    proc, f, mmm_text(mib), bound,
                    "met" if m["max"] / 1024 <= bound else "missed by %.1f MiB" % (m["max"] / 1024 - bound)))
    for proc, fl in RSS_INFO:
        for f in fl:
            m = figs.get(f, {}).get("rss_kb", {}).get(proc)
            if m:
                mib = {k: m[k] / 1024 for k in ("min", "median", "max")}
                mib["n"] = m["n"]
                w("| %s | %s | %s | - | - |" % (proc, f, mmm_text(mib)))
    w("")
    w("### CPU time per request (µs; utime+stime of each system under test over the load, "
      "divided by the load's requests; systems using under 1 µs a request left out)\n")
    w("| figure | process | CPU µs / request (min / **median** / max) |")
    w("|---|---|---|")
    for name, f in figs.items():
        for proc, m in f.get("cpu_us_per_request", {}).items():
            if m and m["median"] >= 1:
                w("| %s | %s | %s |" % (name, proc, mmm_text(m)))
    w("")
    if res.get("micro"):
        w(micro_markdown(res["micro"]))
    if res["setup_errors"]:
        w("### Setup errors\n")
        for e in res["setup_errors"]:
            w("- %s run %d: %s" % (e["figure"], e["run"], e["error"]))
        w("")
    return "\n".join(out) + "\n"


def cmd_smoke_check(a):
    records = load_records(a.records)
    passed = failed = 0
    seen = set()
    for r in records:
        seen.add(r["figure"])
        if "setup_error" in r:
            print("FAIL %s: %s" % (r["figure"], r["setup_error"]))
            failed += 1
        elif r["requests"] <= 0:
            print("FAIL %s: no request served (errors: %s)" % (r["figure"], r.get("error_detail")))
            failed += 1
        else:
            print("PASS %s: %d requests, %d errors" % (r["figure"], r["requests"], r["errors"]))
            passed += 1
    if len(seen) < a.expect:
        print("FAIL only %d of %d figures ran" % (len(seen), a.expect))
        failed += 1
    print("smoke: %d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("record")
    r.add_argument("--figure", required=True)
    r.add_argument("--run", type=int, required=True)
    r.add_argument("--tool", choices=["wrk", "grpc"], required=True)
    r.add_argument("--system", required=True)
    r.add_argument("--concurrency", type=int, required=True)
    r.add_argument("--exit_code", type=int, default=0)
    r.add_argument("--raw", required=True)
    r.add_argument("--rss", required=True)
    r.add_argument("--cpu_before", default="")
    r.add_argument("--cpu_after", default="")
    r.add_argument("--clk_tck", type=float, default=100.0)
    b = sub.add_parser("brief")
    b.add_argument("--last", required=True)
    rep = sub.add_parser("report")
    rep.add_argument("--records", required=True)
    rep.add_argument("--mode", default="full")
    rep.add_argument("--json", required=True)
    rep.add_argument("--markdown", required=True)
    rep.add_argument("--meta", action="append", default=[])
    rep.add_argument("--micro", action="append", default=[],
                     help="a Google Benchmark JSON output (repeatable)")
    s = sub.add_parser("smoke_check")
    s.add_argument("--records", required=True)
    s.add_argument("--expect", type=int, default=0)
    a = p.parse_args()
    {"record": cmd_record, "brief": cmd_brief, "report": cmd_report,
     "smoke_check": cmd_smoke_check}[a.cmd](a)


if __name__ == "__main__":
    main()
