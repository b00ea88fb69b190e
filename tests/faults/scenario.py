"""What every fault scenario's pipeline runs with: windows short enough for a test, leases
short enough that a killed poller's jobs pass to its successor within 2 s."""

from __future__ import annotations

PIPELINE = {
    "gathering_window": 0.3,
    "max_age": 1.0,
    "poll_interval": 0.2,
    "retry_base": 3600.0,
    "lease": 2.0,
}
