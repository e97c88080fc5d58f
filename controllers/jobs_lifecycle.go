package controllers

import (
	"context"
	"errors"
	"fmt"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/lethe-operator/lethe/internal/plan"
)

// ErrNoReport means a finished Job's pod left no readable report.
var ErrNoReport = errors.New("the worker left no report in its termination message")

// ensureJob returns the Job of that name, creating it (owned by owner) and its plan
// ConfigMap (owned by the Job) when missing. An existing Job is never replaced: its name
// stands for the work, so finding it means the work is already under way or done.
func ensureJob(ctx context.Context, c client.Client, scheme *runtime.Scheme, owner client.Object,
	cm *corev1.ConfigMap, job *batchv1.Job) (*batchv1.Job, error) {
	live := &batchv1.Job{}
	err := c.Get(ctx, client.ObjectKeyFromObject(job), live)
	switch {
	case apierrors.IsNotFound(err):
		if err := controllerutil.SetControllerReference(owner, job, scheme); err != nil {
			return nil, err
		}
		if err := c.Create(ctx, job); err != nil {
			if !apierrors.IsAlreadyExists(err) {
				return nil, fmt.Errorf("creating Job %s: %w", job.Name, err)
			}
			// Someone else created it in between: use theirs.
			if err := c.Get(ctx, client.ObjectKeyFromObject(job), live); err != nil {
				return nil, err
			}
		} else {
			live = job
		}
	case err != nil:
		return nil, err
	}
	if finished, _ := jobFinished(live); finished || live.DeletionTimestamp != nil {
		return live, nil
	}
	return live, ensurePlanConfigMap(ctx, c, scheme, live, cm)
}

// ensurePlanConfigMap creates the plan's ConfigMap, owned by the Job so it goes with it.
func ensurePlanConfigMap(ctx context.Context, c client.Client, scheme *runtime.Scheme, job *batchv1.Job, cm *corev1.ConfigMap) error {
	err := c.Get(ctx, client.ObjectKeyFromObject(cm), &corev1.ConfigMap{})
	if !apierrors.IsNotFound(err) {
		return err
	}
	if err := controllerutil.SetOwnerReference(job, cm, scheme); err != nil {
		return err
	}
	if err := c.Create(ctx, cm); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating the plan ConfigMap %s: %w", cm.Name, err)
	}
	return nil
}

// jobFinished says whether the Job has finished and whether it succeeded.
func jobFinished(job *batchv1.Job) (finished, succeeded bool) {
	for _, c := range job.Status.Conditions {
		if c.Status != corev1.ConditionTrue {
			continue
		}
		switch c.Type {
		case batchv1.JobComplete:
			return true, true
		case batchv1.JobFailed:
			return true, false
		}
	}
	return false, false
}

// jobFailureMessage is the reason a failed Job gives (deadline, backoff limit).
func jobFailureMessage(job *batchv1.Job) string {
	for _, c := range job.Status.Conditions {
		if c.Type == batchv1.JobFailed && c.Status == corev1.ConditionTrue {
			return fmt.Sprintf("%s: %s", c.Reason, c.Message)
		}
	}
	return ""
}

// readReport reads the worker's report of a plain (not Indexed) Job: its most recently
// finished pod's termination message.
func readReport(ctx context.Context, r client.Reader, job *batchv1.Job) (*plan.Report, error) {
	reports, err := readIndexedReports(ctx, r, job)
	if err != nil {
		return nil, err
	}
	return reports[0], nil
}

// activeJobs lists the owner's unfinished Jobs of one plan kind.
func activeJobs(ctx context.Context, c client.Client, namespace, ownerKind, ownerName string, kind plan.Kind) ([]batchv1.Job, error) {
	jobs := &batchv1.JobList{}
	if err := c.List(ctx, jobs, client.InNamespace(namespace), client.MatchingLabels{
		LabelOwnerKind: ownerKind, LabelOwnerName: labelValue(ownerName), LabelPlanKind: string(kind),
	}); err != nil {
		return nil, err
	}
	var active []batchv1.Job
	for _, j := range jobs.Items {
		if done, _ := jobFinished(&j); !done {
			active = append(active, j)
		}
	}
	return active, nil
}

// readIndexedReports reads one report per completion index (one for a plain Job): each
// index's most recently finished pod. The controller reads Pods uncached: only this
// Job's, by label.
func readIndexedReports(ctx context.Context, reader client.Reader, job *batchv1.Job) ([]*plan.Report, error) {
	pods := &corev1.PodList{}
	if err := reader.List(ctx, pods, client.InNamespace(job.Namespace),
		client.MatchingLabels{batchv1.JobNameLabel: job.Name}); err != nil {
		return nil, err
	}
	latest := map[string]corev1.ContainerStateTerminated{}
	for _, pod := range pods.Items {
		index := pod.Annotations[batchv1.JobCompletionIndexAnnotation]
		for _, cs := range pod.Status.ContainerStatuses {
			t := cs.State.Terminated
			if cs.Name != workerContainer || t == nil || t.Message == "" {
				continue
			}
			if prev, ok := latest[index]; !ok || prev.FinishedAt.Before(&t.FinishedAt) {
				latest[index] = *t
			}
		}
	}
	if len(latest) == 0 {
		return nil, ErrNoReport
	}
	var reports []*plan.Report
	for _, t := range latest {
		report, err := plan.DecodeReport([]byte(t.Message))
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrNoReport, err)
		}
		reports = append(reports, report)
	}
	return reports, nil
}
