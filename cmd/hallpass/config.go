package main

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	netmail "net/mail"
	"net/netip"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/hallpass/hallpass/account"
	"github.com/hallpass/hallpass/autherr"
	"github.com/hallpass/hallpass/mail"
	"github.com/hallpass/hallpass/oidc"
	"github.com/hallpass/hallpass/redisstore"
	"github.com/hallpass/hallpass/throttle"
)

// defaultHashProcesses is the default of HALLPASS_HASH_PROCESSES: true on
// Linux, where the workers run under SCHED_IDLE, false elsewhere.
var defaultHashProcesses = strconv.FormatBool(runtime.GOOS == "linux")

// config is the server's configuration, from environment variables and
// flags (a flag wins over its variable).
type config struct {
	Addr            string
	BaseURL         *url.URL
	Data            string
	SecretKeys      [][]byte // empty: read or generate DATA/secret.key
	SessionStore    string   // "sqlite", "memory", or a redis://, postgres://, memcached:// URL
	DatabaseURL     string   // "": SQLite in the data directory; or postgres://
	RedisURL        string   // "": throttle counters in memory (or on the session Redis)
	StoreTimeout    time.Duration
	IdleTimeout     time.Duration
	AbsoluteTimeout time.Duration
	RememberFor     time.Duration
	PasswordMin     int
	HashConcurrency int    // 0: GOMAXPROCS with HashProcesses, else password.DefaultMaxConcurrent()
	HashProcesses   bool   // argon2 in worker processes under SCHED_IDLE
	GCMinHeap       uint64 // bytes; 0: the Go runtime's own heap goal (internal/gcfloor)
	TrustedProxies  []netip.Prefix
	LogLevel        slog.Level
	MetricsAddr     string // "": no metrics listener
	LogFormat       string // "text" or "json"
	AccessLog       bool
	Pprof           bool            // net/http/pprof on the metrics listener
	SMTPURL         string          // "": the development mailer (the log)
	MailFrom        string          // "": hallpass <noreply@HOST of the base URL>
	ResetFor        time.Duration   // lifetime of a password reset link
	RequireVerified bool            // refuse logins of unverified addresses
	OIDC            []oidc.Provider // from HALLPASS_OIDC_PROVIDERS and HALLPASS_OIDC_<ID>_*
	Require2FAFor   []string        // roles that must enrol a second factor

	command bool // a CLI command: nothing is served, no one signs in
}

// From returns the sender of the server's email.
func (c *config) From() string {
	if c.MailFrom != "" {
		return c.MailFrom
	}
	return "hallpass <noreply@" + c.BaseURL.Hostname() + ">"
}

// Secure reports whether the app is served over https.
func (c *config) Secure() bool { return c.BaseURL.Scheme == "https" }

// setting is one configuration value: its flag, its variable, its default
// and how to parse it into the config.
type setting struct {
	flag, env, def, usage string
	parse                 func(c *config, v string) error
}

// secretSettings may hold keys or passwords (in URLs): their values are
// never repeated in error messages.
var secretSettings = map[string]bool{"secret-keys": true, "session-store": true, "database-url": true, "redis-url": true, "smtp-url": true}

