#!/usr/bin/python3
"""aiosmtpd with STARTTLS required and AUTH, for the SMTP sink's tests.

smtp_server.py PORT CERT KEY MAILDIR USER PASSWORD
Stores each message in MAILDIR, prefixed with X-Test-Auth (login name),
X-Test-TLS (yes/no) and X-Test-Rcpt (envelope recipients) headers.
Recipients nobody@... are refused with 550; tempfail@... with 451.
"""
import mailbox
import signal
import ssl
import sys
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

port, cert, key, maildir, user, password = sys.argv[1:7]


class Handler:
    def __init__(self):
        self.box = mailbox.Maildir(maildir, create=True)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("nobody@"):
            return "550 5.1.1 <%s>: no such user here" % address
        if address.startswith("tempfail@"):
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        auth = session.auth_data
        login = auth.decode() if isinstance(auth, bytes) else str(auth)
        head = "X-Test-Auth: %s\r\nX-Test-TLS: %s\r\nX-Test-Rcpt: %s\r\n" % (
            login, "yes" if session.ssl else "no", ",".join(envelope.rcpt_tos))
        self.box.add(head.encode() + envelope.original_content)
        return "250 2.0.0 stored"


def authenticator(server, session, envelope, mechanism, auth_data):
    if auth_data.login.decode() == user and auth_data.password.decode() == password:
        return AuthResult(success=True, auth_data=auth_data.login)
    # handled=False: aiosmtpd answers 535 (handled=True would leave the client waiting).
    return AuthResult(success=False, handled=False)


ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
ctx.load_cert_chain(cert, key)
c = Controller(Handler(), hostname="127.0.0.1", port=int(port), tls_context=ctx,
               require_starttls=True, authenticator=authenticator, auth_required=True,
               auth_require_tls=True)
c.start()
done = threading.Event()
signal.signal(signal.SIGTERM, lambda *a: done.set())
done.wait()
c.stop()
