package migrations

import (
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

func TestParse(t *testing.T) {
	file := func(sql string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(sql)} }
	sql := file("CREATE TABLE t (x);")
	tests := []struct {
		name    string
		files   fstest.MapFS
		want    []int  // versions, when wantErr is ""
		wantErr string // a part of the error
	}{
		{name: "none", files: fstest.MapFS{}, want: []int{}},
		{name: "ordered", files: fstest.MapFS{"migrations/0002_b.sql": sql, "migrations/0001_a.sql": sql, "migrations/README": sql}, want: []int{1, 2}},
		{name: "other folder", files: fstest.MapFS{"migrations/0001_a.sql": sql, "0002_b.sql": sql, "old/0002_b.sql": sql}, want: []int{1}},
		{name: "gap", files: fstest.MapFS{"migrations/0001_a.sql": sql, "migrations/0010_c.sql": sql}, want: []int{1, 10}},
		{name: "repeat", files: fstest.MapFS{"migrations/0001_a.sql": sql, "migrations/0001_b.sql": sql},
			wantErr: "store: migration 0001_b.sql: version 1 repeats 0001_a.sql"},
		{name: "repeat unpadded", files: fstest.MapFS{"migrations/0002_a.sql": sql, "migrations/2_b.sql": sql},
			wantErr: "version 2 repeats"},
		{name: "zero", files: fstest.MapFS{"migrations/0000_a.sql": sql},
			wantErr: "store: migration 0000_a.sql: name must be NNNN_description.sql"},
		{name: "negative", files: fstest.MapFS{"migrations/-1_a.sql": sql},
			wantErr: "store: migration -1_a.sql: name must be"},
		{name: "no number", files: fstest.MapFS{"migrations/sessions.sql": sql},
			wantErr: "store: migration sessions.sql: name must be"},
		{name: "no description", files: fstest.MapFS{"migrations/0001.sql": sql},
			wantErr: "store: migration 0001.sql: name must be"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ms, err := Parse(tt.files, "store")
			if tt.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), "store: ") || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("Parse = %v, %v; want an error containing %q", ms, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse = %v, want versions %v", err, tt.want)
			}
			got := []int{}
			for _, m := range ms {
				got = append(got, m.Version)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("Parse versions = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseKeepsNameAndSQL(t *testing.T) {
	files := fstest.MapFS{
		"migrations/0001_sessions.sql": {Data: []byte("CREATE TABLE s (x);")},
		"migrations/0002_accounts.sql": {Data: []byte("CREATE TABLE a (x);\nCREATE TABLE b (y);")},
	}
	got, err := Parse(files, "store")
	if err != nil {
		t.Fatalf("Parse = %v", err)
	}
	want := []Migration{
		{Version: 1, Name: "0001_sessions.sql", SQL: "CREATE TABLE s (x);"},
		{Version: 2, Name: "0002_accounts.sql", SQL: "CREATE TABLE a (x);\nCREATE TABLE b (y);"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("Parse = %+v, want %+v", got, want)
	}
}

func TestMustParsePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("MustParse of a repeated version did not panic")
		}
	}()
	MustParse(fstest.MapFS{"migrations/0002_a.sql": {}, "migrations/0002_b.sql": {}}, "store")
}
