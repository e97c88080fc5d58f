package jobrunner

import (
	"fmt"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
)

// failureAction is what the Job's pod failure policy says about a failed pod, the way the
// Job controller reads it: the first rule that matches decides; without a policy, or when
// no rule matches, the failure counts towards the backoff limit.
//
// FailIndex (which the API server allows only with backoffLimitPerIndex, which the runner
// does not implement) counts like a plain failure.
func failureAction(job *batchv1.Job, pod *corev1.Pod, container string, exitCode int32) (batchv1.PodFailurePolicyAction, string) {
	policy := job.Spec.PodFailurePolicy
	if policy == nil {
		return batchv1.PodFailurePolicyActionCount, ""
	}
	for i, rule := range policy.Rules {
		matched := ""
		switch {
		case rule.OnExitCodes != nil && exitCodesMatch(rule.OnExitCodes, container, exitCode):
			matched = fmt.Sprintf("Container %s for pod %s/%s failed with exit code %d", container, pod.Namespace, pod.Name, exitCode)
		case len(rule.OnPodConditions) > 0:
			if c, ok := conditionMatches(rule.OnPodConditions, pod); ok {
				matched = fmt.Sprintf("Pod %s/%s has condition %s", pod.Namespace, pod.Name, c)
			}
		}
		if matched == "" {
			continue
		}
		if rule.Action == batchv1.PodFailurePolicyActionFailIndex {
			return batchv1.PodFailurePolicyActionCount, ""
		}
		return rule.Action, fmt.Sprintf("%s matching %s rule at index %d", matched, rule.Action, i)
	}
	return batchv1.PodFailurePolicyActionCount, ""
}

// exitCodesMatch: In matches an exit code in the set; NotIn one outside it, other than 0.
func exitCodesMatch(req *batchv1.PodFailurePolicyOnExitCodesRequirement, container string, exitCode int32) bool {
	if req.ContainerName != nil && *req.ContainerName != container {
		return false
	}
	in := false
	for _, v := range req.Values {
		in = in || v == exitCode
	}
	switch req.Operator {
	case batchv1.PodFailurePolicyOnExitCodesOpIn:
		return in
	case batchv1.PodFailurePolicyOnExitCodesOpNotIn:
		return !in && exitCode != 0
	}
	return false
}

func conditionMatches(patterns []batchv1.PodFailurePolicyOnPodConditionsPattern, pod *corev1.Pod) (corev1.PodConditionType, bool) {
	for _, p := range patterns {
		for _, c := range pod.Status.Conditions {
			if c.Type == p.Type && c.Status == p.Status {
				return c.Type, true
			}
		}
	}
	return "", false
}
