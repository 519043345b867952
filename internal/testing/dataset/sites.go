package dataset

import "time"

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

func (s Spec) writeSites(w *rowWriter, ps []project) (int64, error) {
	var rows int64
	perm := make([]int, s.Institutions)
	for id := 1; id <= s.Projects; id++ {
		p := ps[id]
		r := s.rng(4, uint64(id))
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
