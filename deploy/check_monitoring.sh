#!/bin/bash
# Checks the monitoring config in deploy/ without running Prometheus or
# Grafana:
#   1. targets_from_launcher.py: its unit tests;
#   2. prometheus.yml: `promtool check config`, with and without targets,
#      and Prometheus's own service discovery and relabelling (`promtool
#      check service-discovery`) on the script's output for a target list,
#      on the launcher's own prometheus_targets.json, and on both at once:
#      every replica becomes one target with job, instance and replica;
#   3. alerts.yml: `promtool check rules`, and `promtool test rules
#      alerts_test.yml`, which must show every alert both firing and not;
#   4. grafana/stubmesh-dashboard.json: valid JSON, schemaVersion >= 36, the
#      data source is the ${DS_PROMETHEUS} variable, every panel has targets
#      with an expr and that data source, and every expr parses as PromQL
#      (`promtool check rules` on them, Grafana's variables substituted);
#   5. alerts and dashboard use only metric names stubmesh exports.
#
#   deploy/check_monitoring.sh            # from anywhere in a checkout
#   bazel test //deploy:monitoring_test   # the same, from the runfiles
#
# Needs promtool (Debian package `prometheus`; STUBMESH_PROMTOOL overrides)
# and /usr/bin/python3 (stdlib only; STUBMESH_PYTHON overrides).
set -euo pipefail

PYTHON=${STUBMESH_PYTHON:-/usr/bin/python3}
PROMTOOL=${STUBMESH_PROMTOOL:-$(command -v promtool || echo /usr/bin/promtool)}

if [[ -n "${TEST_SRCDIR:-}" ]]; then
  deploy="${TEST_SRCDIR}/${TEST_WORKSPACE:-stubmesh}/deploy"
else
  deploy="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
fi
prom="${deploy}/prometheus"
dashboard="${deploy}/grafana/stubmesh-dashboard.json"

if [[ ! -x "${PROMTOOL}" ]]; then
  echo "check_monitoring: promtool not found; install the Debian package" \
    "'prometheus' (tools/install-deps.sh) or set STUBMESH_PROMTOOL" >&2
  exit 1
fi

tmp="$(mktemp -d "${TEST_TMPDIR:-/tmp}/check_monitoring.XXXXXX")"
trap 'rm -rf "${tmp}"' EXIT
export PYTHONDONTWRITEBYTECODE=1 PYTHONNOUSERSITE=1

step() { echo; echo "=== $*"; }

step "targets_from_launcher.py unit tests"
"${PYTHON}" "${prom}/targets_from_launcher_test.py"

step "promtool check config (no targets files yet: warnings, not errors)"
mkdir -p "${tmp}/bare"
cp -L "${prom}/prometheus.yml" "${prom}/alerts.yml" "${tmp}/bare/"
"${PROMTOOL}" check config "${tmp}/bare/prometheus.yml"

# A state dir as the launcher leaves it, with this config copied into
# <state>/prometheus/. Three ways to get targets, each checked with
# Prometheus's own service discovery and relabelling: the final targets
# must be the `want` file's, each once, with job, instance and replica.
new_state() {  # NAME: a state dir with the config copied in
  mkdir -p "${tmp}/$1/prometheus/targets"
  cp -L "${prom}/prometheus.yml" "${prom}/alerts.yml" "${tmp}/$1/prometheus/"
}
sd_check() {  # NAME WANT_FILE_SD_JSON FILES_READ
  local name="$1" want="$2" files="$3" run="${tmp}/$1"
  "${PROMTOOL}" check config "${run}/prometheus/prometheus.yml"
  # promtool waits out the timeout; file_sd reads the files at once.
  (cd "${run}/prometheus" &&
    "${PROMTOOL}" check service-discovery --timeout=3s prometheus.yml stubmesh \
      >"${run}/sd.json" 2>"${run}/sd.log") || { cat "${run}/sd.log" >&2; exit 1; }
  "${PYTHON}" - "${run}/sd.json" "${want}" "${name}" "${files}" <<'EOF'
import json, sys
got, want, name = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), sys.argv[3]
files = {t["discoveredLabels"]["__meta_filepath"] for t in got}
if len(files) != int(sys.argv[4]):
    sys.exit("%s: read %s, want %s files" % (name, sorted(files), sys.argv[4]))
def key(labels):
    return json.dumps(labels, sort_keys=True)
# A target in two files with the same labels is one target to Prometheus.
scraped = {}
for t in got:
    labels = t.get("labels") or {}
    if not labels:
        continue  # dropped by relabelling
    if (labels["__metrics_path__"], labels["__scheme__"]) != ("/metrics", "http"):
        sys.exit("%s: scrapes %s" % (name, labels))
    public = {k: v for k, v in labels.items() if not k.startswith("__")}
    scraped[key(public)] = public
expected = {}
for group in want:
    for address in group["targets"]:
        labels = dict(group["labels"])
        labels["job"] = labels.pop("service", labels.get("job"))
        labels.setdefault("instance", address)
        labels.setdefault("replica", address)
        expected[key(labels)] = labels
