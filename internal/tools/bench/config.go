package bench

import (
	"fmt"
	"maps"
	"os"
	"slices"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/clinicaldata/projectsvc/internal/config"
	"github.com/clinicaldata/projectsvc/internal/testing/testenv"
)

// ShippedConfig is the service's configuration file as deployed.
const ShippedConfig = "etc/project-api.yaml"

// SheddingOff is the override that turns go-zero's CPU load shedding off.
// It reads the CPU usage of the process's cgroup, which on a shared bench
// machine includes the database and the load generator, so the scenarios
// that are not about shedding run without it.
const SheddingOff = "CpuThreshold: 0"

// CoalesceOff is the override that makes every request load its own record.
const CoalesceOff = "Coalesce: false"

// WithAuth is v with authentication and the audit trail on (the
// shipped Auth settings, tokens of issuer) and token sent as the bearer
// token of every request of the arm.
func WithAuth(v Variant, issuer, token string) Variant {
	v.Overrides = append(slices.Clone(v.Overrides), Override(map[string]any{"Auth": map[string]any{"Disabled": false, "Issuer": issuer}}))
	v.Header = maps.Clone(v.Header)
	if v.Header == nil {
		v.Header = map[string]string{}
	}
	v.Header["Authorization"] = "Bearer " + token
	return v
}

// ReplicasOverride is the override that sends the reads to replicas (DSNs).
func ReplicasOverride(replicas []string) string {
	return Override(map[string]any{"Mysql": map[string]any{"Replicas": replicas}})
}

// Override is a YAML override of the keys in m.
func Override(m map[string]any) string {
	b, err := yaml.Marshal(m)
	if err != nil {
		panic(err) // maps of strings, numbers and lists always marshal
	}
	return string(b)
}

// Variant is one configuration of the service a scenario runs: YAML
// overrides merged over the shipped configuration (see Layers), and what a
// configuration cannot say.
type Variant struct {
	Name      string
	Overrides []string
	// Serial makes the three reads of a request take turns (serial.go).
	Serial bool
	// Header is sent with every request of the arm (e.g. Authorization).
	Header map[string]string
}

// Layers are the YAML documents a variant's configuration is merged from,
// in order: the shipped file; what the bench sets in every instance
// (loopback only, the DSN, authentication off: Auth.Disabled); the
// caller's layer (e.g. ports); the variant's overrides. A mapping merges
// key by key; anything else replaces. An arm with authentication on is a
// variant whose overrides set Auth (Disabled: false, Issuer, ...) and whose
// Header carries "Authorization: Bearer ...".
func Layers(dsn string, caller string, v Variant) ([]string, error) {
	shipped, err := os.ReadFile(testenv.Path(ShippedConfig))
	if err != nil {
		return nil, err
	}
	own, err := yaml.Marshal(map[string]any{"Host": "127.0.0.1", "Mysql": map[string]any{"DataSource": dsn},
		"Auth": map[string]any{"Disabled": true}})
	if err != nil {
		return nil, err
	}
	return append([]string{string(shipped), string(own), caller}, v.Overrides...), nil
}

// LoadConfig loads merged YAML as the service loads its file, validation
// included.
func LoadConfig(merged []byte) (config.Config, error) {
	c, err := config.LoadBytes(merged)
	if err != nil {
		return c, fmt.Errorf("config: %w", err)
	}
	return c, nil
}

// PoolSettings are database/sql pool settings, named after the config keys.
type PoolSettings struct {
	MaxOpenConns    int
	MaxIdleConns    int
	ConnMaxLifetime time.Duration
	ConnMaxIdleTime time.Duration
}

func (p PoolSettings) String() string {
	idle := p.ConnMaxIdleTime.String()
	if p.ConnMaxIdleTime == 0 {
		idle = "none"
	}
	return fmt.Sprintf("%d open / %d idle / lifetime %s / idle time %s", p.MaxOpenConns, p.MaxIdleConns, p.ConnMaxLifetime, idle)
}

// Override is the YAML override that sets the pool to p.
func (p PoolSettings) Override() string {
	return fmt.Sprintf("Mysql: {MaxOpenConns: %d, MaxIdleConns: %d, ConnMaxLifetime: %s, ConnMaxIdleTime: %s}",
		p.MaxOpenConns, p.MaxIdleConns, p.ConnMaxLifetime, p.ConnMaxIdleTime)
}

// GoZeroPool is what go-zero's sqlx.NewMysql hard-codes
// (core/stores/sqlx/sqlmanager.go: maxOpenConns, maxIdleConns, maxLifetime).
var GoZeroPool = PoolSettings{MaxOpenConns: 64, MaxIdleConns: 64, ConnMaxLifetime: time.Minute}

// PoolOf returns the pool settings of a config.
func PoolOf(c config.Config) PoolSettings {
	return PoolSettings{c.Mysql.MaxOpenConns, c.Mysql.MaxIdleConns, c.Mysql.ConnMaxLifetime, c.Mysql.ConnMaxIdleTime}
}

// StructDefaults are config.Config's own pool defaults (a file without pool keys).
func StructDefaults() (PoolSettings, error) {
	c, err := LoadConfig([]byte("Name: x\nPort: 1\nAuth: {Disabled: true}\nMysql:\n  DataSource: 'u:p@tcp(127.0.0.1:1)/db'\n"))
	return PoolOf(c), err
}

// HeaderLines are the variant's headers as "Name: value" lines, sorted.
func (v Variant) HeaderLines() []string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(v.Header)) {
		out = append(out, k+": "+v.Header[k])
	}
	return out
}
