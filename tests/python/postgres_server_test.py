"""The Python PostgreSQL test server (postgres_server.py) against the real
Debian server: it serves over TCP and the unix socket, not as root, keeps
data across a restart, and leaves nothing behind."""

import os
import subprocess
import unittest

from postgres_server import PostgresServer


class PostgresServerTest(unittest.TestCase):

    def test_serves_tcp_and_socket_restarts_and_cleans_up(self):
        with PostgresServer() as pg:
            url = pg.create_database("orders")
            self.assertEqual(url, pg.tcp_url("orders"))
            over_tcp = subprocess.run(
                [os.path.join(pg.bindir, "psql"), "-XAtq", "-d", url, "-c",
                 "SELECT current_database()"],
                capture_output=True, text=True, timeout=60)
            self.assertEqual(over_tcp.returncode, 0, over_tcp.stderr)
            self.assertEqual(over_tcp.stdout.strip(), "orders")
            self.assertEqual(pg.query("orders", "SELECT current_user"), "stubmesh")
            with self.assertRaisesRegex(ValueError, "want"):
                pg.create_database("x; DROP DATABASE postgres")
            # PostgreSQL refuses root; as root the server runs as someone else.
            owner = os.stat("/proc/%d" % pg.pid).st_uid
            self.assertNotEqual(owner, 0)
            if os.geteuid() != 0:
                self.assertEqual(owner, os.geteuid())

            pg.query("orders", "CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (42)")
            pg.stop()
            pg.restart()
            self.assertEqual(pg.query("orders", "SELECT x FROM t"), "42")
            directory = pg.dir
        self.assertFalse(os.path.exists(directory), directory)


if __name__ == "__main__":
    unittest.main()
