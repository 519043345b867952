package integration

import (
	"encoding/json"
	"net/http"
	"reflect"
	"testing"

	"github.com/clinicaldata/projectsvc/internal/testing/dbtest"
	"github.com/clinicaldata/projectsvc/internal/testing/servicetest"
)

// project1 is project 1 of sql/seed.sql as the API contract renders it:
// institutions by name, reports newest first (ties broken by id, newest id
// first), dates as YYYY-MM-DD, times RFC 3339 UTC, absent values null, and
// no cursor to more (all its sites and reports fit).
const project1 = `{
 "project": {"id": 1, "code": "CTP-2024-017",
   "title": "Semaglutide versus placebo in adults with type 2 diabetes and chronic kidney disease",
   "phase": "III", "status": "recruiting", "sponsor": "Nordhavn Pharma A/S",
   "start_date": "2024-03-01", "end_date": null,
   "created_at": "2024-01-15T08:30:00Z", "updated_at": "2024-11-02T14:05:00Z"},
 "institutions": [
  {"id": 1, "code": "INST-DK-001", "name": "Aarhus University Hospital", "city": "Aarhus", "country": "DK",
   "role": "lead", "site_status": "active", "principal_investigator": "Dr. Mette Kjaer", "enrolled": 31,
   "joined_at": "2024-02-01T09:00:00Z"},
  {"id": 2, "code": "INST-DE-014", "name": "Charité – Universitätsmedizin Berlin", "city": "Berlin", "country": "DE",
   "role": "participating", "site_status": "active", "principal_investigator": "Prof. Jonas Weber", "enrolled": 24,
   "joined_at": "2024-03-10T09:00:00Z"},
  {"id": 4, "code": "INST-ES-021", "name": "Hospital Clínic de Barcelona", "city": "Barcelona", "country": "ES",
   "role": "participating", "site_status": "active", "principal_investigator": "Dra. Lucía Ferrer", "enrolled": 18,
   "joined_at": "2024-04-02T09:00:00Z"},
  {"id": 7, "code": "INST-SE-005", "name": "Karolinska University Hospital", "city": "Stockholm", "country": "SE",
   "role": "participating", "site_status": "on_hold", "principal_investigator": "Dr. Erik Lindqvist", "enrolled": 0,
   "joined_at": "2024-06-15T09:00:00Z"}
 ],
 "institutions_next": null,
 "reports": [
  {"id": 4, "title": "Protocol deviation summary", "report_type": "deviation",
   "period_start": "2024-07-01", "period_end": "2024-09-30",
   "summary": "Two visit-window deviations at Barcelona; no impact on primary endpoint.",
   "created_at": "2024-10-04T10:00:00Z"},
  {"id": 3, "title": "Enrolment update Q3 2024", "report_type": "progress",
   "period_start": "2024-07-01", "period_end": "2024-09-30", "summary": null,
   "created_at": "2024-10-04T10:00:00Z"},
  {"id": 2, "title": "DSMB safety review 1", "report_type": "safety",
   "period_start": "2024-03-01", "period_end": "2024-08-31",
   "summary": "No new safety signals. Gastrointestinal adverse events in line with the investigator brochure.",
   "created_at": "2024-09-12T15:30:00Z"},
  {"id": 1, "title": "Enrolment update Q2 2024", "report_type": "progress",
   "period_start": "2024-04-01", "period_end": "2024-06-30",
   "summary": "73 participants randomised across 4 sites; site in Stockholm on hold pending ethics amendment.",
   "created_at": "2024-07-05T10:00:00Z"}
 ],
 "reports_next": null
}`

func decode(t testing.TB, s string) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, s)
	}
	return v
}

func ids(list any) []float64 {
	var out []float64
	for _, item := range list.([]any) {
		out = append(out, item.(map[string]any)["id"].(float64))
	}
	return out
}

func TestAPI(t *testing.T) {
	t.Parallel()
	svc := servicetest.Start(t, servicetest.Config(t, dbtest.ServiceUser(t, dbtest.NewDatabase(t, "sql/seed.sql"))))
	for _, tc := range []struct {
		name   string
		path   string
		status int
		check  func(t *testing.T, body string)
	}{
		{"get200", "/project/1", http.StatusOK, func(t *testing.T, body string) {
			if got, want := decode(t, body), decode(t, project1); !reflect.DeepEqual(got, want) {
				t.Fatalf("body differs from the seed's project 1:\n got %s", body)
			}
		}},
		{"get200ReportsLimit", "/project/1?reports=2", http.StatusOK, func(t *testing.T, body string) {
			if got := ids(decode(t, body)["reports"]); !reflect.DeepEqual(got, []float64{4, 3}) {
				t.Fatalf("reports = %v, want the 2 newest [4 3]", got)
			}
		}},
		{"get200ReportsMax", "/project/1?reports=100", http.StatusOK, func(t *testing.T, body string) {
			if got := ids(decode(t, body)["reports"]); !reflect.DeepEqual(got, []float64{4, 3, 2, 1}) {
				t.Fatalf("reports = %v, want all four newest first", got)
			}
		}},
		{"get200EmptyLists", "/project/5", http.StatusOK, func(t *testing.T, body string) {
			v := decode(t, body)
			if l, ok := v["institutions"].([]any); !ok || len(l) != 0 {
				t.Fatalf("institutions = %#v, want []", v["institutions"])
			}
			if l, ok := v["reports"].([]any); !ok || len(l) != 0 {
				t.Fatalf("reports = %#v, want []", v["reports"])
			}
			p := v["project"].(map[string]any)
			if p["start_date"] != nil || p["end_date"] != nil {
				t.Fatalf("dates = %v / %v, want null", p["start_date"], p["end_date"])
			}
		}},
		{"get200SitesWithoutReports", "/project/4", http.StatusOK, func(t *testing.T, body string) {
			v := decode(t, body)
			if got := ids(v["institutions"]); !reflect.DeepEqual(got, []float64{2, 7}) {
				t.Fatalf("institutions = %v, want [2 7] (by name)", got)
			}
			if l := v["reports"].([]any); len(l) != 0 {
				t.Fatalf("reports = %v, want []", l)
			}
		}},
		{"get404", "/project/999", http.StatusNotFound, func(t *testing.T, body string) {
			if code := servicetest.ErrorCode(t, body); code != "not_found" {
				t.Fatalf("code = %s", code)
			}
		}},
		{"get400BadID", "/project/abc", http.StatusBadRequest, func(t *testing.T, body string) {
			if code := servicetest.ErrorCode(t, body); code != "invalid_argument" {
				t.Fatalf("code = %s", code)
			}
		}},
		{"get400ReportsRange", "/project/1?reports=101", http.StatusBadRequest, func(t *testing.T, body string) {
			if code := servicetest.ErrorCode(t, body); code != "invalid_argument" {
				t.Fatalf("code = %s", code)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := servicetest.Get(t, svc.URL+tc.path)
			if res.Status != tc.status {
				t.Fatalf("status = %d, want %d; body %s", res.Status, tc.status, res.Body)
			}
			tc.check(t, res.Body)
		})
	}
	if st := svc.Svc.Store.PrimaryStats(); st.InUse != 0 {
		t.Fatalf("pool InUse = %d after all requests, want 0", st.InUse)
	}
}
