// Package config is the service's configuration: go-zero's RestConf plus the
// MySQL pool, loaded from etc/project-api.yaml and validated at start.
package config

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/zeromicro/go-zero/rest"
)

// Config is the whole configuration of the service.
type Config struct {
	rest.RestConf
	Mysql     MysqlConf
	Auth      AuthConf
	Record    RecordConf
	Redis     RedisConf
	RateLimit RateLimitConf
	// Coalesce lets concurrent identical requests share one in-flight load
	// (no caching: nothing outlives the load).
	Coalesce bool `json:",default=true"`
	// ShedOnlyWithCpuQuota applies go-zero's CPU load shedding
	// (CpuThreshold) only when the service has a CPU quota of its own (a
	// container or pod CPU limit). Without one, the CPU go-zero reads is the
	// machine's — a database on the same host included — and shedding would
	// refuse requests the service could serve.
	ShedOnlyWithCpuQuota bool `json:",default=true"`
	// MaxHeaderBytes bounds a request's header (request line and fields),
	// checked before authentication: 431 beyond it.
	MaxHeaderBytes int `json:",default=32768"`
}

// MysqlConf is the one connection pool every model shares. The keys carry
// database/sql's names so operators recognise them; each can also be set
// from the environment (the env names below), which wins over the file.
type MysqlConf struct {
	// DataSource is a go-sql-driver/mysql DSN. Service defaults (parseTime,
	// UTC, timeouts, interpolateParams) are added when the DSN leaves them out.
	DataSource string `json:",optional,env=MYSQL_DSN"`
	// MaxOpenConns caps connections to the server (in use + idle).
	MaxOpenConns int `json:",default=32,env=MYSQL_MAX_OPEN_CONNS"`
	// MaxIdleConns is how many connections stay open between bursts.
	MaxIdleConns int `json:",default=32,env=MYSQL_MAX_IDLE_CONNS"`
	// ConnMaxLifetime recycles connections (server restarts, failovers, proxies).
	ConnMaxLifetime time.Duration `json:",default=30m,env=MYSQL_CONN_MAX_LIFETIME"`
	// ConnMaxIdleTime closes connections idle longer than this.
	ConnMaxIdleTime time.Duration `json:",default=5m,env=MYSQL_CONN_MAX_IDLE_TIME"`
	// ServerSideDeadline passes each read's remaining request deadline to the
	// server (MySQL MAX_EXECUTION_TIME / MariaDB max_statement_time), so an
	// abandoned statement stops on the server too, not only in the client.
	ServerSideDeadline bool `json:",default=true"`
	// SlowThreshold: a read slower than this is logged (read and duration only).
	SlowThreshold time.Duration `json:",default=500ms"`
	// Replicas are DSNs of read replicas of DataSource (MySQL/MariaDB
	// replication); environment MYSQL_REPLICA_DSNS, comma-separated. Each
	// gets a pool with the settings above. A request's three reads go to one
	// healthy replica; audit writes always go to the primary.
	Replicas []string `json:",optional"`
	// MaxReplicaLag: a replica further behind the primary than this leaves
	// rotation until it catches up.
	MaxReplicaLag time.Duration `json:",default=5s"`
}

// Defaults of the Auth keys, for code that builds an AuthConf itself (a
// loaded config has them from the tags above, which must agree: the
// config tests check it).
const (
	DefaultKeyRefresh       = 5 * time.Minute
	DefaultMaxTokenLifetime = 24 * time.Hour
)

// RecordConf bounds GET /project/:id: how many of a project's institutions
// its answer carries (the rest: GET /project/:id/institutions, through the
// answer's institutions_next cursor).
type RecordConf struct {
	// Institutions is the default of ?institutions=.
	Institutions int `json:",default=100"`
	// MaxInstitutions is the most ?institutions= may ask for.
	MaxInstitutions int `json:",default=1000"`
}

// RedisConf is the Redis the instances share their rate-limit counters in.
// Without an address, rate limiting is off (the service says so at start).
type RedisConf struct {
	// Addr is host:port.
	Addr string `json:",optional,env=REDIS_ADDR"`
	// User and Pass authenticate (Redis ACL user, or only the password).
	User string `json:",optional,env=REDIS_USER"`
	Pass string `json:",optional,env=REDIS_PASSWORD"`
	// TLS connects with TLS.
	TLS bool `json:",optional"`
}

