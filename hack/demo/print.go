package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// progress is the one line saying what the demo is doing. On a terminal it is redrawn
// in place (with \r) and shows the time elapsed; otherwise each step is a plain line.
// It is also the demo's output writer, so a report never mixes with the progress line.
type progress struct {
	mu      sync.Mutex
	out     io.Writer
	tty     bool
	started time.Time
	current string
	shown   bool
}

func newProgress(f *os.File) *progress {
	p := &progress{out: f, started: time.Now()}
	if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
		p.tty = true
		go func() {
			for range time.Tick(200 * time.Millisecond) {
				p.mu.Lock()
				if p.current != "" {
					p.draw()
				}
				p.mu.Unlock()
			}
		}()
	}
	return p
}

// step says what the demo does now.
func (p *progress) step(msg string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.current = msg
	if p.tty {
		p.draw()
		return
	}
	fmt.Fprintf(p.out, "[%3ds] %s\n", int(time.Since(p.started).Seconds()), msg)
}

var spinner = []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}

func (p *progress) draw() {
	elapsed := time.Since(p.started)
	frame := spinner[int(elapsed/(100*time.Millisecond))%len(spinner)]
	fmt.Fprintf(p.out, "\r\033[K%s [%3ds] %s", frame, int(elapsed.Seconds()), p.current)
	p.shown = true
}

// clear removes the progress line until the next step.
func (p *progress) clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.hide()
	p.current = ""
}

func (p *progress) hide() {
	if p.shown {
		fmt.Fprint(p.out, "\r\033[K")
		p.shown = false
	}
}

// Write prints report text, clearing the progress line first; the line comes back at
// the next tick.
func (p *progress) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.hide()
	return p.out.Write(b)
}

// table prints aligned columns, as kubectl does.
type table struct{ rows [][]string }

func newTable(header ...string) *table { return &table{rows: [][]string{header}} }

func (t *table) row(cells ...string) { t.rows = append(t.rows, cells) }

func (t *table) write(w io.Writer) {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 8, 3, ' ', 0)
	for _, r := range t.rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	_ = tw.Flush()
	fmt.Fprint(w, b.String())
}

// kubectlGet lists are what `kubectl get` would show, in the server-side Table format:
// the API server fills in the CRDs' printer columns.
var kubectlGet = []struct{ command, path string }{
	{"kubectl get datamaps", "/apis/privacy.lethe.dev/v1alpha1/namespaces/" + namespace + "/datamaps"},
	{"kubectl get tenantdatabases", "/apis/privacy.lethe.dev/v1alpha1/namespaces/" + namespace + "/tenantdatabases"},
	{"kubectl get retentionpolicies", "/apis/privacy.lethe.dev/v1alpha1/namespaces/" + namespace + "/retentionpolicies"},
	{"kubectl get erasurerequests", "/apis/privacy.lethe.dev/v1alpha1/namespaces/" + namespace + "/erasurerequests"},
	{"kubectl get subprocessors", "/apis/privacy.lethe.dev/v1alpha1/subprocessors"},
	{"kubectl get jobs", "/apis/batch/v1/namespaces/" + namespace + "/jobs"},
}

// showResources prints the demo's resources as `kubectl get` shows them.
func (d *demo) showResources(ctx context.Context) error {
	d.progress.step("reading the resources as `kubectl get` shows them")
	httpClient, err := rest.HTTPClientFor(d.env.Config)
	if err != nil {
		return err
	}
	d.printf("== The resources, as kubectl shows them\n")
	for _, g := range kubectlGet {
		tbl, err := getTable(ctx, httpClient, d.env.Config.Host, g.path)
		if err != nil {
			return fmt.Errorf("%s: %w", g.command, err)
		}
		d.printf("\n$ %s\n", g.command)
		printTable(d.out, tbl)
	}
	d.printf("\n")
	return nil
}

func getTable(ctx context.Context, c *http.Client, host, path string) (*metav1.Table, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(host, "/")+path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io")
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s: %s", path, resp.Status, body)
	}
	tbl := &metav1.Table{}
	if err := json.Unmarshal(body, tbl); err != nil {
		return nil, err
	}
	if tbl.Kind != "Table" {
		return nil, fmt.Errorf("GET %s: the API server answered %q, not a Table", path, tbl.Kind)
	}
	return tbl, nil
}

// printTable prints the columns kubectl shows by default (priority 0).
func printTable(w io.Writer, tbl *metav1.Table) {
	if len(tbl.Rows) == 0 {
		fmt.Fprintln(w, "No resources found.")
		return
	}
	var cols []int
	var header []string
	for i, c := range tbl.ColumnDefinitions {
		if c.Priority == 0 {
			cols = append(cols, i)
			header = append(header, strings.ToUpper(c.Name))
		}
	}
	t := newTable(header...)
	for _, r := range tbl.Rows {
		var cells []string
		for _, i := range cols {
			cell := "<none>"
			if i < len(r.Cells) && r.Cells[i] != nil {
				cell = fmt.Sprint(r.Cells[i])
			}
			cells = append(cells, cell)
		}
		t.row(cells...)
	}
	t.write(w)
}

// showMetrics prints Lethe's Prometheus metrics with a value, as the manager's /metrics
// serves them (the demo reads the registry in-process).
func (d *demo) showMetrics() {
	families, err := metrics.Registry.Gather()
	if err != nil {
		d.printf("metrics: %v\n", err)
		return
	}
	var lines []string
	for _, f := range families {
		if !strings.HasPrefix(f.GetName(), "lethe_") {
			continue
		}
		for _, m := range f.GetMetric() {
			var value float64
			switch {
			case m.GetCounter() != nil:
				value = m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				value = m.GetGauge().GetValue()
			case m.GetHistogram() != nil:
				value = float64(m.GetHistogram().GetSampleCount())
			default:
				continue
			}
			if value == 0 {
				continue
			}
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			name := f.GetName()
			if m.GetHistogram() != nil {
				name += "_count"
			}
			lines = append(lines, fmt.Sprintf("%s{%s} %g", name, strings.Join(labels, ","), value))
		}
	}
	sort.Strings(lines)
	d.printf("== Lethe's metrics (as /metrics serves them; zero values left out)\n\n")
	for _, l := range lines {
		d.printf("  %s\n", l)
	}
}
