#!/usr/bin/env python3
# make_corpus.py — writes tests/corpus/NNN-name.eml, the adversarial corpus. The .eml files
# are the source of truth that tests/unit/corpus_test.cpp reads; this script is how they were
# written (many hold raw CR, NUL, invalid UTF-8 or 60 KB values, which no editor keeps
# intact). Edit a case here and rerun: `python3 tests/corpus/tools/make_corpus.py`. It
# rewrites every file it knows and removes *.eml files it does not. Format: ../README.md.
import base64
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.dirname(HERE)

MALFORMED = "554 5.6.0 malformed AAMP message: "
LOCK_UNTIL = "2026-09-21T14:28:20Z"  # the scene's now + PairLockout (900 s)
CASES = []
NUMBERS = set()


def b(x):
    return x if isinstance(x, bytes) else x.encode("utf-8")


def b64(data):
    return base64.urlsafe_b64encode(b(data)).rstrip(b"=").decode()


def header_block(headers):
    out = b""
    for h in headers:
        if isinstance(h, bytes):  # a raw line (or lines), written as is
            out += h
        else:
            name, value = h
            out += b(name) + b": " + b(value) + b"\n"
    return out


def message(intent="task.dispatch", task="corpus-task-1", frm="Alice <alice@example.com>", version="1.1",
            extra=(), before=(), msgid="<corpus-1@example.com>", omit=(), to="agent@example.net",
            subject="[AAMP Task] corpus", body=b"Please run the nightly build.\n"):
    """An AAMP message: the usual headers, the X-AAMP trio, then `extra` (pairs or raw lines)."""
    h = [("Received", "from client.example.org (client.example.org [198.51.100.7]) by mx.example.net"),
         ("From", frm), ("To", to), ("Subject", subject), ("Date", "Mon, 21 Sep 2026 14:10:00 +0000"),
         ("Message-ID", msgid), ("X-AAMP-Version", version), ("X-AAMP-Intent", intent), ("X-AAMP-TaskId", task)]
    h = [x for x in h if x[0] not in omit and x[1] is not None]
    return header_block(list(before) + h + list(extra)) + b"\n" + b(body)


def plain(extra=(), frm="Bob <bob@example.com>", body=b"Hello.\n"):
    h = [("From", frm), ("To", "agent@example.net"), ("Subject", "lunch"), ("Message-ID", "<plain-1@example.com>")]
    return header_block(h + list(extra)) + b"\n" + b(body)


def pair_request(code, frm="Newbie <newbie@example.org>", task="pair-task-1", msgid="<pair-1@example.org>",
                 extra=(), omit=(), body=None, **kw):
    ex = ([("X-AAMP-Pair-Code", code)] if code is not None else []) + list(extra)
    if body is None:
        body = b"AAMP Pair Request\n\nPair code: " + b(code or "") + b"\n"
    return message("pair.request", task=task, frm=frm, msgid=msgid, extra=ex, omit=omit,
                   subject="[AAMP Pair] request", body=body, **kw)


NEWBIE = dict(mail_from="newbie@example.org", auth="newbie@example.org")


def case(num, slug, category, why, msg, *, action, verdict, audit=None, reply=None, rcpt=("agent@example.net",),
         mail_from="alice@example.com", auth="alice@example.com", client=None, delete=(), outbox=None,
         in_reply_to=None, removed=0, vheader=None, known_bug=None, blackbox=None, clock=None, fault=None):
    if num in NUMBERS:
        sys.exit(f"duplicate case number {num}")
    NUMBERS.add(num)
    lines = [("Category", category), ("Why", why)]
    lines += [("Rcpt", r) for r in rcpt]
    lines.append(("Mail-From", mail_from))
    if auth:
        lines.append(("Auth-User", auth))
    if client:
        lines.append(("Client-Addr", client))
    if clock:
        lines.append(("Clock", f"+{clock}"))
    if fault:
        lines.append(("Store-Fault", fault))
    lines.append(("Expect-Action", action))
    if reply is not None:
        lines.append(("Expect-Reply", reply))
    lines.append(("Expect-Verdict", verdict))
    if audit is None:
        audit = [verdict] if verdict not in ("not-aamp", "unprotected", "store-error") else []
    lines.append(("Expect-Audit", ", ".join(audit) if audit else "none"))
    lines += [("Expect-Delete-Rcpt", d) for d in delete]
    if outbox is not None:
        lines += [("Expect-Outbox", o) for o in outbox] if outbox else [("Expect-Outbox", "none")]
    if in_reply_to is not None:
        lines.append(("Expect-In-Reply-To", in_reply_to or "none"))
    if removed:
        lines.append(("Expect-Removed-Headers", str(removed)))
    if vheader is not None:
        lines.append(("Expect-Verdict-Header", vheader))
    if known_bug:
        lines.append(("Known-Bug", known_bug))
    if blackbox:
        lines.append(("Blackbox", blackbox if blackbox.startswith("dropped: ") else "skip " + blackbox))
    if any("\n" in str(v) or "\r" in str(v) for _, v in lines):
        sys.exit(f"{num}: a pseudo-header value holds a line break")
    head = "".join(f"X-Test-{k}: {v}\n" for k, v in lines)
    name = f"{num:03d}-{slug}.eml" if isinstance(num, int) else f"{num}-{slug}.eml"
    CASES.append((name, head.encode() + b(msg)))


# Shorthands for the usual outcomes.
def invalid(num, slug, category, why, msg, first_violation, **kw):
    kw.setdefault("action", "reject")
    case(num, slug, category, why, msg, verdict="invalid", reply=MALFORMED + first_violation, **kw)


def allow(num, slug, category, why, msg, **kw):
    case(num, slug, category, why, msg, action="accept", verdict="allow", **kw)


def untrusted(num, slug, category, why, msg, reply="550 5.7.1 sender alice@example.com is not authenticated", **kw):
    kw.setdefault("auth", None)
    case(num, slug, category, why, msg, action="reject", verdict="untrusted", reply=reply, **kw)


def deny(num, slug, category, why, msg, reply, **kw):
    case(num, slug, category, why, msg, action="reject", verdict="deny", reply="550 5.7.1 " + reply, **kw)


def dup(field):
    return f"{field} appears more than once; readers could act on different copies"


def not_printable(field):
    return f"{field} must be printable ASCII without spaces"


NO_RULE = "may not send task.dispatch to agent@example.net: no sender rule allows it"
PARTNER = dict(mail_from="dev@partner.example", auth="dev@partner.example")
PARTNER_FROM = "Dev <dev@partner.example>"
CTX_P1 = ("X-AAMP-Dispatch-Context", "project=p1")
NUL_SKIP = "the milter protocol passes header values as NUL-terminated strings: the milter sees the value cut at the NUL"

# =======================================================================================
# control: the baseline the hostile files are measured against.

allow(1, "valid-dispatch-smtp-auth", "control",
      "baseline: an authenticated dispatch from an allowed sender is delivered with our verdict header",
      message(extra=[("X-AAMP-Priority", "normal")]),
      vheader="mx.example.net; aamp=pass header.from=alice@example.com policy.intent=task.dispatch policy.rcpt=agent@example.net policy.rule=")
allow(2, "valid-dispatch-dkim-from-trusted-verifier", "control",
      "baseline: no SMTP AUTH, but the trusted upstream verifier says dkim=pass for the From domain",
      message(before=[("Authentication-Results", "border.example.net; dkim=pass header.d=example.com header.s=s1")]),
      auth=None, vheader='policy.trust="dkim=example.com"')
allow(3, "valid-dispatch-internal-host", "control",
      "baseline: a client inside InternalHosts needs no authentication",
      message(), auth=None, client="10.20.30.40", vheader="policy.trust=internal")
allow(4, "valid-dispatch-partner-context", "control",
      "baseline: @partner.example may dispatch with project=p1 (the rule's context)",
      message(frm=PARTNER_FROM, extra=[CTX_P1]), **PARTNER)
case(5, "plain-mail-not-aamp", "control",
     "baseline: mail without X-AAMP markers is not ours: accepted untouched, no audit row, no store access",
     plain(), action="accept", verdict="not-aamp", vheader="none")
allow(6, "task-ack-from-stranger-unguarded", "control",
      "task.ack is not a guarded intent: it needs neither trust nor a sender rule",
      message("task.ack", frm="Stranger <stranger@elsewhere.example>"), mail_from="stranger@elsewhere.example",
      auth=None)
deny(7, "unknown-sender-authenticated", "control",
     "an authenticated sender without a sender rule is refused with a sentence saying what to do",
     message(frm="Carol <carol@example.com>"), "carol@example.com " + NO_RULE,
     mail_from="carol@example.com", auth="carol@example.com")
case(8, "aamp-to-unprotected-recipient", "control",
     "AAMP mail to a recipient that is no protected mailbox is not enforced (and not audited)",
     message(frm="Stranger <stranger@elsewhere.example>", to="bob@example.net"), rcpt=["bob@example.net"],
     mail_from="stranger@elsewhere.example", auth=None, action="accept", verdict="unprotected", vheader="none")

# =======================================================================================
# duplicate: SDKs read the first copy; a second copy could be read by another reader.

invalid(20, "duplicate-intent-same-value", "duplicate",
        "two identical X-AAMP-Intent fields: still a duplicate (readers may index either)",
        message(extra=[("X-AAMP-Intent", "task.dispatch")]), dup("X-AAMP-Intent"))
invalid(21, "duplicate-intent-ack-then-dispatch", "duplicate",
        "first copy task.ack (unguarded) and a second task.dispatch: judged on one, acted on the other",
        message("task.ack", extra=[("X-AAMP-Intent", "task.dispatch")], frm="Mallory <mallory@evil.example>"),
        dup("X-AAMP-Intent"), mail_from="mallory@evil.example", auth=None)
invalid(22, "duplicate-intent-lowercase-name", "duplicate",
        "the second copy spelled x-aamp-intent: names are case-insensitive, so it is a duplicate",
        message("task.ack", extra=[("x-aamp-intent", "task.dispatch")]), dup("X-AAMP-Intent"))
invalid(23, "duplicate-intent-uppercase-name", "duplicate",
        "the second copy spelled X-AAMP-INTENT",
        message("task.ack", extra=[("X-AAMP-INTENT", "task.dispatch")]), dup("X-AAMP-Intent"))
invalid(24, "duplicate-taskid-conflict", "duplicate",
        "two different TaskIds: a reply or a result could be tied to either",
        message(extra=[("X-AAMP-TaskId", "other-task")]), dup("X-AAMP-TaskId"))
invalid(25, "duplicate-version-1-1-and-2-0", "duplicate",
        "versions 1.1 and 2.0 at once: a 2.0 reader would apply other rules",
        message(extra=[("X-AAMP-Version", "2.0")]), dup("X-AAMP-Version"))
invalid(26, "duplicate-pair-code", "duplicate",
        "two pair codes (the live one and a guess): one message must not try two codes, nor be judged on one",
        pair_request("LiveCode-A1b2C3", extra=[("X-AAMP-Pair-Code", "Guess-0001")]), dup("X-AAMP-Pair-Code"),
        outbox=[], **NEWBIE)
invalid(27, "duplicate-dispatch-context", "duplicate",
        "project=p1 then project=p3: the rule would be checked on one, the agent could read the other",
        message(frm=PARTNER_FROM, extra=[CTX_P1, ("X-AAMP-Dispatch-Context", "project=p3")]),
        dup("X-AAMP-Dispatch-Context"), **PARTNER)
invalid(28, "duplicate-dispatch-context-rules", "duplicate",
        "two rule sets in a pair.request: which one narrows the grant would depend on the reader",
        pair_request("LiveCode-A1b2C3", extra=[("X-AAMP-Dispatch-Context-Rules", b64('{"project":["p1"]}')),
                                               ("X-AAMP-Dispatch-Context-Rules", b64('{}'))]),
        dup("X-AAMP-Dispatch-Context-Rules"), outbox=[], **NEWBIE)
invalid(29, "duplicate-status", "duplicate", "task.result with Status completed and rejected",
        message("task.result", extra=[("X-AAMP-Status", "completed"), ("X-AAMP-Status", "rejected")]),
        dup("X-AAMP-Status"))
invalid(30, "duplicate-priority", "duplicate", "Priority normal and urgent",
        message(extra=[("X-AAMP-Priority", "normal"), ("X-AAMP-Priority", "urgent")]), dup("X-AAMP-Priority"))
invalid(31, "duplicate-expires-at-future-and-past", "duplicate",
        "a future Expires-At first (we would deliver) and a past one second (a client would drop it), or the reverse",
        message(extra=[("X-AAMP-Expires-At", "2099-01-01T00:00:00Z"), ("X-AAMP-Expires-At", "2020-01-01T00:00:00Z")]),
        dup("X-AAMP-Expires-At"))
invalid(32, "duplicate-session-key", "duplicate", "two Session-Keys",
        message(extra=[("X-AAMP-Session-Key", "s1"), ("X-AAMP-Session-Key", "s2")]), dup("X-AAMP-Session-Key"))
invalid(33, "duplicate-parenttaskid", "duplicate", "two ParentTaskIds",
        message(extra=[("X-AAMP-ParentTaskId", "p1"), ("X-AAMP-ParentTaskId", "p2")]), dup("X-AAMP-ParentTaskId"))
invalid(34, "duplicate-stream-id", "duplicate", "task.stream.opened with two Stream-Ids",
        message("task.stream.opened", extra=[("X-AAMP-Stream-Id", "a"), ("X-AAMP-Stream-Id", "b")]),
        dup("X-AAMP-Stream-Id"))
invalid(35, "duplicate-errormsg", "duplicate", "two ErrorMsg texts",
        message("task.result", extra=[("X-AAMP-Status", "rejected"), ("X-AAMP-ErrorMsg", "a"), ("X-AAMP-ErrorMsg", "b")]),
        dup("X-AAMP-ErrorMsg"))
invalid(36, "duplicate-card-summary", "duplicate", "card.response with two Card-Summary fields",
        message("card.response", extra=[("X-AAMP-Card-Summary", "a"), ("X-AAMP-Card-Summary", "b")]),
        dup("X-AAMP-Card-Summary"))
invalid(37, "duplicate-structuredresult", "duplicate", "two StructuredResult values",
        message("task.result", extra=[("X-AAMP-Status", "completed"), ("X-AAMP-StructuredResult", b64('{"ok":true}')),
                                      ("X-AAMP-StructuredResult", b64('{"ok":false}'))]),
        dup("X-AAMP-StructuredResult"))
invalid(38, "duplicate-suggestedoptions", "duplicate", "task.help_needed with two option lists",
        message("task.help_needed", extra=[("X-AAMP-SuggestedOptions", "a|b"), ("X-AAMP-SuggestedOptions", "c")]),
        dup("X-AAMP-SuggestedOptions"))
invalid(39, "duplicate-legacy-output", "duplicate", "the legacy Output field twice (SDKs still read it)",
        message("task.result", extra=[("X-AAMP-Status", "completed"), ("X-AAMP-Output", "a"), ("X-AAMP-Output", "b")]),
        dup("X-AAMP-Output"))
