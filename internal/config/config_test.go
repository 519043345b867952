package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func valid() Config {
	var c Config
	c.Timeout = 3000
	c.Mysql = MysqlConf{DataSource: "u:p@tcp(db:3306)/project", MaxOpenConns: 32, MaxIdleConns: 32,
		ConnMaxLifetime: time.Minute, ConnMaxIdleTime: time.Minute, SlowThreshold: time.Second, MaxReplicaLag: 5 * time.Second}
	c.Auth = AuthConf{Issuer: "https://idp.example.com/realms/clinical", Audience: "project-api",
		KeyRefresh: 5 * time.Minute, MaxTokenLifetime: 24 * time.Hour, RequireClient: true}
	c.MaxHeaderBytes = 32 << 10
	c.Record = RecordConf{Institutions: 100, MaxInstitutions: 1000}
	c.RateLimit = RateLimitConf{Rate: 3000, Window: time.Minute, Burst: 100, Instances: 1, Timeout: 50 * time.Millisecond}
	return c
}

func TestValidate_NamesTheBadKey(t *testing.T) {
	if err := valid().Validate(); err != nil {
		t.Fatalf("a valid config: %v", err)
	}
	for _, tc := range []struct {
		name, mentions string
		edit           func(*Config)
	}{
		{"emptyDSN", "Mysql.DataSource", func(c *Config) { c.Mysql.DataSource = "" }},
		{"badDSN", "Mysql.DataSource", func(c *Config) { c.Mysql.DataSource = "u:Pw-Secret@tcp(db" }},
		{"noOpenConns", "Mysql.MaxOpenConns", func(c *Config) { c.Mysql.MaxOpenConns = 0 }},
		{"negativeIdle", "Mysql.MaxIdleConns", func(c *Config) { c.Mysql.MaxIdleConns = -1 }},
		{"idleAboveOpen", "Mysql.MaxIdleConns (33) must not exceed Mysql.MaxOpenConns (32)", func(c *Config) { c.Mysql.MaxIdleConns = 33 }},
		{"negativeLifetime", "Mysql.ConnMaxLifetime", func(c *Config) { c.Mysql.ConnMaxLifetime = -time.Second }},
		{"negativeIdleTime", "Mysql.ConnMaxIdleTime", func(c *Config) { c.Mysql.ConnMaxIdleTime = -time.Second }},
		{"noSlowThreshold", "Mysql.SlowThreshold", func(c *Config) { c.Mysql.SlowThreshold = 0 }},
		{"noTimeout", "Timeout", func(c *Config) { c.Timeout = 0 }},
		{"noLagBound", "Mysql.MaxReplicaLag", func(c *Config) { c.Mysql.MaxReplicaLag = 0 }},
		{"badReplica", "Mysql.Replicas[1]", func(c *Config) { c.Mysql.Replicas = []string{"u:p@tcp(r1:3306)/project", "u:Pw-Secret@tcp(r2"} }},
		{"noIssuer", "Auth.Issuer is empty", func(c *Config) { c.Auth.Issuer = "" }},
		{"noAudience", "Auth.Audience", func(c *Config) { c.Auth.Audience = "" }},
		{"plainHTTPIssuer", "Auth.Issuer", func(c *Config) { c.Auth.Issuer = "http://idp.example.com" }},
		{"relativeIssuer", "Auth.Issuer", func(c *Config) { c.Auth.Issuer = "idp.example.com" }},
		{"plainHTTPJwks", "Auth.JwksURL", func(c *Config) { c.Auth.JwksURL = "http://idp.example.com/keys" }},
		{"jwksWithFragment", "Auth.JwksURL", func(c *Config) { c.Auth.JwksURL = "https://idp.example.com/keys#x" }},
		{"issuerWithQuery", "Auth.Issuer", func(c *Config) { c.Auth.Issuer = "https://idp.example.com/?tenant=x" }},
		{"keyRefreshTooOften", "Auth.KeyRefresh", func(c *Config) { c.Auth.KeyRefresh = time.Millisecond }},
		{"noLifetime", "Auth.MaxTokenLifetime", func(c *Config) { c.Auth.MaxTokenLifetime = 0 }},
		{"tinyHeader", "MaxHeaderBytes", func(c *Config) { c.MaxHeaderBytes = 100 }},
		{"recordAboveItsMax", "Record.Institutions", func(c *Config) { c.Record.Institutions = 1001 }},
		{"noRecordInstitutions", "Record.Institutions", func(c *Config) { c.Record.Institutions = 0 }},
		{"noRate", "RateLimit.Rate", func(c *Config) { c.RateLimit.Rate = 0 }},
		{"shortWindow", "RateLimit.Window", func(c *Config) { c.RateLimit.Window = time.Millisecond }},
		{"noBurst", "RateLimit.Burst", func(c *Config) { c.RateLimit.Burst = 0 }},
		{"badClient", "RateLimit.Clients.site-aarhus.Burst", func(c *Config) {
			c.RateLimit.Clients = map[string]ClientRate{"site-aarhus": {Rate: 10, Window: time.Second}}
		}},
		{"noInstances", "RateLimit.Instances", func(c *Config) { c.RateLimit.Instances = 0 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := valid()
			tc.edit(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.mentions) {
				t.Fatalf("err = %v, want it to name %q", err, tc.mentions)
			}
			if strings.Contains(err.Error(), "Pw-Secret") || strings.Count(err.Error(), "\n") > 0 {
				t.Fatalf("err %q quotes a password or spans lines", err)
			}
		})
	}
	c := valid()
	c.Auth.JwksURL = "https://login.microsoftonline.com/tenant/discovery/v2.0/keys?appid=0000"
	if err := c.Validate(); err != nil {
		t.Fatalf("a key set URL with a query (Entra ID, custom signing key): %v", err)
	}
	c = valid()
	c.Auth = AuthConf{Disabled: true}
	if err := c.Validate(); err != nil {
		t.Fatalf("Auth.Disabled needs no issuer: %v", err)
	}
}

