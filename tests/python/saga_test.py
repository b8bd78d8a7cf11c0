"""Data consistency across the services, with real processes and real SQLite
files: the outbox and WatchEvents streams, the user-deletion saga, and what
happens to them under kill -9 and under racing requests.

- WatchEvents streams every committed change in order, resumes from a
  position, and pushes new events to a caught-up stream;
- DELETE /v1/users/{id} cancels the user's open orders; the user is then
  404 and new orders for it are refused (400, naming order.user_id);
- kill -9 of the order service while it applies a backlog of UserDeleted
  events in batches, then a restart that reads the rest through a small
  queue: every event applied exactly once (the order service's audit of
  applied events has one line per event, none missing, and each order was
  cancelled by exactly one OrderCancelled event), and the restarted
  consumer's metrics count exactly what it applied;
- kill -9 of the user service after a deletion committed but before any
  consumer saw it: the event is delivered after the restart;
- 1,000 concurrent CreateOrder/DeleteUser requests over the gateway, with two
  replicas of each service (each service's two sharing its database): after
  quiescence no open order belongs to a deleted user and every order's user
  has a row.

SagaTest runs on SQLite files; PostgresSagaTest runs the same tests with each
service's database on a real PostgreSQL server (postgres_server.py).

Everything runs on 127.0.0.1; run with /usr/bin/python3.
"""

import json
import os
import random
import re
import sqlite3
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import grpc  # noqa: E402  Debian's python3-grpcio.

import stubmesh_testlib as lib  # noqa: E402
from gateway_e2e_test import descriptor_set, gateway_binary, http_request  # noqa: E402
from generated_stubs_test import _generate_and_import  # noqa: E402
from postgres_server import PostgresServer  # noqa: E402

USERS = "stubmesh.user.v1.UserService"
ORDERS = "stubmesh.order.v1.OrderService"
# How long the saga may take to catch up after the last write.
CONVERGE_TIMEOUT_S = 60


def sqlite_rows(db_path, sql, args=()):
    """Reads a service's SQLite file directly, as an operator would."""
    conn = sqlite3.connect("file:%s?mode=ro" % db_path, uri=True, timeout=10)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


class SagaTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = lib.make_temp_dir("saga_test.")
        cls.addClassCleanup(lib.remove_temp_dir, cls.tmp)
        m = _generate_and_import(os.path.join(cls.tmp, "gen"))
        cls.user_pb2, cls.user_grpc = m["user_pb2"], m["user_grpc"]
        cls.order_pb2, cls.order_grpc = m["order_pb2"], m["order_grpc"]
        cls.health_pb2, cls.health_grpc = m["health_pb2"], m["health_grpc"]

    def setUp(self):
        self.dir = os.path.join(self.tmp, self.id().rsplit(".", 1)[1])
        os.makedirs(self.dir, exist_ok=True)
        self.user_db = self.new_database("users")
        self.order_db = self.new_database("orders")
        self.servers = []
        self.channels = []
        self.addCleanup(self._stop_everything)

    # The backend: SQLite files here, PostgreSQL in the subclass.
    def new_database(self, name):
        return os.path.join(self.dir, name + ".db")

    def rows(self, db, sql, args=()):
        return sqlite_rows(db, sql, args)

    def user_log_end(self):
        return self.rows(self.user_db, "SELECT COALESCE(MAX(sequence), 0) FROM outbox")[0][0]

    def order_position(self):
        rows = self.rows(self.order_db,
                         "SELECT sequence FROM consumer_positions WHERE source = ?", (USERS,))
        return rows[0][0] if rows else 0

    def _stop_everything(self):
        for channel in self.channels:
            channel.close()
        for server in reversed(self.servers):
            if server.running():
                server.kill()

    def channel(self, address):
        channel = grpc.insecure_channel(address)
        self.channels.append(channel)
        return channel

    def start(self, name, argv):
        server = lib.ServerProcess(name, argv, self.dir)
        self.servers.append(server)
        server.start()
        channel = self.channel(server.address)

        def serving():
            if not server.running():
                raise AssertionError("%s exited\n%s" % (name, server.stderr_tail()))
            return lib.check_health_serving(self.health_pb2, self.health_grpc, channel)
        lib.wait_until(serving, lib.HEALTH_TIMEOUT_S, name + " SERVING")
        return server

    def start_user_svc(self, port):
        return self.start("user_svc", [
            lib.user_svc_binary(), "--port=%d" % port, "--db=" + self.user_db, lib.NO_DRAIN])

    def start_order_svc(self, port, user_address, name="order_svc", flags=()):
        server = lib.ServerProcess(name, [
            lib.order_svc_binary(), "--port=%d" % port, "--db=" + self.order_db,
            "--user_service=" + user_address, lib.NO_DRAIN] + list(flags), self.dir)
        server.name = "order_svc"  # what the binary prints
        self.servers.append(server)
        server.start()
        channel = self.channel(server.address)
        lib.wait_until(
            lambda: lib.check_health_serving(self.health_pb2, self.health_grpc, channel),
            lib.HEALTH_TIMEOUT_S, name + " SERVING")
        return server

    def start_gateway(self, user_target, order_target):
        # Targets go through a mesh config: --backend takes no lists.
        mesh_path = os.path.join(self.dir, "mesh.json")
        with open(mesh_path, "w") as f:
            json.dump({"services": {USERS: {"target": user_target},
                                    ORDERS: {"target": order_target}}}, f)
        gateway = lib.ServerProcess("gateway", [
            gateway_binary(), "--port=0", "--descriptor_set=" + descriptor_set(),
            "--mesh_config=" + mesh_path], self.dir)
        self.servers.append(gateway)
        gateway.start()
        gateway.port = int(gateway.address.rsplit(":", 1)[1])
        lib.wait_until(lambda: http_request(gateway.port, "GET", "/readyz", timeout=2).status == 200,
                       lib.HEALTH_TIMEOUT_S, "gateway ready")
        return gateway

    def users_stub(self, server):
        return self.user_grpc.UserServiceStub(self.channel(server.address))

    def orders_stub(self, server):
        return self.order_grpc.OrderServiceStub(self.channel(server.address))

    def new_user(self, users, n):
        return users.CreateUser(self.user_pb2.CreateUserRequest(
            user=self.user_pb2.User(name="user %d" % n, email="u%d@example.com" % n),
            request_id="create-user-%d" % n), timeout=10)

    def new_order(self, orders, user_id, n):
        return orders.CreateOrder(self.order_pb2.CreateOrderRequest(
            order=self.order_pb2.Order(user_id=user_id, items=[
                self.order_pb2.LineItem(sku="SKU-%d" % n, quantity=1, unit_price_cents=100)]),
            request_id="create-order-%d" % n), timeout=10)

    def wait_converged(self):
        """Until the order service has applied every user event committed."""
        end = self.user_log_end()
        lib.wait_until(lambda: self.order_position() >= end, CONVERGE_TIMEOUT_S,
                       "order_svc to apply user events up to %d" % end)
        return end

    def test_watch_events_in_order_resume_and_follow(self):
        user_svc = self.start_user_svc(0)
        users = self.users_stub(user_svc)
        ada = self.new_user(users, 1)
        users.UpdateUser(self.user_pb2.UpdateUserRequest(
            user=self.user_pb2.User(id=ada.id, name="Ada L."),
            update_mask={"paths": ["name"]}), timeout=10)
        users.DeleteUser(self.user_pb2.DeleteUserRequest(id=ada.id), timeout=10)

        stream = users.WatchEvents(self.user_pb2.WatchEventsRequest(after_sequence=0), timeout=30)
        got = [next(stream) for _ in range(3)]
        self.assertEqual([e.sequence for e in got], [1, 2, 3])
        self.assertEqual([e.WhichOneof("kind") for e in got],
                         ["user_created", "user_updated", "user_deleted"])
        self.assertEqual(got[0].user_created.user.email, "u1@example.com")
        self.assertEqual(got[1].user_updated.user.name, "Ada L.")
        self.assertEqual(got[2].user_deleted.user_id, ada.id)
        self.assertGreater(got[0].event_time.seconds, 0)
        # Caught up, the stream stays open and gets the next commit.
        bob = self.new_user(users, 2)
        follow = next(stream)
        self.assertEqual(follow.sequence, 4)
        self.assertEqual(follow.user_created.user.id, bob.id)
        stream.cancel()

        # Resuming after a position skips what the caller has.
        resumed = users.WatchEvents(self.user_pb2.WatchEventsRequest(after_sequence=2), timeout=30)
        self.assertEqual(next(resumed).sequence, 3)
        resumed.cancel()

        with self.assertRaises(grpc.RpcError) as bad:
            next(users.WatchEvents(self.user_pb2.WatchEventsRequest(after_sequence=-1),
                                   timeout=10))
        self.assertEqual(bad.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("after_sequence", bad.exception.details())

        # A stopping server ends its streams (UNAVAILABLE) instead of
        # holding the stop for its shutdown timeout.
        # Its first event shows the stream reached the server (stopped any
        # sooner, the call may end CANCELLED instead: it was never served).
        open_stream = users.WatchEvents(self.user_pb2.WatchEventsRequest(after_sequence=3),
                                        timeout=60)
        self.assertEqual(next(open_stream).sequence, 4)
        self.assertEqual(user_svc.stop(), 0)
        with self.assertRaises(grpc.RpcError) as ended:
            next(open_stream)
        self.assertEqual(ended.exception.code(), grpc.StatusCode.UNAVAILABLE)

    def test_deleting_a_user_cancels_open_orders_over_rest(self):
        user_svc = self.start_user_svc(0)
        order_svc = self.start_order_svc(0, user_svc.address)
        gateway = self.start_gateway(user_svc.address, order_svc.address)

        def call(method, path, body=None):
            resp = http_request(gateway.port, method, path,
                                None if body is None else json.dumps(body),
                                {"Content-Type": "application/json"})
            return resp.status, (json.loads(resp.body) if resp.body else None)

        status, ada = call("POST", "/v1/users", {"name": "Ada", "email": "ada@example.com"})
        self.assertEqual(status, 200, ada)
        status, bob = call("POST", "/v1/users", {"name": "Bob", "email": "bob@example.com"})
        self.assertEqual(status, 200, bob)
        order_ids = []
        for owner in (ada, ada, bob):
            status, order = call("POST", "/v1/orders", {
                "userId": owner["id"], "items": [{"sku": "B", "quantity": 1, "unitPriceCents": 5}]})
            self.assertEqual(status, 200, order)
            order_ids.append(order["id"])

        status, _ = call("DELETE", "/v1/users/%s" % ada["id"])
        self.assertEqual(status, 200)

        def statuses(user):
            status, page = call("GET", "/v1/users/%s/orders" % user["id"])
            self.assertEqual(status, 200, page)
            return [o["status"] for o in page.get("orders", [])]
        lib.wait_until(lambda: statuses(ada) == ["ORDER_STATUS_CANCELLED"] * 2,
                       CONVERGE_TIMEOUT_S, "Ada's orders cancelled")
        self.assertEqual(statuses(bob), ["ORDER_STATUS_OPEN"])
        status, error = call("GET", "/v1/users/%s" % ada["id"])
        self.assertEqual(status, 404, error)
        status, error = call("POST", "/v1/orders", {
            "userId": ada["id"], "items": [{"sku": "B", "quantity": 1, "unitPriceCents": 5}]})
        self.assertEqual(status, 400, error)
        self.assertIn("order.user_id", error["message"])

        # The order log tells the same story, to any consumer.
        orders = self.orders_stub(order_svc)
        stream = orders.WatchEvents(self.order_pb2.WatchEventsRequest(after_sequence=0), timeout=30)
        events = [next(stream) for _ in range(5)]
        stream.cancel()
        self.assertEqual([e.WhichOneof("kind") for e in events], ["order_created"] * 3 +
                         ["order_cancelled"] * 2)
        self.assertEqual(sorted(e.order_cancelled.order_id for e in events[3:]),
                         sorted(int(i) for i in order_ids[:2]))
        self.assertEqual({e.order_cancelled.reason for e in events[3:]},
                         {"user %s was deleted" % ada["id"]})

        # The consumer's progress is on the order service's /metrics.
        end = self.wait_converged()
        admin = order_svc.admin_address.rsplit(":", 1)
        metrics = http_request(int(admin[1]), "GET", "/metrics").body.decode()
        source = 'source="%s"' % USERS
        self.assertIn("stubmesh_event_consumer_position{%s} %d" % (source, end), metrics)
        self.assertIn("stubmesh_event_consumer_applied_total{%s} %d" % (source, end), metrics)

    def test_kill9_of_the_order_service_mid_stream_applies_each_event_once(self):
        user_svc = self.start_user_svc(0)
        order_port = lib.free_port()
        order_svc = self.start_order_svc(order_port, user_svc.address)
        users, orders = self.users_stub(user_svc), self.orders_stub(order_svc)
        count = 400
        user_ids = []
        for n in range(count):
            user = self.new_user(users, n)
            self.new_order(orders, user.id, n)
            user_ids.append(user.id)
        self.wait_converged()
        first = self.order_position()
        # A backlog: the order service is down while the users are deleted.
        self.assertEqual(order_svc.stop(), 0)
        for user_id in user_ids:
            users.DeleteUser(self.user_pb2.DeleteUserRequest(id=user_id), timeout=10)
        end = self.user_log_end()
        self.assertEqual(end, first + count)

        # Start it, let it apply part of the backlog, and kill -9 it (small
        # batches: the backlog takes ~50 commits, so the kill comes mid-way,
        # maybe inside a batch, which then rolls back as a whole).
        order_svc = self.start_order_svc(order_port, user_svc.address, name="order_svc-2",
                                         flags=["--user_events_max_batch=8"])
        lib.wait_until(lambda: self.order_position() > first, CONVERGE_TIMEOUT_S,
                       "order_svc to start applying", interval_s=0.002)
        order_svc.kill()
        at_kill = self.order_position()
        self.assertLess(at_kill, end, "the backlog was applied before the kill; make it longer")

        # The rest through a small queue: the reader waits for room, the
        # applier takes batches of at most 5.
        order_svc = self.start_order_svc(
            order_port, user_svc.address, name="order_svc-3",
            flags=["--user_events_max_buffered=16", "--user_events_max_batch=5"])
        self.wait_converged()
        # Its metrics count what it applied (they move just after the commit).
        admin_port = int(order_svc.admin_address.rsplit(":", 1)[1])
        source = 'source="%s"' % USERS
        expected = ["stubmesh_event_consumer_position{%s} %d\n" % (source, end),
                    "stubmesh_event_consumer_applied_total{%s} %d\n" % (source, end - at_kill)]

        scraped = {}

        def metrics_show_it_all():
            metrics = scraped["text"] = http_request(admin_port, "GET", "/metrics").body.decode()
            missing = [line for line in expected if line not in metrics]
            if missing:
                raise AssertionError("missing %s in\n%s" % (missing, metrics))
            return True
        lib.wait_until(metrics_show_it_all, 10, "order_svc-3's consumer metrics")
        metrics = scraped["text"]
        batches = re.search(r"^stubmesh_event_consumer_batches_total\{%s\} (\d+)$" % source,
                            metrics, re.M)
        self.assertIsNotNone(batches, metrics)
        # No batch was larger than 5.
        self.assertGreaterEqual(int(batches.group(1)), (end - at_kill + 4) // 5)

        applied = self.rows(self.order_db, "SELECT sequence FROM applied_events "
                        "WHERE source = ? AND kind = 'user_deleted'", (USERS,))
        sequences = sorted(row[0] for row in applied)
        self.assertEqual(sequences, list(range(first + 1, end + 1)))  # no duplicate, none missing
        cancelled = self.rows(self.order_db, "SELECT event_json FROM outbox "
                          "WHERE event_json LIKE '%order_cancelled%'")
        order_ids = [json.loads(row[0])["order_cancelled"]["order_id"] for row in cancelled]
        self.assertEqual(len(order_ids), count)
        self.assertEqual(len(set(order_ids)), count)
        self.assertEqual(self.rows(self.order_db, "SELECT COUNT(*) FROM orders WHERE status = 1")[0][0],
                         0)

    def test_kill9_of_the_user_service_after_commit_still_delivers(self):
        user_port = lib.free_port()
        user_svc = self.start_user_svc(user_port)
        order_port = lib.free_port()
        order_svc = self.start_order_svc(order_port, user_svc.address)
        users, orders = self.users_stub(user_svc), self.orders_stub(order_svc)
        ada = self.new_user(users, 1)
        order = self.new_order(orders, ada.id, 1)
        self.wait_converged()
        # No consumer is listening: the deletion commits, and the user
        # service dies before anyone was told.
        self.assertEqual(order_svc.stop(), 0)
        users.DeleteUser(self.user_pb2.DeleteUserRequest(id=ada.id), timeout=10)
        user_svc.kill()
        self.assertEqual(
            self.rows(self.user_db, "SELECT COUNT(*) FROM outbox WHERE event_json LIKE ?",
                  ('%%"user_deleted":{"user_id":"%d"}%%' % ada.id,))[0][0], 1)

        user_svc = self.start_user_svc(user_port)
        order_svc = self.start_order_svc(order_port, user_svc.address, name="order_svc-2")
        orders = self.orders_stub(order_svc)
        lib.wait_until(
            lambda: orders.GetOrder(self.order_pb2.GetOrderRequest(id=order.id), timeout=5).status
            == self.order_pb2.ORDER_STATUS_CANCELLED,
            CONVERGE_TIMEOUT_S, "the order cancelled after the restart")

    def test_racing_orders_and_deletions_converge_over_the_gateway(self):
        # Two replicas of each service, each pair on one database; both
        # order replicas consume the user events.
        user_replicas = [self.start_user_svc(0) for _ in range(2)]
        user_target = "ipv4:" + ",".join(r.address for r in user_replicas)
        replicas = [self.start_order_svc(0, user_target, name="order_svc-%d" % i)
                    for i in range(2)]
        gateway = self.start_gateway(
            user_target, "ipv4:" + ",".join(r.address for r in replicas))
        users = self.users_stub(user_replicas[0])
        user_ids = [self.new_user(users, n).id for n in range(100)]

        requests = [("DELETE", "/v1/users/%d" % u, None) for u in user_ids]
        rng = random.Random(7)
        for n in range(900):
            body = {"userId": str(rng.choice(user_ids)),
                    "items": [{"sku": "S", "quantity": 1, "unitPriceCents": 1}]}
            requests.append(("POST", "/v1/orders?requestId=race-%d" % n, json.dumps(body)))
        rng.shuffle(requests)
        answers = {}
        refusals = []
        lock = threading.Lock()

        def worker(chunk):
            for method, path, body in chunk:
                resp = http_request(gateway.port, method, path, body,
                                    {"Content-Type": "application/json"})
                with lock:
                    answers[resp.status] = answers.get(resp.status, 0) + 1
                    if resp.status != 200:
                        refusals.append(json.loads(resp.body)["message"])
        threads = [threading.Thread(target=worker, args=(requests[i::32],)) for i in range(32)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(sum(answers.values()), 1000)
        # Every answer is a success or the documented refusal of an order
        # for a deleted user; nothing else.
        self.assertEqual(set(answers) - {200, 400}, set(), answers)
        for message in refusals:
            self.assertRegex(message, r"^order\.user_id: user \d+ (does not exist|was deleted)$")
        # The race was run: orders were placed before their users went.
        self.assertGreater(answers.get(200, 0), len(user_ids), answers)

        self.wait_converged()
        deleted = {row[0] for row in self.rows(
            self.user_db, "SELECT id FROM users WHERE delete_time_us IS NOT NULL")}
        self.assertEqual(deleted, set(user_ids))
        all_users = {row[0] for row in self.rows(self.user_db, "SELECT id FROM users")}
        orders = self.rows(self.order_db, "SELECT id, user_id, status FROM orders")
        self.assertEqual(len(orders), answers.get(200, 0) - len(user_ids))
        self.assertEqual([o for o in orders if o[2] == 1 and o[1] in deleted], [])
        self.assertEqual([o for o in orders if o[1] not in all_users], [])
        applied = self.rows(self.order_db, "SELECT sequence FROM applied_events WHERE source = ?",
                        (USERS,))
        self.assertEqual(len(applied), len({row[0] for row in applied}))
        print("race: answers %s, orders %d (all cancelled now: %d)" % (
            answers, len(orders), sum(1 for o in orders if o[2] == 2)), file=sys.stderr)


class PostgresSagaTest(SagaTest):
    """The same tests with each service's database on a real PostgreSQL."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.pg = PostgresServer()
        cls.pg.start()
        cls.addClassCleanup(cls.pg.close)
        cls.databases = 0

    def new_database(self, name):
        type(self).databases += 1
        self.__dict__.setdefault("names", {})
        db = "%s_%d" % (name, self.databases)
        url = self.pg.create_database(db)
        self.names[url] = db
        return url

    def rows(self, db, sql, args=()):
        for arg in args:
            literal = str(arg) if isinstance(arg, int) else "'%s'" % str(arg).replace("'", "''")
            sql = sql.replace("?", literal, 1)
        out = self.pg.query(self.names[db], sql)
        return [tuple(int(v) if re.fullmatch(r"-?\d+", v) else v for v in line.split("|"))
                for line in out.splitlines() if line]


if __name__ == "__main__":
    unittest.main()
