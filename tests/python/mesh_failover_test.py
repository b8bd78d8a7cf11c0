"""Sidecar-free failover: two user_svc replicas behind the gateway, reached
through the mesh (round_robin, client health checks, retries, outlier
ejection), under a steady bounded load of GET /v1/users/{id}.

- kill -9 one replica, restart it on the same port: no client request fails,
  the survivor takes the load, and traffic returns to both;
- SIGTERM each replica in turn and start it again (a rolling restart): no
  client request fails.

Everything runs on 127.0.0.1; run with /usr/bin/python3.
"""

import http.client
import json
import os
import time
import unittest

import stubmesh_testlib as lib
from gateway_e2e_test import DEADLINE_SLACK_S, descriptor_set, gateway_binary

USERS = "stubmesh.user.v1.UserService"


def served_get_user(replica):
    """GetUser calls the replica's access log shows as answered OK."""
    try:
        with open(replica.log_path, "rb") as f:
            return f.read().count(b"UserService/GetUser OK")
    except FileNotFoundError:
        return 0


class MeshFailoverTest(unittest.TestCase):

    def setUp(self):
        self.tmp = lib.make_temp_dir("mesh_failover_test.")
        self.addCleanup(lib.remove_temp_dir, self.tmp)
        self.servers = []
        self.addCleanup(self._stop_everything)
        self.ports = {"a": lib.free_port(), "b": lib.free_port()}
        self.db = os.path.join(self.tmp, "users.db")
        self.replicas = {name: self._start_replica(name, 1) for name in ("a", "b")}

        users = {
            "target": "ipv4:127.0.0.1:%d,127.0.0.1:%d" % (self.ports["a"], self.ports["b"]),
            "outlierDetection": {"interval": "0.5s"},
        }
        users.update(self.mesh_extra)
        mesh = {"services": {USERS: users}}
        mesh_path = os.path.join(self.tmp, "mesh.json")
        with open(mesh_path, "w") as f:
            json.dump(mesh, f)
        log_dir = os.path.join(self.tmp, "gateway")
        os.mkdir(log_dir)
        self.gateway = lib.ServerProcess("gateway", [
            gateway_binary(), "--port=0", "--descriptor_set=" + descriptor_set(),
            "--mesh_config=" + mesh_path, "--backend=*=127.0.0.1:1"], log_dir)
        self.servers.append(self.gateway)
        self.port = int(self.gateway.start().rsplit(":", 1)[1])

        body = json.dumps({"name": "Ada", "email": "ada@example.com"})
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        conn.request("POST", "/v1/users", body, {"Content-Type": "application/json"})
        resp = conn.getresponse()
        created = json.loads(resp.read())
        self.assertEqual(resp.status, 200, created)
        self.user_path = "/v1/users/%s" % created["id"]

    # Per replica: extra flags (fault injection).
    replica_flags = {}
    # More settings of the user service's mesh config.
    mesh_extra = {}

    def _start_replica(self, name, generation):
        log_dir = os.path.join(self.tmp, "%s%d" % (name, generation))
        os.mkdir(log_dir)
        # No --drain_delay: the rolling restart relies on the default one
        # (server/grpc_service_runner.h) to let the gateway's health watch
        # move traffic away before the replica refuses calls.
        replica = lib.ServerProcess("user_svc", [
            lib.user_svc_binary(), "--port=%d" % self.ports[name], "--db=" + self.db
        ] + self.replica_flags.get(name, []), log_dir)
        self.servers.append(replica)
        replica.start()
        return replica

    def _stop_everything(self):
        for server in reversed(self.servers):
            if server.running():
                server.kill()

    def _wait_for_traffic(self, load, replica, calls=20):
        """Until `replica` has answered `calls` GetUser calls under `load`."""
        lib.wait_until(lambda: served_get_user(replica) >= calls, 30,
                       "replica %s to take traffic" % replica.log_path)
        self.assertFalse(load.failures, load.failures[:5])

    def test_kill_minus_nine_loses_no_request(self):
        load = lib.RequestLoad(self.port, self.user_path).start()
        try:
            self._wait_for_traffic(load, self.replicas["a"])
            self._wait_for_traffic(load, self.replicas["b"])
            self.replicas["a"].kill()  # SIGKILL: no drain, connections reset
            at_kill = load.count()
            b_at_kill = served_get_user(self.replicas["b"])
            lib.wait_until(lambda: load.count() >= at_kill + 500, 60, "load after the kill")
            # The survivor took the load.
            self.assertGreaterEqual(served_get_user(self.replicas["b"]) - b_at_kill, 400)
            self.replicas["a"] = self._start_replica("a", 2)
            self._wait_for_traffic(load, self.replicas["a"])  # traffic returns
        finally:
            load.stop()
        self.assertEqual(load.failures, [], "%d failed of %d" % (len(load.failures), load.count()))
        self.assertGreater(load.ok, 600)

    def test_rolling_restart_loses_no_request(self):
        load = lib.RequestLoad(self.port, self.user_path).start()
        try:
            generation = 2
            for name in ("a", "b"):
                self._wait_for_traffic(load, self.replicas[name])
                self.assertEqual(self.replicas[name].stop(), 0)  # SIGTERM, drain
                with open(self.replicas[name].log_path) as f:
                    self.assertIn("NOT_SERVING, draining for 1s", f.read())
                self.replicas[name] = self._start_replica(name, generation)
                self._wait_for_traffic(load, self.replicas[name])
        finally:
            load.stop()
        self.assertEqual(load.failures, [], "%d failed of %d" % (len(load.failures), load.count()))
        self.assertGreater(load.ok, 100)



