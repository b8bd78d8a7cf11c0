"""A Python client built the way another language's app would build one.

Generates Python stubs from protos/ with grpc_tools.protoc into a temp dir,
imports them, starts user_svc and order_svc on port 0 with temp SQLite
files, and drives every RPC of both contracts through the generated stubs.

Run by Bazel as //tests/python:python_client_test, or by hand from the repo
root after building the servers:

    /usr/bin/python3 -m unittest -v tests/python/generated_stubs_test.py

See stubmesh_testlib.py for the environment variables that override paths.
"""

import importlib
import os
import re
import sys
import unittest
import urllib.request
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import grpc  # noqa: E402  Debian's python3-grpcio.
from google.protobuf import field_mask_pb2  # noqa: E402

import stubmesh_testlib as lib  # noqa: E402

STUBMESH_PROTOS = [
    "stubmesh/user/v1/user_service.proto",
    "stubmesh/order/v1/order_service.proto",
    "google/api/http.proto",
    "google/api/annotations.proto",
    "google/rpc/status.proto",
    "google/rpc/error_details.proto",
]


def _generate_and_import(gen_dir):
    """Runs protoc for our contracts and gRPC health; returns the modules."""
    lib.run_protoc(gen_dir, [lib.protos_dir()], STUBMESH_PROTOS)
    # health.proto is compiled from its own folder so that its modules are the
    # top-level health_pb2/health_pb2_grpc: grpc.health.v1.* would collide
    # with the installed grpc package.
    health_dir = os.path.join(lib.grpc_protos_dir(), "grpc", "health", "v1")
    lib.run_protoc(gen_dir, [health_dir], [os.path.join(health_dir, "health.proto")])
    lib.add_to_sys_path(gen_dir)
    names = {
        "user_pb2": "stubmesh.user.v1.user_service_pb2",
        "user_grpc": "stubmesh.user.v1.user_service_pb2_grpc",
        "order_pb2": "stubmesh.order.v1.order_service_pb2",
        "order_grpc": "stubmesh.order.v1.order_service_pb2_grpc",
        "annotations_pb2": "google.api.annotations_pb2",
        "status_pb2": "google.rpc.status_pb2",
        "error_details_pb2": "google.rpc.error_details_pb2",
        "health_pb2": "health_pb2",
        "health_grpc": "health_pb2_grpc",
    }
    importlib.invalidate_caches()
    return {key: importlib.import_module(module) for key, module in names.items()}


