"""Mail backends: a small base class, the default that writes ``.eml`` files (no mail server needed), and
SMTP. Chosen by settings (``smtp_host``); subclasses only do I/O.

``send_batch`` sends several messages over one connection and reports each one's outcome: a server that is
down fails them all with the same error, and the outbox retries them later.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from knowcast.settings import Settings


@dataclass(frozen=True)
class Mail:
    job_id: int
    to: str
    subject: str
    body: str


class Mailer:
    """Send mail; returns {job id: None on success or the error text}. Never raises."""

    def __init__(self, sender: str) -> None:
        self.sender = sender

    def message(self, mail: Mail) -> EmailMessage:
        msg = EmailMessage()
        msg["From"] = self.sender
        msg["To"] = mail.to
        msg["Subject"] = mail.subject
        msg["Date"] = formatdate(localtime=False)
        msg["Message-ID"] = make_msgid(domain="knowcast")
        msg["Auto-Submitted"] = "auto-generated"
        msg.set_content(mail.body)
        return msg

    async def send_batch(self, mails: list[Mail]) -> dict[int, str | None]:
        raise NotImplementedError


class FileMailer(Mailer):
    """Development default: each message becomes ``<folder>/<job id>.eml``."""

    def __init__(self, sender: str, folder: Path) -> None:
        super().__init__(sender)
        self.folder = folder

    async def send_batch(self, mails: list[Mail]) -> dict[int, str | None]:
        return await asyncio.to_thread(self._write, mails)

    def _write(self, mails: list[Mail]) -> dict[int, str | None]:
        out: dict[int, str | None] = {}
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            return dict.fromkeys((m.job_id for m in mails), f"cannot write mail: {exc}")
        for mail in mails:
            try:
                (self.folder / f"{mail.job_id}.eml").write_bytes(bytes(self.message(mail)))
                out[mail.job_id] = None
            except OSError as exc:
                out[mail.job_id] = f"cannot write mail: {exc}"
        return out


class SmtpMailer(Mailer):
    def __init__(self, settings: Settings) -> None:
        super().__init__(settings.smtp_from)
        assert settings.smtp_host
        self.host = settings.smtp_host
        self.port = settings.smtp_port
        self.security = settings.smtp_security
        self.username = settings.smtp_username
        self.password = settings.smtp_password
        self.timeout = settings.smtp_timeout_seconds

    async def send_batch(self, mails: list[Mail]) -> dict[int, str | None]:
        return await asyncio.to_thread(self._send, mails)

    def _connect(self) -> smtplib.SMTP:
        if self.security == "tls":
            return smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=ssl.create_default_context())
        smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        if self.security == "starttls":
            smtp.starttls(context=ssl.create_default_context())
        return smtp

    def _send(self, mails: list[Mail]) -> dict[int, str | None]:
        try:
            smtp = self._connect()
        except (OSError, smtplib.SMTPException) as exc:
            return dict.fromkeys((m.job_id for m in mails), _describe(exc))
        out: dict[int, str | None] = {}
        with smtp:
            try:
                if self.username:
                    smtp.login(self.username, self.password or "")
            except (OSError, smtplib.SMTPException) as exc:
                return dict.fromkeys((m.job_id for m in mails), _describe(exc))
            for mail in mails:
                try:
                    smtp.send_message(self.message(mail))
                    out[mail.job_id] = None
                except (OSError, smtplib.SMTPException) as exc:
                    out[mail.job_id] = _describe(exc)
        return out


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def build_mailer(settings: Settings) -> Mailer:
    if settings.smtp_host:
        return SmtpMailer(settings)
    return FileMailer(settings.smtp_from, settings.data_dir / "mail")
