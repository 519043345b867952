package bench

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-sql-driver/mysql"
)

// Dataset describes the generated data set. Everything is derived from Seed,
// so the same Dataset always produces byte-identical tables.
type Dataset struct {
	Seed                   uint64
	Projects, Institutions int
	MinSites, MaxSites     int // per project, inclusive
	MinReports, MaxReports int // per project, inclusive
	SummaryNullPercent     int // share of reports without a summary
}

// DefaultDataset is the data set `make bench` loads.
var DefaultDataset = Dataset{
	Seed:               20240917,
	Projects:           10_000,
	Institutions:       2_000,
	MinSites:           5,
	MaxSites:           60,
	MinReports:         50,
	MaxReports:         500,
	SummaryNullPercent: 8,
}

// LoadStats is what Load put into the database.
type LoadStats struct {
	Projects, Institutions, Sites, Reports int64
	SummaryBytes, Summaries                int64 // total length and count of non-NULL summaries
	Bytes                                  int64 // bytes streamed to the server
	Duration                               time.Duration
}

// SummaryAvg is the mean length of a non-NULL summary in bytes.
func (s LoadStats) SummaryAvg() int64 {
	if s.Summaries == 0 {
		return 0
	}
	return s.SummaryBytes / s.Summaries
}

const (
	datetime = "2006-01-02 15:04:05"
	date     = "2006-01-02"
)

var (
	// Projects were registered between these instants; reports run to dataEnd.
	projectsFrom = time.Date(2008, 1, 1, 0, 0, 0, 0, time.UTC)
	projectsTo   = time.Date(2024, 6, 30, 0, 0, 0, 0, time.UTC)
	dataEnd      = time.Date(2025, 12, 31, 23, 59, 59, 0, time.UTC)
)

// project is the part of a generated project the other tables depend on.
type project struct {
	created  time.Time
	start    time.Time // first site / first report
	sites    int
	reports  int
	spanDays int // reports are spread over [start, start+spanDays]
}

// rng returns the random stream of one generated item: the same (dataset
// seed, stream, key) always yields the same numbers, in any load order.
func (d Dataset) rng(stream, key uint64) *rand.Rand {
	return rand.New(rand.NewPCG(d.Seed^(stream*0x9e3779b97f4a7c15), key))
}

func (d Dataset) projects() []project {
	r := d.rng(1, 0)
	ps := make([]project, d.Projects+1) // 1-based: ps[id]
	span := projectsTo.Sub(projectsFrom)
	for id := 1; id <= d.Projects; id++ {
		created := projectsFrom.Add(time.Duration(r.Int64N(int64(span/time.Second))) * time.Second)
		start := created.Add(time.Duration(30+r.IntN(150)) * 24 * time.Hour)
		spanDays := 365 * (2 + r.IntN(11)) // 2..12 years of reporting
		if end := start.AddDate(0, 0, spanDays); end.After(dataEnd) {
			spanDays = int(dataEnd.Sub(start).Hours() / 24)
		}
		ps[id] = project{
			created:  created,
			start:    start,
			sites:    d.MinSites + r.IntN(d.MaxSites-d.MinSites+1),
			reports:  d.MinReports + r.IntN(d.MaxReports-d.MinReports+1),
			spanDays: spanDays,
		}
	}
	return ps
}

