"""The read-ahead transport returns exactly the frames py-amqp's own would, however the
bytes arrive: split anywhere, many frames in one read, a frame bigger than the read-ahead,
and a read that times out halfway through a frame."""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterator

import pytest

from marketsync.workers.amqp_readahead import READ_AHEAD, ReadAheadTCPTransport

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


def test_a_whole_frame_read_ahead_is_known_to_be_there(
    wire: tuple[ReadAheadTCPTransport, socket.socket],
) -> None:
    transport, peer = wire
    peer.sendall(frame(1, 1, b"first") + frame(2, 1, b"second")[:5])
    assert not transport.holds_frame()  # nothing read yet
    assert transport.read_frame() == (1, 1, b"first")
    assert not transport.holds_frame()  # half a header of the second
    peer.sendall(frame(2, 1, b"second")[5:] + frame(3, 1, b"third"))
    assert transport.read_frame() == (2, 1, b"second")
    assert transport.holds_frame()  # read along with the second, no socket read needed
    assert transport.read_frame() == (3, 1, b"third")


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
