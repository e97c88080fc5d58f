// Package bench holds Lethe's data-plane benchmark (`make bench`): the worker's retention
// plan against one raw UPDATE doing the same masking and against a row-at-a-time loop, on
// throwaway PostgreSQL and MariaDB servers. It has no code of its own besides the benchmark;
// nothing in it runs under plain `go test`.
package bench
