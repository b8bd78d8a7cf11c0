"""The local launcher end to end: the default topology (deploy/local/
topology.json: two user_svc replicas, one order_svc, the REST gateway) on
free loopback ports.

- everything comes up, healthy, where launcher.json and the printed summary
  say; REST calls through the gateway work (an order checks its user through
  the mesh);
- under a steady load of GET /v1/users/{id} through the gateway, kill -9 of
  a user_svc replica: no request fails, the other replica serves alone
  while it is down (its access log), the launcher restarts it on the same
  gRPC and admin ports (restart count 1, a new pid, healthy again), and both
  replicas' /metrics count GetUser calls again;
- SIGTERM to the launcher: the gateway, then order_svc, then user_svc are
  stopped (the services with the default 1s drain), every child is gone,
  the launcher exits 0;
- a replica that cannot start again (its port taken) is retried with
  doubling waits, and comes back once it can;
- a fixed port that is taken: the launcher says so and starts nothing;
- the mTLS topology (deploy/local/topology-mtls.json) with certificates that
  tools/dev-ca.sh makes in the test's temp dir: REST works through the
  gateway, a replica takes no plaintext gRPC; without the certificates the
  launcher says how to make them and starts nothing.

Paths: the service binaries as in stubmesh_testlib (the launcher's --bin_dir
is the directory that holds user_svc/user_svc), STUBMESH_LAUNCHER (default
<bin_dir>/launcher/launcher), STUBMESH_TOPOLOGY (default
<repo>/deploy/local/topology.json), STUBMESH_MTLS_TOPOLOGY (default
topology-mtls.json beside it). Run with /usr/bin/python3.
"""

import calendar
import http.client
import json
import os
import signal
import socket
import subprocess
import time
import unittest

import stubmesh_testlib as lib

USERS = "stubmesh.user.v1.UserService"
ORDERS = "stubmesh.order.v1.OrderService"

# Bounds: the whole test stays well under a minute on two cores.
UP_TIMEOUT_S = 20.0
RESTART_TIMEOUT_S = 10.0
TRAFFIC_TIMEOUT_S = 15.0
# A bound on the steady load's requests (it runs for a few seconds).
LOAD_MAX_REQUESTS = 50000
STOP_TIMEOUT_S = 20.0


def bin_dir():
    # <bin_dir>/user_svc/user_svc, both under Bazel (the runfiles root) and by
    # hand (bazel-bin).
    return os.path.dirname(os.path.dirname(lib.user_svc_binary()))


def launcher_binary():
    return lib._path_from_env("STUBMESH_LAUNCHER",
                              os.path.join(bin_dir(), "launcher", "launcher"))


def default_topology():
    return lib._path_from_env("STUBMESH_TOPOLOGY",
                              os.path.join(lib.REPO_ROOT, "deploy", "local", "topology.json"))


def mtls_topology():
    return lib._path_from_env("STUBMESH_MTLS_TOPOLOGY", os.path.join(
        os.path.dirname(default_topology()), "topology-mtls.json"))


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def http_request(address, method, path, body=None):
    """(status, parsed JSON or raw bytes) of one request to HOST:PORT."""
    host, port = address.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        conn.request(method, path, json.dumps(body) if body is not None else None, headers)
        resp = conn.getresponse()
        data = resp.read()
    finally:
        conn.close()
    try:
        return resp.status, json.loads(data)
    except ValueError:
        return resp.status, data


def get_user_ok(admin_address):
    """GetUser calls a service process answered OK, from its /metrics."""
    code, text = http_request(admin_address, "GET", "/metrics")
    if code != 200:
        raise AssertionError("%s/metrics: %s" % (admin_address, code))
    total = 0
    for line in text.decode("utf-8").splitlines():
        if (line.startswith("grpc_server_handled_total{") and 'grpc_method="GetUser"' in line
                and 'grpc_code="OK"' in line):
            total += int(float(line.rsplit(" ", 1)[1]))
    return total


