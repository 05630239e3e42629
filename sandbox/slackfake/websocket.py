"""The server side of RFC 6455 WebSocket, standard library only: the opening handshake, frames, ping/pong, close.

Just what Slack's Socket Mode link needs: text messages both ways, control frames, fragmentation. No
extensions or subprotocols are negotiated, so any RSV bit is a protocol error (§5.2). The rules a server
must enforce are enforced: client frames are masked (§5.1), control frames are short and unfragmented
(§5.5), text is UTF-8 (§8.1); a violation closes the connection with the matching status code (§7.4.1).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import socket
import struct
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import BinaryIO

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # §1.3, fixed by the RFC

OP_CONTINUATION, OP_TEXT, OP_BINARY = 0x0, 0x1, 0x2
OP_CLOSE, OP_PING, OP_PONG = 0x8, 0x9, 0xA
_DATA_OPCODES = {OP_CONTINUATION, OP_TEXT, OP_BINARY}
_CONTROL_OPCODES = {OP_CLOSE, OP_PING, OP_PONG}

# close status codes (§7.4.1)
NORMAL, GOING_AWAY, PROTOCOL_ERROR, UNSUPPORTED_DATA = 1000, 1001, 1002, 1003
INVALID_PAYLOAD, MESSAGE_TOO_BIG = 1007, 1009

MAX_MESSAGE = 16 * 1024 * 1024  # far above any Slack ack; guards the fake against a runaway client


class ProtocolError(Exception):
    """The peer broke RFC 6455; `code` is the close status to answer with."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


# ----------------------------------------------------------------------------------------------------------
# opening handshake (§4.2)


def accept_value(key: str) -> str:
    """Sec-WebSocket-Accept for a Sec-WebSocket-Key: base64(SHA-1(key + GUID))."""
    return base64.b64encode(hashlib.sha1((key + GUID).encode("ascii")).digest()).decode("ascii")


def handshake_problem(method: str, version: str, headers: Mapping[str, str]) -> tuple[int, str] | None:
    """Why this request is not a valid WebSocket opening handshake, as (HTTP status, reason); None if it is.
    `headers` must have lower-case names."""
    if method != "GET" or version != "HTTP/1.1":
        return 400, "a WebSocket handshake is an HTTP/1.1 GET"
    if headers.get("upgrade", "").strip().lower() != "websocket":
        return 400, "missing Upgrade: websocket"
    if "upgrade" not in {t.strip().lower() for t in headers.get("connection", "").split(",")}:
        return 400, "missing Connection: Upgrade"
    if headers.get("sec-websocket-version", "").strip() != "13":
        return 426, "unsupported Sec-WebSocket-Version"  # §4.4: answer 426 naming the version we speak
    try:
        key_ok = len(base64.b64decode(headers.get("sec-websocket-key", "").strip(), validate=True)) == 16
    except ValueError:
        key_ok = False
    if not key_ok:
        return 400, "Sec-WebSocket-Key must be 16 base64-encoded bytes"
    return None


def handshake_response(key: str) -> bytes:
    return (
        "HTTP/1.1 101 Switching Protocols\r\n"
        "Upgrade: websocket\r\n"
        "Connection: Upgrade\r\n"
        f"Sec-WebSocket-Accept: {accept_value(key)}\r\n"
        "\r\n"
    ).encode("ascii")


