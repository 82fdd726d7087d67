package sqlitestore

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/hallpass/hallpass/session/sessiontest"
)

// BenchmarkScale fills a database with the sessions of signed-in users
// (sessiontest.ScaleRecord) and reports the file's size per session
// (after a checkpoint), the cost of a Load of a random stored session
// (ns/op; served by the cache, as between writes) and of the query behind
// it (query-ns). Filling a million rows takes about a minute, so run it
// with a fixed count:
//
//	go test -run '^$' -bench Scale -benchtime 20000x ./sqlitestore/
func BenchmarkScale(b *testing.B) {
	for _, n := range []int{1000, 1000000} {
		b.Run(fmt.Sprintf("Load/sessions=%d", n), func(b *testing.B) {
			ctx := b.Context()
			db, path := mustOpen(b, Options{SweepInterval: -1})
			s := db.Sessions()
			now := time.Now()
			var sample []string
			const batch = 10000
			for start := 0; start < n; start += batch {
				tx, err := db.write.BeginTx(ctx, nil)
				if err != nil {
					b.Fatal(err)
				}
				create := tx.StmtContext(ctx, s.create)
				for i := start; i < min(n, start+batch); i++ {
					id := sessiontest.ScaleID(i)
					if i%max(1, n/1000) == 0 {
						sample = append(sample, id)
					}
					if _, err := create.ExecContext(ctx, createArgs(id, sessiontest.ScaleRecord(i, now, now.Add(time.Hour)))...); err != nil {
						b.Fatal(err)
					}
				}
				if err := tx.Commit(); err != nil {
					b.Fatal(err)
				}
			}
			if _, err := db.write.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
				b.Fatal(err)
			}
			fi, err := os.Stat(path)
			if err != nil {
				b.Fatal(err)
			}

			start := time.Now()
			for i, id := range sample {
				if _, err := s.query(ctx, id, now); err != nil {
					b.Fatalf("query %d: %v", i, err)
				}
			}
			query := time.Since(start) / time.Duration(len(sample))

			i := 0
			for b.Loop() {
				if _, err := s.Load(ctx, sample[i%len(sample)]); err != nil {
					b.Fatal(err)
				}
				i++
			}
			b.ReportMetric(float64(fi.Size())/float64(n), "B/session")
			b.ReportMetric(float64(query.Nanoseconds()), "query-ns")
		})
	}
}
