package dataset

import (
	"fmt"
	"time"
)

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

// institution is the part of an institution row another one may share.
type institution struct {
	name string
	place
}

func (s Spec) writeInstitutions(w *rowWriter) (int64, error) {
	r := s.rng(2, 0)
	var earlier []institution
	for id := 1; id <= s.Institutions; id++ {
		p := places[r.IntN(len(places))]
		name := fmt.Sprintf(institutionKinds[r.IntN(len(institutionKinds))], p.city)
		if r.IntN(4) == 0 { // several sites per city: number the campus
			name += fmt.Sprintf(", campus %d", 1+r.IntN(4))
		}
		inst := institution{name, p}
		if s.SharedNamePercent > 0 && len(earlier) > 0 && r.IntN(100) < s.SharedNamePercent {
			inst = earlier[r.IntN(len(earlier))]
		}
		earlier = append(earlier, inst)
		created := time.Date(2005+r.IntN(10), time.Month(1+r.IntN(12)), 1+r.IntN(28), 9, 0, 0, 0, time.UTC)
		w.int(int64(id))
		w.str(fmt.Sprintf("INST-%s-%05d", inst.country, id))
		w.str(inst.name)
		w.str(inst.city)
		w.str(inst.country)
		w.time(created, datetime)
		w.time(created.AddDate(r.IntN(10), r.IntN(12), 0), datetime)
		if err := w.end(); err != nil {
			return 0, err
		}
	}
	return int64(s.Institutions), nil
}
