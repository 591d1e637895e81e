"""Virus scanning of uploads, behind a small interface so a deployment can use another scanner.

    scan(data) -> Clean() | Infected(name)    or raises ScannerUnavailable

The scanner is chosen by configuration (VIRUS_SCANNER):
- "clamd": ClamAV's daemon over its Unix socket (CLAMD_SOCKET), with the INSTREAM command; the
  production default. Production keeps its signatures up to date with freshclam; `make run`,
  `make test` and CI start a clamd of their own with the signatures the project ships
  (scanning/signatures: the EICAR test file only, since updates cannot be downloaded there).
- "none": no scanning (a development or test run that did not start a daemon).
- "package.module:factory": another scanner; factory(config) returns an object with scan(data).
- an object with a scan(data) method (tests set one directly).

Scanning fails closed: anything but a clear answer from the scanner (no daemon, a timeout, an error
reply, a reply we do not understand) is ScannerUnavailable, and the upload is refused.
"""

import importlib
import os
import socket
import struct
from dataclasses import dataclass
from typing import Protocol

from flask import current_app, has_app_context

DEFAULT_SOCKET = "/run/clamav/clamd.ctl"
DEFAULT_TIMEOUT = 30.0
CHUNK = 64 * 1024


@dataclass(frozen=True)
class Clean:
    pass


@dataclass(frozen=True)
class Infected:
    name: str  # the signature that matched, as the scanner names it


class ScannerUnavailable(RuntimeError):
    """The file could not be checked (scanner down, timed out or answering with an error)."""


class Scanner(Protocol):
    def scan(self, data: bytes) -> Clean | Infected: ...


class NoScanner:
    """Scanning switched off: every file is clean."""

    def scan(self, data: bytes) -> Clean:
        return Clean()


class ClamdScanner:
    """ClamAV's clamd over a Unix socket: the INSTREAM command, one connection per file.

    The protocol: "zINSTREAM\\0", then chunks each preceded by its length (4 bytes, network order),
    then a zero length; clamd answers "stream: OK", "stream: <name> FOUND" or "... ERROR", ending in \\0.
    """

    def __init__(self, socket_path: str, timeout: float = DEFAULT_TIMEOUT):
        self.socket_path = socket_path
        self.timeout = timeout

    def _connect(self) -> socket.socket:
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        conn.settimeout(self.timeout)
        try:
            conn.connect(self.socket_path)
        except OSError as error:
            conn.close()
            raise ScannerUnavailable(f"clamd is not answering on {self.socket_path}: {error}") from error
        return conn

    def _command(self, conn: socket.socket, payload: bytes) -> str:
        try:
            conn.sendall(payload)
            reply = b""
            while not reply.endswith(b"\0"):
                part = conn.recv(4096)
                if not part:
                    break
                reply += part
                if len(reply) > 4096:
                    break
        except OSError as error:  # timeouts included (socket.timeout is an OSError)
            raise ScannerUnavailable(f"clamd connection failed: {error}") from error
        finally:
            conn.close()
        if not reply.endswith(b"\0"):
            raise ScannerUnavailable(f"clamd gave an incomplete answer: {reply[:200]!r}")
        return reply[:-1].decode("utf-8", "replace").strip()

    def ping(self) -> bool:
        try:
            return self._command(self._connect(), b"zPING\0") == "PONG"
        except ScannerUnavailable:
            return False

    def scan(self, data: bytes) -> Clean | Infected:
        conn = self._connect()
        view = memoryview(data)
        payload = bytearray(b"zINSTREAM\0")
        for start in range(0, len(view), CHUNK):
            chunk = view[start:start + CHUNK]
            payload += struct.pack("!L", len(chunk))
            payload += chunk
        payload += struct.pack("!L", 0)
        return parse_reply(self._command(conn, bytes(payload)))


def parse_reply(reply: str) -> Clean | Infected:
    """clamd's answer to INSTREAM; anything but OK or FOUND is ScannerUnavailable (fail closed)."""
    _, sep, result = reply.partition(": ")
    if not sep:
        raise ScannerUnavailable(f"clamd gave an answer we do not understand: {reply[:200]!r}")
    if result == "OK":
        return Clean()
    if result.endswith(" FOUND"):
        name = result.removesuffix(" FOUND").strip()
        if name:
            return Infected(name)
    raise ScannerUnavailable(f"clamd could not scan the file: {reply[:200]!r}")


def _settings() -> dict:
    if has_app_context():
        return current_app.config
    # Outside an app (a script, a unit test): the configuration PORTAL_ENV names, read the same way.
    from portal.config import CONFIGS

    config = CONFIGS.get(os.environ.get("PORTAL_ENV", "development"), CONFIGS["development"])
    return {key: getattr(config, key) for key in dir(config) if key.isupper()}


def scanner_from_config(config=None) -> Scanner:
    """The scanner the configuration names (VIRUS_SCANNER); an unknown name is a configuration error."""
    config = config if config is not None else _settings()
    chosen = config.get("VIRUS_SCANNER", "clamd")
    if hasattr(chosen, "scan"):
        return chosen
    if chosen == "clamd":
        return ClamdScanner(config.get("CLAMD_SOCKET") or DEFAULT_SOCKET,
                            float(config.get("CLAMD_TIMEOUT") or DEFAULT_TIMEOUT))
    if chosen == "none":
        return NoScanner()
    if isinstance(chosen, str) and ":" in chosen:
        module, _, factory = chosen.partition(":")
        return getattr(importlib.import_module(module), factory)(config)
    raise RuntimeError(f"VIRUS_SCANNER must be 'clamd', 'none' or 'module:factory', not {chosen!r}")


def scan(data: bytes) -> Clean | Infected:
    """Scan the bytes with the configured scanner (ScannerUnavailable if it cannot say)."""
    return scanner_from_config().scan(data)
