"""The root configuration: one TOML file (``lpscore.toml``) composed of frozen per-stage configs.

Every option has a default, so no file is needed for a first run. Unknown keys, wrong types
and bad values stop the run before any work, with a message naming the key and the fix.
TOML's ``nan`` is refused for every number (each comparison with NaN is false, so a range
check alone would let it through); the range checks are written to fail on NaN as well,
for sections built in code.

    [ingest]
    own_comp_ids = ["DESK1"]        # CompIDs that are ours; default: inferred (see docs)
    lp_map = { "BRKR-FIX" = "LP_A" } # CompID or ExDestination -> LP name
    parent_tag = 526                # tag carrying the parent order id
    lenient = false                 # accept bad BodyLength/CheckSum (still counted)
    capture_tz = "UTC"              # time zone of log capture prefixes
    memory_map = true               # map log files, not read them (false: see docs)

    [marketdata]
    lobster_tz = "America/New_York" # LOBSTER times are seconds after midnight, local

    [kpi]
    horizons_ms = [100, 1000, 5000, 30000, 60000]  # markout horizons
    max_quote_age_ms = 5000         # older as-of quotes are no benchmark

    [context]
    adv = { ACME = 1000000 }        # average daily volume per symbol (shares)
    notional_edges = [10000, 100000, 1000000]

    [routing]                       # docs/routing.md
    static_ranking = ["LP_C", "LP_A"] # used when no scores are published for a context
    killed = ["LP_B"]               # kill switch: never routed to
    reject_cooldown_s = 30          # skip an LP for a symbol this long after it rejects
    [routing.lps.LP_D]
    symbols = ["ACME"]              # allowed symbols (default: all)
    max_notional = 5000000
    min_qty = 100
"""

from __future__ import annotations

import itertools
import math
import tomllib
import types
import typing
from dataclasses import MISSING, dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from lpscore.errors import ConfigError

__all__ = [
    "CONTEXT_KEYS",
    "Config",
    "ContextConfig",
    "IngestConfig",
    "KpiConfig",
    "LpRule",
    "MarketDataConfig",
    "RoutingConfig",
    "load_config",
    "parse_section",
]

T = TypeVar("T")

CONTEXT_KEYS = ("symbol", "size_bucket", "vol_regime", "tod_bucket")
"""The context keys every order has (lpscore.kpi.context), after ``lp``."""
_DAY_MS = 86_400_000


@dataclass(frozen=True, slots=True, kw_only=True)
class IngestConfig:
    """How FIX logs become events."""

    own_comp_ids: tuple[str, ...] = ()
    """CompIDs that are ours. Empty: D/F/G senders are ours, 8/9 senders are LPs (KPIS.md)."""
    lp_map: dict[str, str] = field(default_factory=dict)
    """ExDestination or LP CompID -> LP name; unmapped values are used as they are."""
    parent_tag: int = 526
    """Tag naming the parent order (default SecondaryClOrdID); absent, a child is its own parent."""
    lenient: bool = False
    """Accept messages with a bad BodyLength or CheckSum (they are still counted as warnings)."""
    capture_tz: str = "UTC"
    """Time zone of capture prefixes (``YYYYMMDD-HH:MM:SS.f : ``) in logs."""
    memory_map: bool = True
    """Map uncompressed log files into memory instead of reading them (lpscore.ingest.records.
    read_bytes): false for logs that may be truncated in place while lpscore runs."""

    def __post_init__(self) -> None:
        if not 1 <= self.parent_tag <= 99_999:
            raise ConfigError(f"ingest.parent_tag = {self.parent_tag}: use a FIX tag 1..99999")
        _check_tz("ingest.capture_tz", self.capture_tz)


@dataclass(frozen=True, slots=True, kw_only=True)
class MarketDataConfig:
    """How quote files become top-of-book quotes."""

    lobster_tz: str = "America/New_York"
    """Time zone of LOBSTER files (their times are seconds after local midnight)."""
    csv_tz: str = "UTC"
    """Time zone of quote timestamps written without an offset."""

    def __post_init__(self) -> None:
        _check_tz("marketdata.lobster_tz", self.lobster_tz)
        _check_tz("marketdata.csv_tz", self.csv_tz)


@dataclass(frozen=True, slots=True, kw_only=True)
class KpiConfig:
    """How fills and orders become KPIs (docs/kpis.md)."""

    horizons_ms: tuple[int, ...] = (100, 1_000, 5_000, 30_000, 60_000)
    """Markout horizons h, in milliseconds, each > 0, no repeats."""
    max_quote_age_ms: int = 5_000
    """An as-of quote older than this is no benchmark (horizons: older than max(2h, this))."""
    session_rejects_in_reject_rate: bool = False
    """Count session-level rejects of our orders in ``reject_rate`` (KPIS.md: off)."""

    def __post_init__(self) -> None:
        if not self.horizons_ms or any(not 0 < h <= _DAY_MS for h in self.horizons_ms):
            raise ConfigError(f"kpi.horizons_ms = {list(self.horizons_ms)}: give one or more "
                              "positive horizons in milliseconds, at most a day (86400000), "
                              "e.g. [100, 1000, 5000]")
        if len(set(self.horizons_ms)) != len(self.horizons_ms):
            raise ConfigError(f"kpi.horizons_ms = {list(self.horizons_ms)} repeats a horizon; "
                              "list each once")
        if not 0 < self.max_quote_age_ms <= _DAY_MS:
            raise ConfigError(f"kpi.max_quote_age_ms = {self.max_quote_age_ms}: use a positive "
                              "number of milliseconds, at most a day (default 5000)")


