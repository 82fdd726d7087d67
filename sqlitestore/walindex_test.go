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

	"github.com/hallpass/hallpass/account"
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

// TestLoadNeverStale runs Loads against two writers at once, a second DB
// on the file (as another process would be) updating x and the store
// itself updating y, and checks that no Load returns a value older than
// the last one committed before the Load began. The two kinds of commit
// interleave, so the store's own writes often meet another's commit,
// which must empty the cache even though the store knows what it wrote
// itself.
func TestLoadNeverStale(t *testing.T) {
	ctx := t.Context()
	db, path := mustOpen(t, Options{SweepInterval: -1})
	other := mustOpenPath(t, path, Options{SweepInterval: -1})
	s := db.Sessions()
	writers := []struct {
		id    string
		store *SessionStore
	}{{"x", other.Sessions()}, {"y", s}}
	committed := make([]atomic.Int64, len(writers)) // the last value whose Update has returned
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i, w := range writers {
		if err := s.Create(ctx, w.id, record("u", time.Now(), time.Hour)); err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := int64(1); ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				err := w.store.Update(ctx, w.id, &session.Update{Set: map[string][]byte{"k": []byte(strconv.FormatInt(n, 10))}})
				if err != nil {
					t.Error(err)
					return
				}
				committed[i].Store(n)
				time.Sleep(time.Millisecond)
			}
		}()
	}
	var loads atomic.Int64
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
				for i, w := range writers {
					before := committed[i].Load()
					r, err := s.Load(ctx, w.id)
					if err != nil {
						t.Error(err)
						return
					}
					got, _ := strconv.ParseInt(string(r.Values["k"]), 10, 64) // "v" at first: 0
					loads.Add(1)
					if got < before {
						t.Errorf("Load(%s) returned k=%d, but %d was committed before it began", w.id, got, before)
						return
					}
				}
			}
		}()
	}
	time.Sleep(time.Second)
	close(stop)
	wg.Wait()
	t.Logf("%d loads against %d + %d commits", loads.Load(), committed[0].Load(), committed[1].Load())
	for i, w := range writers {
		if committed[i].Load() < 10 {
			t.Errorf("only %d commits to %s in a second: the test did not exercise the cache", committed[i].Load(), w.id)
		}
	}
}

// TestOwnWritesKeepCache checks which commits cost the Load cache what:
// a write of the session store itself forgets only the sessions it
// touched; any other commit (another handle on the file, as a second
// process would be, or another store of this DB) forgets everything. Every
// step starts with a and b loaded, so cached.
func TestOwnWritesKeepCache(t *testing.T) {
	ctx := t.Context()
	db, path := mustOpen(t, Options{SweepInterval: -1})
	other := mustOpenPath(t, path, Options{SweepInterval: -1})
	s := db.Sessions()
	now := time.Now()
	for _, id := range []string{"a", "b"} {
		if err := s.Create(ctx, id, record("u", now, time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name         string
		write        func() error
		keepA, keepB bool
	}{
		{"Create of another session", func() error { return s.Create(ctx, "c", record("w", now, time.Hour)) }, true, true},
		{"Create replacing a", func() error { return s.Create(ctx, "a", record("u", now, time.Hour)) }, false, true},
		{"Update of b", func() error {
			return s.Update(ctx, "b", &session.Update{Set: map[string][]byte{"k": []byte("b2")}})
		}, true, false},
		{"touch of a", func() error { return s.Update(ctx, "a", &session.Update{LastSeen: now.Add(time.Second)}) }, false, true},
		{"Update of a missing session", func() error {
			err := s.Update(ctx, "gone", &session.Update{Set: map[string][]byte{"k": nil}})
			if !errors.Is(err, session.ErrNotFound) {
				return fmt.Errorf("Update of a missing session = %v, want ErrNotFound", err)
			}
			return nil
		}, true, true},
		{"Delete of another session", func() error { return s.Delete(ctx, "c") }, true, true},
		{"DeleteByUser of another user", func() error {
			if err := s.Create(ctx, "d", record("w", now, time.Hour)); err != nil {
				return err
			}
			s.Load(ctx, "a")
			s.Load(ctx, "b")
			_, err := s.DeleteByUser(ctx, "w")
			return err
		}, true, true},
		{"DeleteByUser of a's and b's user, except b", func() error {
			n, err := s.DeleteByUser(ctx, "u", "b")
			if err == nil && n != 1 {
				err = fmt.Errorf("DeleteByUser = %d, want 1", n)
			}
			if err == nil {
				err = s.Create(ctx, "a", record("u", now, time.Hour))
			}
			return err
		}, false, true},
		{"Sweep", func() error { _, err := s.Sweep(ctx); return err }, true, true},
		{"a commit of another handle", func() error { return other.Sessions().Create(ctx, "e", record("w", now, time.Hour)) }, false, false},
		{"a commit of the account store", func() error {
			return db.Accounts().CreateUser(ctx, &account.User{Username: "ada", Email: "ada@example.com", PasswordHash: "x"})
		}, false, false},
	}
	for _, tt := range tests {
		for _, id := range []string{"a", "b"} {
			if _, err := s.Load(ctx, id); err != nil {
				t.Fatalf("before %s: Load(%s) = %v", tt.name, id, err)
			}
			if _, ok := s.LoadCached(id); !ok {
				t.Fatalf("before %s: %s not cached after Load", tt.name, id)
			}
		}
		if err := tt.write(); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		_, gotA := s.LoadCached("a")
		_, gotB := s.LoadCached("b")
		if gotA != tt.keepA || gotB != tt.keepB {
			t.Errorf("after %s: a, b cached = %v, %v; want %v, %v", tt.name, gotA, gotB, tt.keepA, tt.keepB)
		}
	}
	if r, err := s.Load(ctx, "b"); err != nil || string(r.Values["k"]) != "b2" {
		t.Errorf("Load(b) = %v, %v; want the updated value b2", r, err)
	}
}

// TestOwnWriteMeetsOtherCommit makes another connection commit in the
// moment between the store's own commit and its reading of the header
// after it, where no timing-based test lands reliably: the cache must
// then see two commits, not its own one, and forget everything.
func TestOwnWriteMeetsOtherCommit(t *testing.T) {
	ctx := t.Context()
	db, path := mustOpen(t, Options{SweepInterval: -1})
	other := mustOpenPath(t, path, Options{SweepInterval: -1})
	s := db.Sessions()
	if err := s.Create(ctx, "a", record("u", time.Now(), time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	s.testHookCommitted = func() {
		s.testHookCommitted = nil
		if err := other.Sessions().Update(ctx, "a", &session.Update{Set: map[string][]byte{"k": []byte("other")}}); err != nil {
			t.Error(err)
		}
	}
	if err := s.Create(ctx, "b", record("u", time.Now(), time.Hour)); err != nil {
		t.Fatal(err)
	}
	if r, err := s.Load(ctx, "a"); err != nil || string(r.Values["k"]) != "other" {
		t.Errorf("Load(a) = %v, %v; want the value the other connection committed", r, err)
	}

	// Another commit before the store's own, which no Load has seen: the
	// own commit follows it alone, but the cache was not at its start.
	if err := other.Sessions().Update(ctx, "a", &session.Update{Set: map[string][]byte{"k": []byte("other2")}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Create(ctx, "c", record("u", time.Now(), time.Hour)); err != nil {
		t.Fatal(err)
	}
	if r, err := s.Load(ctx, "a"); err != nil || string(r.Values["k"]) != "other2" {
		t.Errorf("Load(a) = %v, %v; want the value the other connection committed before the store's own", r, err)
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
