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
	for typ, it := range dm.Spec.IdentityTypes {
		if out.IdentityTypes == nil {
			out.IdentityTypes = map[string]plan.IdentityType{}
		}
		steps := make([]string, len(it.Normalize))
		for i, s := range it.Normalize {
			steps[i] = string(s)
		}
		out.IdentityTypes[typ] = plan.IdentityType{Normalize: steps}
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
	pt.SubjectVia, pt.ReferencedBy = linkPlan(t.SubjectVia), linkPlan(t.ReferencedBy)
	for _, g := range t.Guards {
		pt.Guards = append(pt.Guards, guardPlan(g))
	}
	for _, c := range t.Columns {
		pt.Columns = append(pt.Columns, plan.Column{
			Name: string(c.Name), Category: string(c.Category),
			Mask: plan.Mask{Strategy: string(c.Mask.Strategy), Value: c.Mask.Value, To: c.Mask.To, Width: int(c.Mask.Width)},
		})
	}
	if h := t.LegalHold; h != nil {
		pt.LegalHold = &plan.LegalHold{Basis: h.Basis, RetainFor: string(h.RetainFor), From: string(h.From), Covers: string(h.Covers)}
	}
	return pt
}

func linkPlan(l *privacyv1alpha1.Link) *plan.Link {
	if l == nil {
		return nil
	}
	return &plan.Link{Table: string(l.Table), Columns: optionalNames(l.Columns),
		ReferencedColumns: optionalNames(l.ReferencedColumns), Unenforced: l.Unenforced}
}

func guardPlan(g privacyv1alpha1.Guard) plan.Guard {
	return plan.Guard{Name: g.Name, Where: conditionsPlan(g.Where), Per: optionalNames(g.Per), KeepAtLeast: int(g.KeepAtLeast)}
}

// conditionsPlan turns structured conditions into the plan's.
func conditionsPlan(where []privacyv1alpha1.Condition) []plan.Condition {
	var out []plan.Condition
	for _, w := range where {
		c := plan.Condition{Column: string(w.Column), Op: w.Op}
		for _, v := range w.Values {
			c.Values = append(c.Values, string(v))
		}
		if w.Value != nil {
			c.Value = string(*w.Value)
		}
		out = append(out, c)
	}
	return out
}

// optionalNames is names, but nil for none (an absent list in the plan).
func optionalNames(ids []privacyv1alpha1.Identifier) []string {
	if len(ids) == 0 {
		return nil
	}
	return names(ids)
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