// Load creates the data set in the database db points at (schema already
// loaded, tables empty) with LOAD DATA LOCAL INFILE, streaming rows from
// the generator into the server. Any warning (truncation, bad value) fails it.
func (d Dataset) Load(ctx context.Context, db *sql.DB, progress func(string)) (LoadStats, error) {
	begin := time.Now()
	var st LoadStats
	// MySQL 8 ships with local_infile off; MariaDB with it on.
	if _, err := db.ExecContext(ctx, "SET GLOBAL local_infile = 1"); err != nil {
		return st, fmt.Errorf("enable local_infile: %w", err)
	}
	// A redo log sized for a bulk load (fewer forced checkpoints). MariaDB
	// >= 10.11 resizes it online; MySQL 8.0.30+ calls it
	// innodb_redo_log_capacity. Neither matters for the reads measured
	// later, so a server that refuses both just loads more slowly.
	if _, err := db.ExecContext(ctx, "SET GLOBAL innodb_log_file_size = 1073741824"); err != nil {
		_, _ = db.ExecContext(ctx, "SET GLOBAL innodb_redo_log_capacity = 1073741824")
	}
	// One session per stream (the big table is loaded over several).
	var conns []*sql.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	session := func(i int) (*sql.Conn, error) {
		for len(conns) <= i {
			c, err := db.Conn(ctx)
			if err != nil {
				return nil, err
			}
			conns = append(conns, c)
			for _, q := range []string{"SET unique_checks = 0", "SET foreign_key_checks = 0", "SET time_zone = '+00:00'"} {
				if _, err := c.ExecContext(ctx, q); err != nil {
					return nil, fmt.Errorf("%s: %w", q, err)
				}
			}
		}
		return conns[i], nil
	}
	conn, err := session(0)
	if err != nil {
		return st, err
	}

	ps := d.projects()
	keys := d.reportKeys(ps)
	var bytes atomic.Int64
	var summaries [reportStreams]summaryStats
	type gen func(w *rowWriter) (int64, error)
	one := func(g gen) []gen { return []gen{g} }
	reportParts := make([]gen, reportStreams)
	for i := range reportParts {
		from, to := i*len(keys)/reportStreams, (i+1)*len(keys)/reportStreams
		reportParts[i] = func(w *rowWriter) (int64, error) { return d.writeReports(w, keys, from, to, &summaries[i]) }
	}
	tables := []struct {
		name, cols string
		streams    []gen // run concurrently, each over its own session
		count      *int64
	}{
		{"institution", "id,code,name,city,country,created_at,updated_at", one(d.writeInstitutions), &st.Institutions},
		{"project", "id,code,title,phase,status,sponsor,start_date,end_date,created_at,updated_at",
			one(func(w *rowWriter) (int64, error) { return d.writeProjects(w, ps) }), &st.Projects},
		{"project_institution", "id,project_id,institution_id,role,site_status,principal_investigator,enrolled,joined_at",
			one(func(w *rowWriter) (int64, error) { return d.writeSites(w, ps) }), &st.Sites},
		{"project_report", "id,project_id,title,report_type,period_start,period_end,summary,created_at", reportParts, &st.Reports},
	}
	for _, t := range tables {
		t0 := time.Now()
		// Secondary non-unique indexes are built after the rows are in:
		// one sorted build instead of millions of random B-tree inserts.
		// Their definitions are read from the server, so they stay those
		// of sql/schema.sql.
		indexes, err := secondaryIndexes(ctx, conn, t.name)
		if err != nil {
			return st, err
		}
		for _, ix := range indexes {
			if _, err := conn.ExecContext(ctx, "ALTER TABLE `"+t.name+"` DROP INDEX `"+ix.name+"`"); err != nil {
				return st, fmt.Errorf("drop index %s.%s: %w", t.name, ix.name, err)
			}
		}
		type result struct {
			n   int64
			err error
		}
		results := make(chan result, len(t.streams))
		for i, g := range t.streams {
			c, err := session(i)
			if err != nil {
				return st, err
			}
			go func() {
				n, err := loadTable(ctx, c, t.name, t.cols, g, &bytes)
				results <- result{n, err}
			}()
		}
		var n int64
		var firstErr error
		for range t.streams {
			r := <-results
			n += r.n
			if r.err != nil && firstErr == nil {
				firstErr = r.err
			}
		}
		if firstErr != nil {
			return st, firstErr
		}
		loaded := time.Since(t0)
		if len(indexes) > 0 {
			adds := make([]string, len(indexes))
			for i, ix := range indexes {
				adds[i] = "ADD INDEX `" + ix.name + "` (" + ix.columns + ")"
			}
			if _, err := conn.ExecContext(ctx, "ALTER TABLE `"+t.name+"` "+strings.Join(adds, ", ")); err != nil {
				return st, fmt.Errorf("re-create the indexes of %s: %w", t.name, err)
			}
		}
		*t.count = n
		if progress != nil {
			progress(fmt.Sprintf("%-19s %9d rows in %s (%d stream(s); secondary indexes %s)", t.name, n,
				loaded.Round(100*time.Millisecond), len(t.streams), time.Since(t0.Add(loaded)).Round(100*time.Millisecond)))
		}
	}
	for _, t := range tables {
		if _, err := conn.ExecContext(ctx, "ANALYZE TABLE `"+t.name+"`"); err != nil {
			return st, fmt.Errorf("analyze %s: %w", t.name, err)
		}
	}
	for _, s := range summaries {
		st.Summaries += s.count
		st.SummaryBytes += s.bytes
	}
	st.Bytes = bytes.Load()
	st.Duration = time.Since(begin)
	return st, nil
}