@dataclass(frozen=True, slots=True, kw_only=True)
class ContextConfig:
    """How an order's context (size bucket, volatility regime, time of day) is decided."""

    adv: dict[str, float] = field(default_factory=dict)
    """Average daily volume per symbol; with it, size buckets are % of ADV."""
    adv_file: str | None = None
    """CSV with columns ``symbol,adv``; merged with ``adv`` (``adv`` wins)."""
    adv_pct_edges: tuple[float, ...] = (0.1, 0.5, 2.0)
    """Order quantity as % of ADV: bucket edges, increasing."""
    notional_edges: tuple[float, ...] = (10_000.0, 100_000.0, 1_000_000.0)
    """Notional bucket edges (quote currency), increasing; used when ADV is unknown."""
    vol_window_s: float = 300.0
    """Trailing window of the realized volatility of the mid."""
    vol_sample_s: float = 60.0
    """Spacing of the samples whose terciles split regimes low / mid / high."""
    tz: str = "UTC"
    """Time zone of the time-of-day bucket."""
    tod_minutes: int = 60
    """Width of a time-of-day bucket in minutes (divides 1440)."""
    extra_keys: tuple[str, ...] = ()
    """More context keys: columns of the orders table (e.g. ``ord_type``)."""

    def __post_init__(self) -> None:
        for key, edges in (("adv_pct_edges", self.adv_pct_edges),
                           ("notional_edges", self.notional_edges)):
            if not edges or not all(b > a for a, b in itertools.pairwise(edges)) or not all(
                    e > 0 for e in edges):
                raise ConfigError(f"context.{key} = {list(edges)}: give one or more positive, "
                                  "strictly increasing edges")
        bad_adv = sorted(s for s, v in self.adv.items() if not v > 0)
        if bad_adv:
            raise ConfigError(f"context.adv: ADV of {', '.join(bad_adv)} must be > 0")
        if not (self.vol_window_s > 0 and self.vol_sample_s > 0):
            raise ConfigError("context.vol_window_s and context.vol_sample_s must be > 0 seconds")
        taken = sorted({k for k in self.extra_keys
                        if k in ("lp", *CONTEXT_KEYS) or self.extra_keys.count(k) > 1})
        if taken:
            raise ConfigError(f"context.extra_keys = {list(self.extra_keys)}: "
                              f"{', '.join(taken)} is a key already (lp, "
                              f"{', '.join(CONTEXT_KEYS)}) or listed twice; list only other "
                              "columns of the orders table, each once")
        if self.tod_minutes <= 0 or 1440 % self.tod_minutes:
            raise ConfigError(f"context.tod_minutes = {self.tod_minutes}: use a divisor of "
                              "1440 such as 15, 30 or 60")
        _check_tz("context.tz", self.tz)


@dataclass(frozen=True, slots=True, kw_only=True)
class LpRule:
    """What one LP may be sent (``[routing.lps.NAME]``)."""

    symbols: tuple[str, ...] = ()
    """Symbols the LP may be routed; empty: every symbol."""
    max_notional: float | None = None
    """Largest child order notional (quantity x price); a larger child is cut to it."""
    min_qty: float = 0.0
    """Smallest child order worth sending to the LP (spray drops smaller slices)."""
    max_qty: float | None = None
    """Largest child order quantity."""
    target_comp_id: str | None = None
    """TargetCompID of the LP's FIX session (default: the LP name)."""

    def __post_init__(self) -> None:
        if self.max_notional is not None and not self.max_notional > 0:
            raise ConfigError(f"routing.lps: max_notional = {self.max_notional} must be > 0 "
                              "(leave it out for no limit)")
        if not self.min_qty >= 0 or (self.max_qty is not None and not self.max_qty >= max(
                self.min_qty, 1e-12)):
            raise ConfigError(f"routing.lps: min_qty = {self.min_qty}, max_qty = "
                              f"{self.max_qty}: need 0 <= min_qty <= max_qty, max_qty > 0")


