"""The IMAP server against a real ``mailplan serve --imap`` on 127.0.0.1: imaplib and raw
sockets, a real Maildir on disk (flags in file names, UID lists, Maildir++ folders)."""

from __future__ import annotations

import contextlib
import imaplib
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from planner.mailserver.imap_parse import (
    MailboxNameError,
    SequenceSet,
    check_mailbox_name,
    mutf7_decode,
    mutf7_encode,
)
from tests.mailserver.conftest import ImapProcess, wait_for
from tests.mailserver.pop3_support import Pop3Mailbox, add_user, client_tls_context

MULTIPART = (
    b"From: Alice Example <alice@example.test>\n"
    b"To: Bob <bob@example.test>, carol@example.test\n"
    b"Cc: dave@example.test\n"
    b"Subject: Quarterly figures\n"
    b"Date: Tue, 01 Dec 2026 10:00:00 +0000\n"
    b"Message-ID: <q4@example.test>\n"
    b"MIME-Version: 1.0\n"
    b'Content-Type: multipart/mixed; boundary="XX"\n'
    b"\n"
    b"preamble\n"
    b"--XX\n"
    b"Content-Type: text/plain; charset=utf-8\n"
    b"\n"
    b"Figures attached.\n"
    b"Second line.\n"
    b"--XX\n"
    b"Content-Type: application/pdf; name=q4.pdf\n"
    b"Content-Disposition: attachment; filename=q4.pdf\n"
    b"Content-Transfer-Encoding: base64\n"
    b"\n"
    b"JVBERi0xLjQK\n"
    b"--XX--\n"
)


def simple(subject: str, body: str = "hello") -> bytes:
    """A one-part message (LF line ends, as the store keeps them)."""
    return (
        f"From: Sender <sender@example.test>\nTo: x@example.test\nSubject: {subject}\n"
        f"Date: Wed, 02 Dec 2026 09:00:00 +0000\n\n{body}\n"
    ).encode()


def login(server: ImapProcess, box: Pop3Mailbox) -> imaplib.IMAP4:
    """An imaplib client logged in as ``box``'s user."""
    client = imaplib.IMAP4("127.0.0.1", server.port, timeout=15)
    typ, _ = client.login(box.address, box.password)
    assert typ == "OK"
    return client


@pytest.fixture
def client(imap_server: ImapProcess, imap_mailbox: Pop3Mailbox) -> Iterator[imaplib.IMAP4]:
    """A logged-in imaplib client of a fresh user; logged out after the test."""
    c = login(imap_server, imap_mailbox)
    yield c
    with contextlib.suppress(imaplib.IMAP4.error, OSError):
        c.logout()


class Wire:
    """A raw IMAP client: exact bytes out, reply lines (CRLF checked) in."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""
        self.greeting = self.line()

    def send(self, data: bytes | str) -> None:
        """Send raw bytes (a str gets CRLF)."""
        self.sock.sendall(data.encode() + b"\r\n" if isinstance(data, str) else data)

    def line(self) -> str:
        """One reply line without CRLF."""
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise AssertionError(f"closed; unterminated: {self.buf!r}")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode("utf-8", "replace")

    def until_tagged(self, tag: str) -> list[str]:
        """Lines up to and including the one tagged ``tag``."""
        out = []
        while True:
            out.append(self.line())
            if out[-1].startswith(tag + " "):
                return out

    def cmd(self, tag: str, command: str) -> list[str]:
        """Send ``tag command`` and read up to its tagged reply."""
        self.send(f"{tag} {command}")
        return self.until_tagged(tag)

    def closed_by_server(self, timeout: float = 10.0) -> bool:
        """True when the server closes the connection (reads to EOF)."""
        self.sock.settimeout(timeout)
        try:
            while self.sock.recv(65536):
                pass
        except (ConnectionResetError, TimeoutError):
            return False
        return True

    def close(self) -> None:
        """Drop the connection."""
        self.sock.close()


def files(root: Path, sub: str = "cur") -> list[str]:
    """File names in a Maildir folder."""
    return sorted(n for n in os.listdir(root / sub) if not n.startswith("."))


# region #### grammar units ####


def test_mutf7_round_trip_and_refusals() -> None:
    """Modified UTF-7 decodes and encodes RFC 3501's example; non-canonical and broken
    runs are refused."""
    assert mutf7_decode(b"~peter/mail/&U,BTFw-/&ZeVnLIqe-") == "~peter/mail/台北/日本語"
    assert mutf7_encode("台北") == b"&U,BTFw-"
    assert mutf7_decode(b"a&-b") == "a&b"
    for bad in (b"&Jjo", b"&AGE-", b"&ZeVnLIqe", b"\xc3\xa9", b"&!!-"):
        with pytest.raises(MailboxNameError):
            mutf7_decode(bad)


@pytest.mark.parametrize(
    "name",
    [
        b"..",
        b"../x",
        b"a/b",
        b"/etc",
        b"~root",
        b"a\0b",
        b"a..b",
        b".hidden",
        b"x.",
        b"",
        b"&AC8-",
        b"&AC4ALg-",
        b"INBOX/..",
        b"a\\b",
        b"a\nb",
    ],
)
def test_hostile_mailbox_names_refused(name: bytes) -> None:
    """Names that could leave the user's Maildir or hide a level are refused."""
    with pytest.raises(MailboxNameError):
        check_mailbox_name(name)


def test_mailbox_names_accepted() -> None:
    """Ordinary names, hierarchy and INBOX in any case are canonical names."""
    assert check_mailbox_name(b"inbox") == "INBOX"
    assert check_mailbox_name(b"Archive.2024") == "Archive.2024"
    assert check_mailbox_name(b"&ZeVnLIqe-") == "&ZeVnLIqe-"


def test_sequence_sets() -> None:
    """Ranges, ``*`` and reversed ranges."""
    s = SequenceSet.parse(b"1:3,5,7:*")
    assert list(s.numbers(9, 9)) == [1, 2, 3, 5, 7, 8, 9]
    assert list(SequenceSet.parse(b"4:2").numbers(9, 9)) == [2, 3, 4]
    assert SequenceSet.parse(b"*").contains(9, 9)


# endregion

# region #### session basics ####


