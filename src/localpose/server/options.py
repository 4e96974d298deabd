"""Typed settings of the web service (filled in by `localpose serve`, or by tests)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from localpose.errors import InvalidOptionError
from localpose.options import ImageLimits, ModelOptions, RuntimeChoice, check_runtime

__all__ = ["ServerOptions"]


@dataclass(frozen=True)
class ServerOptions:
    """Where the service listens, how much work it accepts, and who may use it."""

    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 1
    """Estimator processes, one pose engine each (one core each)."""
    queue_size: int = 8
    """Requests that may wait for a free worker; beyond this the service answers 503."""
    request_timeout_s: float = 30.0
    limits: ImageLimits = field(default_factory=ImageLimits)
    model: ModelOptions = field(default_factory=ModelOptions)
    api_key: str | None = None
    """When set, every /api/ route needs it (header X-API-Key or Authorization: Bearer)."""
    cors_origins: tuple[str, ...] = ()
    certfile: Path | None = None
    keyfile: Path | None = None
    jobs_dir: Path | None = None
    """Where video jobs are kept (a fresh temporary folder when None)."""
    job_ttl_s: float = 3600.0
    jobs_max_bytes: int = 2 * 1024**3
    """Total size of all stored video jobs (uploads and results)."""
    video_max_bytes: int = 500 * 1024**2
    live_sessions: int = 4
    """WebSocket live sessions served at once."""
    live_idle_s: float = 60.0
    """A live session that sends no frame for this long is closed (with a JSON reason)."""
    runtime: RuntimeChoice = "auto"
    """What runs the networks for every request (see `localpose.engine`)."""
    allowed_hosts: tuple[str, ...] = ()
    """Host header names accepted ("*": any); empty: the bind address (loopback names for a
    loopback bind, any name for 0.0.0.0)."""
    header_timeout_s: float = 10.0
    """A connection whose request headers have not all arrived by then is dropped (408)."""
    body_timeout_s: float = 30.0
    """A request body that sends nothing for this long is dropped (408)."""

    def __post_init__(self) -> None:
        if self.workers < 1 or self.queue_size < 0 or self.live_sessions < 1:
            raise InvalidOptionError("workers and live_sessions must be >= 1 and queue_size >= 0")
        if not 0 < self.port < 65536:
            raise InvalidOptionError(f"port must be 1-65535, got {self.port}")
        if (self.certfile is None) != (self.keyfile is None):
            raise InvalidOptionError("TLS needs both a certificate file and a key file")
        timeouts = (self.request_timeout_s, self.job_ttl_s, self.live_idle_s, self.header_timeout_s)
        if min(*timeouts, self.body_timeout_s) <= 0:
            raise InvalidOptionError("timeouts must be positive")
        check_runtime(self.runtime)

    @property
    def default_model_name(self) -> str | None:
        """The registry name of the model the server loads at start (None when it is a file)."""
        return None if self.model.model_path is not None else str(self.model.model)