// reportStreams is how many LOAD DATA statements load project_report side
// by side (each a contiguous id range).
const reportStreams = 2

type summaryStats struct{ count, bytes int64 }

type index struct{ name, columns string }

// secondaryIndexes lists a table's non-unique secondary indexes with their
// column lists (prefix lengths and DESC kept).
func secondaryIndexes(ctx context.Context, conn *sql.Conn, table string) ([]index, error) {
	rows, err := conn.QueryContext(ctx, "SELECT index_name, column_name, sub_part, collation FROM information_schema.statistics "+
		"WHERE table_schema = DATABASE() AND table_name = ? AND non_unique = 1 ORDER BY index_name, seq_in_index", table)
	if err != nil {
		return nil, fmt.Errorf("indexes of %s: %w", table, err)
	}
	defer rows.Close()
	var out []index
	for rows.Next() {
		var name, col string
		var sub sql.NullInt64
		var coll sql.NullString
		if err := rows.Scan(&name, &col, &sub, &coll); err != nil {
			return nil, err
		}
		c := "`" + col + "`"
		if sub.Valid {
			c += "(" + strconv.FormatInt(sub.Int64, 10) + ")"
		}
		if coll.String == "D" {
			c += " DESC"
		}
		if len(out) == 0 || out[len(out)-1].name != name {
			out = append(out, index{name: name, columns: c})
		} else {
			out[len(out)-1].columns += ", " + c
		}
	}
	return out, rows.Err()
}

var readerSeq atomic.Int64

// loadTable streams one table through LOAD DATA LOCAL INFILE 'Reader::...'.
func loadTable(ctx context.Context, conn *sql.Conn, table, cols string, gen func(*rowWriter) (int64, error), total *atomic.Int64) (int64, error) {
	pr, pw := io.Pipe()
	name := fmt.Sprintf("bench-%s-%d", table, readerSeq.Add(1))
	mysql.RegisterReaderHandler(name, func() io.Reader { return pr })
	defer mysql.DeregisterReaderHandler(name)

	type result struct {
		rows int64
		err  error
	}
	done := make(chan result, 1)
	go func() {
		w := &rowWriter{w: bufio.NewWriterSize(countingWriter{pw, total}, 1<<20)}
		n, err := gen(w)
		if err == nil {
			err = w.w.Flush()
		}
		pw.CloseWithError(err) // nil: EOF
		done <- result{n, err}
	}()
	q := "LOAD DATA LOCAL INFILE 'Reader::" + name + "' INTO TABLE `" + table + "` CHARACTER SET utf8mb4 " +
		"FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' (" + cols + ")"
	res, err := conn.ExecContext(ctx, q)
	if err != nil {
		pr.CloseWithError(err) // stop the generator
		<-done
		return 0, fmt.Errorf("load %s: %w", table, err)
	}
	g := <-done
	if g.err != nil {
		return 0, fmt.Errorf("generate %s: %w", table, g.err)
	}
	loaded, err := res.RowsAffected()
	if err != nil {
		return 0, err
	}
	if loaded != g.rows {
		return 0, fmt.Errorf("load %s: %d rows generated, %d loaded", table, g.rows, loaded)
	}
	var warnings int
	if err := conn.QueryRowContext(ctx, "SELECT @@warning_count").Scan(&warnings); err != nil {
		return 0, err
	}
	if warnings > 0 {
		var level, msg string
		var code int
		_ = conn.QueryRowContext(ctx, "SHOW WARNINGS LIMIT 1").Scan(&level, &code, &msg)
		return 0, fmt.Errorf("load %s: %d warnings, first: %s %d %s", table, warnings, level, code, msg)
	}
	return g.rows, nil
}

type countingWriter struct {
	w io.Writer
	n *atomic.Int64
}

func (c countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n.Add(int64(n))
	return n, err
}

// rowWriter writes LOAD DATA's default text format: tab-separated fields,
// newline-terminated rows, backslash escapes, \N for NULL.
type rowWriter struct {
	w       *bufio.Writer
	started bool
	scratch []byte
}

