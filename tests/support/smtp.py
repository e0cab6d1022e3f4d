"""A real SMTP server for the tests, on a port of its own in the test process: it speaks enough SMTP for smtplib
(EHLO, MAIL, RCPT, DATA, RSET, NOOP, QUIT), keeps every message it accepted, and can be told to refuse the next
transactions (a 4xx the sender should try again after, or a 5xx for good) or to hold the connection that starts
the next transaction until released (so a test can kill the sender in the middle of sending)."""

from __future__ import annotations

import email
import email.policy
import socketserver
import threading
from dataclasses import dataclass
from email.message import EmailMessage


@dataclass
class Received:
    sender: str
    recipients: list[str]
    message: EmailMessage

    @property
    def to(self) -> str:
        return self.recipients[0]


class SmtpSink:
    """`with SmtpSink() as sink:` serves on 127.0.0.1:`sink.port`; `sink.received` lists what it accepted."""

    def __init__(self):
        self.received: list[Received] = []
        self.refusals: list[str] = []  # the answers to the next RCPTs, in order ("451 4.3.0 try later")
        self.hold_after: int | None = None  # held: a MAIL once this many messages were accepted
        self.holding = threading.Event()  # a sender is held
        self.released = threading.Event()
        self.lock = threading.Lock()
        sink = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                sink._converse(self)

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]

    def __enter__(self) -> SmtpSink:
        threading.Thread(target=self.server.serve_forever, daemon=True, name="smtp-sink").start()
        return self

    def __exit__(self, *exc) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()

    def settings(self) -> dict:
        return {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": self.port, "MAIL_TIMEOUT": 10}

    def refuse_next(self, count: int, answer: str = "451 4.3.0 Try again later") -> None:
        with self.lock:
            self.refusals.extend([answer] * count)

    def recipients(self) -> list[str]:
        with self.lock:
            return [message.to for message in self.received]

    def _converse(self, handler) -> None:
        def reply(line: str) -> None:
            handler.wfile.write(f"{line}\r\n".encode())
            handler.wfile.flush()

        reply("220 sink ESMTP")
        sender, recipients = "", []
        while True:
            line = handler.rfile.readline()
            if not line:
                return
            command = line.decode("utf-8", "replace").strip()
            verb = command[:4].upper()
            if verb in ("EHLO", "HELO"):
                reply("250 sink")
            elif verb == "MAIL":
                with self.lock:
                    hold = self.hold_after is not None and len(self.received) >= self.hold_after
                if hold:
                    self.holding.set()
                    self.released.wait()
                sender, recipients = command.partition(":")[2].strip(" <>"), []
                reply("250 OK")
            elif verb == "RCPT":
                with self.lock:
                    refusal = self.refusals.pop(0) if self.refusals else None
                if refusal:
                    reply(refusal)
                else:
                    recipients.append(command.partition(":")[2].strip(" <>"))
                    reply("250 OK")
            elif verb == "DATA":
                reply("354 End data with <CR><LF>.<CR><LF>")
                lines = []
                while (chunk := handler.rfile.readline()) not in (b".\r\n", b""):
                    lines.append(chunk[1:] if chunk.startswith(b"..") else chunk)
                message = email.message_from_bytes(b"".join(lines), policy=email.policy.default)
                with self.lock:
                    self.received.append(Received(sender, recipients, message))  # type: ignore[arg-type]
                reply("250 OK queued")
            elif verb in ("RSET", "NOOP"):
                sender, recipients = "", []
                reply("250 OK")
            elif verb == "QUIT":
                reply("221 Bye")
                return
            else:
                reply("502 Command not implemented")
