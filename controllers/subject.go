package controllers

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	privacyv1alpha1 "github.com/lethe-operator/lethe/api/v1alpha1"
)

// Helpers shared by the request kinds. A request for a data subject names the subject
// (type + Secret) and the databases the same way whether it asks for erasure or access;
// these adapt an AccessRequest to the ErasureRequest helpers rather than copying them.

// subjectRequest is the ErasureRequest view of another request kind: the same subject,
// selector and namespace, for fingerprint and selectDatabases.
func subjectRequest(namespace string, subject privacyv1alpha1.ErasureSubject, selector *metav1.LabelSelector) *privacyv1alpha1.ErasureRequest {
	return &privacyv1alpha1.ErasureRequest{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace},
		Spec:       privacyv1alpha1.ErasureRequestSpec{Subject: subject, DatabaseSelector: selector},
	}
}

// subjectFingerprint computes the keyed fingerprint of the subject's identifier, exactly
// as for ErasureRequests (same key, same normalisation), so requests for one subject
// share it. reason and msg say why it could not be computed (a Secret is missing).
func subjectFingerprint(ctx context.Context, apiReader client.Reader, operatorNamespace, keySecret, namespace string,
	subject privacyv1alpha1.ErasureSubject, selector *metav1.LabelSelector) (fp, reason, msg string, err error) {
	r := &ErasureRequestReconciler{APIReader: apiReader, OperatorNamespace: operatorNamespace, FingerprintKeySecret: keySecret}
	if r.FingerprintKeySecret == "" {
		r.FingerprintKeySecret = DefaultFingerprintKeySecret
	}
	return r.fingerprint(ctx, subjectRequest(namespace, subject, selector))
}
