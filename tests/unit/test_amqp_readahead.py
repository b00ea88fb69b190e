"""The read-ahead transport returns exactly the frames py-amqp's own would, however the
bytes arrive: split anywhere, many frames in one read, a frame bigger than the read-ahead,
and a read that times out halfway through a frame. A consumer is handed every frame already
read, in order, and never one that is not whole."""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterator

import pytest
from amqp.exceptions import UnexpectedFrame

from marketsync.workers.amqp_readahead import (
    READ_AHEAD,
    ReadAheadConnection,
    ReadAheadTCPTransport,
)

FRAME_END = b"\xce"


def frame(kind: int, channel: int, payload: bytes) -> bytes:
    return struct.pack(">BHI", kind, channel, len(payload)) + payload + FRAME_END


@pytest.fixture
def wire() -> Iterator[tuple[ReadAheadTCPTransport, socket.socket]]:
    """A transport reading one end of a socket pair; the test writes the other."""
    ours, theirs = socket.socketpair()
    transport = ReadAheadTCPTransport("127.0.0.1:5672")  # connects nowhere by itself
    transport.sock = ours
    transport._setup_transport()
    transport.connected = True
    yield transport, theirs
    ours.close()
    theirs.close()


def test_frames_come_out_whole_and_in_order_however_the_bytes_are_split(
    wire: tuple[ReadAheadTCPTransport, socket.socket],
) -> None:
    transport, peer = wire
    payloads = [b"method", b"h" * 300, b"", b"body" * 100, b"x" * (READ_AHEAD * 3 + 5)]
    stream = b"".join(frame(1 + i % 3, 7, p) for i, p in enumerate(payloads))
    for start in range(0, len(stream), 1000):  # arbitrary cuts, mid-header included
        peer.sendall(stream[start : start + 1000])
    for i, payload in enumerate(payloads):
        assert transport.read_frame() == (1 + i % 3, 7, payload)
    assert transport._read_buffer == b""


def test_a_whole_frame_read_ahead_is_handed_out_without_a_read(
    wire: tuple[ReadAheadTCPTransport, socket.socket],
) -> None:
    transport, peer = wire
    second = frame(2, 1, b"second")
    peer.sendall(frame(1, 1, b"first") + second[:5])
    assert transport.held_frame() is None  # nothing read yet
    assert transport.read_frame() == (1, 1, b"first")
    assert transport.held_frame() is None  # half a header of the second
    peer.sendall(second[5:9])
    with pytest.raises(socket.timeout):  # the header, not the whole frame: read, kept
        transport.sock.settimeout(0.05)
        transport.read_frame()
    assert transport.held_frame() is None
    transport.sock.settimeout(None)
    peer.sendall(second[9:] + frame(3, 1, b"third") + frame(1, 1, b"fourth")[:-1])
    assert transport.read_frame() == (2, 1, b"second")
    # read along with the second: handed out from the buffer, the socket untouched
    assert transport.held_frame() == (3, 1, b"third")
    assert transport.held_frame() is None  # the fourth lacks its end octet
    peer.sendall(b"\xce")
    assert transport.read_frame() == (1, 1, b"fourth")
    assert transport._read_buffer == b""


def test_a_frame_without_its_end_octet_is_refused_as_py_amqp_refuses_it(
    wire: tuple[ReadAheadTCPTransport, socket.socket],
) -> None:
    transport, peer = wire
    peer.sendall(frame(1, 1, b"first") + frame(1, 1, b"broken")[:-1] + b"\x00")
    assert transport.read_frame() == (1, 1, b"first")
    with pytest.raises(UnexpectedFrame, match="frame_end 0x00"):
        transport.held_frame()


def test_a_consumer_is_handed_every_frame_already_read_in_order_and_no_more(
    wire: tuple[ReadAheadTCPTransport, socket.socket],
) -> None:
    transport, peer = wire
    connection = ReadAheadConnection()  # connects nowhere by itself
    connection.transport = transport
    handled: list[tuple[int, int, bytes]] = []
    connection.on_inbound_frame = handled.append
    frames = [(1 + i % 3, 1, b"message %d" % i) for i in range(30)]
    stream = b"".join(frame(*f) for f in frames)
    cut = len(stream) - 4  # the last frame is not whole yet
    peer.sendall(stream[:cut])
    assert connection.drain_held() == 0  # nothing read yet: it never waits for the socket
    connection.blocking_read(timeout=1.0)  # one read brings in all it can
    assert connection.drain_held() == len(frames) - 2
    assert handled == frames[:-1]
    peer.sendall(stream[cut:])
    connection.blocking_read(timeout=1.0)
    assert handled == frames
    assert connection.drain_held() == 0


def test_a_read_that_times_out_halfway_keeps_what_it_had(
    wire: tuple[ReadAheadTCPTransport, socket.socket],
) -> None:
    transport, peer = wire
    whole = frame(3, 2, b"payload" * 50)
    peer.sendall(whole[:100])
    transport.sock.settimeout(0.05)
    with pytest.raises(socket.timeout):
        transport.read_frame()
    peer.sendall(whole[100:])
    assert transport.read_frame() == (3, 2, b"payload" * 50)


def test_a_closed_connection_is_an_error(
    wire: tuple[ReadAheadTCPTransport, socket.socket],
) -> None:
    transport, peer = wire
    peer.sendall(frame(1, 1, b"last"))
    peer.close()
    assert transport.read_frame() == (1, 1, b"last")
    with pytest.raises(OSError, match="closed"):
        transport.read_frame()
