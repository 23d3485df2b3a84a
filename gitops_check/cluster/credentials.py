"""Credentials the way kubectl finds them: server, TLS material and an auth header (``transport.pool`` makes the
connection pool from them).

A kubeconfig when there is one (cluster/kubeconfig.py: files, merging, contexts), else the in-cluster service
account (``KUBERNETES_SERVICE_HOST``/``_PORT`` and the token and CA mounted at
``/var/run/secrets/kubernetes.io/serviceaccount``). The kubernetes client is not used: ARCHITECTURE.md ("Live
clusters") says why and how its loader differs from kubectl.
"""

from __future__ import annotations

import base64
import shutil
import ssl
import tempfile
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from gitops_check.cluster import auth, kubeconfig
from gitops_check.errors import ClusterError

SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


@dataclass
class Credentials:
    server: str
    context: str  # kubeconfig context name, or "in-cluster"
    auth: auth.HeaderSource
    ca_pem: bytes | None = None  # None: the system's CAs
    insecure: bool = False
    tls_server_name: str | None = None
    proxy: str | None = None
    client_cert: tuple[bytes, bytes] | None = None  # PEM certificate and key

    def ssl_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cadata=self.ca_pem.decode() if self.ca_pem else None)
        if self.insecure:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        if self.client_cert:
            folder = tempfile.mkdtemp(prefix="gitops-check-tls-")  # 0700; removed right after loading
            try:
                cert, key = Path(folder, "tls.crt"), Path(folder, "tls.key")
                cert.write_bytes(self.client_cert[0])
                key.write_bytes(self.client_cert[1])
                ctx.load_cert_chain(str(cert), str(key))
            except (ssl.SSLError, OSError) as e:
                raise ClusterError(
                    f"context {self.context}: unusable client certificate ({type(e).__name__})"
                ) from None
            finally:
                shutil.rmtree(folder, ignore_errors=True)
        return ctx

    def proxy_url(self) -> str | None:
        """The kubeconfig's ``proxy-url``, else the environment's proxy for the server (``NO_PROXY`` honoured)."""
        if self.proxy:
            return self.proxy
        host = urlsplit(self.server).hostname or ""
        if urllib.request.proxy_bypass_environment(host):  # type: ignore[attr-defined]
            return None
        return urllib.request.getproxies_environment().get(urlsplit(self.server).scheme)


def _from_kubeconfig(paths: list[str], context: str | None, environ: Mapping[str, str]) -> Credentials:
    config = kubeconfig.read(paths)
    ctx, cluster, user = kubeconfig.select(config, context)
    what = f"context {ctx.name}"
    c = cluster.body
    creds = Credentials(
        server=str(c["server"]).rstrip("/"),
        context=ctx.name,
        auth=auth.Fixed(None),
        ca_pem=kubeconfig.material(cluster, "certificate-authority", what=what),
        insecure=bool(c.get("insecure-skip-tls-verify")),
        tls_server_name=str(c["tls-server-name"]) if c.get("tls-server-name") else None,
        proxy=str(c["proxy-url"]) if c.get("proxy-url") else None,
    )
    if user is None:
        return creds
    u = user.body
    if u.get("auth-provider"):
        provider = u["auth-provider"] or {}
        if provider.get("name") != "oidc":
            raise ClusterError(f"{what}: auth-provider {provider.get('name', '?')!r} is not supported (kubectl dropped "
                               "it too): use its exec credential plugin (gke-gcloud-auth-plugin, kubelogin, ...)")  # fmt: skip
        creds.auth = auth.oidc(provider, what=what)
    cert = kubeconfig.material(user, "client-certificate", what=what)
    key = kubeconfig.material(user, "client-key", what=what)
    if cert and key:
        creds.client_cert = (cert, key)
    if u.get("auth-provider"):
        pass  # oidc's id-token, above
    elif u.get("token"):
        creds.auth = auth.Fixed(f"Bearer {u['token']}")
    elif u.get("tokenFile"):
        path = Path(str(u["tokenFile"])).expanduser()
        creds.auth = auth.TokenFile(path if path.is_absolute() else user.base / path, what=what)
    elif u.get("exec"):
        info = {"server": creds.server, "insecure-skip-tls-verify": creds.insecure}
        if creds.ca_pem:
            info["certificate-authority-data"] = base64.b64encode(creds.ca_pem).decode()
        for ext in c.get("extensions") or ():
            if isinstance(ext, dict) and ext.get("name") == "client.authentication.k8s.io/exec":
                info["config"] = ext.get("extension")
        plugin = auth.ExecPlugin(u["exec"], base=user.base, context=ctx.name, cluster=info, environ=environ)
        creds.auth = plugin
        if plugin.client_cert:
            creds.client_cert = plugin.client_cert
    elif u.get("username") and u.get("password"):
        basic = base64.b64encode(f"{u['username']}:{u['password']}".encode()).decode()
        creds.auth = auth.Fixed(f"Basic {basic}")
    return creds


def _in_cluster(environ: Mapping[str, str], sa_dir: str) -> Credentials:
    host, port = environ.get("KUBERNETES_SERVICE_HOST", ""), environ.get("KUBERNETES_SERVICE_PORT", "")
    if not host or not port:
        raise ClusterError(
            "cannot use the in-cluster service account: KUBERNETES_SERVICE_HOST/PORT are not set"
        )
    if ":" in host:
        host = f"[{host}]"
    try:
        ca = Path(sa_dir, "ca.crt").read_bytes()
    except OSError as e:
        raise ClusterError(
            f"cannot use the in-cluster service account: {sa_dir}/ca.crt: {e.strerror}"
        ) from None
    if not ca.strip():
        raise ClusterError(f"cannot use the in-cluster service account: {sa_dir}/ca.crt is empty")
    token = auth.TokenFile(Path(sa_dir, "token"), what="in-cluster service account")
    return Credentials(server=f"https://{host}:{port}", context="in-cluster", auth=token, ca_pem=ca)


def load(
    kubeconfig_path: str | None,
    context: str | None,
    *,
    environ: Mapping[str, str],
    service_account_dir: str = SERVICE_ACCOUNT_DIR,
) -> Credentials:
    """kubectl's choice of credentials. Raises ClusterError in one line when none is usable."""
    paths = kubeconfig.find(kubeconfig_path, environ)
    if paths is not None:
        return _from_kubeconfig(paths, context, environ)
    if environ.get("KUBERNETES_SERVICE_HOST"):
        if context:
            raise ClusterError(f"--context {context} given but there is no kubeconfig (running in a cluster)")
        return _in_cluster(environ, service_account_dir)
    raise ClusterError(
        "no cluster credentials: pass --kubeconfig, set KUBECONFIG, create ~/.kube/config, or run inside a cluster"
    )
