"""Settings: read once from the environment and one TOML file into frozen objects.

This is the only module that reads ``os.environ``. Secrets are given by reference
(``env:NAME`` or ``file:/path``) and held in :class:`Secret`, whose ``repr`` and ``str``
never show the value.

Errors::

    ConfigError            any problem with the environment or the TOML file (one readable line)
"""

from __future__ import annotations

import copyreg
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import unquote, urlsplit


def read_only(values: dict[Any, Any]) -> MappingProxyType[Any, Any]:
    return MappingProxyType(values)


def _reduce_proxy(proxy: MappingProxyType[Any, Any]) -> tuple[Any, tuple[dict[Any, Any]]]:
    return read_only, (dict(proxy),)


# Settings travel to the batcher's recorder process, pickled: a read-only mapping goes as a
# plain dict and is made read-only again on arrival.
copyreg.pickle(MappingProxyType, _reduce_proxy)

DEFAULT_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"
DEFAULT_DATABASE_URL = "sqlite:///marketsync.db"


class ConfigError(Exception):
    """The configuration cannot be used; the message says what to fix."""


@dataclass(frozen=True, slots=True)
class Secret:
    """A credential. Only :meth:`reveal` gives the value; nothing else prints it."""

    _value: str = field(repr=False)
    source: str = ""

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret({self.source or '***'})"

    __str__ = __repr__


@dataclass(frozen=True, slots=True)
class Limit:
    """A token bucket: ``rate`` tokens per second, at most ``burst`` tokens."""

    rate: float
    burst: float


@dataclass(frozen=True, slots=True)
class AccountSettings:
    name: str
    seller_id: str
    marketplaces: tuple[str, ...]
    lwa_client_id: Secret
    lwa_client_secret: Secret
    refresh_token: Secret
    limits: Mapping[str, Limit] = field(default_factory=lambda: MappingProxyType({}))

    def secrets(self) -> tuple[Secret, ...]:
        return (self.lwa_client_id, self.lwa_client_secret, self.refresh_token)


@dataclass(frozen=True, slots=True)
class AmazonSettings:
    """Where the SP-API lives. ``None`` means Amazon's real regional endpoints."""

    endpoint: str | None = None
    token_endpoint: str | None = None
    timeout: float = 30.0  # seconds per HTTP call


@dataclass(frozen=True, slots=True)
class PipelineSettings:
    """How the pipeline batches, polls and retries (all durations in seconds)."""

    gathering_window: float = 5.0  # a change waits at least this long to gather company
    max_age: float = 60.0  # after this, a job is formed with whatever is pending
    max_messages_per_feed: int = 25_000
    max_document_bytes: int = 10 * 1024 * 1024
    poll_interval: float = 30.0  # getFeed cadence per job
    retry_base: float = 60.0  # first retry of a rejected item; doubles per attempt
    retry_max: float = 3600.0
    stuck_after: float = 7200.0
    lease: float = 60.0  # a poller that dies holds its jobs this long at most
    batch_size: int = 2000  # storefront messages folded per transaction
    batch_wait: float = 0.05  # longest a partial batch waits before it is folded


@dataclass(frozen=True, slots=True)
class Settings:
    amqp_url: str = DEFAULT_AMQP_URL
    database_url: str = DEFAULT_DATABASE_URL
    amazon: AmazonSettings = AmazonSettings()
    pipeline: PipelineSettings = PipelineSettings()
    accounts: tuple[AccountSettings, ...] = ()
    simulator: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    config_path: Path | None = None

    def account(self, name: str) -> AccountSettings:
        for account in self.accounts:
            if account.name == name:
                return account
        raise ConfigError(f"unknown account {name!r}; configured: {', '.join(self.account_names)}")

    @property
    def account_names(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.accounts)

    def secret_values(self) -> tuple[str, ...]:
        """Every credential value this process knows, for the log redactor."""
        values = [s.reveal() for a in self.accounts for s in a.secrets()]
        for url in (self.amqp_url, self.database_url):
            password = urlsplit(url).password
            if password:
                values += [password, unquote(password)]  # as written, and as the client uses it
        return tuple(v for v in values if v)


def resolve_secret(reference: object, where: str, environ: Mapping[str, str]) -> Secret:
    """Turn ``env:NAME`` or ``file:/path`` into a :class:`Secret`; refuse inline values."""
    if not isinstance(reference, str):
        raise ConfigError(f"{where}: expected 'env:NAME' or 'file:/path'")
    kind, _, target = reference.partition(":")
    if kind == "env" and target:
        if target not in environ:
            raise ConfigError(f"{where}: environment variable {target} is not set")
        return Secret(environ[target], source=reference)
    if kind == "file" and target:
        try:
            return Secret(Path(target).read_text(encoding="utf-8").strip(), source=reference)
        except OSError as e:
            raise ConfigError(f"{where}: cannot read {target}: {e.strerror}") from None
    raise ConfigError(f"{where}: secrets are given by reference ('env:NAME' or 'file:/path')")


