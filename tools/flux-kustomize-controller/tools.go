//go:build tools

// Package main pins Flux's kustomize-controller (github.com/fluxcd/kustomize-controller) in go.mod; the build
// tag keeps this file out of normal builds while `go mod tidy -e` (which considers all tags) still sees the import.
// scripts/tools.py builds the upstream package itself: `go build github.com/fluxcd/kustomize-controller`.
// go.mod copies the controller's non-local replaces and pins its ./api folder to the published api module of the
// same version. `go mod tidy -e`: plain tidy fails on a test-only dependency the module proxy does not serve.
package main

import _ "github.com/fluxcd/kustomize-controller"