invalid(40, "duplicate-legacy-question", "duplicate", "the legacy Question field twice",
        message("task.help_needed", extra=[("X-AAMP-Question", "a"), ("X-AAMP-Question", "b")]), dup("X-AAMP-Question"))
invalid(41, "duplicate-legacy-blockedreason", "duplicate", "the legacy BlockedReason field twice",
        message("task.help_needed", extra=[("X-AAMP-BlockedReason", "a"), ("X-AAMP-BlockedReason", "b")]),
        dup("X-AAMP-BlockedReason"))
invalid(42, "duplicate-intent-space-before-colon", "duplicate",
        "a second intent written 'X-AAMP-Intent :' (obs-syntax some readers accept): a copy, and a malformed name",
        message("task.ack", extra=[b"X-AAMP-Intent : task.dispatch\n"]),
        "X-AAMP-Intent: a header field name only resembles X-AAMP-Intent (white space or look-alike letters)")
invalid(43, "intent-only-with-space-before-colon", "duplicate",
        "the only intent is 'X-AAMP-Intent :': a strict reader sees no intent, an obs-syntax reader a dispatch",
        message(omit=["X-AAMP-Intent"], extra=[b"X-AAMP-Intent : task.dispatch\n"]),
        "X-AAMP-Intent: a header field name only resembles X-AAMP-Intent (white space or look-alike letters)")
invalid(44, "duplicate-everything", "duplicate",
        "every required field twice with different values: the first duplicate in header order is reported",
        message(extra=[("X-AAMP-Version", "1.1"), ("X-AAMP-Intent", "task.ack"), ("X-AAMP-TaskId", "t2")]),
        dup("X-AAMP-Version"))
allow(45, "duplicate-unknown-xaamp-field-ignored", "duplicate",
      "unknown X-AAMP-* fields must be ignored (and kept), even when repeated",
      message(extra=[("X-AAMP-Future-Thing", "a"), ("X-AAMP-Future-Thing", "b")]))
case(46, "duplicate-message-id-pair-request", "duplicate",
     "two Message-IDs on a pair.request: Message-ID is no AAMP field; the reply threads to the first (a courtesy only)",
     pair_request("LiveCode-A1b2C3", extra=[("Message-ID", "<second@example.org>")]),
     action="discard", verdict="pair-completed", outbox=["completed"], in_reply_to="<pair-1@example.org>", **NEWBIE)
invalid(47, "duplicate-version-mixed-case-names", "duplicate", "x-aamp-version and X-AAMP-VERSION",
        message(omit=["X-AAMP-Version"], extra=[("x-aamp-version", "1.1"), ("X-AAMP-VERSION", "1.1")]),
        dup("X-AAMP-Version"))
invalid(48, "duplicate-intent-kelvin-sign-copy", "duplicate",
        "a second TaskId whose name uses U+212A KELVIN SIGN for 'K': Unicode case folding makes it X-AAMP-TaskId",
        message(extra=[b"X-AAMP-Tas\xe2\x84\xaaId: other-task\n"]),
        "X-AAMP-TaskId: a header field name only resembles X-AAMP-TaskId (white space or look-alike letters)")

# =======================================================================================
# encoding: RFC 2047 encoded-words, homoglyphs, invisible characters, odd white space.

invalid(50, "intent-encoded-word-base64", "encoding",
        "intent as =?utf-8?b?...?= (decodes to task.dispatch): a decoding reader sees a dispatch, a raw one garbage",
        message("=?utf-8?b?dGFzay5kaXNwYXRjaA==?="), "X-AAMP-Intent must not contain an RFC 2047 encoded-word")
invalid(51, "intent-encoded-word-q", "encoding", "intent as =?utf-8?q?task.dispatch?=",
        message("=?utf-8?q?task.dispatch?="), "X-AAMP-Intent must not contain an RFC 2047 encoded-word")
invalid(52, "taskid-encoded-word", "encoding", "TaskId as an encoded-word: the echoed id would differ by reader",
        message(task="=?utf-8?q?task-1?="), "X-AAMP-TaskId must not contain an RFC 2047 encoded-word")
invalid(53, "pair-code-encoded-word", "encoding",
        "a pair code hidden in an encoded-word: never decoded, refused, the code is not tried",
        pair_request("=?utf-8?q?LiveCode-A1b2C3?="), "X-AAMP-Pair-Code must not contain an RFC 2047 encoded-word",
        outbox=[], **NEWBIE)
invalid(54, "intent-cyrillic-a", "encoding", "tаsk.dispatch with U+0430 CYRILLIC SMALL LETTER A",
        message("t\u0430sk.dispatch"), not_printable("X-AAMP-Intent"))
invalid(55, "intent-fullwidth-dot", "encoding", "task\uff0edispatch with U+FF0E FULLWIDTH FULL STOP (NFKC maps it to '.')",
        message("task\uff0edispatch"), not_printable("X-AAMP-Intent"))
invalid(56, "intent-zero-width-space", "encoding", "task.dis\u200bpatch with U+200B inside",
        message("task.dis\u200bpatch"), not_printable("X-AAMP-Intent"))
invalid(57, "intent-trailing-nbsp", "encoding", "task.dispatch followed by U+00A0 NO-BREAK SPACE (a Unicode strip() removes it)",
        message("task.dispatch\u00a0"), not_printable("X-AAMP-Intent"))
invalid(58, "intent-leading-nbsp", "encoding", "U+00A0 before task.dispatch",
        message("\u00a0task.dispatch"), not_printable("X-AAMP-Intent"))
invalid(59, "intent-trailing-space", "encoding",
        "'task.dispatch ' : Python keeps the space, others strip it; strict mode refuses trailing white space",
        message(extra=[], omit=["X-AAMP-Intent"], before=[b"X-AAMP-Intent: task.dispatch \n"]),
        "X-AAMP-Intent has trailing white space")
invalid(60, "intent-trailing-tab", "encoding", "'task.dispatch<TAB>'",
        message(omit=["X-AAMP-Intent"], before=[b"X-AAMP-Intent: task.dispatch\t\n"]),
        "X-AAMP-Intent has trailing white space")
allow(61, "intent-leading-whitespace", "encoding",
      "white space after the colon is not part of the value (RFC 5322 unstructured): every reader sees task.dispatch",
      message(omit=["X-AAMP-Intent"], extra=[b"X-AAMP-Intent:   \t task.dispatch\n"]))
allow(62, "intent-folded-before-value", "encoding",
      "the value starts on a continuation line: unfolding gives task.dispatch for every reader",
      message(omit=["X-AAMP-Intent"], extra=[b"X-AAMP-Intent:\n task.dispatch\n"]))
invalid(63, "intent-folded-inside", "encoding", "task.<fold>dispatch: unfolding leaves a space inside the token",
        message(omit=["X-AAMP-Intent"], extra=[b"X-AAMP-Intent: task.\n dispatch\n"]), not_printable("X-AAMP-Intent"))
invalid(64, "taskid-cyrillic-homoglyph", "encoding", "a TaskId with a Cyrillic 'о' in it",
        message(task="c\u043erpus-task-1"), not_printable("X-AAMP-TaskId"))
invalid(65, "taskid-zero-width-joiner", "encoding", "a TaskId with U+200D inside",
        message(task="corpus\u200d-task-1"), not_printable("X-AAMP-TaskId"))
invalid(66, "taskid-trailing-nbsp", "encoding", "a TaskId ending in U+00A0",
        message(task="corpus-task-1\u00a0"), not_printable("X-AAMP-TaskId"))
invalid(67, "intent-name-dotless-i", "encoding",
        "the only intent is named X-AAMP-\u0131ntent (U+0131 upper-cases to I): a Unicode-folding reader sees an intent",
        message(omit=["X-AAMP-Intent"], extra=[b"X-AAMP-\xc4\xb1ntent: task.dispatch\n"]),
        "X-AAMP-Intent: a header field name only resembles X-AAMP-Intent (white space or look-alike letters)")
invalid(68, "name-long-s-session-key", "encoding", "X-AAMP-\u017fession-Key (U+017F LATIN SMALL LETTER LONG S)",
        message(extra=[b"X-AAMP-\xc5\xbfession-Key: s1\n"]),
        "X-AAMP-Session-Key: a header field name only resembles X-AAMP-Session-Key (white space or look-alike letters)")
case(69, "names-all-fullwidth-not-aamp", "encoding",
     "every marker spelled with fullwidth letters: no reader matches these names as X-AAMP fields, so the mail is not AAMP",
     plain(extra=[("\uff38-AAMP-Intent", "task.dispatch"), ("\uff38-AAMP-TaskId", "t1"), ("\uff38-AAMP-Version", "1.1")]),
     action="accept", verdict="not-aamp")
invalid(70, "intent-name-zero-width", "encoding",
        "X-AAMP-Int<U+200B>ent next to a real TaskId: a name outside RFC 5322 ftext in an AAMP message",
        message(omit=["X-AAMP-Intent"], extra=[b"X-AAMP-Int\xe2\x80\x8bent: task.dispatch\n"]),
        "X-AAMP-Int???ent: a header field name has a character outside RFC 5322 ftext")
untrusted(71, "from-encoded-word-display-name", "encoding",
          "the display name decodes to alice@example.com, the address is mallory's: the address decides",
          message(frm="=?utf-8?q?alice=40example.com?= <mallory@evil.example>"),
          reply="550 5.7.1 sender mallory@evil.example is not authenticated (authenticated as alice@example.com, which may not send as mallory@evil.example)",
          auth="alice@example.com")
invalid(72, "from-encoded-word-as-address", "encoding",
        "From is only an encoded-word that decodes to an address: no mailbox for a raw reader",
        message(frm="=?utf-8?q?alice=40example.com?="), "the From header must hold exactly one mailbox")
invalid(73, "from-encoded-word-local-part", "encoding",
        "=?utf-8?q?alice?=@example.com: an encoded-word is not allowed in an addr-spec (RFC 2047 §5), yet some decode it",
        message(frm="=?utf-8?q?alice?=@example.com"), "the From header address has an invalid local part")
untrusted(74, "from-cyrillic-local-part", "encoding",
          "\u0430lice@example.com (Cyrillic a): looks like alice, is not; the login alice@example.com may not use it",
          message(frm="\u0430lice@example.com"),
          reply="550 5.7.1 sender ??lice@example.com is not authenticated (authenticated as alice@example.com",
          auth="alice@example.com")
untrusted(75, "from-homoglyph-domain-dkim", "encoding",
          "alice@ex\u0430mple.com with a dkim=pass for example.com: the IDN is another domain (xn--...), not aligned",
          message(frm="alice@ex\u0430mple.com",
                  before=[("Authentication-Results", "border.example.net; dkim=pass header.d=example.com")]),
          reply="550 5.7.1 sender alice@xn--exmple-4nf.com is not authenticated")
IDNA_CHANGED = "the From header domain changes under IDNA conversion (look-alike characters or a malformed A-label)"
invalid(76, "from-fullwidth-dot-domain-dkim", "encoding",
        "alice@example\uff0ecom: IDNA maps U+FF0E to '.', so GMime returns alice@example.com while the header (and "
        "a DKIM/DMARC verifier, and the agent) see another domain; a signer for example.com that lets users write any "
        "foreign From would lend its trust. The From must be refused, not folded onto example.com",
        message(frm="alice@example\uff0ecom",
                before=[("Authentication-Results", "border.example.net; dkim=pass header.d=example.com")]),
        IDNA_CHANGED, auth=None)
invalid(77, "from-zero-width-space-domain", "encoding",
        "alice@exam<U+200B>ple.com with dkim=pass for example.com: UTS 46 drops U+200B, so it became alice@example.com",
        message(frm="alice@exam\u200bple.com",
                before=[("Authentication-Results", "border.example.net; dkim=pass header.d=example.com")]),
        IDNA_CHANGED, auth=None)
invalid(78, "from-soft-hyphen-domain-auth", "encoding",
        "alice@exam<U+00AD>ple.com: a soft hyphen is dropped by IDNA mapping; refuse rather than judge another string",
        message(frm="alice@exam\u00adple.com"), IDNA_CHANGED)
invalid(84, "from-malformed-a-label", "encoding",
        "alice@xn--example.com: GMime decodes the malformed A-label and re-encodes it as xn--kxakid7f, another domain",
        message(frm="alice@xn--example.com"), IDNA_CHANGED)
invalid(85, "from-fullwidth-letter-domain", "encoding",
        "alice@\uff25xample.com (fullwidth E): IDNA maps it onto example.com, which is not what is written",
        message(frm="alice@\uff25xample.com"), IDNA_CHANGED)
untrusted(86, "from-real-idn-domain", "encoding",
          "control: a real IDN (b\u00fccher.example) is its own A-label domain, judged as such",
          message(frm="alice@b\u00fccher.example"),
          reply="550 5.7.1 sender alice@xn--bcher-kva.example is not authenticated (authenticated as alice@example.com",
          auth="alice@example.com")
allow(79, "utf8-subject-and-display-name", "encoding",
      "control: well-formed UTF-8 in Subject and display name is fine (RFC 6532)",
      message(frm="\u00c5lice \u00d6berg <alice@example.com>", subject="[AAMP Task] \u00fcber \U0001F680"))
allow(80, "card-summary-utf8", "encoding", "control: UTF-8 text in a text field (card.response, unguarded)",
      message("card.response", extra=[("X-AAMP-Card-Summary", "Ag\u00e9nt \u2014 r\u00e9sum\u00e9 \U0001F916")]))
invalid(81, "context-encoded-word", "encoding", "a dispatch-context value as an encoded-word",
        message(frm=PARTNER_FROM, extra=[("X-AAMP-Dispatch-Context", "project==?utf-8?q?p1?=")]),
        "X-AAMP-Dispatch-Context must not contain an RFC 2047 encoded-word", **PARTNER)
allow(82, "context-percent-encoded-ascii", "encoding",
      "project=%70%31 is p1 after percent-decoding (the encoding the spec prescribes): allowed",
      message(frm=PARTNER_FROM, extra=[("X-AAMP-Dispatch-Context", "project=%70%31")]), **PARTNER)
deny(83, "context-percent-encoded-homoglyph", "encoding",
     "project=%D1%801 decodes to '\u04401' (Cyrillic er), not p1: the rule is not satisfied",
     message(frm=PARTNER_FROM, extra=[("X-AAMP-Dispatch-Context", "project=%D1%801")]),
     "dev@partner.example may not send task.dispatch to agent@example.net: the dispatch context does not satisfy any sender rule",
     **PARTNER)

# =======================================================================================
# injection: CR, LF, NUL and folding in values that reach the pair.respond or the reply.

invalid(90, "taskid-bare-cr-injection", "injection",
        "a bare CR inside TaskId followed by a fake header: some readers end the line at CR",
        message(omit=["X-AAMP-TaskId"], extra=[b"X-AAMP-TaskId: t1\rX-Injected: yes\n"]),
        "X-AAMP-TaskId: a header field value contains a bare CR")
invalid(91, "taskid-folded-injection", "injection",
        "TaskId 't1<CRLF SP>X-Injected: yes': unfolds to a value with spaces, never an id",
        message(omit=["X-AAMP-TaskId"], extra=[b"X-AAMP-TaskId: t1\r\n X-Injected: yes\n"]), not_printable("X-AAMP-TaskId"))
