//go:build tools

// Package main pins Argo CD's multi-call command (github.com/argoproj/argo-cd/v3/cmd) in go.mod; the build tag
// keeps this file out of normal builds while `go mod tidy` (which considers all tags) still sees the import.
// scripts/tools.py builds the upstream package itself: `go build github.com/argoproj/argo-cd/v3/cmd`.
package main

import _ "github.com/argoproj/argo-cd/v3/cmd"
