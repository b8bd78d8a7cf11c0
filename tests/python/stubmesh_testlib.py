"""Shared helpers for the Python client tests: paths, protoc, server processes.

Run with Debian's /usr/bin/python3 (python3-grpcio, python3-grpc-tools).

Paths come from environment variables; the defaults suit a run by hand from
a checkout after `bazel build //user_svc:user_svc //order_svc:order_svc`:

    STUBMESH_USER_SVC     user_svc binary    (default <repo>/bazel-bin/user_svc/user_svc)
    STUBMESH_ORDER_SVC    order_svc binary   (default <repo>/bazel-bin/order_svc/order_svc)
    STUBMESH_PROTOS       protos/ directory  (default <repo>/protos)
    STUBMESH_GRPC_PROTOS  Debian's grpc-proto (default /usr/share/grpc-proto)
    STUBMESH_PYTHON       python with grpc_tools (default /usr/bin/python3)
    STUBMESH_KEEP_TMP     if set, temp dirs are kept and their paths printed

Temp dirs go under $TEST_TMPDIR when Bazel sets it; server stderr logs are
also copied to $TEST_UNDECLARED_OUTPUTS_DIR when set.
"""

import http.client
import os
import random
import re
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(os.path.dirname(HERE))

# How long a server may take to print its listening line, and then to be
# SERVING on the health service; how long it may take to exit on SIGTERM.
STARTUP_TIMEOUT_S = 30.0
HEALTH_TIMEOUT_S = 30.0
SHUTDOWN_TIMEOUT_S = 20.0


def _path_from_env(var, default):
    value = os.environ.get(var)
    return os.path.abspath(value if value else default)


def user_svc_binary():
    return _path_from_env(
        "STUBMESH_USER_SVC", os.path.join(REPO_ROOT, "bazel-bin", "user_svc", "user_svc"))


def order_svc_binary():
    return _path_from_env(
        "STUBMESH_ORDER_SVC", os.path.join(REPO_ROOT, "bazel-bin", "order_svc", "order_svc"))


# For services a test just stops: they exit on SIGTERM without the default
# drain delay (1s of NOT_SERVING, for balancers that a test without a mesh
# in front does not have).
NO_DRAIN = "--drain_delay=0"


def protos_dir():
    return _path_from_env("STUBMESH_PROTOS", os.path.join(REPO_ROOT, "protos"))


def grpc_protos_dir():
    return _path_from_env("STUBMESH_GRPC_PROTOS", "/usr/share/grpc-proto")


def python_with_grpc_tools():
    return os.environ.get("STUBMESH_PYTHON") or "/usr/bin/python3"


def make_temp_dir(prefix):
    """A fresh directory under $TEST_TMPDIR (Bazel) or the system temp dir."""
    base = os.environ.get("TEST_TMPDIR") or None
    return tempfile.mkdtemp(prefix=prefix, dir=base)


def remove_temp_dir(path):
    if os.environ.get("STUBMESH_KEEP_TMP"):
        sys.stderr.write("keeping %s\n" % path)
        return
    shutil.rmtree(path, ignore_errors=True)


def well_known_types_dir():
    """The -I directory holding google/protobuf/*.proto.

    grpc_tools ships them in its _proto folder (and `python -m
    grpc_tools.protoc` adds it by itself); naming it explicitly keeps the
    command line self-describing. /usr/include is the fallback.
    """
    try:
        import grpc_tools  # Present with Debian's python3 only.
        candidate = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")
        if os.path.exists(os.path.join(candidate, "google", "protobuf", "empty.proto")):
            return candidate
    except ImportError:
        pass
    return "/usr/include"


def run_protoc(out_dir, include_dirs, proto_files):
    """Generates *_pb2.py and *_pb2_grpc.py into out_dir; raises on failure."""
    os.makedirs(out_dir, exist_ok=True)
    cmd = [python_with_grpc_tools(), "-m", "grpc_tools.protoc"]
    cmd += ["-I" + d for d in include_dirs]
    cmd += ["-I" + well_known_types_dir()]
    cmd += ["--python_out=" + out_dir, "--grpc_python_out=" + out_dir]
    cmd += list(proto_files)
    result = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            universal_newlines=True)
    if result.returncode != 0:
        raise RuntimeError("protoc failed (%d): %s\nstdout: %s\nstderr: %s" % (
            result.returncode, " ".join(cmd), result.stdout, result.stderr))
    return cmd