def test_greeting_capability_and_logout(imap_server: ImapProcess) -> None:
    """The greeting carries the capabilities; LOGOUT answers BYE then OK and closes."""
    wire = Wire(imap_server.port)
    assert wire.greeting.startswith("* OK [CAPABILITY IMAP4rev1 ")
    lines = wire.cmd("a1", "CAPABILITY")
    assert "IDLE" in lines[0]
    assert "MOVE" in lines[0]
    assert "AUTH=PLAIN" in lines[0]
    assert lines[-1] == "a1 OK Capability completed."
    assert wire.cmd("a2", "LOGOUT") == ["* BYE Logging out.", "a2 OK Logout completed."]
    assert wire.closed_by_server()
    wire.close()


def test_login_needs_tls_without_insecure_auth(imap_start: object, tmp_path: Path) -> None:
    """Without ``--insecure-auth`` LOGIN in clear is refused (LOGINDISABLED); after
    STARTTLS it works, and commands sent before the handshake are discarded."""
    box = add_user(tmp_path / "d", "tls@example.test", "pw-tls")
    assert box.is_dir()
    server = imap_start(data_dir=tmp_path / "d")  # type: ignore[operator]
    wire = Wire(server.port)
    assert "LOGINDISABLED" in wire.greeting
    assert "STARTTLS" in wire.greeting
    assert wire.cmd("a1", "LOGIN tls@example.test pw-tls")[-1].startswith("a1 NO [PRIVACYREQUIRED]")
    wire.send("a2 STARTTLS\r\na3 LOGIN tls@example.test pw-tls")  # injected
    assert wire.until_tagged("a2")[-1] == "a2 OK Begin TLS negotiation now."
    wire.sock = client_tls_context().wrap_socket(wire.sock, server_hostname="localhost")
    lines = wire.cmd("a4", "CAPABILITY")
    assert "AUTH=PLAIN" in lines[0]
    assert "STARTTLS" not in lines[0]
    assert wire.cmd("a5", "LOGIN tls@example.test pw-tls")[-1].startswith("a5 OK")
    wire.close()


def test_imaps_and_authenticate_plain(imap_start: object, tmp_path: Path) -> None:
    """``--imaps`` speaks TLS from the first byte; AUTHENTICATE PLAIN with SASL-IR and
    with a continuation both log in."""
    add_user(tmp_path / "d", "tls@example.test", "pw-tls")
    server = imap_start("--imaps", "127.0.0.1:0", data_dir=tmp_path / "d")  # type: ignore[operator]
    c = imaplib.IMAP4_SSL("127.0.0.1", server.ports["imaps"], ssl_context=client_tls_context())
    typ, _ = c.authenticate("PLAIN", lambda _: b"\0tls@example.test\0pw-tls")
    assert typ == "OK"
    c.logout()
    sock = client_tls_context().wrap_socket(
        socket.create_connection(("127.0.0.1", server.ports["imaps"])), server_hostname="x"
    )
    sock.recv(4096)
    sock.sendall(b"a1 AUTHENTICATE PLAIN AHRsc0BleGFtcGxlLnRlc3QAcHctdGxz\r\n")
    assert sock.recv(4096).startswith(b"a1 OK [CAPABILITY")
    sock.close()


def test_failed_logins_penalised_then_bye(
    imap_server: ImapProcess, imap_mailbox: Pop3Mailbox
) -> None:
    """A wrong password is NO [AUTHENTICATIONFAILED]; the third failure ends the session."""
    wire = Wire(imap_server.port)
    for tag in ("a1", "a2"):
        reply = wire.cmd(tag, f'LOGIN {imap_mailbox.address} "wrong"')
        assert reply[-1] == f"{tag} NO [AUTHENTICATIONFAILED] Authentication failed."
    wire.send(f'a3 LOGIN {imap_mailbox.address} "wrong"')
    assert wire.line().startswith("* BYE [AUTHENTICATIONFAILED]")
    assert wire.closed_by_server()
    wire.close()


def test_bad_commands_state_and_limits(imap_server: ImapProcess, imap_mailbox: Pop3Mailbox) -> None:
    """Unknown commands and wrong states are BAD; a too long line is refused; 20 BADs in a
    row end the session."""
    wire = Wire(imap_server.port)
    assert wire.cmd("a1", "FROB")[-1] == "a1 BAD Unknown command."
    assert wire.cmd("a2", "SELECT INBOX")[-1] == "a2 BAD Command not valid in this state."
    wire.send(b"a3 NOOP " + b"x" * 70000 + b"\r\n")
    assert wire.line() == "* BAD Command line too long."
    assert wire.cmd("a4", "NOOP")[-1] == "a4 OK NOOP completed."
    for i in range(20):
        wire.send(f"b{i} FROB")
    lines = [wire.line() for _ in range(21)]
    assert lines[-1] == "* BYE Too many invalid commands."
    assert wire.closed_by_server()
    wire.close()


def test_literal_limits(imap_server: ImapProcess, imap_mailbox: Pop3Mailbox) -> None:
    """A synchronising literal over the limit gets BAD [TOOBIG] and no continuation; a
    LITERAL+ one over the limit ends the session."""
    wire = Wire(imap_server.port)
    assert wire.cmd("a1", f'LOGIN {imap_mailbox.address} "{imap_mailbox.password}"')[-1].startswith(
        "a1 OK"
    )
    assert wire.cmd("a2", "APPEND INBOX {999999999}")[-1] == "a2 BAD [TOOBIG] Literal too big."
    assert wire.cmd("a3", 'LIST "" {70000}')[-1] == "a3 BAD [TOOBIG] Literal too big."
    wire.send('a4 LIST "" {70000+}')
    assert wire.line().startswith("* BYE [TOOBIG]")
    assert wire.closed_by_server()
    wire.close()


def test_idle_timeout(imap_start: object, tmp_path: Path) -> None:
    """``--imap-idle-timeout`` ends a silent session with ``* BYE``, IDLE included."""
    add_user(tmp_path / "d", "t@example.test", "pw")
    server = imap_start(  # type: ignore[operator]
        "--insecure-auth", "--imap-idle-timeout", "1", data_dir=tmp_path / "d"
    )
    wire = Wire(server.port)
    assert wire.cmd("a1", "LOGIN t@example.test pw")[-1].startswith("a1 OK")
    wire.cmd("a2", "SELECT INBOX")
    wire.send("a3 IDLE")
    assert wire.line() == "+ idling"
    assert wire.line() == "* BYE Disconnected for inactivity."
    assert wire.closed_by_server()
    wire.close()


