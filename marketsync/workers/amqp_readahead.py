"""The one module that reaches into py-amqp: a TCP transport that reads ahead.

py-amqp reads a frame with three ``recv`` calls of exactly the bytes it needs next (the
7-byte header, the payload, the end octet), each between two ``settimeout`` calls, and a
storefront message is three frames: fifteen system calls for some 450 bytes.
:class:`ReadAheadTCPTransport` asks the socket for up to 8 KiB at a time and serves the
next reads from what it already holds, which is where py-amqp already keeps bytes it has
received but not yet parsed (``_read_buffer``; its own timeout handling puts a partly read
frame back in front of them). :class:`ReadAheadConnection` parses a frame that is already
whole without touching the socket's timeout, and :meth:`ReadAheadConnection.drain_held`
hands a consumer every frame it has already read, each with one slice of the buffer.

Measured by ``marketsync bench`` (``kombu_consumer_alone_rate``): the kombu consumer alone
went from about 29,000 to 44,000 messages a second with the reads, and to 52,000-60,000
with the timeouts as well. On a slower machine, handing the consumer every frame already
read took it from 25,000 to 35,000 (36 µs of CPU a message to 24). Only ``_read`` and
``blocking_read`` are replaced, with the same signatures and errors as py-amqp 5's
(``drain_held`` is an addition); the tests that drive the batcher through RabbitMQ (broker
restarts and undecodable frames included) run through them. TLS connections keep py-amqp's
own transport.
"""

from __future__ import annotations

import errno
import struct
from typing import Any

from amqp.exceptions import UnexpectedFrame
from amqp.transport import TCPTransport
from kombu.transport import pyamqp

READ_AHEAD = 8192
FRAME_END = 0xCE
_HEADER = struct.Struct(">BHI")  # type, channel, payload size


class ReadAheadTCPTransport(TCPTransport):  # type: ignore[misc]
    def _read(
        self, n: int, initial: bool = False, _errnos: tuple[int, ...] = (errno.EAGAIN, errno.EINTR)
    ) -> bytes:
        """Exactly ``n`` bytes: from what was read ahead, else from the socket, asking it
        for up to :data:`READ_AHEAD` bytes at a time."""
        buffered: bytes = self._read_buffer  # type: ignore[has-type]
        if len(buffered) < n:
            try:
                while len(buffered) < n:
                    try:
                        received = self._quick_recv(max(n - len(buffered), READ_AHEAD))
                    except OSError as exc:
                        if exc.errno in _errnos:
                            if initial and self.raise_on_initial_eintr:
                                raise TimeoutError() from exc
                            continue
                        raise
                    if not received:
                        raise OSError("Server unexpectedly closed connection")
                    buffered += received
            except BaseException:
                self._read_buffer = buffered  # kept for the next try, as py-amqp does
                raise
        self._read_buffer = buffered[n:]
        return buffered[:n]

    def held_frame(self) -> tuple[int, int, bytes] | None:
        """The next frame, as ``read_frame`` returns it, if it was already read whole (7-byte
        header, payload, end octet); else None, and nothing is consumed. It never touches the
        socket: one slice of what was read ahead instead of ``read_frame``'s three reads."""
        buffered: bytes = self._read_buffer
        if len(buffered) < 8:
            return None
        kind, channel, size = _HEADER.unpack_from(buffered)
        end = size + 8
        if len(buffered) < end:
            return None
        if buffered[end - 1] != FRAME_END:
            raise UnexpectedFrame(
                f"Received frame_end {buffered[end - 1]:#04x} while expecting {FRAME_END:#04x}"
            )
        self._read_buffer = buffered[end:]
        return kind, channel, buffered[7 : end - 1]


class ReadAheadConnection(pyamqp.Connection):  # type: ignore[misc]
    """kombu's py-amqp connection over :class:`ReadAheadTCPTransport`."""

    def blocking_read(self, timeout: float | None = None) -> Any:
        """A frame already read ahead is parsed at once: py-amqp would set the socket's
        timeout and put it back around it (two system calls) for no read at all."""
        transport = self.transport
        if isinstance(transport, ReadAheadTCPTransport):
            frame = transport.held_frame()
            if frame is not None:
                return self.on_inbound_frame(frame)
        return super().blocking_read(timeout)

    def drain_held(self) -> int:
        """Handle every frame already read, in order, without waiting for more; how many.

        py-amqp's ``drain_events`` returns after each method, so a consumer goes through its
        loop (and kombu's, and py-amqp's) once per message; calling this between two
        ``drain_events`` hands it the dozen or so messages one read brought in at once.
        Only a consumer's loop calls it: in the middle of py-amqp's wait for a reply, a
        method handled early could meet the wrong waiter."""
        transport = self.transport
        if not isinstance(transport, ReadAheadTCPTransport):
            return 0
        on_frame = self.on_inbound_frame
        handled = 0
        frame = transport.held_frame()
        while frame is not None:
            on_frame(frame)
            handled += 1
            frame = transport.held_frame()
        return handled

    def Transport(
        self,
        host: str,
        connect_timeout: float | None,
        ssl: Any = False,
        read_timeout: float | None = None,
        write_timeout: float | None = None,
        socket_settings: Any = None,
        **kwargs: Any,
    ) -> Any:
        timeouts = {"read_timeout": read_timeout, "write_timeout": write_timeout}
        if ssl:
            return super().Transport(
                host, connect_timeout, ssl, socket_settings=socket_settings, **timeouts, **kwargs
            )
        return ReadAheadTCPTransport(
            host,
            connect_timeout=connect_timeout,
            socket_settings=socket_settings,
            **timeouts,
            **kwargs,
        )


class ReadAheadTransport(pyamqp.Transport):  # type: ignore[misc]
    """kombu's ``pyamqp`` transport over :class:`ReadAheadConnection`."""

    Connection = ReadAheadConnection
