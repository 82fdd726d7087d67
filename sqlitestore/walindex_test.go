package sqlitestore

import (
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hallpass/hallpass/session"
)

// TestWALIndexStampChangesOnCommit checks what the Load cache relies on:
// the WAL-index header read by Open's DB changes with every commit, of
// any connection, and stays the same while nothing is committed.
func TestWALIndexStampChangesOnCommit(t *testing.T) {
	ctx := t.Context()
	db, path := mustOpen(t, Options{SweepInterval: -1})
	if db.wal == nil {
		t.Fatal("Open did not open the WAL index: Loads would ask data_version")
	}
	bare, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer bare.Close()
	stamp := func() walStamp {
		t.Helper()
		s, ok := db.wal.stamp()
		if !ok {
			t.Fatal("stamp: the header could not be read")
		}
		return s
	}
	a := stamp()
	if _, err := bare.QueryContext(ctx, "SELECT count(*) FROM hallpass_sessions"); err != nil {
		t.Fatal(err)
	}
	if b := stamp(); b != a {
		t.Error("the stamp changed after a read-only query")
	}
	seen := map[walStamp]bool{a: true}
	for i := range 50 {
		if _, err := bare.ExecContext(ctx, `INSERT INTO hallpass_sessions (id, data, created_at, last_seen, expires_at, ip, user_agent) VALUES (?, x'', 0, 0, 0, '', '')`, fmt.Sprint("s", i)); err != nil {
			t.Fatal(err)
		}
		if i%10 == 0 {
			// A checkpoint that restarts the WAL: the frame count starts
			// over, the salts change.
			if _, err := bare.ExecContext(ctx, "PRAGMA wal_checkpoint(RESTART)"); err != nil {
				t.Fatal(err)
			}
		}
		s := stamp()
		if seen[s] {
			t.Fatalf("commit %d: the stamp repeats an earlier one", i)
		}
		seen[s] = true
	}
}

// TestLoadNeverStale runs Loads against a writer in a second DB and checks
// that no Load returns a value older than the last one committed before
// the Load began, while the cache still serves most of them.
func TestLoadNeverStale(t *testing.T) {
	ctx := t.Context()
	db, path := mustOpen(t, Options{SweepInterval: -1})
	other := mustOpenPath(t, path, Options{SweepInterval: -1})
	s := db.Sessions()
	if err := s.Create(ctx, "x", record("u", time.Now(), time.Hour)); err != nil {
		t.Fatal(err)
	}
	var committed atomic.Int64 // the last value whose Update has returned
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for n := int64(1); ; n++ {
			select {
			case <-stop:
				return
			default:
			}
			err := other.Sessions().Update(ctx, "x", &session.Update{Set: map[string][]byte{"k": []byte(strconv.FormatInt(n, 10))}})
			if err != nil {
				t.Error(err)
				return
			}
			committed.Store(n)
			time.Sleep(time.Millisecond)
		}
	}()
	var loads, stale atomic.Int64
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				before := committed.Load()
				r, err := s.Load(ctx, "x")
				if err != nil {
					t.Error(err)
					return
				}
				got, _ := strconv.ParseInt(string(r.Values["k"]), 10, 64) // "v" at first: 0
				loads.Add(1)
				if got < before {
					stale.Add(1)
					t.Errorf("Load returned k=%d, but %d was committed before it began", got, before)
					return
				}
			}
		}()
	}
	time.Sleep(time.Second)
	close(stop)
	wg.Wait()
	t.Logf("%d loads against %d commits, %d stale", loads.Load(), committed.Load(), stale.Load())
	if committed.Load() < 10 {
		t.Errorf("only %d commits in a second: the test did not exercise the cache", committed.Load())
	}
}

// TestLoadCacheSeesOtherProcess checks the cache against a commit made by
// another process (the CLI, a second server), which this process learns
// of only through the file: the test binary runs itself to delete a
// session.
func TestLoadCacheSeesOtherProcess(t *testing.T) {
	if path := os.Getenv("HALLPASS_SQLITESTORE_CHILD_DB"); path != "" {
		bare, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(5000)")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		if _, err := bare.Exec(`DELETE FROM hallpass_sessions WHERE id = 'a'`); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		bare.Close()
		os.Exit(0)
	}
	ctx := t.Context()
	db, path := mustOpen(t, Options{SweepInterval: -1})
	if db.wal == nil {
		t.Fatal("Open did not open the WAL index")
	}
	s := db.Sessions()
	if err := s.Create(ctx, "a", record("u", time.Now(), time.Hour)); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := s.Load(ctx, "a"); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := s.LoadCached("a"); !ok {
		t.Fatal("LoadCached misses after two Loads")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestLoadCacheSeesOtherProcess$")
	cmd.Env = append(os.Environ(), "HALLPASS_SQLITESTORE_CHILD_DB="+path)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the other process: %v\n%s", err, out)
	}
	if _, ok := s.LoadCached("a"); ok {
		t.Error("LoadCached still answers after another process deleted the session")
	}
	if _, err := s.Load(ctx, "a"); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("Load after another process deleted the session = %v, want ErrNotFound", err)
	}
}

// TestWALIndexCutShort checks that a WAL index cut short under the mapping
// (as SQLite does to a -shm file no connection holds) makes stamp report
// failure, so Load asks data_version, instead of crashing the process; and
// that the stamp is read again once the file is whole.
func TestWALIndexCutShort(t *testing.T) {
	_, path := mustOpen(t, Options{SweepInterval: -1})
	header, err := os.ReadFile(path + "-shm")
	if err != nil {
		t.Fatal(err)
	}
	copyPath := filepath.Join(t.TempDir(), "copy.db")
	if err := os.WriteFile(copyPath+"-shm", header, 0o600); err != nil {
		t.Fatal(err)
	}
	w, err := openWALIndex(copyPath)
	if err != nil {
		t.Fatal(err)
	}
	defer w.close()
	if w.mem == nil {
		t.Skip("the WAL index could not be mapped on this system: reads use pread")
	}
	want, ok := w.stamp()
	if !ok {
		t.Fatal("stamp of a whole WAL index failed")
	}
	for _, size := range []int64{3, 0} { // within the mapped page; all of it gone (a fault)
		if err := os.Truncate(copyPath+"-shm", size); err != nil {
			t.Fatal(err)
		}
		if _, ok := w.stamp(); ok {
			t.Errorf("stamp of a WAL index cut to %d bytes succeeded", size)
		}
	}
	if err := os.WriteFile(copyPath+"-shm", header, 0o600); err != nil {
		t.Fatal(err)
	}
	if got, ok := w.stamp(); !ok || got != want {
		t.Errorf("stamp after the file was restored = %v, want the header again", ok)
	}
}
