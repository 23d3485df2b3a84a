// Command redis is the Redis the Argo CD test harness runs: miniredis (the in-memory Redis Argo CD itself uses
// in its tests and for `argocd --core`) listening on one address, so no system redis-server is needed.
//
//	argocd-redis 127.0.0.1:6379
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/alicebob/miniredis/v2"
)

var version = "dev"

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: argocd-redis ADDRESS | --version")
		os.Exit(2)
	}
	if os.Args[1] == "--version" {
		fmt.Println("argocd-redis (miniredis)", version)
		return
	}
	server := miniredis.NewMiniRedis()
	if err := server.StartAddr(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "argocd-redis:", err)
		os.Exit(1)
	}
	fmt.Println("argocd-redis listening on", server.Addr())
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	<-stop
	server.Close()
}
