package worker

import (
	"errors"
	"fmt"
	"slices"

	"github.com/lethe-operator/lethe/internal/engine"
	"github.com/lethe-operator/lethe/internal/identifier"
	"github.com/lethe-operator/lethe/internal/mask"
	"github.com/lethe-operator/lethe/internal/plan"
)

// schema is the DataMap resolved against the introspected catalog: every name in it has
// been found in the database, so SQL is built from catalog objects only.
type schema struct {
	tables []*table
	byName map[string]*table
	// norms is how identifiers of each identity type are compared.
	norms map[string]identifier.Normalization
}

// table is a DataMap table resolved against the catalog.
type table struct {
	spec plan.Table
	cat  *engine.Table
	pk   []*engine.Column
	// parent is the next table on the way to the subject. A row of this table and a row
	// of its parent belong together when mine equals theirs, pairwise. With up false the
	// link is subjectVia (mine references the parent's key theirs: each row has at most
	// one parent row); with up true it is referencedBy (the parent's columns theirs
	// reference this table's key mine: a row may be shared by several parent rows).
	parent       *table
	up           bool
	mine, theirs []*engine.Column
	children     []*table
	// columns are the DataMap's columns with their compiled masks, keep included.
	columns     []*maskedColumn
	identifiers map[string]*engine.Column
	// holds are the legal holds that keep this table's rows: its own, and those of the
	// tables above it whose hold covers the record.
	holds  []*hold
	guards []*guard
	// incoming are every reference to this table's rows: foreign keys in the catalog and
	// the DataMap's links, unenforced ones included.
	incoming []reference
}

// maskedColumn is a personal column and its compiled strategy.
type maskedColumn struct {
	col      *engine.Column
	category string
	strategy string
	masker   mask.Masker
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

// linksTo reports whether t reaches ancestor through its chain of links (or is it).
func (t *table) linksTo(ancestor *table) bool {
	for cur := t; cur != nil; cur = cur.parent {
		if cur == ancestor {
			return true
		}
	}
	return false
}

// root is the subject table t's chain of links ends at.
func (t *table) root() *table {
	for t.parent != nil {
		t = t.parent
	}
	return t
}

// depthBelow is the number of links from t up to ancestor.
func (t *table) depthBelow(ancestor *table) int {
	d := 0
	for cur := t; cur != ancestor; cur = cur.parent {
		d++
	}
	return d
}

// sharedVia returns the tables on t's way to its subject (t included) whose rows may be
// shared: those linked by referencedBy. A row of t belongs to its subject alone only
// when none of their rows on its way is shared.
func (t *table) sharedVia() []*table {
	var out []*table
	for cur := t; cur != nil; cur = cur.parent {
		if cur.up {
			out = append(out, cur)
		}
	}
	return out
}

// tree returns the tables linked to root (root included), deepest first: the order in
// which rows can be deleted without breaking a subjectVia reference, and in which a
// killed run leaves the subject findable (the subject's own row changes last).
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
	s := &schema{byName: map[string]*table{}, norms: map[string]identifier.Normalization{}}
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
	for _, t := range s.tables {
		t.incoming = incomingReferences(s, t)
		resolveHolds(s, t, &mm)
		for _, g := range t.spec.Guards {
			if gd := resolveGuard(t, g, "guard", &mm); gd != nil {
				t.guards = append(t.guards, gd)
			}
		}
	}
	resolveIdentityTypes(s, dm, &mm)
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
}

// checkChains refuses loops of links: a chain must end at a table without a parent.
func checkChains(s *schema, mm *mismatches) {
	for _, t := range s.tables {
		seen := map[*table]bool{}
		for cur := t; cur != nil; cur = cur.parent {
			if seen[cur] {
				mm.add(t.name(), "", plan.ErrInvalidPlan, "the links from table %q loop back to table %q and never reach a data subject", t.name(), cur.name())
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
				"column %q of table %q: %s would change a primary key or a column of a subjectVia or referencedBy link, which Lethe uses to find rows", spec.Name, t.name(), spec.Mask.Strategy)
			continue
		}
		t.columns = append(t.columns, &maskedColumn{col: col, category: spec.Category, strategy: spec.Mask.Strategy, masker: m})
	}
}

// isKeyColumn reports whether col is a column Lethe navigates by: the DataMap's primary
// key, a column of the table's own link, or a column of the table a child's link joins on.
func isKeyColumn(t *table, col *engine.Column) bool {
	if slices.Contains(t.pk, col) || slices.Contains(t.mine, col) {
		return true
	}
	for _, child := range t.children {
		if slices.Contains(child.theirs, col) {
			return true
		}
	}
	return false
}

// resolveIdentityTypes sets the normalisation of every identity type the DataMap's tables
// use or its identityTypes name.
func resolveIdentityTypes(s *schema, dm plan.DataMap, mm *mismatches) {
	types := map[string]bool{}
	for _, t := range s.tables {
		for typ := range t.identifiers {
			types[typ] = true
		}
	}
	for typ := range dm.IdentityTypes {
		types[typ] = true
	}
	for typ := range types {
		var configured []string
		if it, ok := dm.IdentityTypes[typ]; ok {
			configured = it.Normalize
			if configured == nil {
				configured = []string{}
			}
		}
		n, err := identifier.For(typ, configured)
		if err != nil {
			mm.add("", "", plan.ErrInvalidPlan, "identityTypes: %v", err)
			continue
		}
		s.norms[typ] = n
	}
}

// normalization is how identifiers of the identity type are compared.
func (s *schema) normalization(identityType string) identifier.Normalization {
	if n, ok := s.norms[identityType]; ok {
		return n
	}
	return identifier.Default(identityType)
}
