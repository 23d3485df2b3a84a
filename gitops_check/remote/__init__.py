"""What lives outside the checked repository: Helm repositories, OCI registries, other Git repositories.

``policy`` says where the job allows gitops-check to go, ``http`` is the one HTTP door (redirects, credentials,
retries, size limits), ``cache`` the content-addressed store on disk, ``charts`` the API renderers use:
``fetch_chart(url, name, constraint, dest)``.
"""