class InjectedUnavailableTest(MeshFailoverTest):
    """Replica a answers half of its GetUser calls UNAVAILABLE."""

    replica_flags = {"a": ['--inject_faults=[{"method": "GetUser", "abortPercent": 50, '
                           '"abortCode": "UNAVAILABLE"}]']}
    # gRPC cannot steer a retry away from the replica that just failed, so
    # until a is ejected a call fails when all its attempts land on a and
    # fail: with 3 attempts and a 0.5 s check that lost about 1 call in 1500.
    # A service that may fail half its calls wants more attempts and a
    # quicker check.
    mesh_extra = {"retry": {"maxAttempts": 5}, "outlierDetection": {"interval": "0.1s"}}

    # The failover cases are MeshFailoverTest's; here only faults.
    test_kill_minus_nine_loses_no_request = None
    test_rolling_restart_loses_no_request = None

    def test_calls_still_succeed(self):
        load = lib.RequestLoad(self.port, self.user_path, max_requests=1500).start()
        try:
            lib.wait_until(lambda: load.count() >= 1500, 60, "1500 requests")
        finally:
            load.stop()
        calls = {}
        for name in ("a", "b"):
            with open(self.replicas[name].log_path, "rb") as f:
                log = f.read()
            calls[name] = log.count(b"/GetUser ")
            if name == "a":
                injected = log.count(b"fault=abort")
        # The faults were there; how many depends on how soon a is ejected
        # (after as few as two under load).
        self.assertGreater(injected, 0)
        self.assertEqual(load.failures, [], "%d failed of %d" % (len(load.failures), load.count()))
        # Round robin alone would send a half of the calls and every retry
        # of its failures; ejected, it gets a small share.
        self.assertLess(calls["a"], (calls["a"] + calls["b"]) / 4,
                        "GetUser calls per replica: %r (a not ejected?)" % calls)


class InjectedDelayTest(MeshFailoverTest):
    """Every GetUser waits 3 s on both replicas: the gateway's deadline wins."""

    replica_flags = {name: ['--inject_faults=[{"method": "GetUser", "delayPercent": 100, '
                            '"delay": "3s"}]'] for name in ("a", "b")}
    mesh_extra = {"methodTimeouts": {"GetUser": "0.4s"}}
    test_kill_minus_nine_loses_no_request = None
    test_rolling_restart_loses_no_request = None

    def test_deadline_exceeded_is_504_within_the_deadline(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        start = time.monotonic()
        conn.request("GET", self.user_path, headers={"Grpc-Timeout": "500m"})
        resp = conn.getresponse()
        body = json.loads(resp.read())
        elapsed = time.monotonic() - start
        self.assertEqual(resp.status, 504, body)
        self.assertEqual(body["code"], 4, body)
        self.assertGreaterEqual(elapsed, 0.45)
        # At the deadline (plus a little for the hops), not after the 3 s
        # delay.
        self.assertLess(elapsed, 0.5 + DEADLINE_SLACK_S)

    def test_mesh_method_timeout_is_the_default_deadline(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        start = time.monotonic()
        conn.request("GET", self.user_path)  # no Grpc-Timeout
        resp = conn.getresponse()
        body = json.loads(resp.read())
        elapsed = time.monotonic() - start
        self.assertEqual(resp.status, 504, body)
        self.assertGreaterEqual(elapsed, 0.35)
        # The mesh's 0.4 s, not the gateway's 10 s.
        self.assertLess(elapsed, 0.4 + DEADLINE_SLACK_S)


if __name__ == "__main__":
    unittest.main()