func (w *rowWriter) sep() {
	if w.started {
		w.w.WriteByte('\t')
	}
	w.started = true
}

func (w *rowWriter) str(s string) {
	w.sep()
	if !strings.ContainsAny(s, "\t\n\\") {
		w.w.WriteString(s)
		return
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\t':
			w.w.WriteString(`\t`)
		case '\n':
			w.w.WriteString(`\n`)
		case '\\':
			w.w.WriteString(`\\`)
		default:
			w.w.WriteByte(c)
		}
	}
}

func (w *rowWriter) bytes(b []byte) { w.str(string(b)) }

func (w *rowWriter) null() { w.sep(); w.w.WriteString(`\N`) }

func (w *rowWriter) int(n int64) {
	w.sep()
	w.scratch = strconv.AppendInt(w.scratch[:0], n, 10)
	w.w.Write(w.scratch)
}

func (w *rowWriter) time(t time.Time, layout string) {
	w.sep()
	w.scratch = t.AppendFormat(w.scratch[:0], layout)
	w.w.Write(w.scratch)
}

func (w *rowWriter) end() error {
	w.started = false
	return w.w.WriteByte('\n')
}

// ---- institutions ----

type place struct{ city, country string }

var places = []place{
	{"Aarhus", "DK"}, {"Copenhagen", "DK"}, {"Odense", "DK"}, {"Berlin", "DE"}, {"München", "DE"}, {"Hamburg", "DE"},
	{"Heidelberg", "DE"}, {"Köln", "DE"}, {"Paris", "FR"}, {"Lyon", "FR"}, {"Marseille", "FR"}, {"Bordeaux", "FR"},
	{"Barcelona", "ES"}, {"Madrid", "ES"}, {"Valencia", "ES"}, {"Sevilla", "ES"}, {"Milano", "IT"}, {"Roma", "IT"},
	{"Bologna", "IT"}, {"Napoli", "IT"}, {"Leiden", "NL"}, {"Amsterdam", "NL"}, {"Rotterdam", "NL"}, {"Utrecht", "NL"},
	{"Stockholm", "SE"}, {"Göteborg", "SE"}, {"Uppsala", "SE"}, {"Oslo", "NO"}, {"Bergen", "NO"}, {"Helsinki", "FI"},
	{"Tampere", "FI"}, {"Kraków", "PL"}, {"Warszawa", "PL"}, {"Gdańsk", "PL"}, {"Praha", "CZ"}, {"Brno", "CZ"},
	{"Wien", "AT"}, {"Graz", "AT"}, {"Zürich", "CH"}, {"Genève", "CH"}, {"Bern", "CH"}, {"Leuven", "BE"},
	{"Bruxelles", "BE"}, {"Gent", "BE"}, {"Lisboa", "PT"}, {"Porto", "PT"}, {"Dublin", "IE"}, {"London", "GB"},
	{"Manchester", "GB"}, {"Oxford", "GB"}, {"Glasgow", "GB"}, {"Birmingham", "GB"}, {"Boston", "US"},
	{"Houston", "US"}, {"Rochester", "US"}, {"Baltimore", "US"}, {"Nashville", "US"}, {"Seattle", "US"},
	{"Toronto", "CA"}, {"Montréal", "CA"}, {"Vancouver", "CA"}, {"São Paulo", "BR"}, {"Tokyo", "JP"},
	{"Osaka", "JP"}, {"Seoul", "KR"}, {"Sydney", "AU"}, {"Melbourne", "AU"}, {"Auckland", "NZ"},
}

var institutionKinds = []string{
	"%s University Hospital", "%s General Hospital", "University Medical Center %s", "%s Cancer Center",
	"Regional Hospital %s", "%s Children's Hospital", "%s Heart Institute", "Clinical Research Unit %s",
	"St. Elisabeth Hospital %s", "%s Institute of Oncology", "Hospital Universitario de %s", "%s Medical Research Centre",
}