def add_to_sys_path(directory):
    """Makes generated modules importable (google/ is a namespace package)."""
    if directory not in sys.path:
        sys.path.insert(0, directory)


def free_port():
    """A loopback port for a server that must come back on the same port
    after a restart (so it cannot take port 0).

    Drawn at random below the kernel's ephemeral range (32768-60999 on
    Linux), where port-0 binds by other tests never land, and checked free;
    only another test drawing the same number at the same moment collides.
    """
    rng = random.SystemRandom()
    for _ in range(100):
        port = rng.randrange(20000, 32000)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port found in 20000-32000")


def wait_until(check, timeout_s, what, interval_s=0.1):
    """Calls check() until it returns true, for at most timeout_s seconds.

    check may raise; the last exception is reported if time runs out.
    """
    deadline = time.monotonic() + timeout_s
    last_error = None
    attempts = 0
    while True:
        attempts += 1
        try:
            if check():
                return attempts
            last_error = None
        except Exception as e:  # pylint: disable=broad-except
            last_error = e
        if time.monotonic() >= deadline:
            raise TimeoutError("%s: not done after %.0fs and %d attempts; last error: %r" % (
                what, timeout_s, attempts, last_error))
        time.sleep(min(interval_s, max(0.0, deadline - time.monotonic())))
        interval_s = min(interval_s * 1.5, 1.0)