# endregion

# region #### messages ####


def test_fetch_items(client: imaplib.IMAP4, imap_mailbox: Pop3Mailbox) -> None:
    """FLAGS, UID, RFC822.SIZE (CRLF octets), ENVELOPE, BODYSTRUCTURE and sections of a
    multipart message; BODY.PEEK does not set \\Seen and BODY[] does."""
    imap_mailbox.deliver(MULTIPART)
    typ, data = client.select("INBOX")
    assert (typ, data) == ("OK", [b"1"])
    typ, data = client.fetch("1", "(UID FLAGS RFC822.SIZE ENVELOPE)")
    head = data[0]
    assert isinstance(head, bytes)
    assert b"UID 1 " in head
    assert b"FLAGS (\\Recent)" in head
    assert b"RFC822.SIZE %d" % len(MULTIPART.replace(b"\n", b"\r\n")) in head
    assert b'"Quarterly figures" (("Alice Example" NIL "alice" "example.test"))' in head
    assert b'(("Bob" NIL "bob" "example.test")(NIL NIL "carol" "example.test"))' in head
    assert b'"<q4@example.test>"' in head
    typ, data = client.fetch("1", "(BODYSTRUCTURE)")
    structure = data[0]
    assert isinstance(structure, bytes)
    assert b'("TEXT" "PLAIN" ("CHARSET" "utf-8") NIL NIL "7BIT" 31 2' in structure
    assert b'"APPLICATION" "PDF" ("NAME" "q4.pdf") NIL NIL "BASE64" 12' in structure
    assert b'("ATTACHMENT" ("FILENAME" "q4.pdf"))' in structure
    assert b' "MIXED" ("BOUNDARY" "XX")' in structure
    typ, data = client.fetch("1", "(BODY.PEEK[1] BODY.PEEK[2.MIME] BODY.PEEK[]<0.5>)")
    assert data[0][1] == b"Figures attached.\r\nSecond line."  # type: ignore[index]
    assert b"Content-Disposition: attachment" in data[1][1]  # type: ignore[index]
    assert data[2][1] == b"From:"  # type: ignore[index]
    assert client.fetch("1", "(FLAGS)")[1] == [b"1 (FLAGS (\\Recent))"]
    typ, data = client.fetch("1", "(BODY[])")
    assert data[0][1] == MULTIPART.replace(b"\n", b"\r\n")  # type: ignore[index]
    assert b"\\Seen" in data[-1]  # type: ignore[operator]
    assert files(imap_mailbox.root)[0].endswith(":2,S")


def test_store_flags_live_in_file_names(client: imaplib.IMAP4, imap_mailbox: Pop3Mailbox) -> None:
    """+FLAGS, -FLAGS, FLAGS and .SILENT rename the file to carry the letters."""
    imap_mailbox.deliver(simple("one"))
    client.select("INBOX")
    typ, data = client.store("1", "+FLAGS", "(\\Flagged \\Answered)")
    assert typ == "OK"
    assert b"\\Answered" in data[0]
    assert files(imap_mailbox.root)[0].endswith(":2,FR")
    client.store("1", "-FLAGS.SILENT", "(\\Answered)")
    assert files(imap_mailbox.root)[0].endswith(":2,F")
    typ, data = client.store("1", "FLAGS", "(\\Seen \\Draft)")
    assert files(imap_mailbox.root)[0].endswith(":2,DS")
    assert client.fetch("1", "(FLAGS)")[1] == [b"1 (FLAGS (\\Draft \\Seen \\Recent))"]


def test_keywords_kept_as_dovecot_keeps_them(
    client: imaplib.IMAP4, imap_mailbox: Pop3Mailbox
) -> None:
    """Keywords are a lowercase letter each in the file name, named in the folder's
    ``dovecot-keywords`` (the letters Dovecot 2.3 writes for the same STOREs); names
    match without case; FLAGS, SEARCH KEYWORD/UNKEYWORD and COPY follow them."""
    imap_mailbox.deliver(simple("one"))
    imap_mailbox.deliver(simple("two"))
    client.select("INBOX")
    permanent = client.response("PERMANENTFLAGS")[1][0]
    assert permanent == b"(\\Answered \\Flagged \\Deleted \\Seen \\Draft $Forwarded \\*)"
    client.untagged_responses.clear()
    typ, data = client.store("1", "+FLAGS", "($Forwarded $Junk MyTag)")
    assert (typ, data) == ("OK", [b"1 (FLAGS ($Forwarded $Junk MyTag \\Recent))"])
    assert client.untagged_responses["FLAGS"] == [
        b"(\\Answered \\Flagged \\Deleted \\Seen \\Draft $Forwarded $Junk MyTag)"
    ]
    typ, data = client.store("2", "+FLAGS", "(\\Seen $NotJunk mytag)")
    assert data == [b"2 (FLAGS (\\Seen MyTag $NotJunk \\Recent))"]
    assert [n.split(":2,")[1] for n in files(imap_mailbox.root)] == ["abc", "Scd"]
    assert (imap_mailbox.root / "dovecot-keywords").read_text() == (
        "0 $Forwarded\n1 $Junk\n2 MyTag\n3 $NotJunk\n"
    )
    assert client.search(None, "KEYWORD", "mytag") == ("OK", [b"1 2"])
    assert client.search(None, "UNKEYWORD", "$Junk") == ("OK", [b"2"])
    assert client.search(None, "KEYWORD", "Nope") == ("OK", [b""])
    client.store("1", "-FLAGS", "(MyTag)")
    assert client.copy("1", "Archive")[0] == "OK"
    assert (imap_mailbox.root / ".Archive" / "dovecot-keywords").read_text() == (
        "0 $Forwarded\n1 $Junk\n"
    )
    again = login_again(client, imap_mailbox)
    assert again.fetch("1:2", "(FLAGS)")[1] == [
        b"1 (FLAGS ($Forwarded $Junk))",
        b"2 (FLAGS (\\Seen MyTag $NotJunk))",
    ]
    again.select("Archive")
    assert again.fetch("1", "(FLAGS)")[1] == [b"1 (FLAGS ($Forwarded $Junk))"]
    again.logout()
    with pytest.raises(imaplib.IMAP4.error, match="Invalid system flag"):
        client.store("1", "+FLAGS", "(\\Bogus)")