@dataclass(frozen=True, slots=True, kw_only=True)
class RoutingConfig:
    """How the smart order router chooses LPs (docs/routing.md)."""

    static_ranking: tuple[str, ...] = ()
    """LPs best first, used when no snapshot is published for the context or any coarser."""
    killed: tuple[str, ...] = ()
    """Kill switch: LPs that are never routed to."""
    exclude_provisional: bool = False
    """Skip LPs whose score is provisional (too little evidence) in the context."""
    reject_cooldown_s: float = 30.0
    """After an LP rejects an order in a symbol, skip it for that symbol this long."""
    spray_top_k: int = 3
    """How many LPs a spray splits an order across at most."""
    lot_size: float = 1.0
    """Child quantities are whole multiples of this."""
    stale_after_s: float = 5.0
    """Decisions are ``stale`` when the score store has not been reached for this long."""
    max_publish_age_s: float | None = None
    """Also ``stale`` when the profile's newest publish is older than this (off by default)."""
    poll_interval_s: float = 0.5
    """How often the cache polls the store for versions missed by notifications."""
    sender_comp_id: str = "LPSCORE"
    """SenderCompID of the child orders the router emits."""
    lps: dict[str, LpRule] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for key in ("reject_cooldown_s", "stale_after_s", "poll_interval_s"):
            value = getattr(self, key)
            if not value > 0 and not (key == "reject_cooldown_s" and value == 0):
                raise ConfigError(f"routing.{key} = {value}: use a positive number of seconds")
        if self.max_publish_age_s is not None and not self.max_publish_age_s > 0:
            raise ConfigError(f"routing.max_publish_age_s = {self.max_publish_age_s}: use a "
                              "positive number of seconds, or leave it out")
        if self.spray_top_k < 1:
            raise ConfigError(f"routing.spray_top_k = {self.spray_top_k}: use 1 or more")
        if not self.lot_size > 0:
            raise ConfigError(f"routing.lot_size = {self.lot_size}: use a positive quantity")
        twice = sorted({lp for lp in self.static_ranking if self.static_ranking.count(lp) > 1})
        if twice:
            raise ConfigError(f"routing.static_ranking lists {', '.join(twice)} more than "
                              "once; list each LP once, best first")

    def rule(self, lp: str) -> LpRule:
        """The LP's rule (the defaults when it has none)."""
        return self.lps.get(lp, _NO_RULE)


_NO_RULE = LpRule()


@dataclass(frozen=True, slots=True, kw_only=True)
class Config:
    """Root of lpscore.toml."""

    ingest: IngestConfig = field(default_factory=IngestConfig)
    marketdata: MarketDataConfig = field(default_factory=MarketDataConfig)
    kpi: KpiConfig = field(default_factory=KpiConfig)
    context: ContextConfig = field(default_factory=ContextConfig)
    routing: RoutingConfig = field(default_factory=RoutingConfig)


def _check_tz(key: str, name: str) -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(f"{key} = {name!r} is not a time zone: use an IANA name such as "
                          "'UTC' or 'Europe/London'") from exc


def load_config(path: Path | None) -> Config:
    """Read lpscore.toml; ``None`` gives the defaults."""
    if path is None:
        return Config()
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"config file {path} does not exist: pass an existing lpscore.toml "
                          "or leave --config out to use the defaults") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc}); fix the syntax at that line") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start}); save "
                          "it as UTF-8") from exc
    except OSError as exc:      # a folder, no permission
        raise ConfigError(f"config file {path} cannot be read ({exc.strerror}): pass an "
                          "lpscore.toml file") from exc
    return parse_section(Config, raw, str(path))


def parse_section(cls: type[T], raw: dict[str, Any], where: str) -> T:
    """Build the frozen dataclass ``cls`` from a TOML table, refusing unknown keys."""
    assert is_dataclass(cls)
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(raw) - set(known))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}; "
                          f"valid keys are {', '.join(sorted(known))}")
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for name, value in raw.items():
        values[name] = _coerce(hints[name], value, f"{where}: {name}")
    try:
        return cls(**values)
    except TypeError as exc:
        missing = [f.name for f in known.values()
                   if f.default is MISSING and f.default_factory is MISSING and f.name not in raw]
        raise ConfigError(f"{where}: missing key(s) {', '.join(missing)}") from exc


def _coerce(hint: object, value: object, where: str) -> object:
    if isinstance(value, float) and not math.isfinite(value):
        # TOML has ``nan``, and every comparison with it is false: no range check would stop
        # it; and ``inf``, which no setting means (leave a limit out for none)
        raise ConfigError(f"{where} = {value}: give a finite number")
    origin = typing.get_origin(hint)
    if is_dataclass(hint) and isinstance(hint, type):
        if not isinstance(value, dict):
            raise ConfigError(f"{where} must be a table ([{where.rsplit(': ', maxsplit=1)[-1]}])")
        return parse_section(hint, value, where)
    if origin is tuple:
        if not isinstance(value, list):
            raise ConfigError(f"{where} must be a list, got {value!r}")
        (item,) = [a for a in typing.get_args(hint) if a is not Ellipsis]
        return tuple(_coerce(item, v, where) for v in value)
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where} must be a table of key = value, got {value!r}")
        _, item = typing.get_args(hint)
        return {str(k): _coerce(item, v, where) for k, v in value.items()}
    if origin in (types.UnionType, typing.Union):
        for option in typing.get_args(hint):
            if option is type(None) and value is None:
                return None
            try:
                return _coerce(option, value, where)
            except ConfigError:
                continue
        raise ConfigError(f"{where}: {value!r} is not a valid {hint}")
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint in (bool, int, float, str) and not (
        isinstance(value, hint) and not (hint is int and isinstance(value, bool))
    ):
        raise ConfigError(f"{where} must be {hint.__name__}, got {value!r}")
    return value
