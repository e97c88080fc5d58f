// Package v1alpha1 contains the API types of Lethe's privacy.lethe.dev group.
// +kubebuilder:object:generate=true
// +groupName=privacy.lethe.dev
package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the group and version of Lethe's API.
	GroupVersion = schema.GroupVersion{Group: "privacy.lethe.dev", Version: "v1alpha1"}

	// SchemeBuilder registers Lethe's types with a scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

	// AddToScheme adds Lethe's types to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)
