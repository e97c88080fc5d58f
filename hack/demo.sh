#!/usr/bin/env bash
# Runs Lethe end to end on this machine and prints what it did (make demo runs it after
# installing the database server, building kube-apiserver/etcd into bin/k8s and
# building bin/lethe). See hack/demo/main.go. Extra arguments go to the demo program,
# e.g. hack/demo.sh -customers 2000.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
go build -o bin/lethe-demo ./hack/demo
export KUBEBUILDER_ASSETS="${KUBEBUILDER_ASSETS:-$root/bin/k8s}"
exec bin/lethe-demo -lethe "$root/bin/lethe" "$@"