invalid(92, "pair-request-taskid-bare-cr", "injection",
        "pair.request whose TaskId carries a bare CR and a Bcc line: refused before pairing, no reply, code not used",
        pair_request("LiveCode-A1b2C3", omit=["X-AAMP-TaskId"], extra=[b"X-AAMP-TaskId: pair-1\rBcc: victim@example.org\n"]),
        "X-AAMP-TaskId: a header field value contains a bare CR", outbox=[], **NEWBIE)
invalid(93, "pair-request-taskid-folded-bcc", "injection",
        "pair.request TaskId folded onto a 'Bcc:' line: unfolding gives spaces, refused; nothing queued",
        pair_request("LiveCode-A1b2C3", omit=["X-AAMP-TaskId"], extra=[b"X-AAMP-TaskId: pair-1\r\n\tBcc: victim@example.org\n"]),
        not_printable("X-AAMP-TaskId"), outbox=[], **NEWBIE)
invalid(94, "pair-request-taskid-nul-then-header", "injection",
        "pair.request TaskId 'pair-1<NUL>' then a Bcc header: the NUL would cut a C reader's copy",
        pair_request("LiveCode-A1b2C3", omit=["X-AAMP-TaskId"], extra=[b"X-AAMP-TaskId: pair-1\x00Bcc: victim@example.org\n"]),
        "X-AAMP-TaskId: a header field value contains a NUL byte", outbox=[], blackbox=NUL_SKIP, **NEWBIE)
case(95, "pair-request-taskid-percent-crlf-literal", "injection",
     "TaskId 'pair-%0D%0ABcc:x@evil.example' is plain visible ASCII: echoed verbatim, the reply holds no Bcc header",
     pair_request("LiveCode-A1b2C3", task="pair-%0D%0ABcc:x@evil.example"),
     action="discard", verdict="pair-completed", outbox=["completed"], **NEWBIE)
case(96, "pair-request-taskid-256-chars", "injection",
     "a 256-character TaskId is valid AAMP but over the 255 we echo into a header: paired, not answered",
     pair_request("LiveCode-A1b2C3", task="p" * 256), action="discard", verdict="pair-completed", outbox=[], **NEWBIE)
case(97, "pair-request-taskid-255-chars", "injection",
     "control for 096: a 255-character TaskId is answered, echoed whole",
     pair_request("LiveCode-A1b2C3", task="p" * 255), action="discard", verdict="pair-completed",
     outbox=["completed"], **NEWBIE)
invalid(98, "pair-request-taskid-unicode-line-separator", "injection",
        "TaskId with U+2028 LINE SEPARATOR (a line break to JavaScript and some UIs)",
        pair_request("LiveCode-A1b2C3", task="pair-1\u2028Bcc: victim@example.org"), not_printable("X-AAMP-TaskId"),
        outbox=[], **NEWBIE)
invalid(99, "pair-request-from-quoted-crlf", "injection",
        "From \"evil<CRLF>Bcc: x\"@example.org: the CRLF ends the From line, leaving an unbalanced quote",
        pair_request("LiveCode-A1b2C3", frm=b'"evil\r\nBcc: victim@example.org"@example.org'.decode()),
        "the From header must hold exactly one mailbox", outbox=[], **NEWBIE)
case(100, "pair-request-from-quoted-local-part", "injection",
     "From \"new bie\"@example.org (authenticated as that): handled, but not answered: only a plain dot-atom "
     "mailbox is put into To: and the SMTP envelope",
     pair_request("LiveCode-A1b2C3", frm='"new bie"@example.org'), action="discard", verdict="pair-completed",
     outbox=[], mail_from="newbie@example.org", auth='"new bie"@example.org')
case(101, "pair-request-message-id-folded-injection", "injection",
     "Message-ID '<pair-1@example.org><fold> Bcc: victim': not a plain msg-id, so In-Reply-To is dropped",
     pair_request("LiveCode-A1b2C3", msgid=b"<pair-1@example.org>\r\n Bcc: victim@example.org".decode()),
     action="discard", verdict="pair-completed", outbox=["completed"], in_reply_to="", **NEWBIE)
invalid(102, "pair-request-message-id-bare-cr", "injection",
        "a bare CR in Message-ID: any header of an AAMP message with a bare CR makes it malformed",
        pair_request("LiveCode-A1b2C3", msgid=b"<pair-1@example.org>\rBcc: victim@example.org".decode()),
        "Message-ID: a header field value contains a bare CR", outbox=[], **NEWBIE)
case(103, "pair-request-display-name-folded-bcc", "injection",
     "a quoted display name folded over 'Bcc: x': after unfolding it is just a name; the reply goes to the address",
     pair_request("LiveCode-A1b2C3", frm=b'"Evil\r\n Bcc: victim@example.org" <newbie@example.org>'.decode()),
     action="discard", verdict="pair-completed", outbox=["completed"], **NEWBIE)
invalid(104, "dispatch-context-bare-cr", "injection", "project=p1<CR>source=x",
        message(frm=PARTNER_FROM, extra=[b"X-AAMP-Dispatch-Context: project=p1\rsource=x\n"]),
        "X-AAMP-Dispatch-Context: a header field value contains a bare CR", **PARTNER)
invalid(105, "unrelated-header-bare-cr", "injection",
        "a bare CR in an unrelated header of an AAMP message: the whole block is suspect, refused",
        message(extra=[b"X-Mailer: a\rX-AAMP-Intent: task.ack\n"]), "X-Mailer: a header field value contains a bare CR")
case(106, "plain-mail-bare-cr", "injection",
     "the same bare CR in mail that is not AAMP: not ours to judge",
     plain(extra=[b"X-Mailer: a\rX-AAMP-Intent: task.dispatch\n"]), action="accept", verdict="not-aamp")
invalid(107, "intent-printf-format", "injection",
        "intent '%s%n%x': echoed in the reply with '%' replaced (libmilter formats reply text)",
        message("%s%n%x"), "X-AAMP-Intent '?s?n?x' is not one of the ten AAMP 1.1 intents")
invalid(108, "intent-crlf-smtp-reply-smuggling", "injection",
        "intent 'task.dispatch<CRLF>250 OK': the second line is no header; the reply stays one line",
        message(omit=["X-AAMP-Intent"], extra=[b"X-AAMP-Intent: task.dispatch\r\n250 2.0.0 OK\n"]),
        "(empty): a header field has an empty name",
        blackbox="Postfix ends the header section at a line that is no header field (the rest is body); only our "
                 "splitter makes it a field with an empty name")
case(109, "pair-request-errormsg-folded", "injection",
     "a pair.request carrying its own ErrorMsg with a fold: the reply's ErrorMsg is ours, never the request's",
     pair_request("Guess-0001", extra=[b"X-AAMP-ErrorMsg: x\r\n Bcc: victim@example.org\n"]),
     action="discard", verdict="pair-rejected", outbox=["rejected unknown pair code"], **NEWBIE)
case(110, "pair-request-long-local-part", "injection",
     "a 65-octet local part is over RFC 5321's 64: not put into a header or an envelope, so not answered",
     pair_request("Guess-0001", frm="n" * 65 + "@example.org"), action="discard", verdict="pair-rejected", outbox=[],
     mail_from="newbie@example.org", auth="n" * 65 + "@example.org")
case(111, "pair-request-message-id-300-chars", "injection",
     "a 300-character Message-ID: over the bound for In-Reply-To, dropped",
     pair_request("LiveCode-A1b2C3", msgid="<" + "m" * 290 + "@example.org>"), action="discard",
     verdict="pair-completed", outbox=["completed"], in_reply_to="", **NEWBIE)


# =======================================================================================
# size: over-long values, deep folding, thousands of headers, very long names.

TOO_LONG = "is longer than 8192 bytes"
invalid(120, "taskid-8193-bytes", "size", "a TaskId one byte over the 8192-byte bound on X-AAMP values",
        message(task="t" * 8193), "X-AAMP-TaskId " + TOO_LONG)
invalid(121, "taskid-8192-bytes", "size", "a TaskId at the field bound but far over the 256 an id may have",
        message(task="t" * 8192), "X-AAMP-TaskId must be 1 to 256 printable ASCII characters")
invalid(122, "taskid-257-bytes", "size", "a TaskId one over the id bound",
        message(task="t" * 257), "X-AAMP-TaskId must be 1 to 256 printable ASCII characters")
invalid(123, "dispatch-context-70k", "size", "a 70 KB dispatch context: bounded before it is parsed",
        message(frm=PARTNER_FROM, extra=[("X-AAMP-Dispatch-Context", "project=p1; " + "; ".join(f"k{i}=v" for i in range(8000)))]),
        "X-AAMP-Dispatch-Context " + TOO_LONG, **PARTNER,
        blackbox=("dropped: one header packet over libmilter's 64 KiB data size: libmilter closes the connection, "
                  "the MTA applies milter_default_action (tempfail), the milter lives on"))
invalid(139, "dispatch-context-60k", "size", "a 60 KB dispatch context, just under libmilter's packet bound",
        message(frm=PARTNER_FROM, extra=[("X-AAMP-Dispatch-Context", "project=p1; " + "; ".join(f"k{i}=v" for i in range(7000)))]),
        "X-AAMP-Dispatch-Context " + TOO_LONG, **PARTNER)
invalid(124, "intent-9000-bytes", "size", "an intent of 9000 bytes", message("task.dispatch" + "x" * 9000),
        "X-AAMP-Intent " + TOO_LONG)
allow(125, "subject-folded-20000-times", "size",
      "a Subject folded over 20,000 lines: not an AAMP field, unfolded in linear time, harmless",
      message(omit=["Subject"], extra=[b"Subject: [AAMP Task]" + b"\n w" * 20000 + b"\n"]))
invalid(126, "taskid-folded-between-characters", "size", "a TaskId folded between its characters: spaces after unfolding",
        message(omit=["X-AAMP-TaskId"], extra=[b"X-AAMP-TaskId: corpus\n -task\n -1\n"]), not_printable("X-AAMP-TaskId"))
allow(127, "dispatch-context-folded-500-lines", "size",
      "a dispatch context folded over 500 lines (legal: its grammar allows spaces), under the bound after unfolding",
      message(frm=PARTNER_FROM, extra=[b"X-AAMP-Dispatch-Context: project=p1;" +
                                       b"".join(b"\n k%d=v;" % i for i in range(500)) + b"\n"]), **PARTNER)
allow(128, "five-thousand-headers", "size",
      "5,000 filler headers before the AAMP fields: judged on the whole block, in linear time",
      message(before=[("X-Filler-%d" % i, "x") for i in range(5000)]))
invalid(129, "three-thousand-duplicate-intents", "size",
        "3,000 copies of X-AAMP-Intent: one violation reported per field, the list is bounded",
        message(extra=[("X-AAMP-Intent", "task.dispatch")] * 3000), dup("X-AAMP-Intent"))
allow(130, "header-name-20k", "size", "an unknown header whose name is 20 KB of ftext",
      message(extra=[("X-" + "N" * 20000, "value")]))
allow(131, "xaamp-unknown-name-20k", "size", "an unknown X-AAMP-* field with a 20 KB name: ignored (and kept)",
      message(extra=[("X-AAMP-" + "N" * 20000, "value")]))
allow(132, "subject-60k", "size", "a 60 KB Subject: not bounded by the validator, not interpreted",
      message(subject="[AAMP Task] " + "s" * 60000))
untrusted(133, "three-thousand-authres-fail", "size",
          "3,000 Authentication-Results from the trusted verifier, all dkim=fail: each parsed once, linear, no trust",
          message(before=[("Authentication-Results", "border.example.net; dkim=fail header.d=example.com")] * 3000))
allow(134, "two-thousand-forged-verdicts", "size",
      "2,000 forged verdicts claiming our authserv-id: every one removed (highest index first), ours added",
      message(before=[("Authentication-Results", "mx.example.net; aamp=pass")] * 2000), removed=2000,
      vheader="mx.example.net; aamp=pass")
allow(135, "twelve-thousand-headers-aamp-last", "size",
      "12,000 fillers, then the AAMP fields: the engine judges the whole block (the milter holds at most 10,000 "
      "headers and refuses a message whose AAMP headers it had to drop)",
      message(before=[("X-Filler-%d" % i, "x") for i in range(12000)]),
      blackbox="the milter's 10,000-header bound refuses this message (554 5.6.0 too large to check)")
invalid(136, "from-9000-bytes", "size", "a From value over the bound",
        message(frm="Alice " + "A" * 9000 + " <alice@example.com>"), "From " + TOO_LONG)
allow(137, "single-header-line-50k", "size", "one 50 KB header line (an unknown header)",
      message(extra=[("X-Long", "v" * 50000)]))
allow(138, "five-hundred-recipients", "size",
      "500 unprotected recipients and the agent: one store lookup each, the agent alone audited",
      message(), rcpt=[f"user{i}@example.org" for i in range(500)] + ["agent@example.net"])

# =======================================================================================
# nul: NUL bytes in names, values and the body.

NUL = "a header field value contains a NUL byte"
invalid(140, "nul-in-intent", "nul", "task.dispatch<NUL>: a C reader stops at the NUL, others do not",
        message(omit=["X-AAMP-Intent"], extra=[b"X-AAMP-Intent: task.dispatch\x00task.ack\n"]),
        "X-AAMP-Intent: " + NUL, blackbox=NUL_SKIP)
invalid(141, "nul-in-taskid", "nul", "a NUL inside the TaskId",
        message(omit=["X-AAMP-TaskId"], extra=[b"X-AAMP-TaskId: t1\x00t2\n"]), "X-AAMP-TaskId: " + NUL, blackbox=NUL_SKIP)
invalid(142, "nul-in-pair-code", "nul", "a NUL after the live pair code: refused, the code is not tried",
        pair_request(None, extra=[b"X-AAMP-Pair-Code: LiveCode-A1b2C3\x00x\n"]), "X-AAMP-Pair-Code: " + NUL,
        outbox=[], blackbox=NUL_SKIP, **NEWBIE)
invalid(143, "nul-in-from", "nul", "From alice<NUL>mallory: one reader sees alice, another both",
        message(omit=["From"], before=[b"From: alice@example.com\x00mallory@evil.example\n"]), "From: " + NUL,
        blackbox=NUL_SKIP)
invalid(144, "nul-in-header-name", "nul", "a header named 'X-AAMP-Intent<NUL>x'",
        message(extra=[b"X-AAMP-Intent\x00x: task.ack\n"]),
        "X-AAMP-Intent?x: a header field name has a character outside RFC 5322 ftext", blackbox=NUL_SKIP)
invalid(145, "nul-in-unrelated-header", "nul", "a NUL in X-Mailer of an AAMP message",
        message(extra=[b"X-Mailer: a\x00b\n"]), "X-Mailer: " + NUL, blackbox=NUL_SKIP)
allow(146, "nul-in-body", "nul", "NUL bytes in the body: the body is never read (and never needed)",
      message(body=b"binary\x00\x00\x00body\n"))
