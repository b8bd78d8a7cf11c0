#!/usr/bin/python3
"""Tests of targets_from_launcher.py: the three input shapes, the golden
file_sd output of testdata/launcher.json (a target list) and
testdata/launcher_status.json (the launcher's status), the atomic -o write,
and every refusal.

    /usr/bin/python3 deploy/prometheus/targets_from_launcher_test.py
"""

import io
import json
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import targets_from_launcher as t  # noqa: E402

SCRIPT = os.path.join(HERE, "targets_from_launcher.py")
TESTDATA = os.path.join(HERE, "testdata")


def run(args, stdin=None):
    return subprocess.run([sys.executable, SCRIPT] + args, input=stdin,
                          capture_output=True, text=True)


class FileSdGroupsTest(unittest.TestCase):

    def test_list_and_object_forms_are_the_same(self):
        entries = [{"job": "user_svc", "address": "127.0.0.1:9101",
                    "labels": {"replica": "0"}},
                   {"job": "gateway", "address": "localhost:8080"}]
        want = [{"targets": ["127.0.0.1:9101"],
                 "labels": {"job": "user_svc", "replica": "0"}},
                {"targets": ["localhost:8080"], "labels": {"job": "gateway"}}]
        self.assertEqual(t.file_sd_groups(entries), want)
        self.assertEqual(
            t.file_sd_groups({"targets": entries, "pid": 42, "other": {}}),
            want)

    def test_empty_list_is_no_targets(self):
        self.assertEqual(t.file_sd_groups([]), [])
        self.assertEqual(t.file_sd_groups({"targets": []}), [])

    def test_ipv6_and_instance_label(self):
        groups = t.file_sd_groups([{"job": "order_svc", "address": "[::1]:9201",
                                    "labels": {"instance": "order-0"}}])
        self.assertEqual(groups, [{"targets": ["[::1]:9201"],
                                   "labels": {"job": "order_svc",
                                              "instance": "order-0"}}])

    def test_null_labels_are_none(self):
        self.assertEqual(
            t.file_sd_groups([{"job": "j", "address": "h:1", "labels": None}]),
            [{"targets": ["h:1"], "labels": {"job": "j"}}])

    def test_launcher_status(self):
        status = {
            "state": "RUNNING", "pid": 7,
            "services": [
                {"name": "user_svc", "replicas": [
                    {"name": "user_svc-0", "adminAddress": "127.0.0.1:40101"},
                    {"name": "user_svc-1", "admin_address": "127.0.0.1:40102"},
                    {"name": "user_svc-2", "adminAddress": ""},
                    {"name": "user_svc-3"}]},
                {"name": "order_svc", "replicas": []},
                {"name": "idle_svc"}],
            "gateway": {"name": "gateway-0", "adminAddress": "127.0.0.1:8080"}}
        self.assertEqual(t.file_sd_groups(status), [
            {"targets": ["127.0.0.1:40101"],
             "labels": {"job": "user_svc", "replica": "user_svc-0"}},
            {"targets": ["127.0.0.1:40102"],
             "labels": {"job": "user_svc", "replica": "user_svc-1"}},
            {"targets": ["127.0.0.1:8080"],
             "labels": {"job": "gateway", "replica": "gateway-0"}}])
        self.assertEqual(t.file_sd_groups({"services": [], "gateway": {}}), [])
        self.assertEqual(t.file_sd_groups({"gateway": {"name": "gateway-0",
                                                       "adminAddress": "h:1"}}),
                         [{"targets": ["h:1"], "labels": {"job": "gateway",
                                                          "replica": "gateway-0"}}])

    def test_launcher_status_refusals(self):
        self.assertRefused({"services": {}}, '"services" must be a list')
        self.assertRefused({"services": [{"replicas": []}]},
                           'services[0]: expected an object with a "name"')
        self.assertRefused({"services": [{"name": "s", "replicas": {}}]},
                           'services[0]: "replicas" must be a list')
        self.assertRefused({"services": [{"name": "s", "replicas": ["x"]}]},
                           "services[0].replicas[0]: expected an object")
        self.assertRefused(
            {"services": [{"name": "s", "replicas": [
                {"name": "s-0", "adminAddress": "127.0.0.1"}]}]},
            "host:port")

    def assertRefused(self, document, message_part):
        with self.assertRaises(t.InputError) as caught:
            t.file_sd_groups(document)
        self.assertIn(message_part, str(caught.exception))

    def test_refusals(self):
        ok = {"job": "user_svc", "address": "127.0.0.1:9101"}
        self.assertRefused({"replicas": []}, '"targets"')
        self.assertRefused({"targets": {}}, "must be a list")
        self.assertRefused("user_svc", "must be a list")
        self.assertRefused([ok, "127.0.0.1:1"], "entry 1")
        self.assertRefused([{"address": "h:1"}], '"job"')
        self.assertRefused([{"job": "", "address": "h:1"}], '"job"')
        self.assertRefused([{"job": 3, "address": "h:1"}], '"job"')
        self.assertRefused([{"job": "j"}], '"address"')
        for bad in ["127.0.0.1", "127.0.0.1:0", "127.0.0.1:65536", "h:x",
                    "http://h:1", "h:1/metrics", "::1:9101", ""]:
            self.assertRefused([{"job": "j", "address": bad}], "host:port")
        self.assertRefused([{"job": "j", "address": "h:1", "labels": []}],
                           '"labels" must be an object')
        self.assertRefused(
            [{"job": "j", "address": "h:1", "labels": {"1x": "v"}}],
            "not a valid label name")
        self.assertRefused(
            [{"job": "j", "address": "h:1", "labels": {"a-b": "v"}}],
            "not a valid label name")
        self.assertRefused(
            [{"job": "j", "address": "h:1", "labels": {"__scheme__": "https"}}],
            "reserved")
        self.assertRefused(
            [{"job": "j", "address": "h:1", "labels": {"job": "k"}}],
            'not in "labels"')
        self.assertRefused(
            [{"job": "j", "address": "h:1", "labels": {"replica": 0}}],
            "must be a string")
        self.assertRefused([ok, dict(ok, job="order_svc")],
                           "already entry 0")


