package worker

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/lethe-operator/lethe/internal/engine"
	"github.com/lethe-operator/lethe/internal/plan"
)

// ExportFile is the name of the JSON document an export writes into Options.ExportDir;
// each table's rows also go to <table>.csv beside it.
const ExportFile = "export.json"

// export writes one subject's rows from every linked table as one JSON document and one
// CSV file per table. Rows stream from the database to the files: memory stays flat.
func (r *runner) export(ctx context.Context) {
	sub := r.plan.Subjects[0]
	value, err := readSubjectValue(sub)
	if err != nil {
		r.fail(err)
		return
	}
	rows, results, err := r.findSubject(ctx, sub, value)
	r.report.Results = append(r.report.Results, results...)
	if err != nil {
		r.failIn(err, "", "finding subject "+sub.ID)
		return
	}
	if len(rows) == 0 {
		return
	}
	dir := r.plan.Options.ExportDir
	if err := os.MkdirAll(dir, 0o700); err != nil {
		r.failf(plan.ErrInternal, "cannot create the export directory %s", dir)
		return
	}
	doc, err := newExportDoc(filepath.Join(dir, ExportFile), r.plan.Database.Name, sub.ID)
	if err != nil {
		r.failf(plan.ErrInternal, "cannot write %s in the export directory", ExportFile)
		return
	}
	for _, row := range rows {
		if !r.exportTree(ctx, doc, sub, row) {
			doc.abandon()
			return
		}
	}
	if err := doc.close(); err != nil {
		r.failf(plan.ErrInternal, "cannot finish %s in the export directory", ExportFile)
		return
	}
	if r.plan.Options.ExportSecret != nil {
		r.deliver(ctx)
	}
}

// exportTree exports the subject's rows in the tables linked to row, the subject table
// first; it reports false after a failure.
func (r *runner) exportTree(ctx context.Context, doc *exportDoc, sub plan.Subject, row subjectRow) bool {
	tables := r.schema.tree(row.t)
	slices.Reverse(tables)
	for _, t := range tables {
		n, err := r.exportTable(ctx, doc, t, linkedTo(t, row.t, row.key))
		if err != nil {
			r.report.Results = append(r.report.Results, plan.Result{Table: t.name(), Subject: sub.ID, Outcome: plan.OutcomeFailed})
			r.failIn(err, t.name(), "exporting table "+t.name())
			return false
		}
		r.report.Results = append(r.report.Results, plan.Result{Table: t.name(), Subject: sub.ID, Outcome: plan.OutcomeExported, Rows: n})
		r.logf("subject %s: table %s: exported %d", sub.ID, t.name(), n)
	}
	return true
}

func (r *runner) exportTable(ctx context.Context, doc *exportDoc, t *table, where predicate) (int64, error) {
	csvPath := filepath.Join(r.plan.Options.ExportDir, fileName(t.name())+".csv")
	f, err := os.OpenFile(csvPath, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return 0, engine.Errorf(plan.ErrInternal, "cannot write %s.csv in the export directory", fileName(t.name()))
	}
	defer f.Close()
	out := csv.NewWriter(f)
	header := make([]string, len(t.cat.Columns))
	categories := make([]string, len(t.cat.Columns))
	for i, c := range t.cat.Columns {
		header[i] = c.Name
		if mc, ok := t.column(c.Name); ok {
			categories[i] = mc.category
		}
	}
	if err := out.Write(header); err != nil {
		return 0, err
	}
	doc.startTable(t.name())
	var n int64
	err = r.eng.Tx(ctx, func(tx *sql.Tx) error {
		q := newQuery(r.eng).sql("SELECT ")
		for i, c := range t.cat.Columns {
			q.sql(sep(i, ", "), ref("t", c))
		}
		q.sql(" FROM ", t.cat.Quoted, " t WHERE ")
		where(q, "t")
		orderBy(q, "t", t.pk)
		return eachRow(ctx, tx, q, func(values []any) error {
			n++
			record := make([]string, len(values))
			for i, v := range values {
				values[i] = exportValue(v)
				record[i] = csvValue(values[i])
			}
			if err := out.Write(record); err != nil {
				return err
			}
			return doc.row(header, categories, values)
		})
	})
	if err != nil {
		return n, err
	}
	doc.endTable()
	out.Flush()
	if err := out.Error(); err != nil {
		return n, err
	}
	return n, f.Close()
}

// eachRow runs q and calls fn with every row's values.
func eachRow(ctx context.Context, tx *sql.Tx, q *query, fn func([]any) error) error {
	rows, err := tx.QueryContext(ctx, q.String(), q.args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return err
	}
	values := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for rows.Next() {
		for i := range values {
			values[i] = nil
			ptrs[i] = &values[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		if err := fn(values); err != nil {
			return err
		}
	}
	return rows.Err()
}

// exportValue turns a scanned value into one JSON and CSV can carry: text as text,
// binary as base64, times in RFC 3339.
func exportValue(v any) any {
	switch x := v.(type) {
	case []byte:
		if utf8.Valid(x) {
			return string(x)
		}
		return base64.StdEncoding.EncodeToString(x)
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	}
	return v
}

func csvValue(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	}
	return fmt.Sprint(v)
}

// fileName makes a table name safe as a file name.
func fileName(name string) string {
	return strings.Map(func(r rune) rune {
		if r == '-' || r == '_' || r == '.' || (r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') {
			return r
		}
		return '_'
	}, name)
}

// exportDoc streams the JSON document:
// {"database": ..., "subject": ..., "exportedAt": ..., "tables": {"t": [{"col": {"value": v, "category": c}}]}}
type exportDoc struct {
	f      *os.File
	w      *bufio.Writer
	path   string
	tables int
	rows   int
	err    error
}

func newExportDoc(path, database, subject string) (*exportDoc, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, err
	}
	d := &exportDoc{f: f, w: bufio.NewWriter(f), path: path}
	d.printf(`{"database":%s,"subject":%s,"exportedAt":%s,"tables":{`,
		jsonText(database), jsonText(subject), jsonText(time.Now().UTC().Format(time.RFC3339)))
	return d, d.err
}

func (d *exportDoc) printf(format string, args ...any) {
	if d.err == nil {
		_, d.err = fmt.Fprintf(d.w, format, args...)
	}
}

func (d *exportDoc) startTable(name string) {
	d.printf("%s%s:[", sep(d.tables, ","), jsonText(name))
	d.tables++
	d.rows = 0
}

func (d *exportDoc) row(columns, categories []string, values []any) error {
	d.printf("%s{", sep(d.rows, ","))
	d.rows++
	for i, c := range columns {
		v, err := json.Marshal(values[i])
		if err != nil {
			return err
		}
		d.printf(`%s%s:{"value":%s`, sep(i, ","), jsonText(c), v)
		if categories[i] != "" {
			d.printf(`,"category":%s`, jsonText(categories[i]))
		}
		d.printf("}")
	}
	d.printf("}")
	return d.err
}

func (d *exportDoc) endTable() { d.printf("]") }

func (d *exportDoc) close() error {
	d.printf("}}\n")
	if d.err == nil {
		d.err = d.w.Flush()
	}
	if err := d.f.Close(); d.err == nil {
		d.err = err
	}
	return d.err
}

// abandon removes a half-written document: a partial export must not pass for a full one.
func (d *exportDoc) abandon() {
	d.f.Close()
	os.Remove(d.path)
}

func jsonText(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
