"""What grpcurl does, done with a Python server-reflection client.

grpcurl is not packaged in Debian 12, so this test proves the same three
things against running user_svc and order_svc:

  list      ListServices names our service, grpc.health.v1.Health and
            grpc.reflection.v1alpha.ServerReflection;
  describe  file_containing_symbol (plus file_by_filename for missing
            imports) yields FileDescriptorProtos that build a complete
            descriptor pool, whose methods carry the google.api.http option;
  call      requests built from the reflected descriptors alone, sent with
            a generic unary call: UserService/CreateUser, GetUser,
            OrderService/CreateOrder and grpc.health.v1.Health/Check.

Only the reflection and health protos (and protos/google/api, to read the
http option) are compiled to Python here; our service contracts are known
to the client only through reflection.

Run by Bazel as //tests/python:python_client_test, or by hand from the repo
root after building the servers:

    /usr/bin/python3 -m unittest -v tests/python/reflection_test.py
"""

import importlib
import os
import shlex
import sys
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import grpc  # noqa: E402
from google.protobuf import descriptor_pb2  # noqa: E402
from google.protobuf import descriptor_pool  # noqa: E402
from google.protobuf import json_format  # noqa: E402
from google.protobuf import message_factory  # noqa: E402

import stubmesh_testlib as lib  # noqa: E402

USER_SERVICE = "stubmesh.user.v1.UserService"
ORDER_SERVICE = "stubmesh.order.v1.OrderService"
HEALTH_SERVICE = "grpc.health.v1.Health"
REFLECTION_SERVICE = "grpc.reflection.v1alpha.ServerReflection"
HTTP_RULE_FIELD_NUMBER = 72295728  # google.api.http on MethodOptions.


def _generate_and_import(gen_dir):
    grpc_protos = lib.grpc_protos_dir()
    # Each gRPC proto from its own folder: their modules become top-level
    # (reflection_pb2, health_pb2), since grpc.* is the installed package.
    for sub, name in (("grpc/reflection/v1alpha", "reflection.proto"),
                      ("grpc/health/v1", "health.proto")):
        folder = os.path.join(grpc_protos, *sub.split("/"))
        lib.run_protoc(gen_dir, [folder], [os.path.join(folder, name)])
    lib.run_protoc(gen_dir, [lib.protos_dir()],
                   ["google/api/http.proto", "google/api/annotations.proto"])
    lib.add_to_sys_path(gen_dir)
    importlib.invalidate_caches()
    return {name: importlib.import_module(name) for name in (
        "reflection_pb2", "reflection_pb2_grpc", "health_pb2", "health_pb2_grpc",
        "google.api.annotations_pb2", "google.api.http_pb2")}


def _message_class(factory, descriptor):
    """message_factory.GetMessageClass where it exists (protobuf >= 4.22)."""
    get = getattr(message_factory, "GetMessageClass", None)
    if get is not None:
        return get(descriptor)
    return factory.GetPrototype(descriptor)


def _wire_field_numbers(data):
    """The field numbers at the top level of a serialized message."""
    numbers = []
    i = 0

    def varint():
        nonlocal i
        shift = value = 0
        while True:
            b = data[i]
            i += 1
            value |= (b & 0x7F) << shift
            if not b & 0x80:
                return value
            shift += 7

    while i < len(data):
        tag = varint()
        number, wire_type = tag >> 3, tag & 7
        numbers.append(number)
        if wire_type == 0:
            varint()
        elif wire_type == 1:
            i += 8
        elif wire_type == 2:
            length = varint()  # Not `i += varint()`: that reads i first.
            i += length
        elif wire_type == 5:
            i += 4
        else:
            raise ValueError("unexpected wire type %d" % wire_type)
    return numbers


