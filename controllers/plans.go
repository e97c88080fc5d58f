package controllers

import (
	privacyv1alpha1 "github.com/lethe-operator/lethe/api/v1alpha1"
	"github.com/lethe-operator/lethe/internal/plan"
)

// dataMapPlan turns a DataMap into the plan's description of the schema.
func dataMapPlan(dm *privacyv1alpha1.DataMap) plan.DataMap {
	out := plan.DataMap{}
	for _, t := range dm.Spec.Tables {
		out.Tables = append(out.Tables, tablePlan(t))
	}
	return out
}

func tablePlan(t privacyv1alpha1.Table) plan.Table {
	pt := plan.Table{
		Name:       string(t.Name),
		PrimaryKey: names(t.PrimaryKey),
		OnErasure:  string(t.OnErasure),
	}
	if len(t.Identifiers) > 0 {
		pt.Identifiers = map[string]string{}
		for typ, col := range t.Identifiers {
			pt.Identifiers[typ] = string(col)
		}
	}
	if v := t.SubjectVia; v != nil {
		pt.SubjectVia = &plan.SubjectVia{
			Columns: names(v.Columns), Table: string(v.References.Table), ReferencedColumns: names(v.References.Columns),
		}
	}
	for _, c := range t.Columns {
		pt.Columns = append(pt.Columns, plan.Column{
			Name: string(c.Name), Category: string(c.Category),
			Mask: plan.Mask{Strategy: string(c.Mask.Strategy), Value: c.Mask.Value, To: c.Mask.To, Width: int(c.Mask.Width)},
		})
	}
	if h := t.LegalHold; h != nil {
		pt.LegalHold = &plan.LegalHold{Basis: h.Basis, RetainFor: string(h.RetainFor), From: string(h.From)}
	}
	return pt
}

func names(ids []privacyv1alpha1.Identifier) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = string(id)
	}
	return out
}

// DataMapPlan is the plan's description of the DataMap's schema, as every Job gets it
// (tests check a drafted DataMap with the verify plan the controller would send).
func DataMapPlan(dm *privacyv1alpha1.DataMap) plan.DataMap { return dataMapPlan(dm) }
