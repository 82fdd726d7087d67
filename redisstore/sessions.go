package redisstore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hallpass/hallpass/session"
)

var (
	_ session.Store     = (*SessionStore)(nil)
	_ session.UserIndex = (*SessionStore)(nil)
)

// Options configures a SessionStore. The zero value is ready to use.
type Options struct {
	// Prefix starts the name of every key the store uses, so that several
	// applications (or tests) can share a database. Default DefaultPrefix
	// ("hallpass:").
	Prefix string

	// Now returns the current time, against which session expiry is checked
	// (Redis's own clock is never used for sessions; a Counter's windows run
	// on Redis's TTLs, and Now only turns the remaining TTL into a reset
	// time). Default time.Now; tests pass a fake clock.
	Now func() time.Time
}

// SessionStore is a session.Store, and a session.UserIndex, kept in Redis.
// See the package documentation for its keys and its guarantees on Redis
// Cluster. It is safe for concurrent use.
type SessionStore struct {
	client redis.UniversalClient
	loads  *redis.AutoPipeliner // nil when client has none (a Ring)
	prefix string
	now    func() time.Time
}

// New returns a SessionStore that keeps its records through client. The
// caller keeps ownership of client and closes it after the last use of the
// store.
func New(client redis.UniversalClient, opts Options) *SessionStore {
	opts = opts.withDefaults()
	s := &SessionStore{client: client, prefix: opts.Prefix, now: opts.Now}
	if ap, err := client.AsyncAutoPipeline(); err == nil {
		s.loads = ap
	}
	return s
}

// withDefaults fills in the documented defaults of unset fields.
func (o Options) withDefaults() Options {
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Fields of a session hash. Value fields start with valuePrefix, which no
// metadata field does.
const (
	fieldUser      = "user"
	fieldCreated   = "created"
	fieldLastSeen  = "seen"
	fieldExpiry    = "expiry"
	fieldIP        = "ip"
	fieldUserAgent = "ua"
	valuePrefix    = "v:"
)

// metaFields lists the metadata fields in the order ListByUser reads them.
var metaFields = [...]string{fieldUser, fieldCreated, fieldLastSeen, fieldExpiry, fieldIP, fieldUserAgent}

func (s *SessionStore) sessionKey(id string) string   { return s.prefix + "s:" + id }
func (s *SessionStore) indexKey(userID string) string { return s.prefix + "u:" + userID }

// micros formats t as decimal Unix microseconds, the form of every time
// the store writes. Lua numbers (doubles) hold such values exactly.
func micros(t time.Time) string { return strconv.FormatInt(t.UnixMicro(), 10) }

func parseMicros(s string) (time.Time, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, err
	}
	return time.UnixMicro(n), nil
}

// ttlMillis returns the native time-to-live, in milliseconds, of a record
// that expires at expiry: the time left, rounded up, and at least a
// second, so that a record is never dropped before the store's own clock
// says it has expired.
func (s *SessionStore) ttlMillis(expiry time.Time) int64 {
	d := expiry.Sub(s.now())
	ms := (d + time.Millisecond - 1).Milliseconds()
	return max(ms, 1000)
}

// The Lua scripts below each touch one key, so they run on Redis Cluster.
// They write at most 1000 arguments per command (unpack has a limit of
// about 8000 values).

// createScript replaces the session hash KEYS[1]. ARGV[1] is its TTL in
// milliseconds; the rest are field, value pairs. It returns the previous
// owner ("" if none).
var createScript = redis.NewScript(`
local old = redis.call('HGET', KEYS[1], 'user')
redis.call('DEL', KEYS[1])
for i = 2, #ARGV, 1000 do
  redis.call('HSET', KEYS[1], unpack(ARGV, i, math.min(i + 999, #ARGV)))
end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return old or ''
`)

// updateScript applies an Update to the session hash KEYS[1] if it exists
// and its expiry is after ARGV[1] (now). ARGV[2] and ARGV[3] are the new
// LastSeen and Expiry, or "" to keep them; ARGV[4] is the TTL in
// milliseconds that goes with a new Expiry; ARGV[5] is the number n of
// fields to delete, ARGV[6] to ARGV[5+n] those fields, and the rest are
// field, value pairs to set. It returns the session's owner, or nil when
// the session is missing or expired.
var updateScript = redis.NewScript(`
local exp = redis.call('HGET', KEYS[1], 'expiry')
if not exp or tonumber(exp) <= tonumber(ARGV[1]) then
  return false
end
local n = tonumber(ARGV[5])
for i = 6, 5 + n, 1000 do
  redis.call('HDEL', KEYS[1], unpack(ARGV, i, math.min(i + 999, 5 + n)))
end
for i = 6 + n, #ARGV, 1000 do
  redis.call('HSET', KEYS[1], unpack(ARGV, i, math.min(i + 999, #ARGV)))
end
if ARGV[2] ~= '' then
  redis.call('HSET', KEYS[1], 'seen', ARGV[2])
end
if ARGV[3] ~= '' then
  redis.call('HSET', KEYS[1], 'expiry', ARGV[3])
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
end
return redis.call('HGET', KEYS[1], 'user') or ''
`)