var settings = []setting{
	{"addr", "HALLPASS_ADDR", "127.0.0.1:8080", "address to listen on (host:port)", func(c *config, v string) error {
		if _, port, err := net.SplitHostPort(v); err != nil || !validPort(port) {
			return fmt.Errorf("want host:port, like 127.0.0.1:8080")
		}
		c.Addr = v
		return nil
	}},
	{"base-url", "HALLPASS_BASE_URL", "http://localhost:8080", "public URL of the site (default: http://localhost with the port of --addr); https turns on Secure and __Host- cookies and HSTS", func(c *config, v string) error {
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			return fmt.Errorf("want an http or https URL without a path, like https://login.example.com")
		}
		u.Path = ""
		c.BaseURL = u
		return nil
	}},
	{"data", "HALLPASS_DATA", "./hallpass-data", "directory for the SQLite database and the generated secret key", func(c *config, v string) error {
		if strings.TrimSpace(v) == "" {
			return errors.New("must not be empty")
		}
		c.Data = v
		return nil
	}},
	{"secret-keys", "HALLPASS_SECRET_KEYS", "", "comma-separated secret keys of at least 32 characters; the first signs (default: generated in the data directory)", func(c *config, v string) error {
		c.SecretKeys = nil
		if v == "" {
			return nil
		}
		for i, k := range strings.Split(v, ",") {
			k = strings.TrimSpace(k)
			if len(k) < 32 {
				return fmt.Errorf("key %d is %d characters; each key needs at least 32 (try: openssl rand -hex 32)", i+1, len(k))
			}
			c.SecretKeys = append(c.SecretKeys, []byte(k))
		}
		return nil
	}},
	{"session-store", "HALLPASS_SESSION_STORE", "sqlite", "where sessions live: sqlite, memory, redis://..., rediss://..., redis+cluster://host:port[,host:port], postgres://..., memcached://host:port[,host:port][?max_idle_conns=N]", func(c *config, v string) error {
		switch {
		case v == "sqlite", v == "memory":
		case hasScheme(v, redisSchemes...):
			if err := checkRedisURL(v); err != nil {
				return err
			}
		case hasScheme(v, "memcached"):
			if _, err := memcachedClient(v); err != nil {
				return err
			}
		case hasScheme(v, "postgres", "postgresql"):
		default:
			return fmt.Errorf("want sqlite, memory, or a redis://, rediss://, redis+cluster://, postgres:// or memcached:// URL")
		}
		c.SessionStore = v
		return nil
	}},
	{"database-url", "HALLPASS_DATABASE_URL", "", "accounts database: empty for SQLite in the data directory, or postgres://...", func(c *config, v string) error {
		if v != "" && !hasScheme(v, "postgres", "postgresql") {
			return fmt.Errorf("want a postgres:// URL, or nothing for SQLite")
		}
		c.DatabaseURL = v
		return nil
	}},
	{"redis-url", "HALLPASS_REDIS_URL", "", "Redis for login throttling counters shared by several processes: redis://..., rediss://... or redis+cluster://host:port[,host:port] (default: the session store's Redis, if any)", func(c *config, v string) error {
		if v != "" && !hasScheme(v, redisSchemes...) {
			return fmt.Errorf("want a redis://, rediss:// or redis+cluster:// URL")
		}
		if v != "" {
			if err := checkRedisURL(v); err != nil {
				return err
			}
		}
		c.RedisURL = v
		return nil
	}},
	{"store-timeout", "HALLPASS_STORE_TIMEOUT", "3s", "deadline of each store call a request makes; past it the request gets 503 like a store outage", func(c *config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d < 100*time.Millisecond || d > time.Minute {
			return fmt.Errorf("want a duration from 100ms to 1m, like 3s")
		}
		c.StoreTimeout = d
		return nil
	}},
	{"idle-timeout", "HALLPASS_IDLE_TIMEOUT", "30m", "end sessions unused for this long", durationSetting(func(c *config) *time.Duration { return &c.IdleTimeout })},
	{"absolute-timeout", "HALLPASS_ABSOLUTE_TIMEOUT", "12h", "end sessions this long after login", durationSetting(func(c *config) *time.Duration { return &c.AbsoluteTimeout })},
	{"remember-for", "HALLPASS_REMEMBER_FOR", "720h", "lifetime of remember-me tokens", durationSetting(func(c *config) *time.Duration { return &c.RememberFor })},
	{"password-min", "HALLPASS_PASSWORD_MIN", "8", "minimum password length (8 to 64)", func(c *config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 8 || n > 64 {
			return fmt.Errorf("want a whole number from 8 to 64")
		}
		c.PasswordMin = n
		return nil
	}},
	{"hash-concurrency", "HALLPASS_HASH_CONCURRENCY", "0", "password hashes computed at once; 0 means the number of CPUs with hash processes (they take only idle CPU), else one fewer, so pages stay fast during a login flood", func(c *config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 1024 {
			return fmt.Errorf("want a whole number from 0 to 1024")
		}
		c.HashConcurrency = n
		return nil
	}},
	{"hash-processes", "HALLPASS_HASH_PROCESSES", defaultHashProcesses, "compute argon2 password hashes in worker processes (\"hallpass hash-worker\") whose threads run only on CPU nothing else wants (SCHED_IDLE, Linux), so a login flood does not slow pages; false: in the server process", boolSetting(func(c *config) *bool { return &c.HashProcesses })},
	{"gc-min-heap", "HALLPASS_GC_MIN_HEAP", "32MiB", "heap the Go garbage collector lets the server grow to before it collects, while the live heap is smaller (fewer collections under load for a few tens of megabytes), at most a quarter of a container's memory limit; 0 leaves the runtime's default; ignored when GOGC is set", func(c *config, v string) error {
		n, err := parseMiB(v)
		if err != nil || (n != 0 && (n < 4<<20 || n > 64<<30)) {
			return fmt.Errorf("want 0 or a size from 4MiB to 64GiB, like 32MiB or 1GiB")
		}
		c.GCMinHeap = n
		return nil
	}},
	{"trusted-proxies", "HALLPASS_TRUSTED_PROXIES", "", "comma-separated CIDRs of proxies whose X-Forwarded-For is believed", func(c *config, v string) error {
		c.TrustedProxies = nil
		if v == "" {
			return nil
		}
		p, err := throttle.ParseCIDRs(strings.Split(v, ",")...)
		if err != nil {
			return fmt.Errorf("want comma-separated CIDRs like 10.0.0.0/8,::1/128")
		}
		c.TrustedProxies = p
		return nil
	}},
	{"log-level", "HALLPASS_LOG_LEVEL", "info", "debug, info, warn or error", func(c *config, v string) error {
		if err := c.LogLevel.UnmarshalText([]byte(v)); err != nil {
			return fmt.Errorf("want debug, info, warn or error")
		}
		return nil
	}},
	{"metrics-addr", "HALLPASS_METRICS_ADDR", "", "address (host:port) of a separate listener serving Prometheus metrics at /metrics; empty: off", func(c *config, v string) error {
		if v == "" {
			c.MetricsAddr = ""
			return nil
		}
		if _, port, err := net.SplitHostPort(v); err != nil || !validPort(port) {
			return fmt.Errorf("want host:port, like 127.0.0.1:9090, or nothing to turn metrics off")
		}
		c.MetricsAddr = v
		return nil
	}},
	{"log-format", "HALLPASS_LOG_FORMAT", "text", "text (key=value lines) or json (one JSON object a line)", func(c *config, v string) error {
		if v != "text" && v != "json" {
			return fmt.Errorf("want text or json")
		}
		c.LogFormat = v
		return nil
	}},
	{"access-log", "HALLPASS_ACCESS_LOG", "true", "log one line per request (method, route, status, duration, bytes, request ID); false turns it off", boolSetting(func(c *config) *bool { return &c.AccessLog })},
	{"pprof", "HALLPASS_PPROF", "false", "also serve Go's profiler (net/http/pprof) at /debug/pprof/ on the metrics listener", boolSetting(func(c *config) *bool { return &c.Pprof })},
	{"smtp-url", "HALLPASS_SMTP_URL", "", "mail server for reset and verification links: smtp://[user:password@]host:port (STARTTLS when offered, required with a password) or smtps://... (TLS); empty: the development mailer writes messages to the log", func(c *config, v string) error {
		if v != "" {
			if _, err := mail.NewSMTP(v, "check@example.com", mail.SMTPOptions{}); err != nil {
				return errors.New(strings.TrimPrefix(err.Error(), "mail: "))
			}
		}
		c.SMTPURL = v
		return nil
	}},
	{"mail-from", "HALLPASS_MAIL_FROM", "", "sender of the server's email, like 'Example <login@example.com>' (default: hallpass <noreply@HOST of the base URL>)", func(c *config, v string) error {
		if v != "" {
			if _, err := netmail.ParseAddress(v); err != nil {
				return fmt.Errorf("want an email address, like 'Example <login@example.com>'")
			}
		}
		c.MailFrom = v
		return nil
	}},
	{"reset-for", "HALLPASS_RESET_FOR", "1h", "lifetime of a password reset link", durationSetting(func(c *config) *time.Duration { return &c.ResetFor })},
	{"require-verified-email", "HALLPASS_REQUIRE_VERIFIED_EMAIL", "false", "refuse logins of accounts whose email address is not verified, with a page that offers to send the link again", boolSetting(func(c *config) *bool { return &c.RequireVerified })},
	{"require-2fa-for", "HALLPASS_REQUIRE_2FA_FOR", "", "comma-separated roles (such as admin) whose users must set up two-factor authentication at their next login before anything else", func(c *config, v string) error {
		c.Require2FAFor = nil
		if strings.TrimSpace(v) == "" {
			return nil
		}
		roles, err := account.NormalizeRoles(strings.Split(v, ","))
		if err != nil {
			return errors.New(autherr.MessageOf(err))
		}
		c.Require2FAFor = roles
		return nil
	}},
}

