"""The gateway's edge security end to end: real gateway processes in front of
the echo backend, on loopback.

- JWT bearer auth (HS256 and RS256): tokens are made here with PyJWT
  (python3-jwt) and keys with the openssl CLI, independently of the
  gateway's C++ verifier. No token, a forged, expired, alg=none or
  HS/RS-confused token: 401 with WWW-Authenticate; a missing scope: 403
  insufficient_scope; a good token: 200 and the backend sees x-user-id.
- Limits: oversize body 413, oversize headers 431, a slowloris client cut
  off at the header timeout, an idle keep-alive connection closed.
- CORS: preflight answered by the gateway, headers only for allowed origins.
- Rate limit: 429 with Retry-After.
- TLS: an HTTPS client verifying the openssl-made certificate, two requests
  on one kept-alive connection.

Run by Bazel as //tests/python:gateway_security_test, or by hand like
gateway_e2e_test.py (same variables).
"""

import base64
import hashlib
import hmac
import http.client
import json
import os
import re
import select
import socket
import ssl
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import jwt  # noqa: E402  (python3-jwt)

import stubmesh_testlib as lib  # noqa: E402
from gateway_e2e_test import (ERROR_KEYS, echo_backend_binary, gateway_binary,  # noqa: E402
                              raw_exchange, raw_json_body, raw_status,
                              transcoding_descriptor_set)

ISSUER = "https://issuer.test"
AUDIENCE = "stubmesh-api"
ORIGIN = "https://app.example"
MAX_BODY_BYTES = 4096
MAX_HEADER_BYTES = 2048
HEADER_TIMEOUT_S = 1
IDLE_TIMEOUT_S = 1
HTTP_TIMEOUT_S = 10.0


def openssl(*args):
    subprocess.run(["openssl"] + list(args), check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.PIPE)


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class Response(object):
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def __repr__(self):
        return "HTTP %d %s %r" % (self.status, dict(self.headers.items()), self.body[:400])


def request(conn, method, path, body=None, headers=None):
    conn.request(method, path, body=body, headers=headers or {})
    resp = conn.getresponse()
    return Response(resp.status, resp.headers, resp.read())


def call(port, method, path, body=None, headers=None, source="127.0.0.1"):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=HTTP_TIMEOUT_S,
                                      source_address=(source, 0))
    try:
        return request(conn, method, path, body, headers)
    finally:
        conn.close()