func (d Dataset) writeInstitutions(w *rowWriter) (int64, error) {
	r := d.rng(2, 0)
	var buf []byte
	for id := 1; id <= d.Institutions; id++ {
		p := places[r.IntN(len(places))]
		kind := institutionKinds[r.IntN(len(institutionKinds))]
		buf = fmt.Appendf(buf[:0], kind, p.city)
		if r.IntN(4) == 0 { // several sites per city: number the campus
			buf = fmt.Appendf(buf, ", campus %d", 1+r.IntN(4))
		}
		created := time.Date(2005+r.IntN(10), time.Month(1+r.IntN(12)), 1+r.IntN(28), 9, 0, 0, 0, time.UTC)
		w.int(int64(id))
		w.str(fmt.Sprintf("INST-%s-%05d", p.country, id))
		w.bytes(buf)
		w.str(p.city)
		w.str(p.country)
		w.time(created, datetime)
		w.time(created.AddDate(r.IntN(10), r.IntN(12), 0), datetime)
		if err := w.end(); err != nil {
			return 0, err
		}
	}
	return int64(d.Institutions), nil
}

// ---- projects ----

var (
	drugs = []string{"semaglutide", "tirzepatide", "dapagliflozin", "empagliflozin", "pembrolizumab", "nivolumab",
		"atezolizumab", "durvalumab", "osimertinib", "sotorasib", "trastuzumab deruxtecan", "olaparib", "apixaban",
		"rivaroxaban", "finerenone", "sacubitril/valsartan", "dupilumab", "secukinumab", "risankizumab", "upadacitinib",
		"baricitinib", "ocrelizumab", "lecanemab", "donanemab", "esketamine", "psilocybin", "low-dose aspirin",
		"vitamin D3", "metformin", "colchicine", "inclisiran", "evolocumab", "an oral KRAS G12C inhibitor",
		"a bispecific CD3xCD20 antibody", "an mRNA RSV vaccine", "a CAR-T cell therapy"}
	comparators = []string{"placebo", "standard of care", "best supportive care", "active comparator", "observation"}
	populations = []string{"adults", "older adults", "children and adolescents", "postmenopausal women",
		"treatment-naive patients", "previously treated patients", "care-home residents", "pregnant women at high risk"}
	conditions = []string{"type 2 diabetes and chronic kidney disease", "heart failure with preserved ejection fraction",
		"non-small cell lung cancer", "metastatic colorectal cancer", "HER2-positive breast cancer",
		"relapsed diffuse large B-cell lymphoma", "moderate-to-severe atopic dermatitis", "plaque psoriasis",
		"rheumatoid arthritis", "relapsing multiple sclerosis", "early Alzheimer's disease",
		"treatment-resistant depression", "atrial fibrillation", "venous thromboembolism", "obesity",
		"pre-eclampsia", "stage II melanoma", "ulcerative colitis", "Crohn's disease", "chronic migraine",
		"severe asthma", "COPD", "sepsis", "hip fracture"}
	titleForms = []string{
		"%[1]s versus %[2]s in %[3]s with %[4]s",
		"A phase %[5]s study of %[1]s in %[3]s with %[4]s",
		"Long-term safety and efficacy of %[1]s in %[4]s",
		"Randomised, double-blind trial of %[1]s versus %[2]s for %[4]s",
		"Dose-finding study of %[1]s in %[3]s with %[4]s",
		"%[1]s added to %[2]s in %[4]s: a pragmatic multicentre trial",
	}
	sponsorNames = []string{"Nordhavn", "Helix", "Cardiowatch", "Meridian", "Aurora", "Baltic", "Alpine", "Kestrel",
		"Lumen", "Corvid", "Sagitta", "Trident", "Verdant", "Orion", "Polaris", "Solstice"}
	sponsorForms = []string{"%s Pharma A/S", "%s Oncology Inc.", "%s Therapeutics GmbH", "%s Biosciences Ltd.",
		"%s Clinical Research Network", "%s Vaccines B.V."}
	academicSponsors = []string{"European Obstetrics Research Network", "Public Health Trials Unit",
		"Scandinavian Cardiology Consortium", "Academic Oncology Group", "Paediatric Research Collaborative"}
	phases = weighted{{"I", 10}, {"I/II", 6}, {"II", 30}, {"II/III", 6}, {"III", 38}, {"IV", 10}}
)

type weighted []struct {
	v string
	w int
}

func (ws weighted) pick(r *rand.Rand) string {
	total := 0
	for _, x := range ws {
		total += x.w
	}
	n := r.IntN(total)
	for _, x := range ws {
		if n < x.w {
			return x.v
		}
		n -= x.w
	}
	return ws[len(ws)-1].v
}

