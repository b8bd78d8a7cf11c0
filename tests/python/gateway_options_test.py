"""The REST gateway's process-level behaviour and per-gateway options, end to
end with real binaries on loopback:

- a backend's google.rpc error details (BadRequest, and a type nobody
  describes) arrive in the JSON error body;
- the original /user and /order routes keep the JSON types of the Flask
  service they replace (id a string, name a string, total a number);
- POST /order with a form body is refused naming `items` (a form cannot carry
  a list of messages), while JSON places the order;
- --json_use_proto_names, --json_emit_unpopulated, --json_enums_as_ints and
  --allow_unknown_fields change the answers of a second gateway, and not of
  the default one;
- a descriptor set with two conflicting routes, or with an invalid template,
  makes the gateway exit 1 naming both methods or the template.

Run by Bazel inside //tests/python:python_client_test, or by hand from the
repo root after the builds listed in gateway_e2e_test.py plus
`bazel build //gateway/testdata:conflicting_routes_descriptor_set
//gateway/testdata:invalid_template_descriptor_set`:

    /usr/bin/python3 -m unittest -v tests/python/gateway_options_test.py

STUBMESH_REFUSED_DESCRIPTOR_DIR overrides where those two descriptor sets
are (default: gateway/testdata under the runfiles root, else bazel-bin/).
"""

import base64
import json
import os
import subprocess
import sys
import unittest
import urllib.parse
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import gateway_e2e_test as e2e  # noqa: E402
import stubmesh_testlib as lib  # noqa: E402

# How long a gateway that must refuse its descriptors may take to exit.
REFUSAL_TIMEOUT_S = 30.0


def refused_descriptor_set(name):
    """gateway/testdata/<name>_descriptor_set.pb: in the runfiles, or built
    in the checkout."""
    file_name = name + "_descriptor_set.pb"
    override = os.environ.get("STUBMESH_REFUSED_DESCRIPTOR_DIR")
    candidates = [os.path.join(override, file_name)] if override else [
        os.path.join(lib.REPO_ROOT, "gateway", "testdata", file_name),
        os.path.join(lib.REPO_ROOT, "bazel-bin", "gateway", "testdata", file_name)]
    for path in candidates:
        if os.path.exists(path):
            return path
    raise FileNotFoundError("missing %s (bazel build //gateway/testdata:%s_descriptor_set)"
                            % (" or ".join(candidates), name))


