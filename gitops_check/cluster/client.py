"""Connect to a Kubernetes API server the way kubectl does, and send requests that survive a flaky network.

Everything in gitops-check that talks to a cluster goes through one :class:`Cluster`: the live reader, the
server-side dry-run, snapshot capture and sync. It owns

* **credentials** as users have them: a kubeconfig (``--kubeconfig``, else ``$KUBECONFIG`` — a ``:``-separated
  list is merged — else ``~/.kube/config``) with contexts, tokens, client certificates and exec plugins
  (EKS/GKE/AKS style, refreshed when they expire), or, when there is no kubeconfig, the in-cluster service
  account (``KUBERNETES_SERVICE_HOST`` + the mounted token);
* **one** urllib3 pool (``transport.py``), so parallel requests reuse TLS connections;
* **retries**: 429, 500/502/503/504, timeouts, refused and dropped connections are retried with exponential
  backoff that honours ``Retry-After``, a bounded number of times (:class:`RetryPolicy`);
* **errors**: every failure becomes an :class:`ApiError` (a ClusterError) with a one-line message that says
  what was attempted and what to do — ``cannot list secrets in namespace payments: forbidden``,
  ``cluster https://127.0.0.1:6443 unreachable: connection refused``. Response bodies are never quoted whole
  (they can hold object data), tokens never.

Usage::

    cluster = connect(kubeconfig=None, context="prod")
    pods = cluster.request("GET", "/api/v1/namespaces/shop/pods", what=describe("list", "pods", "shop"))

The kubernetes client is not used (ARCHITECTURE.md, "Live clusters", says why).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlencode

from gitops_check import __version__
from gitops_check.cluster import transport
from gitops_check.cluster.apierrors import TRANSIENT_STATUSES, ApiError, describe, http_error
from gitops_check.cluster.credentials import SERVICE_ACCOUNT_DIR, Credentials, load
from gitops_check.cluster.retry import DEFAULT_RETRY, RetryPolicy, with_retries
from gitops_check.cluster.transport import translate

__all__ = [
    "DEFAULT_RETRY", "SERVICE_ACCOUNT_DIR", "TRANSIENT_STATUSES", "ApiError", "Cluster", "RetryPolicy",
    "connect", "describe", "http_error", "translate", "with_retries",
]  # fmt: skip

T = TypeVar("T")
USER_AGENT = f"gitops-check/{__version__}"


@dataclass
class Cluster:
    """A connection to one API server: one urllib3 pool, and retrying, counted, translated requests."""

    credentials: Credentials
    retry: RetryPolicy = DEFAULT_RETRY
    timeout: float = 60.0
    # Refuse (in request()) anything but GET and dry-run requests: checks and captures never write.
    read_only: bool = False
    pool_size: int = 16
    _pool_manager: Any = field(default=None, repr=False)
    _count: int = field(default=0, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def server(self) -> str:
        return self.credentials.server

    @property
    def context(self) -> str:
        """The kubeconfig context, or ``in-cluster``."""
        return self.credentials.context

    @property
    def requests(self) -> int:
        """HTTP requests sent through :meth:`request` so far, retries included."""
        return self._count

    def _sent(self) -> None:
        with self._lock:
            self._count += 1

    def with_retries(self, fn: Callable[[], T], what: str) -> T:
        return with_retries(fn, what, server=self.server, policy=self.retry)

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
                raise translate(exc, what, self.server) from None
        return self.with_retries(once, what)

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
            method, url, body=data, headers=headers, timeout=transport.timeout(read_timeout), retries=False
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
        with self._lock:
            if self._pool_manager is None:
                self._pool_manager = transport.pool(self.credentials, self.pool_size)
            return self._pool_manager

    def _auth(self) -> dict[str, str]:
        return self.credentials.auth.header()

    def close(self) -> None:
        if self._pool_manager is not None:
            self._pool_manager.clear()


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
    env = os.environ if environ is None else environ
    credentials = load(kubeconfig, context, environ=env, service_account_dir=service_account_dir)
    return Cluster(credentials, retry or DEFAULT_RETRY, timeout, read_only, pool_size)
