package controllers

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	privacyv1alpha1 "github.com/lethe-operator/lethe/api/v1alpha1"
	"github.com/lethe-operator/lethe/internal/plan"
)

func verifyJob(dm *privacyv1alpha1.DataMap) WorkerJob {
	db := &privacyv1alpha1.TenantDatabase{ObjectMeta: metav1.ObjectMeta{Name: "hotel-aurora", Namespace: "tenants"},
		Spec: privacyv1alpha1.TenantDatabaseSpec{Engine: privacyv1alpha1.EnginePostgres, Host: "aurora.db.internal", Port: 5432,
			Database: "aurora", CredentialsSecretRef: privacyv1alpha1.CredentialsRef{Name: "aurora-db"}, DataMapRef: dm.Name}}
	return WorkerJob{Owner: db, OwnerKind: kindTenantDatabase, Database: db,
		Plan: plan.Plan{Kind: plan.KindVerify, DataMap: dataMapPlan(dm)}}
}

// bigDataMap is a DataMap within every bound of its CRD: tables tables of 64 personal
// columns with long names and redact constants of 256 characters.
func bigDataMap(tables int) *privacyv1alpha1.DataMap {
	dm := &privacyv1alpha1.DataMap{ObjectMeta: metav1.ObjectMeta{Name: "everything", Namespace: "tenants"}}
	for i := range tables {
		t := privacyv1alpha1.Table{Name: privacyv1alpha1.Identifier(fmt.Sprintf("table_%02d_%s", i, strings.Repeat("t", 50))),
			PrimaryKey: []privacyv1alpha1.Identifier{"id"}, Identifiers: map[string]privacyv1alpha1.Identifier{"email": "email"}}
		for j := range 64 {
			t.Columns = append(t.Columns, privacyv1alpha1.Column{
				Name: privacyv1alpha1.Identifier(fmt.Sprintf("column_%02d_%s", j, strings.Repeat("c", 50))), Category: "name",
				Mask: privacyv1alpha1.Mask{Strategy: "redact", Value: strings.Repeat("r", 256)}})
		}
		dm.Spec.Tables = append(dm.Spec.Tables, t)
	}
	return dm
}

func TestAPlanTooLargeForAConfigMapIsRefusedWithItsSize(t *testing.T) {
	_, _, err := BuildJob(DefaultJobSettings(), verifyJob(bigDataMap(64)))
	var tooLarge *PlanTooLargeError
	if !errors.As(err, &tooLarge) {
		t.Fatalf("BuildJob: %v, want a PlanTooLargeError", err)
	}
	if tooLarge.Bytes <= maxConfigMapData || !strings.Contains(err.Error(), fmt.Sprintf("is %d bytes", tooLarge.Bytes)) {
		t.Errorf("size %d, message %q", tooLarge.Bytes, err)
	}
	cm, _, err := BuildJob(DefaultJobSettings(), verifyJob(bigDataMap(20)))
	if err != nil {
		t.Fatalf("a DataMap of 20 such tables: %v", err)
	}
	if n := len(cm.Data[planKey]); n > maxConfigMapData {
		t.Fatalf("a plan of %d bytes was let through", n)
	}
}

// TestWorkerJobsFailAtOnceOnAFixedOutcome: the Job's pod failure policy fails it on the
// worker's ExitFinal, and ignores disruptions.
func TestWorkerJobsFailAtOnceOnAFixedOutcome(t *testing.T) {
	_, job, err := BuildJob(DefaultJobSettings(), verifyJob(bigDataMap(1)))
	if err != nil {
		t.Fatal(err)
	}
	policy := job.Spec.PodFailurePolicy
	if policy == nil || len(policy.Rules) != 2 {
		t.Fatalf("pod failure policy = %+v", policy)
	}
	fail, ignore := policy.Rules[0], policy.Rules[1]
	if fail.Action != batchv1.PodFailurePolicyActionFailJob || fail.OnExitCodes == nil ||
		*fail.OnExitCodes.ContainerName != workerContainer || fail.OnExitCodes.Values[0] != plan.ExitFinal {
		t.Errorf("first rule = %+v", fail)
	}
	if ignore.Action != batchv1.PodFailurePolicyActionIgnore || ignore.OnPodConditions[0].Type != "DisruptionTarget" {
		t.Errorf("second rule = %+v", ignore)
	}
	if job.Spec.Template.Spec.RestartPolicy != "Never" {
		t.Error("a pod failure policy needs restartPolicy Never")
	}
}
