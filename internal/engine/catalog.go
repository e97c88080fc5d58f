package engine

import (
	"slices"
	"sort"

	"github.com/lethe-operator/lethe/internal/mask"
)

// Catalog is the introspected schema. Its tables and columns carry their names quoted by
// the engine: SQL is only ever built from these, so a name that is not in the database
// cannot reach a statement.
type Catalog struct {
	tables map[string]*Table
}

// Table is one table of the catalog.
type Table struct {
	// Name is the table's name as the database spells it.
	Name string
	// Quoted is Name quoted for the engine.
	Quoted     string
	Columns    []*Column
	PrimaryKey []*Column
	// Unique lists the unique constraints and unique indexes, the primary key included:
	// a masked value in one of their columns must stay unique. A partial or expression
	// index is listed with its plain columns.
	Unique [][]*Column
	// Keys are the unique constraints and indexes that make their columns a key of the
	// whole table: no predicate, no expression.
	Keys [][]*Column
	// ForeignKeys are the foreign keys from this table; ReferencedBy those pointing at it.
	ForeignKeys  []*ForeignKey
	ReferencedBy []*ForeignKey
	byName       map[string]*Column
}

// Column is one column of a table.
type Column struct {
	Name   string
	Quoted string
	// Type is the database's type name (for messages).
	Type      string
	Kind      mask.ValueKind
	Nullable  bool
	MaxLength int
	table     *Table
}

// ForeignKey is a (possibly composite) foreign key: Columns of Table reference RefColumns
// of RefTable, pairwise.
type ForeignKey struct {
	Name       string
	Table      *Table
	Columns    []*Column
	RefTable   *Table
	RefColumns []*Column
}

// Table returns the table named exactly name.
func (c *Catalog) Table(name string) (*Table, bool) {
	t, ok := c.tables[name]
	return t, ok
}

// TableNames returns the names of the catalog's tables, sorted.
func (c *Catalog) TableNames() []string {
	names := make([]string, 0, len(c.tables))
	for n := range c.tables {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Column returns the column named exactly name.
func (t *Table) Column(name string) (*Column, bool) {
	col, ok := t.byName[name]
	return col, ok
}

// Table returns the table the column belongs to.
func (c *Column) Table() *Table { return c.table }

// IsUnique reports whether the column is part of the primary key or of a unique constraint
// or index: a masked value there must stay unique.
func (t *Table) IsUnique(col *Column) bool {
	for _, u := range t.Unique {
		if slices.Contains(u, col) {
			return true
		}
	}
	return false
}

// References reports whether the column is part of a foreign key of its table.
func (t *Table) References(col *Column) bool {
	for _, fk := range t.ForeignKeys {
		if slices.Contains(fk.Columns, col) {
			return true
		}
	}
	return false
}

// Referenced reports whether a foreign key of some table points at the column.
func (t *Table) Referenced(col *Column) bool {
	for _, fk := range t.ReferencedBy {
		if slices.Contains(fk.RefColumns, col) {
			return true
		}
	}
	return false
}

// ForeignKeysTo returns the foreign keys from t to ref.
func (t *Table) ForeignKeysTo(ref *Table) []*ForeignKey {
	var out []*ForeignKey
	for _, fk := range t.ForeignKeys {
		if fk.RefTable == ref {
			out = append(out, fk)
		}
	}
	return out
}

// InPrimaryKey reports whether the column is part of the primary key.
func (t *Table) InPrimaryKey(col *Column) bool { return slices.Contains(t.PrimaryKey, col) }

// IsKey reports whether cols, in any order, are exactly the primary key or a unique
// constraint (or index without predicate or expression) whose columns are all NOT NULL:
// a key that identifies rows.
func (t *Table) IsKey(cols []*Column) bool {
	for _, u := range t.Keys {
		if sameSet(u, cols) && !anyNullable(u) {
			return true
		}
	}
	return false
}

// MaskColumn describes col to a masking strategy.
func (t *Table) MaskColumn(col *Column) mask.Column {
	return mask.Column{
		Kind:       col.Kind,
		Nullable:   col.Nullable,
		Unique:     t.IsUnique(col),
		MaxLength:  col.MaxLength,
		References: t.References(col),
		Referenced: t.Referenced(col),
	}
}

func sameSet(a, b []*Column) bool {
	if len(a) != len(b) {
		return false
	}
	for _, c := range a {
		if !slices.Contains(b, c) {
			return false
		}
	}
	return true
}

func anyNullable(cols []*Column) bool {
	for _, c := range cols {
		if c.Nullable {
			return true
		}
	}
	return false
}

// catalogBuilder assembles a Catalog from the rows of the engine's catalog queries.
type catalogBuilder struct {
	quote func(string) string
	cat   *Catalog
}

func newCatalogBuilder(quote func(string) string) *catalogBuilder {
	return &catalogBuilder{quote: quote, cat: &Catalog{tables: map[string]*Table{}}}
}

func (b *catalogBuilder) addColumn(table, name, typ string, kind mask.ValueKind, nullable bool, maxLength int) {
	t, ok := b.cat.tables[table]
	if !ok {
		t = &Table{Name: table, Quoted: b.quote(table), byName: map[string]*Column{}}
		b.cat.tables[table] = t
	}
	col := &Column{Name: name, Quoted: b.quote(name), Type: typ, Kind: kind, Nullable: nullable, MaxLength: maxLength, table: t}
	t.Columns = append(t.Columns, col)
	t.byName[name] = col
}

// columns resolves names of table; it returns nil if the table or a column is unknown
// (constraints on objects the catalog query did not list, such as views, are ignored).
func (b *catalogBuilder) columns(table string, names []string) (*Table, []*Column) {
	t, ok := b.cat.tables[table]
	if !ok {
		return nil, nil
	}
	cols := make([]*Column, 0, len(names))
	for _, n := range names {
		c, ok := t.byName[n]
		if !ok {
			return nil, nil
		}
		cols = append(cols, c)
	}
	return t, cols
}

// addUnique records a unique constraint or index; key is false for a partial or
// expression index, which does not make its columns a key of the table.
func (b *catalogBuilder) addUnique(table string, names []string, primary, key bool) {
	t, cols := b.columns(table, names)
	if t == nil || len(cols) == 0 {
		return
	}
	if primary {
		t.PrimaryKey = cols
	}
	t.Unique = append(t.Unique, cols)
	if key {
		t.Keys = append(t.Keys, cols)
	}
}

func (b *catalogBuilder) addForeignKey(name, table string, names []string, refTable string, refNames []string) {
	t, cols := b.columns(table, names)
	rt, refCols := b.columns(refTable, refNames)
	if t == nil || rt == nil || len(cols) != len(refCols) {
		return
	}
	fk := &ForeignKey{Name: name, Table: t, Columns: cols, RefTable: rt, RefColumns: refCols}
	t.ForeignKeys = append(t.ForeignKeys, fk)
	rt.ReferencedBy = append(rt.ReferencedBy, fk)
}

// keyParts groups the rows of a constraint query (one row per constraint column, in
// order) by constraint.
type keyParts struct {
	order []string
	parts map[string]*keyPart
}

type keyPart struct {
	table, refTable string
	primary, key    bool
	columns, refs   []string
}

func (k *keyParts) add(id string, table string, column string) *keyPart {
	if k.parts == nil {
		k.parts = map[string]*keyPart{}
	}
	p, ok := k.parts[id]
	if !ok {
		p = &keyPart{table: table}
		k.parts[id] = p
		k.order = append(k.order, id)
	}
	p.columns = append(p.columns, column)
	return p
}
