package dataset

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"
)

// reportKey places one report in time; a report's id is its key's index + 1.
type reportKey struct {
	created int64 // unix seconds
	project uint32
	seq     uint32 // the report's number within its project
}

var (
	reportTypes = weighted{{"progress", 30}, {"safety", 25}, {"monitoring", 20}, {"deviation", 10}, {"dsmb", 5},
		{"interim", 5}, {"pharmacovigilance", 5}}
	causes = []string{"abnormal laboratory values at screening", "withdrawn consent", "eGFR below the inclusion threshold",
		"uncontrolled hypertension", "prior exposure to a study-class drug", "missed screening visits"}
	sentenceForms = []func(r *rand.Rand, b []byte) []byte{
		func(r *rand.Rand, b []byte) []byte {
			planned := 100 + r.IntN(1900)
			return fmt.Appendf(b, "Enrolment reached %d of %d planned participants across %d active sites.",
				r.IntN(planned+1), planned, 3+r.IntN(58))
		},
		func(r *rand.Rand, b []byte) []byte {
			n := r.IntN(12)
			rel := []string{"none", "one", "two"}[min(n, r.IntN(3))]
			return fmt.Appendf(b, "%d serious adverse events were reported in the period; %s considered related to the study drug by the investigator.", n, rel)
		},
		func(r *rand.Rand, b []byte) []byte {
			return append(b, "No new safety signals were identified and the benefit-risk assessment is unchanged."...)
		},
		func(r *rand.Rand, b []byte) []byte {
			return fmt.Appendf(b, "%d visit-window deviations at %s; no impact on the primary endpoint is expected.",
				1+r.IntN(9), places[r.IntN(len(places))].city)
		},
		func(r *rand.Rand, b []byte) []byte {
			return fmt.Appendf(b, "Source data verification was completed for %d%% of randomised participants.", 40+r.IntN(61))
		},
		func(r *rand.Rand, b []byte) []byte {
			return append(b, "The data safety monitoring board reviewed unblinded data and recommended that the study continue without modification."...)
		},
		func(r *rand.Rand, b []byte) []byte {
			return fmt.Appendf(b, "The screen failure rate was %d%%, mainly due to %s.", 8+r.IntN(40), causes[r.IntN(len(causes))])
		},
		func(r *rand.Rand, b []byte) []byte {
			return fmt.Appendf(b, "Data queries were resolved in %d days on average (target: 10 days); %d queries remain open.",
				3+r.IntN(20), r.IntN(300))
		},
		func(r *rand.Rand, b []byte) []byte {
			return fmt.Appendf(b, "Drug accountability was reconciled at all sites; %d temperature excursions were assessed and the product was released for use.", r.IntN(6))
		},
		func(r *rand.Rand, b []byte) []byte {
			return fmt.Appendf(b, "Retention remains high: %d%% of participants completed the week %d visit.", 80+r.IntN(20), 4*(1+r.IntN(26)))
		},
		func(r *rand.Rand, b []byte) []byte {
			return fmt.Appendf(b, "Protocol amendment %d.0 was approved by the ethics committees and implemented at %d sites.", 2+r.IntN(5), 1+r.IntN(40))
		},
		func(r *rand.Rand, b []byte) []byte {
			return fmt.Appendf(b, "Laboratory results were within expected ranges; %d participants had grade 3 liver enzyme elevations that resolved after dose interruption.", r.IntN(5))
		},
		func(r *rand.Rand, b []byte) []byte {
			return fmt.Appendf(b, "Recruitment is %d%% behind plan; %d additional sites are in start-up and a recruitment campaign is under way.", 5+r.IntN(40), 1+r.IntN(8))
		},
		func(r *rand.Rand, b []byte) []byte {
			return fmt.Appendf(b, "The site at %s was activated and randomised its first participant %d days later.",
				places[r.IntN(len(places))].city, 5+r.IntN(80))
		},
	}
)