// deleteScript deletes the session hash KEYS[1] and returns its owner
// ("" if none or missing).
var deleteScript = redis.NewScript(`
local user = redis.call('HGET', KEYS[1], 'user')
redis.call('DEL', KEYS[1])
return user or ''
`)

// deleteOwnedScript deletes the session hash KEYS[1] if its owner is
// ARGV[1]. It returns 1 if it deleted a session that had not expired at
// ARGV[2] (now), 0 if it deleted an expired one, and -1 if it deleted
// nothing (missing, or another owner's).
var deleteOwnedScript = redis.NewScript(`
if redis.call('HGET', KEYS[1], 'user') ~= ARGV[1] then
  return -1
end
local exp = tonumber(redis.call('HGET', KEYS[1], 'expiry'))
redis.call('DEL', KEYS[1])
if exp and exp > tonumber(ARGV[2]) then
  return 1
end
return 0
`)

// indexScript records in the user index KEYS[1] that session ARGV[3]
// expires at ARGV[2]; if ARGV[4] is "raise", only if that is later than
// the expiry recorded. It drops the entries that expired by ARGV[1] (now)
// and sets the index's TTL to the latest expiry it holds, at least a
// second.
var indexScript = redis.NewScript(`
local now = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local cur = redis.call('ZSCORE', KEYS[1], ARGV[3])
if ARGV[4] ~= 'raise' or not cur or tonumber(cur) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
end
local top = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
if top[2] then
  local ttl = math.ceil((tonumber(top[2]) - now) / 1000)
  if ttl < 1000 then ttl = 1000 end
  redis.call('PEXPIRE', KEYS[1], string.format('%d', ttl))
end
return 1
`)

// listScript drops the entries of the user index KEYS[1] that expired by
// ARGV[1] (now) and returns the session IDs left.
var listScript = redis.NewScript(`
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
return redis.call('ZRANGE', KEYS[1], 0, -1)
`)

// wrap adds the operation to err. When ctx is done, the result wraps
// ctx.Err() as well, whatever error the client reported for the
// interruption (such as a read timeout).
func wrap(ctx context.Context, op string, err error) error {
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("redisstore: %s: %w (%w)", op, cerr, err)
	}
	return fmt.Errorf("redisstore: %s: %w", op, err)
}

// scriptCall is one script run in a pipeline.
type scriptCall struct {
	script *redis.Script
	keys   []string
	args   []any
}

// runPipelined runs calls in one pipeline with EVALSHA and returns their
// results in order. Calls that fail with NOSCRIPT (the server has not
// seen the script, or flushed its cache) are sent again with the script's
// source, in a second pipeline. It returns the first error other than
// redis.Nil.
func (s *SessionStore) runPipelined(ctx context.Context, calls []scriptCall) ([]*redis.Cmd, error) {
	cmds := make([]*redis.Cmd, len(calls))
	pipe := s.client.Pipeline()
	for i, c := range calls {
		cmds[i] = c.script.EvalSha(ctx, pipe, c.keys, c.args...)
	}
	_, _ = pipe.Exec(ctx) // errors are checked per command below
	var retry []int
	for i, cmd := range cmds {
		if redis.HasErrorPrefix(cmd.Err(), "NOSCRIPT") {
			retry = append(retry, i)
		}
	}
	if len(retry) > 0 {
		pipe = s.client.Pipeline()
		for _, i := range retry {
			c := calls[i]
			cmds[i] = c.script.Eval(ctx, pipe, c.keys, c.args...)
		}
		_, _ = pipe.Exec(ctx)
	}
	for _, cmd := range cmds {
		if err := cmd.Err(); err != nil && !errors.Is(err, redis.Nil) {
			return cmds, err
		}
	}
	return cmds, nil
}

// Load returns the record stored under id, in one round trip (HGETALL).
// Concurrent Loads share their round trips: they go through the client's
// automatic pipeline (AsyncAutoPipeline), which sends the commands queued
// while one batch is in flight as the next batch. A Load stops waiting
// when ctx is done (the command itself may still run).
//
// It returns session.ErrNotFound when there is none or it has expired, and
// an error wrapping session.ErrCorrupt when the hash lacks a field or
// holds one that cannot be parsed.
func (s *SessionStore) Load(ctx context.Context, id string) (*session.Record, error) {
	h, err := s.hgetall(ctx, s.sessionKey(id))
	if err != nil {
		return nil, wrap(ctx, "load session", err)
	}
	if len(h) == 0 {
		return nil, session.ErrNotFound
	}
	rec, err := parseRecord(h)
	if err != nil {
		return nil, wrap(ctx, "load session", err)
	}
	if !rec.Expiry.After(s.now()) {
		return nil, session.ErrNotFound
	}
	return rec, nil
}

// hgetall runs HGETALL key through the automatic pipeline, or directly
// on a client that has none.
func (s *SessionStore) hgetall(ctx context.Context, key string) (map[string]string, error) {
	if s.loads == nil {
		return s.client.HGetAll(ctx, key).Result()
	}
	cmd := redis.NewMapStringStringCmd(ctx, "hgetall", key)
	// After a context error the command may still be running: its result
	// must not be read then.
	if err := s.loads.Submit(ctx, cmd).WaitContext(ctx); err != nil {
		return nil, err
	}
	return cmd.Result()
}

// parseRecord decodes a session hash, metadata and values.
func parseRecord(h map[string]string) (*session.Record, error) {
	rec, err := parseMeta(func(i int) (string, bool) {
		v, ok := h[metaFields[i]]
		return v, ok
	})
	if err != nil {
		return nil, err
	}
	rec.Values = make(map[string][]byte, len(h)-len(metaFields))
	for f, v := range h {
		if k, ok := strings.CutPrefix(f, valuePrefix); ok {
			rec.Values[k] = []byte(v)
		}
	}
	return rec, nil
}

// parseMeta decodes the metadata fields of a session hash; field(i)
// returns the field metaFields[i], and false if it is missing.
func parseMeta(field func(i int) (string, bool)) (*session.Record, error) {
	var meta [len(metaFields)]string
	for i := range meta {
		v, ok := field(i)
		if !ok {
			return nil, fmt.Errorf("%w: field %q missing", session.ErrCorrupt, metaFields[i])
		}
		meta[i] = v
	}
	rec := &session.Record{UserID: meta[0], IP: meta[4], UserAgent: meta[5]}
	for i, t := range [...]*time.Time{&rec.CreatedAt, &rec.LastSeen, &rec.Expiry} {
		var err error
		if *t, err = parseMicros(meta[1+i]); err != nil {
			return nil, fmt.Errorf("%w: field %q: %v", session.ErrCorrupt, metaFields[1+i], err)
		}
	}
	return rec, nil
}

// Create stores rec under id, replacing any record there, and adds it to
// its user's index, in one pipeline. If the replaced record belonged to
// another user, a second round trip removes it from that user's index.
func (s *SessionStore) Create(ctx context.Context, id string, rec *session.Record) error {
	key := s.sessionKey(id)
	args := make([]any, 0, 1+2*len(metaFields)+2*len(rec.Values))
	args = append(args, s.ttlMillis(rec.Expiry),
		fieldUser, rec.UserID,
		fieldCreated, micros(rec.CreatedAt),
		fieldLastSeen, micros(rec.LastSeen),
		fieldExpiry, micros(rec.Expiry),
		fieldIP, rec.IP,
		fieldUserAgent, rec.UserAgent)
	for k, v := range rec.Values {
		args = append(args, valuePrefix+k, v)
	}
	calls := []scriptCall{{createScript, []string{key}, args}}
	if rec.UserID != "" {
		calls = append(calls, scriptCall{indexScript, []string{s.indexKey(rec.UserID)},
			[]any{micros(s.now()), micros(rec.Expiry), id, "set"}})
	}
	cmds, err := s.runPipelined(ctx, calls)
	if err != nil {
		return wrap(ctx, "create session", err)
	}
	if old, _ := cmds[0].Text(); old != "" && old != rec.UserID {
		if err := s.client.ZRem(ctx, s.indexKey(old), id).Err(); err != nil {
			return wrap(ctx, "create session: unindex previous owner", err)
		}
	}
	return nil
}

// Update applies u to the record under id atomically, in one Lua script,
// or returns session.ErrNotFound if the record is missing or has expired.
// When u moves the expiry of a user's session, a second round trip
// raises the session's score in the user's index.
func (s *SessionStore) Update(ctx context.Context, id string, u *session.Update) error {
	var seen, expiry string
	var ttl int64
	if !u.LastSeen.IsZero() {
		seen = micros(u.LastSeen)
	}
	if !u.Expiry.IsZero() {
		expiry = micros(u.Expiry)
		ttl = s.ttlMillis(u.Expiry)
	}
	now := micros(s.now())
	args := make([]any, 5, 5+len(u.Delete)+2*len(u.Set))
	args[0], args[1], args[2], args[3] = now, seen, expiry, ttl
	n := 0
	for _, k := range u.Delete {
		if _, set := u.Set[k]; !set {
			args = append(args, valuePrefix+k)
			n++
		}
	}
	args[4] = n
	for k, v := range u.Set {
		args = append(args, valuePrefix+k, v)
	}
	user, err := updateScript.Run(ctx, s.client, []string{s.sessionKey(id)}, args...).Text()
	switch {
	case errors.Is(err, redis.Nil):
		return session.ErrNotFound
	case err != nil:
		return wrap(ctx, "update session", err)
	}
	if expiry != "" && user != "" {
		err := indexScript.Run(ctx, s.client, []string{s.indexKey(user)}, now, expiry, id, "raise").Err()
		if err != nil {
			return wrap(ctx, "update session: index new expiry", err)
		}
	}
	return nil
}

