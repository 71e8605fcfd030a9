"""postfix_harness — a throwaway Postfix instance (config, queue, Maildirs, log under one temp
dir; free 127.0.0.1 ports; no chroot) and the real aamp-milter, for end-to-end tests.
Depends on the Python standard library only; never reads or writes the system instance's
configuration (/etc/postfix serves only as meta_directory). Every wait has a deadline; every
process started is ended by PID on close(), and orphans of a killed run are reaped on the
next start. One test thread drives an instance; send() may be called from many threads.
"""

from __future__ import annotations

import ctypes
import email
import email.parser
import email.policy
import email.utils
import os
import re
import shutil
import signal
import smtplib
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from email.message import EmailMessage, Message
from pathlib import Path
from typing import Callable, Iterable, Optional, Sequence, TypeVar

POSTFIX = "/usr/sbin/postfix"
POSTCONF = "/usr/sbin/postconf"
SENDMAIL = "/usr/sbin/sendmail"
SASLPASSWD2 = "/usr/sbin/saslpasswd2"
OPENSSL = "/usr/bin/openssl"

NOBODY_UID = 65534
NOBODY_GID = 65534

# The mark every process we start carries in its environment (Postfix passes MAIL_CONFIG to
# all its daemons; the milter gets AAMP_E2E_ROOT), so that leftovers can be found by PID.
ROOT_PREFIX = "aamp-e2e-"
OWNER_FILE = "owner.pid"

T = TypeVar("T")


class HarnessError(RuntimeError):
    """Something in the test environment failed (not the code under test)."""


# ---------------------------------------------------------------------------------------
# Small tools: free ports, bounded waits, process bookkeeping.


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """`count` distinct TCP ports, free right now on `host` (the kernel's ephemeral range,
    all above 1024). All sockets are held open together so the ports differ."""
    held = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((host, 0))
            held.append(s)
        ports = [s.getsockname()[1] for s in held]
    finally:
        for s in held:
            s.close()
    assert all(p > 1024 for p in ports), ports
    return ports


