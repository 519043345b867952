package replicatest

import (
	"slices"
	"testing"
)

func TestMariaDBCovers(t *testing.T) {
	for _, tc := range []struct {
		replica, primary string
		want             bool
	}{
		{"", "", true},
		{"0-1-5", "", true},
		{"", "0-1-5", false},
		{"0-1-5", "0-1-5", true},
		{"0-1-4", "0-1-5", false},
		{"0-1-9", "0-1-5", true},
		{"0-1-9,1-1-2", "1-1-2,0-1-9", true},
		{"0-1-9", "0-1-9,1-1-2", false},
	} {
		got, err := mariaDBCovers(tc.replica, tc.primary)
		if err != nil || got != tc.want {
			t.Errorf("mariaDBCovers(%q, %q) = %v, %v; want %v", tc.replica, tc.primary, got, err, tc.want)
		}
	}
	if _, err := mariaDBCovers("0-1", ""); err == nil {
		t.Error("mariaDBCovers accepted a malformed GTID")
	}
}

func TestMySQLCovers(t *testing.T) {
	const a, b = "3E11FA47-71CA-11E1-9E33-C80AA9429562", "4d6a0ad1-0c3e-11ef-9d2b-0242ac110002"
	for _, tc := range []struct {
		replica, primary string
		want             bool
	}{
		{"", "", true},
		{a + ":1-5", "", true},
		{"", a + ":1-5", false},
		{a + ":1-5", a + ":1-5", true},
		{a + ":1-4", a + ":1-5", false},
		{a + ":1-3:5-9", a + ":2-3:6", true},
		{a + ":1-3:5-9", a + ":3-5", false},
		{a + ":1-9,\n" + b + ":1-2", b + ":1-2," + a + ":1-9", true},
		{a + ":1-9", a + ":1-9," + b + ":1", false},
		{"3e11fa47-71ca-11e1-9e33-c80aa9429562:1-9", a + ":1-9", true},
		{a + ":1-9:blue:1-3", a + ":2:blue:3", true},
		{a + ":1-9", a + ":blue:1", false},
	} {
		got, err := mySQLCovers(tc.replica, tc.primary)
		if err != nil || got != tc.want {
			t.Errorf("mySQLCovers(%q, %q) = %v, %v; want %v", tc.replica, tc.primary, got, err, tc.want)
		}
	}
	for _, bad := range []string{a, a + ":5-1", a + ":1-"} {
		if _, err := mySQLCovers(bad, ""); err == nil {
			t.Errorf("mySQLCovers accepted %q", bad)
		}
	}
}

func TestServerFlags(t *testing.T) {
	dbtestFlags := []string{"--max-connections=500", "--skip-log-bin", "--innodb-flush-log-at-trx-commit=2"}
	primary := serverFlags(dbtestFlags, 1, false)
	if slices.Contains(primary, "--skip-log-bin") || !slices.Contains(primary, "--log-bin=mysql-bin") ||
		!slices.Contains(primary, "--server-id=1") || slices.Contains(primary, "--read-only=ON") {
		t.Errorf("primary flags %v", primary)
	}
	if !slices.Contains(dbtestFlags, "--skip-log-bin") {
		t.Error("serverFlags changed its argument")
	}
	replica := serverFlags(dbtestFlags, 3, true)
	if !slices.Contains(replica, "--server-id=3") || !slices.Contains(replica, "--read-only=ON") {
		t.Errorf("replica flags %v", replica)
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"CREATE USER 'r'@'%' IDENTIFIED BY 's3cret'":            "CREATE USER 'r'@'%' IDENTIFIED BY '***'",
		"CHANGE MASTER TO MASTER_PASSWORD='s3cret', MASTER_X=1": "CHANGE MASTER TO MASTER_PASSWORD='***', MASTER_X=1",
		"START SLAVE": "START SLAVE",
	} {
		if got := redact(in); got != want {
			t.Errorf("redact(%q) = %q", in, got)
		}
	}
}