func (d Dataset) writeProjects(w *rowWriter, ps []project) (int64, error) {
	for id := 1; id <= d.Projects; id++ {
		p := ps[id]
		r := d.rng(3, uint64(id))
		phase := phases.pick(r)
		title := fmt.Sprintf(titleForms[r.IntN(len(titleForms))],
			capitalise(drugs[r.IntN(len(drugs))]), comparators[r.IntN(len(comparators))],
			populations[r.IntN(len(populations))], conditions[r.IntN(len(conditions))], phase)
		var sponsor string
		if r.IntN(5) == 0 {
			sponsor = academicSponsors[r.IntN(len(academicSponsors))]
		} else {
			sponsor = fmt.Sprintf(sponsorForms[r.IntN(len(sponsorForms))], sponsorNames[r.IntN(len(sponsorNames))])
		}
		end := p.start.AddDate(0, 0, p.spanDays)
		var status string
		switch {
		case end.Before(time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)):
			status = weighted{{"completed", 85}, {"terminated", 15}}.pick(r)
		case p.start.After(time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)):
			status = weighted{{"planned", 30}, {"recruiting", 70}}.pick(r)
		default:
			status = weighted{{"recruiting", 45}, {"active", 45}, {"suspended", 10}}.pick(r)
		}
		w.int(int64(id))
		w.str(fmt.Sprintf("CTP-%d-%05d", p.created.Year(), id))
		w.str(title)
		w.str(phase)
		w.str(status)
		w.str(sponsor)
		if status == "planned" && r.IntN(2) == 0 {
			w.null()
		} else {
			w.time(p.start, date)
		}
		if status == "completed" || status == "terminated" {
			w.time(end, date)
		} else {
			w.null()
		}
		w.time(p.created, datetime)
		w.time(end.Add(-time.Duration(r.IntN(90*24))*time.Hour), datetime)
		if err := w.end(); err != nil {
			return 0, err
		}
	}
	return int64(d.Projects), nil
}

func capitalise(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}

// ---- sites ----

var (
	firstNames = []string{"Mette", "Jonas", "Lucía", "Erik", "Sophie", "Marco", "Anna", "Pieter", "Ingrid", "Tomasz",
		"Claire", "Henrik", "Giulia", "Lars", "Marta", "Johan", "Emma", "Luca", "Sara", "David", "Yuki", "Min-jun",
		"Olivia", "Noah", "Camille", "Mateo", "Aino", "Katarzyna", "Fatima", "Oliver"}
	lastNames = []string{"Kjaer", "Weber", "Ferrer", "Lindqvist", "Dubois", "Rossi", "Novak", "de Vries", "Hansen",
		"Kowalski", "Martin", "Berg", "Bianchi", "Nielsen", "García", "Andersson", "Müller", "Conti", "Virtanen",
		"O'Brien", "Tanaka", "Kim", "Smith", "Johnson", "Moreau", "López", "Korhonen", "Nowak", "Haddad", "Brown"}
	titles       = []string{"Dr.", "Dr.", "Dr.", "Prof.", "Prof. Dr."}
	siteStatuses = weighted{{"active", 60}, {"recruiting", 15}, {"closed", 15}, {"on_hold", 5}, {"pending", 5}}
)

func (d Dataset) writeSites(w *rowWriter, ps []project) (int64, error) {
	var rows int64
	perm := make([]int, d.Institutions)
	for id := 1; id <= d.Projects; id++ {
		p := ps[id]
		r := d.rng(4, uint64(id))
		// n distinct institutions: a partial Fisher-Yates shuffle.
		for i := range perm {
			perm[i] = i + 1
		}
		for i := 0; i < p.sites; i++ {
			j := i + r.IntN(len(perm)-i)
			perm[i], perm[j] = perm[j], perm[i]
		}
		for i := 0; i < p.sites; i++ {
			rows++
			role, joined := "participating", p.start.Add(time.Duration(r.IntN(p.spanDays/3+1))*24*time.Hour)
			if i == 0 {
				role, joined = "lead", p.start.Add(-time.Duration(r.IntN(30*24))*time.Hour)
			}
			w.int(rows)
			w.int(int64(id))
			w.int(int64(perm[i]))
			w.str(role)
			w.str(siteStatuses.pick(r))
			w.str(titles[r.IntN(len(titles))] + " " + firstNames[r.IntN(len(firstNames))] + " " + lastNames[r.IntN(len(lastNames))])
			w.int(int64(r.IntN(400)))
			w.time(joined.Truncate(time.Hour).Add(9*time.Hour), datetime)
			if err := w.end(); err != nil {
				return 0, err
			}
		}
	}
	return rows, nil
}

