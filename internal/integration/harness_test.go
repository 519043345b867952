package integration

import (
	"os"
	"testing"

	"github.com/clinicaldata/projectsvc/internal/testing/dbtest"
	"github.com/clinicaldata/projectsvc/internal/testing/leakcheck"
)

// TestMain starts the binary's database container (dbtest) and checks that
// no goroutine outlives the tests.
func TestMain(m *testing.M) {
	os.Exit(leakcheck.After(dbtest.Main(m)))
}
