package alert

import (
	"encoding/json"
	"io"
)

// EncodeJSON writes v as compact JSON and a newline, as the JSON-lines
// record, the spool and the webhook body do. HTML escaping is off
// so that flow keys read "10.0.0.5->203.0.113.9", not "-\u003e".
func EncodeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// OrDash returns s, or "-" when s is empty, for fields shown to people.
func OrDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
