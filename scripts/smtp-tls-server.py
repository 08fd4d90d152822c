#!/usr/bin/env python3
"""A local SMTP server speaking TLS, for services/tests/mail_tls.rs.

    smtp-tls-server.py starttls|tls PORT MAIL_DIR CERT_PEM KEY_PEM [--user U] [--password P]

starttls: a plain connection on which STARTTLS is required before anything else.
tls: TLS from the first byte (smtps).
Both require AUTH (PLAIN or LOGIN) with the user and password given, and offer it only
under TLS. Each message accepted becomes MAIL_DIR/N.eml as received, and N.json: the
envelope, the login, whether it came under TLS, and the subject and body as Python's
email package decodes them (a reader independent of lettre's encoding). Prints "ready"
once it listens; stops when its standard input closes (the test is gone) or on SIGTERM.
Needs aiosmtpd (pip install aiosmtpd).
"""

import argparse
import email
import email.policy
import json
import ssl
import sys
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Keep:
    def __init__(self, folder: Path):
        self.folder = folder
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        raw = envelope.original_content or envelope.content
        message = email.message_from_bytes(raw, policy=email.policy.default)
        # After STARTTLS as with smtps, the transport in use is the TLS one.
        under_tls = server.transport.get_extra_info("ssl_object") is not None
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "login": session.auth_data.decode() if session.auth_data else None,
            "tls": under_tls,
            "subject": str(message["subject"]),
            "body": message.get_content(),
        }
        stem = self.folder / str(self.count)
        stem.with_suffix(".eml").write_bytes(raw)
        stem.with_suffix(".json").write_text(json.dumps(record, ensure_ascii=False), "utf-8")
        return "250 OK"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["starttls", "tls"])
    parser.add_argument("port", type=int)
    parser.add_argument("mail_dir", type=Path)
    parser.add_argument("cert")
    parser.add_argument("key")
    parser.add_argument("--user", default="concours")
    parser.add_argument("--password", default="mot-de-passe-smtp")
    args = parser.parse_args()

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(args.cert, args.key)

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == args.user.encode()
            and auth_data.password == args.password.encode()
        )
        # handled=False: aiosmtpd then answers the failure (535) itself.
        return AuthResult(success=ok, handled=False, auth_data=auth_data.login if ok else None)

    common = dict(
        hostname="127.0.0.1",
        port=args.port,
        authenticator=authenticator,
        auth_required=True,
    )
    if args.mode == "starttls":
        controller = Controller(
            Keep(args.mail_dir),
            tls_context=context,
            require_starttls=True,
            auth_require_tls=True,
            **common,
        )
    else:
        # aiosmtpd's auth_require_tls only knows STARTTLS and would refuse AUTH here,
        # although the whole connection is under TLS.
        controller = Controller(
            Keep(args.mail_dir),
            ssl_context=context,
            auth_require_tls=False,
            **common,
        )
    controller.start()
    print("ready", flush=True)
    try:
        sys.stdin.read()
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