def login_again(client: imaplib.IMAP4, box: Pop3Mailbox) -> imaplib.IMAP4:
    """A second session of ``client``'s user with INBOX selected."""
    other = imaplib.IMAP4(client.host, client.port, timeout=15)
    other.login(box.address, box.password)
    other.select("INBOX")
    return other


def test_keyword_named_by_another_session(client: imaplib.IMAP4, imap_mailbox: Pop3Mailbox) -> None:
    """-FLAGS removes a keyword another session named and set after this one selected,
    and keeps the \\Seen it set too: STORE works on the flags on disk, not on the
    session's older copy."""
    imap_mailbox.deliver(simple("later"))
    client.select("INBOX")
    other = login_again(client, imap_mailbox)
    assert other.store("1", "+FLAGS", "(Later \\Seen)")[0] == "OK"
    other.logout()
    _typ, data = client.store("1", "-FLAGS", "(later)")
    assert data[-1] == b"1 (FLAGS (\\Seen \\Recent))"
    assert files(imap_mailbox.root)[0].endswith(":2,S")


def test_maildir_passed_letter_is_forwarded(
    client: imaplib.IMAP4, imap_mailbox: Pop3Mailbox
) -> None:
    """A file mutt or isync marked ``P`` (passed) shows $Forwarded; -FLAGS $Forwarded
    clears it."""
    imap_mailbox.deliver(simple("passed"))
    client.select("INBOX")
    name = files(imap_mailbox.root)[0]
    os.rename(imap_mailbox.root / "cur" / name, imap_mailbox.root / "cur" / (name + "P"))
    client.noop()
    assert client.search(None, "KEYWORD", "$Forwarded") == ("OK", [b"1"])
    _typ, data = client.store("1", "-FLAGS", "($Forwarded)")
    assert data[-1] == b"1 (FLAGS (\\Recent))"
    assert files(imap_mailbox.root)[0].endswith(":2,")


def test_keyword_limit(imap_server: ImapProcess, imap_mailbox: Pop3Mailbox) -> None:
    """A folder keeps 26 keywords (a-z); the 27th is refused with NO [LIMIT], nothing
    changes, and PERMANENTFLAGS loses \\*; an invalid keyword is BAD."""
    imap_mailbox.deliver(simple("tags"))
    wire = Wire(imap_server.port)
    wire.cmd("a", f'LOGIN {imap_mailbox.address} "{imap_mailbox.password}"')
    wire.cmd("b", "SELECT INBOX")
    many = " ".join(f"K{i}" for i in range(26))
    assert wire.cmd("c", f"STORE 1 +FLAGS.SILENT ({many})")[-1] == "c OK Store completed."
    assert wire.cmd("d", "STORE 1 +FLAGS (K0 Extra)") == [
        "d NO [LIMIT] Too many keywords in this mailbox (at most 26)."
    ]
    assert files(imap_mailbox.root)[0].endswith(":2," + "abcdefghijklmnopqrstuvwxyz")
    reply = wire.cmd("e", "EXAMINE INBOX")
    assert f"* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Forwarded {many})" in reply
    assert "* OK [PERMANENTFLAGS ()] Flags permitted." in reply
    reply = wire.cmd("f", "SELECT INBOX")
    assert (
        f"* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Forwarded {many})] Flags permitted."
        in reply
    )
    assert wire.cmd("g", "STORE 1 +FLAGS (bad]key)")[-1].startswith("g BAD ")
    wire.cmd("h", "LOGOUT")
    wire.close()


def test_uids_stable_across_reconnect_and_restart(imap_start: object, tmp_path: Path) -> None:
    """UIDs and UIDVALIDITY survive a reconnect and a server restart; new mail gets
    higher UIDs; expunged UIDs are never reused."""
    data = tmp_path / "d"
    root = add_user(data, "u@example.test", "pw")
    box = Pop3Mailbox("u@example.test", "pw", root)
    for i in range(3):
        box.deliver(simple(f"m{i}"))
    server = imap_start("--insecure-auth", data_dir=data)  # type: ignore[operator]

    def uids() -> tuple[bytes, list[bytes]]:
        c = login(server, box)
        c.select("INBOX")
        validity = c.response("UIDVALIDITY")[1][0]
        _typ, found = c.uid("SEARCH", "ALL")
        c.logout()
        assert isinstance(validity, bytes)
        return validity, found[0].split()  # type: ignore[union-attr]

    first = uids()
    assert first[1] == [b"1", b"2", b"3"]
    assert uids() == first
    c = login(server, box)
    c.select("INBOX")
    c.store("2", "+FLAGS", "(\\Deleted)")
    c.expunge()
    c.logout()
    server.stop()
    box.deliver(simple("m3"))
    server = imap_start("--insecure-auth", data_dir=data)  # type: ignore[operator]
    assert uids() == (first[0], [b"1", b"3", b"4"])


def test_append_copy_move_expunge(client: imaplib.IMAP4, imap_mailbox: Pop3Mailbox) -> None:
    """APPEND answers APPENDUID; COPY answers COPYUID and keeps flags; MOVE expunges the
    source; EXPUNGE and UID EXPUNGE remove only \\Deleted messages."""
    typ, data = client.append("INBOX", "(\\Seen)", None, simple("a").replace(b"\n", b"\r\n"))
    assert typ == "OK"
    assert data[0].startswith(b"[APPENDUID ")
    client.append("INBOX", None, None, simple("b").replace(b"\n", b"\r\n"))
    client.append("INBOX", None, None, simple("c").replace(b"\n", b"\r\n"))
    client.select("INBOX")
    typ, data = client.copy("1:2", "Archive")
    assert typ == "OK"
    assert b"COPYUID" in data[0]
    assert [n.endswith(":2,S") for n in files(imap_mailbox.root / ".Archive")].count(True) == 1
    typ, data = client._simple_command("UID", "MOVE", "3", "Trash")
    assert typ == "OK"
    assert client.untagged_responses.pop("EXPUNGE") == [b"3"]
    assert len(files(imap_mailbox.root)) == 2
    assert len(files(imap_mailbox.root / ".Trash")) == 1
    client.store("1:2", "+FLAGS", "(\\Deleted)")
    typ, data = client.uid("EXPUNGE", "2")
    assert typ == "OK"
    assert client.untagged_responses.pop("EXPUNGE") == [b"2"]
    assert len(files(imap_mailbox.root)) == 1
    typ, data = client.expunge()
    assert data == [b"1"]
    assert files(imap_mailbox.root) == []
    assert client.copy("1:*", "Nowhere")[0] == "NO"


