"""A real, private PostgreSQL server for Python tests (Debian's postgresql).

The Python counterpart of storage/postgres_test_server.h, with the same
choices:

  - binaries from $STUBMESH_POSTGRES_BINDIR or the newest
    /usr/lib/postgresql/<major>/bin;
  - a fresh dir /tmp/stubmesh-pg-XXXXXX ($STUBMESH_POSTGRES_TMPDIR instead
    of /tmp), not $TEST_TMPDIR: unix socket paths are limited to 107 bytes,
    and as root Bazel's dirs under /root are unreachable for the server's
    user;
  - PostgreSQL refuses to run as root, so as root initdb and postgres run as
    $STUBMESH_POSTGRES_USER, else "postgres" (created by Debian's
    postgresql-common), else "nobody", with the dir chowned to that user;
  - a trust-authenticated superuser "stubmesh", a unix socket in the dir
    and 127.0.0.1 on a free port; fsync off (tests check behaviour, not
    durability);
  - the server gets SIGQUIT if the test process dies (PR_SET_PDEATHSIG);
  - start() waits with a bounded retry on pg_isready and fails with the
    server log's tail if postgres exits first.

Example:

    with PostgresServer() as pg:
        url = pg.create_database("users")
        # start user_svc with --db=<url> ...
        print(pg.query("users", "SELECT count(*) FROM users"))
"""

import ctypes
import glob
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

SUPERUSER = "stubmesh"
STARTUP_TIMEOUT_S = 30.0
SHUTDOWN_TIMEOUT_S = 30.0
_PR_SET_PDEATHSIG = 1


def _bindir():
    configured = os.environ.get("STUBMESH_POSTGRES_BINDIR")
    if configured:
        return configured
    found = []
    for server in glob.glob("/usr/lib/postgresql/*/bin/postgres"):
        major = os.path.basename(os.path.dirname(os.path.dirname(server)))
        if major.isdigit():
            found.append((int(major), os.path.dirname(server)))
    if not found:
        raise RuntimeError(
            "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin "
            "(tools/install-deps.sh installs Debian's postgresql; or set "
            "STUBMESH_POSTGRES_BINDIR)")
    return max(found)[1]


def _run_as():
    """The passwd entry to run the server as, or None to run as ourselves."""
    if os.geteuid() != 0:
        return None
    configured = os.environ.get("STUBMESH_POSTGRES_USER")
    for name in [configured] if configured else ["postgres", "nobody"]:
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        if entry.pw_uid != 0:
            return entry
    raise RuntimeError("running as root, and no unprivileged user (postgres, nobody, "
                       "or $STUBMESH_POSTGRES_USER) to run PostgreSQL as")


def _free_loopback_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent():
    # Runs in the child after the uid change (which would clear it).
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGQUIT)


class PostgresServer:
    """See the module docstring. Not thread-safe."""

    def __init__(self):
        self.bindir = _bindir()
        self._user = _run_as()
        self.dir = None
        self.port = None
        self._process = None

    # -- lifecycle ---------------------------------------------------------

    def start(self):
        base = os.environ.get("STUBMESH_POSTGRES_TMPDIR") or "/tmp"
        self.dir = tempfile.mkdtemp(prefix="stubmesh-pg-", dir=base)
        if self._user is not None:
            os.chown(self.dir, self._user.pw_uid, self._user.pw_gid)
        self._data = os.path.join(self.dir, "data")
        self._log = os.path.join(self.dir, "server.log")
        initdb = self._spawn([
            os.path.join(self.bindir, "initdb"), "-D", self._data, "-U", SUPERUSER,
            "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions"])
        if initdb.wait() != 0:
            raise RuntimeError("initdb failed:\n" + self.log_tail())
        for _ in range(5):
            self.port = _free_loopback_port()
            try:
                self._launch()
                return self
            except RuntimeError:
                # Another process may take the port between probe and bind.
                if "could not bind" not in self.log_tail():
                    raise
        raise RuntimeError("postgres found no free port:\n" + self.log_tail())

    def restart(self):
        if self._process is not None:
            raise RuntimeError("the server is running")
        self._launch()

    def stop(self):
        """Fast shutdown (SIGINT); waits for the postmaster to exit."""
        if self._process is None:
            return
        process, self._process = self._process, None
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=SHUTDOWN_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise RuntimeError("postgres did not stop on SIGINT; killed it")

    def close(self):
        try:
            self.stop()
        finally:
            if self.dir and not os.environ.get("STUBMESH_KEEP_TMP"):
                shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()

    # -- use ---------------------------------------------------------------

    @property
    def pid(self):
        return self._process.pid if self._process else None

    def tcp_url(self, database):
        return "postgresql://%s@127.0.0.1:%d/%s" % (SUPERUSER, self.port, database)

    def socket_url(self, database):
        return "postgresql://%s@/%s?host=%s&port=%d" % (SUPERUSER, database, self.dir,
                                                       self.port)

    def query(self, database, sql):
        """Runs `sql` with psql over the socket; returns its unaligned output."""
        result = subprocess.run(
            [os.path.join(self.bindir, "psql"), "-XAtq", "-v", "ON_ERROR_STOP=1",
             "-d", self.socket_url(database), "-c", sql],
            capture_output=True, text=True, timeout=60)
        if result.returncode != 0:
            raise RuntimeError("psql %r: %s" % (sql, result.stderr.strip()))
        return result.stdout.strip()

    def create_database(self, name):
        """CREATE DATABASE `name`; returns its TCP URL."""
        if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
            raise ValueError("database name %r: want [a-z_][a-z0-9_]*" % name)
        self.query("postgres", "CREATE DATABASE %s" % name)
        return self.tcp_url(name)

    def log_tail(self, chars=3000):
        try:
            with open(self._log, errors="replace") as f:
                return f.read()[-chars:]
        except OSError:
            return ""

    # -- internals ---------------------------------------------------------

    def _spawn(self, argv):
        log = open(self._log, "ab")
        try:
            kwargs = {}
            if self._user is not None:
                kwargs = dict(user=self._user.pw_uid, group=self._user.pw_gid,
                              extra_groups=[])
            return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                    stderr=subprocess.STDOUT, cwd=self.dir,
                                    preexec_fn=_die_with_parent, **kwargs)
        finally:
            log.close()

    def _launch(self):
        self._process = self._spawn([
            os.path.join(self.bindir, "postgres"), "-D", self._data, "-k", self.dir,
            "-p", str(self.port), "-c", "listen_addresses=127.0.0.1",
            "-c", "fsync=off", "-c", "synchronous_commit=off",
            "-c", "full_page_writes=off", "-c", "shared_buffers=16MB",
            "-c", "max_connections=50"])
        isready = os.path.join(self.bindir, "pg_isready")
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                self._process = None
                raise RuntimeError("postgres exited during startup:\n" + self.log_tail())
            ready = subprocess.run(
                [isready, "-q", "-h", self.dir, "-p", str(self.port), "-U", SUPERUSER,
                 "-d", "postgres", "-t", "5"])
            if ready.returncode == 0:
                return
            time.sleep(0.02)
        raise RuntimeError("postgres did not accept connections within %ss:\n%s" %
                           (STARTUP_TIMEOUT_S, self.log_tail()))


if __name__ == "__main__":
    # By hand: start a server, print its URLs, stop on Ctrl-C.
    with PostgresServer() as pg:
        print(pg.tcp_url("postgres"))
        print(pg.socket_url("postgres"))
        sys.stdout.flush()
        try:
            signal.pause()
        except KeyboardInterrupt:
            pass
