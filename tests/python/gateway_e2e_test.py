"""The REST gateway end to end: real binaries on loopback, plain HTTP.

Starts user_svc, order_svc (temp SQLite files), echo_backend (the gateway's
test service, stubmesh.testing.v1.EchoService) and the gateway on port 0,
then drives the gateway over HTTP with the standard library only
(http.client, sockets): the original /user and /order routes, the RESTful
routes, every error class with its HTTP status and google.rpc.Status body,
header and metadata forwarding, transcoding of every field kind, hostile
input, and streaming as NDJSON.

Run by Bazel as //tests/python:python_client_test, or by hand from the repo
root after `bazel build //user_svc:user_svc //order_svc:order_svc
//gateway:gateway //gateway/testdata:echo_backend //protos:descriptor_set
//gateway/testdata:transcoding_descriptor_set`:

    /usr/bin/python3 -m unittest -v tests/python/gateway_e2e_test.py

Beyond the variables of stubmesh_testlib.py, these override paths:

    STUBMESH_GATEWAY                     (default <repo>/bazel-bin/gateway/gateway)
    STUBMESH_ECHO_BACKEND                (default <repo>/bazel-bin/gateway/testdata/echo_backend)
    STUBMESH_DESCRIPTOR_SET              (default <repo>/bazel-bin/protos/descriptor_set.pb)
    STUBMESH_TRANSCODING_DESCRIPTOR_SET  (default <repo>/bazel-bin/gateway/testdata/
                                          transcoding_descriptor_set.pb)
"""

import http.client
import json
import os
import re
import select
import signal
import socket
import sys
import threading
import time
import unittest
import urllib.parse
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import stubmesh_testlib as lib  # noqa: E402

ECHO_SERVICE = "stubmesh.testing.v1.EchoService"
USER_SERVICE = "stubmesh.user.v1.UserService"
ORDER_SERVICE = "stubmesh.order.v1.OrderService"

# The gateway's defaults (gateway/main.cc): --max_body_bytes,
# --max_header_bytes.
MAX_BODY_BYTES = 1 << 20
MAX_HEADER_BYTES = 16 << 10

# How long one HTTP exchange may take before the test gives up on it.
HTTP_TIMEOUT_S = 10.0

# The main gateway's --default_timeout: the deadline of calls to its
# --backend services when the request has no Grpc-Timeout (and it has no
# mesh config).
DEFAULT_TIMEOUT_S = 2.0

# How much later than its deadline a call cut short by it may answer.
DEADLINE_SLACK_S = 0.3

ERROR_KEYS = {"code", "message", "details"}


def _bin_path(var, *parts):
    return lib._path_from_env(var, os.path.join(lib.REPO_ROOT, "bazel-bin", *parts))


def gateway_binary():
    return _bin_path("STUBMESH_GATEWAY", "gateway", "gateway")


def echo_backend_binary():
    return _bin_path("STUBMESH_ECHO_BACKEND", "gateway", "testdata", "echo_backend")


def descriptor_set():
    return _bin_path("STUBMESH_DESCRIPTOR_SET", "protos", "descriptor_set.pb")


def transcoding_descriptor_set():
    return _bin_path("STUBMESH_TRANSCODING_DESCRIPTOR_SET",
                     "gateway", "testdata", "transcoding_descriptor_set.pb")


class Response(object):
    """What came back from one HTTP exchange."""

    def __init__(self, status, headers, body, elapsed_s):
        self.status = status
        self.headers = headers  # http.client.HTTPMessage: case-insensitive
        self.body = body
        self.elapsed_s = elapsed_s

    def header(self, name):
        return self.headers.get(name)

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def __repr__(self):
        return "HTTP %d %s %r" % (self.status, dict(self.headers.items()), self.body[:600])


def http_request(port, method, path, body=None, headers=None, timeout=HTTP_TIMEOUT_S):
    """One request on a fresh connection; the path is sent as given."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    start = time.monotonic()
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read()
        return Response(resp.status, resp.headers, data, time.monotonic() - start)
    finally:
        conn.close()


def tcp_send_queue(local_port, remote_port):
    """Bytes queued to send on the IPv4 loopback connection from local_port to
    remote_port (/proc/net/tcp's tx_queue), 0 when there is no such one."""
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            local, remote = fields[1], fields[2]
            if (int(local.split(":")[1], 16) == local_port and
                    int(remote.split(":")[1], 16) == remote_port):
                return int(fields[4].split(":")[0], 16)
    return 0


def raw_exchange(port, head, body=b"", timeout=HTTP_TIMEOUT_S):
    """Sends raw bytes and returns everything the server sent until it closed
    the connection or went quiet, or None when the connection was reset
    before any answer.

    The head goes first; when the server answers before the body was sent
    (a 413 on Content-Length, say) the body is not sent at all, so that the
    answer is not lost to a reset caused by unread data.
    """
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    received = bytearray()
    try:
        sock.sendall(head)
        if body:
            readable, _, _ = select.select([sock], [], [], 1.0)
            if not readable:
                try:
                    sock.sendall(body)
                except OSError:
                    pass
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            readable, _, _ = select.select([sock], [], [], 0.5)
            if not readable:
                if received:
                    break  # An answer, and then quiet: a kept-alive connection.
                continue
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            received += chunk
    finally:
        sock.close()
    return bytes(received) if received else None


def raw_status(answer):
    """The status code of a raw HTTP answer, or None."""
    if not answer:
        return None
    match = re.match(rb"HTTP/1\.[01] (\d{3}) ", answer)
    return int(match.group(1)) if match else None


def raw_header(answer, name):
    """The value of the first header `name` of a raw HTTP answer, or None."""
    head = answer.partition(b"\r\n\r\n")[0].decode("latin-1")
    match = re.search(r"(?im)^%s:[ \t]*(.*?)[ \t]*\r?$" % re.escape(name), head)
    return match.group(1) if match else None


def raw_json_body(answer):
    """The JSON body of a raw HTTP answer with a Content-Length."""
    head, _, body = answer.partition(b"\r\n\r\n")
    match = re.search(rb"(?im)^content-length:\s*(\d+)\s*$", head)
    if match:
        body = body[:int(match.group(1))]
    return json.loads(body.decode("utf-8"))


def q(value):
    return urllib.parse.quote(value, safe="")


def serving_lines(server):
    """How many times a gateway has loaded its catalog (its log says so)."""
    with open(server.log_path, "rb") as f:
        return f.read().count(b"gateway: serving ")


class KeepAliveLoad(object):
    """One client thread sending GETs on one kept-alive connection (a new
    one only if the gateway closes it) until stopped; every answer must have
    the status the path gave when the load started."""

    def __init__(self, port, paths, max_requests=20000):
        self.port = port
        self.paths = paths
        self.max_requests = max_requests
        self.failures = []
        self._count = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self._thread.start()
        return self

    def count(self):
        return self._count

    def stop(self):
        self._stop.set()
        self._thread.join(HTTP_TIMEOUT_S * 2)

    def _run(self):
        conn = None
        want = {}
        while not self._stop.is_set() and self._count < self.max_requests:
            path = self.paths[self._count % len(self.paths)]
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", self.port,
                                                      timeout=HTTP_TIMEOUT_S)
                conn.request("GET", path)
                resp = conn.getresponse()
                resp.read()
                want.setdefault(path, resp.status)
                if resp.status != want[path] or resp.status >= 500:
                    self.failures.append("%s: HTTP %d" % (path, resp.status))
                if resp.will_close:
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException) as e:
                self.failures.append("%s: %r" % (path, e))
                conn = None
            self._count += 1
        if conn is not None:
            conn.close()


