"""Connect to a Kubernetes API server the way kubectl does, and send requests that survive a flaky network.

Everything in gitops-check that talks to a cluster goes through one :class:`Cluster`: the live reader, the
server-side dry-run, snapshot capture and sync. It owns

* **credentials** as users have them: a kubeconfig (``--kubeconfig``, else ``$KUBECONFIG`` — a ``:``-separated
  list is merged — else ``~/.kube/config``) with contexts, tokens, client certificates and exec plugins
  (EKS/GKE/AKS style, refreshed when they expire), or, when there is no kubeconfig, the in-cluster service
  account (``KUBERNETES_SERVICE_HOST`` + the mounted token);
* **one** ``kubernetes.client.ApiClient``: one urllib3 pool, so parallel requests reuse TLS connections;
* **retries**: 429, 500/502/503/504, timeouts, refused and dropped connections are retried with exponential
  backoff that honours ``Retry-After``, a bounded number of times (:class:`RetryPolicy`);
* **errors**: every failure becomes an :class:`ApiError` (a ClusterError) with a one-line message that says
  what was attempted and what to do — ``cannot list secrets in namespace payments: forbidden``,
  ``cluster https://127.0.0.1:6443 unreachable: connection refused``. Response bodies are never quoted whole
  (they can hold object data), tokens never.

Usage::

    cluster = connect(kubeconfig=None, context="prod")
    pods = cluster.request("GET", "/api/v1/namespaces/shop/pods", what=describe("list", "pods", "shop"))
    app = cluster.with_retries(lambda: cluster.dynamic.resources.get(...).get(...), "get application shop")

``kubernetes`` is imported lazily (it costs ~0.25 s), so importing this module is cheap.
"""

from __future__ import annotations

import email.utils
import json
import logging
import os
import random
import socket
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from gitops_check import __version__
from gitops_check.errors import ClusterError

T = TypeVar("T")

SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
USER_AGENT = f"gitops-check/{__version__}"
TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})
_MAX_SERVER_MESSAGE = 240


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a failed request is sent again.

    ``attempts`` counts every try (4 = the first plus three retries). The n-th retry waits
    ``base_delay * factor**(n-1)`` seconds (with ±20% jitter, at most ``max_delay``), or what the server's
    ``Retry-After`` asks for, capped at ``max_retry_after``.
    """

    attempts: int = 4
    base_delay: float = 0.5
    factor: float = 2.0
    max_delay: float = 8.0
    max_retry_after: float = 30.0

    def delay(self, retry: int, retry_after: float | None = None) -> float:
        if retry_after is not None:
            return max(0.0, min(retry_after, self.max_retry_after))
        wait = min(self.base_delay * self.factor ** (retry - 1), self.max_delay)
        return wait * random.uniform(0.8, 1.2)


DEFAULT_RETRY = RetryPolicy()


class ApiError(ClusterError):
    """One request failed. ``status`` is the HTTP status (0 when no answer came); ``reason`` a short word:
    the Kubernetes Status reason (``Forbidden``, ``NotFound``, ``Invalid``...) or ``Unreachable``,
    ``Timeout``, ``TLS``, ``Dropped``. ``transient`` is True for failures a later attempt may not see."""

    def __init__(self, message: str, *, status: int = 0, reason: str = "", transient: bool = False):
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.transient = transient
        self.retry_after: float | None = None

    @property
    def forbidden(self) -> bool:
        return self.status in (401, 403)

    @property
    def not_found(self) -> bool:
        return self.status == 404

    @property
    def unanswered(self) -> bool:
        """No HTTP answer at all: the server is down, unreachable or hung up."""
        return self.status == 0


def describe(verb: str, resource: str, namespace: str | None = None, name: str | None = None) -> str:
    """``list secrets in namespace payments``, ``get clusterroles admin``: the ``what`` of error messages."""
    text = f"{verb} {resource}"
    if name:
        text += f" {name}"
    if namespace:
        text += f" in namespace {namespace}"
    return text


# ---------------------------------------------------------------------------------------------------------------
# Turning library exceptions into one-line ApiErrors


def _server_message(body: Any) -> str:
    try:
        data = json.loads(body) if isinstance(body, (bytes, str)) and body else None
    except ValueError:
        data = None
    message = str(data.get("message", "")) if isinstance(data, dict) else ""
    message = " ".join(message.split())
    if len(message) > _MAX_SERVER_MESSAGE:
        message = message[: _MAX_SERVER_MESSAGE - 3] + "..."
    return message


def _retry_after(headers: Any) -> float | None:
    value = None
    try:
        value = headers.get("Retry-After") if headers is not None else None
    except AttributeError:
        value = None
    if not value:
        return None
    text = str(value).strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def http_error(
    status: int, body: Any, headers: Any, what: str, server: str, *, sensitive: bool = False
) -> ApiError:
    """The ApiError for an HTTP answer outside 2xx. ``sensitive``: never quote the server's message (it may
    repeat data of the object sent, e.g. a Secret)."""
    message = "" if sensitive else _server_message(body)
    if status == 401:
        error = ApiError(
            f"cannot {what}: unauthorized — cluster {server} rejected the credentials "
            "(expired token or wrong kubeconfig user; log in again)",
            status=401,
            reason="Unauthorized",
        )
    elif status == 403:
        error = ApiError(f"cannot {what}: forbidden", status=403, reason="Forbidden")
    elif status == 404:
        error = ApiError(f"cannot {what}: not found", status=404, reason="NotFound")
    elif status in TRANSIENT_STATUSES:
        phrase = {429: "too many requests", 500: "internal server error", 502: "bad gateway",
                  503: "service unavailable", 504: "gateway timeout"}[status]  # fmt: skip
        error = ApiError(
            f"cannot {what}: HTTP {status} {phrase} from {server}",
            status=status,
            reason="TooManyRequests" if status == 429 else "ServerError",
            transient=True,
        )
    else:
        reason = {409: "Conflict", 410: "Expired", 422: "Invalid", 400: "BadRequest", 415: "Unsupported"}
        error = ApiError(
            f"cannot {what}: HTTP {status}" + (f": {message}" if message else ""),
            status=status,
            reason=reason.get(status, "Error"),
        )
    error.retry_after = _retry_after(headers)
    return error


def _causes(exc: BaseException) -> list[BaseException]:
    """The exception, what it wraps (urllib3's ``reason``) and its context chain."""
    seen: list[BaseException] = []
    todo: list[BaseException | None] = [exc]
    while todo:
        cur = todo.pop(0)
        if cur is None or any(cur is s for s in seen):
            continue
        seen.append(cur)
        reason = getattr(cur, "reason", None)
        todo.extend([reason if isinstance(reason, BaseException) else None, cur.__cause__, cur.__context__])
    return seen


def translate(exc: BaseException, what: str, server: str, *, sensitive: bool = False) -> ApiError:
    """Any failure of a request (ApiException, DynamicApiError, urllib3/socket/ssl errors) as an ApiError."""
    if isinstance(exc, ApiError):
        return exc
    status = getattr(exc, "status", None)
    if isinstance(status, int) and status > 0:
        return http_error(status, getattr(exc, "body", None), getattr(exc, "headers", None), what, server,
                          sensitive=sensitive)  # fmt: skip
    chain = _causes(exc)
    names = {type(c).__name__ for c in chain}
    text = " ".join(str(getattr(c, "reason", "") or "") for c in chain)
    if any(isinstance(c, ssl.SSLError) for c in chain) or "SSLError" in names or "SSLError" in text:
        detail = " ".join([text, *(str(c) for c in chain if isinstance(c, ssl.SSLError))])
        why = "certificate verify failed" if "CERTIFICATE_VERIFY_FAILED" in detail else "handshake failed"
        return ApiError(
            f"cluster {server}: TLS {why} (check certificate-authority in the kubeconfig)", reason="TLS"
        )
    if any(isinstance(c, ConnectionRefusedError) for c in chain):
        return ApiError(
            f"cluster {server} unreachable: connection refused", reason="Unreachable", transient=True
        )
    if any(isinstance(c, socket.gaierror) for c in chain) or "NameResolutionError" in names:
        return ApiError(f"cluster {server} unreachable: host name not found", reason="Unreachable")
    if "ProtocolError" in names or any(isinstance(c, (ConnectionResetError, BrokenPipeError)) for c in chain):
        return ApiError(f"cluster {server} dropped the connection ({what})", reason="Dropped", transient=True)
    if "ReadTimeoutError" in names:
        return ApiError(f"cluster {server} did not answer in time ({what})", reason="Timeout", transient=True)
    if "ConnectTimeoutError" in names:
        return ApiError(f"cluster {server} unreachable: connect timed out", reason="Timeout", transient=True)
    if "NewConnectionError" in names or any(isinstance(c, OSError) for c in chain):
        err = next((c for c in chain if isinstance(c, OSError) and c.strerror), None)
        why = err.strerror.lower() if err is not None and err.strerror else "cannot connect"
        return ApiError(f"cluster {server} unreachable: {why}", reason="Unreachable", transient=True)
    if any(isinstance(c, TimeoutError) for c in chain):
        return ApiError(f"cluster {server} did not answer in time ({what})", reason="Timeout", transient=True)
    return ApiError(f"cannot {what}: {type(exc).__name__}", reason="Error")


def with_retries(
    fn: Callable[[], T],
    what: str,
    *,
    server: str,
    policy: RetryPolicy = DEFAULT_RETRY,
    sensitive: bool = False,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Call ``fn`` until it succeeds, retrying transient failures per ``policy``; raise an ApiError otherwise.

    ``fn`` may raise ApiError itself, a kubernetes ApiException / DynamicApiError, or urllib3 errors. Only call
    this for idempotent work (reads, dry-runs, applies that may be repeated).
    """
    attempt = 0
    while True:
        attempt += 1
        try:
            return fn()
        except Exception as exc:
            error = translate(exc, what, server, sensitive=sensitive)
            if not error.transient or attempt >= policy.attempts:
                if error.transient and attempt > 1:
                    error.message = f"{error.message} (gave up after {attempt} attempts)"
                    error.args = (error.message,)
                raise error from None
            sleep(policy.delay(attempt, error.retry_after))


# ---------------------------------------------------------------------------------------------------------------
# Credentials


@dataclass
class Cluster:
    """A connection to one API server: the shared ApiClient plus retrying, counted, translated requests."""

    api_client: Any  # kubernetes.client.ApiClient
    server: str
    context: str | None = None  # kubeconfig context, or "in-cluster"
    retry: RetryPolicy = DEFAULT_RETRY
    timeout: float = 60.0
    # Refuse (in request()) anything but GET and dry-run requests: checks and captures never write.
    read_only: bool = False
    _dynamic: Any = field(default=None, repr=False)
    _count: int = field(default=0, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def requests(self) -> int:
        """HTTP requests sent through :meth:`request` so far, retries included."""
        return self._count

    def _sent(self) -> None:
        with self._lock:
            self._count += 1

    @property
    def dynamic(self) -> Any:
        """A ``kubernetes.dynamic.DynamicClient`` on the shared ApiClient (created on first use; it runs
        discovery). Wrap calls in :meth:`with_retries` to get retries and one-line errors."""
        if self._dynamic is None:
            from kubernetes.dynamic import DynamicClient

            def make() -> Any:
                return DynamicClient(self.api_client)  # type: ignore[no-untyped-call]

            self._dynamic = self.with_retries(make, "discover the API")
        return self._dynamic

    def with_retries(self, fn: Callable[[], T], what: str, *, sensitive: bool = False) -> T:
        return with_retries(fn, what, server=self.server, policy=self.retry, sensitive=sensitive)

    def request(
        self,
        method: str,
        path: str,
        *,
        what: str,
        query: Mapping[str, str | int | bool] | None = None,
        body: Any = None,
        content_type: str = "application/json",
        accept: str = "application/json",
        timeout: float | None = None,
        retry: bool = True,
        sensitive: bool = False,
    ) -> Any:
        """Send one request (``path`` like ``/apis/apps/v1/namespaces/x/deployments``) and return its JSON.

        Transient failures are retried (``retry=False`` sends once); any failure raises ApiError whose
        message starts from ``what``. ``sensitive``: the body carries data that must not appear in errors.
        """

        if self.read_only and method not in ("GET", "HEAD") and str((query or {}).get("dryRun")) != "All":
            raise ApiError(f"refusing to {what}: this connection is read-only (only reads and dry-runs)")

        def once() -> Any:
            return self._send(method, path, what, query, body, content_type, accept, timeout, sensitive)

        if not retry:
            try:
                return once()
            except Exception as exc:
                raise translate(exc, what, self.server, sensitive=sensitive) from None
        return self.with_retries(once, what, sensitive=sensitive)

    def _send(
        self,
        method: str,
        path: str,
        what: str,
        query: Mapping[str, str | int | bool] | None,
        body: Any,
        content_type: str,
        accept: str,
        timeout: float | None,
        sensitive: bool,
    ) -> Any:
        params = [(k, str(v).lower() if isinstance(v, bool) else str(v)) for k, v in (query or {}).items()]
        headers = {"Accept": accept}
        data: bytes | None = None
        if body is not None:
            headers["Content-Type"] = content_type
            data = body if isinstance(body, bytes) else json.dumps(body, separators=(",", ":")).encode()
        _, url, headers, _, _ = self.api_client.param_serialize(
            method, path, query_params=params, header_params=headers, auth_settings=["BearerToken"]
        )
        read_timeout = timeout or self.timeout
        self._sent()
        response = self.api_client.call_api(
            method,
            url,
            header_params=headers,
            body=data,
            _request_timeout=(min(10.0, read_timeout), read_timeout),
        )
        raw = response.read()
        if not 200 <= response.status <= 299:
            raise http_error(response.status, raw, response.headers, what, self.server, sensitive=sensitive)
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            raise ApiError(
                f"cannot {what}: the answer from {self.server} is not JSON", reason="Error"
            ) from None

    def close(self) -> None:
        self.api_client.close()


def _configuration(pool_size: int) -> Any:
    from kubernetes.client import Configuration

    config = Configuration()
    config.connection_pool_maxsize = pool_size
    # Retries are ours (with backoff and Retry-After); urllib3 must raise the first failure.
    config.retries = False
    return config


class _CaptureErrors(logging.Handler):
    """The kubernetes client logs (rather than raises) exec-plugin failures; keep them for our message."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


_load_lock = threading.Lock()


def _kubeconfig_paths(kubeconfig: str | None, environ: Mapping[str, str]) -> str | None:
    """What kubectl would read: the flag, else $KUBECONFIG (a list), else ~/.kube/config; None when absent."""
    if kubeconfig:
        if not Path(kubeconfig).expanduser().is_file():
            raise ClusterError(f"kubeconfig {kubeconfig} does not exist")
        return str(Path(kubeconfig).expanduser())
    listed = [p for p in environ.get("KUBECONFIG", "").split(os.pathsep) if p]
    existing = [str(Path(p).expanduser()) for p in listed if Path(p).expanduser().is_file()]
    if listed:
        if not existing:
            raise ClusterError(f"none of the files in KUBECONFIG exist ({environ['KUBECONFIG']})")
        return os.pathsep.join(existing)
    home = Path(environ.get("HOME", str(Path.home()))) / ".kube" / "config"
    return str(home) if home.is_file() else None


def _from_kubeconfig(paths: str, context: str | None, config: Any) -> str:
    from kubernetes.config.config_exception import ConfigException
    from kubernetes.config.kube_config import _get_kube_config_loader

    capture = _CaptureErrors()
    root = logging.getLogger()
    with _load_lock:
        root.addHandler(capture)
        try:
            loader = _get_kube_config_loader(filename=paths, persist_config=False)  # type: ignore[no-untyped-call]
            contexts = [str(c.get("name")) for c in loader.list_contexts()]
            if context is not None and context not in contexts:
                raise ClusterError(
                    f"context {context!r} is not in the kubeconfig ({paths}); contexts: {', '.join(contexts) or 'none'}"
                )
            if context is None:
                context = _first_current_context(paths)
                if not context:
                    raise ClusterError(f"the kubeconfig ({paths}) has no current-context: pass --context")
            loader.set_active_context(context)
            loader.load_and_set(config)
        except ConfigException as e:
            raise ClusterError(f"cannot use the kubeconfig ({paths}): {_one_line(str(e))}") from None
        except (KeyError, ValueError, TypeError, OSError) as e:
            raise ClusterError(f"cannot use the kubeconfig ({paths}): {type(e).__name__}: {e}") from None
        finally:
            root.removeHandler(capture)
    name = str(loader.current_context.get("name"))
    user = loader._user
    has_exec = user is not None and "exec" in user
    if has_exec and not config.api_key.get("BearerToken") and not config.cert_file:
        why = _one_line(" ".join(capture.messages)) or "no token or client certificate returned"
        raise ClusterError(f"context {name}: the credential plugin (exec) failed: {why}")
    return name


def _first_current_context(paths: str) -> str | None:
    """kubectl's rule for a list of kubeconfig files: the first file that sets current-context wins (the
    kubernetes client would take the last)."""
    import yaml

    for path in paths.split(os.pathsep):
        try:
            data = yaml.safe_load(Path(path).read_text())
        except (OSError, yaml.YAMLError):
            continue
        if isinstance(data, dict) and data.get("current-context"):
            return str(data["current-context"])
    return None


def _one_line(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= 300 else text[:297] + "..."


def _in_cluster(config: Any, environ: Mapping[str, str], sa_dir: str) -> None:
    from kubernetes.config.config_exception import ConfigException
    from kubernetes.config.incluster_config import InClusterConfigLoader

    loader = InClusterConfigLoader(  # type: ignore[no-untyped-call]
        token_filename=os.path.join(sa_dir, "token"),
        cert_filename=os.path.join(sa_dir, "ca.crt"),
        environ=dict(environ),
    )
    try:
        loader.load_and_set(config)  # type: ignore[no-untyped-call]
    except ConfigException as e:
        raise ClusterError(f"cannot use the in-cluster service account: {e}") from None


def connect(
    kubeconfig: str | None = None,
    context: str | None = None,
    *,
    retry: RetryPolicy | None = None,
    timeout: float = 60.0,
    pool_size: int = 16,
    environ: Mapping[str, str] | None = None,
    service_account_dir: str = SERVICE_ACCOUNT_DIR,
    read_only: bool = False,
) -> Cluster:
    """A Cluster for the kubeconfig/context (kubectl's lookup rules), or the in-cluster service account.

    Nothing is sent yet: credentials are loaded (an exec plugin runs now) and the pool is set up. Raises
    ClusterError with a one-line message when no usable credentials are found.
    """
    from kubernetes.client import ApiClient

    env = os.environ if environ is None else environ
    config = _configuration(pool_size)
    paths = _kubeconfig_paths(kubeconfig, env)
    if paths is not None:
        name = _from_kubeconfig(paths, context, config)
    elif env.get("KUBERNETES_SERVICE_HOST"):
        if context:
            raise ClusterError(f"--context {context} given but there is no kubeconfig (running in a cluster)")
        _in_cluster(config, env, service_account_dir)
        name = "in-cluster"
    else:
        raise ClusterError(
            "no cluster credentials: pass --kubeconfig, set KUBECONFIG, create ~/.kube/config, "
            "or run inside a cluster"
        )
    client = ApiClient(configuration=config)
    client.user_agent = USER_AGENT
    server = str(config.host).rstrip("/")
    return Cluster(client, server, name, retry or DEFAULT_RETRY, timeout, read_only)