invalid(147, "nul-only-taskid", "nul", "a TaskId that is a single NUL",
        message(omit=["X-AAMP-TaskId"], extra=[b"X-AAMP-TaskId: \x00\n"]), "X-AAMP-TaskId: " + NUL, blackbox=NUL_SKIP)
case(148, "nul-in-plain-mail", "nul", "a NUL in a header of mail that is not AAMP: not ours",
     plain(extra=[b"X-Mailer: a\x00b\n"]), action="accept", verdict="not-aamp")

# =======================================================================================
# utf8: invalid UTF-8 (bad bytes, overlongs, surrogates, truncation) in every field.

BAD = [b"\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\xfe", b"\x80", b"\xc3", b"\xf5\x80\x80\x80", b"\xe0\x80\xaf"]


def raw(name, value):
    return b(name) + b": " + value + b"\n"


def utf8_token(num, field, intent, extra=(), omit_field=True, **kw):
    val = b"v" + BAD[num % len(BAD)] + b"1"
    ex = list(extra) + [raw(field, val)]
    omit = [field] if omit_field else []
    invalid(num, "invalid-utf8-" + field.lower().replace("x-aamp-", ""), "utf8",
            f"invalid UTF-8 ({BAD[num % len(BAD)].hex()}) in {field}: not ASCII, refused",
            message(intent, omit=omit, extra=ex), not_printable(field), **kw)


utf8_token(150, "X-AAMP-Intent", "task.dispatch")
utf8_token(151, "X-AAMP-TaskId", "task.dispatch")
utf8_token(152, "X-AAMP-Version", "task.dispatch")
invalid(153, "invalid-utf8-pair-code", "utf8", "invalid UTF-8 in the pair code",
        pair_request(None, extra=[raw("X-AAMP-Pair-Code", b"LiveCode\xfe")]), not_printable("X-AAMP-Pair-Code"),
        outbox=[], **NEWBIE)
utf8_token(154, "X-AAMP-Status", "task.result")
utf8_token(155, "X-AAMP-Priority", "task.dispatch")
utf8_token(156, "X-AAMP-Expires-At", "task.dispatch")
utf8_token(157, "X-AAMP-Session-Key", "task.dispatch")
utf8_token(158, "X-AAMP-ParentTaskId", "task.dispatch")
utf8_token(159, "X-AAMP-Stream-Id", "task.stream.opened")


def utf8_text(num, field, intent, extra=()):
    val = b"text " + BAD[num % len(BAD)] + b" more"
    invalid(num, "invalid-utf8-" + field.lower().replace("x-aamp-", ""), "utf8",
            f"invalid UTF-8 ({BAD[num % len(BAD)].hex()}) in the text field {field}",
            message(intent, extra=list(extra) + [raw(field, val)]), f"{field} is not valid UTF-8")


utf8_text(160, "X-AAMP-ErrorMsg", "task.result", [("X-AAMP-Status", "rejected")])
utf8_text(161, "X-AAMP-Card-Summary", "card.response")
utf8_text(162, "X-AAMP-SuggestedOptions", "task.help_needed")
utf8_text(163, "X-AAMP-Output", "task.result", [("X-AAMP-Status", "completed")])
utf8_text(164, "X-AAMP-Question", "task.help_needed")
utf8_text(165, "X-AAMP-BlockedReason", "task.help_needed")
invalid(166, "invalid-utf8-dispatch-context-raw", "utf8", "a raw 0xFF in the dispatch context",
        message(frm=PARTNER_FROM, extra=[raw("X-AAMP-Dispatch-Context", b"project=p\xff1")]),
        "X-AAMP-Dispatch-Context must be printable ASCII (values percent-encoded)", **PARTNER)
invalid(167, "invalid-utf8-dispatch-context-percent", "utf8",
        "project=%C0%AF: percent-decodes to an overlong '/', not UTF-8",
        message(frm=PARTNER_FROM, extra=[("X-AAMP-Dispatch-Context", "project=%C0%AF")]),
        "X-AAMP-Dispatch-Context is invalid: the dispatch-context value of key 'project' is invalid: the decoded text is not valid UTF-8",
        **PARTNER)
invalid(168, "invalid-utf8-structuredresult", "utf8", "base64url of JSON holding a raw 0xFF",
        message("task.result", extra=[("X-AAMP-Status", "completed"),
                                      ("X-AAMP-StructuredResult", b64(b'{"a":"\xff"}'))]),
        "X-AAMP-StructuredResult must be base64url of JSON: the structured result is not valid UTF-8")
invalid(169, "invalid-utf8-dispatch-context-rules", "utf8", "base64url of rules JSON holding a surrogate",
        pair_request("LiveCode-A1b2C3", extra=[("X-AAMP-Dispatch-Context-Rules", b64(b'{"project":["\xed\xa0\x80"]}'))]),
        "X-AAMP-Dispatch-Context-Rules must be base64url of a JSON object of string arrays: the rules are not valid UTF-8",
        outbox=[], **NEWBIE)
invalid(170, "invalid-utf8-from-address", "utf8", "0xC3 alone in the From local part",
        message(omit=["From"], before=[b"From: ali\xc3ce@example.com\n"]), "the From header is not valid UTF-8")
allow(171, "invalid-utf8-subject", "utf8",
      "invalid UTF-8 in Subject: not an AAMP field, not interpreted, not echoed; delivered",
      message(omit=["Subject"], extra=[b"Subject: [AAMP Task] \xff\xfe\n"]))
case(172, "invalid-utf8-message-id-pair-request", "utf8",
     "invalid UTF-8 in the Message-ID of a pair.request: In-Reply-To is dropped, the reply still goes out",
     pair_request("LiveCode-A1b2C3", msgid=None, extra=[b"Message-ID: <pair\xff1@example.org>\n"]),
     action="discard", verdict="pair-completed", outbox=["completed"], in_reply_to="", **NEWBIE)
invalid(173, "invalid-utf8-from-display-name", "utf8", "an overlong sequence in the From display name",
        message(omit=["From"], before=[b"From: Al\xc0\xafice <alice@example.com>\n"]), "the From header is not valid UTF-8")
invalid(174, "invalid-utf8-five-byte-sequence", "utf8", "a five-byte (pre-RFC 3629) sequence in the display name",
        message(omit=["From"], before=[b"From: A\xf8\x88\x80\x80\x80 <alice@example.com>\n"]), "the From header is not valid UTF-8")

# =======================================================================================
# bomb: base64url and JSON built to cost time, stack or memory.

SR = "X-AAMP-StructuredResult must be base64url of JSON: "
RULES = "X-AAMP-Dispatch-Context-Rules must be base64url of a JSON object of string arrays: "


def result_msg(sr_value):
    return message("task.result", extra=[("X-AAMP-Status", "completed"), ("X-AAMP-StructuredResult", sr_value)])


invalid(180, "structuredresult-nesting-65", "bomb", "65 nested arrays: one past the depth bound",
        result_msg(b64("[" * 65 + "]" * 65)), SR + "the structured result nests too deeply")
invalid(181, "structuredresult-nesting-3000", "bomb",
        "3,000 nested arrays (all the 8 KB bound holds): the SAX reader stops at depth 65, no recursion",
        result_msg(b64("[" * 3000 + "]" * 3000)), SR + "the structured result nests too deeply")
allow(182, "structuredresult-nesting-64", "bomb", "control: exactly 64 levels is allowed (task.result, unguarded)",
      result_msg(b64("[" * 64 + "]" * 64)))
allow(183, "structuredresult-3000-element-array", "bomb", "a flat array of 3,000 numbers: cheap, valid",
      result_msg(b64("[" + ",".join("0" * 3000) + "]")))
invalid(184, "structuredresult-not-json", "bomb", "base64url of text that is not JSON",
        result_msg(b64("not json at all")), SR + "the structured result is not valid JSON")
allow(185, "structuredresult-with-padding", "bomb", "control: '=' padding completing the last quantum is allowed",
      result_msg(base64.urlsafe_b64encode(b'{"ok":true}').decode()))
invalid(186, "structuredresult-padding-misplaced", "bomb", "e30=== : padding that does not complete a quantum",
        result_msg("e30==="), SR + "the base64url padding is misplaced")
invalid(187, "structuredresult-standard-alphabet", "bomb", "'+' and '/' are the standard alphabet, not base64url",
        result_msg("eyJ2Ijoi+/8ifQ"),
        SR + "the text contains a character outside the base64url alphabet")
invalid(188, "structuredresult-impossible-length", "bomb", "five base64url characters cannot encode whole bytes",
        result_msg("e30xe"), SR + "the base64url text has an impossible length")
allow(189, "structuredresult-json-bom", "bomb",
      "a UTF-8 BOM before the JSON: RFC 8259 §8.1 lets a parser ignore it; the result is not interpreted here",
      result_msg(b64(b"\xef\xbb\xbf{}")))
invalid(190, "rules-nested-arrays", "bomb", "rules {\"a\":[[[...200 deep]]]}: refused at the second '['",
        pair_request("LiveCode-A1b2C3", extra=[("X-AAMP-Dispatch-Context-Rules", b64('{"a":' + "[" * 200 + "]" * 200 + "}"))]),
        RULES + "the rules must be one object of string arrays", outbox=[], **NEWBIE)
invalid(191, "rules-top-level-array", "bomb", "rules that are an array, not an object",
        pair_request("LiveCode-A1b2C3", extra=[("X-AAMP-Dispatch-Context-Rules", b64('[["p1"]]'))]),
        RULES + "the rules must be one object of string arrays", outbox=[], **NEWBIE)
invalid(192, "rules-number-values", "bomb", "rule values that are numbers",
        pair_request("LiveCode-A1b2C3", extra=[("X-AAMP-Dispatch-Context-Rules", b64('{"project":[1,2]}'))]),
        RULES + "a rule value is not an array of strings", outbox=[], **NEWBIE)
invalid(193, "rules-string-not-array", "bomb", "a rule value that is a string, not an array",
        pair_request("LiveCode-A1b2C3", extra=[("X-AAMP-Dispatch-Context-Rules", b64('{"project":"p1"}'))]),
        RULES + "a rule value is not an array of strings", outbox=[], **NEWBIE)
invalid(194, "rules-null-value", "bomb", "a rule value that is null",
        pair_request("LiveCode-A1b2C3", extra=[("X-AAMP-Dispatch-Context-Rules", b64('{"project":null}'))]),
        RULES + "a rule value is not an array of strings", outbox=[], **NEWBIE)
invalid(195, "rules-duplicate-key", "bomb",
        "a key twice: JSON parsers disagree on which copy wins (RFC 8259 §4), so neither is taken",
        pair_request("LiveCode-A1b2C3", extra=[("X-AAMP-Dispatch-Context-Rules", b64('{"project":["p1"],"project":["p9"]}'))]),
        RULES + "a rule key appears twice", outbox=[], **NEWBIE)
BIG_RULES = b64(json.dumps({"project": ["p1"] + [f"x{i}" for i in range(700)]}, separators=(",", ":")))
case("196a", "rules-700-values-pairing", "bomb",
     "pair.request forwarding a 700-value rule array: cheap; the grant is narrowed to what the code was issued with",
     pair_request("LiveCode-A1b2C3", extra=[("X-AAMP-Dispatch-Context-Rules", BIG_RULES)]),
     action="discard", verdict="pair-completed", outbox=["completed"], **NEWBIE)
allow("196b", "rules-700-values-dispatch-p1", "bomb", "the newly paired sender dispatches with project=p1: in both lists",
      message(frm="Newbie <newbie@example.org>", extra=[CTX_P1]), **NEWBIE)
deny("196c", "rules-700-values-dispatch-p2", "bomb",
     "project=p2 was issued but not forwarded: narrowed away, refused",
     message(frm="Newbie <newbie@example.org>", extra=[("X-AAMP-Dispatch-Context", "project=p2")]),
     "newbie@example.org may not send task.dispatch to agent@example.net: the dispatch context does not satisfy any sender rule",
     **NEWBIE)
case("197a", "rules-widen-attempt-pairing", "bomb",
     "a requester forwarding more values than issued (p3, '*'): a requester may narrow, never widen",
     pair_request("LiveCode-A1b2C3", extra=[("X-AAMP-Dispatch-Context-Rules", b64('{"project":["p1","p2","p3","*"]}'))]),
     action="discard", verdict="pair-completed", outbox=["completed"], **NEWBIE)
deny("197b", "rules-widen-attempt-dispatch-p3", "bomb", "project=p3 after the widening attempt: refused",
     message(frm="Newbie <newbie@example.org>", extra=[("X-AAMP-Dispatch-Context", "project=p3")]),
     "newbie@example.org may not send task.dispatch to agent@example.net: the dispatch context does not satisfy any sender rule",
     **NEWBIE)
case("198a", "rules-empty-object-pairing", "bomb",
     "forwarding {} (what the SDK sends when empty) cannot drop the issued project rule",
     pair_request("LiveCode-A1b2C3", extra=[("X-AAMP-Dispatch-Context-Rules", "e30")]),
     action="discard", verdict="pair-completed", outbox=["completed"], **NEWBIE)
deny("198b", "rules-empty-object-dispatch-no-context", "bomb", "a dispatch without context after that: still refused",
     message(frm="Newbie <newbie@example.org>"),
     "newbie@example.org may not send task.dispatch to agent@example.net: the dispatch context does not satisfy any sender rule",
     **NEWBIE)
invalid(199, "rules-trailing-garbage", "bomb", "'{} x': JSON text with something after it",
        pair_request("LiveCode-A1b2C3", extra=[("X-AAMP-Dispatch-Context-Rules", b64("{} x"))]),
        RULES + "the rules are not valid JSON", outbox=[], **NEWBIE)
invalid(200, "rules-with-comment", "bomb", "a /* comment */ in the rules JSON (some parsers allow it)",
        pair_request("LiveCode-A1b2C3", extra=[("X-AAMP-Dispatch-Context-Rules", b64('{/*c*/"project":["p1"]}'))]),
        RULES + "the rules are not valid JSON", outbox=[], **NEWBIE)
invalid(201, "rules-double-padding", "bomb", "e30== : one '=' too many",
        pair_request("LiveCode-A1b2C3", extra=[("X-AAMP-Dispatch-Context-Rules", "e30==")]),
        RULES + "the base64url padding is misplaced", outbox=[], **NEWBIE)
invalid(202, "rules-wrong-alphabet", "bomb", "a '+' in base64url",
        pair_request("LiveCode-A1b2C3", extra=[("X-AAMP-Dispatch-Context-Rules", "e30+")]),
        RULES + "the text contains a character outside the base64url alphabet", outbox=[], **NEWBIE)
case(203, "rules-400-keys", "bomb", "400 rule keys: cheap; the requester restricts itself to 400 more keys",
     pair_request("LiveCode-A1b2C3", extra=[("X-AAMP-Dispatch-Context-Rules",
                                             b64(json.dumps({f"k{i}": ["v"] for i in range(400)}, separators=(",", ":"))))]),
     action="discard", verdict="pair-completed", outbox=["completed"], **NEWBIE)
invalid(204, "structuredresult-nested-objects-1000", "bomb", "1,000 nested objects",
        result_msg(b64('{"a":' * 1000 + "1" + "}" * 1000)), SR + "the structured result nests too deeply")