// RateLimitConf is the per-client quota: Rate requests per Window, at
// most Burst of them at once, for each client (the token's azp/client_id,
// else its sub), shared by every instance through Redis.
type RateLimitConf struct {
	Rate   int           `json:",default=3000"`
	Window time.Duration `json:",default=1m"`
	Burst  int           `json:",default=100"`
	// Clients override the quota of the clients they name.
	Clients map[string]ClientRate `json:",optional"`
	// Instances is how many instances share the quota: while Redis cannot
	// be reached, each limits locally to its share (quota ÷ Instances).
	Instances int `json:",default=1"`
	// Timeout bounds one call to Redis: a slow Redis is an unreachable one.
	Timeout time.Duration `json:",default=50ms"`
}

// ClientRate is a client's own quota.
type ClientRate struct {
	Rate   int
	Window time.Duration
	Burst  int
}

// ReplicasEnv is the environment variable listing replica DSNs.
const ReplicasEnv = "MYSQL_REPLICA_DSNS"

// AuthConf is how callers prove who they are: OpenID Connect bearer access
// tokens (JWT) from the operator's identity provider. The environment
// variables win over the file.
type AuthConf struct {
	// Disabled runs the service without authentication, authorization or
	// audit trail: every caller reads every project. For local development
	// and benchmarks only; the service logs a warning at start.
	Disabled bool `json:",optional"`
	// Issuer is the provider's issuer URL; tokens' iss must equal it. Its
	// keys are found through <Issuer>/.well-known/openid-configuration.
	Issuer string `json:",optional,env=AUTH_ISSUER"`
	// Audience must be among a token's aud.
	Audience string `json:",default=project-api,env=AUTH_AUDIENCE"`
	// JwksURL, when set, is where the keys are (no discovery). It may carry
	// a query (Entra ID's keys of an app with its own signing key:
	// .../discovery/v2.0/keys?appid=<id>).
	JwksURL string `json:",optional,env=AUTH_JWKS_URL"`
	// KeyRefresh is how often the issuer's key set is fetched again (as
	// well as at once for a token naming a key not held). A key the issuer
	// stops publishing stops verifying within it — tokens verified with it
	// earlier included.
	KeyRefresh time.Duration `json:",default=5m"`
	// MaxTokenLifetime refuses tokens meant to live longer (exp - iat, or
	// exp - now without iat): a token with exp a century away is a
	// credential nobody can revoke.
	MaxTokenLifetime time.Duration `json:",default=24h"`
	// TokenType, when set to at+jwt, requires the RFC 9068 typ header
	// ("at+jwt" or "application/at+jwt"), for providers that set it.
	TokenType string `json:",optional,options=[at+jwt]"`
	// RequireClient refuses tokens that name no client (azp, client_id,
	// cid or appid): every access token of the documented providers names
	// the client it was issued to, an ID token of some does not.
	RequireClient bool `json:",default=true"`
}

// Validate rejects a configuration the service cannot run with; go-zero's
// conf.Load calls it, and the error names the bad key.
func (c Config) Validate() error {
	m := c.Mysql
	switch {
	case m.DataSource == "":
		return errors.New("Mysql.DataSource is empty: set it in the config file or the MYSQL_DSN environment variable")
	case m.MaxOpenConns < 1:
		return fmt.Errorf("Mysql.MaxOpenConns must be at least 1, got %d", m.MaxOpenConns)
	case m.MaxIdleConns < 0:
		return fmt.Errorf("Mysql.MaxIdleConns must not be negative, got %d", m.MaxIdleConns)
	case m.MaxIdleConns > m.MaxOpenConns:
		return fmt.Errorf("Mysql.MaxIdleConns (%d) must not exceed Mysql.MaxOpenConns (%d)", m.MaxIdleConns, m.MaxOpenConns)
	case m.ConnMaxLifetime < 0:
		return fmt.Errorf("Mysql.ConnMaxLifetime must not be negative, got %s", m.ConnMaxLifetime)
	case m.ConnMaxIdleTime < 0:
		return fmt.Errorf("Mysql.ConnMaxIdleTime must not be negative, got %s", m.ConnMaxIdleTime)
	case m.SlowThreshold <= 0:
		return fmt.Errorf("Mysql.SlowThreshold must be positive, got %s", m.SlowThreshold)
	case c.Timeout <= 0:
		return fmt.Errorf("Timeout must be a positive number of milliseconds, got %d", c.Timeout)
	case c.MaxHeaderBytes < 4096:
		return fmt.Errorf("MaxHeaderBytes must be at least 4096 (a bearer token alone can take several KiB), got %d", c.MaxHeaderBytes)
	case c.Record.Institutions < 1 || c.Record.Institutions > c.Record.MaxInstitutions:
		return fmt.Errorf("Record.Institutions must be between 1 and Record.MaxInstitutions (%d), got %d", c.Record.MaxInstitutions, c.Record.Institutions)
	case m.MaxReplicaLag <= 0:
		return fmt.Errorf("Mysql.MaxReplicaLag must be positive, got %s", m.MaxReplicaLag)
	}
	for i, r := range m.Replicas {
		if _, err := mysql.ParseDSN(r); err != nil {
			// Never echo a DSN: it may hold a password.
			return fmt.Errorf("Mysql.Replicas[%d] (or %s) is not a valid go-sql-driver/mysql DSN", i, ReplicasEnv)
		}
	}
	if err := c.Auth.validate(); err != nil {
		return err
	}
	if err := c.RateLimit.validate(); err != nil {
		return err
	}
	if _, err := mysql.ParseDSN(m.DataSource); err != nil {
		// The driver's message can quote the DSN, password included: never echo it.
		return errors.New("Mysql.DataSource (or MYSQL_DSN) is not a valid go-sql-driver/mysql DSN, e.g. user:pass@tcp(host:3306)/db")
	}
	return nil
}