def test_search_keys(client: imaplib.IMAP4, imap_mailbox: Pop3Mailbox) -> None:
    """The common SEARCH keys, UID SEARCH, NOT/OR and a header match."""
    imap_mailbox.deliver(MULTIPART)
    imap_mailbox.deliver(simple("small note", "tiny"))
    imap_mailbox.deliver(simple("another note", "x" * 5000))
    client.select("INBOX")
    client.store("2", "+FLAGS", "(\\Seen \\Flagged)")

    def search(*keys: str) -> list[bytes]:
        typ, data = client.search(None, *keys)
        assert typ == "OK"
        return data[0].split()  # type: ignore[union-attr]

    assert search("ALL") == [b"1", b"2", b"3"]
    assert search("SEEN") == [b"2"]
    assert search("UNSEEN") == [b"1", b"3"]
    assert search("FLAGGED") == [b"2"]
    assert search("FROM", "alice") == [b"1"]
    assert search("TO", "carol") == [b"1"]
    assert search("SUBJECT", "NOTE") == [b"2", b"3"]
    assert search("BODY", "tiny") == [b"2"]
    assert search("LARGER", "4000") == [b"3"]
    assert search("SMALLER", "300") == [b"2"]
    assert search("NOT", "SEEN", "SUBJECT", "note") == [b"3"]
    assert search("OR", "FLAGGED", "FROM", "alice") == [b"1", b"2"]
    assert search("SINCE", "1-Jan-2000", "BEFORE", "1-Jan-2999") == [b"1", b"2", b"3"]
    assert search("SENTBEFORE", "2-Dec-2026") == [b"1"]
    assert search("2:3", "UNSEEN") == [b"3"]
    _typ, data = client.uid("SEARCH", "UID", "2:*")
    assert data[0].split() == [b"2", b"3"]  # type: ignore[union-attr]


def test_esearch_return_options(imap_server: ImapProcess, imap_mailbox: Pop3Mailbox) -> None:
    """SEARCH RETURN (RFC 4731): MIN, MAX, COUNT and ALL (as ranges) in one ESEARCH
    line tagged with the command; RETURN () is ALL; no match leaves out MIN, MAX and
    ALL; UID SEARCH says UID; an unknown option is BAD. ESEARCH is advertised."""
    for i in range(5):
        imap_mailbox.deliver(simple(f"e{i}"))
    wire = Wire(imap_server.port)
    assert " ESEARCH " in wire.greeting
    wire.cmd("a", f'LOGIN {imap_mailbox.address} "{imap_mailbox.password}"')
    wire.cmd("b", "SELECT INBOX")
    wire.cmd("c", "STORE 2:3,5 +FLAGS.SILENT (\\Seen)")
    assert wire.cmd("d", "SEARCH RETURN (MIN MAX COUNT ALL) SEEN") == [
        '* ESEARCH (TAG "d") MIN 2 MAX 5 COUNT 3 ALL 2:3,5',
        "d OK Search completed.",
    ]
    assert wire.cmd("e", "UID SEARCH RETURN () CHARSET UTF-8 ALL")[0] == (
        '* ESEARCH (TAG "e") UID ALL 1:5'
    )
    assert wire.cmd("f", "SEARCH RETURN (COUNT MIN) KEYWORD Nope")[0] == (
        '* ESEARCH (TAG "f") COUNT 0'
    )
    assert wire.cmd("g", "SEARCH UNSEEN") == ["* SEARCH 1 4", "g OK Search completed."]
    assert wire.cmd("h", "SEARCH RETURN (SAVE) ALL")[-1].startswith("h BAD ")
    wire.cmd("i", "LOGOUT")
    wire.close()


def test_list_status_and_status_size(imap_server: ImapProcess, imap_mailbox: Pop3Mailbox) -> None:
    """LIST ... RETURN (STATUS (...) SUBSCRIBED) (RFC 5819) follows each selectable
    folder with its STATUS (none for a \\Noselect parent), marks the subscribed ones;
    STATUS SIZE is the CRLF size of the folder (RFC 8438)."""
    imap_mailbox.deliver(simple("one"))
    imap_mailbox.deliver(simple("two"))
    size = 2 * len(simple("one").replace(b"\n", b"\r\n"))
    wire = Wire(imap_server.port)
    assert " LIST-STATUS STATUS=SIZE" in wire.greeting
    wire.cmd("a", f'LOGIN {imap_mailbox.address} "{imap_mailbox.password}"')
    wire.cmd("b", "CREATE Lists.Kids")
    assert wire.cmd("c", 'LIST "" "*" RETURN (STATUS (MESSAGES UNSEEN SIZE) SUBSCRIBED)') == [
        '* LIST (\\HasNoChildren \\Subscribed) "." INBOX',
        f"* STATUS INBOX (MESSAGES 2 UNSEEN 2 SIZE {size})",
        '* LIST (\\HasNoChildren \\Archive \\Subscribed) "." Archive',
        "* STATUS Archive (MESSAGES 0 UNSEEN 0 SIZE 0)",
        '* LIST (\\HasNoChildren \\Drafts \\Subscribed) "." Drafts',
        "* STATUS Drafts (MESSAGES 0 UNSEEN 0 SIZE 0)",
        '* LIST (\\HasNoChildren \\Junk \\Subscribed) "." Junk',
        "* STATUS Junk (MESSAGES 0 UNSEEN 0 SIZE 0)",
        '* LIST (\\Noselect \\HasChildren) "." Lists',
        '* LIST (\\HasNoChildren) "." Lists.Kids',
        "* STATUS Lists.Kids (MESSAGES 0 UNSEEN 0 SIZE 0)",
        '* LIST (\\HasNoChildren \\Sent \\Subscribed) "." Sent',
        "* STATUS Sent (MESSAGES 0 UNSEEN 0 SIZE 0)",
        '* LIST (\\HasNoChildren \\Trash \\Subscribed) "." Trash',
        "* STATUS Trash (MESSAGES 0 UNSEEN 0 SIZE 0)",
        "c OK List completed.",
    ]
    assert wire.cmd("d", "STATUS INBOX (SIZE MESSAGES)")[0] == (
        f"* STATUS INBOX (SIZE {size} MESSAGES 2)"
    )
    assert wire.cmd("e", 'LIST "" "*" RETURN (STATUS (BOGUS))')[-1].startswith("e BAD ")
    assert wire.cmd("f", 'LIST "" "*" RETURN (FANCY)')[-1].startswith("f BAD ")
    wire.cmd("g", "LOGOUT")
    wire.close()


