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

import json
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlencode

from gitops_check import __version__
from gitops_check.cluster.apierrors import TRANSIENT_STATUSES, ApiError, describe, http_error, translate
from gitops_check.cluster.credentials import SERVICE_ACCOUNT_DIR, load
from gitops_check.cluster.retry import DEFAULT_RETRY, RetryPolicy, with_retries

__all__ = [
    "DEFAULT_RETRY", "SERVICE_ACCOUNT_DIR", "TRANSIENT_STATUSES", "ApiError", "Cluster", "RetryPolicy",
    "connect", "describe", "http_error", "translate", "with_retries",
]  # fmt: skip

T = TypeVar("T")
USER_AGENT = f"gitops-check/{__version__}"
AUTH_REFRESH_SECONDS = 10.0


def _timeout(read: float) -> Any:
    import urllib3

    return urllib3.Timeout(connect=min(10.0, read), read=read)


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
    _auth_header: dict[str, str] | None = field(default=None, repr=False)
    _auth_at: float = field(default=0.0, repr=False)
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
        headers = {"Accept": accept, "User-Agent": USER_AGENT, **self._auth()}
        data: bytes | None = None
        if body is not None:
            headers["Content-Type"] = content_type
            data = body if isinstance(body, bytes) else json.dumps(body, separators=(",", ":")).encode()
        url = self.server + path + (f"?{urlencode(params)}" if params else "")
        read_timeout = timeout or self.timeout
        self._sent()
        response = self._pool().request(
            method, url, body=data, headers=headers, timeout=_timeout(read_timeout), retries=False
        )
        raw: bytes = response.data
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

    def _pool(self) -> Any:
        """The ApiClient's urllib3 pool (TLS, client certificates and proxy as the kubeconfig says). Requests go
        to it directly: the client's serialization layer would encode bodies twice and costs time per call."""
        return self.api_client.rest_client.pool_manager

    def _auth(self) -> dict[str, str]:
        """The Authorization header, asked from the configuration at most every few seconds: its hook re-runs
        an exec plugin or re-reads a service-account token when they expire."""
        now = time.monotonic()
        with self._lock:
            if self._auth_header is None or now - self._auth_at > AUTH_REFRESH_SECONDS:
                token = self.api_client.configuration.get_api_key_with_prefix(
                    "BearerToken", alias="authorization"
                )
                self._auth_header = {"Authorization": str(token)} if token else {}
                self._auth_at = now
            return self._auth_header

    def close(self) -> None:
        self.api_client.close()


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
    config, name = load(
        kubeconfig, context, pool_size=pool_size, environ=env, service_account_dir=service_account_dir
    )
    client = ApiClient(configuration=config)
    client.user_agent = USER_AGENT
    server = str(config.host).rstrip("/")
    return Cluster(client, server, name, retry or DEFAULT_RETRY, timeout, read_only)
