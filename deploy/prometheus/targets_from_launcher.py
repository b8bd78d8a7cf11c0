#!/usr/bin/python3
"""Turns the launcher's list of replicas into a Prometheus file_sd file.

    targets_from_launcher.py STATE/launcher.json -o PROM_DIR/targets/stubmesh.json
    targets_from_launcher.py - < launcher.json          # file_sd JSON on stdout

Input, in one of three shapes (the launcher's format is not final; keys not
named here are ignored):

1. a JSON list of scrape targets (the contract this script defines), or
2. an object whose "targets" key holds that list (other keys ignored):

    [
      {"job": "user_svc",  "address": "127.0.0.1:9101", "labels": {"replica": "0"}},
      {"job": "user_svc",  "address": "127.0.0.1:9102", "labels": {"replica": "1"}},
      {"job": "order_svc", "address": "127.0.0.1:9201"},
      {"job": "gateway",   "address": "127.0.0.1:8080"}
    ]

  job      the Prometheus `job` label (required): the service, the same for
           every replica of it: "user_svc", "order_svc", "gateway".
  address  host:port where GET /metrics answers (required): a service's admin
           HTTP port (not its gRPC port); the gateway's HTTP port. An IPv6
           host is written in brackets: "[::1]:9101".
  labels   extra target labels (optional), string to string, e.g. "replica".
           Names are Prometheus label names; "job" and names starting with
           "__" are refused. "instance" may be set (it defaults to address).
           "replica" names the replica across restarts; Prometheus sets it
           to the address when it is missing (see prometheus.yml).

3. The launcher's status as it stands (stubmesh.mesh.v1.LauncherStatus in
   proto3 JSON, launcher/status_file.h): an object with "services" and/or
   "gateway" and no "targets". Each replica with an "adminAddress" becomes
   {"job": <service name>, "address": <adminAddress>,
    "labels": {"replica": <process name>}}, and the gateway the same with
   job "gateway". Processes without an admin address yet are left out.

Output: the file_sd JSON that prometheus.yml's file_sd_configs reads, one
target group per entry, in input order:

    [{"targets": ["127.0.0.1:9101"], "labels": {"job": "user_svc", "replica": "0"}}, ...]

With -o the file is replaced atomically (written beside it, then renamed), so
a Prometheus watching it never reads half a file; rerun the script whenever
launcher.json changes (replicas restarted on new ports, scaled up or down).

Exit status: 0 on success, 2 on bad input (the message names the entry).
Python 3 standard library only.
"""

import argparse
import json
import os
import re
import sys
import tempfile

LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
# host:port, host a name or IPv4 address, or [IPv6].
ADDRESS = re.compile(r"^(\[[0-9a-fA-F:.%a-zA-Z]+\]|[A-Za-z0-9_.-]+):([0-9]{1,5})$")


class InputError(Exception):
    pass


def _process_entry(job, process, where):
    if not isinstance(process, dict):
        raise InputError("%s: expected an object" % where)
    address = process.get("adminAddress", process.get("admin_address", ""))
    if not address:
        return None  # not started yet: nothing to scrape
    entry = {"job": job, "address": address}
    if process.get("name"):
        entry["labels"] = {"replica": process["name"]}
    return entry


def _launcher_status_entries(status):
    """Entries of a LauncherStatus (proto3 JSON; snake_case accepted too)."""
    entries = []
    services = status.get("services", [])
    if not isinstance(services, list):
        raise InputError('"services" must be a list')
    for i, service in enumerate(services):
        where = "services[%d]" % i
        if not isinstance(service, dict) or not isinstance(
                service.get("name"), str) or not service["name"]:
            raise InputError('%s: expected an object with a "name"' % where)
        replicas = service.get("replicas", [])
        if not isinstance(replicas, list):
            raise InputError('%s: "replicas" must be a list' % where)
        for j, replica in enumerate(replicas):
            entries.append(_process_entry(
                service["name"], replica, "%s.replicas[%d]" % (where, j)))
    if status.get("gateway"):
        entries.append(_process_entry("gateway", status["gateway"], "gateway"))
    return [e for e in entries if e is not None]


def _entries(document):
    if isinstance(document, dict):
        if "targets" in document:
            document = document["targets"]
        elif "services" in document or "gateway" in document:
            return _launcher_status_entries(document)
        else:
            raise InputError('expected a list of targets, an object with a '
                             '"targets" list, or a launcher status with '
                             '"services"')
    if not isinstance(document, list):
        raise InputError('"targets" must be a list')
    return document


def _check_entry(index, entry):
    where = "entry %d" % index
    if not isinstance(entry, dict):
        raise InputError("%s: expected an object with job and address" % where)
    job = entry.get("job")
    if not isinstance(job, str) or not job.strip():
        raise InputError('%s: "job" must be a non-empty string' % where)
    where = "entry %d (job %s)" % (index, job)
    address = entry.get("address")
    if not isinstance(address, str):
        raise InputError('%s: "address" must be a "host:port" string' % where)
    match = ADDRESS.match(address)
    if not match or not 1 <= int(match.group(2)) <= 65535:
        raise InputError('%s: "address" %r is not host:port with a port in '
                         '1..65535' % (where, address))
    labels = entry.get("labels", {})
    if labels is None:
        labels = {}
    if not isinstance(labels, dict):
        raise InputError('%s: "labels" must be an object' % where)
    out = {"job": job}
    for name, value in labels.items():
        if not LABEL_NAME.match(name):
            raise InputError("%s: %r is not a valid label name" % (where, name))
        if name.startswith("__"):
            raise InputError("%s: label %r is reserved (starts with __)"
                             % (where, name))
        if name == "job":
            raise InputError('%s: set the job with "job", not in "labels"'
                             % where)
        if not isinstance(value, str):
            raise InputError("%s: label %r must be a string, not %s"
                             % (where, name, type(value).__name__))
        out[name] = value
    return address, out


def file_sd_groups(document):
    """Returns the file_sd target groups for a parsed launcher.json."""
    groups = []
    seen = {}
    for index, entry in enumerate(_entries(document)):
        address, labels = _check_entry(index, entry)
        if address in seen:
            raise InputError("entry %d: address %s is already entry %d"
                             % (index, address, seen[address]))
        seen[address] = index
        groups.append({"targets": [address], "labels": labels})
    return groups


def _write_atomically(path, text):
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".%s." % os.path.basename(path),
                               suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Turn the launcher's launcher.json into the file_sd JSON "
                    "that deploy/prometheus/prometheus.yml reads.")
    parser.add_argument("launcher_json",
                        help='path of launcher.json, or "-" for stdin')
    parser.add_argument("-o", "--output",
                        help="file_sd JSON to write (atomically); default "
                             "stdout")
    args = parser.parse_args(argv)
    try:
        if args.launcher_json == "-":
            document = json.load(sys.stdin)
        else:
            with open(args.launcher_json) as f:
                document = json.load(f)
        groups = file_sd_groups(document)
    except (OSError, ValueError, InputError) as e:
        print("targets_from_launcher: %s: %s" % (args.launcher_json, e),
              file=sys.stderr)
        return 2
    text = json.dumps(groups, indent=2) + "\n"
    if args.output:
        _write_atomically(args.output, text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
