"""Plain data shared by every stage of the pipeline.

Stages pass these frozen dataclasses to each other and nothing else: no click, kubernetes or git objects cross
a stage boundary. Manifest bodies are ordinary dicts (JSON-like); by convention nobody mutates a body they did
not create.

One module per domain (``objects``, ``source``, ``app``, ``rendered``, ``live``, ``sync``, ``result``); import
each name from its domain module: the package itself re-exports nothing, so an import says which domain it
leans on.
"""