class ReflectionClient(object):
    """The parts of grpcurl's reflection client this test needs."""

    def __init__(self, channel, reflection_pb2, reflection_pb2_grpc):
        self.pb2 = reflection_pb2
        self.stub = reflection_pb2_grpc.ServerReflectionStub(channel)

    def _ask(self, **kwargs):
        request = self.pb2.ServerReflectionRequest(host="", **kwargs)
        responses = list(self.stub.ServerReflectionInfo(iter([request]), timeout=10))
        if len(responses) != 1:
            raise AssertionError("want one reflection response, got %d" % len(responses))
        response = responses[0]
        if response.HasField("error_response"):
            raise LookupError("reflection %r: error %d %s" % (
                kwargs, response.error_response.error_code, response.error_response.error_message))
        return response

    def list_services(self):
        response = self._ask(list_services="")
        return [s.name for s in response.list_services_response.service]

    def _files(self, response):
        return [descriptor_pb2.FileDescriptorProto.FromString(raw)
                for raw in response.file_descriptor_response.file_descriptor_proto]

    def file_containing_symbol(self, symbol):
        return self._files(self._ask(file_containing_symbol=symbol))

    def file_by_filename(self, filename):
        return self._files(self._ask(file_by_filename=filename))

    def describe(self, symbol):
        """All the files needed for symbol, by name: the first, then every import."""
        files = {}
        first = self.file_containing_symbol(symbol)
        if not first:
            raise AssertionError("no file for %s" % symbol)
        for f in first:
            files.setdefault(f.name, f)
        pending = [first[0].name]
        seen = set()
        while pending:
            name = pending.pop()
            if name in seen:
                continue
            seen.add(name)
            if name not in files:
                for f in self.file_by_filename(name):
                    files.setdefault(f.name, f)
                if name not in files:
                    raise AssertionError("file_by_filename(%s) did not return it" % name)
            pending.extend(files[name].dependency)
        return first[0].name, {name: files[name] for name in seen}


def build_pool(files):
    """A new DescriptorPool holding files, each added after its imports."""
    pool = descriptor_pool.DescriptorPool()
    added = set()

    def add(name, stack=()):
        if name in added:
            return
        if name in stack:
            raise AssertionError("import cycle: %s" % " -> ".join(stack + (name,)))
        for dep in files[name].dependency:
            add(dep, stack + (name,))
        pool.Add(files[name])
        added.add(name)

    for name in sorted(files):
        add(name)
    return pool