def wait_until(predicate: Callable[[], Optional[T]], timeout: float, what: str,
               interval: float = 0.02, detail: Callable[[], str] | None = None) -> T:
    """Polls `predicate` until it returns a truthy value (returned) or `timeout` seconds
    pass (TimeoutError naming `what`, plus `detail()` such as a log tail)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            extra = ""
            if detail is not None:
                try:
                    extra = "\n" + detail()
                except Exception as e:  # the detail must not hide the timeout
                    extra = f"\n(detail unavailable: {e})"
            raise TimeoutError(f"timed out after {timeout:.1f}s waiting for {what}{extra}")
        time.sleep(interval)
        interval = min(interval * 1.5, 0.25)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still answers kill(0); it is dead for our purposes.
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            state = f.read().rsplit(b")", 1)[1].split()[0]
        return state != b"Z"
    except (FileNotFoundError, IndexError, ProcessLookupError):
        return False


def _environ_of(pid: int) -> dict[str, str]:
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except (FileNotFoundError, PermissionError, ProcessLookupError):
        return {}
    env = {}
    for item in raw.split(b"\0"):
        key, sep, value = item.partition(b"=")
        if sep:
            env[key.decode(errors="replace")] = value.decode(errors="replace")
    return env


def _all_pids() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def pids_marked(match: Callable[[dict[str, str]], bool]) -> list[int]:
    """PIDs of live processes whose environment satisfies `match` (never our own)."""
    me = os.getpid()
    return [pid for pid in _all_pids() if pid != me and match(_environ_of(pid)) and pid_alive(pid)]


def kill_pids(pids: Iterable[int], timeout: float = 5.0) -> None:
    """SIGTERM, then SIGKILL what is still alive after `timeout` seconds; reaps our own
    children so they do not stay zombies."""
    pids = list(pids)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(pid_alive(p) for p in pids):
        _reap_children()
        time.sleep(0.02)
    for pid in pids:
        if pid_alive(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    _reap_children()


def _reap_children() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def reap_orphans() -> list[int]:
    """Kills processes left by an earlier run that was itself killed (ctest timeout, ^C):
    those marked with a harness root whose owner process is gone. Returns their PIDs."""
    tmp = tempfile.gettempdir()

    def root_of(env: dict[str, str]) -> Optional[Path]:
        for key in ("AAMP_E2E_ROOT", "MAIL_CONFIG"):
            value = env.get(key, "")
            if value.startswith(os.path.join(tmp, ROOT_PREFIX)):
                rel = Path(value).relative_to(tmp)
                return Path(tmp) / rel.parts[0]
        return None

    def orphaned(env: dict[str, str]) -> bool:
        root = root_of(env)
        if root is None:
            return False
        try:
            owner = int((root / OWNER_FILE).read_text().strip())
        except (FileNotFoundError, ValueError):
            return True
        return not pid_alive(owner)

    victims = pids_marked(orphaned)
    if victims:
        # Postfix masters first (they would respawn their children), then the rest.
        kill_pids(victims, timeout=3.0)
    return victims


def _set_parent_death_signal() -> None:
    """preexec_fn: the child gets SIGKILL when the test process dies, however it dies."""
    libc = ctypes.CDLL(None, use_errno=True)
    PR_SET_PDEATHSIG = 1
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def make_root(prefix: str = ROOT_PREFIX) -> Path:
    """A fresh temporary directory that Postfix's users (postfix, nobody) can traverse,
    marked with our PID so that a later run can tell whether its owner still lives."""
    root = Path(tempfile.mkdtemp(prefix=prefix))
    root.chmod(0o755)
    (root / OWNER_FILE).write_text(f"{os.getpid()}\n")
    return root


# ---------------------------------------------------------------------------------------
# SMTP client results.


@dataclass
class SmtpResult:
    """How one SMTP transaction ended: the stage that gave the last answer and that
    answer. `accepted` only when the server took the message (250 after DATA)."""
    stage: str  # "connect" | "ehlo" | "auth" | "mail" | "rcpt" | "data" | "done"
    code: int
    text: str
    refused_recipients: dict[str, tuple[int, str]] = field(default_factory=dict)

    @property
    def accepted(self) -> bool:
        return self.stage == "done" and self.code == 250

    @property
    def queue_id(self) -> Optional[str]:
        m = re.search(r"queued as ([0-9A-Za-z]+)", self.text)
        return m.group(1) if m else None

    @property
    def permanent(self) -> bool:
        return 500 <= self.code < 600

    @property
    def transient(self) -> bool:
        return 400 <= self.code < 500

    def __str__(self) -> str:
        refused = f" refused={self.refused_recipients}" if self.refused_recipients else ""
        return f"{self.stage}: {self.code} {self.text}{refused}"


def _as_bytes(message: bytes | str | Message) -> bytes:
    if isinstance(message, bytes):
        return message
    if isinstance(message, str):
        return message.encode()
    return message.as_bytes(policy=email.policy.SMTP)


def smtp_send(host: str, port: int, sender: str, recipients: Sequence[str],
              message: bytes | str | Message, *, login: Optional[tuple[str, str]] = None,
              helo: str = "client.example.test", timeout: float = 30.0) -> SmtpResult:
    """One SMTP transaction, step by step, never raising for an SMTP answer: the result
    says where it ended. Network errors other than an SMTP reply are raised."""
    data = _as_bytes(message)
    try:
        client = smtplib.SMTP(timeout=timeout)
        code, text = client.connect(host, port)
    except smtplib.SMTPConnectError as e:
        return SmtpResult("connect", e.smtp_code, _text(e.smtp_error))
    except smtplib.SMTPServerDisconnected as e:
        return SmtpResult("connect", 421, str(e))
    try:
        if code != 220:
            return SmtpResult("connect", code, _text(text))
        code, text = client.ehlo(helo)
        if code != 250:
            return SmtpResult("ehlo", code, _text(text))
        if login is not None:
            try:
                code, text = client.login(*login)
            except smtplib.SMTPAuthenticationError as e:
                return SmtpResult("auth", e.smtp_code, _text(e.smtp_error))
            except smtplib.SMTPNotSupportedError as e:
                return SmtpResult("auth", 502, str(e))
        code, text = client.mail(sender)
        if code != 250:
            return SmtpResult("mail", code, _text(text))
        refused = {}
        for rcpt in recipients:
            code, text = client.rcpt(rcpt)
            if code not in (250, 251):
                refused[rcpt] = (code, _text(text))
        if len(refused) == len(recipients):
            code, text = next(iter(refused.values())) if refused else (503, "no recipients")
            return SmtpResult("rcpt", code, text, refused)
        try:
            code, text = client.data(data)
        except smtplib.SMTPDataError as e:
            return SmtpResult("data", e.smtp_code, _text(e.smtp_error), refused)
        stage = "done" if code == 250 else "data"
        return SmtpResult(stage, code, _text(text), refused)
    except smtplib.SMTPServerDisconnected as e:
        return SmtpResult("disconnected", 421, str(e))
    finally:
        try:
            client.quit()
        except (smtplib.SMTPException, OSError):
            client.close()


def _text(value: bytes | str) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


# ---------------------------------------------------------------------------------------
# Maildir reading.


def read_maildir(path: Path, headers_only: bool = False) -> list[EmailMessage]:
    """The messages of one Maildir (new/ and cur/), oldest delivery first; [] when the
    Maildir does not exist yet (Postfix creates it on first delivery). headers_only skips
    the bodies (fast, for counting by header in large Maildirs)."""
    files = []
    for sub in ("new", "cur"):
        d = path / sub
        if d.is_dir():
            files.extend(p for p in d.iterdir() if p.is_file())
    files.sort(key=lambda p: (p.stat().st_mtime, p.name))
    out = []
    for p in files:
        if headers_only:
            with open(p, "rb") as f:
                msg = email.parser.BytesHeaderParser(policy=email.policy.default).parse(f)
        else:
            msg = email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
        msg.harness_path = p  # where it came from, for failure messages
        out.append(msg)
    return out


def count_maildir(path: Path) -> int:
    n = 0
    for sub in ("new", "cur"):
        d = path / sub
        if d.is_dir():
            n += sum(1 for _ in d.iterdir())
    return n


# ---------------------------------------------------------------------------------------
# The Postfix instance.

# Our own master.cf: the services a Debian Postfix needs to receive, queue and deliver to
# Maildirs, none chrooted (a chrooted smtpd cannot reach a unix milter socket outside the
# spool). The listeners are added per instance with the chosen ports. smtpd offers STARTTLS
# (see main_cf), which needs tlsmgr even without a session cache: Postfix 3.7's smtpd takes
# its PRNG seed from it, and without it logs "no entropy for TLS key generation: disabling
# TLS support" and answers STARTTLS with 454.
_MASTER_CF_SERVICES = """\
pickup     unix  n       -       n       60      1       pickup
cleanup    unix  n       -       n       -       0       cleanup
qmgr       unix  n       -       n       300     1       qmgr
rewrite    unix  -       -       n       -       -       trivial-rewrite
bounce     unix  -       -       n       -       0       bounce
defer      unix  -       -       n       -       0       bounce
trace      unix  -       -       n       -       0       bounce
verify     unix  -       -       n       -       1       verify
flush      unix  n       -       n       1000?   0       flush
proxymap   unix  -       -       n       -       -       proxymap
proxywrite unix  -       -       n       -       1       proxymap
smtp       unix  -       -       n       -       -       smtp
relay      unix  -       -       n       -       -       smtp
showq      unix  n       -       n       -       -       showq
error      unix  -       -       n       -       -       error
retry      unix  -       -       n       -       -       error
discard    unix  -       -       n       -       -       discard
local      unix  -       n       n       -       -       local
virtual    unix  -       n       n       -       -       virtual
anvil      unix  -       -       n       -       1       anvil
scache     unix  -       -       n       -       1       scache
postlog    unix-dgram n  -       n       -       1       postlogd
tlsmgr     unix  -       -       n       1000?   1       tlsmgr
"""

_QUEUE_DIRS = ("maildrop", "incoming", "active", "deferred", "hold")


class PostfixInstance:
    """A Postfix instance of its own under `root` (made when None).

    milter: a Postfix milter spec ("inet:127.0.0.1:PORT", "unix:/path") used for both
        smtpd_milters and non_smtpd_milters, with milter_default_action = tempfail and
        milter_protocol = 6; None for no milter.
    mailboxes: addresses in `domain` that get a Maildir (virtual delivery as nobody).
    sasl_users: login -> password, for the submission port (Cyrus sasldb, PLAIN/LOGIN);
        a login without "@" is created in realm `domain`. AUTH works in clear and after
        STARTTLS, which both listeners offer with a fresh self-signed pair (tls_cert_file).
    extra_main: more main.cf settings (they win over the defaults here).
    """

    def __init__(self, root: Optional[Path] = None, *, milter: Optional[str] = None,
                 domain: str = "example.test", mailboxes: Iterable[str] = (),
                 sasl_users: Optional[dict[str, str]] = None,
                 extra_main: Optional[dict[str, str]] = None) -> None:
        reap_orphans()
        self.root = root if root is not None else make_root()
        self._own_root = root is None
        self.domain = domain
        self.milter = milter
        self.mailboxes = [m.lower() for m in mailboxes]
        self.sasl_users = dict(sasl_users or {})
        self.extra_main = dict(extra_main or {})
        self.smtp_port, self.submission_port = free_ports(2)
        self.config_dir = self.root / "etc"
        self.queue_dir = self.root / "spool"
        self.data_dir = self.root / "data"
        self.mail_base = self.root / "mail"
        # Debian's smtpd reads $config_directory/sasl/smtpd.conf whatever
        # cyrus_sasl_config_path says (measured with strace): keep both pointing there.
        self.sasl_dir = self.config_dir / "sasl"
        self.log_path = self.root / "postfix.log"
        # The self-signed pair smtpd offers STARTTLS with; a client that wants to verify
        # it can use tls_cert_file as its CA file (it names 127.0.0.1 and localhost).
        self.tls_cert_file = self.config_dir / "tls" / "rig-cert.pem"
        self.tls_key_file = self.config_dir / "tls" / "rig-key.pem"
        self._started = False
        self._written = False

    # -- configuration -------------------------------------------------------------------

    def main_cf(self) -> dict[str, str]:
        r = self.root
        settings = {
            "compatibility_level": "3.6",
            "config_directory": str(self.config_dir),
            "queue_directory": str(self.queue_dir),
            "data_directory": str(self.data_dir),
            "meta_directory": "/etc/postfix",
            "mail_owner": "postfix",
            "setgid_group": "postdrop",
            "myhostname": f"mx.{self.domain}",
            "mydomain": self.domain,
            "myorigin": "$mydomain",
            "inet_interfaces": "loopback-only",
            "inet_protocols": "ipv4",
            "mynetworks": "127.0.0.0/8",
            # No local delivery, aliases or NIS: the test domain is virtual.
            "mydestination": "",
            "alias_maps": "",
            "alias_database": "",
            "local_recipient_maps": "",
            "smtp_dns_support_level": "disabled",
            "smtpd_peername_lookup": "no",
            "biff": "no",
            # No syslog here: Postfix's own log file, allowed under the temp dir.
            "maillog_file": str(self.log_path),
            "maillog_file_prefixes": str(r),
            "virtual_mailbox_domains": self.domain,
            "virtual_mailbox_base": str(self.mail_base),
            "virtual_mailbox_maps": f"texthash:{self.config_dir / 'vmailbox'}",
            "virtual_uid_maps": f"static:{NOBODY_UID}",
            "virtual_gid_maps": f"static:{NOBODY_GID}",
            # Tests send many refused transactions on purpose: no tarpit.
            "smtpd_error_sleep_time": "0",
            "smtpd_soft_error_limit": "1000",
            "smtpd_hard_error_limit": "1000",
            "in_flow_delay": "0",
            "delay_warning_time": "0",
            "queue_run_delay": "5s",
            "minimal_backoff_time": "5s",
            "maximal_backoff_time": "10s",
            # Cyrus SASL from a sasldb of our own (no saslauthd).
            "smtpd_sasl_type": "cyrus",
            "smtpd_sasl_path": "smtpd",
            "cyrus_sasl_config_path": str(self.sasl_dir),
            "smtpd_sasl_security_options": "noanonymous",
            "broken_sasl_auth_clients": "no",
            # STARTTLS as Debian's package sets it up (/usr/share/postfix/main.cf.tls): a
            # self-signed pair and "may", on port 25 and on submission, so that clients meet
            # what operators run. No session cache: smtpd does without one.
            "smtpd_tls_cert_file": str(self.tls_cert_file),
            "smtpd_tls_key_file": str(self.tls_key_file),
            "smtpd_tls_security_level": "may",
            "smtpd_tls_session_cache_database": "",
            # As deploy/postfix-main.cf.snippet: only <CR><LF>.<CR><LF> ends DATA. The
            # exclusions default to $mynetworks, every client of this loopback rig, which
            # would switch it off for all tests (docs/operations.md, "Bare newlines").
            "smtpd_forbid_bare_newline": "yes",
            "smtpd_forbid_bare_newline_exclusions": "",
        }
        if self.milter:
            settings.update({
                "smtpd_milters": self.milter,
                "non_smtpd_milters": self.milter,
                # Said explicitly: Postfix >= 3.11 changed the default to shutdown.
                "milter_default_action": "tempfail",
                "milter_protocol": "6",
                "milter_connect_timeout": "5s",
                "milter_command_timeout": "20s",
                "milter_content_timeout": "30s",
            })
        settings.update(self.extra_main)
        return settings

    def master_cf(self) -> str:
        return (
            "# written by tests/e2e/postfix_harness.py\n"
            f"127.0.0.1:{self.smtp_port} inet n - n - - smtpd\n"
            f"127.0.0.1:{self.submission_port} inet n - n - - smtpd\n"
            "  -o syslog_name=postfix/submission\n"
            "  -o smtpd_sasl_auth_enable=yes\n"
            "  -o smtpd_client_restrictions=permit_sasl_authenticated,reject\n"
            + _MASTER_CF_SERVICES
        )

    def write_config(self) -> None:
        self.config_dir.mkdir(parents=True, exist_ok=True)
        self.queue_dir.mkdir(exist_ok=True)  # root-owned; `postfix check` fills it in
        self.queue_dir.chmod(0o755)
        self.data_dir.mkdir(exist_ok=True)
        shutil.chown(self.data_dir, "postfix", "postfix")
        self.data_dir.chmod(0o700)
        self.mail_base.mkdir(exist_ok=True)
        os.chown(self.mail_base, NOBODY_UID, NOBODY_GID)
        lines = [f"{k} = {v}" for k, v in self.main_cf().items()]
        (self.config_dir / "main.cf").write_text("\n".join(lines) + "\n")
        (self.config_dir / "master.cf").write_text(self.master_cf())
        self._write_mailbox_map()
        self._write_sasl()
        self._write_tls_pair()
        self.log_path.touch()
        self._written = True

    def _write_mailbox_map(self) -> None:
        lines = []
        for addr in self.mailboxes:
            local, _, dom = addr.partition("@")
            if dom != self.domain:
                raise HarnessError(f"mailbox {addr} is not in the test domain {self.domain}")
            lines.append(f"{addr} {dom}/{local}/")
        (self.config_dir / "vmailbox").write_text("\n".join(lines) + "\n")

    def _write_sasl(self) -> None:
        self.sasl_dir.mkdir(parents=True, exist_ok=True)
        db = self.sasl_dir / "sasldb2"
        (self.sasl_dir / "smtpd.conf").write_text(
            "pwcheck_method: auxprop\n"
            "auxprop_plugin: sasldb\n"
            "mech_list: PLAIN LOGIN\n"
            f"sasldb_path: {db}\n")
        for login, password in self.sasl_users.items():
            user, _, realm = login.partition("@")
            self._run([SASLPASSWD2, "-p", "-c", "-f", str(db), "-u", realm or self.domain, user],
                      input=password.encode(), what=f"saslpasswd2 {login}")
        if db.exists():
            shutil.chown(db, "root", "postfix")
            db.chmod(0o640)

    def _write_tls_pair(self) -> None:
        """A fresh self-signed pair, valid two days. smtpd reads it as root before it
        drops privileges, so the key stays root's alone."""
        self.tls_key_file.parent.mkdir(parents=True, exist_ok=True)
        self._run([OPENSSL, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                   "-subj", "/CN=rig", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                   "-keyout", str(self.tls_key_file), "-out", str(self.tls_cert_file)],
                  what="openssl req (the rig's TLS pair)")
        self.tls_key_file.chmod(0o600)
        self.tls_cert_file.chmod(0o644)

    # -- life cycle ----------------------------------------------------------------------

    @property
    def env(self) -> dict[str, str]:
        """The environment for Postfix commands aimed at this instance."""
        env = dict(os.environ)
        env["MAIL_CONFIG"] = str(self.config_dir)
        return env

    def start(self, timeout: float = 30.0) -> None:
        if not self._written:
            self.write_config()
        self._started = True  # from here on close() must clean up, even if start fails
        self._run([POSTFIX, "-c", str(self.config_dir), "start"], what="postfix start",
                  timeout=timeout)
        for port in (self.smtp_port, self.submission_port):
            wait_until(lambda: _port_open("127.0.0.1", port), timeout,
                       f"Postfix smtpd on 127.0.0.1:{port}", detail=self.log_tail)

    def master_pid(self) -> Optional[int]:
        try:
            pid = int((self.queue_dir / "pid" / "master.pid").read_text().split()[0])
        except (FileNotFoundError, ValueError, IndexError):
            return None
        return pid if pid_alive(pid) else None

    def processes(self) -> list[int]:
        """PIDs of every live process of this instance (master, daemons, postdrop...)."""
        cfg = str(self.config_dir)
        pids = set(pids_marked(lambda env: env.get("MAIL_CONFIG") == cfg))
        master = self.master_pid()
        if master:
            pids.add(master)
        return sorted(pids)

    def stop(self, timeout: float = 15.0) -> None:
        """Stops the instance: the master gets SIGTERM (what `postfix stop` sends) and takes
        its daemons down; whatever is left after `timeout` is killed by PID."""
        master = self.master_pid()
        if master:
            try:
                os.kill(master, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                wait_until(lambda: not self.processes(), timeout, "Postfix to stop")
            except TimeoutError:
                pass
        self.kill_leftovers()
        self._started = False

    def kill_leftovers(self) -> list[int]:
        left = self.processes()
        if left:
            master = self.master_pid()
            if master:  # the master first, or it respawns what we kill
                kill_pids([master], timeout=2.0)
            kill_pids(self.processes(), timeout=3.0)
        return left

    def flush(self) -> None:
        """Asks for a retry now: pickup rescans the maildrop, qmgr retries deferred mail."""
        self._run(["/usr/sbin/postkick", "-c", str(self.config_dir), "public", "pickup", "W"],
                  what="postkick pickup")
        self._run(["/usr/sbin/postqueue", "-c", str(self.config_dir), "-f"], what="postqueue -f")

    def reload(self) -> None:
        self._run([POSTFIX, "-c", str(self.config_dir), "reload"], what="postfix reload")

    def close(self) -> None:
        """Stops everything and removes the temp dir (kept when AAMP_E2E_KEEP is set)."""
        try:
            if self._started or self.processes():
                self.stop()
        finally:
            if self._own_root and not os.environ.get("AAMP_E2E_KEEP"):
                shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> "PostfixInstance":
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- sending ---------------------------------------------------------------------------

    def send(self, sender: str, recipients: Sequence[str] | str, message: bytes | str | Message,
             *, login: Optional[tuple[str, str]] = None, timeout: float = 30.0) -> SmtpResult:
        """One SMTP transaction: to the submission port with `login`, else to plain smtpd."""
        if isinstance(recipients, str):
            recipients = [recipients]
        port = self.submission_port if login else self.smtp_port
        return smtp_send("127.0.0.1", port, sender, recipients, message, login=login,
                         timeout=timeout)

    def send_submission(self, sender: str, recipients: Sequence[str] | str,
                        message: bytes | str | Message, login: tuple[str, str],
                        timeout: float = 30.0) -> SmtpResult:
        if isinstance(recipients, str):
            recipients = [recipients]
        return smtp_send("127.0.0.1", self.submission_port, sender, recipients, message,
                         login=login, timeout=timeout)

    @property
    def sendmail_command(self) -> list[str]:
        """sendmail(1) that injects into THIS instance (it passes non_smtpd_milters)."""
        return [SENDMAIL, "-C", str(self.config_dir)]

    def inject(self, sender: str, recipients: Sequence[str], message: bytes | str | Message,
               timeout: float = 30.0) -> subprocess.CompletedProcess:
        """Local submission with sendmail(1); returns the finished process (not raising)."""
        return subprocess.run(self.sendmail_command + ["-i", "-f", sender, "--", *recipients],
                               input=_as_bytes(message), capture_output=True, timeout=timeout,
                               env=self.env)

    # -- observing -------------------------------------------------------------------------

    def maildir(self, address: str) -> Path:
        local, _, dom = address.lower().partition("@")
        return self.mail_base / dom / local

    def messages(self, address: str, headers_only: bool = False) -> list[EmailMessage]:
        return read_maildir(self.maildir(address), headers_only)

    def count(self, address: str) -> int:
        return count_maildir(self.maildir(address))

    def wait_for_messages(self, address: str, count: int, timeout: float = 20.0) -> list[EmailMessage]:
        """Waits until `address` holds at least `count` messages; returns them all."""
        wait_until(lambda: self.count(address) >= count, timeout,
                   f"{count} message(s) in the Maildir of {address} (has {self.count(address)})",
                   detail=self.diagnostics)
        return self.messages(address)

    def queue_files(self) -> dict[str, list[str]]:
        """Queue files by queue (maildrop, incoming, active, deferred, hold)."""
        out = {}
        for q in _QUEUE_DIRS:
            d = self.queue_dir / q
            names = []
            if d.is_dir():
                for dirpath, _, files in os.walk(d):
                    names.extend(files)
            out[q] = names
        return out

    def queue_size(self, queues: Sequence[str] = _QUEUE_DIRS) -> int:
        files = self.queue_files()
        return sum(len(files[q]) for q in queues)

    def wait_kept_nothing(self, what: str, timeout: float = 20.0) -> None:
        """Waits until Postfix holds no message in incoming, active, deferred or hold: after a
        4xx the client keeps the mail. A queue file exists from the first accepted RCPT on;
        smtpd answers the client first and then has cleanup remove it, so the file can
        outlive the answer by a moment. One that stays fails."""
        queues = ("incoming", "active", "deferred", "hold")
        wait_until(lambda: self.queue_size(queues) == 0, timeout, f"Postfix to keep nothing: {what}",
                   detail=self.diagnostics)

    def wait_queue_empty(self, timeout: float = 20.0) -> None:
        """Waits until no message is in maildrop, incoming, active or deferred (hold is
        where quarantine puts mail on purpose, so it does not count)."""
        queues = ("maildrop", "incoming", "active", "deferred")
        wait_until(lambda: self.queue_size(queues) == 0, timeout, "the Postfix queue to drain",
                   detail=self.diagnostics)

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines: int = 40) -> str:
        tail = self.log_text().splitlines()[-lines:]
        return "--- Postfix log (last %d lines) ---\n%s" % (len(tail), "\n".join(tail))

    def log_size(self) -> int:
        try:
            return self.log_path.stat().st_size
        except FileNotFoundError:
            return 0

    def log_since(self, offset: int) -> str:
        try:
            with open(self.log_path, "rb") as f:
                f.seek(offset)
                return f.read().decode(errors="replace")
        except FileNotFoundError:
            return ""

    def wait_for_log(self, pattern: str, timeout: float = 20.0, since: int = 0) -> re.Match:
        """Waits until the log (from byte `since`) matches the regular expression."""
        rx = re.compile(pattern, re.M)
        return wait_until(lambda: rx.search(self.log_since(since)), timeout,
                          f"Postfix log line /{pattern}/", detail=self.log_tail)

    def diagnostics(self) -> str:
        q = {k: v for k, v in self.queue_files().items() if v}
        return f"queue: {q or 'empty'}\n{self.log_tail()}"

    # -- helpers ---------------------------------------------------------------------------

    def _run(self, argv: list[str], *, what: str, input: Optional[bytes] = None,
             timeout: float = 30.0) -> subprocess.CompletedProcess:
        try:
            p = subprocess.run(argv, input=input, capture_output=True, timeout=timeout, env=self.env)
        except subprocess.TimeoutExpired as e:
            raise HarnessError(f"{what}: no answer after {timeout}s") from e
        if p.returncode != 0:
            raise HarnessError(f"{what} failed ({p.returncode}):\n{p.stdout.decode(errors='replace')}"
                               f"{p.stderr.decode(errors='replace')}\n{self.log_tail()}")
        return p


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