// ---- reports ----

// reportKey places one report in time; ids are given in created_at order
// over all projects, as an AUTO_INCREMENT column would have given them.
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

// reportKeys places every report in time and sorts them: a report's id is
// its index + 1.
func (d Dataset) reportKeys(ps []project) []reportKey {
	total := 0
	for id := 1; id <= d.Projects; id++ {
		total += ps[id].reports
	}
	keys := make([]reportKey, 0, total)
	for id := 1; id <= d.Projects; id++ {
		p := ps[id]
		r := d.rng(5, uint64(id))
		window := int64(p.spanDays) * 86400
		for k := 0; k < p.reports; k++ {
			keys = append(keys, reportKey{created: p.start.Unix() + r.Int64N(window), project: uint32(id), seq: uint32(k)})
		}
	}
	slices.SortFunc(keys, func(a, b reportKey) int {
		if a.created != b.created {
			return cmpInt(a.created, b.created)
		}
		if a.project != b.project {
			return cmpInt(a.project, b.project)
		}
		return cmpInt(a.seq, b.seq)
	})
	return keys
}

// writeReports writes the reports keys[from:to].
func (d Dataset) writeReports(w *rowWriter, keys []reportKey, from, to int, st *summaryStats) (int64, error) {
	var summary []byte
	for i := from; i < to; i++ {
		k := keys[i]
		r := d.rng(6, uint64(k.project)<<32|uint64(k.seq))
		created := time.Unix(k.created, 0).UTC()
		typ := reportTypes.pick(r)
		q := (int(created.Month())-1)/3 + 1
		qStart := time.Date(created.Year(), time.Month(3*(q-1)+1), 1, 0, 0, 0, 0, time.UTC).AddDate(0, -3, 0)
		qEnd := qStart.AddDate(0, 3, -1)
		pq, py := (int(qStart.Month())-1)/3+1, qStart.Year()
		var title string
		switch typ {
		case "progress":
			title = fmt.Sprintf("Enrolment update Q%d %d", pq, py)
		case "safety":
			title = fmt.Sprintf("Safety report Q%d %d", pq, py)
		case "monitoring":
			title = "Monitoring visit report: " + places[r.IntN(len(places))].city
		case "deviation":
			title = fmt.Sprintf("Protocol deviation summary Q%d %d", pq, py)
		case "dsmb":
			title = "DSMB recommendation " + created.Format("January 2006")
		case "interim":
			title = fmt.Sprintf("Interim analysis %d", 1+r.IntN(3))
		default:
			title = "Development safety update report " + strconv.Itoa(created.Year())
		}
		w.int(int64(i + 1))
		w.int(int64(k.project))
		w.str(title)
		w.str(typ)
		if typ == "monitoring" || typ == "dsmb" {
			w.null()
			w.null()
		} else {
			w.time(qStart, date)
			w.time(qEnd, date)
		}
		if r.IntN(100) < d.SummaryNullPercent {
			w.null()
		} else {
			summary = summary[:0]
			for n := 1 + r.IntN(6); n > 0; n-- {
				if len(summary) > 0 {
					summary = append(summary, ' ')
				}
				summary = sentenceForms[r.IntN(len(sentenceForms))](r, summary)
			}
			st.count++
			st.bytes += int64(len(summary))
			w.bytes(summary)
		}
		w.time(created, datetime)
		if err := w.end(); err != nil {
			return 0, err
		}
	}
	return int64(to - from), nil
}

func cmpInt[T int64 | uint32](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// ErrEmpty is returned by HotProject when the data set has no projects.
var ErrEmpty = errors.New("bench: empty data set")

// HotProject is the project every client asks for in the hot-project
// scenario: the one with the most sites among the first 100 ids (a large,
// popular trial), and its site and report counts.
func (d Dataset) HotProject() (id, sites, reports int, err error) {
	if d.Projects < 1 {
		return 0, 0, 0, ErrEmpty
	}
	ps := d.projects()
	id = 1
	for i := 1; i <= min(100, d.Projects); i++ {
		if ps[i].sites > ps[id].sites {
			id = i
		}
	}
	return id, ps[id].sites, ps[id].reports, nil
}
