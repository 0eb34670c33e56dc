package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync"
	"time"

	"github.com/entity-enricher/enricher/storage"
)

func tempDir() (string, error) { return os.MkdirTemp("", "enricher-bench-") }

func removeAll(dir string) { _ = os.RemoveAll(dir) }

// openStore opens an on-disk store in a temporary directory (fsync on every commit with
// syncWrites); closeDB closes it and removes it.
func openStore(syncWrites bool) (db *storage.DB, closeDB func(), err error) {
	dir, err := tempDir()
	if err != nil {
		return nil, nil, err
	}
	if db, err = storage.Open(storage.Config{Dir: dir, SyncWrites: syncWrites}); err != nil {
		removeAll(dir)
		return nil, nil, err
	}
	return db, func() { _ = db.Close(); removeAll(dir) }, nil
}

// server is a real `enricher serve` child process on a loopback port with its own data dir.
type server struct {
	cmd  *exec.Cmd
	dir  string
	Base string
}

var listenRE = regexp.MustCompile(`msg=listening addr=(\S+)`)

var build struct {
	once sync.Once
	bin  string
	err  error
}

// serverBinary builds ./cmd/enricher once per harness run, with the race detector when the
// harness itself has it (the smoke test under `go test -race`): the packages that test build
// compiled are then reused from the build cache instead of compiled a second time.
func serverBinary() (string, error) {
	build.once.Do(func() {
		dir, err := os.MkdirTemp("", "enricher-bench-bin-")
		if err != nil {
			build.err = err
			return
		}
		build.bin = filepath.Join(dir, "enricher")
		args := []string{"build", "-o", build.bin}
		if raceBuild {
			args = append(args, "-race")
		}
		if out, err := exec.Command("go", append(args, "./cmd/enricher")...).CombinedOutput(); err != nil {
			build.err = fmt.Errorf("build: %v\n%s", err, out)
		}
	})
	return build.bin, build.err
}

// removeBinary deletes the binary serverBinary built.
func removeBinary() {
	if build.bin != "" {
		removeAll(filepath.Dir(build.bin))
	}
}

// startServer starts the server binary with env (KEY=VALUE) added, on a loopback port with
// a temporary data dir.
func startServer(env ...string) (*server, error) {
	bin, err := serverBinary()
	if err != nil {
		return nil, err
	}
	dir, err := tempDir()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "serve", "--listen", "127.0.0.1:0", "--data-dir", filepath.Join(dir, "data"), "--log-level", "info")
	cmd.Env = append(os.Environ(), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &server{cmd: cmd, dir: dir}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := listenRE.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
	}()
	select {
	case a := <-addr:
		s.Base = "http://" + a
		return s, nil
	case <-time.After(60 * time.Second):
		s.stop()
		return nil, errors.New("server did not start")
	}
}

// stop ends the server (SIGINT, then kill) and removes its directory.
func (s *server) stop() {
	_ = s.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-done
	}
	removeAll(s.dir)
}

// cpu returns the server process's CPU time so far (Linux /proc).
func (s *server) cpu() time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", s.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	var utime, stime int64
	// Fields 14 and 15 (1-based) after the ")" that ends the command name.
	i := len(b) - 1
	for i > 0 && b[i] != ')' {
		i--
	}
	var skip string
	_, _ = fmt.Sscanf(string(b[i+2:]), "%s %s %s %s %s %s %s %s %s %s %s %d %d",
		&skip, &skip, &skip, &skip, &skip, &skip, &skip, &skip, &skip, &skip, &skip, &utime, &stime)
	return time.Duration(utime+stime) * 10 * time.Millisecond // USER_HZ = 100
}