class GeneratedStubsTest(lib.UserAndOrderServers, unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = lib.make_temp_dir("generated_stubs_test.")
        cls.addClassCleanup(lib.remove_temp_dir, cls.tmp)
        m = _generate_and_import(os.path.join(cls.tmp, "gen"))
        cls.user_pb2, cls.user_grpc = m["user_pb2"], m["user_grpc"]
        cls.order_pb2, cls.order_grpc = m["order_pb2"], m["order_grpc"]
        cls.health_pb2, cls.health_grpc = m["health_pb2"], m["health_grpc"]
        cls.status_pb2, cls.error_details_pb2 = m["status_pb2"], m["error_details_pb2"]

        cls.start_user_and_order_servers(cls.tmp)

        cls.users = cls.user_grpc.UserServiceStub(cls.user_channel)
        cls.orders = cls.order_grpc.OrderServiceStub(cls.order_channel)




    @classmethod
    def tearDownClass(cls):
        cls.stop_user_and_order_servers()

    # ---- helpers -------------------------------------------------------

    def new_user(self, name="Ada Lovelace", email=None, request_id=None):
        email = email or "user-%s@example.com" % uuid.uuid4().hex[:12]
        request = self.user_pb2.CreateUserRequest(
            user=self.user_pb2.User(name=name, email=email),
            request_id=request_id or str(uuid.uuid4()))
        return self.users.CreateUser(request, timeout=10)

    def assertRpcError(self, code, call, *args, **kwargs):
        with self.assertRaises(grpc.RpcError) as ctx:
            call(*args, timeout=10, **kwargs)
        self.assertEqual(ctx.exception.code(), code,
                         "want %s, got %s: %s" % (code, ctx.exception.code(), ctx.exception.details()))
        return ctx.exception

    def list_all_users(self, page_size=0):
        users, token, pages = [], "", 0
        while True:
            response = self.users.ListUsers(
                self.user_pb2.ListUsersRequest(page_size=page_size, page_token=token), timeout=10)
            users.extend(response.users)
            pages += 1
            token = response.next_page_token
            if not token:
                return users, pages
            self.assertLess(pages, 1000, "ListUsers never ends")

    # ---- the flow of the original app ----------------------------------

    def test_user_and_order_lifecycle(self):
        user_pb2, order_pb2 = self.user_pb2, self.order_pb2

        # CreateUser with a request_id; a retry with the same id returns the
        # first user whatever else it says, and creates nothing.
        email = "ada-%s@example.com" % uuid.uuid4().hex[:8]
        request_id = str(uuid.uuid4())
        ada = self.new_user(name="Ada Lovelace", email=email, request_id=request_id)
        self.assertGreater(ada.id, 0)
        self.assertEqual(ada.name, "Ada Lovelace")
        self.assertEqual(ada.email, email)
        self.assertGreater(ada.create_time.seconds, 0)
        self.assertEqual(ada.update_time, ada.create_time)

        retry = self.users.CreateUser(user_pb2.CreateUserRequest(
            user=user_pb2.User(name="Someone Else", email="other-" + email),
            request_id=request_id), timeout=10)
        self.assertEqual(retry, ada)

        # GetUser.
        got = self.users.GetUser(user_pb2.GetUserRequest(id=ada.id), timeout=10)
        self.assertEqual(got, ada)

        # ListUsers, one page at a time and all at once, in id order.
        grace = self.new_user(name="Grace Hopper")
        self.assertGreater(grace.id, ada.id)
        page = self.users.ListUsers(user_pb2.ListUsersRequest(page_size=1), timeout=10)
        self.assertEqual(len(page.users), 1)
        self.assertNotEqual(page.next_page_token, "")
        all_users, pages = self.list_all_users(page_size=1)
        self.assertGreaterEqual(pages, 2)
        ids = [u.id for u in all_users]
        self.assertEqual(ids, sorted(ids))
        self.assertEqual(len(ids), len(set(ids)))
        self.assertIn(ada.id, ids)
        self.assertIn(grace.id, ids)
        self.assertNotIn("other-" + email, [u.email for u in all_users])
        default_page, _ = self.list_all_users()
        self.assertEqual([u.id for u in default_page], ids)

        # UpdateUser with a FieldMask: only `name` changes.
        updated = self.users.UpdateUser(user_pb2.UpdateUserRequest(
            user=user_pb2.User(id=ada.id, name="Augusta Ada King", email="ignored@example.com"),
            update_mask=field_mask_pb2.FieldMask(paths=["name"])), timeout=10)
        self.assertEqual(updated.id, ada.id)
        self.assertEqual(updated.name, "Augusta Ada King")
        self.assertEqual(updated.email, email)
        self.assertEqual(updated.create_time, ada.create_time)
        self.assertGreaterEqual(updated.update_time.ToNanoseconds(), ada.create_time.ToNanoseconds())
        self.assertEqual(self.users.GetUser(user_pb2.GetUserRequest(id=ada.id), timeout=10), updated)

        # CreateOrder / GetOrder / ListOrders.
        order_request_id = str(uuid.uuid4())
        order = self.orders.CreateOrder(order_pb2.CreateOrderRequest(
            order=order_pb2.Order(user_id=ada.id, items=[
                order_pb2.LineItem(sku="BOOK-1", quantity=2, unit_price_cents=150),
                order_pb2.LineItem(sku="pen.blue_2", quantity=1, unit_price_cents=99),
            ]),
            request_id=order_request_id), timeout=10)
        self.assertGreater(order.id, 0)
        self.assertEqual(order.user_id, ada.id)
        self.assertEqual(order.total, 2 * 150 + 99)
        self.assertEqual(order.status, order_pb2.ORDER_STATUS_OPEN)
        self.assertEqual([(i.sku, i.quantity, i.unit_price_cents) for i in order.items],
                         [("BOOK-1", 2, 150), ("pen.blue_2", 1, 99)])
        self.assertGreater(order.create_time.seconds, 0)

        order_retry = self.orders.CreateOrder(order_pb2.CreateOrderRequest(
            order=order_pb2.Order(user_id=ada.id, items=[
                order_pb2.LineItem(sku="OTHER", quantity=9, unit_price_cents=1)]),
            request_id=order_request_id), timeout=10)
        self.assertEqual(order_retry, order)

        self.assertEqual(self.orders.GetOrder(order_pb2.GetOrderRequest(id=order.id), timeout=10),
                         order)

        second = self.orders.CreateOrder(order_pb2.CreateOrderRequest(
            order=order_pb2.Order(user_id=ada.id, items=[
                order_pb2.LineItem(sku="CUP", quantity=3, unit_price_cents=500)])), timeout=10)
        self.assertGreater(second.id, order.id)
        self.assertEqual(second.total, 1500)
        grace_order = self.orders.CreateOrder(order_pb2.CreateOrderRequest(
            order=order_pb2.Order(user_id=grace.id, items=[
                order_pb2.LineItem(sku="CUP", quantity=1, unit_price_cents=500)])), timeout=10)

        ada_orders = self.orders.ListOrders(order_pb2.ListOrdersRequest(user_id=ada.id), timeout=10)
        self.assertEqual([o.id for o in ada_orders.orders], [order.id, second.id])
        self.assertEqual(ada_orders.orders[0], order)
        self.assertEqual(ada_orders.next_page_token, "")

        first_page = self.orders.ListOrders(
            order_pb2.ListOrdersRequest(user_id=ada.id, page_size=1), timeout=10)
        self.assertEqual([o.id for o in first_page.orders], [order.id])
        self.assertNotEqual(first_page.next_page_token, "")
        next_page = self.orders.ListOrders(order_pb2.ListOrdersRequest(
            user_id=ada.id, page_size=1, page_token=first_page.next_page_token), timeout=10)
        self.assertEqual([o.id for o in next_page.orders], [second.id])

        every = self.orders.ListOrders(order_pb2.ListOrdersRequest(user_id=0), timeout=10)
        every_ids = [o.id for o in every.orders]
        for o in (order, second, grace_order):
            self.assertIn(o.id, every_ids)
        self.assertEqual(every_ids, sorted(every_ids))

        # DeleteUser: soft; the user is NOT_FOUND everywhere, its email is
        # free again, its orders stay but are cancelled (the saga), and it
        # can no longer order.
        empty = self.users.DeleteUser(user_pb2.DeleteUserRequest(id=ada.id), timeout=10)
        self.assertEqual(empty.ByteSize(), 0)
        self.assertRpcError(grpc.StatusCode.NOT_FOUND,
                            self.users.GetUser, user_pb2.GetUserRequest(id=ada.id))
        self.assertRpcError(grpc.StatusCode.NOT_FOUND,
                            self.users.DeleteUser, user_pb2.DeleteUserRequest(id=ada.id))
        remaining, _ = self.list_all_users()
        self.assertNotIn(ada.id, [u.id for u in remaining])
        self.assertIn(grace.id, [u.id for u in remaining])
        cancelled = order_pb2.Order()
        cancelled.CopyFrom(order)
        cancelled.status = order_pb2.ORDER_STATUS_CANCELLED
        lib.wait_until(lambda: self.orders.GetOrder(
            order_pb2.GetOrderRequest(id=order.id), timeout=10) == cancelled,
            30, "the deleted user's order cancelled")
        e = self.assertRpcError(grpc.StatusCode.FAILED_PRECONDITION, self.orders.CreateOrder,
                                order_pb2.CreateOrderRequest(order=order_pb2.Order(
                                    user_id=ada.id, items=[order_pb2.LineItem(
                                        sku="CUP", quantity=1, unit_price_cents=1)])))
        self.assertIn("order.user_id", e.details())
        again = self.new_user(name="Ada Again", email=email)
        self.assertNotEqual(again.id, ada.id)
        self.assertEqual(again.email, email)

    # ---- errors ---------------------------------------------------------

    def test_create_order_for_unknown_user_is_failed_precondition(self):
        e = self.assertRpcError(
            grpc.StatusCode.FAILED_PRECONDITION, self.orders.CreateOrder,
            self.order_pb2.CreateOrderRequest(order=self.order_pb2.Order(
                user_id=987654321, items=[self.order_pb2.LineItem(
                    sku="CUP", quantity=1, unit_price_cents=500)])))
        self.assertIn("order.user_id", e.details())
        # Nothing was written.
        listed = self.orders.ListOrders(
            self.order_pb2.ListOrdersRequest(user_id=987654321), timeout=10)
        self.assertEqual(len(listed.orders), 0)

    def test_get_unknown_user_is_not_found(self):
        self.assertRpcError(grpc.StatusCode.NOT_FOUND, self.users.GetUser,
                            self.user_pb2.GetUserRequest(id=987654321))

    def test_get_unknown_order_is_not_found(self):
        self.assertRpcError(grpc.StatusCode.NOT_FOUND, self.orders.GetOrder,
                            self.order_pb2.GetOrderRequest(id=987654321))

    def test_bad_email_is_invalid_argument_naming_the_field(self):
        e = self.assertRpcError(
            grpc.StatusCode.INVALID_ARGUMENT, self.users.CreateUser,
            self.user_pb2.CreateUserRequest(
                user=self.user_pb2.User(name="No Email", email="not-an-email"),
                request_id=str(uuid.uuid4())))
        self.assertIn("user.email", e.details())
        # The field is also in a google.rpc.BadRequest among the status's
        # details, as any gRPC client can read them (grpc-status-details-bin).
        details = dict(e.trailing_metadata()).get("grpc-status-details-bin")
        self.assertIsNotNone(details, e.trailing_metadata())
        status = self.status_pb2.Status.FromString(details)
        self.assertEqual(status.code, grpc.StatusCode.INVALID_ARGUMENT.value[0])
        self.assertEqual(len(status.details), 1)
        bad_request = self.error_details_pb2.BadRequest()
        self.assertTrue(status.details[0].Unpack(bad_request), status.details[0].type_url)
        self.assertEqual([(v.field, "user.email: " + v.description)
                          for v in bad_request.field_violations],
                         [("user.email", e.details())])

    def test_duplicate_email_is_already_exists(self):
        user = self.new_user(name="First")
        self.assertRpcError(
            grpc.StatusCode.ALREADY_EXISTS, self.users.CreateUser,
            self.user_pb2.CreateUserRequest(
                user=self.user_pb2.User(name="Second", email=user.email.upper()),
                request_id=str(uuid.uuid4())))

    def test_malformed_request_bytes_are_invalid_argument(self):
        # What a buggy client in any language could send: a CreateUserRequest
        # whose user.name is not UTF-8, and bytes that are no message at all.
        not_utf8 = b"\x12\x03\xff\xfe\xfd"  # field 2 (a string) of 3 bytes
        for channel, path, bad_string in (
                (self.user_channel, "/stubmesh.user.v1.UserService/CreateUser",
                 b"\x0a\x05" + not_utf8),  # in field 1, the user
                (self.order_channel, "/stubmesh.order.v1.OrderService/CreateOrder",
                 not_utf8)):  # request_id
            raw_call = channel.unary_unary(path)  # bytes in, bytes out
            for raw in (bad_string, b"\xff\xff\xff"):
                with self.subTest(path=path, raw=raw):
                    with self.assertRaises(grpc.RpcError) as ctx:
                        raw_call(raw, timeout=10)
                    self.assertEqual(ctx.exception.code(), grpc.StatusCode.INVALID_ARGUMENT,
                                     ctx.exception.details())
                    self.assertIn("does not parse", ctx.exception.details())
        # An unknown method stays UNIMPLEMENTED, and the servers still serve.
        with self.assertRaises(grpc.RpcError) as ctx:
            self.user_channel.unary_unary("/stubmesh.user.v1.UserService/NoSuchMethod")(
                b"", timeout=10)
        self.assertEqual(ctx.exception.code(), grpc.StatusCode.UNIMPLEMENTED)
        self.assertIsNotNone(self.new_user(name="After Garbage"))

    def test_a_cancelled_create_order_cancels_its_get_user(self):
        # A user_svc that holds every GetUser for 1.5 s (less than the 2 s
        # order_svc gives its GetUser calls at most), and an order_svc on it.
        tmp = lib.make_temp_dir("cancel_chain.")
        self.addCleanup(lib.remove_temp_dir, tmp)
        users = lib.ServerProcess("user_svc", [
            lib.user_svc_binary(), "--port=0", "--admin_port=0", lib.NO_DRAIN,
            "--db=" + os.path.join(tmp, "users.db"),
            '--inject_faults=[{"method":"GetUser","delayPercent":100,"delay":"1.5s"}]'], tmp)
        self.addCleanup(users.stop)
        user_addr = users.start()
        orders = lib.ServerProcess("order_svc", [
            lib.order_svc_binary(), "--port=0", "--admin_port=0", lib.NO_DRAIN,
            "--db=" + os.path.join(tmp, "orders.db"), "--user_service=" + user_addr], tmp)
        self.addCleanup(orders.stop)
        channel = grpc.insecure_channel(orders.start())
        self.addCleanup(channel.close)
        stub = self.order_grpc.OrderServiceStub(channel)
        order = self.order_pb2.Order(user_id=1)
        order.items.add(sku="MUG", quantity=1, unit_price_cents=450)
        call = stub.CreateOrder.future(
            self.order_pb2.CreateOrderRequest(order=order, request_id=str(uuid.uuid4())),
            timeout=30)

        def get_user_started():
            with urllib.request.urlopen("http://%s/metrics" % users.admin_address,
                                        timeout=5) as response:
                text = response.read().decode("utf-8")
            return re.search(r'grpc_server_started_total\{grpc_method="GetUser",'
                             r'[^}]*\} [1-9]', text) is not None
        lib.wait_until(get_user_started, 10, "order_svc's GetUser reaching user_svc")
        self.assertTrue(call.cancel())
        # No deadline passes before the held GetUser goes on: only a passed-on
        # cancellation makes user_svc log it CANCELLED (else NOT_FOUND: there
        # is no user 1).
        # The caller's 30 s deadline is far away and the held GetUser would
        # answer NOT_FOUND (there is no user 1) after 1.5 s: only a passed-on
        # cancellation ends order_svc's GetUser call as CANCELLED, at once.
        def order_svc_get_user_calls():
            with urllib.request.urlopen("http://%s/metrics" % orders.admin_address,
                                        timeout=5) as response:
                text = response.read().decode("utf-8")
            return dict(re.findall(r'grpc_client_handled_total\{grpc_code="([A-Z_]+)",'
                                   r'grpc_method="GetUser",[^}]*\} ([0-9]+)', text))
        lib.wait_until(lambda: order_svc_get_user_calls().get("CANCELLED") == "1", 1,
                       "order_svc's GetUser call cancelled with the CreateOrder")
        self.assertEqual(order_svc_get_user_calls(), {"CANCELLED": "1"})

    def test_health_reports_serving(self):
        for channel in (self.user_channel, self.order_channel):
            self.assertTrue(lib.check_health_serving(self.health_pb2, self.health_grpc, channel))


if __name__ == "__main__":
    unittest.main(verbosity=2)
