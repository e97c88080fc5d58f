// Package bench holds Lethe's control-plane benchmark (`make bench`): a burst of
// ErasureRequests across many TenantDatabases, handled by the `lethe manager` binary in
// its own process (with the local job runner) against envtest and a throwaway PostgreSQL
// server. It has no code of its own besides the benchmark; nothing in it runs under plain
// `go test`.
package bench
