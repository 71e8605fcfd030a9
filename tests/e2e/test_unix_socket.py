"""test_unix_socket — aamp-milter on a unix socket (Socket unix:PATH) behind a real Postfix.
Postfix's smtpd and cleanup run as user postfix: with `SocketOwner root:postfix` and
`SocketMode 0660` they reach the milter and get its decisions; with a socket they may not
write to, Postfix applies milter_default_action (tempfail) to every message
(docs/configuration.md, "SocketMode, SocketOwner").
"""

import grp
import os
import stat
import unittest

import aamp_stack as s
import postfix_harness as h

AGENT = f"agent@{s.DOMAIN}"
SENDER = f"sender@{s.DOMAIN}"
REACHABLE = ["SocketMode 0660", "SocketOwner root:postfix"]


class UnixSocketThroughPostfix(s.StackTestCase):
    AGENTS = [AGENT]
    USERS = [SENDER]
    UNIX_SOCKET = True
    MILTER_CONFIG = REACHABLE

    def setUp(self):
        if self.stack.extra_config != REACHABLE or not self.stack.milter.running():
            self.stack.restart_milter(REACHABLE)

    def test_socket_file_has_the_configured_mode_and_group(self):
        st = os.stat(self.stack.socket_path)
        self.assertTrue(stat.S_ISSOCK(st.st_mode))
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o660)
        self.assertEqual(grp.getgrgid(st.st_gid).gr_name, "postfix")

    def test_decisions_reach_smtp_clients_over_the_unix_socket(self):
        refused = self.pf.send("bob@other.test", AGENT, s.dispatch("bob@other.test", AGENT))
        self.assertRefused(refused, 550, "5.7.1", "unauthenticated dispatch over a unix socket")
        self.stack.ctl.allow_sender(AGENT, SENDER)
        msg = s.dispatch(SENDER, AGENT)
        self.assertAccepted(self.submit(SENDER, AGENT, msg), "allowed dispatch")
        got = h.wait_until(lambda: [m for m in self.pf.messages(AGENT)
                                    if m["Message-ID"] == msg["Message-ID"]], 20,
                           "the dispatch in the agent's Maildir", detail=self.stack.diagnostics)
        self.assertEqual(len(self.authres(got[0])), 1)

    def test_pair_respond_through_non_smtpd_milters_over_the_unix_socket(self):
        code = self.stack.ctl.issue_code(AGENT)
        request = s.pair_request(SENDER, AGENT, code)
        self.assertAccepted(self.submit(SENDER, AGENT, request), "pair.request")
        reply = self.stack.wait_reply(SENDER, request["X-AAMP-TaskId"])
        self.assertEqual(reply["X-AAMP-Status"], "completed")

    def test_a_socket_postfix_may_not_write_to_tempfails_everything(self):
        self.stack.restart_milter(["SocketMode 0660", "SocketOwner root:root"])
        since = self.pf.log_size()
        result = self.pf.send("bob@other.test", AGENT,
                              h.make_message("bob@other.test", AGENT, "plain mail"))
        self.assertTrue(result.transient, f"{result}\n{self.stack.diagnostics()}")
        self.pf.wait_for_log(r"connect to Milter service unix:\S+: Permission denied", since=since)


if __name__ == "__main__":
    unittest.main()