class GatewayE2ETest(lib.ClassServers, unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = lib.make_temp_dir("gateway_e2e_test.")
        cls.addClassCleanup(lib.remove_temp_dir, cls.tmp)

        for path in (gateway_binary(), echo_backend_binary(), descriptor_set(),
                     transcoding_descriptor_set()):
            if not os.path.exists(path):
                raise FileNotFoundError("missing %s (see this file's docstring for what to build)"
                                        % path)

        # Stopped in reverse: the gateway first (it calls the others), then
        # order_svc (it calls user_svc).
        cls.user_server = cls.start_class_server(lib.ServerProcess("user_svc", [
            lib.user_svc_binary(), "--port=0", "--db=" + os.path.join(cls.tmp, "users.db"),
            lib.NO_DRAIN], cls.tmp))
        user_addr = cls.user_server.address
        cls.order_server = cls.start_class_server(lib.ServerProcess("order_svc", [
            lib.order_svc_binary(), "--port=0", "--db=" + os.path.join(cls.tmp, "orders.db"),
            lib.NO_DRAIN,
            "--user_service=" + user_addr], cls.tmp))
        order_addr = cls.order_server.address
        cls.echo_server = cls.start_class_server(lib.ServerProcess("echo_backend", [
            echo_backend_binary(), "--port=0", lib.NO_DRAIN], cls.tmp))
        echo_addr = cls.echo_server.address

        cls.gateway = cls._start_gateway("gateway", {
            USER_SERVICE: user_addr, ORDER_SERVICE: order_addr, ECHO_SERVICE: echo_addr},
            ["--default_timeout=%gs" % DEFAULT_TIMEOUT_S], class_scoped=True)
        # Ready: every backend answers its health check through the gateway.
        cls._wait_http(cls.gateway, "/readyz", 200)

    @classmethod
    def _start_gateway(cls, name, backends, extra_args=(), class_scoped=False):
        """Starts a gateway on port 0 and waits for /healthz 200. A
        class_scoped one is stopped by tearDownClass; the caller stops any
        other."""
        log_dir = os.path.join(cls.tmp, name)
        os.makedirs(log_dir, exist_ok=True)
        argv = [gateway_binary(), "--port=0",
                "--descriptor_set=" + descriptor_set(),
                "--descriptor_set=" + transcoding_descriptor_set()]
        argv += ["--backend=%s=%s" % (service, target) for service, target in sorted(backends.items())]
        argv += list(extra_args)
        server = lib.ServerProcess("gateway", argv, log_dir)
        if class_scoped:
            cls.start_class_server(server)
        else:
            server.start()
        server.port = int(server.address.rsplit(":", 1)[1])
        cls._wait_http(server, "/healthz", 200)
        return server

    @classmethod
    def _wait_http(cls, server, path, want_status):
        def answers():
            if not server.running():
                raise AssertionError("%s exited with %s\n%s" % (
                    server.name, server.proc.returncode, server.stderr_tail()))
            return http_request(server.port, "GET", path, timeout=2).status == want_status
        try:
            lib.wait_until(answers, lib.HEALTH_TIMEOUT_S, "%s GET %s %d" % (
                server.name, path, want_status))
        except TimeoutError as e:
            raise AssertionError("%s\n%s" % (e, server.stderr_tail()))

    # ---- helpers -------------------------------------------------------

    def call(self, method, path, body=None, headers=None, port=None, timeout=HTTP_TIMEOUT_S):
        return http_request(port or self.gateway.port, method, path, body=body,
                            headers=headers, timeout=timeout)

    def call_json(self, method, path, obj, headers=None):
        all_headers = {"Content-Type": "application/json"}
        all_headers.update(headers or {})
        return self.call(method, path, body=json.dumps(obj).encode("utf-8"), headers=all_headers)

    def call_form(self, method, path, fields):
        return self.call(method, path, body=urllib.parse.urlencode(fields).encode("ascii"),
                         headers={"Content-Type": "application/x-www-form-urlencoded"})

    def assertJson(self, resp, status=200):
        """Status, Content-Type application/json, and a body that parses."""
        self.assertEqual(resp.status, status, resp)
        content_type = resp.header("Content-Type") or ""
        self.assertEqual(content_type.split(";")[0].strip().lower(), "application/json", resp)
        try:
            return resp.json()
        except ValueError as e:
            self.fail("body is not JSON (%s): %r" % (e, resp))

    def assertError(self, resp, status, code=None, message_contains=None, field=None):
        """An error: the HTTP status and a google.rpc.Status body. With
        `field`, a bad field: the message starts with it, and the one detail
        is a google.rpc.BadRequest naming it; else no details."""
        body = self.assertJson(resp, status)
        self.assertIsInstance(body, dict, resp)
        self.assertEqual(set(body), ERROR_KEYS, resp)
        self.assertIsInstance(body["code"], int, resp)
        self.assertGreater(body["code"], 0, resp)
        self.assertIsInstance(body["message"], str, resp)
        self.assertTrue(body["message"], resp)
        if field is None:
            self.assertEqual(body["details"], [], resp)
        else:
            prefix = field + ": "
            self.assertTrue(body["message"].startswith(prefix), resp)
            self.assertEqual(body["details"], [{
                "@type": "type.googleapis.com/google.rpc.BadRequest",
                "fieldViolations": [{"field": field,
                                     "description": body["message"][len(prefix):],
                                     "reason": ""}]}], resp)
        if code is not None:
            self.assertEqual(body["code"], code, resp)
        if message_contains is not None:
            self.assertIn(message_contains, body["message"], resp)
        return body

    def metrics(self):
        return self.call("GET", "/metrics").body.decode("utf-8")

    def assertStillServing(self):
        resp = self.call("GET", "/healthz")
        self.assertEqual(resp.status, 200, "gateway no longer healthy: %r\n%s" % (
            resp, self.gateway.stderr_tail()))
        self.assertTrue(self.gateway.running())

    def new_email(self, prefix="user"):
        return "%s-%s@example.com" % (prefix, uuid.uuid4().hex[:12])

    def create_user(self, name="Ada Lovelace", email=None):
        resp = self.call_json("POST", "/v1/users", {"name": name, "email": email or self.new_email()})
        return self.assertJson(resp, 200)

    def create_order(self, user_id, items=None):
        items = items or [{"sku": "CUP", "quantity": 1, "unitPriceCents": 500}]
        resp = self.call_json("POST", "/v1/orders", {"userId": user_id, "items": items})
        return self.assertJson(resp, 200)

    def echo(self, query, headers=None, id_=1):
        """GET /v1/echo/{id}?query: the EchoRequest the backend received."""
        path = "/v1/echo/%d" % id_ + ("?" + query if query else "")
        return self.assertJson(self.call("GET", path, headers=headers), 200)

    # ---- health --------------------------------------------------------

    def test_healthz_and_readyz(self):
        self.assertEqual(self.assertJson(self.call("GET", "/healthz")), {"status": "ok"})
        self.assertEqual(self.assertJson(self.call("GET", "/readyz")), {"status": "ready"})

    # ---- the mesh: what reaches the last hop ------------------------------

    def access_lines(self, server, needle):
        with open(server.log_path, "rb") as f:
            return [line for line in f.read().decode("utf-8", "replace").splitlines()
                    if " access " in line and needle in line]

    def hop_lines(self, request_id):
        """The access lines of one request at order_svc, then user_svc."""
        found = []
        for server, method in ((self.order_server, "OrderService/CreateOrder"),
                               (self.user_server, "UserService/GetUser")):
            lines = []
            lib.wait_until(lambda: lines.extend(self.access_lines(server, request_id)) or lines,
                           10, "%s access line with rid=%s" % (server.name, request_id))
            self.assertIn(method + " OK", lines[0])
            found.append(lines[0])
        return found

    def place_order(self, headers):
        user = self.create_user()
        created = self.assertJson(self.call_json(
            "POST", "/v1/orders",
            {"userId": user["id"], "items": [{"sku": "B-1", "quantity": 1,
                                              "unitPriceCents": 5}]},
            headers=headers), 200)
        self.assertEqual(created["total"], 5)

    def test_deadline_request_id_and_trace_reach_the_last_hop(self):
        trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
        client_span = "00f067aa0ba902b7"
        request_id = "rid-" + uuid.uuid4().hex
        self.place_order({"Grpc-Timeout": "1500m", "X-Request-Id": request_id,
                          "traceparent": "00-%s-%s-01" % (trace_id, client_span)})
        # Asserted where the calls arrived: order_svc, then user_svc behind it.
        spans = []
        for line in self.hop_lines(request_id):
            self.assertIn(" trace=%s " % trace_id, line)
            spans.append(re.search(r" span=([0-9a-f]{16}) ", line).group(1))
            left = int(re.search(r" deadline=(\d+)ms", line).group(1))
            # The gateway's 1.5 s, less what the hops before took (gRPC
            # rounds a timeout up when it sends it: a few ms of slack); never
            # the order service's own 2 s lookup timeout or the gateway's
            # default.
            self.assertLessEqual(left, 1550, line)
            self.assertGreater(left, 500, line)
        # Each hop is a span of its own: the gateway's (order_svc's parent)
        # and order_svc's (user_svc's parent), neither the client's.
        self.assertNotIn(client_span, spans)
        self.assertNotEqual(spans[0], spans[1])

    def test_a_request_without_valid_trace_context_starts_a_trace(self):
        for traceparent in (None, "00-nonsense-01",
                            "00-00000000000000000000000000000000-00f067aa0ba902b7-01"):
            with self.subTest(traceparent=traceparent):
                request_id = "rid-" + uuid.uuid4().hex
                headers = {"X-Request-Id": request_id, "tracestate": "vendor=dropped"}
                if traceparent:
                    headers["traceparent"] = traceparent
                self.place_order(headers)
                traces = [re.search(r" trace=([0-9a-f]{32}) span=([0-9a-f]{16}) ", line).groups()
                          for line in self.hop_lines(request_id)]
                # One new trace, through both hops.
                self.assertEqual(traces[0][0], traces[1][0])
                self.assertNotEqual(traces[0][1], traces[1][1])

    def test_order_service_metrics_count_what_was_called(self):
        user = self.create_user()
        self.assertJson(self.call_json(
            "POST", "/v1/orders",
            {"userId": user["id"], "items": [{"sku": "B-2", "quantity": 2,
                                              "unitPriceCents": 7}]}), 200)
        host, port = self.order_server.admin_address.rsplit(":", 1)
        text = http_request(int(port), "GET", "/metrics").body.decode("utf-8")
        served = re.search(r'grpc_server_handled_total\{grpc_code="OK",grpc_method="CreateOrder",'
                           r'grpc_service="stubmesh.order.v1.OrderService",grpc_type="unary"\} (\d+)',
                           text)
        called = re.search(r'grpc_client_handled_total\{grpc_code="OK",grpc_method="GetUser",'
                           r'grpc_service="stubmesh.user.v1.UserService",grpc_type="unary"\} (\d+)',
                           text)
        self.assertIsNotNone(served, text)
        self.assertIsNotNone(called, text)
        self.assertGreaterEqual(int(served.group(1)), 1)
        # Every order placed asked the user service once.
        self.assertGreaterEqual(int(called.group(1)), int(served.group(1)))

    def test_openapi_document_describes_the_catalog_in_use(self):
        doc = self.assertJson(self.call("GET", "/openapi.json"), 200)
        self.assertTrue(doc["openapi"].startswith("3.0"), doc["openapi"])
        for path in ("/v1/users/{id}", "/user", "/order", "/v1/echo/{id}"):
            self.assertIn(path, doc["paths"])
        self.assertIn("get", doc["paths"]["/v1/users/{id}"])

    def test_metrics_count_requests_by_route(self):
        self.call("GET", "/v1/users/424242")
        self.call("GET", "/v1/no/such/route")
        text = self.metrics()
        self.assertRegex(
            text,
            r'http_requests_total\{code="404",method="GET",route="/v1/users/\{id\}"\} [1-9]')
        # Every answer is timed, not only backend calls.
        for route in (r"/v1/users/\{id\}", "unmatched", "/healthz"):
            self.assertRegex(text, r'http_request_duration_seconds_count\{method="GET",'
                                   r'route="%s"\} [1-9]' % route)
        # Restarts show (server/process_start_time.h): when the gateway started.
        start = float(re.search(r"(?m)^process_start_time_seconds (\S+)$", text).group(1))
        self.assertLessEqual(start, time.time())
        self.assertGreater(start, time.time() - 3600)

    def test_metrics_do_not_take_arbitrary_methods_as_labels(self):
        # Client-chosen method names would each create a time series.
        for method in ("FROBNICATE1", "FROBNICATE2"):
            resp = self.call(method, "/v1/users/1")
            self.assertEqual(resp.status, 405, resp.body)
        self.assertEqual(self.call("FROBNICATE3", "/nowhere").status, 404)
        text = self.call("GET", "/metrics").body.decode("utf-8")
        self.assertNotIn("FROBNICATE", text)
        self.assertRegex(
            text,
            r'http_requests_total\{code="405",method="other",route="unmatched"\} [2-9]')
        self.assertRegex(
            text,
            r'http_requests_total\{code="404",method="other",route="unmatched"\} [1-9]')

    # ---- the original API: /user and /order ------------------------------

    def test_original_user_routes_with_form_body(self):
        email = self.new_email("ada")
        request_id = str(uuid.uuid4())
        resp = self.call_form("POST", "/user?request_id=" + request_id,
                              {"name": "Ada Lovelace", "email": email})
        user = self.assertJson(resp, 200)
        self.assertIsInstance(user["id"], str, user)
        self.assertRegex(user["id"], r"^[1-9][0-9]*$")
        self.assertEqual(user["name"], "Ada Lovelace")
        self.assertEqual(user["email"], email)
        self.assertIn("createTime", user)

        # The same request_id again: the first user, nothing new.
        retry = self.assertJson(self.call_form(
            "POST", "/user?request_id=" + request_id,
            {"name": "Somebody Else", "email": self.new_email("other")}), 200)
        self.assertEqual(retry, user)

        got = self.assertJson(self.call("GET", "/user?id=" + user["id"]), 200)
        self.assertEqual(got["id"], user["id"])
        self.assertEqual(got["name"], "Ada Lovelace")
        self.assertEqual(got, user)

    def test_original_order_routes_with_json_body(self):
        user = self.create_user(name="Orderer")
        request_id = str(uuid.uuid4())
        resp = self.call_json("POST", "/order?request_id=" + request_id, {
            "userId": user["id"],
            "items": [{"sku": "BOOK-1", "quantity": 2, "unitPriceCents": 150},
                      {"sku": "pen.blue_2", "quantity": 1, "unitPriceCents": 99}]})
        order = self.assertJson(resp, 200)
        self.assertRegex(order["id"], r"^[1-9][0-9]*$")
        self.assertEqual(order["userId"], user["id"])
        self.assertEqual(order["total"], 2 * 150 + 99)  # int32: a JSON number
        self.assertEqual(order["status"], "ORDER_STATUS_OPEN")
        self.assertEqual(order["items"], [
            {"sku": "BOOK-1", "quantity": 2, "unitPriceCents": 150},
            {"sku": "pen.blue_2", "quantity": 1, "unitPriceCents": 99}])
        self.assertIn("createTime", order)

        got = self.assertJson(self.call("GET", "/order?id=" + order["id"]), 200)
        self.assertEqual(got, order)

    # ---- the RESTful routes --------------------------------------------

    def test_restful_user_lifecycle(self):
        email = self.new_email("grace")
        request_id = str(uuid.uuid4())
        created = self.assertJson(self.call_json(
            "POST", "/v1/users?requestId=" + request_id, {"name": "Grace Hopper", "email": email}))
        self.assertRegex(created["id"], r"^[1-9][0-9]*$")
        self.assertEqual(created["name"], "Grace Hopper")
        self.assertEqual(created["email"], email)
        self.assertEqual(created["updateTime"], created["createTime"])
        uid = created["id"]

        self.assertEqual(self.assertJson(self.call("GET", "/v1/users/" + uid)), created)

        # PATCH with an update mask: only the name changes.
        updated = self.assertJson(self.call_json(
            "PATCH", "/v1/users/%s?updateMask=name" % uid,
            {"name": "Grace Brewster Hopper", "email": "ignored@example.com"}))
        self.assertEqual(updated["id"], uid)
        self.assertEqual(updated["name"], "Grace Brewster Hopper")
        self.assertEqual(updated["email"], email)
        self.assertEqual(updated["createTime"], created["createTime"])
        self.assertEqual(self.assertJson(self.call("GET", "/v1/users/" + uid)), updated)

        # DELETE: an empty message, then NOT_FOUND everywhere.
        self.assertEqual(self.assertJson(self.call("DELETE", "/v1/users/" + uid)), {})
        self.assertError(self.call("GET", "/v1/users/" + uid), 404, code=5)
        self.assertError(self.call("DELETE", "/v1/users/" + uid), 404, code=5)

    def test_list_users_pagination(self):
        mine = [self.create_user(name="Pager %d" % i)["id"] for i in range(3)]
        ids, token, pages = [], None, 0
        while True:
            path = "/v1/users?pageSize=2" + ("&pageToken=" + q(token) if token else "")
            page = self.assertJson(self.call("GET", path))
            users = page.get("users", [])
            self.assertLessEqual(len(users), 2, page)
            ids += [u["id"] for u in users]
            pages += 1
            token = page.get("nextPageToken")
            if not token:
                break
            self.assertLess(pages, 1000, "ListUsers never ends")
        self.assertGreaterEqual(pages, 2)
        as_ints = [int(i) for i in ids]
        self.assertEqual(as_ints, sorted(as_ints))
        self.assertEqual(len(ids), len(set(ids)))
        for uid in mine:
            self.assertIn(uid, ids)
        # A bad token is the client's error.
        self.assertError(self.call("GET", "/v1/users?pageToken=not-a-token"), 400, code=3,
                         field="page_token")

    def test_user_orders_and_order_pagination(self):
        user = self.create_user(name="Buyer")
        other = self.create_user(name="Other Buyer")
        first = self.create_order(user["id"])
        second = self.create_order(user["id"], [{"sku": "BOOK-1", "quantity": 3,
                                                 "unitPriceCents": 1000}])
        theirs = self.create_order(other["id"])
        self.assertEqual(second["total"], 3000)

        listed = self.assertJson(self.call("GET", "/v1/users/%s/orders" % user["id"]))
        self.assertEqual([o["id"] for o in listed["orders"]], [first["id"], second["id"]])
        self.assertEqual(listed["orders"][0], first)
        self.assertNotIn("nextPageToken", listed)

        ids, token, pages = [], None, 0
        while True:
            path = "/v1/orders?pageSize=1" + ("&pageToken=" + q(token) if token else "")
            page = self.assertJson(self.call("GET", path))
            self.assertLessEqual(len(page.get("orders", [])), 1, page)
            ids += [o["id"] for o in page.get("orders", [])]
            pages += 1
            token = page.get("nextPageToken")
            if not token:
                break
            self.assertLess(pages, 1000, "ListOrders never ends")
        self.assertGreaterEqual(pages, 3)
        for o in (first, second, theirs):
            self.assertIn(o["id"], ids)
        as_ints = [int(i) for i in ids]
        self.assertEqual(as_ints, sorted(as_ints))

    # ---- every error class ---------------------------------------------

    def test_unknown_path_is_404(self):
        body = self.assertError(self.call("GET", "/v1/no/such/thing"), 404, code=5)
        self.assertIn("/v1/no/such/thing", body["message"])
        self.assertError(self.call("GET", "/"), 404, code=5)

    def test_wrong_method_is_405_with_allow(self):
        resp = self.call("PUT", "/user", body=b"{}", headers={"Content-Type": "application/json"})
        self.assertError(resp, 405)
        allowed = {m.strip() for m in (resp.header("Allow") or "").split(",")}
        self.assertEqual(allowed, {"GET", "POST"}, resp)

        resp = self.call("DELETE", "/v1/users")
        self.assertError(resp, 405)
        allowed = {m.strip() for m in (resp.header("Allow") or "").split(",")}
        self.assertEqual(allowed, {"GET", "POST"}, resp)

    def test_malformed_json_is_400(self):
        resp = self.call("POST", "/v1/users", body=b'{"name": "x",',
                         headers={"Content-Type": "application/json"})
        self.assertError(resp, 400, code=3)
        self.assertStillServing()

    def test_wrong_json_types_are_400(self):
        for body in ({"count": "ten"}, {"flag": "maybe"}, {"tags": 5}, {"inner": "text"},
                     {"kind": "KIND_HUGE"}, {"at": "yesterday"}, {"id": 1.5}):
            with self.subTest(body=body):
                self.assertError(self.call_json("POST", "/v1/echo", body), 400, code=3)
        self.assertError(self.call_json("POST", "/v1/users", {"name": ["x"], "email": "a@b.c"}),
                         400, code=3)
        self.assertStillServing()

    def test_unknown_json_field_is_400_naming_it(self):
        resp = self.call_json("POST", "/v1/users", {
            "name": "x", "email": self.new_email(), "nickname": "n"})
        self.assertError(resp, 400, code=3, message_contains="nickname")

    def test_unknown_query_parameter_is_400_naming_it(self):
        self.assertError(self.call("GET", "/v1/users/1?color=red"), 400, code=3,
                         message_contains="color")
        self.assertError(self.call("GET", "/v1/echo/1?inner.colour=red"), 400, code=3,
                         message_contains="colour")

    def test_bad_query_value_is_400(self):
        self.assertError(self.call("GET", "/user?id=abc"), 400, code=3, message_contains="id")
        self.assertError(self.call("GET", "/v1/echo/1?count=99999999999"), 400, code=3,
                         message_contains="count")
        self.assertError(self.call("GET", "/v1/echo/abc"), 400, code=3)

    def test_unsupported_content_type_is_415(self):
        resp = self.call("POST", "/v1/users", body=b"name=x",
                         headers={"Content-Type": "text/plain"})
        self.assertError(resp, 415)

    def test_body_over_limit_is_413(self):
        size = MAX_BODY_BYTES + 1
        head = ("POST /v1/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                "X-Request-Id: rid-too-big\r\n"
                "Content-Length: %d\r\n\r\n" % size).encode("ascii")
        body = b'{"name":"' + b"x" * (size - 11) + b'"}'
        self.assertEqual(len(body), size)
        answer = raw_exchange(self.gateway.port, head, body)
        self.assertEqual(raw_status(answer), 413, answer and answer[:300])
        # Answered by the HTTP server itself, with the client's request id,
        # and counted.
        self.assertEqual(raw_header(answer, "X-Request-Id"), "rid-too-big", answer[:300])
        self.assertRegex(self.metrics(), r'http_requests_total\{code="413",method="POST",'
                                         r'route="rejected"\} [1-9]')
        error = raw_json_body(answer)
        self.assertEqual(set(error), ERROR_KEYS)
        self.assertEqual(error["details"], [])
        self.assertStillServing()

        # Exactly at the limit is read (and then refused for what it says).
        at_limit = b'{"name":"' + b"x" * (MAX_BODY_BYTES - 11) + b'"}'
        resp = self.call("POST", "/v1/echo", body=at_limit,
                         headers={"Content-Type": "application/json"})
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(len(resp.json()["name"]), MAX_BODY_BYTES - 11)

    def test_header_over_limit_is_431(self):
        resp = self.call("GET", "/v1/echo/1", headers={
            "X-Big": "a" * (MAX_HEADER_BYTES + 1024), "X-Request-Id": "unread"})
        self.assertError(resp, 431)
        # Answered by the HTTP server itself (with the client's id when
        # it was read before the limit hit, else a new one), and counted.
        self.assertRegex(resp.header("X-Request-Id") or "", r"^(unread|[0-9a-f]{32})$", resp)
        self.assertRegex(self.metrics(), r'http_requests_total\{code="431",method="GET",'
                                         r'route="rejected"\} [1-9]')
        self.assertStillServing()

    def test_backend_not_found_is_404(self):
        self.assertError(self.call("GET", "/v1/users/987654321"), 404, code=5)
        self.assertError(self.call("GET", "/order?id=987654321"), 404, code=5)

    def test_duplicate_email_is_409(self):
        user = self.create_user(name="First")
        resp = self.call_json("POST", "/v1/users", {"name": "Second", "email": user["email"].upper()})
        self.assertError(resp, 409, code=6)

    def test_backend_invalid_argument_is_400_naming_the_field(self):
        resp = self.call_json("POST", "/v1/users", {"name": "No Email", "email": "not-an-email"})
        self.assertError(resp, 400, code=3, field="user.email")
        # The original form route gets the same answer.
        resp = self.call("POST", "/user", body="name=No+Email&email=not-an-email",
                         headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertError(resp, 400, code=3, field="user.email")
        resp = self.call_json("POST", "/v1/orders", {
            "userId": "1", "items": [{"sku": "CUP", "quantity": 0, "unitPriceCents": 1}]})
        self.assertError(resp, 400, code=3, field="order.items[0].quantity")

    def test_order_for_unknown_user_is_400_failed_precondition(self):
        resp = self.call_json("POST", "/v1/orders", {
            "userId": "987654321", "items": [{"sku": "CUP", "quantity": 1, "unitPriceCents": 1}]})
        self.assertError(resp, 400, code=9, message_contains="order.user_id")

    def test_service_found_by_reflection_is_served_and_reloads_drop_nothing(self):
        # Two gateways ask a port where no server runs yet:
        # - `mixed` knows the user and order services from a descriptor set
        #   and reloads on SIGHUP;
        # - `reflect_only` has nothing but --reflect and reloads every 0.2 s:
        #   it serves 503 until its target answers.
        # The echo backend then comes up there; both serve it, and go on
        # serving everything, without one failed request, through reloads
        # under load.
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            echo_port = s.getsockname()[1]
        reflect = "--reflect=127.0.0.1:%d" % echo_port
        gateways = {}
        for name, args in (
                ("mixed", ["--descriptor_set=" + descriptor_set(),
                           "--backend=%s=%s" % (USER_SERVICE, self.user_server.address),
                           "--backend=%s=%s" % (ORDER_SERVICE, self.order_server.address),
                           reflect]),
                ("reflect_only", [reflect, "--reload_interval=0.2s"])):
            log_dir = os.path.join(self.tmp, "gateway_" + name)
            os.makedirs(log_dir, exist_ok=True)
            gateways[name] = lib.ServerProcess("gateway", [gateway_binary(), "--port=0"] + args,
                                               log_dir)
        mixed, reflect_only = gateways["mixed"], gateways["reflect_only"]
        echo = None
        try:
            for gateway in gateways.values():
                gateway.start()
                gateway.port = int(gateway.address.rsplit(":", 1)[1])
            self.assertError(self.call("GET", "/v1/echo/7", port=mixed.port), 404, code=5)
            self.assertError(self.call("GET", "/v1/echo/7", port=reflect_only.port), 503, code=14,
                             message_contains="no services loaded yet")
            self.assertEqual(self.call("GET", "/healthz", port=reflect_only.port).status, 200)
            self.assertTrue(reflect_only.running(), reflect_only.stderr_tail())

            echo = lib.ServerProcess("echo_backend", [
                echo_backend_binary(), "--port=%d" % echo_port, lib.NO_DRAIN], self.tmp)
            echo.start()
            mixed.proc.send_signal(signal.SIGHUP)
            for gateway in gateways.values():
                lib.wait_until(
                    lambda: self.call("GET", "/v1/echo/7", port=gateway.port).status == 200,
                    20, "the reflected EchoService to be served by %s" % gateway.log_path)
                self.assertEqual(self.assertJson(self.call("GET", "/v1/echo/7?name=r",
                                                           port=gateway.port)),
                                 {"id": "7", "name": "r"})
            # What it served before is still served.
            self.assertError(self.call("GET", "/v1/users/987654321", port=mixed.port), 404, code=5)

            # Keep-alive load on both while they reload.
            loads = [KeepAliveLoad(g.port, ["/v1/echo/%d?name=load" % i for i in (1, 2, 3)] +
                                   (["/v1/users/987654321"] if g is mixed else []))
                     for g in (mixed, reflect_only)]
            for load in loads:
                load.start()
            try:
                for _ in range(5):
                    loaded = serving_lines(mixed)
                    mixed.proc.send_signal(signal.SIGHUP)
                    lib.wait_until(lambda: serving_lines(mixed) > loaded, 10,
                                   "a reload of %s" % mixed.log_path)
                loaded = serving_lines(reflect_only)
                lib.wait_until(lambda: serving_lines(reflect_only) >= loaded + 5, 10,
                               "5 periodic reloads of %s" % reflect_only.log_path)
                lib.wait_until(lambda: all(load.count() >= 50 for load in loads), 20,
                               "50 requests through each gateway")
            finally:
                for load in loads:
                    load.stop()
            for load in loads:
                self.assertEqual(load.failures, [], "%d failed of %d" % (
                    len(load.failures), load.count()))
            self.assertError(self.call("GET", "/v1/users/987654321", port=mixed.port), 404, code=5)
            self.assertEqual(self.call("GET", "/v1/echo/8", port=reflect_only.port).status, 200)
        finally:
            if echo is not None:
                echo.stop()
            for gateway in gateways.values():
                if gateway.proc is not None:
                    self.assertEqual(gateway.stop(), 0, gateway.stderr_tail())

    def test_backend_down_is_503(self):
        # A second gateway whose EchoService backend is a closed port
        # (tcpmux's port 1: nothing listens there).
        dead_target = "127.0.0.1:1"
        second = None
        try:
            second = self._start_gateway("gateway_dead_backend", {
                USER_SERVICE: self.user_server.address,
                ORDER_SERVICE: self.order_server.address,
                ECHO_SERVICE: dead_target})
            resp = self.call("GET", "/v1/echo/1", port=second.port)
            self.assertError(resp, 503, code=14)
            self.assertLess(resp.elapsed_s, 5.0)
            ready = self.call("GET", "/readyz", port=second.port)
            message = self.assertError(ready, 503, code=14)["message"]
            # It names what is not serving: the service or its target.
            self.assertTrue(ECHO_SERVICE in message or dead_target in message, ready)
            # The live backends still answer through it.
            self.assertError(self.call("GET", "/v1/users/987654321", port=second.port), 404, code=5)
        finally:
            if second is not None:
                code = second.stop()
                self.assertEqual(code, 0, second.stderr_tail())
                self.assertEqual(second.extra_stdout().strip(), "")

    def echo_calls_started(self):
        host, port = self.echo_server.admin_address.rsplit(":", 1)
        text = http_request(int(port), "GET", "/metrics").body.decode("utf-8")
        started = re.search(r'grpc_server_started_total\{grpc_method="Echo",grpc_service="%s",'
                            r'grpc_type="unary"\} (\d+)' % re.escape(ECHO_SERVICE), text)
        return int(started.group(1)) if started else 0

    def test_sigterm_with_a_call_in_flight_exits_0(self):
        # The call is cancelled and its answer dropped. Its responder must be
        # released before the HTTP server is destroyed (http_server.h); it
        # once was not, a use after free that a plain build hides: under
        # valgrind (STUBMESH_GATEWAY = a wrapper) the gateway exited 99.
        gateway = self._start_gateway("gateway_sigterm", {
            USER_SERVICE: self.user_server.address,
            ORDER_SERVICE: self.order_server.address,
            ECHO_SERVICE: self.echo_server.address})
        try:
            started = self.echo_calls_started()
            with socket.create_connection(("127.0.0.1", gateway.port),
                                          timeout=HTTP_TIMEOUT_S) as conn:
                conn.sendall(b"GET /v1/echo/1?wait=30s HTTP/1.1\r\nHost: t\r\n\r\n")
                lib.wait_until(lambda: self.echo_calls_started() > started, 10,
                               "the call to reach the echo backend")
                self.assertEqual(gateway.stop(), 0, gateway.stderr_tail())
                self.assertEqual(conn.recv(4096), b"")  # closed, no answer
            self.assertEqual(gateway.extra_stdout().strip(), "")
        finally:
            gateway.kill()

    def test_sigterm_with_streams_and_a_readiness_probe_in_flight_exits_0(self):
        # ~RestGateway cancels and waits for what ends on gRPC's threads: a
        # stream waiting for its backend, a stream waiting for a client
        # that stopped reading (whose `done` never comes once the HTTP
        # server stopped), and a /readyz health check stuck on a backend
        # that accepts TCP but never speaks HTTP/2. They once outlived it
        # (their answers used the freed gateway and server); a plain build
        # hides that, a run under valgrind (STUBMESH_GATEWAY = a wrapper)
        # shows it.
        silent = socket.socket()
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        gateway = self._start_gateway("gateway_sigterm_streams", {
            USER_SERVICE: self.user_server.address,
            ORDER_SERVICE: "127.0.0.1:%d" % silent.getsockname()[1],
            ECHO_SERVICE: self.echo_server.address})
        conns = []
        try:
            slow = socket.create_connection(("127.0.0.1", gateway.port), timeout=HTTP_TIMEOUT_S)
            conns.append(slow)
            slow.sendall(b"GET /v1/stream?count=1000&wait=1s HTTP/1.1\r\nHost: t\r\n\r\n")
            self.assertTrue(slow.recv(4096).startswith(b"HTTP/1.1 200 "))

            stuck = socket.socket()
            conns.append(stuck)
            stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            stuck.settimeout(HTTP_TIMEOUT_S)
            stuck.connect(("127.0.0.1", gateway.port))
            stuck.sendall(b"GET /v1/stream?count=100000&name=" + b"x" * 2000 +
                          b" HTTP/1.1\r\nHost: t\r\n\r\n")
            client_port = stuck.getsockname()[1]
            lib.wait_until(lambda: tcp_send_queue(gateway.port, client_port) >= 256 * 1024, 10,
                           "the gateway to queue 256 KiB for a client that does not read")

            probe = socket.create_connection(("127.0.0.1", gateway.port), timeout=HTTP_TIMEOUT_S)
            conns.append(probe)
            probe.sendall(b"GET /readyz HTTP/1.1\r\nHost: t\r\n\r\n")
            silent.settimeout(HTTP_TIMEOUT_S)
            held, _ = silent.accept()  # the probe's channel connecting
            conns.append(held)

            self.assertEqual(gateway.stop(), 0, gateway.stderr_tail())
            self.assertEqual(gateway.extra_stdout().strip(), "")
        finally:
            gateway.kill()
            for conn in conns:
                conn.close()
            silent.close()

    def test_deadline_is_504_and_quick(self):
        resp = self.call("GET", "/v1/echo/1?wait=2s", headers={"Grpc-Timeout": "50m"})
        self.assertError(resp, 504, code=4)
        self.assertGreaterEqual(resp.elapsed_s, 0.05, resp)
        self.assertLess(resp.elapsed_s, 0.05 + DEADLINE_SLACK_S,
                        "the deadline did not cut the call short")
        # A wait inside the deadline answers.
        resp = self.call("GET", "/v1/echo/1?wait=0.05s", headers={"Grpc-Timeout": "5S"})
        self.assertEqual(self.assertJson(resp)["wait"], "0.050s")

    def test_default_timeout_is_the_deadline_of_a_backend_flag_service(self):
        # No Grpc-Timeout and no mesh config: --default_timeout (2 s), not
        # the built-in 10 s nor the 5 s the backend would take.
        resp = self.call("GET", "/v1/echo/1?wait=5s")
        self.assertError(resp, 504, code=4)
        self.assertGreaterEqual(resp.elapsed_s, DEFAULT_TIMEOUT_S - 0.05, resp)
        self.assertLess(resp.elapsed_s, DEFAULT_TIMEOUT_S + DEADLINE_SLACK_S, resp)

    def test_bad_grpc_timeout_is_400(self):
        resp = self.call("GET", "/v1/echo/1", headers={"Grpc-Timeout": "soon"})
        self.assertError(resp, 400, code=3, message_contains="Grpc-Timeout")

    def test_backend_codes_map_to_http(self):
        cases = {7: 403, 16: 401, 8: 429, 12: 501, 1: 499, 5: 404, 6: 409, 9: 400, 10: 409,
                 11: 400, 13: 500, 14: 503, 15: 500, 2: 500, 4: 504, 3: 400}
        for code, http_status in sorted(cases.items()):
            with self.subTest(code=code):
                resp = self.call("GET", "/v1/echo/1?name=fail:%d" % code)
                self.assertError(resp, http_status, code=code)
                self.assertEqual(resp.json()["message"], "asked to fail")
                # Metadata comes back on errors too.
                self.assertEqual(resp.header("Grpc-Metadata-X-Trailer"), "done", resp)

    # ---- headers and metadata ------------------------------------------

    def test_request_id_is_generated_when_absent(self):
        resp = self.call("GET", "/v1/echo/1")
        self.assertJson(resp)
        request_id = resp.header("X-Request-Id")
        self.assertRegex(request_id or "", r"^[0-9a-f]{32}$", resp)
        self.assertEqual(resp.header("Grpc-Metadata-Echo-X-Request-Id"), request_id, resp)
        other = self.call("GET", "/v1/echo/1").header("X-Request-Id")
        self.assertNotEqual(other, request_id)
        # The gateway's own answers carry one too.
        self.assertRegex(self.call("GET", "/healthz").header("X-Request-Id") or "",
                         r"^[0-9a-f]{32}$")
        self.assertRegex(self.call("GET", "/no/route").header("X-Request-Id") or "",
                         r"^[0-9a-f]{32}$")

    def test_request_id_is_echoed_and_reaches_the_backend(self):
        resp = self.call("GET", "/v1/echo/1", headers={"X-Request-Id": "my-request-42"})
        self.assertJson(resp)
        self.assertEqual(resp.header("X-Request-Id"), "my-request-42")
        self.assertEqual(resp.header("Grpc-Metadata-Echo-X-Request-Id"), "my-request-42")
        # On errors as well.
        resp = self.call("GET", "/v1/echo/1?name=fail:5", headers={"X-Request-Id": "err-7"})
        self.assertError(resp, 404, code=5)
        self.assertEqual(resp.header("X-Request-Id"), "err-7")

    def test_auth_trace_and_custom_metadata_are_forwarded(self):
        traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
        resp = self.call("GET", "/v1/echo/1", headers={
            "Authorization": "Bearer secret-token",
            "traceparent": traceparent,
            "tracestate": "vendor=value",
            "Grpc-Metadata-X-Custom": "custom value",
            "X-Not-Forwarded": "nope",
        })
        self.assertJson(resp)
        self.assertEqual(resp.header("Grpc-Metadata-Echo-Authorization"), "Bearer secret-token")
        # The gateway's own span in the client's trace, with its flags.
        sent = resp.header("Grpc-Metadata-Echo-Traceparent") or ""
        self.assertRegex(sent, r"^00-0af7651916cd43dd8448eb211c80319c-[0-9a-f]{16}-01$", resp)
        self.assertNotEqual(sent, traceparent)
        self.assertEqual(resp.header("Grpc-Metadata-Echo-Tracestate"), "vendor=value")
        self.assertEqual(resp.header("Grpc-Metadata-Echo-X-Custom"), "custom value")
        # Only the named headers and Grpc-Metadata-* become metadata.
        self.assertIsNone(resp.header("Grpc-Metadata-Echo-X-Not-Forwarded"), resp)
        self.assertEqual(resp.header("Grpc-Metadata-X-Trailer"), "done")
        # Not sampled stays not sampled; an invalid one starts a new trace
        # and drops the tracestate that went with it.
        resp = self.call("GET", "/v1/echo/1", headers={
            "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"})
        self.assertRegex(resp.header("Grpc-Metadata-Echo-Traceparent") or "",
                         r"^00-0af7651916cd43dd8448eb211c80319c-[0-9a-f]{16}-00$", resp)
        resp = self.call("GET", "/v1/echo/1", headers={"traceparent": "01-bad", "tracestate": "a=b"})
        self.assertRegex(resp.header("Grpc-Metadata-Echo-Traceparent") or "",
                         r"^00-[0-9a-f]{32}-[0-9a-f]{16}-01$", resp)
        self.assertIsNone(resp.header("Grpc-Metadata-Echo-Tracestate"), resp)

    def test_bad_metadata_header_is_400(self):
        resp = self.call("GET", "/v1/echo/1", headers={"Grpc-Metadata-X-Bin-Bin": "not base64!"})
        self.assertError(resp, 400, code=3)

    # ---- transcoding, through the echo backend -------------------------

    def test_query_scalars(self):
        got = self.echo("name=bob&count=3&flag=true&ratio=0.5&big=18446744073709551615"
                        "&shownAs=Shown&blob=aGVsbG8%3D&maybe=-5", id_=7)
        self.assertEqual(got, {
            "id": "7", "name": "bob", "count": 3, "flag": True, "ratio": 0.5,
            "big": "18446744073709551615", "shownAs": "Shown", "blob": "aGVsbG8=",
            "maybe": "-5"})
        # Proto names work as well as JSON names.
        self.assertEqual(self.echo("display_name=D")["shownAs"], "D")
        # Percent-encoding and '+' in values.
        self.assertEqual(self.echo("name=" + q("a b&c=d/é"))["name"], "a b&c=d/é")

    def test_query_repeated(self):
        got = self.echo("tags=a&tags=b&numbers=1&numbers=-2&tags=c")
        self.assertEqual(got["tags"], ["a", "b", "c"])
        self.assertEqual(got["numbers"], [1, -2])

    def test_query_enums_by_name_and_number(self):
        self.assertEqual(self.echo("kind=KIND_LARGE")["kind"], "KIND_LARGE")
        self.assertEqual(self.echo("kind=1")["kind"], "KIND_SMALL")
        self.assertError(self.call("GET", "/v1/echo/1?kind=KIND_HUGE"), 400, code=3,
                         message_contains="kind")

    def test_query_nested_fields(self):
        got = self.echo("inner.text=hi&inner.level=3")
        self.assertEqual(got["inner"], {"text": "hi", "level": 3})

    def test_query_timestamp_duration_and_field_mask(self):
        got = self.echo("at=2024-01-02T03:04:05.500Z&wait=0.01s&mask=name,inner.text")
        self.assertEqual(got["at"], "2024-01-02T03:04:05.500Z")
        self.assertEqual(got["wait"], "0.010s")
        self.assertEqual(got["mask"], "name,inner.text")
        self.assertError(self.call("GET", "/v1/echo/1?at=yesterday"), 400, code=3,
                         message_contains="at")

    def test_json_body_star(self):
        sent = {"id": "3", "name": "n", "tags": ["x", "y"], "kind": "KIND_SMALL",
                "inner": {"text": "t", "level": 1}, "at": "2024-01-02T03:04:05Z",
                "shownAs": "S", "maybe": "9"}
        got = self.assertJson(self.call_json("POST", "/v1/echo", sent))
        self.assertEqual(got, sent)

    def test_json_body_field(self):
        got = self.assertJson(self.call_json("PUT", "/v1/echo/tags", ["x", "y"]))
        self.assertEqual(got, {"tags": ["x", "y"]})

    def test_response_body_routes(self):
        resp = self.call("GET", "/v1/tags?tags=a&tags=b")
        self.assertEqual(self.assertJson(resp), ["a", "b"])
        resp = self.call("GET", "/v1/inner?inner.text=deep&inner.level=2")
        self.assertEqual(self.assertJson(resp), {"text": "deep", "level": 2})

    def test_multi_segment_variable_and_encoded_slash(self):
        self.assertEqual(self.assertJson(self.call("GET", "/v1/files/a/b/c.txt"))["name"],
                         "a/b/c.txt")
        # An encoded slash stays encoded in a multi-segment variable.
        self.assertEqual(self.assertJson(self.call("GET", "/v1/files/a%2Fb/c"))["name"],
                         "a%2Fb/c")
        # Other escapes are decoded.
        self.assertEqual(self.assertJson(self.call("GET", "/v1/files/a%20b"))["name"], "a b")
        self.assertEqual(self.assertJson(self.call("GET", "/v1/shelves/1/books/2"))["name"],
                         "shelves/1/books/2")

    def test_custom_verb(self):
        resp = self.call_json("POST", "/v1/echo/hey:shout", {"level": 2})
        self.assertEqual(self.assertJson(resp), {"inner": {"text": "hey", "level": 2}})
        # Without the verb it is another route, which has no POST.
        self.assertError(self.call_json("POST", "/v1/echo/hey", {"level": 2}), 405)

    def test_custom_head_method(self):
        # A fresh connection, read by hand: a HEAD answer has no content, and
        # the next answer on the same connection must start clean.
        answer = raw_exchange(self.gateway.port,
                              b"HEAD /v1/echo/5 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
                              b"GET /v1/echo/6 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                              b"Connection: close\r\n\r\n")
        self.assertEqual(raw_status(answer), 200, answer)
        head, _, rest = answer.partition(b"\r\n\r\n")
        self.assertRegex(head.decode("latin-1"), r"(?im)^content-type: application/json")
        self.assertRegex(head.decode("latin-1"), r"(?im)^grpc-metadata-x-trailer: done")
        self.assertTrue(rest.startswith(b"HTTP/1.1 200 "),
                        "HEAD answer carried content (or the next answer is missing): %r" % rest[:200])
        self.assertIn(b'{"id":"6"}', rest)

    def test_hidden_method_has_no_route(self):
        self.assertError(self.call("GET", "/v1/hidden"), 404, code=5)
        self.assertError(self.call("POST", "/stubmesh.testing.v1.EchoService/Hidden",
                                   body=b"{}", headers={"Content-Type": "application/json"}),
                         404, code=5)

    # ---- hostile input: a clean 4xx, and the gateway keeps serving -----

    def test_invalid_utf8_in_json_body(self):
        resp = self.call("POST", "/v1/echo", body=b'{"name": "\xff\xfe bad"}',
                         headers={"Content-Type": "application/json"})
        self.assertError(resp, 400, code=3)
        self.assertStillServing()

    def test_invalid_utf8_in_query(self):
        self.assertError(self.call("GET", "/v1/echo/1?name=%FF%FE"), 400, code=3,
                         message_contains="name")
        self.assertStillServing()
        # Raw (not percent-encoded) bytes above 0x7f, over a socket.
        answer = raw_exchange(self.gateway.port,
                              b"GET /v1/echo/1?name=\xff\xfe HTTP/1.1\r\nHost: x\r\n"
                              b"Connection: close\r\n\r\n")
        status = raw_status(answer)
        self.assertTrue(status is None or 400 <= status < 500, answer)
        self.assertStillServing()

    def test_invalid_utf8_in_form_body(self):
        resp = self.call("POST", "/user", body=b"name=%FF&email=a%40b.c",
                         headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertError(resp, 400, code=3)
        self.assertStillServing()

    def test_dot_segments_are_refused(self):
        for path in ("/v1/users/../users/1", "/v1/files/../../etc/passwd", "/v1/files/a/./b",
                     "/v1/files/%2E%2E/x", "/v1/echo/..", "/v1/echo/..:shout"):
            with self.subTest(path=path):
                resp = self.call("GET", path)
                self.assertError(resp, 404, code=5)
        self.assertStillServing()

    def test_encoded_slash_in_single_segment(self):
        # {id} is one segment: "1/2" is not an int64.
        self.assertError(self.call("GET", "/v1/echo/1%2F2"), 400, code=3)
        self.assertError(self.call("GET", "/v1/users/1%2F2"), 400, code=3)
        # An encoded slash never splits a literal segment.
        self.assertError(self.call("GET", "/v1%2Fusers/1"), 404, code=5)
        self.assertStillServing()

    def test_bad_percent_escapes_and_empty_segments(self):
        for path in ("/v1/echo/%zz", "/v1/echo/%4", "/v1//users", "/v1/users/"):
            with self.subTest(path=path):
                resp = self.call("GET", path)
                self.assertTrue(400 <= resp.status < 500, resp)
                self.assertError(resp, resp.status)
        self.assertError(self.call("GET", "/v1/echo/1?name=%zz"), 400, code=3)
        self.assertStillServing()

    def test_thousands_of_query_parameters(self):
        # 5000 unknown parameters: over the head limit, or refused by name.
        resp = self.call("GET", "/v1/echo/1?" + "a=1&" * 5000)
        self.assertIn(resp.status, (400, 414, 431), resp)
        self.assertError(resp, resp.status)
        self.assertStillServing()
        # As many known ones as a query may hold (url_encoded_form.h,
        # kMaxFormFields): all of them arrive, in order.
        query = "&".join("tags=%d" % i for i in range(256))
        resp = self.call("GET", "/v1/tags?" + query)
        self.assertEqual(self.assertJson(resp), [str(i) for i in range(256)])
        # Thousands of them, inside the head limit: refused as a whole.
        query = "&".join("tags=%d" % i for i in range(1500))
        self.assertLess(len(query), MAX_HEADER_BYTES - 1024)
        self.assertError(self.call("GET", "/v1/tags?" + query), 400, code=3)
        self.assertStillServing()

    def test_huge_json_nesting_and_numbers(self):
        deep = b'{"inner":' * 5000 + b"{}" + b"}" * 5000
        resp = self.call("POST", "/v1/echo", body=deep, headers={"Content-Type": "application/json"})
        self.assertError(resp, 400, code=3)
        resp = self.call("POST", "/v1/echo", body=b'{"count": 1e400}',
                         headers={"Content-Type": "application/json"})
        self.assertError(resp, 400, code=3)
        self.assertStillServing()

    def test_garbage_request_line(self):
        for garbage in (b"GARBAGE\x00\x01 NOT HTTP AT ALL\r\n\r\n",
                        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(range(256)),
                        b"GET /v1/echo/1 HTTP/9.9\r\n\r\n",
                        b"GET /v1/echo/1 HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
                        b"GET  HTTP/1.1\r\n\r\n"):
            with self.subTest(garbage=garbage[:20]):
                answer = raw_exchange(self.gateway.port, garbage, timeout=5)
                status = raw_status(answer)
                self.assertTrue(status is None or status == 400, answer)
                if status == 400:
                    error = raw_json_body(answer)
                    self.assertEqual(set(error), ERROR_KEYS)
                    self.assertRegex(raw_header(answer, "X-Request-Id") or "",
                                     r"^[0-9a-f]{32}$", answer)
                self.assertStillServing()

    def test_keep_alive_serves_many_requests_on_one_connection(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.gateway.port, timeout=HTTP_TIMEOUT_S)
        try:
            for i in range(20):
                conn.request("GET", "/v1/echo/%d" % (i + 1))
                resp = conn.getresponse()
                self.assertEqual(resp.status, 200)
                self.assertEqual(json.loads(resp.read()), {"id": str(i + 1)})
        finally:
            conn.close()

    # ---- streaming as NDJSON -------------------------------------------

    def test_stream(self):
        resp = self.call("GET", "/v1/stream?count=3&name=s")
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual((resp.header("Content-Type") or "").split(";")[0].strip(),
                         "application/x-ndjson", resp)
        self.assertEqual((resp.header("Transfer-Encoding") or "").lower(), "chunked", resp)
        self.assertRegex(resp.header("X-Request-Id") or "", r"^[0-9a-f]{32}$")
        lines = resp.body.decode("utf-8").splitlines()
        self.assertEqual([json.loads(line) for line in lines], [
            {"id": "1", "name": "s", "count": 3},
            {"id": "2", "name": "s", "count": 3},
            {"id": "3", "name": "s", "count": 3}])

    def test_stream_that_fails_after_messages(self):
        resp = self.call("GET", "/v1/stream?count=2&flag=true")
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual((resp.header("Content-Type") or "").split(";")[0].strip(),
                         "application/x-ndjson", resp)
        self.assertEqual((resp.header("Transfer-Encoding") or "").lower(), "chunked", resp)
        lines = [json.loads(line) for line in resp.body.decode("utf-8").splitlines()]
        self.assertEqual(len(lines), 3, resp)
        self.assertEqual([m["id"] for m in lines[:2]], ["1", "2"])
        self.assertEqual(lines[2], {"error": {"code": 10, "message": "stream failed on purpose",
                                              "details": []}})

    def test_stream_cut_by_its_deadline(self):
        # 5 messages 0.2 s apart, 0.5 s allowed: some lines, then the error.
        resp = self.call("GET", "/v1/stream?count=5&wait=0.2s", headers={"Grpc-Timeout": "500m"})
        self.assertEqual(resp.status, 200, resp)
        self.assertLess(resp.elapsed_s, 0.5 + DEADLINE_SLACK_S, resp)
        lines = [json.loads(line) for line in resp.body.decode("utf-8").splitlines()]
        self.assertGreaterEqual(len(lines), 2, resp)
        self.assertLess(len(lines), 6, resp)
        self.assertEqual([m["id"] for m in lines[:-1]],
                         [str(i + 1) for i in range(len(lines) - 1)])
        self.assertEqual(set(lines[-1]), {"error"}, resp)
        self.assertEqual(lines[-1]["error"]["code"], 4, resp)
        self.assertEqual(lines[-1]["error"]["details"], [], resp)

    def read_stream_raw(self, path):
        """A stream's answer, read raw: (head, body lines, trailer fields)."""
        answer = raw_exchange(self.gateway.port,
                              ("GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                               % path).encode("ascii"))
        head, _, rest = answer.partition(b"\r\n\r\n")
        body = b""
        while True:  # chunked framing, by hand: http.client drops trailers
            size_line, _, rest = rest.partition(b"\r\n")
            size = int(size_line, 16)
            if size == 0:
                break
            body += rest[:size]
            self.assertEqual(rest[size:size + 2], b"\r\n", answer)
            rest = rest[size + 2:]
        self.assertTrue(rest.endswith(b"\r\n"), answer)
        trailers = {}
        for line in rest.decode("latin-1").split("\r\n"):
            if line:
                name, _, value = line.partition(":")
                trailers[name.strip().lower()] = value.strip()
        return head.decode("latin-1"), body.decode("utf-8").splitlines(), trailers

    def test_stream_trailers_carry_status_and_trailing_metadata(self):
        head, lines, trailers = self.read_stream_raw("/v1/stream?count=2&name=t")
        self.assertRegex(head, r"(?im)^trailer: grpc-status\r?$")
        self.assertEqual(len(lines), 2, lines)  # only messages in the body
        self.assertEqual(trailers, {"grpc-status": "0", "grpc-metadata-x-trailer": "done"})
        # A stream that fails after messages: its code there too.
        head, lines, trailers = self.read_stream_raw("/v1/stream?count=1&flag=true")
        self.assertEqual(json.loads(lines[-1])["error"]["code"], 10, lines)
        self.assertEqual(trailers, {"grpc-status": "10", "grpc-metadata-x-trailer": "done"})
        # An empty stream ends with them as well.
        head, lines, trailers = self.read_stream_raw("/v1/stream?count=0")
        self.assertEqual(lines, [])
        self.assertEqual(trailers["grpc-status"], "0")

    def test_stream_that_fails_before_any_message_is_a_plain_error(self):
        resp = self.call("GET", "/v1/stream?count=3&name=fail:7")
        self.assertError(resp, 403, code=7, message_contains="asked to fail")

    def test_client_leaving_a_stream_early(self):
        sock = socket.create_connection(("127.0.0.1", self.gateway.port), timeout=HTTP_TIMEOUT_S)
        try:
            sock.sendall(b"GET /v1/stream?count=100&wait=0.05s HTTP/1.1\r\nHost: x\r\n\r\n")
            first = sock.recv(4096)
            self.assertTrue(first.startswith(b"HTTP/1.1 200 "), first)
        finally:
            sock.close()  # Mid-stream.
        self.assertStillServing()
        self.assertEqual(self.echo("", id_=9), {"id": "9"})

    def test_stream_of_nothing(self):
        resp = self.call("GET", "/v1/stream?count=0")
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(resp.body, b"")


if __name__ == "__main__":
    unittest.main(verbosity=2)
