"""Sending email: to the log in development and tests, through SMTP in production."""

import logging
import smtplib
from email.message import EmailMessage

log = logging.getLogger("portal.mail")

# Tests read what was sent from here; it only holds messages when no SMTP server is set.
OUTBOX: list[EmailMessage] = []


def send(config: dict, to: str, subject: str, body: str) -> None:
    message = EmailMessage()
    message["From"] = config["MAIL_SENDER"]
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)
    if not config.get("MAIL_SERVER"):
        OUTBOX.append(message)
        del OUTBOX[:-100]
        log.info("Email to %s: %s\n%s", to, subject, body)
        return
    with smtplib.SMTP(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=30) as smtp:
        if config.get("MAIL_USE_TLS"):
            smtp.starttls()
        if config.get("MAIL_USERNAME"):
            smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"])
        smtp.send_message(message)