def test_folders_list_create_rename_delete(
    client: imaplib.IMAP4, imap_mailbox: Pop3Mailbox
) -> None:
    """LIST shows the special-use folders; CREATE/RENAME/DELETE/SUBSCRIBE work as
    Maildir++ folders; INBOX cannot be deleted."""
    _typ, data = client.list()
    listed = b"\n".join(data)  # type: ignore[arg-type]
    for name, use in (
        ("Sent", "Sent"),
        ("Drafts", "Drafts"),
        ("Trash", "Trash"),
        ("Junk", "Junk"),
        ("Archive", "Archive"),
    ):
        assert f'\\{use}) "." {name}'.encode() in listed
        assert (imap_mailbox.root / f".{name}" / "cur").is_dir()
    assert client.create("Projects")[0] == "OK"
    assert client.create("Projects.2026")[0] == "OK"
    assert client.create("Projects")[0] == "NO"
    assert (imap_mailbox.root / ".Projects.2026" / "cur").is_dir()
    _typ, data = client.list('""', "Projects%")
    assert data == [b'(\\HasChildren) "." Projects']
    assert client.rename("Projects", "Work")[0] == "OK"
    assert (imap_mailbox.root / ".Work.2026" / "cur").is_dir()
    assert client.subscribe("Work")[0] == "OK"
    _typ, data = client.lsub('""', "W*")
    assert data == [b'(\\HasChildren) "." Work']
    assert client.delete("Work.2026")[0] == "OK"
    assert not (imap_mailbox.root / ".Work.2026").exists()
    assert client.delete("INBOX")[0] == "NO"
    _typ, data = client.status("Work", "(MESSAGES UIDNEXT UNSEEN)")
    assert data == [b"Work (MESSAGES 0 UIDNEXT 1 UNSEEN 0)"]
    _typ, data = client.namespace()
    assert data == [b'(("" ".")) NIL NIL']


def test_rename_inbox_moves_its_messages(client: imaplib.IMAP4, imap_mailbox: Pop3Mailbox) -> None:
    """RENAME INBOX (RFC 3501 §6.3.5) moves every INBOX message, flags kept, to the new
    folder; INBOX stays, empty, and takes new mail; the name must be free."""
    imap_mailbox.deliver(simple("old one"))
    imap_mailbox.deliver(simple("old two"))
    client.select("INBOX")
    client.store("1", "+FLAGS", "(\\Flagged)")
    client.untagged_responses.clear()
    assert client.rename("INBOX", "Old")[0] == "OK"
    assert client.untagged_responses.pop("EXPUNGE") == [b"2", b"1"]
    assert client.rename("INBOX", "Old")[0] == "NO"
    assert client.rename("Sent", "INBOX")[0] == "NO"
    assert client.select("Old") == ("OK", [b"2"])
    _typ, data = client.fetch("1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    assert [d[1].strip() for d in data if isinstance(d, tuple)] == [
        b"Subject: old one",
        b"Subject: old two",
    ]
    assert b"\\Flagged" in data[0][0]  # type: ignore[index]
    assert client.select("INBOX") == ("OK", [b"0"])
    assert files(imap_mailbox.root) == files(imap_mailbox.root, "new") == []
    imap_mailbox.deliver(simple("new one"))
    assert client.noop()[0] == "OK"
    assert client.untagged_responses.pop("EXISTS")[-1] == b"1"


@pytest.mark.parametrize(
    "name",
    ["..", "../../../etc", "a/b", "/tmp/x", "~root", "a..b", ".x", "&AC8-etc", "&Jjo", "INBOX/x"],
)
def test_hostile_names_on_the_wire(
    client: imaplib.IMAP4, imap_mailbox: Pop3Mailbox, imap_server: ImapProcess, name: str
) -> None:
    """CREATE, SELECT, RENAME and APPEND with hostile names are refused, and nothing
    appears outside the user's Maildir."""
    before = {p.relative_to(imap_server.data_dir) for p in imap_server.data_dir.rglob("*")}
    quoted = '"' + name + '"'
    assert client.create(quoted)[0] == "NO"
    assert client.select(quoted)[0] == "NO"
    assert client.rename("Junk", quoted)[0] == "NO"
    assert client.append(quoted, None, None, b"Subject: x\r\n\r\ny\r\n")[0] == "NO"
    after = {p.relative_to(imap_server.data_dir) for p in imap_server.data_dir.rglob("*")}
    assert {p for p in after - before if p.name not in ("subscriptions",)} == set()
    assert not Path("/tmp/x").exists() or name != "/tmp/x"


def test_nul_in_a_literal_mailbox_name(imap_server: ImapProcess, imap_mailbox: Pop3Mailbox) -> None:
    """A NUL sent inside a literal name (LITERAL+) is refused, not truncated."""
    wire = Wire(imap_server.port)
    wire.cmd("a1", f'LOGIN {imap_mailbox.address} "{imap_mailbox.password}"')
    wire.send(b"a2 CREATE {5+}\r\nab\0cd\r\n")
    assert wire.until_tagged("a2")[-1].startswith("a2 NO [CANNOT] Invalid mailbox name")
    assert not (imap_mailbox.root / ".ab").exists()
    wire.close()


# endregion

# region #### news: NOOP, IDLE, POP3 beside IMAP ####


