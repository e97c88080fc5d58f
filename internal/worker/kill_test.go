package worker_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lethe-operator/lethe/internal/plan"
	"github.com/lethe-operator/lethe/internal/testdb"
)

// killRows is the size of the table the SIGKILL test works on: big enough, with small
// batches, that the worker is still running when it is killed.
const killRows = 200_000

// loadPeople creates the people table with n rows, in one statement.
func loadPeople(tn *tenant, n int) {
	tn.exec(`CREATE TABLE people (id BIGINT PRIMARY KEY, email VARCHAR(100) NOT NULL UNIQUE, full_name VARCHAR(100) NULL,
	  phone VARCHAR(40) NULL, birth_date DATE NULL, segment INT NOT NULL, created_at ` + tn.ts() + ` NOT NULL)`)
	if tn.engine == testdb.MariaDB {
		tn.exec(fmt.Sprintf(`INSERT INTO people SELECT seq, CONCAT('person', seq, '@example.com'),
		  IF(seq %% 7 = 0, NULL, CONCAT('Person ', seq)), CONCAT('+45 ', seq), DATE_ADD('1950-01-01', INTERVAL seq %% 20000 DAY),
		  seq %% 10, DATE_ADD('2015-01-01', INTERVAL seq %% 4000 DAY) FROM seq_1_to_%d`, n))
		return
	}
	tn.exec(fmt.Sprintf(`INSERT INTO people SELECT g, 'person' || g || '@example.com',
	  CASE WHEN g %% 7 = 0 THEN NULL ELSE 'Person ' || g END, '+45 ' || g, DATE '1950-01-01' + (g %% 20000),
	  g %% 10, TIMESTAMP '2015-01-01' + (g %% 4000) * INTERVAL '1 day' FROM generate_series(1, %d) AS g`, n))
}

// peoplePlan anonymizes people created over a year ago and deletes segment 3.
func peoplePlan(tn *tenant) plan.Plan {
	p := tn.plan(plan.KindRetention)
	p.DataMap = plan.DataMap{Tables: []plan.Table{{
		Name: "people", PrimaryKey: []string{"id"},
		Identifiers: map[string]string{"email": "email"},
		Columns: []plan.Column{
			{Name: "email", Category: "contact", Mask: plan.Mask{Strategy: plan.StrategyFakeEmail}},
			{Name: "full_name", Category: "name", Mask: plan.Mask{Strategy: plan.StrategyRedact}},
			{Name: "phone", Category: "contact", Mask: plan.Mask{Strategy: plan.StrategyHash}},
			{Name: "birth_date", Category: "demographic", Mask: plan.Mask{Strategy: plan.StrategyGeneralize, To: plan.GeneralizeYear}},
		},
	}}}
	p.Rules = []plan.Rule{
		{Name: "segment-3", Table: "people", Action: plan.ActionDelete, Where: []plan.Condition{{Column: "segment", Op: plan.OpEq, Value: "3"}}},
		// Everyone was created over a year ago: the rule says it may match every row.
		{Name: "old-people", Table: "people", Action: plan.ActionAnonymize, OlderThan: "P1Y", Column: "created_at", AllRows: true},
	}
	p.Options.BatchSize = 500
	return p
}

// startWorker starts the lethe binary on p as a separate process.
func startWorker(t *testing.T, p plan.Plan) *exec.Cmd {
	t.Helper()
	dir := t.TempDir()
	planFile := filepath.Join(dir, "plan.json")
	b, _ := json.Marshal(p)
	if err := os.WriteFile(planFile, b, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(lethe, "worker", "--plan", planFile, "--termination-log", filepath.Join(dir, "termination-log"))
	cmd.Stdout = &strings.Builder{}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd
}

func runWorker(t *testing.T, p plan.Plan) {
	t.Helper()
	cmd := startWorker(t, p)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("worker: %v\n%s", err, cmd.Stdout)
	}
}

func TestAKilledRunEndsWhereAnUninterruptedRunEnds(t *testing.T) {
	for _, e := range engines {
		t.Run(e, func(t *testing.T) {
			t.Parallel()
			whole, killed := newTenant(t, e), newTenant(t, e)
			loadPeople(whole, killRows)
			loadPeople(killed, killRows)
			runWorker(t, peoplePlan(whole))

			cmd := startWorker(t, peoplePlan(killed))
			// Kill once some batches have committed: the deletes are done and the
			// anonymization is under way.
			for {
				done, err := countWhere(killed, "full_name = 'REDACTED'")
				if err != nil {
					t.Fatal(err)
				}
				if done >= killRows/20 {
					break
				}
				if cmd.ProcessState != nil {
					t.Fatal("the worker ended before it could be killed")
				}
				time.Sleep(20 * time.Millisecond)
			}
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			_ = cmd.Wait()
			left, _ := countWhere(killed, "full_name LIKE 'Person %'")
			if left == 0 {
				t.Fatalf("the worker had finished when it was killed: use a bigger table than %d rows", killRows)
			}
			t.Logf("killed with %d names still to anonymize", left)

			runWorker(t, peoplePlan(killed))
			query := "SELECT id, email, full_name, phone, birth_date, segment, created_at FROM people ORDER BY id"
			want, got := whole.rows(query), killed.rows(query)
			if len(got) != len(want) {
				t.Fatalf("killed and re-run: %d rows, uninterrupted: %d", len(got), len(want))
			}
			for i := range want {
				if !equalRows(got[i:i+1], want[i:i+1]) {
					t.Fatalf("row %d differs: killed and re-run %q, uninterrupted %q", i, got[i], want[i])
				}
			}
			if n, _ := countWhere(killed, "segment = 3"); n != 0 {
				t.Fatalf("%d rows of segment 3 left", n)
			}
		})
	}
}

func countWhere(tn *tenant, where string) (int64, error) {
	var s string
	if err := tn.db.QueryRow("SELECT COUNT(*) FROM people WHERE " + where).Scan(&s); err != nil {
		return 0, err
	}
	return strconv.ParseInt(s, 10, 64)
}