if sorted(scraped) != sorted(expected):
    sys.exit("%s: service discovery gave\n  %s\nwant\n  %s" % (
        name, "\n  ".join(sorted(scraped)), "\n  ".join(sorted(expected))))
for k in sorted(scraped):
    print("  %s" % k)
EOF
}

step "service discovery: targets_from_launcher.py on a target list"
new_state list
"${PYTHON}" "${prom}/targets_from_launcher.py" \
  "${prom}/testdata/launcher.json" -o "${tmp}/list/prometheus/targets/stubmesh.json"
cmp "${tmp}/list/prometheus/targets/stubmesh.json" "${prom}/testdata/file_sd.golden.json"
sd_check list "${prom}/testdata/file_sd.golden.json" 1

step "service discovery: the launcher's own <state>/prometheus_targets.json"
new_state launcher
cp -L "${prom}/testdata/launcher_prometheus_targets.json" \
  "${tmp}/launcher/prometheus_targets.json"
sd_check launcher "${prom}/testdata/launcher_prometheus_targets.json" 1

step "service discovery: both files, from the same launcher status"
new_state both
cp -L "${prom}/testdata/launcher_prometheus_targets.json" \
  "${tmp}/both/prometheus_targets.json"
"${PYTHON}" "${prom}/targets_from_launcher.py" \
  "${prom}/testdata/launcher_status.json" -o "${tmp}/both/prometheus/targets/stubmesh.json"
cmp "${tmp}/both/prometheus/targets/stubmesh.json" "${prom}/testdata/launcher_status.golden.json"
sd_check both "${prom}/testdata/launcher_status.golden.json" 2

step "promtool check rules"
"${PROMTOOL}" check rules "${prom}/alerts.yml"

step "promtool test rules"
"${PROMTOOL}" test rules "${prom}/alerts_test.yml"

step "every alert is tested firing and not firing"
"${PYTHON}" - "${prom}/alerts.yml" "${prom}/alerts_test.yml" <<'EOF'
import re, sys
alerts = re.findall(r"^\s*- alert:\s*(\S+)\s*$", open(sys.argv[1]).read(), re.M)
if len(alerts) != len(set(alerts)) or not alerts:
    sys.exit("alerts.yml: no alerts, or one alert name twice: %s" % alerts)
# alert_rule_test items: "- eval_time: T", "alertname: A", then optionally
# "exp_alerts:" with a list or an alias (non-empty), or nothing (must not
# fire).
fires, quiet = set(), set()
item = None
for line in open(sys.argv[2]).read().splitlines():
    if re.match(r"^\s*- eval_time:", line):
        if item: (fires if item[1] else quiet).add(item[0])
        item = [None, False]
    elif item is not None and re.match(r"^\s*alertname:\s*(\S+)", line):
        item[0] = re.match(r"^\s*alertname:\s*(\S+)", line).group(1)
    elif item is not None and re.match(r"^\s*exp_alerts:\s*(\S.*)?$", line):
        rest = line.split(":", 1)[1].strip()
        item[1] = rest not in ("[]",)
    elif re.match(r"^  - name:", line) and item:
        (fires if item[1] else quiet).add(item[0]); item = None
if item: (fires if item[1] else quiet).add(item[0])
problems = ["%s: no test where it fires" % a for a in alerts if a not in fires]
problems += ["%s: no test where it does not fire" % a for a in alerts if a not in quiet]
problems += ["%s: tested but not in alerts.yml" % a for a in (fires | quiet) - set(alerts)]
if problems:
    sys.exit("alerts_test.yml:\n  " + "\n  ".join(problems))
for a in alerts:
    print("  %s: fires and stays quiet" % a)
EOF

step "dashboard: structure, data source, targets"
"${PYTHON}" - "${dashboard}" "${tmp}/dashboard_exprs.json" "${tmp}/exprs.json" <<'EOF'
import json, re, sys
path, rules_out, exprs_out = sys.argv[1:4]
d = json.load(open(path))
problems = []
def need(cond, msg):
    if not cond: problems.append(msg)

DS_UID = "${DS_PROMETHEUS}"
need(isinstance(d.get("schemaVersion"), int) and d["schemaVersion"] >= 36,
     "schemaVersion %r is not >= 36" % d.get("schemaVersion"))
need(d.get("uid") and d.get("title"), "no uid or title")
variables = {v.get("name"): v for v in d.get("templating", {}).get("list", [])}
ds_var = variables.get("DS_PROMETHEUS")
need(ds_var is not None and ds_var.get("type") == "datasource"
     and ds_var.get("query") == "prometheus",
     "no templating variable DS_PROMETHEUS of type datasource (prometheus)")
for name, v in variables.items():
    if v.get("type") == "query":
        need(v.get("datasource", {}).get("uid") == DS_UID,
             "variable %s: data source is not %s" % (name, DS_UID))

def all_panels(panels):
    for p in panels:
        yield p
        yield from all_panels(p.get("panels", []))

def is_ds(ds):
    return isinstance(ds, dict) and ds.get("uid") == DS_UID \
        and ds.get("type") == "prometheus"

