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
	c.Auth = AuthConf{Issuer: "https://idp.example.com/realms/clinical", Audience: "project-api"}
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
	c.Auth = AuthConf{Disabled: true}
	if err := c.Validate(); err != nil {
		t.Fatalf("Auth.Disabled needs no issuer: %v", err)
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