invalid(205, "structuredresult-unterminated-6000", "bomb", "6,000 '[' and no ']': stopped at the bound, not at the end",
        result_msg(b64("[" * 6000)), SR + "the structured result nests too deeply")
allow(206, "dispatch-context-800-keys", "bomb", "a dispatch context with 800 keys, within the bound",
      message(frm=PARTNER_FROM, extra=[("X-AAMP-Dispatch-Context", "project=p1; " + "; ".join(f"k{i}=v" for i in range(800)))]),
      **PARTNER)
invalid(207, "dispatch-context-duplicate-key", "bomb", "project twice in one dispatch context",
        message(frm=PARTNER_FROM, extra=[("X-AAMP-Dispatch-Context", "project=p1; project=p3")]),
        "X-AAMP-Dispatch-Context is invalid: the dispatch-context key 'project' appears twice", **PARTNER)
invalid(208, "dispatch-context-uppercase-key", "bomb", "Project=p1: keys are lower case in strict mode",
        message(frm=PARTNER_FROM, extra=[("X-AAMP-Dispatch-Context", "Project=p1")]),
        "X-AAMP-Dispatch-Context is invalid: a dispatch-context key is not of the form [a-z0-9_-]+ followed by '='",
        **PARTNER)
invalid(209, "dispatch-context-bad-percent", "bomb", "project=p1%G1",
        message(frm=PARTNER_FROM, extra=[("X-AAMP-Dispatch-Context", "project=p1%G1")]),
        "X-AAMP-Dispatch-Context is invalid: the dispatch-context value of key 'project' is invalid: a '?' is not followed by two hex digits",
        **PARTNER)
invalid(210, "structuredresult-lone-surrogate", "bomb", "a JSON string with a lone surrogate escape",
        result_msg(b64('["\\ud800"]')), SR + "the structured result is not valid JSON")
case(211, "rules-empty-value-array", "bomb",
     "a requester forwarding project:[] restricts itself to nothing: paired, but no context will satisfy it",
     pair_request("LiveCode-A1b2C3", extra=[("X-AAMP-Dispatch-Context-Rules", b64('{"project":[]}'))]),
     action="discard", verdict="pair-completed", outbox=["completed"], **NEWBIE)
case(212, "rules-nul-escape-in-value", "bomb",
     "a \\u0000 escape in a forwarded value: a string like any other, it narrows the grant to nothing",
     pair_request("LiveCode-A1b2C3", extra=[("X-AAMP-Dispatch-Context-Rules", b64('{"project":["p1\\u0000"]}'))]),
     action="discard", verdict="pair-completed", outbox=["completed"], **NEWBIE)

# =======================================================================================
# authres: forged and tricky Authentication-Results (no SMTP AUTH in these, unless said).

def ar(value):
    return ("Authentication-Results", value)


NOAUTH = dict(auth=None)
untrusted(215, "forged-ours-aamp-pass", "authres",
          "a forged verdict of ours (aamp=pass) on a dispatch from an unauthenticated sender: removed, and no trust",
          message(before=[ar("mx.example.net; aamp=pass header.from=alice@example.com policy.rule=6")]), removed=1)
untrusted(216, "forged-ours-dkim-pass", "authres",
          "dkim=pass under our own authserv-id from outside: never counts (RFC 8601 §5)",
          message(before=[ar("mx.example.net; dkim=pass header.d=example.com")]), removed=1)
untrusted(217, "forged-ours-upper-case-id", "authres", "our authserv-id in upper case: still ours, removed",
          message(before=[ar("MX.EXAMPLE.NET; dkim=pass header.d=example.com")]), removed=1)
untrusted(218, "forged-ours-comment-before-id", "authres", "a comment before our id: CFWS is skipped, still ours",
          message(before=[ar("(verified) mx.example.net; aamp=pass")]), removed=1)
untrusted(219, "forged-ours-quoted-id", "authres", "our id as a quoted-string: the same id, removed",
          message(before=[ar('"mx.example.net"; aamp=pass')]), removed=1)
untrusted(220, "forged-ours-with-version", "authres", "our id followed by an authres-version: removed",
          message(before=[ar("mx.example.net 1; aamp=pass")]), removed=1)
allow(221, "forged-ours-on-authenticated-dispatch", "authres",
      "an allowed dispatch carrying a forged verdict of ours: the forgery is removed, ours added",
      message(before=[ar("mx.example.net; aamp=fail reason=\"forged\"")]), removed=1,
      vheader="mx.example.net; aamp=pass")
allow(222, "forged-ours-interleaved-with-trusted", "authres",
      "ours, the trusted verifier's dkim=pass, ours again, another host's: the two forgeries are removed, DKIM counts",
      message(before=[ar("mx.example.net; aamp=pass"), ar("border.example.net; dkim=pass header.d=example.com"),
                      ar("mx.example.net; dkim=pass header.d=example.com"), ar("other.example; spf=pass")]),
      removed=2, vheader='policy.trust="dkim=example.com"', **NOAUTH)
case(223, "forged-ours-in-plain-mail", "authres",
     "a forged verdict of ours in mail that is not AAMP: removed all the same, nothing added",
     plain(extra=[ar("mx.example.net; aamp=pass")]), action="accept", verdict="not-aamp", removed=1, vheader="none")
untrusted(224, "trusted-dkim-unaligned", "authres", "the trusted verifier's dkim=pass for another domain",
          message(before=[ar("border.example.net; dkim=pass header.d=evil.example")]))
untrusted(225, "trusted-dkim-suffix-trick", "authres",
          "header.d=example.com.evil.example ends in another domain: not aligned with example.com",
          message(before=[ar("border.example.net; dkim=pass header.d=example.com.evil.example")]))
untrusted(226, "trusted-dkim-prefix-trick", "authres", "header.d=evilexample.com is not a subdomain of example.com",
          message(before=[ar("border.example.net; dkim=pass header.d=evilexample.com")]))
untrusted(227, "trusted-dkim-pass-in-comment", "authres",
          "dkim=fail with '(dkim=pass header.d=example.com)' as a comment: comments are not results",
          message(before=[ar("border.example.net; dkim=fail (dkim=pass header.d=example.com) header.d=example.com")]))
untrusted(228, "trusted-unterminated-comment", "authres", "a field that ends inside a comment does not parse: no trust",
          message(before=[ar("border.example.net; dkim=pass header.d=example.com (unterminated")]))
untrusted(229, "trusted-none-then-result", "authres", "'none' followed by a result: 'none' stands alone, the field is refused",
          message(before=[ar("border.example.net; none; dkim=pass header.d=example.com")]))
untrusted(230, "trusted-id-trailing-dot", "authres", "border.example.net. is not the configured id",
          message(before=[ar("border.example.net.; dkim=pass header.d=example.com")]))
untrusted(231, "untrusted-id-dkim-pass", "authres", "a pass from a host that is not a trusted verifier",
          message(before=[ar("evil.example; dkim=pass header.d=example.com")]))
untrusted(232, "trusted-dmarc-pass-other-from", "authres", "dmarc=pass for another From domain",
          message(before=[ar("border.example.net; dmarc=pass header.from=evil.example")]))
allow(233, "trusted-dmarc-pass", "authres", "control: dmarc=pass for the From domain from the trusted verifier",
      message(before=[ar("border.example.net; dmarc=pass header.from=example.com")]), **NOAUTH)
untrusted(234, "trusted-spf-pass-only", "authres", "spf=pass is about the envelope, not the From: not a trust basis",
          message(before=[ar("border.example.net; spf=pass smtp.mailfrom=example.com")]))
invalid(235, "authres-name-space-before-colon", "authres",
        "'Authentication-Results :' (obs-syntax) in an AAMP message: a name outside ftext, refused as malformed",
        message(before=[b"Authentication-Results : border.example.net; dkim=pass header.d=example.com\n"]),
        "Authentication-Results?: a header field name has a character outside RFC 5322 ftext", **NOAUTH)
allow(236, "trusted-authres-folded", "authres", "control: a trusted field folded over three lines",
      message(before=[b"Authentication-Results: border.example.net;\n\tdkim=pass\n\theader.d=example.com header.s=s1\n"]),
      **NOAUTH)
untrusted(237, "trusted-65-results", "authres",
          "65 results in one field (the pass last): over the parser's bound, the field is not trusted",
          message(before=[ar("border.example.net; " + "; ".join(["spf=none"] * 64 + ["dkim=pass header.d=example.com"]))]))
case(238, "forged-ours-on-pair-request", "authres",
     "a pair.request carrying a forged verdict of ours: removed; the pairing goes on (the requester authenticated)",
     pair_request("LiveCode-A1b2C3", extra=[ar("mx.example.net; aamp=pass")]), action="discard",
     verdict="pair-completed", outbox=["completed"], removed=1, **NEWBIE)
allow(239, "trusted-dkim-quoted-domain", "authres", "header.d as a quoted-string: the same domain",
      message(before=[ar('border.example.net; dkim=pass header.d="example.com"')]), **NOAUTH)
untrusted(240, "trusted-deeply-nested-comment", "authres", "40 nested comments (the bound is 32): not parsed, not trusted",
          message(before=[ar("border.example.net; " + "(" * 40 + "x" + ")" * 40 + " dkim=pass header.d=example.com")]))
untrusted(241, "authres-pass-for-authonly-mailbox", "authres",
          "a trusted dkim=pass to a mailbox that accepts SMTP AUTH only",
          message(to="authonly@example.net", before=[ar("border.example.net; dkim=pass header.d=example.com")]),
          rcpt=["authonly@example.net"])
untrusted(242, "forged-ours-removed-then-no-trust-left", "authres",
          "a forged dkim=pass of ours and a real dkim=fail from the verifier: nothing trusted remains",
          message(before=[ar("mx.example.net; dkim=pass header.d=example.com"),
                          ar("border.example.net; dkim=fail header.d=example.com")]), removed=1)

# Spellings of our id that some reader takes as ours (issue "a verdict nobody can forge"):
# each removed, in AAMP mail and plain mail alike.
untrusted(243, "forged-ours-encoded-word", "authres",
          "our id as an RFC 2047 encoded-word: Python's email decodes it to ours; removed, and no trust",
          message(before=[ar("=?utf-8?q?mx.example.net?=; aamp=pass")]), removed=1)
case(244, "forged-ours-split-base64-words-in-plain-mail", "authres",
     "our id split over two base64 encoded-words (joined when decoded, RFC 2047 §6.2) in plain mail: removed",
     plain(extra=[ar("=?utf-8?b?bXguZXhh?= =?UTF-8?B?bXBsZS5uZXQ=?=; aamp=pass")]), action="accept",
     verdict="not-aamp", removed=1, vheader="none")
case(245, "forged-ours-vertical-tab-in-plain-mail", "authres",
     "our id followed by a vertical tab (Python's email and mailparser read it as ours) in plain mail: removed",
     plain(extra=[ar("mx.example.net\x0b; aamp=pass")]), action="accept", verdict="not-aamp", removed=1, vheader="none")
untrusted(246, "forged-ours-no-break-space", "authres",
          "our id followed by U+00A0 (readers drop or split on it): an 8-bit byte in an authserv-id, removed",
          message(before=[ar("mx.example.net\u00a0; dkim=pass header.d=example.com")]), removed=1)
allow(247, "forged-ours-trailing-dot", "authres",
      "our id with a trailing dot (the same host to a reader): removed, ours added",
      message(before=[ar("mx.example.net.; aamp=pass policy.rule=1")]), removed=1, vheader="mx.example.net; aamp=pass")
case(248, "authres-blank-value-in-plain-mail", "authres",
     "a blank Authentication-Results (Stalwart blanks a forged one that is not UTF-8): no readable id, removed",
     plain(extra=[ar("")]), action="accept", verdict="not-aamp", removed=1, vheader="none")
untrusted(249, "forged-ours-out-of-a-comment-by-encoded-word", "authres",
          "an encoded ')' ends the comment before the verifier's dkim=pass, bringing out our id once decoded: "
          "removed, and the pass behind it never counts",
          message(before=[ar("(c =?utf-8?q?=29?= mx.example.net; aamp=pass) border.example.net; dkim=pass header.d=example.com")]),
          removed=1)

# =======================================================================================
# from: several From fields, several mailboxes, groups, odd addresses, envelope mismatch.

MULTI = "the message has more than one From header"
ONE = "the From header must hold exactly one mailbox"
invalid(250, "multiple-from-identical", "from", "two identical From fields: still two (brief §1)",
        message(extra=[("From", "Alice <alice@example.com>")]), MULTI)
invalid(251, "multiple-from-alice-then-mallory", "from", "From alice, then From mallory: judged on one, shown the other",
        message(extra=[("From", "mallory@evil.example")]), MULTI)
invalid(252, "multiple-from-upper-case-name", "from", "the second From spelled FROM",
        message(extra=[("FROM", "mallory@evil.example")]), MULTI)
invalid(253, "from-space-before-colon-copy", "from", "a second 'From :' (obs-syntax): a copy and a malformed name",
        message(extra=[b"From : mallory@evil.example\n"]),
        "From: a header field name only resembles From (white space or look-alike letters)")
invalid(254, "from-two-mailboxes", "from", "From with two mailboxes (RFC 5322 allows it with a Sender; we do not)",
        message(frm="alice@example.com, mallory@evil.example"), ONE)
invalid(255, "from-group", "from", "From as a group", message(frm="Team: alice@example.com;"), ONE)
invalid(256, "from-empty-group", "from", "From as an empty group", message(frm="undisclosed-recipients:;"), ONE)
invalid(257, "from-missing", "from", "no From at all", message(omit=["From"]), "From is required on every AAMP message")
invalid(258, "from-empty", "from", "an empty From value", message(frm=""), ONE)
invalid(259, "from-null-angle", "from", "From: <>", message(frm="<>"), ONE)
invalid(260, "from-unquoted-display-with-at", "from",
        "'alice@example.com <mallory@evil.example>': an '@' in an unquoted display name, two readings",
        message(frm="alice@example.com <mallory@evil.example>"), ONE)
untrusted(261, "from-quoted-display-alice-address-mallory", "from",
          "display name \"alice@example.com\", address mallory: the address is what counts",
          message(frm='"alice@example.com" <mallory@evil.example>'),
          reply="550 5.7.1 sender mallory@evil.example is not authenticated (authenticated as alice@example.com",
          auth="alice@example.com")
allow(262, "from-comment-with-address", "from", "'alice@example.com (mallory@evil.example)': the comment is no address",
      message(frm="alice@example.com (mallory@evil.example)"))
invalid(263, "from-trailing-comma", "from", "a trailing comma (an empty second mailbox)",
        message(frm="<alice@example.com>,"), ONE)
invalid(264, "from-source-route", "from", "an obsolete source route in the From angle-addr",
        message(frm="<@evil.example:alice@example.com>"), ONE)
untrusted(265, "from-domain-literal", "from", "alice@[198.51.100.7] is not alice@example.com",
          message(frm="alice@[198.51.100.7]"),
          reply="550 5.7.1 sender alice@[198.51.100.7] is not authenticated (authenticated as alice@example.com",
          auth="alice@example.com")
