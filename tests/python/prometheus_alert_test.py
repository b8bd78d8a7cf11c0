"""A real Prometheus against a launched stubmesh: a service hangs and the
shipped ServiceDown alert fires for it, then resolves; a service is killed
(kill -9) again and again, and the shipped ReplicaRestarting alert fires.

- the launcher runs the default topology (deploy/local/topology.json) on
  free loopback ports;
- deploy/prometheus/prometheus.yml and alerts.yml are copied to
  <state>/prometheus/, the layout their comments and README.md describe, so
  the shipped file_sd path `../prometheus_targets.json` finds the launcher's
  own targets file unchanged. The copies differ from the shipped files only
  in timing, and the test checks that line by line: scrape and evaluation
  interval 1s (scrape timeout 1s, as a timeout may not exceed the interval),
  and ServiceDown's `for:` 2s instead of 30s. The rule's expression and
  labels are the shipped ones (checked against what Prometheus loaded);
- /usr/bin/prometheus (Debian's package) listens on 127.0.0.1 only, on a
  free port, with its TSDB in the test's temp dir;
- every process the launcher started is a target, up, with the job,
  instance and replica labels alerts.yml relies on, and exports
  process_start_time_seconds (the gateway too); no ServiceDown is active;
- the order_svc replica hangs: SIGSTOP. A stopped process stays in the
  launcher's status (its waitpid does not ask for stopped children), keeps
  its admin port open (the kernel still accepts connections) and answers
  nothing, so every scrape times out and `up` is 0 for exactly that
  instance for as long as the test wants;
- ServiceDown fires for order_svc with job, instance, replica and severity
  set, and for no other target, while the launcher still shows the same
  order_svc pid with no restart;
- SIGCONT: the target is up again and the alert resolves;
- user_svc-1 is killed with kill -9 three times. ServiceDown is not the
  alert to expect here, honestly: the launcher restarts a dead replica
  after 0.2s (then 0.4s, 0.8s), so `up` is 0 for a scrape or two, never for
  the `for:`. What an operator should hear about is the crash loop:
  ReplicaRestarting (more than 2 restarts in 10m), which sees each restart
  as a new process_start_time_seconds on the same target, since the
  launcher keeps a replica's admin port across restarts. The test waits
  for the launcher to restart it (a new pid, healthy) and for Prometheus
  to scrape the new start time before each next kill; ReplicaRestarting
  then fires for user_svc-1 alone, with the value 3, and one instance;
- Prometheus stops on SIGTERM with exit 0, and so does the launcher.

Paths as in launcher_test.py; STUBMESH_PROMETHEUS overrides the Prometheus
binary (default /usr/bin/prometheus), STUBMESH_PROMETHEUS_CONFIG_DIR the
directory with prometheus.yml and alerts.yml (default: deploy/prometheus/
of the checkout, found through the real path of the topology file, since
deploy/BUILD does not export those files to other packages). Run with
/usr/bin/python3.
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

import launcher_test
import stubmesh_testlib as lib

# Timing the test sets in its copies of the shipped files.
INTERVAL = "1s"          # scrape_interval, scrape_timeout, evaluation_interval
SERVICE_DOWN_FOR = "2s"  # ServiceDown's `for:` (30s as shipped)

# Bounds: the whole test takes about 20s on two cores.
PROMETHEUS_READY_TIMEOUT_S = 30.0
TARGETS_UP_TIMEOUT_S = 20.0
ALERT_FIRING_TIMEOUT_S = 60.0
ALERT_RESOLVED_TIMEOUT_S = 30.0
RESTART_TIMEOUT_S = 20.0
RESTART_SCRAPED_TIMEOUT_S = 20.0
PROMETHEUS_STOP_TIMEOUT_S = 20.0


def prometheus_binary():
    return os.environ.get("STUBMESH_PROMETHEUS") or "/usr/bin/prometheus"


def prometheus_config_dir():
    # deploy/BUILD does not export deploy/prometheus/*, so they are not
    # runfiles: they are read beside deploy/local/topology.json in the source
    # tree, found through that runfile's symlink (the launcher test's
    # topology, a runfile under Bazel, the checkout's file by hand).
    deploy = os.path.dirname(os.path.dirname(os.path.realpath(
        launcher_test.default_topology())))
    return lib._path_from_env("STUBMESH_PROMETHEUS_CONFIG_DIR",
                              os.path.join(deploy, "prometheus"))


def free_loopback_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def replace_once(text, pattern, replacement, what):
    """text with the one match of pattern (multiline) replaced."""
    new, count = re.subn(pattern, replacement, text, flags=re.M)
    if count != 1:
        raise AssertionError("%s: %d matches of %r, want 1" % (what, count, pattern))
    return new


def config_for_test(shipped):
    """The shipped scrape config with 1s scrapes and rule evaluations."""
    text = shipped
    for key in ["scrape_interval", "scrape_timeout", "evaluation_interval"]:
        text = replace_once(text, r"^([ \t]+%s:[ \t]*)\S+[ \t]*$" % key, r"\g<1>" + INTERVAL,
                            "prometheus.yml " + key)
    return text


def rules_for_test(shipped):
    """The shipped rules with ServiceDown's `for:` shortened, nothing else."""
    start = shipped.index("- alert: ServiceDown\n")
    end = shipped.find("- alert:", start + 1)
    end = len(shipped) if end < 0 else end
    rule = replace_once(shipped[start:end], r"^([ \t]+for:[ \t]*)\S+[ \t]*$",
                        r"\g<1>" + SERVICE_DOWN_FOR, "alerts.yml ServiceDown")
    return shipped[:start] + rule + shipped[end:]


