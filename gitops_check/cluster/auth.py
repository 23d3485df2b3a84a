"""Where the Authorization header comes from: a fixed token, a token file, a credential (exec) plugin, or
kubectl's one remaining auth-provider (oidc, its id-token).

Token files (the in-cluster service account's, a kubeconfig ``tokenFile``) are re-read every minute, as
client-go does, because they are rotated. Exec plugins (``aws eks get-token``, ``gke-gcloud-auth-plugin``,
``kubelogin``) run when credentials are first needed and again when the ``expirationTimestamp`` they gave
has passed; a plugin may also answer with a client certificate instead of a token. A header value never
appears in an error message.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import subprocess
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from gitops_check.errors import ClusterError

TOKEN_FILE_REFRESH = 60.0
EXPIRY_MARGIN = dt.timedelta(seconds=10)


class HeaderSource(Protocol):
    def header(self) -> dict[str, str]:
        """The Authorization header to send now ({} when there is none)."""


class Fixed:
    def __init__(self, value: str | None):
        self._header = {"Authorization": value} if value else {}

    def header(self) -> dict[str, str]:
        return self._header


class TokenFile:
    def __init__(self, path: Path, *, what: str):
        self.path = path
        self.what = what
        self._lock = threading.Lock()
        self._value: dict[str, str] = {}
        self._read_at = -TOKEN_FILE_REFRESH
        self.header()  # fail now, with the reason, when the file is unreadable

    def header(self) -> dict[str, str]:
        with self._lock:
            if time.monotonic() - self._read_at >= TOKEN_FILE_REFRESH:
                try:
                    token = self.path.read_text().strip()
                except OSError as e:
                    raise ClusterError(
                        f"{self.what}: cannot read the token file {self.path}: {e.strerror}"
                    ) from None
                if not token:
                    raise ClusterError(f"{self.what}: the token file {self.path} is empty")
                self._value = {"Authorization": f"Bearer {token}"}
                self._read_at = time.monotonic()
            return self._value


class ExecPlugin:
    """A client.authentication.k8s.io credential plugin, run on demand and cached until its credential expires."""

    def __init__(
        self,
        spec: Mapping[str, Any],
        *,
        base: Path,
        context: str,
        cluster: Mapping[str, Any],
        environ: Mapping[str, str],
    ):
        if not spec.get("command") or not spec.get("apiVersion"):
            raise ClusterError(f"context {context}: the exec credential plugin needs command and apiVersion")
        command = str(spec["command"])
        if os.sep in command and not os.path.isabs(command):
            command = str(base / command)
        self.argv = [command, *(str(a) for a in spec.get("args") or ())]
        self.api_version = str(spec["apiVersion"])
        self.env = {
            **environ,
            **{str(e["name"]): str(e["value"]) for e in spec.get("env") or () if "name" in e},
        }
        self.cluster = dict(cluster) if spec.get("provideClusterInfo") else None
        self.hint = str(spec.get("installHint") or "")
        self.context = context
        self._lock = threading.Lock()
        self._header: dict[str, str] = {}
        self._expires: dt.datetime | None = None
        self.client_cert: tuple[bytes, bytes] | None = None
        self._run()

    def _failed(self, why: str) -> ClusterError:
        text = " ".join(why.split())
        text = text if len(text) <= 300 else text[:297] + "..."
        return ClusterError(f"context {self.context}: the credential plugin (exec) failed: {text}")

    def _run(self) -> None:
        spec: dict[str, Any] = {"interactive": False}
        if self.cluster is not None:
            spec["cluster"] = self.cluster
        env = {**self.env, "KUBERNETES_EXEC_INFO": json.dumps({"apiVersion": self.api_version,
                                                                "kind": "ExecCredential", "spec": spec})}  # fmt: skip
        try:
            proc = subprocess.run(self.argv, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                  timeout=120, check=False)  # fmt: skip
        except FileNotFoundError:
            raise self._failed(f"{self.argv[0]} not found. {self.hint}") from None
        except (OSError, subprocess.TimeoutExpired) as e:
            raise self._failed(f"{self.argv[0]}: {type(e).__name__}") from None
        if proc.returncode != 0:
            raise self._failed(f"exec: process returned {proc.returncode}. {proc.stderr.strip()}")
        try:
            data = json.loads(proc.stdout)
            status = data["status"]
        except (ValueError, KeyError, TypeError):
            raise self._failed("its output is not an ExecCredential") from None
        if data.get("apiVersion") != self.api_version:
            raise self._failed(f"it answered {data.get('apiVersion')}, not {self.api_version}")
        if status.get("token"):
            self._header = {"Authorization": f"Bearer {status['token']}"}
        elif status.get("clientCertificateData") and status.get("clientKeyData"):
            self.client_cert = (
                str(status["clientCertificateData"]).encode(),
                str(status["clientKeyData"]).encode(),
            )
        else:
            raise self._failed("it returned neither a token nor a client certificate")
        expiry = status.get("expirationTimestamp")
        try:
            self._expires = dt.datetime.fromisoformat(str(expiry)) if expiry else None
        except ValueError:
            self._expires = None

    def header(self) -> dict[str, str]:
        with self._lock:
            if self._expires is not None and dt.datetime.now(dt.UTC) + EXPIRY_MARGIN >= self._expires:
                self._run()
            return self._header


def oidc(provider: Mapping[str, Any], *, what: str) -> Fixed:
    """kubectl's ``auth-provider: oidc``: the ``id-token`` while its ``exp`` claim is ahead.

    kubectl refreshes an expired one with the ``refresh-token`` at the issuer and writes it back into the
    kubeconfig; a CI check does not write the user's files, so it asks for a fresh token instead.
    """
    config = provider.get("config") or {}
    for key in ("client-id", "idp-issuer-url"):
        if not config.get(key):
            raise ClusterError(f"{what}: auth-provider oidc without {key} (kubectl refuses it too)")
    token = str(config.get("id-token") or "")
    expiry = _jwt_expiry(token)
    if expiry is None:
        raise ClusterError(f"{what}: auth-provider oidc has no usable id-token: log in again (kubectl oidc-login, "
                           "or kubelogin's exec plugin)")  # fmt: skip
    if expiry <= time.time():
        raise ClusterError(f"{what}: the auth-provider oidc id-token has expired; gitops-check does not refresh "
                           "it into your kubeconfig: run any kubectl command first, or use kubelogin's exec plugin")  # fmt: skip
    return Fixed(f"Bearer {token}")


def _jwt_expiry(token: str) -> float | None:
    """The ``exp`` claim of a JWT (not verified: the API server does that), or None."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
        exp = claims.get("exp") if isinstance(claims, dict) else None
    except (ValueError, TypeError):
        return None
    return float(exp) if isinstance(exp, (int, float)) and not isinstance(exp, bool) else None
