package types

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
)

// hostile are strings encoding/json treats specially.
var hostile = []string{"", `"`, `\`, "a\"b\\c", "\b\f\n\r\t", "\x00\x01\x1f\x7f", "<&>", "é ü 漢字 🙂",
	"\u2028\u2029", "\xff\xfe", "a\xc3", "\xed\xa0\x80", strings.Repeat("x", 300), "tab\there"}

func randomString(rng *rand.Rand) string {
	if rng.IntN(3) == 0 {
		return hostile[rng.IntN(len(hostile))]
	}
	b := make([]byte, rng.IntN(40))
	for i := range b {
		b[i] = byte(rng.IntN(256))
	}
	return string(b)
}

func randomOptional(rng *rand.Rand) *string {
	if rng.IntN(3) == 0 {
		return nil
	}
	s := randomString(rng)
	return &s
}

func randomResp(rng *rand.Rand) *ProjectDetailsResp {
	r := &ProjectDetailsResp{Project: Project{Id: rng.Uint64(), Code: randomString(rng), Title: randomString(rng),
		Phase: randomString(rng), Status: randomString(rng), Sponsor: randomString(rng), StartDate: randomOptional(rng),
		EndDate: randomOptional(rng), CreatedAt: randomString(rng), UpdatedAt: randomString(rng)}}
	if rng.IntN(5) > 0 {
		r.Institutions = []ProjectInstitution{}
		for range rng.IntN(4) {
			r.Institutions = append(r.Institutions, ProjectInstitution{Id: rng.Uint64(), Code: randomString(rng),
				Name: randomString(rng), City: randomString(rng), Country: randomString(rng), Role: randomString(rng),
				SiteStatus: randomString(rng), PrincipalInvestigator: randomString(rng), Enrolled: rng.Int64() - rng.Int64(),
				JoinedAt: randomString(rng)})
		}
	}
	if rng.IntN(5) > 0 {
		r.Reports = []ProjectReport{}
		for range rng.IntN(4) {
			r.Reports = append(r.Reports, ProjectReport{Id: rng.Uint64(), Title: randomString(rng), ReportType: randomString(rng),
				PeriodStart: randomOptional(rng), PeriodEnd: randomOptional(rng), Summary: randomOptional(rng), CreatedAt: randomString(rng)})
		}
	}
	return r
}

// reference is what the service wrote before: encoding/json without HTML
// escaping and without the trailing newline.
func reference(t testing.TB, v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

func TestAppendJSON_WritesWhatEncodingJSONWrites(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 5000 {
		r := randomResp(rng)
		if got, want := r.AppendJSON(nil), reference(t, r); !bytes.Equal(got, want) {
			t.Fatalf("case %d:\n got %s\nwant %s", i, got, want)
		}
	}
}

func FuzzAppendJSON(f *testing.F) {
	for _, s := range hostile {
		f.Add(s, s)
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		r := &ProjectDetailsResp{Project: Project{Code: a, StartDate: &b}, Institutions: []ProjectInstitution{{Name: b}},
			Reports: []ProjectReport{{Summary: &a}}}
		if got, want := r.AppendJSON(nil), reference(t, r); !bytes.Equal(got, want) {
			t.Fatalf("got %s\nwant %s", got, want)
		}
	})
}
