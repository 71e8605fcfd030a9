"""test_completion.py — the bash completion of aampctl (ctl/completion/aampctl.bash), run in
a real bash: the completion function is called as bash calls it (COMP_WORDS, COMP_CWORD)
and what it offers is compared with what aampctl knows, so neither can drift from the other:
- its commands are exactly those `aampctl --help` lists;
- every command, subcommand and option of every synopsis in docs/cli.md completes;
- the names it offers for --verdict, --state, --thread-binding and --unknown-threads are
  those of the name tables (policy/audit_verdict.hpp, store/admin.hpp, policy/store.hpp).

Environment: AAMPCTL (the binary under test), AAMP_SOURCE_DIR (the tree).
"""
import os
import pathlib
import re
import subprocess
import unittest

AAMPCTL = os.environ.get("AAMPCTL", "aampctl")
SOURCE = pathlib.Path(os.environ.get("AAMP_SOURCE_DIR", pathlib.Path(__file__).resolve().parents[2]))
SCRIPT = SOURCE / "ctl" / "completion" / "aampctl.bash"


def complete(*words):
    """What the completion offers for the command line `words` (the last one being typed)."""
    quoted = " ".join("'" + w.replace("'", "'\\''") + "'" for w in ("aampctl",) + words)
    script = (f"source '{SCRIPT}'\n"
              f"COMP_WORDS=({quoted}); COMP_CWORD={len(words)}; COMP_LINE=\"${{COMP_WORDS[*]}}\"\n"
              "_aampctl\nprintf '%s\\n' \"${COMPREPLY[@]}\"\n")
    p = subprocess.run(["bash", "--norc", "--noprofile", "-c", script], capture_output=True, text=True, timeout=60,
                       cwd=SOURCE)
    if p.returncode != 0 or p.stderr:
        raise AssertionError(f"bash failed for {words}: {p.stderr}")
    return [line for line in p.stdout.splitlines() if line]


def help_commands():
    """The commands `aampctl --help` lists: the first word of each indented line under the
    'commands:' (or 'subcommands:') heading."""
    p = subprocess.run([AAMPCTL, "--help"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    names, inside = [], False
    for line in p.stdout.splitlines():
        if re.match(r"^\s*(sub)?commands:\s*$", line, re.I):
            inside = True
            continue
        if inside:
            if not line.strip() or not line[0].isspace():
                if names:
                    break
                continue
            names.append(line.split()[0])
    return names


def documented_synopses():
    """(command, subcommand or None, [options]) for each synopsis line of docs/cli.md."""
    out = []
    text = (SOURCE / "docs" / "cli.md").read_text()
    fenced = False
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
            continue
        m = re.match(r"^\s*aampctl\s+(.*)$", line)
        if not m or not (fenced or line.startswith("    ")):  # code: fenced or indented
            continue
        # Skip the global options and their values: [-c FILE] [--db DATABASE] [--json].
        words = re.sub(r"^(\[[^\]]*\]\s*)+", "", m.group(1)).split()
        if not words or not re.fullmatch(r"[a-z]+", words[0]):
            continue  # COMMAND ... (the general form)
        out.append((words[0], words[1] if len(words) > 1 and re.fullmatch(r"[a-z]+(\|[a-z]+)*", words[1]) else None,
                    re.findall(r"(?<![\w-])(--[a-z][a-z-]*|-[a-zA-Z])(?![\w-])", m.group(1))))
    return out


class CompletionTest(unittest.TestCase):
    def test_the_script_registers_itself(self):
        p = subprocess.run(["bash", "--norc", "--noprofile", "-c", f"source '{SCRIPT}'; complete -p aampctl"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.stdout.strip(), "complete -F _aampctl aampctl", p.stderr)

    def test_commands_are_exactly_those_aampctl_knows(self):
        known = help_commands()
        self.assertGreaterEqual(len(known), 13, known)  # the parser found the list
        self.assertEqual(sorted(complete("")), sorted(known))
        for name in known:
            with self.subTest(command=name):
                self.assertIn(name, complete(name[:2]))
                self.assertIn(name, complete("--db", "x.db", "--json", name[:3]))  # after global options

    def test_every_documented_command_subcommand_and_option_completes(self):
        synopses = documented_synopses()
        commands = {c for c, _, _ in synopses}
        # Every command aampctl lists has a synopsis in docs/cli.md.
        self.assertEqual(commands, set(help_commands()))
        for command, subs, options in synopses:
            for sub in (subs.split("|") if subs else [None]):
                with self.subTest(command=command, sub=sub):
                    offered_subs = complete(command, "")
                    words = [command]
                    if sub is not None and sub in offered_subs:
                        self.assertIn(sub, complete(command, sub[:2]))
                        words.append(sub)
                    offered = complete(*words, "-")
                    for option in options:
                        self.assertIn(option, offered, f"aampctl {' '.join(words)} {option}")

    def test_subcommands_of_groups(self):
        self.assertEqual(complete("mailbox", ""), ["add", "set", "list", "remove"])
        self.assertEqual(complete("outbox", ""), ["list", "retry", "drop"])
        self.assertEqual(complete("audit", ""), ["export", "prune"])
        # An option's value is not taken for the subcommand.
        self.assertEqual(complete("audit", "--since", "1h", ""), ["export", "prune"])
        self.assertEqual(complete("audit", "prune", "--"), ["--before", "--config", "--db", "--json", "--help",
                                                            "--version"])

    def test_option_values(self):
        verdicts = re.findall(r'\{"([a-z-]+)", AuditVerdict::', (SOURCE / "policy" / "audit_verdict.hpp").read_text())
        self.assertGreater(len(verdicts), 10)
        self.assertEqual(sorted(complete("audit", "--verdict", "")), sorted(verdicts))
        states = re.findall(r'\{"([a-z]+)", OutboxState::', (SOURCE / "store" / "admin.hpp").read_text())
        self.assertEqual(complete("outbox", "list", "--state", ""), states)
        self.assertEqual(complete("mailbox", "add", "a@b.c", "--mode", ""), ["enforce", "report", "off"])
        store_hpp = (SOURCE / "policy" / "store.hpp").read_text()
        modes = re.findall(r'\{"([a-z]+)", MailboxMode::', store_hpp)
        unknown = re.findall(r'\{"([a-z]+)", UnknownThreads::', store_hpp)
        self.assertEqual(complete("mailbox", "set", "a@b.c", "--thread-binding", ""), modes + ["default"])
        self.assertEqual(complete("mailbox", "add", "a@b.c", "--unknown-threads", ""), unknown + ["default"])
        self.assertEqual(complete("thread", ""), ["show"])
        self.assertEqual(complete("validate", "--mode", ""), ["strict", "sdk"])
        self.assertIn("docs", complete("--db", "do"))  # file names (bash adds the / itself)
        self.assertIn("docs", complete("backup", "do"))


if __name__ == "__main__":
    unittest.main()