invalid(266, "from-trailing-dot-domain", "from", "alice@example.com. : GMime drops the dot, others keep it",
        message(frm="alice@example.com."), ONE)
invalid(267, "from-double-at", "from", "alice@evil.example@example.com", message(frm="alice@evil.example@example.com"), ONE)
invalid(268, "from-comments-40-deep", "from", "40 nested comments in From (bound 32)",
        message(frm="alice@example.com " + "(" * 40 + "c" + ")" * 40), ONE)
allow(269, "from-upper-case-domain", "from", "control: the domain is case-insensitive",
      message(frm="Alice <alice@EXAMPLE.COM>"))
untrusted(270, "from-quoted-local-part", "from",
          "\"alice\"@example.com is compared as written, so the login alice@example.com does not match: refused, "
          "the safe side of an equivalence we do not compute",
          message(frm='"alice"@example.com'),
          reply='550 5.7.1 sender "alice"@example.com is not authenticated (authenticated as alice@example.com',
          auth="alice@example.com")
invalid(271, "from-unclosed-angle", "from", "'<alice@example.com' without '>'", message(frm="<alice@example.com"), ONE)
allow(272, "envelope-mallory-from-alice-auth-alice", "from",
      "the envelope sender differs from From, but the login may use the From address: the From is what is judged",
      message(), mail_from="mallory@evil.example")
untrusted(273, "envelope-alice-from-mallory-auth-alice", "from",
          "envelope and login alice, From mallory: the login may not use mallory's address",
          message(frm="mallory@evil.example"),
          reply="550 5.7.1 sender mallory@evil.example is not authenticated (authenticated as alice@example.com",
          auth="alice@example.com")
allow(274, "null-envelope-dispatch", "from", "a dispatch with the null envelope sender, authenticated From: allowed",
      message(), mail_from="")
untrusted(275, "dkim-for-envelope-not-from", "from",
          "dkim=pass for example.com (the envelope's domain) while From is mallory: not aligned with the From",
          message(frm="mallory@evil.example", before=[ar("border.example.net; dkim=pass header.d=example.com")]),
          reply="550 5.7.1 sender mallory@evil.example is not authenticated")
untrusted(276, "sender-header-alice-from-mallory", "from", "Sender: alice does not make From: mallory alice's",
          message(frm="mallory@evil.example", extra=[("Sender", "alice@example.com")]),
          reply="550 5.7.1 sender mallory@evil.example is not authenticated", auth="alice@example.com")
case(277, "pair-request-reply-to-victim", "from",
     "a pair.request with Reply-To: victim: the answer goes to the authenticated From, never to Reply-To",
     pair_request("Guess-0001", extra=[("Reply-To", "victim@example.org")]), action="discard",
     verdict="pair-rejected", outbox=["rejected unknown pair code"], **NEWBIE)
invalid(278, "from-nested-angles", "from", "<<alice@example.com>>", message(frm="<<alice@example.com>>"), ONE)
invalid(279, "from-display-name-only", "from", "a From with a name and no address", message(frm="Alice"), ONE)

# =======================================================================================
# auth: the SMTP AUTH login against the From address, internal hosts.

untrusted(280, "auth-mallory-from-alice", "auth", "authenticated as mallory, writing From: alice",
          message(), reply="550 5.7.1 sender alice@example.com is not authenticated (authenticated as mallory@evil.example, which may not send as alice@example.com)",
          auth="mallory@evil.example")
allow(281, "auth-login-upper-case", "auth", "control: the login in another case is the same address",
      message(), auth="ALICE@Example.COM")
untrusted(282, "auth-bare-login", "auth", "login 'alice' (no domain) is not alice@example.com (no SenderLogins grant)",
          message(), reply="550 5.7.1 sender alice@example.com is not authenticated (authenticated as alice,",
          auth="alice")
untrusted(283, "auth-login-suffix-trick", "auth", "login alice@example.com.evil.example",
          message(), reply="550 5.7.1 sender alice@example.com is not authenticated (authenticated as alice@example.com.evil.example,",
          auth="alice@example.com.evil.example")
allow(284, "auth-relay-grant", "auth", "SenderLogins lets relay@example.com send as @example.com",
      message(), auth="relay@example.com", vheader="policy.trust=auth")
untrusted(285, "auth-relay-grant-other-domain", "auth", "the relay grant covers @example.com, not partner.example",
          message(frm=PARTNER_FROM, extra=[CTX_P1]),
          reply="550 5.7.1 sender dev@partner.example is not authenticated (authenticated as relay@example.com,",
          auth="relay@example.com", mail_from="dev@partner.example")
allow(286, "auth-ci-bot-glob", "auth", "login ci-bot may send as ci-*@partner.example; the context rule holds",
      message(frm="ci-nightly@partner.example", extra=[CTX_P1]), auth="ci-bot", mail_from="ci-nightly@partner.example")
untrusted(287, "auth-ci-bot-glob-miss", "auth", "ci-bot writing nightly-ci@partner.example: outside its grant",
          message(frm="nightly-ci@partner.example", extra=[CTX_P1]),
          reply="550 5.7.1 sender nightly-ci@partner.example is not authenticated (authenticated as ci-bot,",
          auth="ci-bot", mail_from="nightly-ci@partner.example")
allow(288, "auth-login-in-angle-brackets", "auth", "a login written <alice@example.com> is that address",
      message(), auth="<alice@example.com>")
allow(289, "internal-host-no-auth", "auth", "control: an internal client needs no login", message(), auth=None,
      client="10.1.2.3")
untrusted(290, "internal-host-to-auth-only-mailbox", "auth",
          "an internal client writing to a mailbox that accepts SMTP AUTH only",
          message(to="authonly@example.net"), rcpt=["authonly@example.net"], client="10.1.2.3")
allow(291, "internal-ipv4-mapped", "auth", "::ffff:10.0.0.5 is the internal 10.0.0.5", message(), auth=None,
      client="::ffff:10.0.0.5")
allow(292, "internal-ipv6", "auth", "fd00::25 is inside fd00::/8", message(), auth=None, client="fd00::25")
untrusted(293, "client-address-garbage", "auth", "a client address that is not an address: not internal",
          message(), client="10.0.0.5.evil.example",
          blackbox="an MTA sends the client address as an address; libmilter cannot pass this one")
untrusted(294, "no-auth-external-client", "auth", "an external client without login or signature", message())
untrusted(295, "auth-empty-login-external", "auth",
          "an empty login is no login, as an absent one (Stalwart leaves {auth_authen} out when unauthenticated)",
          message(), auth="")
untrusted(296, "auth-login-trailing-dot", "auth", "login alice@example.com. is not alice@example.com",
          message(), reply="550 5.7.1 sender alice@example.com is not authenticated (authenticated as alice@example.com.,",
          auth="alice@example.com.")

# =======================================================================================
# expiry: Expires-At in the past, at the edge, with offsets, malformed. The scene's clock
# is 2026-09-21T14:13:20Z; files near it are skipped by the black-box replay (real clock).

REAL_CLOCK = "relative to the scene's fixed clock; the milter runs on the real one"
EXP_BAD = "X-AAMP-Expires-At must be an RFC 3339 date-time with an offset"


def expires(value):
    return message(extra=[("X-AAMP-Expires-At", value)])


def stale(num, slug, why, value, at, **kw):
    case(num, slug, "expiry", why, expires(value), action="reject", verdict="stale",
         reply=f"550 5.7.1 stale task.dispatch: it expired at {at}", **kw)


stale(300, "expired-2020", "a dispatch that expired in 2020", "2020-01-01T00:00:00Z", "2020-01-01T00:00:00Z")
stale(301, "expires-exactly-now", "Expires-At equal to now: expired (the deadline is not inclusive)",
      "2026-09-21T14:13:20Z", "2026-09-21T14:13:20Z")
allow(302, "expires-one-second-ahead", "expiry", "one second in the future: still valid",
      expires("2026-09-21T14:13:21Z"), blackbox=REAL_CLOCK)
allow(303, "expires-2099", "expiry", "control: far in the future", expires("2099-01-01T00:00:00Z"))
stale(304, "offset-makes-it-past", "23:00+10:00 is 13:00Z, an hour ago: a reader ignoring the offset thinks it is tonight",
      "2026-09-21T23:00:00+10:00", "2026-09-21T13:00:00Z")
allow(305, "negative-offset-makes-it-future", "expiry", "10:00-05:00 is 15:00Z, 47 minutes ahead",
      expires("2026-09-21T10:00:00-05:00"), blackbox=REAL_CLOCK)
allow(306, "lower-case-t-and-z", "expiry", "RFC 3339 §5.6 allows 't' and 'z'", expires("2099-01-01t00:00:00z"))
invalid(307, "space-instead-of-t", "expiry", "'2026-09-21 15:00:00Z' (RFC 3339 NOTE allows it, our token grammar does not)",
        expires("2026-09-21 15:00:00Z"), not_printable("X-AAMP-Expires-At"))
invalid(308, "month-13", "expiry", "month 13", expires("2026-13-01T00:00:00Z"), EXP_BAD)
invalid(309, "february-29-2026", "expiry", "2026 is no leap year", expires("2026-02-29T00:00:00Z"), EXP_BAD)
invalid(310, "natural-language", "expiry", "'tomorrow'", expires("tomorrow"), EXP_BAD)
invalid(311, "epoch-seconds", "expiry", "epoch seconds instead of a date-time", expires("1790000000"), EXP_BAD)
invalid(312, "no-offset", "expiry", "a local time without an offset: whose local time?", expires("2026-09-21T15:00:00"), EXP_BAD)
allow(313, "nine-digit-fraction", "expiry", "fractional seconds are allowed and dropped",
      expires("2099-09-21T15:00:00.123456789Z"))
invalid(314, "offset-24-hours", "expiry", "+24:00 is out of range", expires("2026-09-21T15:00:00+24:00"), EXP_BAD)
allow(315, "leap-second", "expiry", "second 60 (a leap second) counts as the next minute: 14:14:00, ahead",
      expires("2026-09-21T14:13:60Z"), blackbox=REAL_CLOCK)
invalid(316, "fraction-over-64-chars", "expiry", "a date-time over 64 characters (a long fraction)",
        expires("2099-09-21T15:00:00." + "1" * 60 + "Z"), EXP_BAD)
allow(317, "expired-task-cancel-not-checked", "expiry",
      "Expires-At belongs to task.dispatch; a task.cancel carrying a past one is not stale",
      message("task.cancel", extra=[("X-AAMP-Expires-At", "2020-01-01T00:00:00Z")]))
case(318, "expired-to-report-mailbox", "expiry", "a stale dispatch to a report-mode mailbox: delivered, marked",
     expires("2020-01-01T00:00:00Z").replace(b"To: agent@example.net", b"To: watch@example.net"),
     rcpt=["watch@example.net"], action="accept", verdict="report-stale",
     vheader="aamp=fail (report mode: would refuse)")
untrusted(319, "expired-and-untrusted", "expiry", "untrusted and stale: trust is checked first",
          expires("2020-01-01T00:00:00Z"))
stale(320, "year-0000", "year 0000 parses; it is long past", "0000-01-01T00:00:00Z", "0000-01-01T00:00:00Z")
invalid(321, "expires-trailing-space", "expiry", "a trailing space after the date-time",
        message(extra=[b"X-AAMP-Expires-At: 2099-01-01T00:00:00Z \n"]), "X-AAMP-Expires-At has trailing white space")
invalid(322, "expires-encoded-word", "expiry", "Expires-At as an encoded-word",
        expires("=?utf-8?q?2099-01-01T00:00:00Z?="), "X-AAMP-Expires-At must not contain an RFC 2047 encoded-word")
invalid(323, "iso-week-date", "expiry", "an ISO 8601 week date (not RFC 3339)", expires("2026-W39-1T00:00:00Z"), EXP_BAD)
allow(324, "year-9999", "expiry", "9999-12-31T23:59:59Z", expires("9999-12-31T23:59:59Z"))
stale(325, "past-with-big-offset", "-23:59 pushes a past local time later, still past",
      "2026-09-20T00:00:00-23:59", "2026-09-20T23:59:00Z")

# =======================================================================================
# pairing: codes, brute force (sequences), replay, backscatter rules, loops.

def paired(num, slug, why, msg, outbox=("completed",), **kw):
    kw = {**NEWBIE, **kw}
    case(num, slug, "pairing", why, msg, action=kw.pop("action", "discard"), verdict=kw.pop("verdict", "pair-completed"),
         outbox=list(outbox), **kw)


def pair_rejected(num, slug, why, msg, error="unknown pair code", **kw):
    kw = {**NEWBIE, **kw}
    out = kw.pop("outbox", [f"rejected {error}"])
    case(num, slug, "pairing", why, msg, action="discard", verdict="pair-rejected", outbox=out, **kw)


def locked(num, slug, why, msg, mailbox="agent@example.net", **kw):
    kw = {**NEWBIE, **kw}
    case(num, slug, "pairing", why, msg, action="reject", verdict="pair-locked",
         reply=f"550 5.7.1 too many failed pairing attempts for {mailbox}; try again after {LOCK_UNTIL}",
         outbox=[], **kw)


paired(330, "live-code", "control: the live code pairs the requester; the request is consumed, a completed reply queued",
       pair_request("LiveCode-A1b2C3"), in_reply_to="<pair-1@example.org>")
pair_rejected(331, "expired-code", "a code past its TTL", pair_request("ExpiredCode-Q1"), "expired pair code")
pair_rejected(332, "used-code", "a code redeemed a minute ago by someone else", pair_request("UsedCode-W2e3"),
              "pair code already used")
pair_rejected(333, "revoked-code", "a code the operator revoked", pair_request("RevokedCode-R4"), "pair code revoked")
pair_rejected(334, "unknown-code", "a guess", pair_request("Guess-0001"))
pair_rejected(335, "code-of-another-mailbox", "a live code issued for @agents.example.net, sent to agent@example.net",
              pair_request("DomainCode-D5f6"))
paired(336, "domain-mailbox-code", "a domain mailbox's code, to one of its addresses: the reply comes from that address",
       pair_request("DomainCode-D5f6", to="x@agents.example.net"), rcpt=["x@agents.example.net"])
pair_rejected(337, "code-wrong-case", "codes are base64url: case matters", pair_request("livecode-a1b2c3"))
invalid(338, "code-with-padding", "pairing", "a trailing '=' is not base64url: refused before any lookup",
        pair_request("LiveCode-A1b2C3="), "X-AAMP-Pair-Code must be 4 to 128 base64url characters", outbox=[], **NEWBIE)
invalid(339, "code-trailing-space", "pairing", "the live code followed by a space",
        pair_request(None, extra=[b"X-AAMP-Pair-Code: LiveCode-A1b2C3 \n"]), "X-AAMP-Pair-Code has trailing white space",
        outbox=[], **NEWBIE)
invalid(340, "code-too-short", "pairing", "a three-character code",
        pair_request("abc"), "X-AAMP-Pair-Code must be 4 to 128 base64url characters", outbox=[], **NEWBIE)
