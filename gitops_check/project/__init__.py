"""The project file (``.gitops-check.yaml``) and the option objects passed to the core.

``config`` parses the file and holds the option objects, ``appspec`` its app entries (and the Argo CD-compatible
pieces Argo CD discovery reuses), ``fields`` the validation helpers every YAML settings parser uses.
"""