def test_noop_announces_new_mail_and_pop3_deletions(
    imap_server: ImapProcess, imap_mailbox: Pop3Mailbox
) -> None:
    """New mail appears at NOOP (EXISTS, RECENT); a message POP3 deletes is EXPUNGEd at
    the next NOOP and never shown again."""
    imap_mailbox.deliver(simple("first"))
    c = login(imap_server, imap_mailbox)
    c.select("INBOX")
    c.untagged_responses.clear()
    imap_mailbox.deliver(simple("second"))
    c.noop()
    assert c.untagged_responses.pop("EXISTS") == [b"2"]
    pop = socket.create_connection(("127.0.0.1", imap_server.ports["pop3"]), timeout=10)
    f = pop.makefile("rwb")
    assert f.readline().startswith(b"+OK")
    for command in (
        f"USER {imap_mailbox.address}",
        f"PASS {imap_mailbox.password}",
        "DELE 1",
        "QUIT",
    ):
        f.write(command.encode() + b"\r\n")
        f.flush()
        assert f.readline().startswith(b"+OK"), command
    pop.close()
    c.noop()
    assert c.untagged_responses.pop("EXPUNGE") == [b"1"]
    _typ, data = c.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    assert b"second" in data[0][1]  # type: ignore[index]
    c.logout()


def test_idle_announces_smtp_delivery(imap_start: object, tmp_path: Path) -> None:
    """A client in IDLE (IMAPClient) hears of a message delivered by SMTP at once."""
    import imapclient  # the dev extra installs it

    data = tmp_path / "d"
    add_user(data, "idle@example.test", "pw")
    server = imap_start(  # type: ignore[operator]
        "--insecure-auth", "--smtp", "127.0.0.1:0", "--domain", "example.test", data_dir=data
    )
    c = imapclient.IMAPClient("127.0.0.1", port=server.port, ssl=False, timeout=15)
    c.login("idle@example.test", "pw")
    c.select_folder("INBOX")
    c.idle()
    import smtplib

    with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=15) as smtp:
        smtp.sendmail(
            "a@remote.test", ["idle@example.test"], simple("pushed").replace(b"\n", b"\r\n")
        )
    started = time.monotonic()
    responses: list[object] = []
    while time.monotonic() - started < 10 and not any(
        isinstance(r, tuple) and r[1:] == (b"EXISTS",) for r in responses
    ):
        responses += c.idle_check(timeout=1)
    c.idle_done()
    assert (1, b"EXISTS") in responses
    assert c.search(["SUBJECT", "pushed"]) == [1]
    c.logout()


