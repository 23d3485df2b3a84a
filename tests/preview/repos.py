"""File sets for preview tests: a small GitOps repository with Helm, Kustomize and plain apps, and Argo CD variants."""

from __future__ import annotations

from pathlib import Path

from tests.helpers.gitrepo import GitRepo

SECRET_VALUE = "hunter2-Very-S3cret"
REPO_URL = "https://git.example.com/org/gitops.git"

CHART = {
    "charts/web/Chart.yaml": "apiVersion: v2\nname: web\nversion: 0.1.0\n",
    "charts/web/values.yaml": f"replicas: 1\nimage: nginx:1.27\npassword: {SECRET_VALUE}\n",
    "charts/web/templates/deployment.yaml": """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
  labels:
    app.kubernetes.io/instance: {{ .Release.Name }}
spec:
  replicas: {{ .Values.replicas }}
  selector:
    matchLabels: {app: {{ .Release.Name }}}
  template:
    metadata:
      labels: {app: {{ .Release.Name }}}
    spec:
      containers:
        - name: app
          image: {{ .Values.image }}
""",
    "charts/web/templates/secret.yaml": """\
apiVersion: v1
kind: Secret
metadata:
  name: {{ .Release.Name }}-auth
stringData:
  password: {{ .Values.password | quote }}
""",
}

KUSTOMIZE = {
    "k8s/base/kustomization.yaml": "resources:\n- cm.yaml\n- deploy.yaml\n",
    "k8s/base/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  level: info\n",
    "k8s/base/deploy.yaml": """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
spec:
  replicas: 1
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      containers: [{name: api, image: "api:1.0"}]
""",
    **{
        f"k8s/overlays/{env}/kustomization.yaml": f"resources:\n- ../../base\nnamespace: {env}\nnamePrefix: {env}-\n"
        for env in ("dev", "staging", "prod")
    },
}

PLAIN = {
    "plain/tools/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: tools\ndata:\n  a: b\n",
}

PROJECT = """\
version: 1
apps:
  - {name: web-a, path: charts/web, namespace: a, helm: {valueFiles: [/values/web-a.yaml]}}
  - {name: web-b, path: charts/web, namespace: b, helm: {valueFiles: [/values/web-b.yaml]}}
  - {name: dev, path: k8s/overlays/dev}
  - {name: staging, path: k8s/overlays/staging}
  - {name: prod, path: k8s/overlays/prod}
  - {name: tools, path: plain/tools, namespace: tools}
"""

MIXED = {
    ".gitops-check.yaml": PROJECT,
    "values/web-a.yaml": "replicas: 2\n",
    "values/web-b.yaml": "replicas: 2\n",
    "README.md": "# deploy\n",
    **CHART,
    **KUSTOMIZE,
    **PLAIN,
}


def application(name: str, path: str, *, tag: str = "1.0", namespace: str | None = None) -> str:
    return f"""\
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: {name}
  namespace: argocd
spec:
  project: default
  source:
    repoURL: {REPO_URL}
    path: {path}
    targetRevision: main
    helm:
      parameters:
        - name: image
          value: "nginx:{tag}"
  destination:
    server: https://kubernetes.default.svc
    namespace: {namespace or name}
"""


def make_repo(path: Path, files: dict[str, str]) -> GitRepo:
    repo = GitRepo.init(path)
    repo.git("remote", "add", "origin", REPO_URL)
    repo.write(files)
    repo.commit("initial")
    return repo