panels = list(all_panels(d.get("panels", [])))
need(panels, "no panels")
ids = [p.get("id") for p in panels]
need(len(ids) == len(set(ids)) and None not in ids, "panel ids missing or repeated: %s" % ids)
rules, exprs = [], []
for p in panels:
    where = "panel %s %r" % (p.get("id"), p.get("title"))
    gp = p.get("gridPos", {})
    need(all(isinstance(gp.get(k), int) for k in "hwxy")
         and gp["x"] + gp["w"] <= 24, where + ": bad gridPos %r" % gp)
    if p.get("type") == "row":
        continue
    need(p.get("title"), where + ": no title")
    need(is_ds(p.get("datasource")), where + ": panel data source is not " + DS_UID)
    targets = p.get("targets") or []
    need(targets, where + ": no targets")
    refs = [t.get("refId") for t in targets]
    need(len(refs) == len(set(refs)) and None not in refs, where + ": refIds %s" % refs)
    for t in targets:
        tw = "%s target %s" % (where, t.get("refId"))
        need(isinstance(t.get("expr"), str) and t["expr"].strip(), tw + ": no expr")
        need(is_ds(t.get("datasource")), tw + ": data source is not " + DS_UID)
        if not t.get("expr"):
            continue
        exprs.append(t["expr"])
        # Grafana's variables, as Grafana would substitute them.
        e = t["expr"]
        for var, value in [("$__rate_interval", "1m"), ("$__interval", "15s"),
                           ("$__range", "1h")]:
            e = e.replace(var, value)
        e = re.sub(r"\$\{?(\w+)(?::\w+)?\}?",
                   lambda m: ".*" if m.group(1) in variables else m.group(0), e)
        need("$" not in e, tw + ": unknown variable in %r" % t["expr"])
        rules.append({"record": "dashboard_check:panel_%s_%s" % (p["id"], t["refId"]),
                      "expr": e})
if problems:
    sys.exit("%s:\n  %s" % (path, "\n  ".join(problems)))
# JSON is YAML: promtool reads this as a rule file.
json.dump({"groups": [{"name": "dashboard", "rules": rules}]}, open(rules_out, "w"), indent=1)
json.dump(exprs, open(exprs_out, "w"))
print("  %d panels, %d queries, schemaVersion %d" % (
    sum(p.get("type") != "row" for p in panels), len(rules), d["schemaVersion"]))
EOF

step "dashboard: every query is valid PromQL"
"${PROMTOOL}" check rules "${tmp}/dashboard_exprs.json"

step "alerts and dashboard use only the metrics stubmesh exports"
"${PYTHON}" - "${prom}/alerts.yml" "${tmp}/exprs.json" <<'EOF'
import json, re, sys
# server/server_metrics.cc, mesh/client_call_interceptor.cc,
# gateway/rest_gateway.cc (histograms add _bucket, _sum, _count), `up` from
# Prometheus, process_start_time_seconds (server/process_start_time.cc).
known = {"up", "process_start_time_seconds",
         "grpc_server_started_total", "grpc_server_handled_total",
         "grpc_server_msg_received_total", "grpc_server_msg_sent_total",
         "grpc_client_started_total", "grpc_client_handled_total",
         "http_requests_total"}
for h in ["grpc_server_handling_seconds", "grpc_client_handling_seconds",
          "http_request_duration_seconds"]:
    known |= {h + "_bucket", h + "_sum", h + "_count"}

# The exprs of alerts.yml: "expr: X" or "expr: |" and the lines indented
# deeper than the "expr:" key.
exprs, block = [], None
for line in open(sys.argv[1]).read().splitlines():
    indent = len(line) - len(line.lstrip())
    if block is not None:
        if line.strip() and indent <= block[0]:
            exprs.append(block[1]); block = None
        else:
            block[1] += line + "\n"; continue
    m = re.match(r"^(\s*)expr:\s*(.*)$", line)
    if m:
        if m.group(2) in ("|", ">", "|-", ">-"):
            block = [len(m.group(1)), ""]
        else:
            exprs.append(m.group(2))
if block: exprs.append(block[1])
n_alerts = len(exprs)
exprs += json.load(open(sys.argv[2]))

used = set()
for e in exprs:
    e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', e)           # no string contents
    e = re.sub(r"\{[^}]*\}|\[[^\]]*\]", "", e)            # no matchers, ranges
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", e)
    for name in re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", e):
        if not re.match(r"^(sum|rate|irate|increase|changes|histogram_quantile|"
                        r"count|max|min|avg|and|or|unless|bool|offset|"
                        r"max_over_time|min_over_time|count_over_time|"
                        r"[0-9].*|[smhdwy]|ms)$", name):
            used.add(name)
unknown = sorted(used - known)
if unknown:
    sys.exit("unknown metric (or unlisted function) names: %s" % unknown)
print("  %d alert and %d dashboard expressions; metrics: %s" % (
    n_alerts, len(exprs) - n_alerts, ", ".join(sorted(used))))
EOF

echo
echo "check_monitoring: all checks passed"
