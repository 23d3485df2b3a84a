"""One commit's renders looked up in the render cache by content key before helm or kustomize run (``diff``).

``preview`` keys both commits of a change itself (``preview.plan``); a check of one commit uses this: the app's
inputs at the commit (``inputs.app_inputs``), its content key, and the cache entry under it. A cached render is
sealed (Secret values replaced by the cache's own keyed hashes, ``render.cache``). Those hashes cannot be compared
with a cluster's values hashed by another key (a snapshot's), nor do they let the output scrubber learn the values,
so a cached render that holds Secret values is passed over and the app rendered again: in GitOps repositories
Secrets mostly come from a controller (SealedSecret, ExternalSecret, SOPS), so most apps hold none.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from gitops_check.errors import GitopsCheckError
from gitops_check.model.app import App
from gitops_check.remote.charts import resolution_key
from gitops_check.remote.policy import NetworkPolicy
from gitops_check.render.base import RenderOutput
from gitops_check.render.cache import RenderCache, holds_secret_values, seal
from gitops_check.render.inputs import Tree, app_inputs, content_key


@dataclass
class KeyedRenders:
    """Looks renders up by content key and stores fresh ones; counts what it did (thread-safe)."""

    cache: RenderCache
    tree: Tree
    context: str  # ``inputs.context_text`` of ``render.cache.key_context``
    network: NetworkPolicy
    plugins_discover: bool = False  # plugins with discover rules were given (``inputs.app_inputs``)
    hits: int = 0
    with_secrets: int = 0  # cached renders passed over because they hold Secret values
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _passed_over: set[str] = field(default_factory=set, repr=False)  # stored already: not written again

    def key(self, app: App) -> str | None:
        """The app's content key; None when its inputs cannot be pinned down (then it is rendered, not cached)."""
        try:
            inputs = app_inputs(app, self.tree, plugins_discover=self.plugins_discover)
            return content_key(
                app, inputs, self.tree, self.context, resolve=lambda item: resolution_key(item, self.network)
            )
        except (GitopsCheckError, OSError):
            return None  # the render reports what is wrong with the app's files

    def get(self, key: str) -> RenderOutput | None:
        output = self.cache.get(key)
        if output is None:
            return None
        with self._lock:
            if holds_secret_values(output):
                self.with_secrets += 1
                self._passed_over.add(key)
                return None
            self.hits += 1
        return output

    def put(self, key: str, output: RenderOutput) -> None:
        """Store a fresh render, sealed (the caller keeps using ``output`` itself); ``preview`` can use those holding
        Secret values, which it compares by the cache's own hashes."""
        with self._lock:
            if key in self._passed_over:
                return
        self.cache.put(key, seal(output, self.cache.hashing))
