"""Credentials the way kubectl finds them: kubeconfig files (merged list, contexts, exec plugins) or in-cluster.

Loading is delegated to the kubernetes client's loaders, with kubectl's rules where they differ (the first file
of a ``KUBECONFIG`` list that sets current-context wins) and one-line errors where they would log and go on
(a failing exec plugin).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gitops_check.errors import ClusterError

SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


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


def load(
    kubeconfig: str | None,
    context: str | None,
    *,
    pool_size: int,
    environ: Mapping[str, str],
    service_account_dir: str = SERVICE_ACCOUNT_DIR,
) -> tuple[Any, str]:
    """A ``kubernetes.client.Configuration`` for kubectl's choice of credentials, and the context's name
    (``in-cluster`` for the service account). Raises ClusterError in one line when none is usable."""
    config = _configuration(pool_size)
    paths = _kubeconfig_paths(kubeconfig, environ)
    if paths is not None:
        return config, _from_kubeconfig(paths, context, config)
    if environ.get("KUBERNETES_SERVICE_HOST"):
        if context:
            raise ClusterError(f"--context {context} given but there is no kubeconfig (running in a cluster)")
        _in_cluster(config, environ, service_account_dir)
        return config, "in-cluster"
    raise ClusterError(
        "no cluster credentials: pass --kubeconfig, set KUBECONFIG, create ~/.kube/config, or run inside a cluster"
    )
