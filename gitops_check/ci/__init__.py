"""The CI steps behind the GitHub Action (action.yml) and the GitLab template: ``python -m gitops_check.ci``."""
