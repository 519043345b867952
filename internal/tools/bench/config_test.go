package bench

import (
	"reflect"
	"testing"

	"github.com/clinicaldata/projectsvc/internal/config"
)

func variantConfig(t *testing.T, v Variant) config.Config {
	t.Helper()
	layers, err := Layers("u:p@tcp(127.0.0.1:1)/db", "Port: 1234", v)
	if err != nil {
		t.Fatal(err)
	}
	merged, err := config.MergeYAML(layers...)
	if err != nil {
		t.Fatal(err)
	}
	c, err := LoadConfig(merged)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// A variant's overrides change what they name, zero values included, and
// nothing else of the shipped configuration.
func TestVariantOverridesMergeOverShipped(t *testing.T) {
	want := variantConfig(t, Variant{})
	if want.Port != 1234 || want.Host != "127.0.0.1" || !want.Auth.Disabled {
		t.Errorf("port %d, host %s, auth disabled %v: the bench's layers are not applied", want.Port, want.Host, want.Auth.Disabled)
	}
	want.CpuThreshold = 0
	g := GoZeroPool
	want.Mysql.MaxOpenConns, want.Mysql.MaxIdleConns, want.Mysql.ConnMaxLifetime, want.Mysql.ConnMaxIdleTime = g.MaxOpenConns, g.MaxIdleConns, g.ConnMaxLifetime, g.ConnMaxIdleTime
	if got := variantConfig(t, Variant{Overrides: []string{SheddingOff, GoZeroPool.Override()}}); !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
}

// The authentication and replica overrides set what they name, DSNs with
// YAML's special characters included.
func TestAuthAndReplicaOverrides(t *testing.T) {
	replicas := []string{"u:p@tcp(127.0.0.1:2)/db?time_zone=%27%2B00%3A00%27", "u:p#x@tcp(127.0.0.1:3)/db"}
	v := WithAuth(Variant{Overrides: []string{ReplicasOverride(replicas)}}, "http://127.0.0.1:9", "tok")
	c := variantConfig(t, v)
	if c.Auth.Disabled || c.Auth.Issuer != "http://127.0.0.1:9" || v.Header["Authorization"] != "Bearer tok" {
		t.Errorf("auth: disabled %v, issuer %q, header %q", c.Auth.Disabled, c.Auth.Issuer, v.Header)
	}
	if !reflect.DeepEqual(c.Mysql.Replicas, replicas) {
		t.Errorf("replicas %q, want %q", c.Mysql.Replicas, replicas)
	}
}
