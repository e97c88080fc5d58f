package worker

import (
	"errors"
	"fmt"
	"slices"

	"github.com/lethe-operator/lethe/internal/duration"
	"github.com/lethe-operator/lethe/internal/engine"
	"github.com/lethe-operator/lethe/internal/mask"
	"github.com/lethe-operator/lethe/internal/plan"
)

// schema is the DataMap resolved against the introspected catalog: every name in it has
// been found in the database, so SQL is built from catalog objects only.
type schema struct {
	tables []*table
	byName map[string]*table
}

// table is a DataMap table resolved against the catalog.
type table struct {
	spec plan.Table
	cat  *engine.Table
	pk   []*engine.Column
	// parent is the table SubjectVia points to; via are this table's linking columns and
	// refs the parent's, pairwise.
	parent    *table
	via, refs []*engine.Column
	children  []*table
	// columns are the DataMap's columns with their compiled masks, keep included.
	columns     []*maskedColumn
	identifiers map[string]*engine.Column
	hold        *hold
}

// maskedColumn is a personal column and its compiled strategy.
type maskedColumn struct {
	col      *engine.Column
	category string
	strategy string
	masker   mask.Masker
}

// hold is a table's legal retention duty: rows are kept until From + RetainFor.
type hold struct {
	basis     string
	from      *engine.Column
	retainFor duration.Duration
}

// name is the table's name as the DataMap and the database spell it.
func (t *table) name() string { return t.cat.Name }

// masked returns the columns whose strategy changes them (keep excluded).
func (t *table) masked() []*maskedColumn {
	var out []*maskedColumn
	for _, c := range t.columns {
		if !c.masker.Keeps() {
			out = append(out, c)
		}
	}
	return out
}

// maskedColumn returns the DataMap column named name.
func (t *table) column(name string) (*maskedColumn, bool) {
	for _, c := range t.columns {
		if c.col.Name == name {
			return c, true
		}
	}
	return nil, false
}

// linksTo reports whether t reaches ancestor through its SubjectVia chain (or is it).
func (t *table) linksTo(ancestor *table) bool {
	for cur := t; cur != nil; cur = cur.parent {
		if cur == ancestor {
			return true
		}
	}
	return false
}

// root is the subject table t's SubjectVia chain ends at.
func (t *table) root() *table {
	for t.parent != nil {
		t = t.parent
	}
	return t
}

// depthBelow is the number of SubjectVia steps from t up to ancestor.
func (t *table) depthBelow(ancestor *table) int {
	d := 0
	for cur := t; cur != ancestor; cur = cur.parent {
		d++
	}
	return d
}

// tree returns the tables linked to root (root included), deepest first: the order in
// which rows can be deleted without breaking a reference, and in which a killed run
// leaves the subject findable (the subject's own row changes last).
func (s *schema) tree(root *table) []*table {
	var out []*table
	for _, t := range s.tables {
		if t.linksTo(root) {
			out = append(out, t)
		}
	}
	slices.SortStableFunc(out, func(a, b *table) int { return b.depthBelow(root) - a.depthBelow(root) })
	return out
}

// mismatches collects every difference found while resolving a plan.
type mismatches []plan.Mismatch

func (m *mismatches) add(table, column, code, format string, args ...any) {
	*m = append(*m, plan.Mismatch{Table: table, Column: column, Code: code, Message: fmt.Sprintf(format, args...)})
}

// resolveSchema checks the DataMap against the catalog and compiles its masks. It returns
// the resolved schema (only meaningful when there are no mismatches) and every mismatch.
func resolveSchema(dm plan.DataMap, cat *engine.Catalog, database string, hashKey []byte) (*schema, mismatches) {
	s := &schema{byName: map[string]*table{}}
	var mm mismatches
	if len(dm.Tables) == 0 {
		mm.add("", "", plan.ErrInvalidPlan, "the DataMap lists no tables")
	}
	for _, spec := range dm.Tables {
		if _, dup := s.byName[spec.Name]; dup {
			mm.add(spec.Name, "", plan.ErrInvalidPlan, "table %q is listed twice in the DataMap", spec.Name)
			continue
		}
		ct, ok := cat.Table(spec.Name)
		if !ok {
			mm.add(spec.Name, "", plan.ErrMissingTable, "table %q of the DataMap does not exist in database %q", spec.Name, database)
			continue
		}
		t := &table{spec: spec, cat: ct, identifiers: map[string]*engine.Column{}}
		s.byName[spec.Name] = t
		s.tables = append(s.tables, t)
		resolveTable(t, &mm)
	}
	for _, t := range s.tables {
		resolveLink(s, t, &mm)
	}
	checkChains(s, &mm)
	for _, t := range s.tables {
		compileMasks(t, &mm, hashKey)
	}
	return s, mm
}

// lookup finds a column of t by its DataMap name, recording a mismatch when it is missing.
func lookup(t *engine.Table, name, role string, mm *mismatches) (*engine.Column, bool) {
	c, ok := t.Column(name)
	if !ok {
		mm.add(t.Name, name, plan.ErrMissingColumn, "%s column %q does not exist in table %q", role, name, t.Name)
	}
	return c, ok
}

