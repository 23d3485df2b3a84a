"""The oracle corpus: one git repository of Applications covering what gitops-check claims to render like Argo CD.

``write_corpus(repo, url)`` writes it; every Application points at ``url`` (the loopback git server), lives in
``apps/`` (where gitops-check discovers it and from where the tests create it in Argo CD) and deploys into its
own namespace ``corpus-<case>``. ``CASES`` lists each case with what it covers and, for a known difference
that another issue owns, the reason the oracle test is marked xfail.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from tests.helpers.gitrepo import GitRepo


@dataclass(frozen=True)
class Case:
    name: str
    covers: str
    source: Mapping[str, Any] | None = None  # spec.source (None: sources)
    sources: tuple[Mapping[str, Any], ...] = ()
    xfail: str = ""  # a known difference owned by another issue: the reason names it

    @property
    def namespace(self) -> str:
        return f"corpus-{self.name}"


DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: web
          image: nginx:1.27
          ports: [{containerPort: 80}]
"""
SERVICE = """\
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 80}]
"""
CONFIGMAP = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data:
  mode: "production"
  retries: "3"
"""

CHART = {
    "src/helm/chart/Chart.yaml": "apiVersion: v2\nname: shop\nversion: 1.2.3\nappVersion: '4.5'\n",
    "src/helm/chart/values.yaml": "replicas: 1\ncolor: blue\nextra: {}\nhooks: false\n",
    "src/helm/chart/values-prod.yaml": "replicas: 3\ncolor: green\n",
    "src/helm/values/shared.yaml": "color: purple\nextra: {from: ref}\n",
    "src/helm/chart/templates/_helpers.tpl": '{{- define "shop.name" -}}{{ .Release.Name }}-shop{{- end -}}\n',
    "src/helm/chart/templates/cm.yaml": """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ include "shop.name" . }}
  labels:
    chart: "{{ .Chart.Name }}-{{ .Chart.Version }}"
    release: {{ .Release.Name | quote }}
data:
  color: {{ .Values.color | quote }}
  namespace: {{ .Release.Namespace | quote }}
  {{- range $k, $v := .Values.extra }}
  {{ $k }}: {{ $v | quote }}
  {{- end }}
""",
    "src/helm/chart/templates/deploy.yaml": """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "shop.name" . }}
spec:
  replicas: {{ .Values.replicas }}
  selector: {matchLabels: {app: {{ include "shop.name" . }}}}
  template:
    metadata: {labels: {app: {{ include "shop.name" . }}}}
    spec:
      containers:
        - name: shop
          image: "nginx:{{ .Chart.AppVersion }}"
""",
    "src/helm/chart/templates/hooks.yaml": """\
{{- if .Values.hooks }}
apiVersion: batch/v1
kind: Job
metadata:
  name: {{ include "shop.name" . }}-migrate
  annotations:
    helm.sh/hook: pre-install,pre-upgrade
    helm.sh/hook-delete-policy: before-hook-creation
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: migrate, image: busybox, command: ["true"]}]
---
apiVersion: v1
kind: Pod
metadata:
  name: {{ include "shop.name" . }}-test
  annotations: {helm.sh/hook: test}
spec:
  restartPolicy: Never
  containers: [{name: t, image: busybox, command: ["true"]}]
{{- end }}
""",
}

KUSTOMIZE_BUILD_OPTIONS = "--load-restrictor LoadRestrictionsNone"

FILES: dict[str, str] = {
    "src/plain/deploy.yaml": DEPLOYMENT,
    "src/plain/svc.yaml": SERVICE,
    "src/plain/cm.json": '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "from-json"},'
    ' "data": {"k": "v"}}',
    "src/plain/nested/extra.yaml": CONFIGMAP,
    "src/plain/nested/skip-me.yaml": CONFIGMAP.replace("settings", "skipped"),
    "src/plain/README.md": "not a manifest\n",
    "src/plain/list.yaml": "apiVersion: v1\nkind: List\nitems:\n"
    "  - {apiVersion: v1, kind: ConfigMap, metadata: {name: in-list-a}, data: {a: '1'}}\n"
    "  - {apiVersion: v1, kind: ConfigMap, metadata: {name: in-list-b}, data: {b: '2'}}\n",
    "src/kustomize/base/kustomization.yaml": """\
resources: [deploy.yaml, svc.yaml]
configMapGenerator:
  - name: app-config
    literals: [LOG_LEVEL=info, FEATURE=on]
labels:
  - pairs: {tier: web}
    includeSelectors: false
""",
    "src/kustomize/base/deploy.yaml": DEPLOYMENT,
    "src/kustomize/base/svc.yaml": SERVICE,
    "src/kustomize/overlay/kustomization.yaml": """\
resources: [../base]
namePrefix: prod-
commonAnnotations: {team: shop}
images:
  - {name: nginx, newTag: "1.28"}
patches:
  - target: {kind: Deployment, name: web}
    patch: |
      - {op: replace, path: /spec/replicas, value: 4}
""",
    "src/kustomize-options/kustomization.yaml": "resources: [deploy.yaml, cm.yaml]\n",
    "src/kustomize-options/deploy.yaml": DEPLOYMENT,
    "src/kustomize-options/cm.yaml": CONFIGMAP,
    "src/go-yaml/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: flags}\ndata: {y: 'yes', n: 'no'}\n",
    "src/jsonnet/main.jsonnet": """\
