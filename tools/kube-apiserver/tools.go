//go:build tools

// Package tools pins k8s.io/kubernetes/cmd/kube-apiserver in go.mod; the build tag keeps it out of
// every normal build while `go mod tidy` (which considers all tags) still sees the import.
package tools

import _ "k8s.io/kubernetes/cmd/kube-apiserver"