def changed_lines(before, after):
    a, b = before.splitlines(), after.splitlines()
    if len(a) != len(b):
        raise AssertionError("line count changed: %d -> %d" % (len(a), len(b)))
    return [(x.strip(), y.strip()) for x, y in zip(a, b) if x != y]


class Prometheus(object):
    """/usr/bin/prometheus on a free loopback port, as a child of the test."""

    def __init__(self, config_path, data_dir, log_path):
        self.config_path = config_path
        self.data_dir = data_dir
        self.log_path = log_path
        self.proc = None
        self.address = None

    def start(self):
        # The port is free when picked; another process could take it before
        # Prometheus binds it, so a start that fails on that is retried.
        for attempt in range(3):
            self.address = "127.0.0.1:%d" % free_loopback_port()
            argv = [prometheus_binary(),
                    "--config.file=" + self.config_path,
                    "--storage.tsdb.path=" + self.data_dir,
                    "--web.listen-address=" + self.address,
                    "--log.level=info"]
            with open(self.log_path, "ab") as log:
                self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                             stderr=log)
            lib.wait_until(lambda: self.proc.poll() is not None or self.ready(),
                           PROMETHEUS_READY_TIMEOUT_S, "Prometheus /-/ready")
            if self.proc.poll() is None:
                return
            if attempt == 2 or "address already in use" not in self.log():
                raise AssertionError("prometheus exited with %s:\n%s" % (
                    self.proc.returncode, self.log()[-4000:]))

    def ready(self):
        try:
            with urllib.request.urlopen("http://%s/-/ready" % self.address, timeout=2) as r:
                return r.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def api(self, path, **params):
        """The "data" of GET /api/v1/<path>."""
        url = "http://%s/api/v1/%s" % (self.address, path)
        if params:
            url += "?" + urllib.parse.urlencode(params)
        with urllib.request.urlopen(url, timeout=5) as r:
            body = json.load(r)
        if body.get("status") != "success":
            raise AssertionError("%s: %r" % (url, body))
        return body["data"]

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self):
        """SIGTERM; the exit code."""
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=PROMETHEUS_STOP_TIMEOUT_S)

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def keep_log(self):
        outputs = os.environ.get("TEST_UNDECLARED_OUTPUTS_DIR")
        if outputs and os.path.exists(self.log_path):
            shutil.copy(self.log_path, os.path.join(outputs, "prometheus.log"))