class ServerProcess(object):
    """One server binary on port 0: start, read its address, stop with SIGTERM."""

    LISTENING = re.compile(r"^(?P<name>\S+) listening on (?P<host>127\.0\.0\.1):(?P<port>\d+)$")

    def __init__(self, name, argv, log_dir):
        self.name = name
        self.argv = list(argv)
        self.log_path = os.path.join(log_dir, name + ".stderr.log")
        self.proc = None
        self.address = None
        self.first_line = None
        self.admin_address = None  # from "<name> admin on HOST:PORT", if printed
        self._rest = bytearray()
        self._drain = None

    def start(self, timeout_s=STARTUP_TIMEOUT_S):
        if not os.access(self.argv[0], os.X_OK):
            raise FileNotFoundError("server binary not found or not executable: %s" % self.argv[0])
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=self._log, bufsize=0)
        line = self._read_first_line(timeout_s)
        self.first_line = line
        match = self.LISTENING.match(line)
        if not match or match.group("name") != self.name:
            self.kill()
            raise AssertionError("%s: expected '%s listening on 127.0.0.1:<port>', got %r\n%s" % (
                self.name, self.name, line, self.stderr_tail()))
        if int(match.group("port")) <= 0:
            self.kill()
            raise AssertionError("%s: port must be positive: %r" % (self.name, line))
        self.address = "%s:%s" % (match.group("host"), match.group("port"))
        # Keep reading stdout so a chatty server never blocks on a full pipe;
        # what it prints is checked on stop.
        self._drain = threading.Thread(target=self._drain_stdout, daemon=True)
        self._drain.start()
        return self.address

    def _read_first_line(self, timeout_s):
        """Returns the listening line; lines printed before it (the admin
        address) are remembered."""
        deadline = time.monotonic() + timeout_s
        fd = self.proc.stdout.fileno()
        sel = selectors.DefaultSelector()
        sel.register(fd, selectors.EVENT_READ)
        buf = bytearray()
        try:
            while True:
                while b"\n" in buf:
                    line, _, rest = bytes(buf).partition(b"\n")
                    buf = bytearray(rest)
                    text = line.decode("utf-8", "replace").rstrip("\r")
                    admin = re.match(r"^\S+ admin on (\S+)$", text)
                    if admin:
                        self.admin_address = admin.group(1)
                        continue
                    self._rest += buf
                    return text
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self.kill()
                    raise TimeoutError("%s printed no listening line within %.0fs (stdout so far %r)\n%s"
                                       % (self.name, timeout_s, bytes(buf), self.stderr_tail()))
                if not sel.select(remaining):
                    continue
                chunk = os.read(fd, 4096)
                if not chunk:
                    code = self.proc.wait(timeout=5)
                    raise AssertionError("%s exited with %s before printing its listening line "
                                         "(stdout %r)\n%s" % (self.name, code, bytes(buf),
                                                              self.stderr_tail()))
                buf += chunk
        finally:
            sel.close()

    def _drain_stdout(self):
        fd = self.proc.stdout.fileno()
        while True:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                return
            if not chunk:
                return
            self._rest += chunk

    def extra_stdout(self):
        """What the server printed on stdout after its listening line."""
        return bytes(self._rest).decode("utf-8", "replace")

    def stderr_tail(self, limit=4000):
        try:
            if getattr(self, "_log", None):
                self._log.flush()
            with open(self.log_path, "rb") as f:
                data = f.read()
        except OSError:
            return "(no stderr log)"
        text = data[-limit:].decode("utf-8", "replace")
        return "---- %s stderr (%s) ----\n%s\n---- end ----" % (self.name, self.log_path, text)

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout_s=SHUTDOWN_TIMEOUT_S):
        """Sends SIGTERM and returns the exit code (-9 if it had to be killed)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.kill()
                return -signal.SIGKILL
        self._finish()
        return self.proc.returncode

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._finish()

    def _finish(self):
        if self._drain is not None:
            self._drain.join(timeout=5)
        if self.proc is not None and self.proc.stdout:
            self.proc.stdout.close()
        if getattr(self, "_log", None):
            self._log.close()
            self._log = None
        outputs = os.environ.get("TEST_UNDECLARED_OUTPUTS_DIR")
        if outputs and os.path.exists(self.log_path):
            try:
                shutil.copy(self.log_path, os.path.join(outputs, os.path.basename(self.log_path)))
            except OSError:
                pass


class RequestLoad(object):
    """Threads that GET `path` from 127.0.0.1:`port` over kept-alive
    connections until stopped or `max_requests` were made, counting 200s and
    keeping every other answer (and connection error) in `failures`."""

    def __init__(self, port, path, threads=4, max_requests=200000):
        self.port, self.path = port, path
        self.lock = threading.Lock()
        self.ok = 0
        self.failures = []
        self.stop_event = threading.Event()
        self.max_requests = max_requests
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def _run(self):
        conn = None
        while not self.stop_event.is_set():
            with self.lock:
                if self.ok + len(self.failures) >= self.max_requests:
                    return
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
                conn.request("GET", self.path)
                resp = conn.getresponse()
                body = resp.read()
                with self.lock:
                    if resp.status == 200:
                        self.ok += 1
                    else:
                        self.failures.append((resp.status, body[:200]))
            except (OSError, http.client.HTTPException) as e:
                with self.lock:
                    self.failures.append(("connection", repr(e)))
                conn = None

    def start(self):
        for t in self.threads:
            t.start()
        return self

    def count(self):
        with self.lock:
            return self.ok + len(self.failures)

    def stop(self):
        self.stop_event.set()
        for t in self.threads:
            t.join(timeout=30)


def check_health_serving(health_pb2, health_pb2_grpc, channel, service=""):
    """One Health/Check; true when SERVING."""
    stub = health_pb2_grpc.HealthStub(channel)
    response = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=2)
    return response.status == health_pb2.HealthCheckResponse.SERVING


def stop_all(servers):
    """Stops servers in the order given; returns [(name, exit code, details)]."""
    results = []
    for server in servers:
        if server is None or server.proc is None:
            continue
        code = server.stop()
        results.append((server.name, code, server))
    return results


class ClassServers(object):
    """Mixin for unittest.TestCase classes that run server processes for the
    whole class: one place that starts them, kills them if setUpClass fails
    half way, and stops and checks them in tearDownClass.

    setUpClass calls start_class_server() for each ServerProcess, a server
    after the ones it calls. The mixin's tearDownClass stops them in reverse
    order with SIGTERM and fails unless each exited 0 and printed nothing on
    stdout after its listening line. A class cleanup, registered with the
    first server, kills whatever still runs when setUpClass raised or
    tearDownClass did not get to its end. List the mixin before
    unittest.TestCase; a class with its own tearDownClass calls
    stop_class_servers() from it.

        class MyTest(lib.ClassServers, unittest.TestCase):
            @classmethod
            def setUpClass(cls):
                cls.tmp = lib.make_temp_dir("my_test.")
                cls.addClassCleanup(lib.remove_temp_dir, cls.tmp)
                cls.user = cls.start_class_server(lib.ServerProcess("user_svc", [
                    lib.user_svc_binary(), "--port=0", lib.NO_DRAIN,
                    "--db=" + os.path.join(cls.tmp, "users.db")], cls.tmp))
    """

    @classmethod
    def start_class_server(cls, server):
        """Starts server (a ServerProcess) for the class; returns it."""
        if "_class_servers" not in cls.__dict__:
            cls._class_servers = []
            cls.addClassCleanup(cls._kill_class_servers)
        # Remembered before start(): a start that fails half way may leave a
        # process behind.
        cls._class_servers.append(server)
        server.start()
        return server

    @classmethod
    def _kill_class_servers(cls):
        for server in cls.__dict__.get("_class_servers", []):
            if server.running():
                server.kill()

    @classmethod
    def stop_class_servers(cls):
        """SIGTERM in reverse start order; raises AssertionError unless every
        server exited 0 and printed only its listening line on stdout."""
        servers = list(reversed(cls.__dict__.get("_class_servers", [])))
        problems = []
        for name, code, server in stop_all(servers):
            if code != 0:
                problems.append("%s exited with %s after SIGTERM (want 0)\n%s" % (
                    name, code, server.stderr_tail()))
            extra = server.extra_stdout()
            if extra.strip():
                problems.append("%s printed more than its one listening line on stdout: %r" % (
                    name, extra[:500]))
        if problems:
            raise AssertionError("\n".join(problems))

    @classmethod
    def tearDownClass(cls):
        cls.stop_class_servers()


class UserAndOrderServers(ClassServers):
    """Mixin for unittest.TestCase classes that run user_svc and order_svc
    (order_svc pointed at user_svc) for the whole class, with a gRPC channel
    to each (user_channel, order_channel).

    The class sets health_pb2 / health_grpc first (generated stubs), then calls
    start_user_and_order_servers(tmp) in setUpClass and
    stop_user_and_order_servers() in tearDownClass (ClassServers' checks).
    """

    channels = []

    @classmethod
    def start_user_and_order_servers(cls, tmp):
        import grpc  # Debian's python3-grpcio; only the gRPC tests need it.
        cls._grpc = grpc
        cls.channels = []
        # Class cleanups run last-in first-out: the channels close before
        # ClassServers' cleanup kills the servers.
        cls.user_server = cls.start_class_server(ServerProcess("user_svc", [
            user_svc_binary(), "--port=0", "--db=" + os.path.join(tmp, "users.db"), NO_DRAIN],
            tmp))
        cls.addClassCleanup(cls._close_channels)
        user_addr = cls.user_server.address
        cls.user_channel = cls._channel(user_addr)
        cls._wait_serving(cls.user_server, cls.user_channel)
        cls.order_server = cls.start_class_server(ServerProcess("order_svc", [
            order_svc_binary(), "--port=0", "--db=" + os.path.join(tmp, "orders.db"), NO_DRAIN,
            "--user_service=" + user_addr], tmp))
        order_addr = cls.order_server.address
        cls.order_channel = cls._channel(order_addr)
        cls._wait_serving(cls.order_server, cls.order_channel)

    @classmethod
    def _channel(cls, address):
        channel = cls._grpc.insecure_channel(address)
        cls.channels.append(channel)
        return channel

    @classmethod
    def _wait_serving(cls, server, channel):
        def serving():
            if not server.running():
                raise AssertionError("%s exited with %s\n%s" % (
                    server.name, server.proc.returncode, server.stderr_tail()))
            return check_health_serving(cls.health_pb2, cls.health_grpc, channel)
        try:
            wait_until(serving, HEALTH_TIMEOUT_S, server.name + " health SERVING")
        except TimeoutError as e:
            raise AssertionError("%s\n%s" % (e, server.stderr_tail()))

    @classmethod
    def _close_channels(cls):
        for channel in cls.channels:
            channel.close()
        cls.channels = []

    @classmethod
    def stop_user_and_order_servers(cls):
        """Closes the channels, then SIGTERM, order service first (it depends
        on the user service); both must exit 0 and print nothing after their
        listening line."""
        cls._close_channels()
        cls.stop_class_servers()