# ---------------------------------------------------------------------------------------
# The real aamp-milter.


class MilterProcess:
    """The aamp-milter binary run in the foreground with a config file of its own.

    binary: the executable (default: env AAMP_MILTER).
    config: the config file's text; written to ROOT/aamp-milter.conf.
    args: the command line after the binary; "{config}" is replaced by the config path.
    ready: how to tell it listens: ("inet", host, port) or ("unix", path).
    The process gets SIGKILL if the test process dies, and AAMP_E2E_ROOT marks it for
    reap_orphans(). stdout and stderr go to ROOT/aamp-milter.log (appended on restart).
    """

    DEFAULT_ARGS = ("-f", "-c", "{config}")

    def __init__(self, root: Path, config: str, *, ready: tuple, binary: Optional[str] = None,
                 args: Sequence[str] = DEFAULT_ARGS, env: Optional[dict[str, str]] = None,
                 name: str = "aamp-milter") -> None:
        self.binary = binary or os.environ.get("AAMP_MILTER", "")
        if not self.binary or not os.access(self.binary, os.X_OK):
            raise HarnessError(f"no aamp-milter binary (AAMP_MILTER={self.binary!r})")
        self.root = Path(root)
        self.config_path = self.root / f"{name}.conf"
        self.log_path = self.root / f"{name}.log"
        self.config_path.write_text(config)
        self.args = [a.replace("{config}", str(self.config_path)) for a in args]
        self.ready = ready
        self.extra_env = dict(env or {})
        self.proc: Optional[subprocess.Popen] = None

    @property
    def pid(self) -> Optional[int]:
        return self.proc.pid if self.proc else None

    def start(self, timeout: float = 15.0) -> None:
        if self.proc and self.proc.poll() is None:
            raise HarnessError("milter already running")
        env = dict(os.environ)
        env.update(self.extra_env)
        env["AAMP_E2E_ROOT"] = str(self.root)
        with open(self.log_path, "ab") as log:
            log.write(f"--- start {time.strftime('%H:%M:%S')}: {self.binary} {' '.join(self.args)}\n".encode())
            log.flush()
            self.proc = subprocess.Popen([self.binary, *self.args], stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=subprocess.STDOUT, env=env,
                                         preexec_fn=_set_parent_death_signal)
        try:
            wait_until(self._listening, timeout, f"aamp-milter to listen on {self.ready}",
                       detail=self.log_tail)
        except BaseException:
            self.kill()
            raise

    def _listening(self) -> bool:
        if self.proc is None or self.proc.poll() is not None:
            code = self.proc.returncode if self.proc else None
            raise HarnessError(f"aamp-milter exited early (status {code})\n{self.log_tail()}")
        if self.ready[0] == "inet":
            return _port_open(self.ready[1], self.ready[2])
        path = self.ready[1]
        if not os.path.exists(path):
            return False
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(0.5)
            try:
                s.connect(path)
                return True
            except OSError:
                return False

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 10.0) -> Optional[int]:
        """SIGTERM, then SIGKILL after `timeout`; returns the exit status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return self.proc.returncode

    def kill(self) -> None:
        """SIGKILL, as a crash would: no cleanup in the milter."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)

    def signal(self, signum: int) -> None:
        if self.proc is None or self.proc.poll() is not None:
            raise HarnessError("milter not running")
        self.proc.send_signal(signum)

    def close(self) -> None:
        self.stop()

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines: int = 40) -> str:
        tail = self.log_text().splitlines()[-lines:]
        return "--- aamp-milter log (last %d lines) ---\n%s" % (len(tail), "\n".join(tail))

    # Resource figures for soak tests.
    def rss_kb(self) -> int:
        return _status_field(self.pid, "VmRSS")

    def threads(self) -> int:
        return _status_field(self.pid, "Threads")

    def fd_count(self) -> int:
        return len(os.listdir(f"/proc/{self.pid}/fd"))

    def fd_kinds(self) -> dict[str, int]:
        """Open descriptors by kind: "socket", "pipe", "anon_inode:[eventfd]", or the
        file's path (database, WAL, log) — to tell a pool from a leak."""
        kinds: dict[str, int] = {}
        d = f"/proc/{self.pid}/fd"
        for fd in os.listdir(d):
            try:
                target = os.readlink(f"{d}/{fd}")
            except FileNotFoundError:
                continue
            kind = target.split(":[", 1)[0] if target.startswith(("socket:", "pipe:")) else target
            kinds[kind] = kinds.get(kind, 0) + 1
        return dict(sorted(kinds.items()))


def _status_field(pid: Optional[int], name: str) -> int:
    if pid is None:
        raise HarnessError("no process")
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1])
    raise HarnessError(f"/proc/{pid}/status has no {name}")


# ---------------------------------------------------------------------------------------
# Message building.


def make_message(sender: str, to: str, subject: str = "test", body: str = "hello\n", *,
                 headers: Optional[dict[str, str]] = None, message_id: Optional[str] = None) -> EmailMessage:
    """A plain RFC 5322 message; `headers` are added in order (X-AAMP-* and the like)."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = email.utils.formatdate(localtime=False)
    msg["Message-ID"] = message_id or email.utils.make_msgid(domain="client.example.test")
    for k, v in (headers or {}).items():
        msg[k] = v
    msg.set_content(body)
    return msg



def join_all(threads: Sequence[threading.Thread], timeout: float) -> None:
    """Joins threads within one overall deadline; raises if one is still running."""
    deadline = time.monotonic() + timeout
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    alive = [t.name for t in threads if t.is_alive()]
    if alive:
        raise TimeoutError(f"threads still running after {timeout}s: {alive}")