func TestLoad_AuthDefaultsAreTheConstants(t *testing.T) {
	file := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(file, []byte("Name: x\nPort: 1\nMysql: {DataSource: 'u:p@tcp(db:3306)/project'}\nAuth: {Issuer: 'https://idp.example.com'}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(file)
	if err != nil {
		t.Fatal(err)
	}
	if c.Auth.KeyRefresh != DefaultKeyRefresh || c.Auth.MaxTokenLifetime != DefaultMaxTokenLifetime || !c.Auth.RequireClient || c.Auth.TokenType != "" {
		t.Fatalf("Auth defaults %+v, want KeyRefresh %s, MaxTokenLifetime %s, RequireClient, no TokenType", c.Auth, DefaultKeyRefresh, DefaultMaxTokenLifetime)
	}
}

// TestLoad_TheDocumentedDefaultsAreTheCodes: a file that sets only what
// has no default gets the service's defaults, not go-zero's — whatever
// file an operator mounts.
func TestLoad_TheDocumentedDefaultsAreTheCodes(t *testing.T) {
	file := filepath.Join(t.TempDir(), "minimal.yaml")
	if err := os.WriteFile(file, []byte("Mysql: {DataSource: 'u:p@tcp(db:3306)/project'}\nAuth: {Issuer: 'https://idp.example.com'}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		key      string
		got, def any
	}{
		{"Name", c.Name, "project-api"}, {"Host", c.Host, "0.0.0.0"}, {"Port", c.Port, 8888}, {"Timeout", c.Timeout, int64(3000)},
		{"Middlewares.Breaker", c.Middlewares.Breaker, false}, {"Middlewares.Shedding", c.Middlewares.Shedding, true},
		{"Log.Encoding", c.Log.Encoding, "json"}, {"Log.Level", c.Log.Level, "info"},
		{"DevServer.Enabled", c.DevServer.Enabled, true}, {"DevServer.Port", c.DevServer.Port, 6060},
		{"DevServer.EnableMetrics", c.DevServer.EnableMetrics, true}, {"DevServer.EnablePprof", c.DevServer.EnablePprof, false},
		{"MaxHeaderBytes", c.MaxHeaderBytes, 32 << 10}, {"Coalesce", c.Coalesce, true},
		{"Mysql.MaxOpenConns", c.Mysql.MaxOpenConns, 32}, {"Mysql.MaxIdleConns", c.Mysql.MaxIdleConns, 32},
		{"Mysql.ConnMaxLifetime", c.Mysql.ConnMaxLifetime, 30 * time.Minute}, {"Mysql.ConnMaxIdleTime", c.Mysql.ConnMaxIdleTime, 5 * time.Minute},
		{"Mysql.SlowThreshold", c.Mysql.SlowThreshold, 500 * time.Millisecond}, {"Mysql.MaxReplicaLag", c.Mysql.MaxReplicaLag, 5 * time.Second},
		{"Auth.Audience", c.Auth.Audience, "project-api"},
		{"Record.Institutions", c.Record.Institutions, 100}, {"Record.MaxInstitutions", c.Record.MaxInstitutions, 1000},
		{"RateLimit.Rate", c.RateLimit.Rate, 3000}, {"RateLimit.Window", c.RateLimit.Window, time.Minute},
		{"RateLimit.Burst", c.RateLimit.Burst, 100}, {"RateLimit.Instances", c.RateLimit.Instances, 1},
		{"RateLimit.Timeout", c.RateLimit.Timeout, 50 * time.Millisecond}, {"Redis.Addr", c.Redis.Addr, ""},
	} {
		if tc.got != tc.def {
			t.Errorf("%s = %v, want the documented default %v", tc.key, tc.got, tc.def)
		}
	}
	// A file still wins over a default.
	if err := os.WriteFile(file, []byte("Port: 9999\nDevServer: {EnablePprof: true}\nMiddlewares: {Breaker: true}\nMysql: {DataSource: 'u:p@tcp(db:3306)/project'}\nAuth: {Disabled: true}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if c, err = Load(file); err != nil || c.Port != 9999 || !c.DevServer.EnablePprof || !c.Middlewares.Breaker || c.DevServer.Port != 6060 {
		t.Fatalf("the file's own values: %+v %v", c.RestConf, err)
	}
}

func TestSecureURL_HTTPSOrLoopbackHTTP(t *testing.T) {
	for raw, ok := range map[string]bool{
		"https://idp.example.com/realms/x": true,
		"http://127.0.0.1:8080":            true,
		"http://[::1]:8080":                true,
		"http://localhost:9000/x":          true,
		"http://10.0.0.1":                  false,
		"http://idp.example.com":           false,
		"ftp://idp.example.com":            false,
		"https://user:pw@idp.example.com":  false,
		"https://idp.example.com/?a=b":     false,
		"":                                 false,
	} {
		if err := SecureURL(raw); (err == nil) != ok {
			t.Errorf("SecureURL(%q) = %v, want ok=%v", raw, err, ok)
		}
	}
}

func TestLoad_ReplicasFromTheEnvironmentAndBadValuesNameTheirKey(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "c.yaml")
	write := func(s string) {
		if err := os.WriteFile(file, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("Name: x\nPort: 1\nMysql:\n  DataSource: 'u:p@tcp(db:3306)/project'\n  ConnMaxLifetime: soon\nAuth: {Disabled: true}\n")
	if _, err := Load(file); err == nil || !strings.Contains(err.Error(), "Mysql.ConnMaxLifetime") {
		t.Fatalf("bad duration: %v, want it to name Mysql.ConnMaxLifetime", err)
	}
	write("Name: x\nPort: 1\nMysql:\n  DataSource: 'u:p@tcp(db:3306)/project'\nAuth: {Disabled: true}\n")
	t.Setenv(ReplicasEnv, " u:p@tcp(r1:3306)/project , u:p@tcp(r2:3306)/project ,")
	// (MYSQL_DSN and the other env= keys are go-zero's, which reads each
	// variable once per process: the process tests cover them.)
	c, err := Load(file)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Mysql.Replicas) != 2 || c.Mysql.Replicas[1] != "u:p@tcp(r2:3306)/project" {
		t.Fatalf("MYSQL_REPLICA_DSNS not applied: %q", c.Mysql.Replicas)
	}
	t.Setenv(ReplicasEnv, "u:Pw-Secret@tcp(r1")
	if _, err := Load(file); err == nil || !strings.Contains(err.Error(), ReplicasEnv) || strings.Contains(err.Error(), "Pw-Secret") {
		t.Fatalf("bad replica from env: %v", err)
	}
}
