"""The SMTP side of the reference server, spoken to over real sockets by real clients."""

from __future__ import annotations

import base64
import re
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from planner.mailserver.users import hash_password
from tests.mailserver.conftest import (
    ServerProcess,
    client_tls,
    make_users,
    start_server,
    wait_for,
)
from tests.mailserver.pop3_support import TEST_HASH_LOG_N

pytestmark = pytest.mark.timeout(60)

MAX_SIZE = 200_000
NAME_RE = re.compile(r"^(\d+)\.M(\d+)P(\d+)Q(\d+)\.([^,/]+),S=(\d+),W=(\d+)$")


@pytest.fixture(scope="module")
def server(shared_data: Path) -> Iterator[ServerProcess]:
    """One server for this module: TLS (self-signed), no AUTH in clear, small limits."""
    srv = start_server(
        shared_data,
        "--max-message-size", str(MAX_SIZE),
        "--max-errors", "10",
        "--auth-failure-delay", "0.05",
        "--max-auth-failures", "3",
        "--dns", "127.0.0.1:9",
        "--relay-timeout", "2",
    )  # fmt: skip
    yield srv
    srv.stop()


def token() -> str:
    return uuid.uuid4().hex


def message(tok: str, body: str = "Hello.\r\n", extra: str = "") -> bytes:
    return (
        f"From: a@client.test\r\nTo: bob@example.test\r\nSubject: {tok}\r\n{extra}\r\n{body}"
    ).encode()


def files_with(server: ServerProcess, address: str, tok: str) -> list[Path]:
    return [p for p in server.maildir_files(address) if tok.encode() in p.read_bytes()]