class CommandLineTest(unittest.TestCase):

    def test_golden(self):
        result = run([os.path.join(TESTDATA, "launcher.json")])
        self.assertEqual(result.returncode, 0, result.stderr)
        with open(os.path.join(TESTDATA, "file_sd.golden.json")) as f:
            self.assertEqual(result.stdout, f.read())

    def test_golden_launcher_status(self):
        result = run([os.path.join(TESTDATA, "launcher_status.json")])
        self.assertEqual(result.returncode, 0, result.stderr)
        with open(os.path.join(TESTDATA, "launcher_status.golden.json")) as f:
            self.assertEqual(result.stdout, f.read())

    def test_stdin(self):
        result = run(["-"], stdin='[{"job": "j", "address": "h:1"}]')
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(json.loads(result.stdout),
                         [{"targets": ["h:1"], "labels": {"job": "j"}}])

    def test_output_file_is_replaced_whole(self):
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "stubmesh.json")
            with open(out, "w") as f:
                f.write("old, and longer than the new contents " * 100)
            result = run(["-", "-o", out],
                         stdin='{"targets": [{"job": "j", "address": "h:1"}]}')
            self.assertEqual(result.returncode, 0, result.stderr)
            self.assertEqual(result.stdout, "")
            with open(out) as f:
                self.assertEqual(json.load(f),
                                 [{"targets": ["h:1"], "labels": {"job": "j"}}])
            self.assertEqual(os.listdir(d), ["stubmesh.json"])  # no temp left
            self.assertEqual(os.stat(out).st_mode & 0o777, 0o644)

    def test_bad_input_exits_2_and_keeps_the_old_file(self):
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "stubmesh.json")
            with open(out, "w") as f:
                f.write("[]\n")
            for stdin, part in [("not json", "-: "),
                                ('[{"job": "j", "address": "h"}]',
                                 "-: entry 0 (job j)")]:
                result = run(["-", "-o", out], stdin=stdin)
                self.assertEqual(result.returncode, 2)
                self.assertIn("targets_from_launcher: " + part, result.stderr)
                with open(out) as f:
                    self.assertEqual(f.read(), "[]\n")
            result = run([os.path.join(d, "missing.json")])
            self.assertEqual(result.returncode, 2)
            self.assertIn("missing.json", result.stderr)


if __name__ == "__main__":
    unittest.main()
