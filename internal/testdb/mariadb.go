package testdb

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"

	_ "github.com/go-sql-driver/mysql" // registers the "mysql" database/sql driver
)

func mariadbBins() (installDB, server string, err error) {
	installDB, err1 := exec.LookPath("mariadb-install-db")
	server, err2 := exec.LookPath("mariadbd")
	if err2 != nil {
		if _, statErr := os.Stat("/usr/sbin/mariadbd"); statErr == nil {
			server, err2 = "/usr/sbin/mariadbd", nil
		}
	}
	if err1 != nil || err2 != nil {
		return "", "", &MissingError{What: "the MariaDB server (mariadb-install-db, mariadbd)", Package: "mariadb-server"}
	}
	return installDB, server, nil
}

func startMariaDB() (*Server, error) {
	installDB, server, err := mariadbBins()
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "lethe-mariadb-")
	if err != nil {
		return nil, err
	}
	s := &Server{dir: dir, Settings: Settings{
		Engine: MariaDB, Host: "127.0.0.1", Port: port,
		User: "lethe", Password: randomPassword(), Database: "lethe",
	}}
	if err := s.initMariaDB(installDB, server); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return s, nil
}

func (s *Server) initMariaDB(installDB, server string) error {
	data := filepath.Join(s.dir, "data")
	socket := filepath.Join(s.dir, "mariadb.sock")
	ca, err := writeTLS(s.dir)
	if err != nil {
		return err
	}
	s.CACert = ca
	userArgs := []string{}
	if os.Geteuid() == 0 {
		userArgs = []string{"--user=root"}
	}
	install := exec.Command(installDB, append([]string{"--no-defaults", "--datadir=" + data,
		"--auth-root-authentication-method=normal", "--skip-test-db", "--skip-name-resolve"}, userArgs...)...)
	if err := run(install); err != nil {
		return err
	}
	mariadbd := exec.Command(server, append([]string{"--no-defaults", "--datadir=" + data,
		"--socket=" + socket, "--port=" + strconv.Itoa(s.Port), "--bind-address=127.0.0.1",
		"--pid-file=" + filepath.Join(s.dir, "mariadb.pid"), "--skip-name-resolve", "--skip-log-bin",
		"--ssl-ca=" + filepath.Join(s.dir, "ca.crt"), "--ssl-cert=" + filepath.Join(s.dir, "server.crt"),
		"--ssl-key=" + filepath.Join(s.dir, "server.key"),
		"--innodb-buffer-pool-size=256M", "--innodb-flush-log-at-trx-commit=0", "--max-connections=200",
		"--character-set-server=utf8mb4", "--collation-server=utf8mb4_bin"}, userArgs...)...)
	adminDSN := fmt.Sprintf("root@unix(%s)/", socket)
	s.admin = func(ctx context.Context, stmt string) error {
		db, err := sql.Open("mysql", adminDSN)
		if err != nil {
			return err
		}
		defer db.Close()
		_, err = db.ExecContext(ctx, stmt)
		return err
	}
	if err := s.launch(mariadbd, filepath.Join(s.dir, "mariadb.log"), func(ctx context.Context) error {
		return ping(ctx, "mysql", adminDSN)
	}); err != nil {
		return err
	}
	ctx := context.Background()
	for _, stmt := range []string{
		fmt.Sprintf("CREATE USER 'lethe'@'%%' IDENTIFIED BY '%s'", s.Password),
		"GRANT ALL PRIVILEGES ON *.* TO 'lethe'@'%'",
	} {
		if err := s.admin(ctx, stmt); err != nil {
			s.Stop()
			return err
		}
	}
	if err := s.CreateDatabase(ctx, s.Database); err != nil {
		s.Stop()
		return err
	}
	return nil
}