func (a AuthConf) validate() error {
	if a.Disabled {
		return nil
	}
	if a.Issuer == "" {
		return errors.New("Auth.Issuer is empty: set it (or AUTH_ISSUER) to the issuer URL of your OpenID Connect provider, " +
			"or set Auth.Disabled: true to run without authentication (never in production)")
	}
	if a.Audience == "" {
		return errors.New("Auth.Audience is empty: set it (or AUTH_AUDIENCE) to the audience your provider puts in the service's tokens")
	}
	if err := SecureURL(a.Issuer); err != nil {
		return fmt.Errorf("Auth.Issuer (or AUTH_ISSUER) %w", err)
	}
	if a.JwksURL != "" {
		if err := SecureKeysURL(a.JwksURL); err != nil {
			return fmt.Errorf("Auth.JwksURL (or AUTH_JWKS_URL) %w", err)
		}
	}
	switch {
	case a.KeyRefresh < time.Second:
		return fmt.Errorf("Auth.KeyRefresh must be at least 1s, got %s", a.KeyRefresh)
	case a.MaxTokenLifetime <= 0:
		return fmt.Errorf("Auth.MaxTokenLifetime must be positive, got %s", a.MaxTokenLifetime)
	}
	return nil
}

func (r RateLimitConf) validate() error {
	check := func(key string, c ClientRate) error {
		switch {
		case c.Rate < 1:
			return fmt.Errorf("%s.Rate must be at least 1, got %d", key, c.Rate)
		case c.Window < time.Second:
			return fmt.Errorf("%s.Window must be at least 1s, got %s", key, c.Window)
		case c.Burst < 1:
			return fmt.Errorf("%s.Burst must be at least 1, got %d", key, c.Burst)
		}
		return nil
	}
	if err := check("RateLimit", ClientRate{r.Rate, r.Window, r.Burst}); err != nil {
		return err
	}
	for name, c := range r.Clients {
		if err := check("RateLimit.Clients."+name, c); err != nil {
			return err
		}
	}
	switch {
	case r.Instances < 1:
		return fmt.Errorf("RateLimit.Instances must be at least 1, got %d", r.Instances)
	case r.Timeout <= 0:
		return fmt.Errorf("RateLimit.Timeout must be positive, got %s", r.Timeout)
	}
	return nil
}

// SecureURL accepts an https:// URL without query or fragment (an issuer
// identifier), and http:// only on a loopback host (a provider on the same
// machine, as in tests): keys fetched over plain HTTP from elsewhere could
// be anyone's.
func SecureURL(raw string) error {
	return secureURL(raw, false)
}

// SecureKeysURL is SecureURL for a key set's URL, which may carry a query.
func SecureKeysURL(raw string) error {
	return secureURL(raw, true)
}

func secureURL(raw string, query bool) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil || (u.RawQuery != "" && !query) || u.Fragment != "" {
		return fmt.Errorf("%q is not an absolute URL like https://idp.example.com/realms/clinical", raw)
	}
	switch {
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && isLoopback(u.Hostname()):
		return nil
	case u.Scheme == "http":
		return fmt.Errorf("%q must be https:// (http:// is accepted only on a loopback address)", raw)
	default:
		return fmt.Errorf("%q must be an https:// URL", raw)
	}
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}
