#!/usr/bin/env bash
# Builds a real kube-apiserver and etcd from the Kubernetes Go modules into bin/k8s/,
# at the Kubernetes version matching the client-go in go.mod. Release binaries cannot
# be downloaded on machines without internet, but the Go module proxy is reachable.
# The result is cached: bin/k8s/VERSION records what was built.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/bin/k8s"

client_go=$(cd "$root" && go list -m -f '{{.Version}}' k8s.io/client-go)  # v0.37.2
k8s_version="v1${client_go#v0}"                                            # v1.37.2

if [ -x "$out/kube-apiserver" ] && [ -x "$out/etcd" ] && [ "$(cat "$out/VERSION" 2>/dev/null)" = "$k8s_version" ]; then
  echo "envtest binaries: cached kube-apiserver and etcd $k8s_version in bin/k8s"
  exit 0
fi

echo "envtest binaries: building kube-apiserver and etcd for Kubernetes $k8s_version (a few minutes, once)"
work="$root/bin/k8s-build"
rm -rf "$work"
mkdir -p "$work" "$out"
cd "$work"

# The kubernetes module points its k8s.io/* staging modules at local paths; replace each
# one it requires with the published module of the matching v0.Y.Z version.
kube_mod=$(go mod download -json "k8s.io/kubernetes@$k8s_version" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
staging=$(grep -E '^\s+k8s.io/[a-z0-9-]+ => \./staging/' "$kube_mod" | awk '{print $1}')
required=$(grep -E '^\s+k8s.io/[a-z0-9-]+ v0\.0\.0$' "$kube_mod" | awk '{print $1}')
etcd_version=$(grep -E '^\s+go.etcd.io/etcd/server/v3 ' "$kube_mod" | awk '{print $2}')

{
  echo "module lethe.local/k8s-build"
  echo
  echo "go 1.26.0"
  echo
  echo "require ("
  echo "	k8s.io/kubernetes $k8s_version"
  echo "	go.etcd.io/etcd/server/v3 $etcd_version"
  echo ")"
  echo
  for m in $staging; do
    if grep -qx "$m" <<<"$required"; then
      echo "replace $m => $m $client_go"
    fi
  done
} > go.mod

cat > tools.go <<'GO'
//go:build tools

package tools

import (
	_ "go.etcd.io/etcd/server/v3/etcdmain"
	_ "k8s.io/kubernetes/cmd/kube-apiserver/app"
)
GO
mkdir -p etcd
cat > etcd/main.go <<'GO'
// Command etcd is etcd's own main, built from its module.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO

go mod tidy >/dev/null
go build -o "$out/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver
go build -o "$out/etcd" ./etcd
echo "$k8s_version" > "$out/VERSION"
cd "$root" && rm -rf "$work"
echo "envtest binaries: built kube-apiserver $k8s_version and etcd $etcd_version into bin/k8s"
