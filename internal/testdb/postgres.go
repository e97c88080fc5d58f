package testdb

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"syscall"

	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
)

// postgresBin finds the newest installed PostgreSQL server's bin directory.
func postgresBin() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return pgMajor(dirs[i]) < pgMajor(dirs[j]) })
	for i := len(dirs) - 1; i >= 0; i-- {
		if _, err := os.Stat(filepath.Join(dirs[i], "postgres")); err == nil {
			return dirs[i], nil
		}
	}
	if p, err := exec.LookPath("postgres"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", &MissingError{What: "the PostgreSQL server (initdb, postgres)", Package: "postgresql"}
}

func pgMajor(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

// asServerUser runs cmd as the postgres OS user when the tests run as root: PostgreSQL
// refuses to run as root. The process itself switches user, so signals reach the server.
func asServerUser(cmd *exec.Cmd) (*exec.Cmd, error) {
	if os.Geteuid() != 0 {
		return cmd, nil
	}
	uid, gid, err := serverUser()
	if err != nil {
		return nil, err
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: gid}}
	cmd.Env = append(os.Environ(), "HOME=/tmp")
	return cmd, nil
}

func serverUser() (uint32, uint32, error) {
	u, err := user.Lookup("postgres")
	if err != nil {
		return 0, 0, fmt.Errorf("running as root needs the postgres OS user (created by the postgresql package): %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return uint32(uid), uint32(gid), nil
}

func chownToServerUser(dir string) error {
	if os.Geteuid() != 0 {
		return nil
	}
	uid, gid, err := serverUser()
	if err != nil {
		return err
	}
	return filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Chown(p, int(uid), int(gid))
	})
}

func startPostgres() (*Server, error) {
	bin, err := postgresBin()
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "lethe-pg-")
	if err != nil {
		return nil, err
	}
	s := &Server{dir: dir, Settings: Settings{
		Engine: Postgres, Host: "127.0.0.1", Port: port,
		User: "lethe", Password: randomPassword(), Database: "lethe",
	}}
	if err := s.initPostgres(bin); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return s, nil
}

func (s *Server) initPostgres(bin string) error {
	data := filepath.Join(s.dir, "data")
	ca, err := writeTLS(s.dir)
	if err != nil {
		return err
	}
	s.CACert = ca
	if err := chownToServerUser(s.dir); err != nil {
		return err
	}
	initdb, err := asServerUser(exec.Command(filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres",
		"--auth-local=trust", "--auth-host=scram-sha-256", "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync"))
	if err != nil {
		return err
	}
	if err := run(initdb); err != nil {
		return err
	}
	postgres, err := asServerUser(exec.Command(filepath.Join(bin, "postgres"), "-D", data,
		"-p", strconv.Itoa(s.Port), "-k", s.dir, "-c", "listen_addresses=127.0.0.1",
		"-c", "ssl=on", "-c", "ssl_cert_file="+filepath.Join(s.dir, "server.crt"),
		"-c", "ssl_key_file="+filepath.Join(s.dir, "server.key"),
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "max_connections=200"))
	if err != nil {
		return err
	}
	adminDSN := fmt.Sprintf("host=%s port=%d user=postgres dbname=postgres sslmode=disable", s.dir, s.Port)
	s.admin = func(ctx context.Context, stmt string) error {
		conn, err := pgx.Connect(ctx, adminDSN)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, stmt)
		return err
	}
	if err := s.launch(postgres, filepath.Join(s.dir, "postgres.log"), func(ctx context.Context) error {
		return ping(ctx, "pgx", adminDSN)
	}); err != nil {
		return err
	}
	ctx := context.Background()
	if err := s.admin(ctx, fmt.Sprintf("CREATE ROLE lethe LOGIN CREATEDB PASSWORD '%s'", s.Password)); err != nil {
		s.Stop()
		return err
	}
	if err := s.CreateDatabase(ctx, s.Database); err != nil {
		s.Stop()
		return err
	}
	return nil
}