func durationSetting(field func(*config) *time.Duration) func(*config, string) error {
	return func(c *config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return fmt.Errorf("want a positive duration like 30m, 12h or 720h")
		}
		*field(c) = d
		return nil
	}
}

// parseMiB parses a size written as 0 or a whole number of MiB or GiB.
func parseMiB(v string) (uint64, error) {
	if v == "0" {
		return 0, nil
	}
	for _, u := range []struct {
		suffix string
		shift  uint
	}{{"MiB", 20}, {"GiB", 30}} {
		if num, ok := strings.CutSuffix(v, u.suffix); ok {
			n, err := strconv.ParseUint(num, 10, 32)
			if err != nil {
				return 0, err
			}
			return n << u.shift, nil
		}
	}
	return 0, fmt.Errorf("no unit (MiB or GiB) in %q", v)
}

func boolSetting(field func(*config) *bool) func(*config, string) error {
	return func(c *config, v string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("want true or false")
		}
		*field(c) = b
		return nil
	}
}

// redisSchemes are the URL schemes of a Redis server or cluster.
var redisSchemes = []string{"redis", "rediss", "redis+cluster", "rediss+cluster"}

// checkRedisURL reports whether url names a Redis server or cluster that
// a client can be built for (creating one does not connect).
func checkRedisURL(url string) error {
	c, err := redisstore.ParseURL(url)
	if err != nil {
		return redactError(err, url)
	}
	return c.Close()
}

