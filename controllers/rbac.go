// Package controllers holds Lethe's reconcilers, one per kind, and the Job contract they share.
package controllers

// The manager records Events and holds a leader-election Lease.
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=coordination.k8s.io,resources=leases,verbs=get;list;watch;create;update;patch;delete
