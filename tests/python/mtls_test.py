"""mTLS and per-method authorization between real processes, with real
certificates that tools/dev-ca.sh makes with openssl in the test's temp dir.

user_svc, order_svc and the REST gateway run with one mesh config that turns
mTLS on and lets the gateway call every UserService method, and order_svc
only GetUser. Python's grpc (Debian's python3-grpcio) plays the other
clients:

- a plaintext client, a TLS client without a certificate, and one with a
  certificate from another CA are refused; a client that verifies the server
  against another CA fails;
- order_svc's identity calling CreateUser gets PERMISSION_DENIED, counted on
  the admin /metrics (plain HTTP) and logged with the identity; GetUser goes
  through; health answers any peer with a mesh certificate;
- REST through the gateway works end to end (gateway -> user_svc, and
  gateway -> order_svc -> user_svc), every hop on mTLS;
- rotated certificate, key and CA files are picked up without a restart;
- a bad key file refuses the start, naming the flag and path.

Paths as in stubmesh_testlib and gateway_e2e_test. Run with /usr/bin/python3.
"""

import json
import os
import re
import shutil
import subprocess
import unittest
import uuid

import grpc  # Debian's python3-grpcio.

import gateway_e2e_test as gw
import generated_stubs_test
import launcher_test
import stubmesh_testlib as lib

USERS = "stubmesh.user.v1.UserService"
ORDERS = "stubmesh.order.v1.OrderService"
DOMAIN = "spiffe://stubmesh.local/svc/"
CALL_TIMEOUT_S = 10


def dev_ca_script():
    return lib._path_from_env("STUBMESH_DEV_CA", os.path.join(lib.REPO_ROOT, "tools", "dev-ca.sh"))


def make_certificates(directory, *names):
    subprocess.run([dev_ca_script(), directory] + list(names), check=True,
                   stdout=subprocess.DEVNULL)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def denied_count(admin_address, method, peer):
    """stubmesh_server_authz_denied_total for USERS/method and peer (0 if absent)."""
    code, body = launcher_test.http_request(admin_address, "GET", "/metrics")
    if code != 200:
        raise AssertionError("/metrics answered %s" % code)
    text = body.decode() if isinstance(body, bytes) else str(body)
    for line in text.splitlines():
        if not line.startswith("stubmesh_server_authz_denied_total{"):
            continue
        if ('grpc_method="%s"' % method in line and 'grpc_service="%s"' % USERS in line
                and 'peer="%s"' % peer in line):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