func hasScheme(v string, schemes ...string) bool {
	scheme, _, ok := strings.Cut(v, "://")
	if !ok {
		return false
	}
	for _, s := range schemes {
		if scheme == s {
			return true
		}
	}
	return false
}

func validPort(p string) bool {
	n, err := strconv.Atoi(p)
	return err == nil && n >= 0 && n <= 65535
}

// registerFlags adds a flag for every setting to fs and returns a function
// that builds the config once fs has parsed: a flag that was given wins
// over its environment variable, which wins over the default. An invalid
// value is an error naming the flag or the variable it came from.
func registerFlags(fs *flag.FlagSet, getenv func(string) string) func() (*config, error) {
	vals := make(map[string]*string, len(settings))
	for _, s := range settings {
		vals[s.flag] = fs.String(s.flag, s.def, s.usage+" ($"+s.env+")")
	}
	return func() (*config, error) {
		given := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
		c := &config{}
		for _, s := range settings {
			v, source := s.def, "default of "+s.env
			if e := getenv(s.env); e != "" {
				v, source = e, s.env
			}
			if given[s.flag] {
				v, source = *vals[s.flag], "--"+s.flag
			}
			if err := s.parse(c, v); err != nil {
				if secretSettings[s.flag] {
					return nil, fmt.Errorf("%s: %v", source, err) // never echo secrets or credentials
				}
				return nil, fmt.Errorf("%s: invalid value %q: %v", source, v, err)
			}
		}
		providers, err := oidcProviders(getenv)
		if err != nil {
			return nil, err
		}
		c.OIDC = providers
		if c.Pprof && c.MetricsAddr == "" {
			return nil, errors.New("HALLPASS_PPROF needs HALLPASS_METRICS_ADDR: the profiler is served only on the metrics listener")
		}
		if c.AbsoluteTimeout < c.IdleTimeout {
			return nil, fmt.Errorf("HALLPASS_ABSOLUTE_TIMEOUT (%v) must not be shorter than HALLPASS_IDLE_TIMEOUT (%v)", c.AbsoluteTimeout, c.IdleTimeout)
		}
		return c, nil
	}
}

// oidcVariables are the settings of each OpenID Connect provider, after
// HALLPASS_OIDC_<ID>_.
var oidcVariables = []string{"ISSUER", "CLIENT_ID", "CLIENT_SECRET", "LABEL", "SCOPES", "SIGNUP"}