def refusal_response(status: int, reason: str) -> bytes:
    body = reason.encode()
    phrase = {400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 426: "Upgrade Required"}.get(status, "")
    extra = "Sec-WebSocket-Version: 13\r\n" if status == 426 else ""
    return (
        f"HTTP/1.1 {status} {phrase}\r\nContent-Type: text/plain; charset=utf-8\r\n{extra}"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode("ascii") + body


# ----------------------------------------------------------------------------------------------------------
# frames (§5)


@dataclass(frozen=True)
class Frame:
    fin: bool
    opcode: int
    payload: bytes


def encode_frame(opcode: int, payload: bytes = b"") -> bytes:
    """A final, unmasked frame: a server must not mask what it sends (§5.1)."""
    head = bytes([0x80 | opcode])
    n = len(payload)
    if n <= 125:
        head += bytes([n])
    elif n <= 0xFFFF:
        head += bytes([126]) + struct.pack("!H", n)
    else:
        head += bytes([127]) + struct.pack("!Q", n)
    return head + payload


def read_frame(read_exactly: Callable[[int], bytes]) -> Frame:
    """One client frame, unmasked. `read_exactly(n)` returns n bytes or raises EOFError."""
    b1, b2 = read_exactly(2)
    fin, opcode = bool(b1 & 0x80), b1 & 0x0F
    if b1 & 0x70:
        raise ProtocolError(PROTOCOL_ERROR, "RSV bits set without a negotiated extension")
    if opcode not in _DATA_OPCODES | _CONTROL_OPCODES:
        raise ProtocolError(PROTOCOL_ERROR, f"reserved opcode {opcode:#x}")
    if not b2 & 0x80:
        raise ProtocolError(PROTOCOL_ERROR, "client frames must be masked")
    length = b2 & 0x7F
    if opcode in _CONTROL_OPCODES and (length > 125 or not fin):
        raise ProtocolError(PROTOCOL_ERROR, "control frames are at most 125 bytes and never fragmented")
    if length == 126:
        (length,) = struct.unpack("!H", read_exactly(2))
    elif length == 127:
        (length,) = struct.unpack("!Q", read_exactly(8))
    if length > MAX_MESSAGE:
        raise ProtocolError(MESSAGE_TOO_BIG, "frame too big")
    mask = read_exactly(4)
    data = read_exactly(length)
    # XOR with the 4-byte key repeated, done on whole integers rather than byte by byte
    key = int.from_bytes((mask * (length // 4 + 1))[:length], "big")
    unmasked = (int.from_bytes(data, "big") ^ key).to_bytes(length, "big") if length else b""
    return Frame(fin, opcode, unmasked)


def close_payload(code: int, reason: str = "") -> bytes:
    return struct.pack("!H", code) + reason.encode()[:123]


# ----------------------------------------------------------------------------------------------------------
# a connection


class WebSocket:
    """An accepted connection. One thread reads (`receive`); any thread may send."""

    def __init__(self, sock: socket.socket, rfile: BinaryIO, on_pong: Callable[[bytes], None] | None = None) -> None:
        self._sock = sock
        self._rfile = rfile  # the HTTP server's buffered reader: it may already hold the first frame's bytes
        self._send_lock = threading.Lock()
        self._on_pong = on_pong
        self.close_sent = False

    def _read_exactly(self, n: int) -> bytes:
        chunks, left = [], n
        while left:
            chunk = self._rfile.read(left)
            if not chunk:
                raise EOFError("connection closed")
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    def _send(self, opcode: int, payload: bytes) -> None:
        with self._send_lock:
            if self.close_sent:
                raise ConnectionError("WebSocket is closing")
            if opcode == OP_CLOSE:
                self.close_sent = True  # §5.5.1: nothing may follow a close frame
            self._sock.sendall(encode_frame(opcode, payload))

    def accept(self, key: str, greeting: str | None = None) -> None:
        """Answer the opening handshake (101), then send `greeting` as the first message, with no frame
        able to slip in between."""
        with self._send_lock:
            first = encode_frame(OP_TEXT, greeting.encode("utf-8")) if greeting is not None else b""
            self._sock.sendall(handshake_response(key) + first)

    def send_text(self, text: str) -> None:
        self._send(OP_TEXT, text.encode("utf-8"))

    def ping(self, payload: bytes = b"") -> None:
        self._send(OP_PING, payload)

    def close(self, code: int = NORMAL, reason: str = "") -> None:
        """Start the closing handshake; `receive` returns None once the client answers or hangs up."""
        with contextlib.suppress(OSError):  # already closing, or the socket is gone: reading will end
            self._send(OP_CLOSE, close_payload(code, reason))

    def abort(self) -> None:
        """Drop the TCP connection; unblocks the reading thread."""
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)

    def receive(self) -> str | None:
        """The next text message; None when the connection is over. Answers pings and close frames itself."""
        parts: list[bytes] = []
        size = 0
        while True:
            try:
                frame = read_frame(self._read_exactly)
            except (EOFError, OSError):
                return None
            except ProtocolError as e:
                self._fail(e)
                return None
            if frame.opcode == OP_PING:
                self._reply(OP_PONG, frame.payload)  # §5.5.3: a pong echoes the ping's application data
                continue
            if frame.opcode == OP_PONG:
                if self._on_pong is not None:
                    self._on_pong(frame.payload)
                continue
            if frame.opcode == OP_CLOSE:
                self._answer_close(frame.payload)
                return None
            try:
                if frame.opcode == OP_BINARY:
                    raise ProtocolError(UNSUPPORTED_DATA, "Socket Mode speaks text frames only")
                if (frame.opcode == OP_CONTINUATION) != bool(parts):
                    raise ProtocolError(PROTOCOL_ERROR, "continuation frame out of sequence")
                size += len(frame.payload)
                if size > MAX_MESSAGE:
                    raise ProtocolError(MESSAGE_TOO_BIG, "message too big")
                parts.append(frame.payload)
                if not frame.fin:
                    continue
                try:
                    return b"".join(parts).decode("utf-8")
                except UnicodeDecodeError:
                    raise ProtocolError(INVALID_PAYLOAD, "text message is not UTF-8") from None
            except ProtocolError as e:
                self._fail(e)
                return None

    def _reply(self, opcode: int, payload: bytes) -> None:
        with contextlib.suppress(OSError):  # closing anyway; the next read ends the loop
            self._send(opcode, payload)

    def _answer_close(self, payload: bytes) -> None:
        if len(payload) == 1:  # §5.5.1: a close body starts with a 2-byte status code
            self._fail(ProtocolError(PROTOCOL_ERROR, "close frame with a 1-byte body"))
            return
        if not self.close_sent:  # echo the status code, unless this frame answers our own close
            self._reply(OP_CLOSE, payload[:2])
        self.abort()  # §7.1.1: then the server closes the TCP connection first

    def _fail(self, error: ProtocolError) -> None:
        self._reply(OP_CLOSE, close_payload(error.code, error.reason))
        self.abort()