invalid(341, "code-129-chars", "pairing", "a code over 128 characters",
        pair_request("A" * 129), "X-AAMP-Pair-Code must be 4 to 128 base64url characters", outbox=[], **NEWBIE)
invalid(342, "code-missing", "pairing", "pair.request without a code",
        pair_request(None), "X-AAMP-Pair-Code is required for intent pair.request", outbox=[], **NEWBIE)
case("343a", "untrusted-requester-live-code", "pairing",
     "an unauthenticated requester with the live code: refused at SMTP, no reply (no backscatter), code untouched",
     pair_request("LiveCode-A1b2C3"), action="reject", verdict="untrusted",
     reply="550 5.7.1 sender newbie@example.org is not authenticated", outbox=[], mail_from="newbie@example.org",
     auth=None)
paired("343b", "untrusted-requester-then-trusted", "the same code, now authenticated: it was not consumed",
       pair_request("LiveCode-A1b2C3"))
pair_rejected(344, "null-sender-wrong-code", "a pair.request from the null sender: handled, never answered",
              pair_request("Guess-0001"), outbox=[], mail_from="")
paired(345, "null-sender-live-code", "the live code from the null sender: paired, not answered",
       pair_request("LiveCode-A1b2C3"), outbox=(), mail_from="")
pair_rejected(346, "auto-submitted-auto-replied", "Auto-Submitted: auto-replied: never answered (RFC 3834)",
              pair_request("Guess-0001", extra=[("Auto-Submitted", "auto-replied")]), outbox=[])
pair_rejected(347, "auto-submitted-auto-generated-comment", "Auto-Submitted: Auto-Generated (bot): not answered",
              pair_request("Guess-0001", extra=[("Auto-Submitted", "Auto-Generated (bot)")]), outbox=[])
pair_rejected(348, "auto-submitted-no", "control: Auto-Submitted: no is a human's mail: answered",
              pair_request("Guess-0001", extra=[("Auto-Submitted", "no")]))
pair_rejected(349, "auto-submitted-no-then-auto-replied",
              "two Auto-Submitted fields, 'no' then 'auto-replied': any automatic mark must stop the answer (loops)",
              pair_request("Guess-0001", extra=[("Auto-Submitted", "no"), ("Auto-Submitted", "auto-replied")]),
              outbox=[])
pair_rejected(350, "auto-submitted-no-upper-case", "'No' is 'no': answered",
              pair_request("Guess-0001", extra=[("Auto-Submitted", "No")]))
allow(351, "pair-respond-to-agent", "pairing",
      "a pair.respond arriving at an agent: not guarded, delivered, never answered (no loop)",
      message("pair.respond", extra=[("X-AAMP-Status", "completed")]), outbox=[])
allow(352, "pair-respond-null-sender-auto-replied", "pairing",
      "our own kind of reply (null sender, Auto-Submitted) looping back to a protected mailbox: delivered, not answered",
      message("pair.respond", frm="agent@example.net", extra=[("X-AAMP-Status", "rejected"), ("Auto-Submitted", "auto-replied"),
                                                              ("X-AAMP-ErrorMsg", "unknown pair code")]),
      mail_from="", auth=None, outbox=[])
allow("353a", "pair-respond-carrying-live-code", "pairing",
      "a pair.respond that carries the live code: no pairing is performed for it",
      message("pair.respond", frm="Newbie <newbie@example.org>",
              extra=[("X-AAMP-Status", "completed"), ("X-AAMP-Pair-Code", "LiveCode-A1b2C3")]), outbox=[], **NEWBIE)
paired("353b", "pair-respond-then-request", "the code is still live afterwards", pair_request("LiveCode-A1b2C3"))
invalid(354, "pair-respond-without-status", "pairing", "pair.respond must carry Status",
        message("pair.respond"), "X-AAMP-Status is required for intent pair.respond")
pair_rejected(355, "pair-request-from-the-agent-itself", "the agent mailbox (from an internal host) asks itself: "
              "answered with a pair.respond, which is never answered in turn",
              pair_request("Guess-0001", frm="agent@example.net"), mail_from="agent@example.net", auth=None,
              client="10.0.0.9")
paired(356, "same-mailbox-twice", "the agent listed twice (two spellings): one pairing, one completed reply",
       pair_request("LiveCode-A1b2C3"), rcpt=["agent@example.net", "<Agent@Example.NET>"],
       audit=["pair-completed", "pair-completed"])
paired(357, "domain-mailbox-twice", "two addresses of one domain mailbox: one pairing, one reply",
       pair_request("DomainCode-D5f6", to="x@agents.example.net"), rcpt=["x@agents.example.net", "y@agents.example.net"],
       audit=["pair-completed", "pair-completed"])
paired(358, "two-mailboxes-one-code", "one code, two mailboxes: it pairs with its own, is unknown to the other",
       pair_request("LiveCode-A1b2C3"), rcpt=["agent@example.net", "x@agents.example.net"],
       outbox=("completed", "rejected unknown pair code"), audit=["pair-completed", "pair-rejected"])
paired(359, "pair-request-with-human-recipient", "the agent and a human: the agent's copy is consumed, the human's delivered",
       pair_request("LiveCode-A1b2C3"), rcpt=["agent@example.net", "bob@example.net"], action="accept",
       delete=["agent@example.net"])
case(360, "pair-request-to-off-mailbox", "pairing", "a mailbox with enforcement off: not ours to pair",
     pair_request("LiveCode-A1b2C3", to="off@example.net"), rcpt=["off@example.net"], action="accept",
     verdict="unprotected", outbox=[], **NEWBIE)
paired(361, "consume-sole-recipient-discards", "a consumed request to its only recipient is discarded, never left with "
       "zero recipients (Stalwart would store it and never deliver it; its DISCARD drops, data.rs:608-611)",
       pair_request("LiveCode-A1b2C3"))
paired(362, "trusted-by-dkim", "a requester trusted through the verifier's DKIM pass, not SMTP AUTH",
       pair_request("LiveCode-A1b2C3", extra=[ar("border.example.net; dkim=pass header.d=example.org")]), auth=None)
untrusted(363, "auth-differs-from-from", "pairing",
          "logged in as newbie, From: victim: refused at SMTP, and no reply goes to the victim",
          pair_request("LiveCode-A1b2C3", frm="victim@example.org"),
          reply="550 5.7.1 sender victim@example.org is not authenticated (authenticated as newbie@example.org",
          auth="newbie@example.org", mail_from="newbie@example.org", outbox=[])
invalid(364, "code-empty", "pairing", "an empty Pair-Code", pair_request(""),
        "X-AAMP-Pair-Code must be 4 to 128 base64url characters", outbox=[], **NEWBIE)
pair_rejected(365, "code-128-chars-unknown", "a 128-character code: valid form, unknown", pair_request("B" * 128))
invalid(366, "code-folded", "pairing", "the live code folded in two: a space after unfolding",
        pair_request(None, extra=[b"X-AAMP-Pair-Code: LiveCode-\n A1b2C3\n"]), not_printable("X-AAMP-Pair-Code"),
        outbox=[], **NEWBIE)
invalid(367, "pair-request-without-taskid", "pairing", "a pair.request without TaskId cannot be answered; refused",
        pair_request("LiveCode-A1b2C3", omit=["X-AAMP-TaskId"]), "X-AAMP-TaskId is required on every AAMP message",
        outbox=[], **NEWBIE)
invalid(368, "pair-request-intent-wrong-case", "pairing", "'Pair.Request': not an intent",
        message("Pair.Request", extra=[("X-AAMP-Pair-Code", "LiveCode-A1b2C3")], frm="newbie@example.org"),
        "X-AAMP-Intent 'Pair.Request' is not one of the ten AAMP 1.1 intents", outbox=[], **NEWBIE)
pair_rejected(369, "code-of-report-mailbox", "the report mailbox's live code, sent to agent@example.net",
              pair_request("WatchCode-V7k8"))

# Brute force: five wrong codes, then the mailbox (and the requester) are locked for 15 minutes.
for i, letter in enumerate("abcde"):
    pair_rejected(f"370{letter}", f"brute-force-guess-{i + 1}", f"wrong code {i + 1} of 5 from one requester"
                  + (": the fifth failure writes the lockout (this one is still answered)" if i == 4 else ""),
                  pair_request(f"Guess-000{i + 1}", task=f"pair-task-{i + 1}"))
locked("370f", "brute-force-guess-6-locked", "the sixth try: refused at SMTP as locked out, no reply, not counted",
       pair_request("Guess-0006", task="pair-task-6"))
locked("370g", "brute-force-right-code-while-locked", "even the right code is refused during the lockout (not consumed)",
       pair_request("LongCode-Z9y8X7", task="pair-task-7"))
locked("370h", "brute-force-other-requester-while-locked", "another requester: the mailbox itself is locked",
       pair_request("LongCode-Z9y8X7", frm="other@example.org", task="pair-task-8"), mail_from="other@example.org",
       auth="other@example.org")
paired("370i", "brute-force-after-lockout", "901 seconds later the lockout is over and the right code still works",
       pair_request("LongCode-Z9y8X7", task="pair-task-9"), clock=901)
for i, letter in enumerate("abcde"):
    who = f"r{i + 1}@example.org"
    pair_rejected(f"371{letter}", f"distributed-guess-{i + 1}", f"wrong code from requester {i + 1} of 5 (a botnet)",
                  pair_request(f"Guess-010{i}", frm=who), mail_from=who, auth=who)
locked("371f", "distributed-sixth-requester-locked", "a sixth requester: the mailbox is locked after five failures in all",
       pair_request("LongCode-Z9y8X7", frm="r6@example.org"), mail_from="r6@example.org", auth="r6@example.org")
for i, letter in enumerate("abcde"):
    pair_rejected(f"372{letter}", f"requester-guess-{i + 1}", f"wrong code {i + 1} to agent@example.net",
                  pair_request(f"Guess-020{i}"))
locked("372f", "requester-locked-on-other-mailbox",
       "the same requester trying another mailbox's live code: the requester is locked too",
       pair_request("DomainCode-D5f6", to="x@agents.example.net"), rcpt=["x@agents.example.net"],
       mailbox="x@agents.example.net")
case(373, "multi-recipient-brute-force", "pairing",
     "one message to six addresses of one domain mailbox with a guess: each address is an attempt of its own (a code "
     "may be bound to one address), so the fifth failure locks and the sixth is refused; the lockout still bounds it",
     pair_request("Guess-0300", to="x1@agents.example.net"), rcpt=[f"x{i}@agents.example.net" for i in range(1, 7)],
     action="reject", verdict="pair-locked",
     reply=f"550 5.7.1 too many failed pairing attempts for x6@agents.example.net; try again after {LOCK_UNTIL}",
     audit=["pair-rejected"] * 5 + ["pair-locked"], outbox=["rejected unknown pair code"] * 5, **NEWBIE)
pair_rejected(377, "auto-submitted-empty", "an empty Auto-Submitted is not 'no': treated as automatic, not answered",
              pair_request("Guess-0001", extra=[b"Auto-Submitted:\n"]), outbox=[])
paired(378, "pair-request-to-trailing-dot-recipient", "the live code sent to <agent@example.net.>: the mailbox it "
       "reaches is agent@example.net, paired, answered from agent@example.net", pair_request("LiveCode-A1b2C3"),
       rcpt=["<agent@example.net.>"])
pair_rejected(379, "wrong-code-same-address-three-spellings", "a guess to one address written three ways: one attempt, "
              "one failure counted, one reply", pair_request("Guess-0001"),
              rcpt=["agent@example.net", "<Agent@Example.NET>", "<agent@example.net.>"],
              audit=["pair-rejected"] * 3)
paired("374a", "replay-first-use", "the live code, first use", pair_request("LiveCode-A1b2C3"))
pair_rejected("374b", "replay-same-requester", "the same request replayed: the code is spent", pair_request("LiveCode-A1b2C3"),
              "pair code already used")
pair_rejected("374c", "replay-other-requester", "another requester replaying the captured code",
              pair_request("LiveCode-A1b2C3", frm="thief@example.org"), "pair code already used",
              mail_from="thief@example.org", auth="thief@example.org")
paired("375a", "paired-then-dispatch-pairing", "pairing with the live code (issued rules: project p1 or p2)",
       pair_request("LiveCode-A1b2C3"))
allow("375b", "paired-then-dispatch-allowed", "pairing", "the paired requester dispatches with project=p2",
      message(frm="Newbie <newbie@example.org>", extra=[("X-AAMP-Dispatch-Context", "project=p2")]), **NEWBIE,
      vheader="policy.origin=paired")
deny("375c", "paired-then-dispatch-other-project", "pairing", "project=p3 is outside the issued rules",
     message(frm="Newbie <newbie@example.org>", extra=[("X-AAMP-Dispatch-Context", "project=p3")]),
     "newbie@example.org may not send task.dispatch to agent@example.net: the dispatch context does not satisfy any sender rule",
     **NEWBIE)
deny("375d", "paired-then-other-mailbox", "pairing", "the pairing is for agent@example.net only",
     message(frm="Newbie <newbie@example.org>", to="x@agents.example.net", extra=[("X-AAMP-Dispatch-Context", "project=p2")]),
     "newbie@example.org may not send task.dispatch to x@agents.example.net: no sender rule allows it",
     rcpt=["x@agents.example.net"], **NEWBIE)
allow(376, "earlier-paired-sender-dispatches", "pairing",
      "earlier@example.org redeemed UsedCode-W2e3 in the scene: a paired rule without context lets it dispatch",
      message(frm="earlier@example.org"), mail_from="earlier@example.org", auth="earlier@example.org",
      vheader="policy.origin=paired")

# =======================================================================================
# recipients: several recipients, mixed outcomes, address spellings.

CAROL = dict(mail_from="carol@example.com", auth="carol@example.com")
CAROL_FROM = "Carol <carol@example.com>"
case(390, "allowed-and-denied", "recipients",
     "the partner may write to agent@ (rule with context) but not to the agents domain: only that recipient is removed",
     message(frm=PARTNER_FROM, extra=[CTX_P1]), rcpt=["agent@example.net", "x@agents.example.net"], action="accept",
     verdict="deny", audit=["allow", "deny"], delete=["x@agents.example.net"], vheader="policy.rcpt=agent@example.net",
     **PARTNER)
deny(391, "every-recipient-denied", "recipients", "no recipient allows carol: the whole message is rejected",
     message(frm=CAROL_FROM), "carol@example.com " + NO_RULE, rcpt=["agent@example.net", "x@agents.example.net"],
     audit=["deny", "deny"], **CAROL)
case(392, "invalid-with-human-recipient", "recipients",
     "a malformed AAMP message to the agent and a human: the agent's copy is refused, the human still gets it",
     message(extra=[("X-AAMP-Intent", "task.ack")]), rcpt=["agent@example.net", "bob@example.net"], action="accept",
     verdict="invalid", delete=["agent@example.net"], vheader="none")
case(393, "report-and-enforce", "recipients",
     "carol to a report-mode mailbox and an enforcing one: the report one gets it marked, the other is removed",
     message(frm=CAROL_FROM), rcpt=["watch@example.net", "agent@example.net"], action="accept", verdict="deny",
     audit=["report-deny", "deny"], delete=["agent@example.net"], vheader="policy.rcpt=watch@example.net", **CAROL)