// oidcProviders reads the OpenID Connect providers: HALLPASS_OIDC_PROVIDERS
// lists their IDs, and each ID (upper-cased, '-' as '_') has its
// HALLPASS_OIDC_<ID>_ISSUER, _CLIENT_ID and _CLIENT_SECRET (required),
// _LABEL, _SCOPES and _SIGNUP. A missing or bad setting is an error naming
// its variable; a secret is never repeated.
func oidcProviders(getenv func(string) string) ([]oidc.Provider, error) {
	list := strings.TrimSpace(getenv("HALLPASS_OIDC_PROVIDERS"))
	if list == "" {
		return nil, nil
	}
	var out []oidc.Provider
	seen := map[string]bool{}
	for _, id := range strings.Split(list, ",") {
		id = strings.TrimSpace(id)
		if !oidc.ValidID(id) {
			return nil, fmt.Errorf("HALLPASS_OIDC_PROVIDERS: invalid provider ID %q: want lowercase letters, digits and '-', like google or corp-sso", id)
		}
		if seen[id] {
			return nil, fmt.Errorf("HALLPASS_OIDC_PROVIDERS: provider %q is listed twice", id)
		}
		seen[id] = true
		prefix := "HALLPASS_OIDC_" + strings.ToUpper(strings.ReplaceAll(id, "-", "_")) + "_"
		p := oidc.Provider{ID: id, Label: strings.TrimSpace(getenv(prefix + "LABEL"))}
		for _, req := range []struct {
			name string
			dst  *string
		}{{"ISSUER", &p.Issuer}, {"CLIENT_ID", &p.ClientID}, {"CLIENT_SECRET", &p.ClientSecret}} {
			if *req.dst = strings.TrimSpace(getenv(prefix + req.name)); *req.dst == "" {
				return nil, fmt.Errorf("%s%s is not set (needed for the OpenID Connect provider %q)", prefix, req.name, id)
			}
		}
		if u, err := url.Parse(p.Issuer); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			return nil, fmt.Errorf("%sISSUER: invalid value %q: want the provider's issuer URL, like https://accounts.google.com", prefix, p.Issuer)
		}
		if v := getenv(prefix + "SCOPES"); strings.TrimSpace(v) != "" {
			p.Scopes = strings.Fields(strings.ReplaceAll(v, ",", " "))
		}
		if v := strings.TrimSpace(getenv(prefix + "SIGNUP")); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return nil, fmt.Errorf("%sSIGNUP: invalid value %q: want true or false", prefix, v)
			}
			p.NoSignup = !b
		}
		out = append(out, p)
	}
	return out, nil
}

// redacted replaces a secret in what redactURL and redactError return.
const redacted = "xxxxx"

// redactURL returns u for logs, with the password of its userinfo and
// the value of every query parameter whose name looks secret (see
// secretParam) replaced by "xxxxx".
func redactURL(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(unparsable URL)"
	}
	if p.RawQuery != "" {
		var b strings.Builder
		eachParam(p.RawQuery, func(raw, name, _ string, sep string) {
			if secretParam(name) {
				k, _, _ := strings.Cut(raw, "=")
				raw = k + "=" + redacted
			}
			b.WriteString(raw + sep)
		})
		p.RawQuery = b.String()
	}
	return p.Redacted()
}

// secretParam reports whether a query parameter named name may carry a
// secret: password, sslpassword, pass, pwd, secret, token, key, sslkey,
// auth, credentials and the like.
func secretParam(name string) bool {
	name = strings.ToLower(name)
	for _, s := range []string{"pass", "pwd", "secret", "token", "key", "auth", "credential"} {
		if strings.Contains(name, s) {
			return true
		}
	}
	return false
}

// eachParam calls f for each parameter of a raw query string (separated by
// & or ;) with its raw text, its decoded name and value (the raw ones when
// they do not decode), and the separator that followed it.
func eachParam(query string, f func(raw, name, value, sep string)) {
	for query != "" {
		raw, sep := query, ""
		if i := strings.IndexAny(query, "&;"); i >= 0 {
			raw, sep, query = query[:i], query[i:i+1], query[i+1:]
		} else {
			query = ""
		}
		k, v, _ := strings.Cut(raw, "=")
		if d, err := url.QueryUnescape(k); err == nil {
			k = d
		}
		if d, err := url.QueryUnescape(v); err == nil {
			v = d
		}
		f(raw, k, v, sep)
	}
}

// redactError returns err for a message, with every secret of the URL u
// it was about (see redactURL) replaced by "xxxxx" in its text. u need not
// parse: the errors that quote a URL are often about one that does not.
// The result still wraps err, for errors.Is.
func redactError(err error, u string) error {
	if err == nil {
		return nil
	}
	var secrets []string
	_, rest, _ := strings.Cut(u, "://")
	rest, _, _ = strings.Cut(rest, "#")
	rest, query, _ := strings.Cut(rest, "?")
	if i := strings.LastIndexByte(rest, '@'); i >= 0 {
		if _, pw, ok := strings.Cut(rest[:i], ":"); ok {
			secrets = append(secrets, pw)
			if d, err := url.PathUnescape(pw); err == nil {
				secrets = append(secrets, d)
			}
		}
	}
	eachParam(query, func(raw, name, value, _ string) {
		if secretParam(name) {
			_, v, _ := strings.Cut(raw, "=")
			secrets = append(secrets, v, value)
		}
	})
	msg := err.Error()
	for _, s := range secrets {
		if s != "" {
			msg = strings.ReplaceAll(msg, s, redacted)
		}
	}
	if msg == err.Error() {
		return err
	}
	return &redactedError{msg: msg, err: err}
}

// redactedError is an error whose text had secrets removed.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }
