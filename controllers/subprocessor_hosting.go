package controllers

import (
	"context"
	"fmt"
	"slices"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	privacyv1alpha1 "github.com/lethe-operator/lethe/api/v1alpha1"
	"github.com/lethe-operator/lethe/internal/transfer"
)

// SubprocessorHostingConditions returns a TenantDatabase's conditions about the
// Subprocessors that host it (its hostedBy):
//
//   - SubprocessorsCompliant: False when a name in hostedBy has no Subprocessor or names
//     one whose transfer is not compliant.
//   - CategoriesDisclosed, a warning: False when categories (those of the database's
//     DataMap) include some that a hosting Subprocessor does not list in dataCategories:
//     the data flows there but the register does not say so.
//
// Both carry generation as observedGeneration. The transfer is judged from each
// Subprocessor's spec, so the answer does not wait for the Subprocessor's own status.
// Only API errors other than NotFound are returned.
func SubprocessorHostingConditions(ctx context.Context, c client.Reader, generation int64, hostedBy []string, categories []privacyv1alpha1.Category) ([]metav1.Condition, error) {
	var missing, notCompliant, undisclosed []string
	for _, name := range uniqueSorted(hostedBy) {
		sp := &privacyv1alpha1.Subprocessor{}
		err := c.Get(ctx, types.NamespacedName{Name: name}, sp)
		if apierrors.IsNotFound(err) || (err == nil && sp.DeletionTimestamp != nil) {
			missing = append(missing, name)
			continue
		}
		if err != nil {
			return nil, err
		}
		if v := transfer.Assess(sp.Spec.Country, sp.GetTransferMechanism()); !v.Compliant {
			notCompliant = append(notCompliant, fmt.Sprintf("%s (%s)", name, v.Reason))
		}
		if gaps := unlisted(categories, sp.Spec.DataCategories); len(gaps) > 0 {
			undisclosed = append(undisclosed, fmt.Sprintf("%s does not list %s", name, strings.Join(gaps, ", ")))
		}
	}
	return []metav1.Condition{
		compliantCondition(generation, len(hostedBy) == 0, missing, notCompliant),
		disclosedCondition(generation, undisclosed),
	}, nil
}

// SetSubprocessorHostingConditions sets the conditions of SubprocessorHostingConditions
// on a status's conditions.
func SetSubprocessorHostingConditions(conditions *[]metav1.Condition, hosting []metav1.Condition) {
	for _, c := range hosting {
		meta.SetStatusCondition(conditions, c)
	}
}

func compliantCondition(generation int64, none bool, missing, notCompliant []string) metav1.Condition {
	c := metav1.Condition{Type: privacyv1alpha1.ConditionSubprocessorsCompliant, ObservedGeneration: generation,
		Status: metav1.ConditionTrue, Reason: privacyv1alpha1.ReasonAllCompliant,
		Message: "every Subprocessor in hostedBy exists and is compliant"}
	var problems []string
	if len(missing) > 0 {
		c.Reason = privacyv1alpha1.ReasonSubprocessorMissing
		problems = append(problems, "no Subprocessor named "+strings.Join(missing, ", "))
	}
	if len(notCompliant) > 0 {
		if len(missing) == 0 {
			c.Reason = privacyv1alpha1.ReasonSubprocessorNotCompliant
		}
		problems = append(problems, "not compliant: "+strings.Join(notCompliant, ", "))
	}
	switch {
	case len(problems) > 0:
		c.Status, c.Message = metav1.ConditionFalse, strings.Join(problems, "; ")
	case none:
		c.Reason, c.Message = privacyv1alpha1.ReasonNoSubprocessors, "hostedBy names no Subprocessor"
	}
	return c
}

func disclosedCondition(generation int64, undisclosed []string) metav1.Condition {
	if len(undisclosed) == 0 {
		return metav1.Condition{Type: privacyv1alpha1.ConditionCategoriesDisclosed, ObservedGeneration: generation,
			Status: metav1.ConditionTrue, Reason: privacyv1alpha1.ReasonAllDisclosed,
			Message: "every hosting Subprocessor lists the DataMap's categories of personal data"}
	}
	return metav1.Condition{Type: privacyv1alpha1.ConditionCategoriesDisclosed, ObservedGeneration: generation,
		Status: metav1.ConditionFalse, Reason: privacyv1alpha1.ReasonCategoriesUndisclosed,
		Message: strings.Join(undisclosed, "; ") + ": add them to its dataCategories, which the register publishes"}
}

// DataMapCategories returns the distinct categories of a DataMap's personal columns, sorted.
func DataMapCategories(dm *privacyv1alpha1.DataMap) []privacyv1alpha1.Category {
	var categories []privacyv1alpha1.Category
	for _, t := range dm.Spec.Tables {
		for _, c := range t.Columns {
			categories = append(categories, c.Category)
		}
	}
	slices.Sort(categories)
	return slices.Compact(categories)
}

// unlisted returns the categories missing from listed, sorted.
func unlisted(categories, listed []privacyv1alpha1.Category) []string {
	var gaps []string
	for _, c := range categories {
		if !slices.Contains(listed, c) && !slices.Contains(gaps, string(c)) {
			gaps = append(gaps, string(c))
		}
	}
	slices.Sort(gaps)
	return gaps
}

func uniqueSorted(names []string) []string {
	out := slices.Clone(names)
	slices.Sort(out)
	return slices.Compact(out)
}