def parse_timestamp(text):
    """Seconds since the epoch of an RFC 3339 UTC time, as the status file
    ("2024-05-01T10:00:00.123456789Z") and access logs (milliseconds) write
    them."""
    whole, _, fraction = text.rstrip("Z").partition(".")
    seconds = calendar.timegm(time.strptime(whole, "%Y-%m-%dT%H:%M:%S"))
    return seconds + (float("0." + fraction) if fraction else 0.0)


def access_times(log, what):
    """The times of the access log lines (server/call_observer) that hold
    `what`."""
    return [parse_timestamp(line.split(" ", 1)[0]) for line in log.splitlines()
            if " access " in line and what in line]


class Launcher(object):
    """The launcher as a child process of the test."""

    def __init__(self, tmp, topology, extra_args=()):
        self.state_dir = os.path.join(tmp, "var")
        self.stdout_path = os.path.join(tmp, "launcher.stdout")
        self.stderr_path = os.path.join(tmp, "launcher.stderr")
        self.status_path = os.path.join(self.state_dir, "launcher.json")
        argv = [launcher_binary(), "--topology=" + topology, "--bin_dir=" + bin_dir(),
                "--state_dir=" + self.state_dir] + list(extra_args)
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err)

    def status(self):
        with open(self.status_path) as f:
            return json.load(f)

    def stdout(self):
        with open(self.stdout_path) as f:
            return f.read()

    def stderr(self):
        with open(self.stderr_path) as f:
            return f.read()

    def await_state(self, state, timeout_s):
        def check():
            if self.proc.poll() is not None:
                raise AssertionError("launcher exited with %s:\n%s" % (
                    self.proc.returncode, self.stderr()[-4000:]))
            return os.path.exists(self.status_path) and self.status()["state"] == state
        lib.wait_until(check, timeout_s, "launcher state %s" % state)
        return self.status()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()  # its children get SIGTERM (PR_SET_PDEATHSIG)
            self.proc.wait()

    def keep_logs(self):
        outputs = os.environ.get("TEST_UNDECLARED_OUTPUTS_DIR")
        if not outputs:
            return
        for path in [self.stdout_path, self.stderr_path]:
            if os.path.exists(path):
                with open(path, "rb") as src, \
                        open(os.path.join(outputs, os.path.basename(path)), "wb") as dst:
                    dst.write(src.read())