def resume(pid):
    try:
        os.kill(pid, signal.SIGCONT)
    except ProcessLookupError:
        pass


def service_down_alerts(prometheus):
    return alerts_named(prometheus, "ServiceDown")


def alerts_named(prometheus, name):
    return [a for a in prometheus.api("alerts")["alerts"]
            if a["labels"].get("alertname") == name]


def replica_of(launcher, name):
    """The launcher's current status of the process called `name`."""
    status = launcher.status()
    for service in status["services"]:
        for replica in service["replicas"]:
            if replica["name"] == name:
                return replica
    raise AssertionError("no %s in %s" % (name, status))


class PrometheusAlertTest(unittest.TestCase):

    def setUp(self):
        for path in [launcher_test.launcher_binary(), launcher_test.default_topology(),
                     prometheus_binary(),
                     os.path.join(prometheus_config_dir(), "prometheus.yml"),
                     os.path.join(prometheus_config_dir(), "alerts.yml")]:
            if not os.path.exists(path):
                self.fail("missing %s (bazel build //launcher:launcher; Prometheus is "
                          "Debian's package `prometheus`)" % path)
        self.tmp = lib.make_temp_dir("prometheus_alert_test.")
        self.addCleanup(lib.remove_temp_dir, self.tmp)
        self.t0 = time.monotonic()

    def step(self, what):
        sys.stderr.write("[%5.1fs] %s\n" % (time.monotonic() - self.t0, what))

    def test_service_down_fires_and_resolves(self):
        launcher = launcher_test.Launcher(self.tmp, launcher_test.default_topology(),
                                          ["--free_ports"])
        self.addCleanup(launcher.keep_logs)
        self.addCleanup(launcher.kill)
        status = launcher.await_state("RUNNING", launcher_test.UP_TIMEOUT_S)
        self.step("launcher RUNNING")
        services = {s["name"]: s for s in status["services"]}
        everyone = [(name, r) for name in ["user_svc", "order_svc"]
                    for r in services[name]["replicas"]] + [("gateway", status["gateway"])]
        want_targets = {(job, p["adminAddress"], p["name"]) for job, p in everyone}
        self.assertEqual(len(want_targets), 4)
        victim = services["order_svc"]["replicas"][0]

        # The shipped config in <state>/prometheus/, with the test's timing.
        source = prometheus_config_dir()
        prom_dir = os.path.join(launcher.state_dir, "prometheus")
        os.makedirs(os.path.join(prom_dir, "targets"))
        with open(os.path.join(source, "prometheus.yml")) as f:
            shipped_config = f.read()
        with open(os.path.join(source, "alerts.yml")) as f:
            shipped_rules = f.read()
        config, rules = config_for_test(shipped_config), rules_for_test(shipped_rules)
        self.assertEqual(changed_lines(shipped_config, config), [
            ("scrape_interval: 5s", "scrape_interval: " + INTERVAL),
            ("scrape_timeout: 4s", "scrape_timeout: " + INTERVAL),
            ("evaluation_interval: 5s", "evaluation_interval: " + INTERVAL)])
        self.assertEqual(changed_lines(shipped_rules, rules),
                         [("for: 30s", "for: " + SERVICE_DOWN_FOR)])
        self.assertIn("- ../prometheus_targets.json\n", config)
        config_path = os.path.join(prom_dir, "prometheus.yml")
        with open(config_path, "w") as f:
            f.write(config)
        with open(os.path.join(prom_dir, "alerts.yml"), "w") as f:
            f.write(rules)

        prometheus = Prometheus(config_path, os.path.join(prom_dir, "data"),
                                os.path.join(self.tmp, "prometheus.log"))
        self.addCleanup(prometheus.keep_log)
        self.addCleanup(prometheus.kill)
        prometheus.start()
        self.step("Prometheus ready on %s, config from %s" % (prometheus.address, source))

        # The rule Prometheus evaluates is the shipped one, but for `for:`.
        loaded = {r["name"]: r for g in prometheus.api("rules")["groups"] for r in g["rules"]}
        shipped_expr = re.search(r"- alert: ServiceDown\n\s+expr: (.+)\n", shipped_rules).group(1)
        self.assertEqual(loaded["ServiceDown"]["query"], shipped_expr)
        self.assertEqual(shipped_expr, "up == 0")
        self.assertEqual(loaded["ServiceDown"]["duration"], 2)
        self.assertEqual(loaded["ServiceDown"]["labels"], {"severity": "critical"})

        # Every process the launcher started is scraped, from its own targets
        # file, with the labels alerts.yml relies on.
        targets_file = os.path.realpath(status["prometheusTargets"])

        def scraped(health):
            active = prometheus.api("targets", state="active")["activeTargets"]
            got = {(t["labels"].get("job"), t["labels"].get("instance"),
                    t["labels"].get("replica")): t for t in active}
            return set(got) == want_targets and all(
                t["health"] == health and
                os.path.realpath(t["discoveredLabels"]["__meta_filepath"]) == targets_file
                for t in got.values())
        lib.wait_until(lambda: scraped("up"), TARGETS_UP_TIMEOUT_S,
                       "Prometheus to scrape every launched process")
        self.assertEqual(service_down_alerts(prometheus), [])
        self.step("all %d targets up, no ServiceDown" % len(want_targets))

        # Every process says when it started (ReplicaRestarting counts
        # restarts with it): the services' bootstrap and the gateway.
        def start_times():
            return {(r["metric"]["job"], r["metric"]["instance"], r["metric"]["replica"]):
                    r["value"][1] for r in
                    prometheus.api("query", query="process_start_time_seconds")["result"]}
        lib.wait_until(lambda: set(start_times()) == want_targets, TARGETS_UP_TIMEOUT_S,
                       "process_start_time_seconds from every target")
        for target, value in start_times().items():
            self.assertLessEqual(float(value), time.time(), target)

        # order_svc stops answering, and stays in the launcher's targets.
        os.kill(victim["pid"], signal.SIGSTOP)
        stopped_at = time.monotonic()
        # Before launcher.kill in the cleanups: a stopped child would not act
        # on the SIGTERM the launcher's death sends it.
        self.addCleanup(resume, victim["pid"])
        self.step("SIGSTOP order_svc-0 (pid %d, /metrics on %s)"
                  % (victim["pid"], victim["adminAddress"]))
        want_labels = {"alertname": "ServiceDown", "severity": "critical", "job": "order_svc",
                       "instance": victim["adminAddress"], "replica": victim["name"]}
        seen_states, others, fired = [], [], []

        def firing():
            alerts = service_down_alerts(prometheus)
            others.extend(a for a in alerts if a["labels"] != want_labels)
            mine = [a for a in alerts if a["labels"] == want_labels]
            if mine and (not seen_states or seen_states[-1] != mine[0]["state"]):
                seen_states.append(mine[0]["state"])
            if mine and mine[0]["state"] == "firing":
                fired.append(mine[0])
            return others or fired
        lib.wait_until(firing, ALERT_FIRING_TIMEOUT_S, "ServiceDown to fire for order_svc")
        self.assertEqual(others, [])  # only the stopped replica is down
        fired_after = time.monotonic() - stopped_at
        alert = fired[0]
        self.step("ServiceDown firing %.1fs after SIGSTOP (states seen: %s)"
                  % (fired_after, " -> ".join(seen_states)))
        self.assertEqual(alert["labels"], want_labels)
        self.assertEqual(alert["annotations"]["summary"], "order_svc replica order_svc-0 is down")
        self.assertIn("failed to scrape %s/metrics" % victim["adminAddress"],
                      alert["annotations"]["description"])
        self.assertEqual(float(alert["value"]), 0.0)
        self.assertGreaterEqual(fired_after, 2.0)  # the `for:`
        self.assertEqual(set(seen_states) - {"pending"}, {"firing"})
        value = prometheus.api("query", query='up{job="order_svc"}')["result"]
        self.assertEqual([(r["metric"]["instance"], r["value"][1]) for r in value],
                         [(victim["adminAddress"], "0")])
        # The launcher did not notice: same process, no restart.
        now = {s["name"]: s for s in launcher.status()["services"]}["order_svc"]["replicas"][0]
        self.assertEqual((now["pid"], now["restarts"], now["state"]),
                         (victim["pid"], 0, "RUNNING"))

        # Back: scraped again, and the alert resolves.
        os.kill(victim["pid"], signal.SIGCONT)
        resumed_at = time.monotonic()
        self.step("SIGCONT order_svc-0")
        lib.wait_until(
            lambda: scraped("up") and not service_down_alerts(prometheus) and not
            prometheus.api("query", query='ALERTS{alertname="ServiceDown"}')["result"],
            ALERT_RESOLVED_TIMEOUT_S, "ServiceDown to resolve")
        self.step("every target up, ServiceDown resolved %.1fs after SIGCONT"
                  % (time.monotonic() - resumed_at))

        # kill -9 of user_svc-1, three times: the launcher restarts it each
        # time, on the same admin port, and Prometheus sees each new process.
        crashing = replica_of(launcher, "user_svc-1")
        crashing_target = ("user_svc", crashing["adminAddress"], "user_svc-1")
        self.assertEqual(alerts_named(prometheus, "ReplicaRestarting"), [])
        for restart in range(1, 4):
            before = replica_of(launcher, "user_svc-1")
            seen_start = start_times()[crashing_target]
            os.kill(before["pid"], signal.SIGKILL)

            def restarted():
                now = replica_of(launcher, "user_svc-1")
                return (now["restarts"] == restart and now["state"] == "RUNNING"
                        and now["pid"] != before["pid"])
            lib.wait_until(restarted, RESTART_TIMEOUT_S,
                           "the launcher to restart user_svc-1 (#%d)" % restart)
            self.assertEqual(replica_of(launcher, "user_svc-1")["adminAddress"],
                             crashing["adminAddress"])
            lib.wait_until(lambda: start_times().get(crashing_target, seen_start) != seen_start,
                           RESTART_SCRAPED_TIMEOUT_S,
                           "Prometheus to scrape restarted user_svc-1's start time")
            self.step("kill -9 user_svc-1 (pid %d): restart #%d, scraped on %s"
                      % (before["pid"], restart, crashing["adminAddress"]))
        killed_at = time.monotonic()

        want_restarting = {"alertname": "ReplicaRestarting", "severity": "warning",
                           "job": "user_svc", "replica": "user_svc-1"}
        restarting = []

        def restarting_fired():
            restarting[:] = alerts_named(prometheus, "ReplicaRestarting")
            return any(a["state"] == "firing" for a in restarting)
        lib.wait_until(restarting_fired, ALERT_FIRING_TIMEOUT_S,
                       "ReplicaRestarting to fire for user_svc-1")
        self.step("ReplicaRestarting firing %.1fs after the third restart was scraped"
                  % (time.monotonic() - killed_at))
        self.assertEqual([a["labels"] for a in restarting], [want_restarting])
        self.assertEqual(float(restarting[0]["value"]), 3.0)
        self.assertEqual(restarting[0]["annotations"]["summary"],
                         "user_svc replica user_svc-1 is restarting repeatedly")
        # One target throughout: the same instance, its `up` one series.
        ups = prometheus.api("query", query='count by (instance) '
                             '(count_over_time(up{replica="user_svc-1"}[10m]))')["result"]
        self.assertEqual([r["metric"]["instance"] for r in ups], [crashing["adminAddress"]])

        self.assertEqual(prometheus.stop(), 0, prometheus.log()[-4000:])
        launcher.proc.send_signal(signal.SIGTERM)
        self.assertEqual(launcher.proc.wait(timeout=launcher_test.STOP_TIMEOUT_S), 0,
                         launcher.stderr()[-4000:])
        self.step("Prometheus and the launcher stopped, exit 0")


if __name__ == "__main__":
    unittest.main()
