"""urllib3, the cluster's HTTP library, in one module: the connection pool for a set of credentials, the
timeouts, and which of its failures mean what (``failure``: matched by exception type, not by name).

urllib3 is imported on first use: commands that never talk to a cluster do not pay for it.
"""

from __future__ import annotations

import socket
import ssl
import warnings
from typing import Any

from gitops_check.cluster.apierrors import ApiError
from gitops_check.cluster.credentials import Credentials


def pool(credentials: Credentials, size: int) -> Any:
    """A urllib3 pool for the credentials' server; urllib3 retries nothing (retries are ours, with backoff)."""
    import urllib3

    if credentials.insecure:  # the kubeconfig asks for it; urllib3 would warn on every request
        warnings.filterwarnings("ignore", category=urllib3.exceptions.InsecureRequestWarning)
    kwargs: dict[str, Any] = {"maxsize": size, "retries": False, "block": False}
    if credentials.server.startswith("https"):
        kwargs["ssl_context"] = credentials.ssl_context()
        if credentials.tls_server_name:
            kwargs["server_hostname"] = credentials.tls_server_name
            kwargs["assert_hostname"] = credentials.tls_server_name
    proxy = credentials.proxy_url()
    if proxy:
        return urllib3.ProxyManager(proxy, **kwargs)
    return urllib3.PoolManager(**kwargs)


def timeout(read: float) -> Any:
    import urllib3

    return urllib3.Timeout(connect=min(10.0, read), read=read)


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
        todo.extend(a for a in cur.args if isinstance(a, BaseException))  # urllib3's SSLError(ssl_error)
    return seen


def translate(exc: BaseException, what: str, server: str) -> ApiError:
    """Any failure of a request as an ApiError (one already is one)."""
    return exc if isinstance(exc, ApiError) else failure(exc, what, server)


def failure(exc: BaseException, what: str, server: str) -> ApiError:
    """A request that got no HTTP answer (urllib3, socket and ssl errors) as a one-line ApiError."""
    from urllib3 import exceptions as u3

    chain = _causes(exc)

    def any_of(*types: type[BaseException]) -> bool:
        return any(isinstance(c, types) for c in chain)

    if any_of(ssl.SSLCertVerificationError):
        return ApiError(
            f"cluster {server}: TLS certificate verify failed (check certificate-authority in the kubeconfig)",
            reason="TLS",
        )
    if any_of(ssl.SSLError, u3.SSLError):
        # The connection ended mid-handshake (a loaded server or a proxy closing it): nothing about certificates
        # was decided, so a later attempt may pass. An alert from the server (wrong version, no shared cipher) is final.
        ended = any_of(
            ssl.SSLEOFError, ssl.SSLZeroReturnError, ssl.SSLSyscallError, ConnectionResetError
        ) or any(isinstance(c, (ssl.SSLError, u3.SSLError)) and "EOF" in str(c) for c in chain)
        if ended:
            return ApiError(
                f"cluster {server} dropped the connection during the TLS handshake ({what})",
                reason="Dropped",
                transient=True,
            )
        return ApiError(
            f"cluster {server}: TLS handshake failed (check certificate-authority in the kubeconfig)",
            reason="TLS",
        )
    if any_of(ConnectionRefusedError):
        return ApiError(
            f"cluster {server} unreachable: connection refused", reason="Unreachable", transient=True
        )
    if any_of(socket.gaierror, u3.NameResolutionError):
        return ApiError(f"cluster {server} unreachable: host name not found", reason="Unreachable")
    if any_of(u3.ProtocolError, ConnectionResetError, BrokenPipeError):
        return ApiError(f"cluster {server} dropped the connection ({what})", reason="Dropped", transient=True)
    if any_of(u3.ReadTimeoutError):
        return ApiError(f"cluster {server} did not answer in time ({what})", reason="Timeout", transient=True)
    # urllib3's NewConnectionError is a ConnectTimeoutError too: only the real timeout is a timeout.
    if any(isinstance(c, u3.ConnectTimeoutError) and not isinstance(c, u3.NewConnectionError) for c in chain):
        return ApiError(f"cluster {server} unreachable: connect timed out", reason="Timeout", transient=True)
    if any_of(u3.NewConnectionError, OSError):
        err = next((c for c in chain if isinstance(c, OSError) and c.strerror), None)
        why = err.strerror.lower() if err is not None and err.strerror else "cannot connect"
        return ApiError(f"cluster {server} unreachable: {why}", reason="Unreachable", transient=True)
    if any_of(TimeoutError):
        return ApiError(f"cluster {server} did not answer in time ({what})", reason="Timeout", transient=True)
    return ApiError(f"cannot {what}: {type(exc).__name__}", reason="Error")