func resolveTable(t *table, mm *mismatches) {
	ct := t.cat
	if len(t.spec.PrimaryKey) == 0 {
		mm.add(ct.Name, "", plan.ErrInvalidPlan, "table %q has no primaryKey in the DataMap", ct.Name)
	}
	complete := true
	for _, name := range t.spec.PrimaryKey {
		c, ok := lookup(ct, name, "primary key", mm)
		complete = complete && ok
		t.pk = append(t.pk, c)
	}
	if complete && len(t.pk) > 0 && !ct.IsKey(t.pk) {
		mm.add(ct.Name, "", plan.ErrInvalidPlan, "primaryKey %v of table %q is neither its primary key nor a NOT NULL unique key in the database",
			t.spec.PrimaryKey, ct.Name)
	}
	for typ, name := range t.spec.Identifiers {
		if c, ok := lookup(ct, name, fmt.Sprintf("identifier (%s)", typ), mm); ok {
			t.identifiers[typ] = c
		}
	}
	switch t.spec.OnErasure {
	case "", plan.ActionAnonymize, plan.ActionDelete:
	default:
		mm.add(ct.Name, "", plan.ErrInvalidPlan, "table %q: onErasure %q is not anonymize or delete", ct.Name, t.spec.OnErasure)
	}
	if lh := t.spec.LegalHold; lh != nil {
		resolveHold(t, lh, mm)
	}
}

func resolveHold(t *table, lh *plan.LegalHold, mm *mismatches) {
	from, ok := lookup(t.cat, lh.From, "legal hold", mm)
	if ok && from.Kind != mask.KindDate && from.Kind != mask.KindTimestamp {
		mm.add(t.cat.Name, lh.From, plan.ErrInvalidPlan, "legal hold column %q of table %q is %s, not a date or timestamp", lh.From, t.cat.Name, from.Type)
		ok = false
	}
	retainFor, err := duration.Parse(lh.RetainFor)
	if err != nil {
		mm.add(t.cat.Name, "", plan.ErrInvalidPlan, "legal hold of table %q: retainFor: %v", t.cat.Name, err)
		return
	}
	if ok {
		t.hold = &hold{basis: lh.Basis, from: from, retainFor: retainFor}
	}
}

func resolveLink(s *schema, t *table, mm *mismatches) {
	via := t.spec.SubjectVia
	if via == nil {
		return
	}
	parent, ok := s.byName[via.Table]
	if !ok {
		mm.add(t.name(), "", plan.ErrInvalidPlan, "subjectVia of table %q names table %q, which is not a table of the DataMap in the database", t.name(), via.Table)
		return
	}
	if len(via.Columns) == 0 || len(via.Columns) != len(via.ReferencedColumns) {
		mm.add(t.name(), "", plan.ErrInvalidPlan, "subjectVia of table %q needs as many columns as referencedColumns (got %d and %d)",
			t.name(), len(via.Columns), len(via.ReferencedColumns))
		return
	}
	complete := true
	for i := range via.Columns {
		c, ok1 := lookup(t.cat, via.Columns[i], "subjectVia", mm)
		r, ok2 := lookup(parent.cat, via.ReferencedColumns[i], "subjectVia referenced", mm)
		complete = complete && ok1 && ok2
		t.via, t.refs = append(t.via, c), append(t.refs, r)
	}
	if complete {
		t.parent = parent
		parent.children = append(parent.children, t)
	}
}

// checkChains refuses SubjectVia cycles: a chain must end at a table without a parent.
func checkChains(s *schema, mm *mismatches) {
	for _, t := range s.tables {
		seen := map[*table]bool{}
		for cur := t; cur != nil; cur = cur.parent {
			if seen[cur] {
				mm.add(t.name(), "", plan.ErrInvalidPlan, "the subjectVia chain from table %q loops back to table %q", t.name(), cur.name())
				// Break the loop so that later walks terminate.
				t.parent = nil
				break
			}
			seen[cur] = true
		}
	}
}

func compileMasks(t *table, mm *mismatches, hashKey []byte) {
	seen := map[string]bool{}
	for _, spec := range t.spec.Columns {
		if seen[spec.Name] {
			mm.add(t.name(), spec.Name, plan.ErrInvalidPlan, "column %q is listed twice in table %q", spec.Name, t.name())
			continue
		}
		seen[spec.Name] = true
		col, ok := lookup(t.cat, spec.Name, "personal", mm)
		if !ok {
			continue
		}
		m, err := mask.Compile(spec.Mask, t.cat.MaskColumn(col), hashKey)
		if err != nil {
			code := plan.ErrIncompatible
			if !errors.Is(err, mask.ErrIncompatible) {
				code = plan.ErrInvalidPlan
			}
			mm.add(t.name(), spec.Name, code, "column %q of table %q (%s): %v", spec.Name, t.name(), col.Type, err)
			continue
		}
		if !m.Keeps() && isKeyColumn(t, col) {
			mm.add(t.name(), spec.Name, plan.ErrIncompatible,
				"column %q of table %q: %s would change a primary key or subjectVia link column, which Lethe uses to find rows", spec.Name, t.name(), spec.Mask.Strategy)
			continue
		}
		t.columns = append(t.columns, &maskedColumn{col: col, category: spec.Category, strategy: spec.Mask.Strategy, masker: m})
	}
}

// isKeyColumn reports whether col is a key Lethe navigates by: the DataMap's primary key,
// a subjectVia column, or a column a child's subjectVia references.
func isKeyColumn(t *table, col *engine.Column) bool {
	if slices.Contains(t.pk, col) || slices.Contains(t.via, col) {
		return true
	}
	for _, child := range t.children {
		if slices.Contains(child.refs, col) {
			return true
		}
	}
	return false
}
