"""Figures, the table printed at the end of a run, the JSON file, and the machine they ran on."""

from __future__ import annotations

import json
import os
import platform
import sqlite3
import subprocess
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from kombu import Connection

MB = 1_000_000


@dataclass(frozen=True)
class Figure:
    """One measured figure beside its reference. ``met`` is None where there is no target."""

    name: str
    value: float | None
    unit: str
    reference: float | None = None
    reference_label: str = ""
    target: str = ""
    met: bool | None = None
    details: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @property
    def ratio(self) -> float | None:
        if self.value is None or not self.reference:
            return None
        return self.value / self.reference

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "ratio": self.ratio}


def failed(name: str, unit: str, error: BaseException) -> Figure:
    return Figure(name, None, unit, error=f"{type(error).__name__}: {error}")


def show(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "events/s":
        return f"{value:,.0f} ev/s"
    if unit == "s":
        return f"{value:.2f} s"
    if unit == "MB":
        return f"{value:,.0f} MB"
    return f"{value:,.0f} {unit}".rstrip()


def _met(figure: Figure) -> str:
    if figure.error is not None:
        return "ERROR"
    return {True: "yes", False: "NO", None: "-"}[figure.met]


def table(figures: Sequence[Figure]) -> str:
    headers = ("figure", "value", "reference", "ratio", "target", "met?")
    rows = [
        (
            f.name,
            show(f.value, f.unit),
            f"{show(f.reference, f.unit)} {f.reference_label}".strip() if f.reference else "-",
            "-" if f.ratio is None else f"{f.ratio:.2f}",
            f.target or "-",
            _met(f),
        )
        for f in figures
    ]
    widths = [max(len(str(r[i])) for r in (headers, *rows)) for i in range(len(headers))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    rule = "  ".join("-" * w for w in widths)
    head = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    errors = [f"{f.name}: {f.error}" for f in figures if f.error]
    return "\n".join([head, rule, *(line.rstrip() for line in lines), *errors])


def markdown(figures: Sequence[Figure]) -> str:
    """The same table as Markdown, for the README."""
    lines = ["| figure | value | reference | ratio | target | met? |", "|---|---|---|---|---|---|"]
    for f in figures:
        reference = f"{show(f.reference, f.unit)} {f.reference_label}".strip()
        ratio = "-" if f.ratio is None else f"{f.ratio:.2f}"
        cells = (f.name, show(f.value, f.unit), reference if f.reference else "-", ratio)
        lines.append(f"| {' | '.join(cells)} | {f.target or '-'} | {_met(f)} |")
    return "\n".join(lines)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_total() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _rabbitmq_version(amqp_url: str) -> str:
    try:
        with Connection(amqp_url, connect_timeout=5) as connection:
            connection.connect()
            properties = connection.connection.server_properties
            return str(properties.get("version", "unknown"))
    except Exception as e:  # the version is a label: a failure must not sink the run
        return f"unknown ({type(e).__name__})"


def _postgres_version(server_url: str) -> str:
    url = server_url
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            return str(connection.execute(sa.text("SHOW server_version")).scalar())
    except sa.exc.SQLAlchemyError as e:
        return f"unknown ({type(e).__name__})"
    finally:
        engine.dispose()


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def code_version() -> dict[str, Any]:
    """The commit of the code measured and whether it had local changes (best effort)."""
    here = Path(__file__).resolve().parent

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", "-C", str(here), *args], capture_output=True, text=True, timeout=10
        )
        return done.stdout.strip() if done.returncode == 0 else ""

    try:
        commit = git("rev-parse", "--short", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no", "--", ".."))
    except (OSError, subprocess.SubprocessError):
        commit, dirty = "", False
    return {"commit": commit or "unknown", "local_changes": dirty}


def machine(amqp_url: str, postgres_server: str) -> dict[str, Any]:
    memory = _memory_total()
    return {
        "host": platform.node(),
        "cores": os.cpu_count(),
        "cpu": _cpu_model(),
        "memory_gb": round(memory / 1e9, 1) if memory else None,
        "os": platform.platform(),
        "python": platform.python_version(),
        "rabbitmq": _rabbitmq_version(amqp_url),
        "postgresql": _postgres_version(postgres_server),
        "sqlite": sqlite3.sqlite_version,
        "packages": {p: _version(p) for p in ("sqlalchemy", "kombu", "pika", "psycopg")},
        "code": code_version(),
    }


def machine_line(info: dict[str, Any]) -> str:
    code = info.get("code", {})
    changes = " with local changes" if code.get("local_changes") else ""
    return (
        f"{info['cores']} cores {info['cpu']}, {info['memory_gb']} GB, Python {info['python']}, "
        f"RabbitMQ {info['rabbitmq']}, PostgreSQL {info['postgresql']}, SQLite {info['sqlite']}; "
        f"code {code.get('commit', 'unknown')}{changes}"
    )


def write_json(path: Path, document: dict[str, Any]) -> None:
    path.write_text(json.dumps(document, indent=2, default=str) + "\n", encoding="utf-8")
