package dataset

import (
	"fmt"
	"math/rand/v2"
	"time"
)

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

func (s Spec) writeProjects(w *rowWriter, ps []project) (int64, error) {
	for id := 1; id <= s.Projects; id++ {
		p := ps[id]
		r := s.rng(3, uint64(id))
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
	return int64(s.Projects), nil
}

func capitalise(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}