// Delete removes the record under id and its entry in its user's index.
func (s *SessionStore) Delete(ctx context.Context, id string) error {
	user, err := deleteScript.Run(ctx, s.client, []string{s.sessionKey(id)}).Text()
	if err != nil {
		return wrap(ctx, "delete session", err)
	}
	if user != "" {
		if err := s.client.ZRem(ctx, s.indexKey(user), id).Err(); err != nil {
			return wrap(ctx, "delete session: unindex", err)
		}
	}
	return nil
}

// ListByUser returns the live sessions of userID, newest first, in two
// round trips (the index, then the sessions' metadata in one pipeline)
// and a third when it removes index entries whose session is gone,
// expired, or now belongs to someone else. Anonymous sessions (userID "")
// are not indexed, so listing them yields nothing.
func (s *SessionStore) ListByUser(ctx context.Context, userID string) ([]session.Info, error) {
	if userID == "" {
		if err := ctx.Err(); err != nil {
			return nil, wrap(ctx, "list sessions by user", err)
		}
		return []session.Info{}, nil
	}
	now := s.now()
	ixKey := s.indexKey(userID)
	ids, err := listScript.Run(ctx, s.client, []string{ixKey}, micros(now)).StringSlice()
	if err != nil {
		return nil, wrap(ctx, "list sessions by user", err)
	}
	list := make([]session.Info, 0, len(ids))
	if len(ids) == 0 {
		return list, nil
	}
	pipe := s.client.Pipeline()
	cmds := make([]*redis.SliceCmd, len(ids))
	for i, id := range ids {
		cmds[i] = pipe.HMGet(ctx, s.sessionKey(id), metaFields[:]...)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, wrap(ctx, "list sessions by user", err)
	}
	var stale []any
	for i, cmd := range cmds {
		rec, err := parseMeta(hmgetField(cmd.Val()))
		if err != nil || rec.UserID != userID || !rec.Expiry.After(now) {
			// Missing (a nil field), corrupt, replaced or expired: in no
			// case can it become this user's live session again.
			stale = append(stale, ids[i])
			continue
		}
		list = append(list, session.InfoOf(ids[i], rec))
	}
	if len(stale) > 0 {
		if err := s.client.ZRem(ctx, ixKey, stale...).Err(); err != nil {
			return nil, wrap(ctx, "list sessions by user: prune index", err)
		}
	}
	slices.SortFunc(list, func(a, b session.Info) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return list, nil
}

// hmgetField returns the field function parseMeta takes for an HMGET
// reply of metaFields.
func hmgetField(vals []any) func(i int) (string, bool) {
	return func(i int) (string, bool) {
		if i >= len(vals) {
			return "", false
		}
		v, ok := vals[i].(string)
		return v, ok
	}
}

// DeleteByUser deletes every session of userID except those listed in
// except, and returns how many live ones it deleted. It deletes every
// session the index names, whatever expiry the index records, checking
// in each session's own script that the session still belongs to userID.
func (s *SessionStore) DeleteByUser(ctx context.Context, userID string, except ...string) (int, error) {
	if userID == "" {
		if err := ctx.Err(); err != nil {
			return 0, wrap(ctx, "delete sessions by user", err)
		}
		return 0, nil
	}
	ixKey := s.indexKey(userID)
	ids, err := s.client.ZRange(ctx, ixKey, 0, -1).Result()
	if err != nil {
		return 0, wrap(ctx, "delete sessions by user", err)
	}
	now := micros(s.now())
	var calls []scriptCall
	var drop []any
	for _, id := range ids {
		if slices.Contains(except, id) {
			continue
		}
		calls = append(calls, scriptCall{deleteOwnedScript, []string{s.sessionKey(id)}, []any{userID, now}})
		drop = append(drop, id)
	}
	if len(calls) == 0 {
		return 0, nil
	}
	cmds, err := s.runPipelined(ctx, calls)
	if err != nil {
		return 0, wrap(ctx, "delete sessions by user", err)
	}
	n := 0
	for _, cmd := range cmds {
		if v, _ := cmd.Int(); v == 1 {
			n++
		}
	}
	if err := s.client.ZRem(ctx, ixKey, drop...).Err(); err != nil {
		return n, wrap(ctx, "delete sessions by user: unindex", err)
	}
	return n, nil
}