class Raw:
    """A line-oriented raw SMTP connection for byte-exact tests."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def reply(self) -> str:
        """One whole reply (all lines), as text."""
        lines = []
        while True:
            while b"\r\n" not in self.buf:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise ConnectionError(f"closed; got {lines!r}")
                self.buf += chunk
            line, self.buf = self.buf.split(b"\r\n", 1)
            lines.append(line.decode())
            if line[3:4] != b"-":
                return "\r\n".join(lines)

    def cmd(self, line: str) -> str:
        self.send(line.encode() + b"\r\n")
        return self.reply()

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def raw(server: ServerProcess) -> Iterator[Raw]:
    """A raw connection past the greeting."""
    r = Raw(server.smtp_port)
    assert r.reply().startswith("220 mx.example.test ESMTP mailplan")
    yield r
    r.close()


class TestSession:
    def test_ehlo_offers_starttls_and_no_auth_in_clear(self, server):
        """Before TLS, EHLO lists STARTTLS, SIZE and PIPELINING but not AUTH."""
        with server.smtp() as c:
            code, text = c.ehlo()
        assert code == 250
        assert text.decode().split("\n")[1:] == [
            "PIPELINING", f"SIZE {MAX_SIZE}", "8BITMIME", "STARTTLS", "HELP"
        ]  # fmt: skip

    def test_auth_in_clear_is_refused(self, server):
        """AUTH without TLS answers 538 5.7.11, even with the right password."""
        with server.smtp() as c:
            c.ehlo()
            creds = base64.b64encode(b"\0bob@example.test\0bob-secret").decode()
            assert c.docmd("AUTH", f"PLAIN {creds}") == (
                538, b"5.7.11 Encryption required for requested authentication mechanism"
            )  # fmt: skip

    def test_auth_after_starttls(self, server):
        """Under TLS EHLO offers AUTH PLAIN LOGIN and the right password gives 235."""
        with server.smtp() as c:
            c.starttls(context=client_tls())
            c.ehlo()
            assert c.has_extn("auth")
            assert c.login("bob@example.test", "bob-secret") == (
                235, b"2.7.0 Authentication successful"
            )  # fmt: skip

    def test_auth_login_mechanism(self, server):
        """AUTH LOGIN works too (smtplib falls back to it when asked)."""
        with server.smtp() as c:
            c.starttls(context=client_tls())
            c.ehlo()
            c.user, c.password = "alice@example.test", "alice-secret"
            code, _ = c.auth("LOGIN", c.auth_login, initial_response_ok=False)
        assert code == 235

    def test_repeated_auth_failures_disconnect(self, server):
        """Each wrong password gets 535 5.7.8; the third closes with 421 4.7.0."""
        with server.smtp() as c:
            c.starttls(context=client_tls())
            c.ehlo()
            creds = base64.b64encode(b"\0bob@example.test\0wrong").decode()
            replies = [c.docmd("AUTH", f"PLAIN {creds}") for _ in range(2)]
            assert replies == [(535, b"5.7.8 Error: authentication failed")] * 2
            assert c.docmd("AUTH", f"PLAIN {creds}")[0] == 421

    def test_second_starttls_is_refused(self, server):
        """STARTTLS under TLS answers 554 5.5.1."""
        with server.smtp() as c:
            c.starttls(context=client_tls())
            c.ehlo()
            assert c.docmd("STARTTLS") == (554, b"5.5.1 Error: TLS already active")

    def test_starttls_command_injection_is_discarded(self, server, raw):
        """Commands pipelined after STARTTLS in clear are dropped, not run under TLS."""
        raw.cmd("EHLO client.test")
        raw.send(b"STARTTLS\r\nQUIT\r\n")
        assert raw.reply() == "220 2.0.0 Ready to start TLS"
        tls = client_tls().wrap_socket(raw.sock, server_hostname="mx.example.test")
        raw.sock, raw.buf = tls, b""
        assert raw.cmd("EHLO client.test").startswith("250-mx.example.test")
        assert raw.cmd("NOOP") == "250 2.0.0 Ok"

    def test_mail_before_helo_is_a_sequence_error(self, raw):
        """MAIL before EHLO answers 503 5.5.1."""
        assert raw.cmd("MAIL FROM:<a@client.test>") == "503 5.5.1 Error: send HELO/EHLO first"

    def test_data_without_rcpt_is_a_sequence_error(self, raw):
        """DATA with no accepted recipient answers 503 5.5.1."""
        raw.cmd("EHLO client.test")
        raw.cmd("MAIL FROM:<a@client.test>")
        assert raw.cmd("DATA") == "503 5.5.1 Error: need RCPT command"

    def test_too_many_errors_disconnect(self, server, raw):
        """The tenth error reply is followed by 421 4.7.0 and the connection closes."""
        replies = [raw.cmd("BOGUS") for _ in range(4)]
        replies += [raw.cmd("MAIL FROM:<a@x.test>") for _ in range(6)]
        assert replies[-1].startswith("503 5.5.1")
        assert raw.reply() == "421 4.7.0 mx.example.test Error: too many errors"


class TestLocalDelivery:
    def test_file_in_new_with_headers_lf_and_sizes(self, server):
        """A 250 leaves one Maildir file: LF only, trace headers first, S= and W= exact."""
        tok = token()
        with server.smtp() as c:
            c.sendmail("a@client.test", ["Bob@Example.Test"], message(tok, "line 1\r\n.dot\r\n"))
        (path,) = files_with(server, "bob@example.test", tok)
        data = path.read_bytes()
        m = NAME_RE.match(path.name)
        assert m is not None
        assert int(m.group(6)) == len(data)
        assert int(m.group(7)) == len(data) + data.count(b"\n")
        assert b"\r" not in data
        lines = data.split(b"\n")
        assert lines[0] == b"Return-Path: <a@client.test>"
        assert lines[1] == b"Received: from client.test ([127.0.0.1])"
        assert b"\tfor <bob@example.test>;" in data
        assert data.endswith(b"line 1\n.dot\n")
        assert len(path.name.split(",")[0]) <= 70
        assert server.maildir_files("bob@example.test", "tmp") == []

    def test_several_local_recipients_each_get_a_copy(self, server):
        """Two local recipients: one file in each Maildir, one 250."""
        tok = token()
        with server.smtp() as c:
            rcpts = ["bob@example.test", "alice@example.test"]
            refused = c.sendmail("a@client.test", rcpts, message(tok))
        assert refused == {}
        assert len(files_with(server, "bob@example.test", tok)) == 1
        assert len(files_with(server, "alice@example.test", tok)) == 1

    def test_unknown_local_user_is_refused_at_rcpt(self, server):
        """A local domain's unknown user gets 550 5.1.1 at RCPT."""
        with server.smtp() as c:
            c.ehlo()
            c.mail("a@client.test")
            assert c.rcpt("nobody@example.test") == (
                550,
                b"5.1.1 <nobody@example.test>: Recipient address rejected: "
                b"User unknown in local recipient table",
            )

    def test_pipelined_transaction(self, server, raw):
        """MAIL, RCPT, DATA sent in one packet get three replies in order."""
        tok = token()
        raw.cmd("EHLO client.test")
        raw.send(b"MAIL FROM:<a@client.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n")
        assert [raw.reply() for _ in range(3)] == [
            "250 2.1.0 Ok", "250 2.1.5 Ok", "354 End data with <CR><LF>.<CR><LF>"
        ]  # fmt: skip
        raw.send(message(tok) + b".\r\nNOOP\r\n")
        assert raw.reply().startswith("250 2.0.0 Ok: queued as ")
        assert raw.reply() == "250 2.0.0 Ok"
        assert len(files_with(server, "bob@example.test", tok)) == 1

    def test_half_close_after_the_dot_still_delivers(self, server, raw):
        """A client that shuts its side right after the final dot still gets its mail stored."""
        tok = token()
        raw.cmd("EHLO client.test")
        raw.cmd("MAIL FROM:<a@client.test>")
        raw.cmd("RCPT TO:<bob@example.test>")
        raw.cmd("DATA")
        raw.send(message(tok) + b".\r\n")
        raw.sock.shutdown(socket.SHUT_WR)
        wait_for(lambda: files_with(server, "bob@example.test", tok), 10, "the message")

    def test_empty_message_body(self, server, raw):
        """A DATA whose first line is the final dot stores just the trace headers."""
        raw.cmd("EHLO client.test")
        raw.cmd("MAIL FROM:<>")
        raw.cmd("RCPT TO:<alice@example.test>")
        raw.cmd("DATA")
        reply = raw.cmd(".")
        qid = reply.rsplit(" ", 1)[1]
        path = wait_for(lambda: files_with(server, "alice@example.test", qid), 5, "file")[0]
        assert path.read_bytes().startswith(b"Return-Path: <>\nReceived: ")

    @pytest.mark.peers
    def test_swaks_delivers(self, server):
        """swaks (a real client) delivers to a local user."""
        tok = token()
        out = subprocess.run(
            ["swaks", "--server", "127.0.0.1", "--port", str(server.smtp_port),
             "--from", "a@client.test", "--to", "alice@example.test",
             "--header", f"Subject: {tok}"],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        assert out.returncode == 0, out.stdout
        assert len(files_with(server, "alice@example.test", tok)) == 1

    @pytest.mark.peers
    def test_swaks_auth_under_starttls(self, server):
        """swaks submits with STARTTLS and AUTH PLAIN on the submission listener."""
        tok = token()
        out = subprocess.run(
            ["swaks", "--server", "127.0.0.1", "--port", str(server.submission_port), "--tls",
             "--auth", "PLAIN", "--auth-user", "bob@example.test", "--auth-password", "bob-secret",
             "--from", "bob@example.test", "--to", "alice@example.test",
             "--header", f"Subject: {tok}"],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        assert out.returncode == 0, out.stdout
        assert "<~  235 2.7.0 Authentication successful" in out.stdout  # <~ : under TLS
        assert len(files_with(server, "alice@example.test", tok)) == 1

    @pytest.mark.peers
    def test_msmtp_with_starttls_and_auth_on_submission(self, server, tmp_path):
        """msmtp submits over STARTTLS with AUTH PLAIN and pipelining."""
        tok = token()
        out = subprocess.run(
            ["msmtp", "--host=127.0.0.1", f"--port={server.submission_port}", "--tls=on",
             "--tls-starttls=on", "--tls-certcheck=off", "--auth=plain",
             "--user=bob@example.test", "--passwordeval=echo bob-secret",
             "--from=bob@example.test", "alice@example.test"],
            input=f"Subject: {tok}\n\nvia msmtp\n.leading dot\n", capture_output=True,
            text=True, timeout=30,
        )  # fmt: skip
        assert out.returncode == 0, out.stderr
        (path,) = files_with(server, "alice@example.test", tok)
        assert path.read_bytes().endswith(b"via msmtp\n.leading dot\n")


class TestRelayPolicy:
    def test_unauthenticated_relay_is_denied_and_nothing_queued(self, server):
        """A remote recipient without AUTH gets 554 5.7.1 and the queue stays empty."""
        with server.smtp() as c:
            c.ehlo()
            c.mail("bob@example.test")
            assert c.rcpt("someone@remote.test") == (
                554, b"5.7.1 <someone@remote.test>: Relay access denied"
            )  # fmt: skip
        assert list((server.data_dir / "queue" / "entries").iterdir()) == []

    @pytest.mark.parametrize(
        "address",
        [
            "<user%remote.test@example.test>",
            "<remote.test!user@example.test>",
            '<"user@remote.test"@example.test>',
            "<user@[127.0.0.1]>",
            "<@example.test:user@remote.test>",
        ],
        ids=["percent", "bang", "quoted-at", "ip-literal", "source-route"],
    )
    def test_routing_tricks_are_never_relayed(self, server, address):
        """Sender-specified routing is refused with 554 5.7.1 even after AUTH."""
        with server.smtp() as c:
            c.starttls(context=client_tls())
            c.ehlo()
            c.login("bob@example.test", "bob-secret")
            c.mail("bob@example.test")
            code, text = c.docmd("RCPT", f"TO:{address}")
        assert (code, text.endswith(b"Relay access denied")) == (554, True)

    def test_authenticated_relay_is_queued(self, server):
        """After STARTTLS and AUTH a remote recipient is accepted into the queue."""
        with server.smtp() as c:
            c.starttls(context=client_tls())
            c.ehlo()
            c.login("bob@example.test", "bob-secret")
            c.sendmail("bob@example.test", ["carol@far.test"], message(token()))
        qids = [e.name for e in (server.data_dir / "queue" / "entries").iterdir()]
        assert len(qids) == 1

    def test_submission_requires_auth(self, server):
        """The submission listener answers MAIL before AUTH with 530 5.7.0."""
        with server.smtp(server.submission_port) as c:
            c.ehlo()
            assert c.mail("bob@example.test") == (530, b"5.7.0 Authentication required")


class TestDataRules:
    @pytest.mark.parametrize(
        "smuggle",
        [b"\n.\n", b"\n.\r\n", b"\r.\r", b"\r\n.\n", b"\r.\r\n", b"\r\n.\r", b"\n.\r"],
        ids=["lf-lf", "lf-crlf", "cr-cr", "crlf-lf", "cr-crlf", "crlf-cr", "lf-cr"],
    )
    def test_smuggled_message_never_appears(self, server, raw, smuggle):
        """A non-standard end of data inside DATA rejects the whole message (550 5.5.2)."""
        tok = token()
        raw.cmd("EHLO client.test")
        raw.cmd("MAIL FROM:<a@client.test>")
        raw.cmd("RCPT TO:<bob@example.test>")
        assert raw.cmd("DATA").startswith("354")
        payload = (
            b"Subject: outer\r\n\r\nouter" + smuggle + b"MAIL FROM:<ceo@example.test>\r\n"
            b"RCPT TO:<alice@example.test>\r\nDATA\r\nSubject: " + tok.encode() + b"\r\n\r\n"
            b"smuggled\r\n.\r\nNOOP\r\n"
        )
        raw.send(payload)
        assert raw.reply() == "550 5.5.2 Error: bare <CR> or <LF> received"
        assert raw.reply() == "250 2.0.0 Ok"
        assert files_with(server, "alice@example.test", tok) == []

    @pytest.mark.peers
    def test_swaks_raw_bare_lf_is_rejected(self, server, tmp_path):
        """swaks sending a file byte-exact with bare LFs gets 550 5.5.2."""
        data = tmp_path / "bare.eml"
        data.write_bytes(b"Subject: bare\n\nline one\nline two\r\n.\r\n")
        out = subprocess.run(
            ["swaks", "--server", "127.0.0.1", "--port", str(server.smtp_port),
             "--from", "a@client.test", "--to", "bob@example.test",
             "--data", f"@{data}", "--no-data-fixup"],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        assert "<** 550 5.5.2 Error: bare <CR> or <LF> received" in out.stdout

    def test_size_parameter_over_limit(self, server, raw):
        """MAIL with SIZE= over the limit answers 552 5.3.4."""
        raw.cmd("EHLO client.test")
        reply = raw.cmd(f"MAIL FROM:<a@client.test> SIZE={MAX_SIZE + 1}")
        assert reply == "552 5.3.4 Error: message size exceeds fixed limit"

    def test_data_over_limit_is_read_then_refused(self, server):
        """A message over the limit is refused with 552 5.3.4 after its end; nothing stored."""
        tok = token()
        with server.smtp() as c:
            c.ehlo()
            c.mail("a@client.test")
            c.rcpt("bob@example.test")
            code, text = c.data(message(tok, "x" * 900 + "\r\n") * (MAX_SIZE // 900))
            assert (code, text) == (552, b"5.3.4 Error: message size exceeds fixed limit")
            assert c.noop()[0] == 250
        assert files_with(server, "bob@example.test", tok) == []

    def test_line_over_limit_is_refused(self, server):
        """A DATA line of 1001 octets (CRLF included) answers 500 5.5.2; 1000 is fine."""
        ok, bad = token(), token()
        with server.smtp() as c:
            c.ehlo()
            for tok, width, expect in ((ok, 998, 250), (bad, 999, 500)):
                c.mail("a@client.test")
                c.rcpt("bob@example.test")
                assert c.data(message(tok, "y" * width + "\r\n"))[0] == expect
        assert len(files_with(server, "bob@example.test", ok)) == 1
        assert files_with(server, "bob@example.test", bad) == []

    def test_command_line_over_512_is_refused(self, raw):
        """A 600-octet command answers 500 5.5.2 and the session goes on."""
        assert raw.cmd("NOOP " + "z" * 595) == "500 5.5.2 Error: command line too long"
        assert raw.cmd("NOOP") == "250 2.0.0 Ok"

    def test_recipient_limit(self, server):
        """100 recipients are accepted, the 101st gets 452 4.5.3."""
        with server.smtp() as c:
            c.ehlo()
            c.mail("a@client.test")
            codes = [c.rcpt("bob@example.test")[0] for _ in range(100)]
            assert codes == [250] * 100
            assert c.rcpt("bob@example.test") == (452, b"4.5.3 Error: too many recipients")

    @pytest.mark.parametrize(("hops", "code"), [(49, 250), (50, 554)], ids=["49", "50"])
    def test_hop_count(self, server, hops, code):
        """A message with 50 Received: headers is refused with 554 5.4.6 (a mail loop)."""
        extra = "".join(f"Received: from h{i} by h{i + 1}; now\r\n" for i in range(hops))
        with server.smtp() as c:
            c.ehlo()
            c.mail("a@client.test")
            c.rcpt("bob@example.test")
            assert c.data(message(token(), extra=extra))[0] == code


class TestFailures:
    def test_write_failure_answers_451_and_keeps_serving(self, server):
        """When the Maildir cannot be written the reply is 451 4.3.0, never 250 or 5yz."""
        md = server.data_dir / "mailboxes" / "example.test"
        md.mkdir(parents=True, exist_ok=True)
        (md / "broken").mkdir(exist_ok=True)
        (md / "broken" / "new").write_text("not a folder")
        from planner.mailserver.users import UserDB

        UserDB(server.data_dir / "users").add("broken@example.test", "x-secret")
        with server.smtp() as c:
            c.ehlo()
            c.mail("a@client.test")
            c.rcpt("broken@example.test")
            assert c.data(message(token())) == (
                451, b"4.3.0 Error: local error in processing, try again later"
            )  # fmt: skip
            assert c.noop()[0] == 250

    def test_unexpected_error_answers_451_and_server_recovers(self, server):
        """A broken users file makes RCPT answer 451 4.3.0; once fixed, mail flows again."""
        users = server.data_dir / "users"
        good = users.read_bytes()
        users.write_text("this line is not valid\n")
        time.sleep(1.2)  # RCPT reuses a user look-up for up to a second
        try:
            with server.smtp() as c:
                c.ehlo()
                c.mail("a@client.test")
                assert c.rcpt("bob@example.test") == (
                    451, b"4.3.0 Error: local error in processing, try again later"
                )  # fmt: skip
        finally:
            users.write_bytes(good)
        time.sleep(1.2)
        with server.smtp() as c:
            assert c.sendmail("a@client.test", ["bob@example.test"], message(token())) == {}
        wait_for(lambda: "internal error" in server.log(), 5, "the traceback in the log")


@pytest.fixture(scope="module")
def idle_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server with --idle-timeout 2, shared by the idle-timer tests of the module."""
    data_dir = tmp_path_factory.mktemp("idle") / "data"
    data_dir.mkdir()
    make_users(data_dir)
    srv = start_server(data_dir, "--idle-timeout", "2")
    yield srv
    srv.stop()


class TestLimitsOnTheirOwnServer:
    def test_idle_timeout_sends_421(self, idle_server):
        """A silent client gets 421 4.4.2 after the idle timeout."""
        r = Raw(idle_server.smtp_port)
        try:
            r.reply()
            start = time.monotonic()
            assert r.reply() == "421 4.4.2 mx.example.test Error: timeout exceeded"
            assert time.monotonic() - start >= 1.9
        finally:
            r.close()

    @pytest.mark.parametrize(
        ("pieces", "reply"),
        [(12, "250 2.0.0 Ok: queued as "), (0, "421 4.4.2 mx.example.test Error: timeout")],
        ids=["trickle-delivers", "stall-times-out"],
    )
    def test_idle_timer_restarts_on_every_read(self, idle_server, pieces, reply):
        """DATA sent one byte every 0.5 s for 6 s beats --idle-timeout 2 (each read restarts
        the timer: no unannounced minimum data rate); DATA that stops gets 421 4.4.2.
        (The sleeps pace the slow sender; they are the scenario, not a wait for the server.)"""
        srv = idle_server
        tok = token()
        r = Raw(srv.smtp_port)
        try:
            r.reply()
            r.cmd("EHLO client.test")
            r.cmd("MAIL FROM:<a@client.test>")
            r.cmd("RCPT TO:<bob@example.test>")
            assert r.cmd("DATA").startswith("354")
            r.send(message(tok))
            for _ in range(pieces):
                time.sleep(0.5)
                r.send(b"x")
            if pieces:
                r.send(b"\r\n.\r\n")
            assert r.reply().startswith(reply)
        finally:
            r.close()
        assert len(files_with(srv, "bob@example.test", tok)) == (1 if pieces else 0)

    def test_connection_limit(self, server_factory):
        """Beyond --max-connections a new client gets 421 4.7.0 at once."""
        srv = server_factory("--max-connections", "2")
        held = [Raw(srv.smtp_port) for _ in range(3)]
        try:
            assert [r.reply()[:3] for r in held[:2]] == ["220", "220"]
            assert held[2].reply() == "421 4.7.0 mx.example.test Error: too many connections"
        finally:
            for r in held:
                r.close()

    def test_storage_full_answers_452(self, server_factory):
        """A write the kernel refuses for lack of space (EFBIG here) answers 452 4.3.1; the
        log names the errno once."""
        import resource

        def limit_files() -> None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000))

        srv = server_factory(preexec_fn=limit_files)
        tok = token()
        with srv.smtp() as c:
            c.ehlo()
            c.mail("a@client.test")
            c.rcpt("bob@example.test")
            assert c.data(message(tok, "z" * 990 + "\r\n") * 150) == (
                452, b"4.3.1 Error: insufficient system storage"
            )  # fmt: skip
            assert c.sendmail("a@client.test", ["bob@example.test"], message(tok)) == {}
        assert len(srv.maildir_files("bob@example.test")) == 1
        (line,) = wait_for(
            lambda: [x for x in srv.log().splitlines() if "store failed" in x], 5, "log line"
        )
        assert line.endswith("not accepted, store failed: [Errno 27] File too large")

    def test_given_certificate_is_used_for_starttls(self, server_factory, tmp_path):
        """With --tls-cert/--tls-key, STARTTLS presents that certificate."""
        import ssl

        from planner.mailserver.tls import ensure_self_signed

        cert, key = ensure_self_signed(tmp_path / "given", "given.example.test")
        srv = server_factory("--tls-cert", str(cert), "--tls-key", str(key))
        with srv.smtp() as c:
            c.starttls(context=client_tls())
            der = c.sock.getpeercert(binary_form=True)
        assert der == ssl.PEM_cert_to_DER_cert(cert.read_text())
        assert not (srv.data_dir / "tls").exists()

    def test_access_list_reloads_without_restart(self, server_factory):
        """deny rules refuse (553/554 5.7.1), allow rules exempt, edits apply without restart."""
        srv = server_factory()
        access = srv.data_dir / "access"
        access.write_text("deny domain spam.test\nallow sender friend@spam.test\n")
        time.sleep(1.2)
        with srv.smtp() as c:
            c.ehlo()
            assert c.mail("x@spam.test") == (
                553, b"5.7.1 <x@spam.test>: Sender address rejected: Access denied"
            )  # fmt: skip
            assert c.mail("friend@spam.test")[0] == 250
        access.write_text("deny client 127.0.0.0/8\n")
        time.sleep(1.2)
        with srv.smtp() as c:
            c.ehlo()
            assert c.mail("ok@good.test") == (554, b"5.7.1 Client host rejected: Access denied")


class TestRecipientOvershoot:
    @pytest.mark.timeout(90)
    def test_150_pipelined_recipients_deliver_to_the_first_100(self, server_factory):
        """With the default limits a pipelined message to 150 users gets 100 x 250 and
        50 x 452 4.5.3 (no 421: those 452s are within the overshoot allowance), and DATA
        delivers one copy to each of the first 100, none to the rest."""
        srv = server_factory(users=False)
        users = [f"u{i:03d}@example.test" for i in range(150)]
        cheap = hash_password("pw", log_n=TEST_HASH_LOG_N)
        (srv.data_dir / "users").write_text("".join(f"{u}:{cheap}\n" for u in users))
        tok = token()
        r = Raw(srv.smtp_port)
        try:
            r.reply()
            r.cmd("EHLO client.test")
            r.send(
                b"MAIL FROM:<a@client.test>\r\n"
                + b"".join(f"RCPT TO:<{u}>\r\n".encode() for u in users)
                + b"DATA\r\n"
            )
            replies = [r.reply() for _ in range(152)]
            assert replies[0] == "250 2.1.0 Ok"
            assert replies[1:101] == ["250 2.1.5 Ok"] * 100
            assert replies[101:151] == ["452 4.5.3 Error: too many recipients"] * 50
            assert replies[151].startswith("354")
            r.send(message(tok) + b".\r\n")
            assert r.reply().startswith("250 2.0.0 Ok: queued as ")
        finally:
            r.close()
        got = [len(files_with(srv, u, tok)) for u in users]
        assert got == [1] * 100 + [0] * 50

    def test_excess_recipients_beyond_the_allowance_count_as_errors(self, server_factory):
        """Past --recipient-overshoot-limit each further 452 is an error: with an allowance
        of 5 and --max-errors 3, the third counted 452 (the 108th RCPT) is followed by 421."""
        srv = server_factory("--recipient-overshoot-limit", "5", "--max-errors", "3", users=False)
        cheap = hash_password("pw", log_n=TEST_HASH_LOG_N)
        (srv.data_dir / "users").write_text(f"bob@example.test:{cheap}\n")
        r = Raw(srv.smtp_port)
        try:
            r.reply()
            r.cmd("EHLO client.test")
            r.cmd("MAIL FROM:<a@client.test>")
            for _ in range(100):
                assert r.cmd("RCPT TO:<bob@example.test>") == "250 2.1.5 Ok"
            for _ in range(8):
                assert r.cmd("RCPT TO:<bob@example.test>").startswith("452 4.5.3")
            assert r.reply() == "421 4.7.0 mx.example.test Error: too many errors"
        finally:
            r.close()