local name = 'from-jsonnet';
[
  { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: name }, data: { sum: std.toString(1 + 2) } },
  { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: name + '-2' }, data: { upper: std.asciiUpper('x') } },
]
""",
    # Loads a file from above the kustomization: needs argocd-cm's --load-restrictor LoadRestrictionsNone.
    "src/kustomize-up/outside.yaml": CONFIGMAP.replace("settings", "from-above"),
    "src/kustomize-up/app/kustomization.yaml": "resources: [../outside.yaml, cm.yaml]\n",
    "src/kustomize-up/app/cm.yaml": CONFIGMAP,
    # The same kustomize.buildOptions the harness gives Argo CD (tests/helpers/argocd.py): gitops-check reads them
    # from an argocd-cm in the repository.
    "argocd/argocd-cm.yaml": (
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: argocd-cm, namespace: argocd}\n"
        f"data: {{kustomize.buildOptions: '{KUSTOMIZE_BUILD_OPTIONS}'}}\n"
    ),
    **CHART,
}


def _app(url: str, **source: Any) -> dict[str, Any]:
    return {"repoURL": url, "targetRevision": "HEAD", **source}


def cases(url: str) -> list[Case]:
    return [
        Case("plain", "directory of YAML and JSON, a List, a README", _app(url, path="src/plain")),
        Case(
            "plain-recurse",
            "directory.recurse with an exclude glob",
            _app(url, path="src/plain", directory={"recurse": True, "exclude": "**/skip-*.yaml"}),
        ),
        Case(
            "kustomize",
            "overlay: namePrefix, images, patches, configMapGenerator hash, labels",
            _app(url, path="src/kustomize/overlay"),
        ),
        Case(
            "kustomize-options",
            "spec.source.kustomize: namePrefix, nameSuffix, images, commonLabels, replicas, patches",
            _app(
                url,
                path="src/kustomize-options",
                kustomize={
                    "namePrefix": "opt-",
                    "nameSuffix": "-v1",
                    "images": ["nginx=nginx:1.29"],
                    "commonLabels": {"owner": "argo"},
                    "replicas": [{"name": "web", "count": 5}],
                    "patches": [
                        {
                            "target": {"kind": "ConfigMap"},
                            "patch": "- {op: add, path: /data/patched, value: 'yes'}",
                        }
                    ],
                },
            ),
        ),
        Case(
            "kustomize-build-options",
            "argocd-cm kustomize.buildOptions: a resource from above the kustomization",
            _app(url, path="src/kustomize-up/app"),
        ),
        Case(
            "helm",
            "values file, parameters, releaseName",
            _app(
                url,
                path="src/helm/chart",
                helm={
                    "valueFiles": ["values-prod.yaml"],
                    "parameters": [
                        {"name": "extra.tier", "value": "gold"},
                        {"name": "replicas", "value": "5"},
                    ],
                    "releaseName": "store",
                },
            ),
        ),
        Case(
            "helm-values-object",
            "valuesObject over values over valueFiles, forceString",
            _app(
                url,
                path="src/helm/chart",
                helm={
                    "valueFiles": ["values-prod.yaml"],
                    "values": "color: red\n",
                    "valuesObject": {"color": "orange", "extra": {"a": "b"}},
                    "parameters": [{"name": "extra.num", "value": "10", "forceString": True}],
                },
            ),
        ),
        Case(
            "helm-hooks",
            "Helm hooks (pre-install Job, test Pod) in Argo CD's manifests",
            _app(url, path="src/helm/chart", helm={"parameters": [{"name": "hooks", "value": "true"}]}),
        ),
        Case(
            "multi-source",
            "chart from one source, value file from a $ref source",
            None,
            (
                _app(
                    url, path="src/helm/chart", helm={"valueFiles": ["$values/src/helm/values/shared.yaml"]}
                ),
                _app(url, ref="values"),
            ),
        ),
        Case(
            "go-yaml-keys",
            "plain YAML keys y and n, booleans for Go's YAML 1.1 parser",
            _app(url, path="src/go-yaml"),
        ),
        Case(
            "jsonnet",
            "a jsonnet directory",
            _app(url, path="src/jsonnet"),
        ),
    ]


def application(case: Case) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "project": "default",
        "destination": {"server": "https://kubernetes.default.svc", "namespace": case.namespace},
        "syncPolicy": {"syncOptions": ["PrunePropagationPolicy=background"]},
    }
    if case.source is not None:
        spec["source"] = dict(case.source)
    else:
        spec["sources"] = [dict(s) for s in case.sources]
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": case.name, "namespace": "argocd"},
        "spec": spec,
    }


def write_corpus(repo: GitRepo, url: str) -> list[Case]:
    """The corpus files and one Application file per case in apps/; commits and returns the cases."""
    found = cases(url)
    files = dict(FILES)
    for case in found:
        files[f"apps/{case.name}.yaml"] = yaml.safe_dump(application(case), sort_keys=False)
    repo.write(files)
    repo.commit("corpus")
    return found
