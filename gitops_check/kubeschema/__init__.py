"""What the API server knows about each kind's fields: list types and keys, atomic structs and maps, defaults.

Built from Kubernetes' OpenAPI v3 (``openapi.py``), CRDs' structural schemas (``crd.py``) and a bundled copy for
built-in kinds (``bundled.py``), in one compact form (``compact.py``) that snapshots store too. The diff engine
walks objects with it (``model.Node``) instead of guessing from field names.
"""