// summary appends 1 to 6 sentences of a report's summary to b.
func summary(r *rand.Rand, b []byte) []byte {
	for n := 1 + r.IntN(6); n > 0; n-- {
		if len(b) > 0 {
			b = append(b, ' ')
		}
		b = sentenceForms[r.IntN(len(sentenceForms))](r, b)
	}
	return b
}

// reportKeys places every report in time, makes the instants distinct, and
// orders the keys as the ids are given.
func (s Spec) reportKeys(ps []project) []reportKey {
	total := 0
	for id := 1; id <= s.Projects; id++ {
		total += ps[id].reports
	}
	keys := make([]reportKey, 0, total)
	for id := 1; id <= s.Projects; id++ {
		p := ps[id]
		r := s.rng(5, uint64(id))
		window := int64(p.spanDays) * 86400
		for k := 0; k < p.reports; k++ {
			keys = append(keys, reportKey{created: p.start.Unix() + r.Int64N(window), project: uint32(id), seq: uint32(k)})
		}
	}
	byProject := func(a, b reportKey) int { return cmp.Or(cmp.Compare(a.project, b.project), cmp.Compare(a.seq, b.seq)) }
	slices.SortFunc(keys, func(a, b reportKey) int { return cmp.Or(cmp.Compare(a.created, b.created), byProject(a, b)) })
	for i := 1; i < len(keys); i++ {
		keys[i].created = max(keys[i].created, keys[i-1].created+1)
	}
	if s.ReportIDsByProject {
		slices.SortFunc(keys, byProject)
	}
	return keys
}

// writeReports writes the reports keys[from:to].
func (s Spec) writeReports(w *rowWriter, keys []reportKey, from, to int, st *summaryStats) (int64, error) {
	var text []byte
	for i := from; i < to; i++ {
		k := keys[i]
		r := s.rng(6, uint64(k.project)<<32|uint64(k.seq))
		created := time.Unix(k.created, 0).UTC()
		typ := reportTypes.pick(r)
		q := (int(created.Month())-1)/3 + 1
		qStart := time.Date(created.Year(), time.Month(3*(q-1)+1), 1, 0, 0, 0, 0, time.UTC).AddDate(0, -3, 0)
		qEnd := qStart.AddDate(0, 3, -1)
		w.int(int64(i + 1))
		w.int(int64(k.project))
		w.str(reportTitle(r, typ, created, qStart))
		w.str(typ)
		if typ == "monitoring" || typ == "dsmb" {
			w.null()
			w.null()
		} else {
			w.time(qStart, date)
			w.time(qEnd, date)
		}
		if r.IntN(100) < s.SummaryNullPercent {
			w.null()
		} else {
			text = summary(r, text[:0])
			st.count++
			st.bytes += int64(len(text))
			w.bytes(text)
		}
		w.time(created, datetime)
		if err := w.end(); err != nil {
			return 0, err
		}
	}
	return int64(to - from), nil
}

// reportTitle names a report of type typ created at created about the
// quarter starting at qStart.
func reportTitle(r *rand.Rand, typ string, created, qStart time.Time) string {
	pq, py := (int(qStart.Month())-1)/3+1, qStart.Year()
	switch typ {
	case "progress":
		return fmt.Sprintf("Enrolment update Q%d %d", pq, py)
	case "safety":
		return fmt.Sprintf("Safety report Q%d %d", pq, py)
	case "monitoring":
		return "Monitoring visit report: " + places[r.IntN(len(places))].city
	case "deviation":
		return fmt.Sprintf("Protocol deviation summary Q%d %d", pq, py)
	case "dsmb":
		return "DSMB recommendation " + created.Format("January 2006")
	case "interim":
		return fmt.Sprintf("Interim analysis %d", 1+r.IntN(3))
	default:
		return "Development safety update report " + strconv.Itoa(created.Year())
	}
}
