package types

import (
	"strconv"
	"unicode/utf8"
)

// This file is hand-written (goctl writes types.go only): the JSON of the
// service's largest answer, appended field by field instead of by
// encoding/json's reflection. It writes exactly the bytes json.Encoder
// writes with SetEscapeHTML(false) — the same field order, null for nil
// pointers, [] for empty lists, the same string escaping — which the tests
// check against encoding/json on random and hostile values.

// AppendJSON appends r as JSON to b.
func (r *ProjectDetailsResp) AppendJSON(b []byte) []byte {
	p := &r.Project
	b = append(b, `{"project":{"id":`...)
	b = strconv.AppendUint(b, p.Id, 10)
	b = appendField(b, `,"code":`, p.Code)
	b = appendField(b, `,"title":`, p.Title)
	b = appendField(b, `,"phase":`, p.Phase)
	b = appendField(b, `,"status":`, p.Status)
	b = appendField(b, `,"sponsor":`, p.Sponsor)
	b = appendOptional(b, `,"start_date":`, p.StartDate)
	b = appendOptional(b, `,"end_date":`, p.EndDate)
	b = appendField(b, `,"created_at":`, p.CreatedAt)
	b = appendField(b, `,"updated_at":`, p.UpdatedAt)
	b = append(b, `},"institutions":`...)
	if r.Institutions == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i := range r.Institutions {
			s := &r.Institutions[i]
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"id":`...)
			b = strconv.AppendUint(b, s.Id, 10)
			b = appendField(b, `,"code":`, s.Code)
			b = appendField(b, `,"name":`, s.Name)
			b = appendField(b, `,"city":`, s.City)
			b = appendField(b, `,"country":`, s.Country)
			b = appendField(b, `,"role":`, s.Role)
			b = appendField(b, `,"site_status":`, s.SiteStatus)
			b = appendField(b, `,"principal_investigator":`, s.PrincipalInvestigator)
			b = append(b, `,"enrolled":`...)
			b = strconv.AppendInt(b, s.Enrolled, 10)
			b = appendField(b, `,"joined_at":`, s.JoinedAt)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = append(b, `,"reports":`...)
	if r.Reports == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i := range r.Reports {
			rep := &r.Reports[i]
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"id":`...)
			b = strconv.AppendUint(b, rep.Id, 10)
			b = appendField(b, `,"title":`, rep.Title)
			b = appendField(b, `,"report_type":`, rep.ReportType)
			b = appendOptional(b, `,"period_start":`, rep.PeriodStart)
			b = appendOptional(b, `,"period_end":`, rep.PeriodEnd)
			b = appendOptional(b, `,"summary":`, rep.Summary)
			b = appendField(b, `,"created_at":`, rep.CreatedAt)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

func appendField(b []byte, key, v string) []byte {
	return appendString(append(b, key...), v)
}

func appendOptional(b []byte, key string, v *string) []byte {
	b = append(b, key...)
	if v == nil {
		return append(b, "null"...)
	}
	return appendString(b, *v)
}

const hexDigits = "0123456789abcdef"

// appendString is encoding/json's string encoding without HTML escaping:
// quote and backslash escaped, control characters as \b \f \n \r \t or
// \u00XX, invalid UTF-8 as \ufffd, U+2028 and U+2029 escaped.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
