# Lethe's build. `make test` and `make demo` work on a fresh Debian machine with only Go:
# they install or build everything else they need (see hack/).

SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec

BIN ?= $(CURDIR)/bin
KUBEBUILDER_ASSETS ?= $(BIN)/k8s
GO_TEST_FLAGS ?= -timeout 25m
CONTROLLER_GEN := go tool controller-gen

.PHONY: all
all: build

.PHONY: help
help: ## Show the targets.
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

##@ Development

.PHONY: generate
generate: ## Generate deepcopy code for the API types.
	$(CONTROLLER_GEN) object:headerFile=hack/boilerplate.go.txt paths="./api/..."

.PHONY: manifests
manifests: ## Generate CRDs (config/crd/bases, charts/lethe/crds) and RBAC (config/rbac, charts/lethe/files).
	$(CONTROLLER_GEN) rbac:roleName=lethe-manager crd paths="./api/...;./controllers/...;./internal/..." \
		output:crd:artifacts:config=config/crd/bases output:rbac:artifacts:config=config/rbac
	mkdir -p charts/lethe/crds
	rm -f charts/lethe/crds/*.yaml
	cp config/crd/bases/*.yaml charts/lethe/crds/
	cp config/rbac/role.yaml charts/lethe/files/role.yaml
	{ echo "# Written by \`make manifests\`: every CRD controller-gen writes into bases/."; \
	  echo "apiVersion: kustomize.config.k8s.io/v1beta1"; echo "kind: Kustomization"; echo "resources:"; \
	  for f in config/crd/bases/*.yaml; do echo "  - bases/$${f##*/}"; done; } > config/crd/kustomization.yaml

.PHONY: fmt
fmt: ## Format the Go code.
	go fmt ./...

.PHONY: vet
vet: ## Run go vet.
	go vet ./...

.PHONY: build
build: ## Build the lethe binary into bin/lethe.
	go build -o $(BIN)/lethe .

.PHONY: test-deps
test-deps: ## Install the database servers and build kube-apiserver/etcd for the tests (cached).
	hack/test-deps.sh
	hack/envtest-binaries.sh

.PHONY: test
test: test-deps vet build ## Run all tests against real kube-apiserver, etcd, PostgreSQL and MariaDB, then fuzz briefly.
	KUBEBUILDER_ASSETS=$(KUBEBUILDER_ASSETS) LETHE_BINARY=$(BIN)/lethe go test $(GO_TEST_FLAGS) ./...
	$(MAKE) fuzz-short

# The fuzz targets, as package:target. `go test ./...` runs each on its seed corpus
# (f.Add and testdata/fuzz); fuzz-short also explores for FUZZ_TIME each.
FUZZ_TARGETS := internal/duration:FuzzParse internal/schedule:FuzzParse internal/plan:FuzzDecodeReport \
	internal/mask:FuzzMaskAgreement internal/worker:FuzzPlan
FUZZ_TIME ?= 10s

.PHONY: fuzz-short
fuzz-short: build ## Run every fuzz target for FUZZ_TIME (10s); new failures land in testdata/fuzz.
	for target in $(FUZZ_TARGETS); do \
	  LETHE_BINARY=$(BIN)/lethe go test -run '^$$' -fuzz "^$${target#*:}$$" -fuzztime $(FUZZ_TIME) \
	    -fuzzminimizetime 100x -parallel 1 ./$${target%%:*}/ || exit 1; \
	done

.PHONY: bench
bench: test-deps build ## Run the benchmarks and print their figures.
	LETHE_BINARY=$(BIN)/lethe go test -run '^$$' -bench . -benchtime 1x -timeout 60m ./...

##@ Running

.PHONY: run
run: build ## Run the manager against the cluster in the current kubeconfig.
	$(BIN)/lethe manager --health-probe-bind-address=:8081 --metrics-bind-address=:8080

.PHONY: demo
demo: test-deps build ## Run Lethe locally end to end and print what it did.
	hack/demo.sh
