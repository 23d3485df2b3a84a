"""Go behaviour ported to Python, shared by several stages, each checked against the Go original on a corpus
(``tests/differential``): ``goyaml`` (how sigs.k8s.io/yaml reads scalars), ``globs`` (path.Match, Flux's
envsubst copy of it, doublestar v4), ``maps`` (Helm's and Flux's ``MergeMaps``).
"""
