//go:build tools

// Package tools pins go.etcd.io/etcd/server/v3 (whose main package is the etcd binary) in go.mod;
// the build tag keeps it out of normal builds while `go mod tidy` still sees the import.
package tools

import _ "go.etcd.io/etcd/server/v3"
