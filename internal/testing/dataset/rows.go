package dataset

import (
	"bufio"
	"strconv"
	"strings"
	"time"
)

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