class LauncherTest(unittest.TestCase):

    def setUp(self):
        for path in [launcher_binary(), default_topology()]:
            if not os.path.exists(path):
                self.fail("missing %s (bazel build //launcher:launcher)" % path)
        self.tmp = lib.make_temp_dir("launcher_test.")
        self.addCleanup(lib.remove_temp_dir, self.tmp)

    def start(self, topology, extra_args=()):
        launcher = Launcher(self.tmp, topology, extra_args)
        self.addCleanup(launcher.keep_logs)
        self.addCleanup(launcher.kill)
        return launcher

    def test_up_restart_and_stop(self):
        launcher = self.start(default_topology(), ["--free_ports"])
        status = launcher.await_state("RUNNING", UP_TIMEOUT_S)

        # Everything is up where the status file says.
        services = {s["name"]: s for s in status["services"]}
        self.assertEqual(sorted(services), ["order_svc", "user_svc"])
        users, orders = services["user_svc"], services["order_svc"]
        self.assertEqual(len(users["replicas"]), 2)
        self.assertEqual(len(orders["replicas"]), 1)
        everyone = users["replicas"] + orders["replicas"] + [status["gateway"]]
        for process in everyone:
            self.assertEqual(process["state"], "RUNNING", process)
            self.assertEqual(process["restarts"], 0, process)
            self.assertTrue(pid_alive(process["pid"]), process)
            self.assertTrue(os.path.exists(process["log"]), process)
            self.assertRegex(process["address"], r"^127\.0\.0\.1:\d+$")
            self.assertRegex(process["adminAddress"], r"^127\.0\.0\.1:\d+$")
        self.assertEqual(status["restUrl"], "http://" + status["gateway"]["address"])
        self.assertEqual(users["db"], os.path.join(launcher.state_dir, "users.db"))
        self.assertEqual(users["replicas"][1]["log"],
                         os.path.join(launcher.state_dir, "log", "user_svc-1.log"))

        # The mesh config lists every replica, and the summary says where.
        with open(status["meshConfig"]) as f:
            mesh = json.load(f)
        user_addresses = [r["address"] for r in users["replicas"]]
        self.assertEqual(mesh["services"][USERS]["target"], "ipv4:" + ",".join(user_addresses))
        self.assertEqual(mesh["services"][ORDERS]["target"],
                         "ipv4:" + orders["replicas"][0]["address"])
        self.assertEqual(users["target"], mesh["services"][USERS]["target"])
        printed = launcher.stdout()
        for text in [status["restUrl"], status["meshConfig"]] + \
                [p["address"] for p in everyone] + [p["log"] for p in everyone] + \
                ["http://%s/metrics" % r["adminAddress"] for r in users["replicas"]]:
            self.assertIn(text, printed)
        with open(status["prometheusTargets"]) as f:
            scraped = {t for group in json.load(f) for t in group["targets"]}
        self.assertEqual(scraped, {p["adminAddress"] for p in everyone})
        code, body = http_request(users["replicas"][0]["adminAddress"], "GET", "/metrics")
        self.assertEqual(code, 200)

        # REST through the gateway, and an order that asks the user service.
        gateway = status["gateway"]["address"]
        code, user = http_request(gateway, "POST", "/v1/users",
                                  {"name": "Ada", "email": "ada@example.com"})
        self.assertEqual(code, 200, user)
        code, order = http_request(gateway, "POST", "/v1/orders", {
            "userId": user["id"],
            "items": [{"sku": "BOOK-1", "quantity": 2, "unitPriceCents": 1250}]})
        self.assertEqual(code, 200, order)
        user_path = "/v1/users/%s" % user["id"]

        # Under a steady load of GET /v1/users/{id} through the gateway,
        # kill -9 one user replica: no request fails (the gateway's mesh
        # retries, health checks and ejection), the survivor serves while it
        # is down, the launcher restarts it on its ports, and traffic
        # reaches both again.
        survivor, victim = users["replicas"]
        load = lib.RequestLoad(int(gateway.rsplit(":", 1)[1]), user_path, threads=2,
                               max_requests=LOAD_MAX_REQUESTS).start()
        try:
            for replica in (survivor, victim):
                lib.wait_until(lambda: get_user_ok(replica["adminAddress"]) >= 20,
                               TRAFFIC_TIMEOUT_S, "%s to take traffic" % replica["name"])
            killed_at = time.time()
            os.kill(victim["pid"], signal.SIGKILL)

            def restarted():
                replica = launcher.status()["services"][0]["replicas"][1]
                return (replica["restarts"] == 1 and replica["state"] == "RUNNING"
                        and replica["pid"] != victim["pid"] and pid_alive(replica["pid"]))
            lib.wait_until(restarted, RESTART_TIMEOUT_S, "the launcher to restart user_svc-1")
            back = launcher.status()["services"][0]["replicas"][1]
            # Calls the survivor answered between the kill and the new
            # process's start (the launcher's restart backoff, 0.2s):
            # nobody else could.
            with open(survivor["log"]) as f:
                served_alone = [t for t in access_times(f.read(), "UserService/GetUser OK")
                                if killed_at <= t <= parse_timestamp(back["startedAt"])]
            self.assertGreaterEqual(len(served_alone), 5, (killed_at, back["startedAt"]))

            # Back on the same gRPC and admin ports: the mesh target and the
            # Prometheus target are unchanged.
            self.assertEqual(back["address"], victim["address"])
            self.assertEqual(back["adminAddress"], victim["adminAddress"])
            # Traffic returns to both: the new process's own counter, and the
            # survivor's, grow.
            survivor_before = get_user_ok(survivor["adminAddress"])
            lib.wait_until(lambda: get_user_ok(back["adminAddress"]) >= 20 and
                           get_user_ok(survivor["adminAddress"]) >= survivor_before + 20,
                           TRAFFIC_TIMEOUT_S, "GetUser calls to reach both replicas again")
        finally:
            load.stop()
        self.assertEqual(load.failures, [],
                         "%d failed of %d" % (len(load.failures), load.count()))
        self.assertGreater(load.ok, 100)

        self.assertEqual(back["lastExit"], "killed by signal 9 (Killed)")
        self.assertFalse(pid_alive(victim["pid"]))
        code, _ = http_request(back["adminAddress"], "GET", "/healthz")
        self.assertEqual(code, 200)
        self.assertIn("user_svc-1: pid %d killed by signal 9" % victim["pid"], launcher.stderr())
        self.assertIn("restarting user_svc-1 on %s (restart #1)" % victim["address"],
                      launcher.stderr())
        # The others were left alone.
        for name, index in [("user_svc", 0), ("order_svc", 0)]:
            self.assertEqual(services[name]["replicas"][index]["pid"],
                             {s["name"]: s for s in launcher.status()["services"]}
                             [name]["replicas"][index]["pid"])

        # SIGTERM: everything stops, in order, and the launcher exits 0.
        pids = [p["pid"] for p in everyone if p["name"] != "user_svc-1"] + [back["pid"]]
        launcher.proc.send_signal(signal.SIGTERM)
        self.assertEqual(launcher.proc.wait(timeout=STOP_TIMEOUT_S), 0, launcher.stderr()[-4000:])
        for pid in pids:
            self.assertFalse(pid_alive(pid), pid)
        final = launcher.status()
        self.assertEqual(final["state"], "STOPPED")
        for process in final["services"][0]["replicas"] + final["services"][1]["replicas"] + \
                [final["gateway"]]:
            self.assertEqual(process["state"], "STOPPED", process)
            self.assertEqual(process["pid"], 0, process)
            self.assertEqual(process["lastExit"], "exited with code 0", process)
        log = launcher.stderr()
        order = [log.index("stopping " + name) for name in
                 ["gateway-0", "order_svc-0", "user_svc-0", "user_svc-1"]]
        self.assertEqual(order, sorted(order), log)
        # The services drained with the default delay (--drain_delay unset).
        for process in final["services"][0]["replicas"] + final["services"][1]["replicas"]:
            with open(process["log"]) as f:
                self.assertIn("got signal 15: NOT_SERVING, draining for 1s", f.read(),
                              process["name"])

    def test_mtls_topology(self):
        # The mTLS topology, with certificates that tools/dev-ca.sh makes
        # here: every hop is mTLS, the launcher's own health checks included.
        certs = os.path.join(self.tmp, "certs")
        subprocess.run([os.path.join(lib.REPO_ROOT, "tools", "dev-ca.sh"), certs],
                       check=True, stdout=subprocess.DEVNULL)
        launcher = self.start(mtls_topology(), ["--free_ports", "--tls_dir=" + certs])
        status = launcher.await_state("RUNNING", UP_TIMEOUT_S)
        with open(status["meshConfig"]) as f:
            mesh = json.load(f)
        self.assertEqual(mesh["tls"]["caFile"], os.path.join(certs, "ca.crt"))

        gateway = status["gateway"]["address"]
        code, user = http_request(gateway, "POST", "/v1/users",
                                  {"name": "Ada", "email": "ada@example.com"})
        self.assertEqual(code, 200, user)
        code, order = http_request(gateway, "POST", "/v1/orders", {
            "userId": user["id"],
            "items": [{"sku": "BOOK-1", "quantity": 2, "unitPriceCents": 1250}]})
        self.assertEqual(code, 200, order)
        self.assertEqual(order["userId"], user["id"])

        # A replica's gRPC port takes no plaintext; its admin port is plain HTTP.
        replica = status["services"][0]["replicas"][0]
        import grpc  # Debian's python3-grpcio; only this test needs it.
        channel = grpc.insecure_channel(replica["address"])
        self.addCleanup(channel.close)
        with self.assertRaises(grpc.FutureTimeoutError):
            grpc.channel_ready_future(channel).result(timeout=2)
        code, _ = http_request(replica["adminAddress"], "GET", "/healthz")
        self.assertEqual(code, 200)
        with open(replica["log"]) as f:
            self.assertIn("mTLS on as spiffe://stubmesh.local/svc/user_svc", f.read())

    def test_mtls_without_certificates_starts_nothing(self):
        launcher = self.start(mtls_topology(), [
            "--free_ports", "--tls_dir=" + os.path.join(self.tmp, "no-certs")])
        self.assertEqual(launcher.proc.wait(timeout=STOP_TIMEOUT_S), 1)
        self.assertIn(os.path.join(self.tmp, "no-certs", "ca.crt") + " cannot be read",
                      launcher.stderr())
        self.assertIn("tools/dev-ca.sh", launcher.stderr())

    def test_restart_backs_off_while_the_port_is_taken(self):
        with open(default_topology()) as f:
            topology = json.load(f)
        topology["supervision"] = {"initialBackoff": "0.05s", "maxBackoff": "0.4s"}
        path = os.path.join(self.tmp, "topology.json")
        with open(path, "w") as f:
            json.dump(topology, f)
        launcher = self.start(path, ["--free_ports"])
        victim = launcher.await_state("RUNNING", UP_TIMEOUT_S)["services"][0]["replicas"][0]

        # The launcher is held still while the replica dies and its port is
        # taken, so that every restart it then makes fails to bind.
        os.kill(launcher.proc.pid, signal.SIGSTOP)
        try:
            os.kill(victim["pid"], signal.SIGKILL)
            host, port = victim["address"].rsplit(":", 1)
            taken = socket.socket()
            taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)

            def take_port():
                # Free once the killed replica is torn down.
                try:
                    taken.bind((host, int(port)))
                except OSError:
                    return False
                return True
            lib.wait_until(take_port, RESTART_TIMEOUT_S, "the killed replica's port")
            taken.listen(1)
        finally:
            os.kill(launcher.proc.pid, signal.SIGCONT)
        with taken:
            lib.wait_until(
                lambda: launcher.status()["services"][0]["replicas"][0]["restarts"] >= 4,
                RESTART_TIMEOUT_S, "four failed restarts")
            replica = launcher.status()["services"][0]["replicas"][0]
            self.assertIn(replica["state"], ["BACKOFF", "STARTING"])
            self.assertEqual(replica["lastExit"], "exited with code 1")
        # Each failure waits twice as long as the one before, up to the maximum.
        log = launcher.stderr()
        for attempt, wait in [(1, "50ms"), (2, "100ms"), (3, "200ms"), (4, "400ms")]:
            self.assertIn("restart #%d in %s" % (attempt, wait), log)
        self.assertIn("user_svc-0 did not start", log)

        # The port is free again: the replica comes back on it.
        lib.wait_until(
            lambda: launcher.status()["services"][0]["replicas"][0]["state"] == "RUNNING",
            RESTART_TIMEOUT_S, "user_svc-0 back")
        self.assertEqual(launcher.status()["services"][0]["replicas"][0]["address"],
                         victim["address"])
        launcher.proc.send_signal(signal.SIGTERM)
        self.assertEqual(launcher.proc.wait(timeout=STOP_TIMEOUT_S), 0)

    def test_taken_port_starts_nothing(self):
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen(1)
            port = taken.getsockname()[1]
            with open(default_topology()) as f:
                topology = json.load(f)
            for service in topology["services"]:
                service["basePort"] = 0
            topology["gateway"]["port"] = port
            path = os.path.join(self.tmp, "topology.json")
            with open(path, "w") as f:
                json.dump(topology, f)
            launcher = self.start(path)
            self.assertEqual(launcher.proc.wait(timeout=STOP_TIMEOUT_S), 1)
        self.assertIn("cannot bind 127.0.0.1:%d" % port, launcher.stderr())
        status = launcher.status()
        self.assertEqual(status["state"], "FAILED")
        for service in status["services"]:
            for replica in service["replicas"]:
                self.assertEqual(replica["pid"], 0)
                self.assertEqual(replica["state"], "STOPPED")


if __name__ == "__main__":
    unittest.main()