def test_idle_polls_without_inotify(
    imap_start: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With inotify off (``MAILPLAN_IMAP_INOTIFY=0``) IDLE still announces a delivery,
    from its look at the folder's mtimes."""
    monkeypatch.setenv("MAILPLAN_IMAP_INOTIFY", "0")
    data = tmp_path / "d"
    box = Pop3Mailbox("poll@example.test", "pw", add_user(data, "poll@example.test", "pw"))
    server = imap_start("--insecure-auth", data_dir=data)  # type: ignore[operator]
    wire = Wire(server.port)
    wire.cmd("a", "LOGIN poll@example.test pw")
    wire.cmd("b", "SELECT INBOX")
    wire.send("c IDLE")
    assert wire.line() == "+ idling"
    box.deliver(simple("polled"))
    assert wire.line() == "* 1 EXISTS"
    assert wire.line() == "* 1 RECENT"
    wire.send("DONE")
    assert wire.until_tagged("c") == ["c OK Idle completed."]
    wire.close()


def test_two_sessions_agree_on_uids(imap_server: ImapProcess, imap_mailbox: Pop3Mailbox) -> None:
    """Two sessions appending at once get distinct UIDs, and both see the same list."""
    a, b = login(imap_server, imap_mailbox), login(imap_server, imap_mailbox)
    for i in range(5):
        a.append("INBOX", None, None, simple(f"a{i}").replace(b"\n", b"\r\n"))
        b.append("INBOX", None, None, simple(f"b{i}").replace(b"\n", b"\r\n"))
    a.select("INBOX")
    b.select("INBOX")
    ua = a.uid("SEARCH", "ALL")[1][0]
    ub = b.uid("SEARCH", "ALL")[1][0]
    assert ua == ub
    assert ua is not None
    assert len(ua.split()) == 10
    b.store("1", "+FLAGS", "(\\Flagged)")
    wait_for(lambda: a.noop() and a.untagged_responses.pop("FETCH", None), what="flag news")
    a.logout()
    b.logout()


def test_no_traceback_for_an_unexpected_error(imap_start: object, tmp_path: Path) -> None:
    """A folder broken on disk (its cur/ a file) answers a tagged NO [SERVERBUG], the
    session goes on, and the traceback is in the log only."""
    root = add_user(tmp_path / "d", "b@example.test", "pw")
    server = imap_start("--insecure-auth", data_dir=tmp_path / "d")  # type: ignore[operator]
    client = login(server, Pop3Mailbox("b@example.test", "pw", root))
    client.create("Broken")
    cur = root / ".Broken" / "cur"
    os.rmdir(cur)
    cur.write_text("not a folder")
    typ, data = client.select("Broken")
    assert typ == "NO"
    assert data == [b"[SERVERBUG] Internal error, try again later."]
    assert client.noop()[0] == "OK"
    client.logout()
    server.wait_logged("imap SELECT failed")


# endregion


def test_list_shows_a_missing_parent_as_noselect(
    client: imaplib.IMAP4, imap_mailbox: Pop3Mailbox
) -> None:
    """A folder made without its parent lists the parent as \\Noselect, so a client
    browsing level by level (``%``) finds the child."""
    assert client.create("Lists.python")[0] == "OK"
    _typ, data = client.list('""', "Lists")
    assert data == [b'(\\Noselect \\HasChildren) "." Lists']
    _typ, data = client.list('""', "Lists.%")
    assert data == [b'(\\HasNoChildren) "." Lists.python']
    assert client.select("Lists")[0] == "NO"


def test_hostile_patterns_and_searches(client: imaplib.IMAP4, imap_mailbox: Pop3Mailbox) -> None:
    """A LIST pattern with many wildcards and a SEARCH nested very deep are BAD at once
    (no regex blow-up, no deep recursion), and the session goes on."""
    started = time.monotonic()
    with pytest.raises(imaplib.IMAP4.error, match="Too many wildcards"):
        client.list('""', "*a" * 30 + "b")
    assert client.list('""', "**%%*")[0] == "OK"
    client.select("INBOX")
    with pytest.raises(imaplib.IMAP4.error, match="nested too deeply"):
        client.search(None, "NOT " * 2000 + "ALL")
    assert client.noop()[0] == "OK"
    assert time.monotonic() - started < 10


def test_two_workers_agree_on_uids(imap_start: object, tmp_path: Path) -> None:
    """With ``--workers 2``, sessions on either process appending at the same time get
    distinct UIDs, and every session then sees the same UID list (the UID-list lock)."""
    import threading

    data = tmp_path / "d"
    root = add_user(data, "w@example.test", "pw")
    box = Pop3Mailbox("w@example.test", "pw", root)
    server = imap_start("--insecure-auth", "--workers", "2", data_dir=data)  # type: ignore[operator]
    got: list[int] = []
    errors: list[BaseException] = []

    def appender(n: int) -> None:
        try:
            c = login(server, box)
            for i in range(10):
                body = simple(f"w{n}-{i}").replace(b"\n", b"\r\n")
                _typ, answer = c.append("INBOX", None, None, body)
                got.append(int(answer[0].split()[2].rstrip(b"]")))  # type: ignore[union-attr]
            c.logout()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=appender, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert sorted(got) == list(range(1, 61))
    views = set()
    for _ in range(4):
        c = login(server, box)
        c.select("INBOX", readonly=True)
        views.add(c.uid("SEARCH", "ALL")[1][0])
        c.logout()
    assert views == {b" ".join(str(u).encode() for u in range(1, 61))}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--imap-idle-timeout", "0"], "mailplan: --imap-idle-timeout: Input should be greater"),
        (["--imap-max-connections", "0"], "mailplan: --imap-max-connections: Input should be"),
        (["--imap", "localhost.test:1"], "mailplan: --imap: HOST must be an IP address"),
        (
            ["--imap", "0.0.0.0:0", "--insecure-auth"],
            "mailplan: --insecure-auth: allowed on loopback only, but --imap is 0.0.0.0:0",
        ),
    ],
    ids=["idle", "connections", "host-name", "insecure-off-loopback"],
)
def test_bad_imap_options(tmp_path: Path, args: list[str], message: str) -> None:
    """A bad IMAP option of mailplan serve is one line on stderr and exit status 2."""
    import subprocess
    import sys

    cmd = [sys.executable, "-m", "planner", "serve", "--data-dir", str(tmp_path)]
    cmd += ["--smtp", "off", "--submission", "off"]
    cmd += args if "--imap" in args else ["--imap", "127.0.0.1:0", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 2
    assert proc.stderr.startswith(message), proc.stderr
    assert len(proc.stderr.splitlines()) == 1


def test_pop3_session_beside_imap_changes(
    imap_server: ImapProcess, imap_mailbox: Pop3Mailbox
) -> None:
    """While a POP3 session holds its listing, IMAP renames one message (a flag) and
    expunges another: POP3 still retrieves the renamed one, answers the expunged one
    "removed by another program", and deletes nothing it did not mark."""
    for i in range(3):
        imap_mailbox.deliver(simple(f"p{i}"))
    pop = socket.create_connection(("127.0.0.1", imap_server.ports["pop3"]), timeout=10)
    f = pop.makefile("rwb")

    def pop_cmd(command: str) -> bytes:
        f.write(command.encode() + b"\r\n")
        f.flush()
        return f.readline()

    assert f.readline().startswith(b"+OK")
    assert pop_cmd(f"USER {imap_mailbox.address}").startswith(b"+OK")
    assert pop_cmd(f"PASS {imap_mailbox.password}").startswith(b"+OK")
    c = login(imap_server, imap_mailbox)
    c.select("INBOX")
    c.store("1", "+FLAGS", "(\\Flagged)")
    c.store("2", "+FLAGS", "(\\Deleted)")
    c.expunge()
    first = pop_cmd("RETR 1")
    assert first.startswith(b"+OK"), first
    body = b""
    while (line := f.readline()) != b".\r\n":
        body += line
    assert b"Subject: p0" in body
    assert pop_cmd("RETR 2") == b"-ERR Message 2 was removed by another program.\r\n"
    assert pop_cmd("QUIT").startswith(b"+OK")
    pop.close()
    c.noop()
    _typ, data = c.fetch("1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    subjects = [d[1] for d in data if isinstance(d, tuple)]
    assert subjects == [b"Subject: p0\r\n\r\n", b"Subject: p2\r\n\r\n"]
    assert b"\\Flagged" in data[0][0]  # type: ignore[index]
    c.logout()


# region #### IDLE's folder notices ####


def test_folder_watcher_wakes_on_every_change(tmp_path: Path) -> None:
    """inotify wakes each watch of a folder at a delivery (rename into new/), a flag
    rename and an unlink; watches of one folder share the kernel's, which goes with the
    last; a sub-folder renamed away wakes its watches (the session then finds it gone)."""
    import asyncio

    from planner.mailserver.imap_notify import FolderWatcher

    folder = tmp_path / ".box"
    for sub in ("tmp", "new", "cur"):
        (folder / sub).mkdir(parents=True)
    (folder / "maildirfolder").touch()

    async def woken(watches: list[object], change: object) -> list[bool]:
        change()  # type: ignore[operator]
        await asyncio.wait_for(
            asyncio.gather(*(w.changed.wait() for w in watches)),  # type: ignore[attr-defined]
            timeout=5,
        )
        out = [w.changed.is_set() for w in watches]  # type: ignore[attr-defined]
        for w in watches:
            w.changed.clear()  # type: ignore[attr-defined]
        return out

    async def run() -> None:
        watcher = FolderWatcher(asyncio.get_running_loop())
        a, b = watcher.watch(folder), watcher.watch(folder)
        assert a is not None
        assert b is not None
        assert a.wds == b.wds
        (folder / "tmp" / "m1").write_bytes(b"x")
        assert await woken([a, b], lambda: os.rename(folder / "tmp/m1", folder / "new/m1"))
        assert await woken([a, b], lambda: os.rename(folder / "new/m1", folder / "cur/m1:2,S"))
        watcher.unwatch(a)
        assert watcher.alive(b)
        assert await woken([b], lambda: os.unlink(folder / "cur/m1:2,S"))
        assert not a.changed.is_set()
        assert await woken([b], lambda: os.rename(folder, tmp_path / ".gone"))
        assert watcher.watch(folder) is None  # no such folder: the caller polls
        watcher.unwatch(b)
        watcher.close()

    asyncio.run(run())


# endregion