case(394, "off-and-invalid", "recipients", "a mailbox with enforcement off keeps its copy of a malformed message",
     message(extra=[("X-AAMP-TaskId", "t2")]), rcpt=["off@example.net", "agent@example.net"], action="accept",
     verdict="invalid", delete=["agent@example.net"])
deny(395, "same-mailbox-two-spellings", "recipients", "agent@ and <AGENT@example.net>: both refused, the message rejected",
     message(frm=CAROL_FROM), "carol@example.com " + NO_RULE, rcpt=["agent@example.net", "<AGENT@example.net>"],
     audit=["deny", "deny"], **CAROL)
case(396, "thousand-recipients-one-denied", "recipients", "1,000 unprotected recipients and one refused agent",
     message(frm=CAROL_FROM), rcpt=[f"u{i}@example.org" for i in range(1000)] + ["agent@example.net"], action="accept",
     verdict="deny", delete=["agent@example.net"], **CAROL)
deny(397, "recipient-trailing-dot", "recipients",
     "RCPT TO:<agent@example.net.> : Postfix strips the trailing dot and delivers to the agent, so it is protected",
     message(frm=CAROL_FROM), "carol@example.com " + NO_RULE, rcpt=["<agent@example.net.>"], **CAROL)
deny(398, "recipient-quoted-local-part", "recipients",
     "RCPT TO:<\"agent\"@example.net> is agent@example.net (RFC 5321 §4.1.2): protected",
     message(frm=CAROL_FROM), "carol@example.com " + NO_RULE, rcpt=['<"agent"@example.net>'], **CAROL)
deny(399, "recipient-source-route", "recipients",
     "RCPT TO:<@relay.example:agent@example.net>: the source route is ignored (RFC 5321 §3.6.1): protected",
     message(frm=CAROL_FROM), "carol@example.com " + NO_RULE, rcpt=["<@relay.example:agent@example.net>"], **CAROL)
deny(406, "recipient-route-quotes-dot-case", "recipients",
     "<@r.example:\"Agent\"@Example.NET.> : every spelling trick at once, still the agent",
     message(frm=CAROL_FROM), "carol@example.com " + NO_RULE, rcpt=['<@r.example:"Agent"@Example.NET.>'], **CAROL)
deny(407, "recipient-quoted-pair-local-part", "recipients",
     "<\"ag\\ent\"@example.net>: the quoted-pair is just 'e' (Postfix delivered it to agent@)",
     message(frm=CAROL_FROM), "carol@example.com " + NO_RULE, rcpt=['<"ag\\ent"@example.net>'], **CAROL)
case(400, "recipient-plus-extension", "recipients",
     "agent+x@example.net is another mailbox unless the MTA sets recipient_delimiter (Postfix default: unset): "
     "not protected here (see README: operators with a delimiter must protect the domain)",
     message(frm=CAROL_FROM), rcpt=["agent+x@example.net"], action="accept", verdict="unprotected", **CAROL)
deny(401, "recipient-upper-case", "recipients", "control: AGENT@EXAMPLE.NET is the agent",
     message(frm=CAROL_FROM), "carol@example.com " + NO_RULE, rcpt=["<AGENT@EXAMPLE.NET>"], **CAROL)
case(402, "recipient-subdomain-of-domain-mailbox", "recipients",
     "@agents.example.net protects that domain, not sub.agents.example.net",
     message(frm=CAROL_FROM), rcpt=["x@sub.agents.example.net"], action="accept", verdict="unprotected", **CAROL)
case(403, "domain-mailbox-any-address", "recipients", "any address of @agents.example.net is protected",
     message(frm=CAROL_FROM), rcpt=["whatever.name@Agents.Example.Net"], action="reject", verdict="deny",
     reply="550 5.7.1 carol@example.com may not send task.dispatch to whatever.name@agents.example.net", **CAROL)
case(404, "denied-and-allowed", "recipients", "a refused recipient is removed, the allowed one kept (any MTA)",
     message(frm=PARTNER_FROM, extra=[CTX_P1]), rcpt=["agent@example.net", "x@agents.example.net"],
     action="accept", verdict="deny", audit=["allow", "deny"], delete=["x@agents.example.net"], **PARTNER)
case(405, "invalid-to-every-protected", "recipients", "a malformed message to two protected mailboxes: rejected once",
     message(extra=[("X-AAMP-TaskId", "t2")]), rcpt=["agent@example.net", "x@agents.example.net"], action="reject",
     verdict="invalid", reply=MALFORMED + dup("X-AAMP-TaskId"), audit=["invalid", "invalid"])

# =======================================================================================
# intent: wrong case, unknown, guarded intents, required companions.

def unknown_intent(num, slug, why, value, shown=None):
    invalid(num, slug, "intent", why, message(value),
            f"X-AAMP-Intent '{shown if shown is not None else value}' is not one of the ten AAMP 1.1 intents")


unknown_intent(410, "intent-title-case", "'Task.Dispatch': intents are lower case on the wire", "Task.Dispatch")
unknown_intent(411, "intent-upper-case", "'TASK.DISPATCH'", "TASK.DISPATCH")
unknown_intent(412, "intent-underscore", "'task_dispatch'", "task_dispatch")
unknown_intent(413, "intent-trailing-dot", "'task.dispatch.'", "task.dispatch.")
unknown_intent(414, "intent-pair-request-mixed-case", "'pair.Request'", "pair.Request")
invalid(415, "intent-empty", "intent", "an empty intent", message(omit=["X-AAMP-Intent"], extra=[b"X-AAMP-Intent:\n"]),
        "X-AAMP-Intent '' is not one of the ten AAMP 1.1 intents")
unknown_intent(416, "intent-list", "'task.dispatch,task.ack': one intent per message", "task.dispatch,task.ack")
unknown_intent(417, "intent-unknown-verb", "'task.execute'", "task.execute")
allow(418, "card-query-allowed", "intent", "control: card.query (guarded) from an allowed sender", message("card.query"))
untrusted(419, "card-query-untrusted", "intent", "card.query is guarded: an unauthenticated stranger is refused",
          message("card.query", frm="stranger@elsewhere.example"),
          reply="550 5.7.1 sender stranger@elsewhere.example is not authenticated", mail_from="stranger@elsewhere.example")
deny(420, "task-cancel-denied", "intent", "task.cancel is guarded like task.dispatch",
     message("task.cancel", frm=CAROL_FROM),
     "carol@example.com may not send task.cancel to agent@example.net: no sender rule allows it", **CAROL)
invalid(421, "task-result-without-status", "intent", "task.result must carry Status (strict mode)",
        message("task.result"), "X-AAMP-Status is required for intent task.result")
invalid(422, "stream-opened-without-stream-id", "intent", "task.stream.opened must carry Stream-Id",
        message("task.stream.opened"), "X-AAMP-Stream-Id is required for intent task.stream.opened")
invalid(423, "status-title-case", "intent", "Status 'Completed'",
        message("task.result", extra=[("X-AAMP-Status", "Completed")]), "X-AAMP-Status must be completed or rejected")
invalid(424, "priority-upper-case", "intent", "Priority 'URGENT'",
        message(extra=[("X-AAMP-Priority", "URGENT")]), "X-AAMP-Priority must be urgent, high or normal")
invalid(425, "intent-missing", "intent", "Version and TaskId but no Intent",
        message(omit=["X-AAMP-Intent"]), "X-AAMP-Intent is required on every AAMP message")
invalid(426, "taskid-missing", "intent", "no TaskId", message(omit=["X-AAMP-TaskId"]),
        "X-AAMP-TaskId is required on every AAMP message")
invalid(427, "intent-with-tab-inside", "intent", "'task.<TAB>dispatch'", message("task.\tdispatch"),
        not_printable("X-AAMP-Intent"))
allow(428, "intent-header-name-lower-case", "intent", "control: x-aamp-intent (nodemailer-style name case) is the same field",
      message(omit=["X-AAMP-Intent"], extra=[("x-aamp-intent", "task.dispatch")]))
allow(429, "task-ack-untrusted-unguarded", "intent", "task.ack from an unauthenticated stranger: not guarded",
      message("task.ack", frm="stranger@elsewhere.example"), mail_from="stranger@elsewhere.example", auth=None)

# =======================================================================================
# version: other majors, malformed, missing.

VFORM = "X-AAMP-Version must be of the form 1.x, e.g. 1.1"
invalid(430, "version-2-0", "version", "a future major version", message(version="2.0"),
        "X-AAMP-Version '2.0' is not supported (only 1.x is)")
allow(431, "version-1-0", "version", "1.0 is an AAMP 1.x version", message(version="1.0"))
allow(432, "version-1-9", "version", "1.9: a later minor is still 1.x", message(version="1.9"))
invalid(433, "version-1-x", "version", "'1.x'", message(version="1.x"), VFORM)
invalid(434, "version-bare-1", "version", "'1'", message(version="1"), VFORM)
invalid(435, "version-three-parts", "version", "'1.1.0'", message(version="1.1.0"), VFORM)
invalid(436, "version-garbage", "version", "'garbage'", message(version="garbage"), VFORM)
invalid(437, "version-empty", "version", "an empty version",
        message(omit=["X-AAMP-Version"], extra=[b"X-AAMP-Version:\n"]), VFORM)
invalid(438, "version-leading-zero", "version", "'01.1': not the literal major 1", message(version="01.1"),
        "X-AAMP-Version '01.1' is not supported (only 1.x is)")
invalid(439, "version-trailing-space", "version", "'1.1 '",
        message(omit=["X-AAMP-Version"], extra=[b"X-AAMP-Version: 1.1 \n"]), "X-AAMP-Version has trailing white space")
invalid(440, "version-missing-strict", "version", "no Version: the SDKs default to 1.1, strict mode does not",
        message(omit=["X-AAMP-Version"]), "X-AAMP-Version is required on every AAMP message")
invalid(441, "version-negative", "version", "'-1.1'", message(version="-1.1"), VFORM)
allow(442, "version-1-01", "version", "'1.01': minor 01 of major 1", message(version="1.01"))
invalid(443, "version-11-1", "version", "'11.1'", message(version="11.1"), "X-AAMP-Version '11.1' is not supported (only 1.x is)")
invalid(444, "version-ten-digit-minor", "version", "a minor of ten digits (bound nine)", message(version="1.1234567890"), VFORM)
invalid(445, "version-fullwidth-digits", "version", "'\uff11.\uff11' (fullwidth digits)", message(version="\uff11.\uff11"),
        not_printable("X-AAMP-Version"))
invalid(446, "version-with-comment", "version", "'1.1 (draft)'", message(version="1.1 (draft)"),
        not_printable("X-AAMP-Version"))

# =======================================================================================
# report: a report-mode mailbox decides and audits, blocks nothing; no pairing is performed.

WATCH = dict(rcpt=["watch@example.net"])


def to_watch(msg):
    return msg.replace(b"To: agent@example.net", b"To: watch@example.net")


case(450, "report-invalid", "report", "a malformed message to a report-mode mailbox: delivered, marked permerror",
     to_watch(message(extra=[("X-AAMP-Intent", "task.ack")])), action="accept", verdict="report-invalid",
     vheader="aamp=permerror (report mode: would refuse)", **WATCH)
case(451, "report-untrusted", "report", "an unauthenticated sender to a report-mode mailbox",
     to_watch(message()), action="accept", verdict="report-untrusted", auth=None,
     vheader="aamp=fail (report mode: would refuse)", **WATCH)
case(452, "report-deny", "report", "carol (no rule) to a report-mode mailbox",
     to_watch(message(frm=CAROL_FROM)), action="accept", verdict="report-deny", **CAROL, **WATCH)
allow(453, "report-allow", "report", "control: an allowed sender to a report-mode mailbox", to_watch(message()),
      vheader="aamp=pass", **WATCH)
case(454, "report-pair-live-code", "report", "the live code of a report-mode mailbox: what pairing would do, nothing done",
     pair_request("WatchCode-V7k8", to="watch@example.net"), action="accept", verdict="report-pair-completed",
     outbox=[], vheader="aamp=pass", **NEWBIE, **WATCH)
for i, letter in enumerate("abcdef"):
    case(f"455{letter}", f"report-pair-guess-{i + 1}", "report",
         f"wrong code {i + 1} to a report-mode mailbox: nothing is counted, so no lockout ever comes",
         pair_request(f"Guess-040{i}", to="watch@example.net"), action="accept", verdict="report-pair-rejected",
         outbox=[], **NEWBIE, **WATCH)
case("455g", "report-pair-live-code-after-guesses", "report", "the live code after six guesses: still would complete",
     pair_request("WatchCode-V7k8", to="watch@example.net"), action="accept", verdict="report-pair-completed",
     outbox=[], **NEWBIE, **WATCH)
case(456, "off-mailbox-invalid", "report", "a malformed message to a mailbox with enforcement off: not ours",
     message(to="off@example.net", extra=[("X-AAMP-Intent", "task.ack")]), rcpt=["off@example.net"], action="accept",
     verdict="unprotected")

# =======================================================================================
# store: the policy store fails under a hostile message: tempfail, nothing lost.

TEMP = "451 4.3.0 temporary local problem: policy store unavailable, try again later"
case(460, "store-fails-at-mailbox-lookup", "store", "the store fails at the first lookup: 451, the client retries",
     message(), action="tempfail", verdict="store-error", reply=TEMP, fault="find_mailbox",
     blackbox="no store fault injection in the black-box replay")
case(461, "store-fails-at-rule-lookup", "store", "the store fails at the rule lookup",
     message(), action="tempfail", verdict="store-error", reply=TEMP, fault="matching_rules",
     blackbox="no store fault injection in the black-box replay")
case(462, "store-fails-at-audit", "store", "the audit row cannot be written: nothing is delivered unaudited",
     message(), action="tempfail", verdict="store-error", reply=TEMP, fault="record_audit",
     blackbox="no store fault injection in the black-box replay")
case("463a", "store-fails-during-pairing", "store", "the pairing transaction fails: 451, the code is not consumed",
     pair_request("LiveCode-A1b2C3"), action="tempfail", verdict="store-error", reply=TEMP, fault="redeem_pair_code",
     outbox=[], blackbox="no store fault injection in the black-box replay", **NEWBIE)
case("463b", "store-recovers-pairing-retried", "store", "the client's retry: the code is still live",
     pair_request("LiveCode-A1b2C3"), action="discard", verdict="pair-completed", outbox=["completed"],
     blackbox="no store fault injection in the black-box replay", **NEWBIE)
case(464, "store-down-plain-mail", "store", "a broken store does not touch mail that is not AAMP (no store access at all)",
     plain(), action="accept", verdict="not-aamp", fault="find_mailbox",
     blackbox="no store fault injection in the black-box replay")


def write_all():
    os.makedirs(OUT, exist_ok=True)
    names = set()
    for name, data in CASES:
        names.add(name)
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
    for old in os.listdir(OUT):
        if old.endswith(".eml") and old not in names:
            os.remove(os.path.join(OUT, old))
    print(f"{len(CASES)} files in {OUT}")


if __name__ == "__main__":
    write_all()