class GatewayOptionsTest(lib.ClassServers, unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = lib.make_temp_dir("gateway_options_test.")
        cls.addClassCleanup(lib.remove_temp_dir, cls.tmp)

        # Stopped in reverse: the gateways, then the backends, order_svc
        # before user_svc.
        user = cls.start_class_server(lib.ServerProcess("user_svc", [
            lib.user_svc_binary(), "--port=0", lib.NO_DRAIN,
            "--db=" + os.path.join(cls.tmp, "users.db")],
            cls.tmp))
        order = cls.start_class_server(lib.ServerProcess("order_svc", [
            lib.order_svc_binary(), "--port=0", lib.NO_DRAIN,
            "--db=" + os.path.join(cls.tmp, "orders.db"),
            "--user_service=" + user.address], cls.tmp))
        echo = cls.start_class_server(lib.ServerProcess("echo_backend", [
            e2e.echo_backend_binary(), "--port=0"], cls.tmp))
        backends = ["--backend=%s=%s" % pair for pair in (
            (e2e.USER_SERVICE, user.address), (e2e.ORDER_SERVICE, order.address),
            (e2e.ECHO_SERVICE, echo.address))]
        cls.gateway = cls._start_gateway("default", backends)
        cls.options_gateway = cls._start_gateway("options", backends + [
            "--json_use_proto_names", "--json_emit_unpopulated", "--json_enums_as_ints",
            "--allow_unknown_fields"])

    @classmethod
    def _start_gateway(cls, name, flags):
        log_dir = os.path.join(cls.tmp, name)
        os.makedirs(log_dir, exist_ok=True)
        server = cls.start_class_server(lib.ServerProcess("gateway", [
            e2e.gateway_binary(), "--port=0",
            "--descriptor_set=" + e2e.descriptor_set(),
            "--descriptor_set=" + e2e.transcoding_descriptor_set()] + flags, log_dir))
        server.port = int(server.address.rsplit(":", 1)[1])

        def ready():
            if not server.running():
                raise AssertionError("gateway %s exited with %s\n%s" % (
                    name, server.proc.returncode, server.stderr_tail()))
            return e2e.http_request(server.port, "GET", "/readyz", timeout=2).status == 200
        lib.wait_until(ready, lib.HEALTH_TIMEOUT_S, "gateway %s GET /readyz 200" % name)
        return server

    # ---- helpers -------------------------------------------------------

    def call(self, method, path, body=None, headers=None, gateway=None):
        return e2e.http_request((gateway or self.gateway).port, method, path, body=body,
                                headers=headers)

    def call_json(self, method, path, obj, gateway=None):
        return self.call(method, path, body=json.dumps(obj).encode("utf-8"),
                         headers={"Content-Type": "application/json"}, gateway=gateway)

    def assertJson(self, resp, status=200):
        self.assertEqual(resp.status, status, resp)
        content_type = resp.header("Content-Type") or ""
        self.assertEqual(content_type.split(";")[0].strip().lower(), "application/json", resp)
        return resp.json()

    def create_user(self):
        return self.assertJson(self.call(
            "POST", "/user",
            body=urllib.parse.urlencode({
                "name": "Ada Lovelace",
                "email": "ada-%s@example.com" % uuid.uuid4().hex[:12]}).encode("ascii"),
            headers={"Content-Type": "application/x-www-form-urlencoded"}))

    # ---- error details ---------------------------------------------------

    def test_backend_error_details_arrive_as_json(self):
        # The echo backend answers name "reject:<field>" with INVALID_ARGUMENT
        # and a google.rpc.BadRequest naming <field>, then a detail of a type
        # no descriptor describes (bytes 08 2a), then an EchoRequest.
        resp = self.call("GET", "/v1/echo/1?name=reject:email")
        body = self.assertJson(resp, 400)
        self.assertEqual(body["code"], 3, resp)
        self.assertEqual(body["message"], "asked to reject email", resp)
        self.assertEqual(body["details"][:2], [
            {"@type": "type.googleapis.com/google.rpc.BadRequest",
             "fieldViolations": [{"field": "email", "description": "rejected on request",
                                  "reason": "ASKED"}]},
            {"@type": "type.googleapis.com/stubmesh.testing.v1.Undescribed",
             "value": base64.b64encode(b"\x08\x2a").decode("ascii")},
        ], resp)
        # Described only by the gateway's --descriptor_set: printed as JSON
        # (error bodies print every field, set or not).
        echoed = body["details"][2]
        self.assertEqual(echoed["@type"], "type.googleapis.com/stubmesh.testing.v1.EchoRequest",
                         resp)
        self.assertEqual((echoed["name"], echoed["id"], echoed["count"]), ("email", "0", 0), resp)
        # The same body whatever the gateway's response options.
        other = self.call("GET", "/v1/echo/1?name=reject:email", gateway=self.options_gateway)
        self.assertEqual(self.assertJson(other, 400), body, other)

    # ---- the original routes' JSON types ---------------------------------

    def test_original_routes_keep_the_flask_json_types(self):
        user = self.create_user()
        user_id = user["id"]
        self.assertRegex(user_id, r"^[1-9][0-9]*$")
        got = self.assertJson(self.call("GET", "/user?id=" + user_id))
        # Flask answered {"id": request.args["id"], "name": ...}: id a string.
        self.assertIs(type(got["id"]), str, got)
        self.assertEqual(got["id"], user_id, got)
        self.assertIs(type(got["name"]), str, got)
        self.assertEqual(got["name"], "Ada Lovelace", got)

        order = self.assertJson(self.call_json("POST", "/order", {
            "userId": user_id,
            "items": [{"sku": "CUP", "quantity": 3, "unitPriceCents": 250}]}))
        got = self.assertJson(self.call("GET", "/order?id=" + order["id"]))
        # Flask: {"id": "<string>", "total": <number>}.
        self.assertIs(type(got["id"]), str, got)
        self.assertEqual(got["id"], order["id"], got)
        self.assertIs(type(got["total"]), int, got)  # a JSON number (not a string, not bool)
        self.assertEqual(got["total"], 750, got)

    def test_form_order_is_refused_naming_items(self):
        user = self.create_user()
        form = urllib.parse.urlencode({"user_id": user["id"], "items.sku": "CUP",
                                       "items.quantity": "1"}).encode("ascii")
        resp = self.call("POST", "/order", body=form,
                         headers={"Content-Type": "application/x-www-form-urlencoded"})
        body = self.assertJson(resp, 400)
        self.assertEqual(body["code"], 3, resp)
        self.assertIn("form field 'items.sku'", body["message"], resp)
        self.assertIn("'items' is a list of messages, which a query string or form body "
                      "cannot carry", body["message"], resp)
        self.assertIn("application/json", body["message"], resp)

    # ---- response and transcoding options --------------------------------

    def test_response_options(self):
        path = "/v1/echo/7?name=n&kind=KIND_LARGE&shownAs=shown"
        default = self.assertJson(self.call("GET", path))
        self.assertEqual(default, {"id": "7", "name": "n", "kind": "KIND_LARGE",
                                   "shownAs": "shown"})

        got = self.assertJson(self.call("GET", path, gateway=self.options_gateway))
        # Proto names, enums as numbers.
        self.assertEqual(got["display_name"], "shown", got)
        self.assertNotIn("shownAs", got)
        self.assertEqual(got["kind"], 2, got)
        self.assertEqual(got["id"], "7", got)  # int64 stays a string
        # Unpopulated scalar and repeated fields are written.
        for name, empty in (("count", 0), ("flag", False), ("ratio", 0), ("tags", []),
                            ("numbers", []), ("blob", ""), ("big", "0")):
            self.assertIn(name, got)
            self.assertEqual(got[name], empty, (name, got))

        # Another backend through the same gateway: proto names there too.
        user = self.create_user()
        fetched = self.assertJson(self.call("GET", "/v1/users/" + user["id"],
                                            gateway=self.options_gateway))
        self.assertIn("create_time", fetched)
        self.assertNotIn("createTime", fetched)

    def test_unknown_fields_are_ignored_only_when_allowed(self):
        query = "/v1/echo/3?name=n&color=red"
        self.assertEqual(self.call("GET", query).status, 400)
        got = self.assertJson(self.call("GET", query, gateway=self.options_gateway))
        self.assertEqual((got["id"], got["name"]), ("3", "n"), got)
        self.assertNotIn("color", got)

        refused = self.call_json("POST", "/v1/echo", {"id": "4", "color": "red"})
        self.assertEqual(refused.status, 400, refused)
        self.assertIn("color", refused.json()["message"], refused)
        body = {"id": "4", "name": "m", "color": "red", "extra": {"nested": [1, 2]}}
        got = self.assertJson(self.call_json("POST", "/v1/echo", body,
                                             gateway=self.options_gateway))
        self.assertEqual((got["id"], got["name"]), ("4", "m"), got)
        self.assertNotIn("color", got)


class GatewayRefusesBadDescriptorsTest(unittest.TestCase):
    """The gateway binary exits 1 at start, naming what is wrong."""

    def run_gateway(self, descriptor_set):
        result = subprocess.run(
            [e2e.gateway_binary(), "--port=0", "--descriptor_set=" + descriptor_set,
             "--backend=*=127.0.0.1:1"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            timeout=REFUSAL_TIMEOUT_S)
        stderr = result.stderr.decode("utf-8", "replace")
        self.assertEqual(result.returncode, 1, stderr)
        # It never started listening.
        self.assertNotIn(b"listening on", result.stdout, result.stdout)
        return stderr

    def test_conflicting_routes_name_both_methods(self):
        stderr = self.run_gateway(refused_descriptor_set("conflicting_routes"))
        service = "stubmesh.testing.refused.v1.ConflictingRoutesService"
        self.assertIn(service + ".GetWidget", stderr)
        self.assertIn(service + ".FetchWidget", stderr)
        self.assertIn("conflicts with", stderr)

    def test_invalid_template_is_named(self):
        stderr = self.run_gateway(refused_descriptor_set("invalid_template"))
        self.assertIn('"/v1/gadgets/item{id}"', stderr)
        self.assertIn("stubmesh.testing.refused.v1.InvalidTemplateService.GetGadget", stderr)


if __name__ == "__main__":
    unittest.main()