class MtlsTest(unittest.TestCase):

    servers = []

    @classmethod
    def setUpClass(cls):
        cls.tmp = lib.make_temp_dir("mtls_test.")
        cls.addClassCleanup(lib.remove_temp_dir, cls.tmp)
        cls.addClassCleanup(cls._stop_servers)
        mods = generated_stubs_test._generate_and_import(os.path.join(cls.tmp, "gen"))
        for key, module in mods.items():
            setattr(cls, key, module)
        cls.certs = os.path.join(cls.tmp, "certs")
        cls.other_ca = os.path.join(cls.tmp, "other_ca")
        make_certificates(cls.certs, "user_svc", "order_svc", "gateway", "stranger")
        make_certificates(cls.other_ca, "order_svc")

        cls.mesh_path = os.path.join(cls.tmp, "mesh.json")
        mesh = {
            "tls": {"caFile": os.path.join(cls.certs, "ca.crt"), "refreshInterval": "1s"},
            "services": {USERS: {
                # user_svc reads only its own entry's authorization; the
                # target is written once it listens.
                "target": "127.0.0.1:1",
                "authorization": {"allow": [
                    {"principals": [DOMAIN + "gateway"], "methods": ["*"]},
                    {"principals": [DOMAIN + "order_svc"],
                     "methods": ["GetUser", "WatchEvents"]},
                ]},
            }},
        }
        cls._write_mesh(mesh)
        cls.user = cls._start("user_svc", lib.user_svc_binary(), [
            "--port=0", "--db=" + os.path.join(cls.tmp, "users.db"), lib.NO_DRAIN])
        mesh["services"][USERS]["target"] = cls.user.address
        cls._write_mesh(mesh)
        cls.order = cls._start("order_svc", lib.order_svc_binary(), [
            "--port=0", "--db=" + os.path.join(cls.tmp, "orders.db"), lib.NO_DRAIN])
        cls.gateway = cls._start("gateway", gw.gateway_binary(), [
            "--port=0", "--descriptor_set=" + gw.descriptor_set(),
            "--backend=%s=%s" % (ORDERS, cls.order.address)])

    @classmethod
    def _write_mesh(cls, mesh):
        with open(cls.mesh_path, "w") as f:
            json.dump(mesh, f)

    @classmethod
    def _start(cls, name, binary, args):
        server = lib.ServerProcess(name, [binary] + args + [
            "--mesh_config=" + cls.mesh_path,
            "--tls_cert_file=" + os.path.join(cls.certs, name + ".crt"),
            "--tls_key_file=" + os.path.join(cls.certs, name + ".key")], cls.tmp)
        server.start()
        cls.servers.append(server)
        if name != "gateway":
            # Health answers any peer with a mesh certificate: "stranger" is
            # in no authorization rule.
            channel = cls.channel(server.address, "stranger")
            try:
                lib.wait_until(lambda: lib.check_health_serving(
                    cls.health_pb2, cls.health_grpc, channel), lib.HEALTH_TIMEOUT_S,
                    name + " SERVING over mTLS")
            finally:
                channel.close()
        return server

    @classmethod
    def _stop_servers(cls):
        for server in reversed(cls.servers):
            server.stop()
        cls.servers = []

    @classmethod
    def channel(cls, address, identity=None, ca_dir=None, key_dir=None):
        """A channel to address: plaintext without identity; else TLS that
        trusts ca_dir's CA (default the mesh CA) and presents identity's
        certificate from key_dir (default the mesh's; "" for none)."""
        if identity is None:
            return grpc.insecure_channel(address)
        ca_dir = ca_dir or cls.certs
        key_dir = cls.certs if key_dir is None else key_dir
        if identity == "":
            credentials = grpc.ssl_channel_credentials(read(os.path.join(ca_dir, "ca.crt")))
        else:
            credentials = grpc.ssl_channel_credentials(
                read(os.path.join(ca_dir, "ca.crt")),
                read(os.path.join(key_dir, identity + ".key")),
                read(os.path.join(key_dir, identity + ".crt")))
        return grpc.secure_channel(address, credentials)

    def users_stub(self, channel):
        self.addCleanup(channel.close)
        return self.user_grpc.UserServiceStub(channel)

    def health_check_error(self, channel):
        """The code of a Health/Check that must fail."""
        self.addCleanup(channel.close)
        stub = self.health_grpc.HealthStub(channel)
        with self.assertRaises(grpc.RpcError) as raised:
            stub.Check(self.health_pb2.HealthCheckRequest(), timeout=CALL_TIMEOUT_S)
        return raised.exception.code()

    def test_plaintext_client_is_refused(self):
        self.assertEqual(self.health_check_error(self.channel(self.user.address)),
                         grpc.StatusCode.UNAVAILABLE)

    def test_client_without_certificate_is_refused(self):
        self.assertEqual(self.health_check_error(self.channel(self.user.address, "")),
                         grpc.StatusCode.UNAVAILABLE)

    def test_client_certificate_from_another_ca_is_refused(self):
        # The client trusts the server (mesh CA) but presents order_svc's
        # certificate of the other CA.
        channel = self.channel(self.user.address, "order_svc", key_dir=self.other_ca)
        self.assertEqual(self.health_check_error(channel), grpc.StatusCode.UNAVAILABLE)
        self.assertTrue(self.user.running())

    def test_client_verifying_the_server_with_another_ca_fails(self):
        # A good client certificate, but the server's is checked against the
        # other CA.
        channel = self.channel(self.user.address, "order_svc", ca_dir=self.other_ca)
        self.assertEqual(self.health_check_error(channel), grpc.StatusCode.UNAVAILABLE)

    def test_method_not_allowed_is_denied_counted_and_logged(self):
        peer = DOMAIN + "order_svc"
        before = denied_count(self.user.admin_address, "CreateUser", peer)
        stub = self.users_stub(self.channel(self.user.address, "order_svc"))
        request = self.user_pb2.CreateUserRequest(
            user=self.user_pb2.User(name="Eve", email="eve@example.com"),
            request_id="denied-" + uuid.uuid4().hex)
        with self.assertRaises(grpc.RpcError) as raised:
            stub.CreateUser(request, timeout=CALL_TIMEOUT_S,
                            metadata=[("x-request-id", "rid-denied-1")])
        self.assertEqual(raised.exception.code(), grpc.StatusCode.PERMISSION_DENIED)
        self.assertIn(peer, raised.exception.details())
        self.assertIn(USERS + "/CreateUser", raised.exception.details())
        self.assertEqual(denied_count(self.user.admin_address, "CreateUser", peer), before + 1)
        lib.wait_until(lambda: re.search(
            r" user_svc denied %s/CreateUser peer=%s rid=rid-denied-1\n" % (
                re.escape(USERS), re.escape(peer)),
            read(self.user.log_path).decode("utf-8", "replace")),
            5, "the denial in user_svc's log")
        # The handler never ran: no user of that name exists.
        admin = self.users_stub(self.channel(self.user.address, "gateway"))
        listed = admin.ListUsers(self.user_pb2.ListUsersRequest(page_size=1000),
                                 timeout=CALL_TIMEOUT_S)
        self.assertNotIn("eve@example.com", [u.email for u in listed.users])

    def test_peer_in_no_rule_is_denied_even_reads(self):
        stub = self.users_stub(self.channel(self.user.address, "stranger"))
        with self.assertRaises(grpc.RpcError) as raised:
            stub.GetUser(self.user_pb2.GetUserRequest(id=1), timeout=CALL_TIMEOUT_S)
        self.assertEqual(raised.exception.code(), grpc.StatusCode.PERMISSION_DENIED)
        self.assertEqual(denied_count(self.user.admin_address, "GetUser", DOMAIN + "stranger"),
                         1.0)

    def test_allowed_method_reaches_the_handler(self):
        stub = self.users_stub(self.channel(self.user.address, "order_svc"))
        with self.assertRaises(grpc.RpcError) as raised:
            stub.GetUser(self.user_pb2.GetUserRequest(id=987654), timeout=CALL_TIMEOUT_S)
        # The handler's answer, not the authorizer's.
        self.assertEqual(raised.exception.code(), grpc.StatusCode.NOT_FOUND)

    def test_rest_through_the_gateway_over_mtls(self):
        gateway = self.gateway.address
        email = "ada-%s@example.com" % uuid.uuid4().hex[:8]
        code, user = launcher_test.http_request(
            gateway, "POST", "/v1/users?requestId=" + uuid.uuid4().hex,
            {"name": "Ada", "email": email})
        self.assertEqual(code, 200, user)
        # gateway -> order_svc -> user_svc GetUser, each hop on mTLS.
        code, order = launcher_test.http_request(gateway, "POST", "/v1/orders", {
            "userId": user["id"],
            "items": [{"sku": "BOOK-1", "quantity": 2, "unitPriceCents": 1250}]})
        self.assertEqual(code, 200, order)
        self.assertEqual(order["userId"], user["id"])
        # order_svc asked user_svc as itself, and was let through.
        self.assertIn("UserService/GetUser OK", read(self.user.log_path).decode())

        # The saga over mTLS: order_svc tails WatchEvents (allowed to it) and
        # cancels the deleted user's order.
        code, _ = launcher_test.http_request(gateway, "DELETE", "/v1/users/%s" % user["id"])
        self.assertEqual(code, 200)

        def cancelled():
            code, body = launcher_test.http_request(gateway, "GET", "/v1/orders/%s" % order["id"])
            return code == 200 and body.get("status") == "ORDER_STATUS_CANCELLED"
        lib.wait_until(cancelled, 15, "the deleted user's order to be cancelled")
        self.assertNotIn("denied %s/WatchEvents" % USERS, read(self.user.log_path).decode())

    def test_admin_port_stays_plain_http(self):
        code, body = launcher_test.http_request(self.user.admin_address, "GET", "/healthz")
        self.assertEqual(code, 200)

    def test_rotated_files_are_picked_up(self):
        # A user_svc of its own, whose CA, certificate and key files are then
        # replaced (atomically, by rename) with those of another CA: new
        # connections use the new files without a restart.
        live = os.path.join(self.tmp, "rotating")
        fresh = os.path.join(self.tmp, "rotated")
        make_certificates(live, "user_svc", "order_svc")
        make_certificates(fresh, "user_svc", "order_svc")
        mesh_path = os.path.join(self.tmp, "rotating-mesh.json")
        with open(mesh_path, "w") as f:
            json.dump({"tls": {"caFile": os.path.join(live, "ca.crt"),
                               "refreshInterval": "1s"}}, f)
        server = lib.ServerProcess("user_svc", [
            lib.user_svc_binary(), "--port=0", "--admin_port=-1", lib.NO_DRAIN,
            "--db=" + os.path.join(self.tmp, "rotating.db"), "--mesh_config=" + mesh_path,
            "--tls_cert_file=" + os.path.join(live, "user_svc.crt"),
            "--tls_key_file=" + os.path.join(live, "user_svc.key")], live)
        server.start()
        self.addCleanup(server.stop)

        def serving_to(ca_dir):
            channel = self.channel(server.address, "order_svc", ca_dir=ca_dir, key_dir=ca_dir)
            try:
                return lib.check_health_serving(self.health_pb2, self.health_grpc, channel)
            except grpc.RpcError:
                return False
            finally:
                channel.close()
        lib.wait_until(lambda: serving_to(live), lib.HEALTH_TIMEOUT_S, "user_svc on the old CA")
        self.assertFalse(serving_to(fresh))

        for name in ["user_svc.key", "user_svc.crt", "ca.crt"]:
            shutil.copyfile(os.path.join(fresh, name), os.path.join(live, name) + ".new")
            os.replace(os.path.join(live, name) + ".new", os.path.join(live, name))
        lib.wait_until(lambda: serving_to(fresh), 15, "user_svc on the new CA")
        self.assertTrue(server.running())

    def test_bad_tls_files_refuse_the_start(self):
        garbage = os.path.join(self.tmp, "garbage.key")
        with open(garbage, "w") as f:
            f.write("not a key\n")
        cases = [
            (["--tls_cert_file=" + os.path.join(self.certs, "user_svc.crt"),
              "--tls_key_file=" + garbage],
             "--tls_key_file: %s: holds no PEM private key" % garbage),
            ([], "--tls_cert_file: is required"),
            (["--tls_cert_file=" + os.path.join(self.certs, "user_svc.crt"),
              "--tls_key_file=" + os.path.join(self.tmp, "missing.key")],
             "--tls_key_file: %s: cannot be read" % os.path.join(self.tmp, "missing.key")),
        ]
        for flags, message in cases:
            result = subprocess.run(
                [lib.user_svc_binary(), "--port=0", "--admin_port=-1",
                 "--db=" + os.path.join(self.tmp, "bad.db"),
                 "--mesh_config=" + self.mesh_path] + flags,
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                timeout=30)
            self.assertEqual(result.returncode, 1, result.stderr)
            self.assertIn(message, result.stderr.decode())
            self.assertNotIn(b"listening", result.stdout)


if __name__ == "__main__":
    unittest.main()
