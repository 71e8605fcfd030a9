"""test_deploy_stalwart.py — the Stalwart configuration shipped in deploy/ loads: every line
of deploy/stalwart/*.ndjson is a `stalwart-cli apply` operation (NDJSON, no comments) on a
0.16 object, naming only fields that object has (MtaMilter and MtaHook, as
Stalwart 0.16.19's registry/schema/structs.rs defines them), with values of the right
shape; the milter points at the socket deploy/aamp-milter.conf.example listens on; the
TOML snippet says which Stalwart versions it is for.

Environment: AAMP_SOURCE_DIR (the source tree). Python standard library only.
"""
import json
import os
import re
import unittest
from pathlib import Path

SOURCE = Path(os.environ.get("AAMP_SOURCE_DIR", Path(__file__).resolve().parents[2]))
DEPLOY = SOURCE / "deploy"

# The fields of each 0.16 object (crates/registry/src/schema/structs.rs, 0.16.19).
FIELDS = {
    "MtaMilter": {"allowInvalidCerts", "enable", "hostname", "maxResponseSize", "tempFailOnError",
                  "protocolVersion", "port", "stages", "timeoutCommand", "timeoutConnect",
                  "timeoutData", "useTls", "flagsAction", "flagsProtocol"},
    "MtaHook": {"allowInvalidCerts", "enable", "maxResponseSize", "tempFailOnError", "stages",
                "timeout", "url", "httpAuth", "httpHeaders"},
}
REQUIRED = {"MtaMilter": {"hostname"}, "MtaHook": {"url", "httpAuth"}}
STAGES = {"connect", "ehlo", "mail", "rcpt", "data"}
DURATION = re.compile(r"^[0-9]+(ms|s|m|h|d)$")


def plans():
    return sorted((DEPLOY / "stalwart").glob("*.ndjson"))


def objects(plan):
    """(object type, id, value) for every object a plan creates."""
    out = []
    for number, line in enumerate(plan.read_text().splitlines(), 1):
        if not line.strip():
            continue
        op = json.loads(line)  # a comment line or broken JSON fails here, as it fails apply
        if op.get("@type") != "create":
            raise AssertionError(f"{plan.name}:{number}: only create operations are shipped")
        for ident, value in op["value"].items():
            out.append((op["object"], ident, value))
    return out


class StalwartPlans(unittest.TestCase):
    def test_a_milter_plan_is_shipped(self):
        kinds = [kind for plan in plans() for kind, _, _ in objects(plan)]
        self.assertIn("MtaMilter", kinds)

    def test_every_object_names_only_fields_it_has_with_values_of_their_shape(self):
        for plan in plans():
            for kind, ident, value in objects(plan):
                with self.subTest(plan=plan.name, object=ident):
                    self.assertIn(kind, FIELDS)
                    self.assertLessEqual(set(value), FIELDS[kind])
                    self.assertLessEqual(REQUIRED[kind], set(value))
                    self.assertTrue(value["stages"], "at least one stage")
                    self.assertLessEqual(set(value["stages"]), STAGES)
                    self.assertIn("data", value["stages"], "headers are only known at DATA")
                    self.assertIs(value["tempFailOnError"], True, "filter down: 451, never unchecked")
                    self.assertEqual(value["enable"], {"else": "true"})
                    for key in ("timeout", "timeoutCommand", "timeoutConnect", "timeoutData"):
                        if key in value:
                            self.assertRegex(value[key], DURATION)

    def test_the_milter_connects_where_the_example_configuration_listens(self):
        example = (DEPLOY / "aamp-milter.conf.example").read_text()
        socket = re.search(r"^Socket\s+inet:(\d+)@(\S+)", example, re.M)
        milters = [v for plan in plans() for kind, _, v in objects(plan) if kind == "MtaMilter"]
        for milter in milters:
            self.assertEqual((str(milter["port"]), milter["hostname"]), (socket[1], socket[2]))
            self.assertEqual(milter["protocolVersion"], "v6")
            self.assertNotIn("flagsProtocol", milter, "Stalwart's default steps (0x42) are the tested ones")


    def test_a_hook_plan_points_at_the_example_hook_endpoint(self):
        example = (DEPLOY / "aamp-milter.conf.example").read_text()
        listen = re.search(r"^#?HookListen\s+(\S+):(\d+)$", example, re.M)
        self.assertIsNotNone(listen, "the example shows HookListen")
        hooks = [v for plan in plans() for kind, _, v in objects(plan) if kind == "MtaHook"]
        self.assertEqual(len(hooks), 1, "one MtaHook plan is shipped")
        for hook in hooks:
            # The path aamp-milter serves (milter/hook_server.hpp, kHookPath).
            self.assertEqual(hook["url"], f"http://{listen[1]}:{listen[2]}/aamp")
            self.assertEqual(hook["stages"], ["data"], "one request per message, with the queue id")
            auth = hook["httpAuth"]
            self.assertEqual(auth["@type"], "Bearer")
            self.assertEqual(auth["bearerToken"]["@type"], "Value")
            self.assertTrue(auth["bearerToken"]["secret"].startswith("CHANGE-ME"), "no usable secret is shipped")
            self.assertIsInstance(hook["maxResponseSize"], int)
            self.assertEqual(hook["timeout"], "30s")


class StalwartToml(unittest.TestCase):
    def test_the_toml_says_it_is_for_versions_before_0_16(self):
        head = (DEPLOY / "stalwart.toml").read_text().splitlines()[0]
        self.assertIn("0.15", head)
        self.assertIn("ONLY", head)

    def test_the_toml_makes_no_claim_the_facts_disprove(self):
        text = (DEPLOY / "stalwart.toml").read_text()
        self.assertNotIn("DISCARD is taken as", text)
        self.assertIn("ReplyEnvelopeSender mailbox", text)


if __name__ == "__main__":
    unittest.main()
