module gitops-check/goref

go 1.26.0

require (
	github.com/bmatcuk/doublestar/v4 v4.10.0
	github.com/fluxcd/pkg/envsubst v1.8.0
	github.com/valyala/fasttemplate v1.2.2
	helm.sh/helm/v3 v3.21.4
	k8s.io/apimachinery v0.37.1
	sigs.k8s.io/yaml v1.6.0
)

require (
	github.com/fxamacker/cbor/v2 v2.9.1 // indirect
	github.com/pkg/errors v0.9.1 // indirect
	github.com/valyala/bytebufferpool v1.0.0 // indirect
	github.com/x448/float16 v0.8.4 // indirect
	go.yaml.in/yaml/v2 v2.4.4 // indirect
	gopkg.in/inf.v0 v0.9.1 // indirect
	sigs.k8s.io/json v0.0.0-20250730193827-2d320260d730 // indirect
)