def parse_limits(raw: object, where: str) -> Mapping[str, Limit]:
    """``operation = { rate = N, burst = N }`` entries, for operations Amazon limits."""
    from marketsync.domain.token_bucket import DEFAULT_LIMITS

    if raw is None:
        return MappingProxyType({})
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a table of operation = {{ rate, burst }}")
    limits: dict[str, Limit] = {}
    for operation, spec in raw.items():
        if operation not in DEFAULT_LIMITS:
            raise ConfigError(
                f"{where}: unknown operation {operation!r} (known: {', '.join(DEFAULT_LIMITS)})"
            )
        try:
            rate, burst = float(spec["rate"]), float(spec["burst"])
        except (KeyError, TypeError, ValueError):
            raise ConfigError(f"{where}.{operation}: expected {{ rate = N, burst = N }}") from None
        if rate <= 0 or burst < 1:
            raise ConfigError(f"{where}.{operation}: rate must be > 0 and burst >= 1")
        limits[operation] = Limit(rate, burst)
    return MappingProxyType(limits)


def _account(raw: object, index: int, environ: Mapping[str, str]) -> AccountSettings:
    where = f"accounts[{index}]"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a table")
    try:
        name, seller_id, marketplaces = raw["name"], raw["seller_id"], raw["marketplaces"]
    except KeyError as e:
        raise ConfigError(f"{where}: missing {e.args[0]!r}") from None
    if not (
        isinstance(marketplaces, list)
        and marketplaces
        and all(isinstance(m, str) for m in marketplaces)
    ):
        raise ConfigError(f"{where}.marketplaces: expected a non-empty list of marketplace ids")
    return AccountSettings(
        name=str(name),
        seller_id=str(seller_id),
        marketplaces=tuple(marketplaces),
        lwa_client_id=resolve_secret(raw.get("lwa_client_id"), f"{where}.lwa_client_id", environ),
        lwa_client_secret=resolve_secret(
            raw.get("lwa_client_secret"), f"{where}.lwa_client_secret", environ
        ),
        refresh_token=resolve_secret(raw.get("refresh_token"), f"{where}.refresh_token", environ),
        limits=parse_limits(raw.get("limits"), f"{where}.limits"),
    )


def _pipeline(raw: object) -> PipelineSettings:
    if raw is None:
        return PipelineSettings()
    if not isinstance(raw, dict):
        raise ConfigError("[pipeline]: expected a table")
    known = PipelineSettings.__dataclass_fields__
    unknown = sorted(set(raw) - set(known))
    if unknown:
        raise ConfigError(f"[pipeline]: unknown setting(s) {', '.join(unknown)}")
    try:
        values = {k: type(getattr(PipelineSettings(), k))(v) for k, v in raw.items()}
    except (TypeError, ValueError) as e:
        raise ConfigError(f"[pipeline]: {e}") from None
    return PipelineSettings(**values)


def parse_settings(
    document: Mapping[str, Any],
    environ: Mapping[str, str],
    config_path: Path | None = None,
) -> Settings:
    """Build :class:`Settings` from a parsed TOML document and an environment."""
    amazon = document.get("amazon") or {}
    accounts = tuple(
        _account(raw, i, environ) for i, raw in enumerate(document.get("accounts") or [])
    )
    names = [a.name for a in accounts]
    if len(set(names)) != len(names):
        raise ConfigError("accounts: each account needs a distinct name")
    return Settings(
        amqp_url=environ.get("MARKETSYNC_AMQP_URL") or DEFAULT_AMQP_URL,
        database_url=environ.get("MARKETSYNC_DATABASE_URL") or DEFAULT_DATABASE_URL,
        amazon=AmazonSettings(
            endpoint=amazon.get("endpoint"),
            token_endpoint=amazon.get("token_endpoint"),
            timeout=float(amazon.get("timeout", 30.0)),
        ),
        pipeline=_pipeline(document.get("pipeline")),
        accounts=accounts,
        simulator=MappingProxyType(dict(document.get("simulator") or {})),
        config_path=config_path,
    )


def load_config_file(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"config file {path} is not valid TOML: {e}") from None


def load_settings(
    config: Path | str | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Read the environment and the TOML file named by ``config`` or ``MARKETSYNC_CONFIG``."""
    env = os.environ if environ is None else environ
    chosen = config or env.get("MARKETSYNC_CONFIG")
    if not chosen:
        return parse_settings({}, env)
    path = Path(chosen)
    return parse_settings(load_config_file(path), env, config_path=path)


def environment() -> Mapping[str, str]:
    """The process environment, for composition roots that pass it on (e.g. to children)."""
    return os.environ
