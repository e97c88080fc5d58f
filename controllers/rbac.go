// Package controllers holds Lethe's reconcilers, one per kind, and the Job contract they share.
package controllers

// The manager records Events on the objects it reconciles, in their namespaces. Its
// leader-election Lease is granted by a Role in its own namespace (config/rbac, the chart).
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