class GatewaySecurityTest(lib.ClassServers, unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = lib.make_temp_dir("gateway_security_test.")
        cls.addClassCleanup(lib.remove_temp_dir, cls.tmp)

        def path(name):
            return os.path.join(cls.tmp, name)
        # Keys and certificate, made by the openssl CLI.
        openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
                "-out", path("jwt_key.pem"))
        openssl("pkey", "-in", path("jwt_key.pem"), "-pubout", "-out", path("jwt_pub.pem"))
        openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
                "-out", path("other_key.pem"))
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                "-keyout", path("tls_key.pem"), "-out", path("tls_cert.pem"),
                "-subj", "/CN=127.0.0.1",
                "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost")
        with open(path("jwt_key.pem"), "rb") as f:
            cls.rsa_private = f.read()
        with open(path("jwt_pub.pem"), "rb") as f:
            cls.rsa_public = f.read()
        with open(path("other_key.pem"), "rb") as f:
            cls.other_private = f.read()
        cls.secret = os.urandom(24).hex().encode("ascii")  # 48 bytes
        with open(path("hs_secret"), "wb") as f:
            f.write(cls.secret + b"\n")
        cls.tls_cert = path("tls_cert.pem")

        cls.echo = cls.start_class_server(lib.ServerProcess(
            "echo_backend", [echo_backend_binary(), "--port=0", lib.NO_DRAIN], cls.tmp))
        echo_addr = cls.echo.address
        common = ["--descriptor_set=" + transcoding_descriptor_set(),
                  "--backend=*=" + echo_addr]
        auth = ["--jwt_hs256_secret_file=" + path("hs_secret"),
                "--jwt_rs256_public_key_file=" + path("jwt_pub.pem"),
                "--jwt_issuer=" + ISSUER, "--jwt_audience=" + AUDIENCE,
                "--auth_rule=GET /v1/echo/*=echo.read",
                "--auth_rule=POST /v1/echo=echo.write",
                "--auth_rule=/v1/tags=public"]
        cls.gateway = cls._start_gateway("secure", common + auth + [
            "--cors_allowed_origins=" + ORIGIN,
            "--cors_allowed_origins=http://localhost:3000",
            "--max_body_bytes=%d" % MAX_BODY_BYTES,
            "--max_header_bytes=%d" % MAX_HEADER_BYTES,
            "--header_timeout=%ds" % HEADER_TIMEOUT_S,
            "--idle_timeout=%ds" % IDLE_TIMEOUT_S])
        # One token per 10 s after a burst of 3: the test's few requests
        # never see a refill.
        cls.limited = cls._start_gateway("limited", common + [
            "--rate_limit_rps=0.1", "--rate_limit_burst=3"])
        cls.https = cls._start_gateway("https", common + auth + [
            "--https_cert_file=" + cls.tls_cert, "--https_key_file=" + path("tls_key.pem")],
            tls=True)

    @classmethod
    def _start_gateway(cls, name, args, tls=False):
        log_dir = os.path.join(cls.tmp, name)
        os.makedirs(log_dir, exist_ok=True)
        server = cls.start_class_server(
            lib.ServerProcess("gateway", [gateway_binary(), "--port=0"] + args, log_dir))
        server.port = int(server.address.rsplit(":", 1)[1])
        if not tls:
            lib.wait_until(lambda: call(server.port, "GET", "/healthz").status == 200,
                           lib.HEALTH_TIMEOUT_S, "%s /healthz" % name)
        return server

    # ---- helpers -------------------------------------------------------

    def claims(self, **overrides):
        now = int(time.time())
        claims = {"sub": "user-7", "iss": ISSUER, "aud": AUDIENCE, "iat": now,
                  "exp": now + 300, "scope": "echo.read"}
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}

    def rs_token(self, key=None, **overrides):
        return jwt.encode(self.claims(**overrides), key or self.rsa_private, algorithm="RS256")

    def hs_token(self, **overrides):
        return jwt.encode(self.claims(**overrides), self.secret, algorithm="HS256")

    def get_echo(self, token=None, headers=None, port=None):
        all_headers = dict(headers or {})
        if token is not None:
            all_headers["Authorization"] = "Bearer " + token
        return call(port or self.gateway.port, "GET", "/v1/echo/1", headers=all_headers)

    def assertError(self, resp, status, code):
        self.assertEqual(resp.status, status, resp)
        # Refusals made before routing carry a request id too.
        self.assertRegex(resp.headers.get("X-Request-Id") or "", r"^[0-9a-f]{32}$", resp)
        self.assertEqual(resp.headers.get("Content-Type"), "application/json", resp)
        body = resp.json()
        self.assertEqual(set(body), ERROR_KEYS, resp)
        self.assertEqual(body["code"], code, resp)
        self.assertEqual(body["details"], [], resp)
        return body

    def assertInvalidToken(self, resp, description):
        self.assertError(resp, 401, 16)
        challenge = resp.headers.get("WWW-Authenticate") or ""
        self.assertTrue(challenge.startswith('Bearer realm="stubmesh", error="invalid_token"'),
                        resp)
        self.assertIn(description, challenge, resp)

    # ---- authentication --------------------------------------------------

    def test_no_token_is_401_with_a_bare_challenge(self):
        # The client's request id comes back on the refusal.
        resp = self.get_echo(headers={"X-Request-Id": "rid-refused-1"})
        self.assertEqual(resp.status, 401, resp)
        self.assertEqual(resp.headers.get("X-Request-Id"), "rid-refused-1", resp)
        resp = self.get_echo()
        self.assertError(resp, 401, 16)
        self.assertEqual(resp.headers.get("WWW-Authenticate"), 'Bearer realm="stubmesh"')
        # Another scheme is no bearer token either.
        resp = self.get_echo(headers={"Authorization": "Basic dXNlcjpwYXNz"})
        self.assertEqual(resp.headers.get("WWW-Authenticate"), 'Bearer realm="stubmesh"', resp)

    def test_good_tokens_reach_the_backend_with_the_user(self):
        for token in (self.rs_token(), self.hs_token(sub="user-8", scope="echo.read other")):
            resp = self.get_echo(token)
            self.assertEqual(resp.status, 200, resp)
            self.assertEqual(resp.json()["id"], "1")
        resp = self.get_echo(self.rs_token(sub="alice", scope="other echo.read"))
        self.assertEqual(resp.headers.get("Grpc-Metadata-echo-x-user-id"), "alice", resp)
        self.assertEqual(resp.headers.get("Grpc-Metadata-echo-x-user-scopes"), "other echo.read")

    def test_a_client_cannot_claim_to_be_someone_else(self):
        spoof = {"Grpc-Metadata-x-user-id": "root", "grpc-metadata-X-User-Scopes": "admin"}
        resp = self.get_echo(self.rs_token(sub="bob"), headers=spoof)
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(resp.headers.get("Grpc-Metadata-echo-x-user-id"), "bob", resp)
        self.assertEqual(resp.headers.get("Grpc-Metadata-echo-x-user-scopes"), "echo.read")
        # On a public route the spoofed keys are dropped too.
        resp = call(self.gateway.port, "GET", "/v1/tags?tags=a", headers=spoof)
        self.assertEqual(resp.status, 200, resp)
        self.assertIsNone(resp.headers.get("Grpc-Metadata-echo-x-user-id"), resp)
        self.assertIsNone(resp.headers.get("Grpc-Metadata-echo-x-user-scopes"), resp)

    def test_forged_signature_is_401(self):
        self.assertInvalidToken(self.get_echo(self.rs_token(key=self.other_private)),
                                "signature is not valid")
        # A valid token with its payload swapped.
        good = self.rs_token().split(".")
        evil = b64url(json.dumps(self.claims(sub="admin")).encode())
        self.assertInvalidToken(self.get_echo(".".join([good[0], evil, good[2]])),
                                "signature is not valid")

    def test_alg_none_and_hs_rs_confusion_are_401(self):
        header = b64url(b'{"alg":"none","typ":"JWT"}')
        payload = b64url(json.dumps(self.claims()).encode())
        self.assertInvalidToken(self.get_echo("%s.%s." % (header, payload)), "alg 'none'")
        # HS256 keyed with the RSA public key, which everyone has.
        header = b64url(b'{"alg":"HS256","typ":"JWT"}')
        signing_input = ("%s.%s" % (header, payload)).encode("ascii")
        mac = hmac.new(self.rsa_public, signing_input, hashlib.sha256).digest()
        self.assertInvalidToken(self.get_echo("%s.%s" % (signing_input.decode(), b64url(mac))),
                                "signature is not valid")

    def test_expired_or_not_yet_valid_is_401(self):
        now = int(time.time())
        self.assertInvalidToken(self.get_echo(self.rs_token(exp=now - 120)), "token expired")
        self.assertInvalidToken(self.get_echo(self.hs_token(nbf=now + 600)), "not valid yet")
        self.assertInvalidToken(self.get_echo(self.hs_token(exp=None)), "no 'exp'")
        # Within the 30 s leeway.
        self.assertEqual(self.get_echo(self.rs_token(exp=now - 5)).status, 200)

    def test_wrong_issuer_or_audience_is_401(self):
        self.assertInvalidToken(self.get_echo(self.rs_token(iss="https://other.test")), "issuer")
        self.assertInvalidToken(self.get_echo(self.rs_token(aud="someone-else")), "audience")

    def test_missing_scope_is_403(self):
        resp = call(self.gateway.port, "POST", "/v1/echo", body=b'{"name":"x"}',
                    headers={"Content-Type": "application/json",
                             "Authorization": "Bearer " + self.rs_token(scope="echo.read")})
        body = self.assertError(resp, 403, 7)
        self.assertIn("echo.write", body["message"])
        self.assertEqual(resp.headers.get("WWW-Authenticate"),
                         'Bearer realm="stubmesh", error="insufficient_scope", scope="echo.write"')
        resp = call(self.gateway.port, "POST", "/v1/echo", body=b'{"name":"x"}',
                    headers={"Content-Type": "application/json",
                             "Authorization": "Bearer " + self.rs_token(scope="echo.write")})
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(resp.json()["name"], "x")

    def test_public_routes_and_probes_need_no_token(self):
        self.assertEqual(call(self.gateway.port, "GET", "/v1/tags?tags=a").status, 200)
        self.assertEqual(call(self.gateway.port, "GET", "/healthz").status, 200)
        # Everything else takes the default: a token.
        self.assertError(call(self.gateway.port, "GET", "/v1/inner"), 401, 16)
        self.assertEqual(call(self.gateway.port, "GET", "/v1/inner", headers={
            "Authorization": "Bearer " + self.hs_token(scope="")}).status, 200)

    # ---- limits and timeouts -------------------------------------------

    def test_body_over_limit_is_413(self):
        head = ("POST /v1/tags HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                "Content-Length: %d\r\n\r\n" % (MAX_BODY_BYTES + 1)).encode("ascii")
        answer = raw_exchange(self.gateway.port, head, b"x" * (MAX_BODY_BYTES + 1))
        self.assertEqual(raw_status(answer), 413, answer and answer[:300])
        error = raw_json_body(answer)
        self.assertEqual(set(error), ERROR_KEYS)
        self.assertEqual(error["code"], 8)
        # Chunked, without a length up front: cut at the limit while reading.
        head = (b"POST /v1/tags HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n")
        chunk = b"%x\r\n%s\r\n" % (MAX_BODY_BYTES + 1, b"x" * (MAX_BODY_BYTES + 1))
        answer = raw_exchange(self.gateway.port, head + chunk + b"0\r\n\r\n")
        self.assertEqual(raw_status(answer), 413, answer and answer[:300])

    def test_headers_over_limit_are_431(self):
        resp = call(self.gateway.port, "GET", "/v1/tags",
                    headers={"X-Big": "a" * (MAX_HEADER_BYTES + 100)})
        self.assertError(resp, 431, 8)

    def test_slowloris_is_cut_off_at_the_header_timeout(self):
        head = b"GET /v1/tags HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 40 + b"\r\n\r\n"
        sock = socket.create_connection(("127.0.0.1", self.gateway.port), timeout=HTTP_TIMEOUT_S)
        cut_off_after = None
        try:
            # One byte every 0.2 s: the whole head would take ~14 s.
            for i in range(len(head)):
                try:
                    sock.sendall(head[i:i + 1])
                except OSError:
                    cut_off_after = i
                    break
                readable, _, _ = select.select([sock], [], [], 0.2)
                if readable:
                    data = sock.recv(4096)
                    self.assertEqual(data, b"", "answered a request never completed: %r" % data)
                    cut_off_after = i
                    break
        finally:
            sock.close()
        self.assertIsNotNone(cut_off_after, "the slow client was never disconnected")
        self.assertLess(cut_off_after, len(head) - 1)

    def test_idle_keep_alive_connection_is_closed(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.gateway.port, timeout=HTTP_TIMEOUT_S)
        try:
            first = request(conn, "GET", "/v1/tags?tags=a")
            self.assertEqual(first.status, 200, first)
            self.assertNotEqual((first.headers.get("Connection") or "").lower(), "close")
            second = request(conn, "GET", "/v1/tags?tags=b")  # kept alive
            self.assertEqual(second.status, 200, second)
            # Then nothing: the server closes (EOF) well before the wait ends.
            readable, _, _ = select.select([conn.sock], [], [], HTTP_TIMEOUT_S)
            self.assertTrue(readable, "idle connection still open after %ss" % HTTP_TIMEOUT_S)
            self.assertEqual(conn.sock.recv(1), b"")
        finally:
            conn.close()

    # ---- CORS ------------------------------------------------------------

    def test_preflight_is_answered_by_the_gateway(self):
        # No route at all there, and no token: only the gateway could answer.
        resp = call(self.gateway.port, "OPTIONS", "/v1/no/such/route", headers={
            "Origin": ORIGIN, "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type"})
        self.assertEqual(resp.status, 204, resp)
        self.assertEqual(resp.headers.get("Access-Control-Allow-Origin"), ORIGIN)
        self.assertIn("POST", resp.headers.get("Access-Control-Allow-Methods"))
        self.assertIn("Authorization", resp.headers.get("Access-Control-Allow-Headers"))
        self.assertEqual(resp.headers.get("Access-Control-Max-Age"), "600")
        self.assertRegex(resp.headers.get("X-Request-Id") or "", r"^[0-9a-f]{32}$", resp)

    def test_disallowed_origin_gets_no_cors_headers(self):
        resp = call(self.gateway.port, "OPTIONS", "/v1/echo/1", headers={
            "Origin": "https://evil.example", "Access-Control-Request-Method": "GET"})
        self.assertError(resp, 403, 7)
        self.assertIsNone(resp.headers.get("Access-Control-Allow-Origin"), resp)
        resp = call(self.gateway.port, "GET", "/v1/tags?tags=a",
                    headers={"Origin": "https://evil.example"})
        self.assertEqual(resp.status, 200, resp)
        self.assertIsNone(resp.headers.get("Access-Control-Allow-Origin"), resp)
        # A preflight asking for a header not on the list.
        resp = call(self.gateway.port, "OPTIONS", "/v1/echo/1", headers={
            "Origin": ORIGIN, "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "x-secret"})
        self.assertError(resp, 403, 7)

    def test_allowed_origin_can_read_answers_and_refusals(self):
        resp = self.get_echo(self.rs_token(), headers={"Origin": "http://localhost:3000"})
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(resp.headers.get("Access-Control-Allow-Origin"), "http://localhost:3000")
        self.assertIn("X-Request-Id", resp.headers.get("Access-Control-Expose-Headers"))
        resp = self.get_echo(headers={"Origin": ORIGIN})
        self.assertEqual(resp.status, 401, resp)
        self.assertEqual(resp.headers.get("Access-Control-Allow-Origin"), ORIGIN)

    # ---- rate limit ------------------------------------------------------

    def test_rate_limit_is_429_with_retry_after(self):
        # From client addresses of their own (127.0.0.1 spent tokens on the
        # health checks at start).
        statuses = [call(self.limited.port, "GET", "/v1/echo/1", source="127.0.0.2").status
                    for _ in range(4)]
        self.assertEqual(statuses, [200, 200, 200, 429])
        refused = call(self.limited.port, "GET", "/v1/echo/1", source="127.0.0.2")
        self.assertError(refused, 429, 8)
        self.assertIn("127.0.0.2", refused.json()["message"])
        retry_after = int(refused.headers.get("Retry-After"))
        self.assertGreaterEqual(retry_after, 1)
        self.assertLessEqual(retry_after, 10)
        # Another client has its own bucket.
        self.assertEqual(
            call(self.limited.port, "GET", "/v1/echo/1", source="127.0.0.3").status, 200)
        # The refusal is counted.
        metrics = call(self.limited.port, "GET", "/metrics", source="127.0.0.4")
        self.assertEqual(metrics.status, 200, metrics)
        counted = re.search(rb'^gateway_guard_rejections_total\{reason="rate_limited"\} (\d+)',
                            metrics.body, re.M)
        self.assertIsNotNone(counted, metrics.body[-2000:])
        self.assertGreaterEqual(int(counted.group(1)), 2)
        # And in the gateway's request count, beside the routed answers.
        answered = re.search(rb'^http_requests_total\{code="429",method="GET",route="rejected"\} '
                             rb'(\d+)', metrics.body, re.M)
        self.assertIsNotNone(answered, metrics.body[-3000:])
        self.assertGreaterEqual(int(answered.group(1)), 2)

    # ---- TLS -------------------------------------------------------------

    def https_connection(self, context):
        return http.client.HTTPSConnection("127.0.0.1", self.https.port, timeout=HTTP_TIMEOUT_S,
                                           context=context)

    def test_https_with_keep_alive(self):
        context = ssl.create_default_context(cafile=self.tls_cert)
        conn = self.https_connection(context)
        try:
            health = request(conn, "GET", "/healthz")
            self.assertEqual(health.status, 200, health)
            sock = conn.sock
            self.assertEqual(sock.version() in ("TLSv1.2", "TLSv1.3"), True, sock.version())
            resp = request(conn, "GET", "/v1/echo/5",
                           headers={"Authorization": "Bearer " + self.rs_token(sub="tls-user")})
            self.assertEqual(resp.status, 200, resp)
            self.assertEqual(resp.json()["id"], "5")
            self.assertEqual(resp.headers.get("Grpc-Metadata-echo-x-user-id"), "tls-user")
            self.assertIs(conn.sock, sock, "the connection was not kept alive")
            resp = request(conn, "GET", "/v1/echo/6")
            self.assertEqual(resp.status, 401, resp)
            self.assertIs(conn.sock, sock)
        finally:
            conn.close()

    def test_https_client_without_the_ca_refuses_and_plain_http_gets_nothing(self):
        conn = self.https_connection(ssl.create_default_context())
        with self.assertRaises(ssl.SSLCertVerificationError):
            request(conn, "GET", "/healthz")
        conn.close()
        answer = raw_exchange(self.https.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
                              timeout=5)
        self.assertIsNone(raw_status(answer), answer)
        # Still serving.
        conn = self.https_connection(ssl.create_default_context(cafile=self.tls_cert))
        self.assertEqual(request(conn, "GET", "/healthz").status, 200)
        conn.close()


if __name__ == "__main__":
    unittest.main()
