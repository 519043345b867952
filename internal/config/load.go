package config

import (
	_ "embed"
	"errors"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strings"

	"github.com/zeromicro/go-zero/core/conf"
	"gopkg.in/yaml.v3"
)

//go:embed defaults.yaml
var defaults string

// Load reads and validates the config file (YAML, or JSON), layered over
// the service's defaults (defaults.yaml: what differs from go-zero's), with
// the environment overrides applied. Every error is one line that names
// the bad key. It starts nothing: the caller runs c.SetUp() (logging,
// DevServer, tracing) when it serves.
func Load(path string) (Config, error) {
	file, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	c, err := LoadBytes(file)
	if err != nil {
		return c, fmt.Errorf("config %s: %w", path, nameBadValue(file, err))
	}
	return c, nil
}

// LoadBytes is Load of a config file's content.
func LoadBytes(file []byte) (Config, error) {
	var c Config
	merged, err := MergeYAML(defaults, string(file))
	if err != nil {
		return c, err
	}
	if err := conf.LoadFromYamlBytes(merged, &c); err != nil {
		return c, err
	}
	// go-zero's env= option does not fill lists: MYSQL_REPLICA_DSNS is read here.
	if v, ok := os.LookupEnv(ReplicasEnv); ok {
		c.Mysql.Replicas = nil
		for _, dsn := range strings.Split(v, ",") {
			if dsn = strings.TrimSpace(dsn); dsn != "" {
				c.Mysql.Replicas = append(c.Mysql.Replicas, dsn)
			}
		}
		if err := c.Validate(); err != nil {
			return c, err
		}
	}
	return c, nil
}

// MergeYAML merges YAML documents into one, in order: a mapping merges key
// by key, anything else replaces. (JSON is YAML.)
func MergeYAML(docs ...string) ([]byte, error) {
	merged := map[string]any{}
	for i, doc := range docs {
		var m map[string]any
		if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
			return nil, fmt.Errorf("YAML layer %d: %w", i, err)
		}
		merge(merged, m)
	}
	return yaml.Marshal(merged)
}

func merge(dst, src map[string]any) {
	for k, v := range src {
		if sub, ok := v.(map[string]any); ok {
			if d, ok := dst[k].(map[string]any); ok {
				merge(d, sub)
				continue
			}
		}
		dst[k] = v
	}
}

var quotedValue = regexp.MustCompile(`invalid duration "((?:[^"\\]|\\.)*)"`)

// nameBadValue adds the key to go-zero's duration errors, which quote only
// the bad value ("time: invalid duration \"banana\""): it finds the keys of
// the file (or the environment variables) that hold that value.
func nameBadValue(content []byte, err error) error {
	m := quotedValue.FindStringSubmatch(err.Error())
	if m == nil {
		return err
	}
	bad := m[1]
	var keys []string
	var tree map[string]any
	if yaml.Unmarshal(content, &tree) == nil {
		keys = findKeys("", tree, bad)
	}
	for _, env := range envKeys(reflect.TypeOf(Config{})) {
		if os.Getenv(env) == bad {
			keys = append(keys, env)
		}
	}
	if len(keys) == 0 {
		return err
	}
	sort.Strings(keys)
	return errors.New(strings.Join(keys, ", ") + ": invalid duration " + m[0][len("invalid duration "):] + " (use e.g. 500ms, 30s, 5m)")
}

func findKeys(prefix string, v any, want string) []string {
	var keys []string
	switch t := v.(type) {
	case map[string]any:
		for k, child := range t {
			name := k
			if prefix != "" {
				name = prefix + "." + k
			}
			keys = append(keys, findKeys(name, child, want)...)
		}
	case string:
		if t == want {
			keys = append(keys, prefix)
		}
	}
	return keys
}

// envKeys lists the env=NAME options of the config's struct tags.
func envKeys(t reflect.Type) []string {
	var names []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		for _, opt := range strings.Split(f.Tag.Get("json"), ",") {
			if name, ok := strings.CutPrefix(opt, "env="); ok {
				names = append(names, name)
			}
		}
		if f.Type.Kind() == reflect.Struct {
			names = append(names, envKeys(f.Type)...)
		}
	}
	return names
}
