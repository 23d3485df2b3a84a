"""OCI registries (distribution spec): Helm charts and Flux artifacts, pulled by tag, semver range or digest.

Auth as the distribution spec describes it: a request answered 401 with ``WWW-Authenticate: Bearer realm=...``
gets a token from the realm (anonymously, or with the job's credential for that host) and is retried with it;
``Basic`` challenges are answered with the job's credential for the registry. A token is bound to the
registry's origin, so a blob redirect to a storage host never carries it. Registries speak HTTPS unless the
source says ``insecure`` (Flux ``spec.insecure``).
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode, urljoin

from gitops_check.errors import FetchError
from gitops_check.remote import semver
from gitops_check.remote.cache import Cache, key_of
from gitops_check.remote.http import BoundAuth, Fetcher, Reply

HELM_CHART_LAYER = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
HELM_CHART_LAYER_LEGACY = "application/tar+gzip"
FLUX_LAYER = "application/vnd.cncf.flux.content.v1.tar+gzip"
MANIFEST_ACCEPT = ", ".join((
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
))  # fmt: skip
MANIFEST_LIMIT = 4 * 1024 * 1024
_CHALLENGE_PARAM = re.compile(r'(\w+)="([^"]*)"')
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_DOCKER_HUB = ("docker.io", "index.docker.io", "registry.hub.docker.com")


@dataclass(frozen=True)
class Pulled:
    reference: str  # registry/repository, no tag
    tag: str  # the tag resolved (or the digest when pulled by digest)
    manifest_digest: str
    layer_digest: str
    media_type: str
    path: Path  # the layer blob in the cache


def split_reference(reference: str) -> tuple[str, str, str | None, str | None]:
    """``host[:port]/repo[:tag][@digest]`` -> (host, repository, tag, digest)."""
    text = reference.strip().removeprefix("oci://")
    text, _, digest = text.partition("@")
    host, _, rest = text.partition("/")
    if not host or not rest:
        raise FetchError(f"oci://{reference}: not a registry reference (host/repository[:tag])")
    repo, tag = rest, None
    last = rest.rsplit("/", 1)[-1]
    if ":" in last:
        repo, _, tag = rest.rpartition(":")
    host = host.lower()
    if host in _DOCKER_HUB:  # what docker, helm and Flux do: Docker Hub's API lives elsewhere
        host = "registry-1.docker.io"
        if "/" not in repo:
            repo = f"library/{repo}"
    return host, repo, tag, digest or None


class Registry:
    def __init__(self, fetcher: Fetcher, cache: Cache):
        self.fetcher = fetcher
        self.cache = cache
        self._tokens: dict[tuple[str, str], BoundAuth] = {}
        self._lock = threading.Lock()

    # -- the public operation --------------------------------------------------------------------------------

    def pull(
        self,
        reference: str,
        *,
        constraint: str = "",
        tag: str | None = None,
        digest: str | None = None,
        semver_filter: str | None = None,
        media_types: tuple[str, ...] | None = None,
        what: str,
        tag_plus: bool = False,
        insecure: bool = False,
    ) -> Pulled:
        """The layer of ``reference`` picked by ``media_types`` (None: the first layer), in the cache.

        Exactly one of ``digest``, ``tag`` or ``constraint`` decides the manifest (a constraint that is a plain
        version is a tag). ``tag_plus``: Helm writes ``+`` in versions as ``_`` in tags.
        """
        host, repo, ref_tag, ref_digest = split_reference(reference)
        scheme = "http" if insecure else "https"
        shown = f"oci://{host}/{repo}"
        digest = digest or ref_digest
        tag = tag or ref_tag
        wanted = digest or tag or constraint
        if digest is None and tag is None:
            if constraint and not _is_plain_version(constraint):
                tag = self._resolve_tag(scheme, host, repo, constraint, semver_filter, shown, what)
            else:
                tag = constraint or "latest"
        if tag is not None and tag_plus:
            tag = tag.replace("+", "_")
        pin = key_of("oci-pin", shown, digest or str(tag), ",".join(media_types or ()))
        if digest or (tag and _is_plain_version(tag.replace("_", "+"))):
            pinned = self.cache.get_meta(pin)
            hit = self.cache.blob(str(pinned["layer"]).removeprefix("sha256:")) if pinned else None
            if pinned and hit is not None:
                return Pulled(shown, str(pinned["tag"]), str(pinned["manifest"]), str(pinned["layer"]),
                              str(pinned["media_type"]), hit)  # fmt: skip
        manifest_ref = digest or str(tag)
        reply = self._get(scheme, host, repo, f"/manifests/{manifest_ref}", what=f"reading the manifest of {what}",
                          accept=MANIFEST_ACCEPT, max_bytes=MANIFEST_LIMIT, not_found=f"{what} {wanted} not found in {shown}")  # fmt: skip
        manifest_digest = "sha256:" + str(reply.sha256)
        if digest and manifest_digest != digest:
            raise FetchError(f"{shown}@{digest}: digest mismatch (the registry sent {manifest_digest[:23]}…)")
        layer = _pick_layer(reply.body, media_types, shown, manifest_ref)
        layer_digest = str(layer["digest"])
        if not _DIGEST.match(layer_digest):
            raise FetchError(f"{shown}:{manifest_ref}: layer digest {layer_digest!r} is not sha256")
        path = self._blob(scheme, host, repo, layer_digest, what, shown)
        resolved_tag = tag.replace("_", "+") if tag and tag_plus else (tag or digest or "")
        self.cache.put_meta(pin, {
            "tag": resolved_tag, "manifest": manifest_digest, "layer": layer_digest,
            "media_type": str(layer.get("mediaType") or ""),
        })  # fmt: skip
        return Pulled(
            shown, resolved_tag, manifest_digest, layer_digest, str(layer.get("mediaType") or ""), path
        )

    # -- pieces --------------------------------------------------------------------------------------------

    def _resolve_tag(
        self,
        scheme: str,
        host: str,
        repo: str,
        constraint: str,
        semver_filter: str | None,
        shown: str,
        what: str,
    ) -> str:
        tags = self.tags(scheme, host, repo, what)
        if semver_filter:
            try:
                pattern = re.compile(semver_filter)
            except re.error as e:
                raise FetchError(
                    f"{shown}: semverFilter {semver_filter!r} is not a regular expression ({e})"
                ) from None
            tags = [t for t in tags if pattern.search(t)]
        versions = {t.replace("_", "+"): t for t in tags}
        try:
            best = semver.pick(constraint, versions)
        except semver.NoMatch as e:
            near = e.nearest
            listing = f"; nearest tags: {', '.join(near)}" if near else "; the repository has no version tags"
            raise FetchError(f"{what} version {constraint} not found in {shown}{listing}") from None
        except semver.SemverError as e:
            raise FetchError(
                f"{what} from {shown}: version {constraint!r} is not a constraint ({e})"
            ) from None
        return versions[best]

    def tags(self, scheme: str, host: str, repo: str, what: str) -> list[str]:
        out: list[str] = []
        path = "/tags/list"  # no page size: some registries refuse large ones; follow Link instead
        for _ in range(100):
            reply = self._get(scheme, host, repo, path, what=f"listing the tags of {what}", accept="application/json",
                              max_bytes=MANIFEST_LIMIT, not_found=f"{what}: oci://{host}/{repo} not found")  # fmt: skip
            try:
                data = json.loads(reply.body)
            except ValueError:
                raise FetchError(f"oci://{host}/{repo}: the tag list is not JSON") from None
            out += [str(t) for t in data.get("tags") or []] if isinstance(data, dict) else []
            link = reply.headers.get("Link", "")
            m = re.search(r"<([^>]+)>\s*;\s*rel=\"?next\"?", link)
            if not m:
                break
            nxt = m.group(1)
            path = nxt.split(f"/v2/{repo}", 1)[1] if f"/v2/{repo}" in nxt else nxt
        return out

    def _blob(self, scheme: str, host: str, repo: str, digest: str, what: str, shown: str) -> Path:
        hexdigest = digest.removeprefix("sha256:")
        found = self.cache.blob(hexdigest)
        if found is not None:
            return found
        with self.cache.locked(key_of("blob", hexdigest)):
            found = self.cache.blob(hexdigest)
            if found is not None:
                return found
            tmp = self.cache.temp_file()
            try:
                reply = self._get(scheme, host, repo, f"/blobs/{digest}", what=f"downloading {what}",
                                  accept="*/*", dest=tmp, not_found=f"{what}: blob {digest[:19]}… not found in {shown}")  # fmt: skip
                if reply.sha256 != hexdigest:
                    raise FetchError(
                        f"{what} from {shown}: digest mismatch (the manifest says {digest[:23]}…, the download is "
                        f"sha256:{(reply.sha256 or '')[:16]}…); not using it"
                    )
                return self.cache.put_blob(hexdigest, tmp)
            finally:
                tmp.unlink(missing_ok=True)

    def _get(
        self,
        scheme: str,
        host: str,
        repo: str,
        path: str,
        *,
        what: str,
        accept: str,
        not_found: str,
        dest: Path | None = None,
        max_bytes: int | None = None,
    ) -> Reply:
        url = f"{scheme}://{host}/v2/{repo}{path}"
        with self._lock:
            auth = self._tokens.get((host, repo))
        headers = {"Accept": accept}
        reply = self.fetcher.get(url, what=what, headers=headers, auth=auth, use_credentials=auth is None,
                                 expect=(200, 401, 404), dest=dest, max_bytes=max_bytes)  # fmt: skip
        if reply.status == 401:
            auth = self._authorize(url, reply, host, repo, what)
            reply = self.fetcher.get(url, what=what, headers=headers, auth=auth, use_credentials=auth is None,
                                     expect=(200, 404), dest=dest, max_bytes=max_bytes)  # fmt: skip
        if reply.status == 404:
            raise FetchError(not_found)
        return reply

    def _authorize(self, url: str, reply: Reply, host: str, repo: str, what: str) -> BoundAuth | None:
        challenge = reply.headers.get("WWW-Authenticate", "")
        scheme, _, params_text = challenge.partition(" ")
        params = dict(_CHALLENGE_PARAM.findall(params_text))
        credential = self.fetcher.credential_for(url)
        if scheme.lower() == "basic":
            if credential is None:
                raise FetchError(
                    f"oci://{host}/{repo}: HTTP 401 while {what}; no credential is configured for {host} (docker "
                    "login / helm registry login, or GITOPS_CHECK_CRED_<NAME>_URL)"
                )
            return None  # the retry sends the job's credential for this URL
        if scheme.lower() != "bearer" or not params.get("realm"):
            raise FetchError(
                f"oci://{host}/{repo}: HTTP 401 with an authentication scheme gitops-check does not speak"
            )
        query = {k: v for k, v in (("service", params.get("service")), ("scope", params.get("scope"))) if v}
        if "scope" not in query:
            query["scope"] = f"repository:{repo}:pull"
        realm = params["realm"]
        token_url = realm + ("&" if "?" in realm else "?") + urlencode(query)
        token_url = urljoin(url, token_url)
        realm_credential = self.fetcher.credential_for(token_url)
        basic = realm_credential or (credential if _same_host(token_url, url) else None)
        token_reply = self.fetcher.get(
            token_url, what=f"getting a registry token for {what}", use_credentials=False,
            auth=BoundAuth.for_url(token_url, basic.header()) if basic else None, max_bytes=MANIFEST_LIMIT,
        )  # fmt: skip
        try:
            data = json.loads(token_reply.body)
            token = str(data.get("token") or data.get("access_token") or "")
        except (ValueError, AttributeError):
            token = ""
        if not token:
            raise FetchError(f"oci://{host}/{repo}: the token service gave no token while {what}")
        bound = BoundAuth.for_url(url, f"Bearer {token}")
        with self._lock:
            self._tokens[(host, repo)] = bound
        return bound


def _same_host(a: str, b: str) -> bool:
    from gitops_check.remote.policy import host_port

    return host_port(a) == host_port(b)


def _is_plain_version(text: str) -> bool:
    try:
        semver.Version.parse(text)
    except semver.SemverError:
        return False
    return text.count(".") >= 2 and not any(c in text for c in "xX*")


def _pick_layer(body: bytes, media_types: tuple[str, ...] | None, shown: str, ref: str) -> dict[str, object]:
    try:
        manifest = json.loads(body)
    except ValueError:
        raise FetchError(f"{shown}:{ref}: the manifest is not JSON") from None
    layers = manifest.get("layers") if isinstance(manifest, dict) else None
    if not isinstance(layers, list) or not layers:
        kind = manifest.get("mediaType") if isinstance(manifest, dict) else None
        raise FetchError(f"{shown}:{ref}: the manifest has no layers (media type {kind or 'unknown'})")
    for layer in layers:
        if isinstance(layer, dict) and (media_types is None or layer.get("mediaType") in media_types):
            return layer
    found = ", ".join(str(layer.get("mediaType")) for layer in layers if isinstance(layer, dict))
    raise FetchError(f"{shown}:{ref}: no layer of type {' or '.join(media_types or ())} (it has {found})")