class ReflectionTest(lib.UserAndOrderServers, unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = lib.make_temp_dir("reflection_test.")
        cls.addClassCleanup(lib.remove_temp_dir, cls.tmp)
        m = _generate_and_import(os.path.join(cls.tmp, "gen"))
        cls.reflection_pb2, cls.reflection_grpc = m["reflection_pb2"], m["reflection_pb2_grpc"]
        cls.health_pb2, cls.health_grpc = m["health_pb2"], m["health_pb2_grpc"]
        cls.annotations_pb2 = m["google.api.annotations_pb2"]

        cls.start_user_and_order_servers(cls.tmp)

        cls.user_reflection = ReflectionClient(cls.user_channel, cls.reflection_pb2,
                                               cls.reflection_grpc)
        cls.order_reflection = ReflectionClient(cls.order_channel, cls.reflection_pb2,
                                                cls.reflection_grpc)




    @classmethod
    def tearDownClass(cls):
        cls.stop_user_and_order_servers()

    # ---- helpers -------------------------------------------------------

    def describe(self, client, symbol):
        try:
            first, files = client.describe(symbol)
        except LookupError as e:
            self.fail("describe %s failed (is its descriptor linked into the server?): %s"
                      % (symbol, e))
        pool = build_pool(files)
        return first, files, pool

    def unary(self, channel, pool, service_name, method_name):
        """A generic unary call plus the dynamic request/response classes."""
        service = pool.FindServiceByName(service_name)
        method = service.methods_by_name[method_name]
        self.assertFalse(method.client_streaming)
        self.assertFalse(method.server_streaming)
        factory = message_factory.MessageFactory(pool)
        request_class = _message_class(factory, method.input_type)
        response_class = _message_class(factory, method.output_type)
        call = channel.unary_unary(
            "/%s/%s" % (service.full_name, method.name),
            request_serializer=request_class.SerializeToString,
            response_deserializer=response_class.FromString)
        return call, request_class, response_class

    def http_rule(self, files, file_name, service_name, method_name):
        """The google.api.http option of one method, read from raw options."""
        fdp = files[file_name]
        service = [s for s in fdp.service if s.name == service_name]
        self.assertEqual(len(service), 1, "%s not in %s" % (service_name, file_name))
        method = [m for m in service[0].method if m.name == method_name]
        self.assertEqual(len(method), 1)
        raw = method[0].options.SerializeToString()
        self.assertIn(HTTP_RULE_FIELD_NUMBER, _wire_field_numbers(raw),
                      "%s.%s has no google.api.http (field %d) in its reflected options"
                      % (service_name, method_name, HTTP_RULE_FIELD_NUMBER))
        http = self.annotations_pb2.http
        self.assertEqual(http.number, HTTP_RULE_FIELD_NUMBER)
        options = descriptor_pb2.MethodOptions.FromString(raw)
        self.assertTrue(options.HasExtension(http))
        return options.Extensions[http]

    # ---- list ------------------------------------------------------------

    def test_list_user_server(self):
        services = self.user_reflection.list_services()
        for want in (USER_SERVICE, HEALTH_SERVICE, REFLECTION_SERVICE):
            self.assertIn(want, services)
        self.assertNotIn(ORDER_SERVICE, services)
        self.assertEqual(len(services), len(set(services)))

    def test_list_order_server(self):
        services = self.order_reflection.list_services()
        for want in (ORDER_SERVICE, HEALTH_SERVICE, REFLECTION_SERVICE):
            self.assertIn(want, services)
        self.assertNotIn(USER_SERVICE, services)

    # ---- describe --------------------------------------------------------

    def test_describe_user_service(self):
        first, files, pool = self.describe(self.user_reflection, USER_SERVICE)
        self.assertEqual(first, "stubmesh/user/v1/user_service.proto")
        for name in ("google/api/annotations.proto", "google/api/http.proto",
                     "google/protobuf/descriptor.proto", "google/protobuf/empty.proto",
                     "google/protobuf/field_mask.proto", "google/protobuf/timestamp.proto"):
            self.assertIn(name, files)
        service = pool.FindServiceByName(USER_SERVICE)
        self.assertEqual([m.name for m in service.methods],
                         ["GetUser", "CreateUser", "ListUsers", "UpdateUser", "DeleteUser",
                          "WatchEvents"])
        types = {m.name: (m.input_type.full_name, m.output_type.full_name) for m in service.methods}
        self.assertEqual(types["GetUser"], ("stubmesh.user.v1.GetUserRequest", "stubmesh.user.v1.User"))
        self.assertEqual(types["DeleteUser"][1], "google.protobuf.Empty")
        user = pool.FindMessageTypeByName("stubmesh.user.v1.User")
        self.assertEqual([f.name for f in user.fields],
                         ["id", "name", "email", "create_time", "update_time"])

        get = self.http_rule(files, first, "UserService", "GetUser")
        self.assertEqual(get.get, "/v1/users/{id}")
        self.assertEqual([b.get for b in get.additional_bindings], ["/user"])
        create = self.http_rule(files, first, "UserService", "CreateUser")
        self.assertEqual((create.post, create.body), ("/v1/users", "user"))
        update = self.http_rule(files, first, "UserService", "UpdateUser")
        self.assertEqual((update.patch, update.body), ("/v1/users/{user.id}", "user"))
        delete = self.http_rule(files, first, "UserService", "DeleteUser")
        self.assertEqual(delete.delete, "/v1/users/{id}")

    def test_describe_order_service(self):
        first, files, pool = self.describe(self.order_reflection, ORDER_SERVICE)
        self.assertEqual(first, "stubmesh/order/v1/order_service.proto")
        service = pool.FindServiceByName(ORDER_SERVICE)
        self.assertEqual([m.name for m in service.methods],
                         ["GetOrder", "CreateOrder", "ListOrders", "WatchEvents"])
        status = pool.FindEnumTypeByName("stubmesh.order.v1.OrderStatus")
        self.assertEqual(status.values_by_name["ORDER_STATUS_OPEN"].number, 1)
        get = self.http_rule(files, first, "OrderService", "GetOrder")
        self.assertEqual(get.get, "/v1/orders/{id}")
        listing = self.http_rule(files, first, "OrderService", "ListOrders")
        self.assertEqual(listing.get, "/v1/users/{user_id}/orders")
        self.assertEqual([b.get for b in listing.additional_bindings], ["/v1/orders"])

    def test_describe_health_and_reflection(self):
        for client in (self.user_reflection, self.order_reflection):
            first, _, pool = self.describe(client, HEALTH_SERVICE)
            self.assertEqual(first, "grpc/health/v1/health.proto")
            self.assertEqual([m.name for m in pool.FindServiceByName(HEALTH_SERVICE).methods],
                             ["Check", "Watch"])
            _, _, pool = self.describe(client, REFLECTION_SERVICE)
            self.assertEqual(
                [m.name for m in pool.FindServiceByName(REFLECTION_SERVICE).methods],
                ["ServerReflectionInfo"])

    def test_describe_unknown_symbol_is_an_error(self):
        with self.assertRaises(LookupError):
            self.user_reflection.file_containing_symbol("no.such.Service")

    # ---- call ------------------------------------------------------------

    def test_call_user_and_order_services(self):
        _, _, user_pool = self.describe(self.user_reflection, USER_SERVICE)
        create, CreateUserRequest, User = self.unary(
            self.user_channel, user_pool, USER_SERVICE, "CreateUser")
        request = CreateUserRequest()
        request.user.name = "Reflected Rita"
        request.user.email = "rita-%s@example.com" % uuid.uuid4().hex[:8]
        request.request_id = str(uuid.uuid4())
        created = create(request, timeout=10)
        self.assertIsInstance(created, User)
        self.assertGreater(created.id, 0)
        self.assertEqual(created.name, "Reflected Rita")
        self.assertEqual(created.email, request.user.email)

        # What grpcurl prints: proto3 JSON, where int64 ids are strings.
        as_json = json_format.MessageToDict(created)
        self.assertEqual(as_json["id"], str(created.id))
        self.assertEqual(as_json["email"], request.user.email)
        self.assertIn("createTime", as_json)

        get, GetUserRequest, _ = self.unary(self.user_channel, user_pool, USER_SERVICE, "GetUser")
        got = get(json_format.ParseDict({"id": str(created.id)}, GetUserRequest()), timeout=10)
        self.assertEqual(got, created)

        with self.assertRaises(grpc.RpcError) as ctx:
            get(GetUserRequest(id=987654321), timeout=10)
        self.assertEqual(ctx.exception.code(), grpc.StatusCode.NOT_FOUND)

        _, _, order_pool = self.describe(self.order_reflection, ORDER_SERVICE)
        create_order, CreateOrderRequest, _ = self.unary(
            self.order_channel, order_pool, ORDER_SERVICE, "CreateOrder")
        order_request = json_format.ParseDict({
            "order": {"userId": str(created.id),
                      "items": [{"sku": "MUG", "quantity": 2, "unitPriceCents": 450}]},
            "requestId": str(uuid.uuid4()),
        }, CreateOrderRequest())
        order = create_order(order_request, timeout=10)
        self.assertGreater(order.id, 0)
        self.assertEqual(order.user_id, created.id)
        self.assertEqual(order.total, 900)
        order_json = json_format.MessageToDict(order)
        self.assertEqual(order_json["total"], 900)  # int32: a JSON number.
        self.assertEqual(order_json["status"], "ORDER_STATUS_OPEN")

    def test_call_health_check_described_by_reflection(self):
        for name, client, channel in (("user_svc", self.user_reflection, self.user_channel),
                                      ("order_svc", self.order_reflection, self.order_channel)):
            with self.subTest(server=name):
                _, _, pool = self.describe(client, HEALTH_SERVICE)
                check, HealthCheckRequest, HealthCheckResponse = self.unary(
                    channel, pool, HEALTH_SERVICE, "Check")
                response = check(HealthCheckRequest(service=""), timeout=10)
                serving = HealthCheckResponse.DESCRIPTOR.enum_types_by_name[
                    "ServingStatus"].values_by_name["SERVING"].number
                self.assertEqual(response.status, serving)
                self.assertEqual(json_format.MessageToDict(response), {"status": "SERVING"})


def readme_grpcurl_commands(readme_text):
    """The grpcurl command lines of the README, each as an argument list."""
    commands = []
    for line in readme_text.replace("\\\n", " ").splitlines():
        line = line.strip()
        if line.startswith("grpcurl "):
            commands.append(shlex.split(line)[1:])
    return commands


class ReadmeGrpcurlExamplesTest(lib.UserAndOrderServers, unittest.TestCase):
    """Runs every grpcurl command of the README, in order, as grpcurl would:
    through reflection only, the -d JSON parsed against the reflected types,
    on fresh servers (the README's first user is user 1). The README's ports
    (the local topology's 50051 user_svc, 50052 order_svc) are mapped to
    this test's servers."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = lib.make_temp_dir("readme_grpcurl_test.")
        cls.addClassCleanup(lib.remove_temp_dir, cls.tmp)
        m = _generate_and_import(os.path.join(cls.tmp, "gen"))
        cls.reflection_pb2, cls.reflection_grpc = m["reflection_pb2"], m["reflection_pb2_grpc"]
        cls.health_pb2, cls.health_grpc = m["health_pb2"], m["health_pb2_grpc"]
        cls.start_user_and_order_servers(cls.tmp)

    @classmethod
    def tearDownClass(cls):
        cls.stop_user_and_order_servers()

    def run_grpcurl(self, args, channels):
        flags = {}
        positional = []
        i = 0
        while i < len(args):
            if args[i] == "-plaintext":
                i += 1
            elif args[i] == "-d":
                flags["d"] = args[i + 1]
                i += 2
            elif args[i].startswith("-"):
                self.fail("the test does not know grpcurl flag %s" % args[i])
            else:
                positional.append(args[i])
                i += 1
        self.assertGreaterEqual(len(positional), 2, args)
        address, verb = positional[0], positional[1]
        self.assertIn(address, channels, "the README names an unknown server")
        channel = channels[address]
        client = ReflectionClient(channel, self.reflection_pb2, self.reflection_grpc)
        if verb == "list":
            self.assertIn(REFLECTION_SERVICE, client.list_services())
            return
        if verb == "describe":
            client.describe(positional[2])
            return
        service_name, method_name = verb.rsplit("/", 1)
        _, files = client.describe(service_name)
        pool = build_pool(files)
        method = pool.FindServiceByName(service_name).methods_by_name[method_name]
        factory = message_factory.MessageFactory(pool)
        request_class = _message_class(factory, method.input_type)
        response_class = _message_class(factory, method.output_type)
        request = json_format.Parse(flags.get("d", "{}"), request_class())
        path = "/%s/%s" % (service_name, method_name)
        if method.server_streaming:
            call = channel.unary_stream(path, request_serializer=request_class.SerializeToString,
                                        response_deserializer=response_class.FromString)
            responses = call(request, timeout=10)
            first = next(responses)  # The README's earlier commands made events.
            responses.cancel()
            self.assertIsInstance(first, response_class)
            return
        call = channel.unary_unary(path, request_serializer=request_class.SerializeToString,
                                   response_deserializer=response_class.FromString)
        self.assertIsInstance(call(request, timeout=10), response_class)

    def test_every_readme_grpcurl_command_works(self):
        with open(os.environ["STUBMESH_README"], encoding="utf-8") as f:
            commands = readme_grpcurl_commands(f.read())
        verbs = {token for command in commands for token in command}
        for expected in ("list", "describe", "stubmesh.user.v1.UserService/CreateUser",
                         "stubmesh.order.v1.OrderService/CreateOrder",
                         "grpc.health.v1.Health/Check"):
            self.assertIn(expected, verbs, "the README lost its %s example" % expected)
        channels = {"127.0.0.1:50051": self.user_channel, "127.0.0.1:50052": self.order_channel}
        for args in commands:
            with self.subTest(command="grpcurl " + " ".join(args)):
                self.run_grpcurl(args, channels)


if __name__ == "__main__":
    unittest.main(verbosity=2)
