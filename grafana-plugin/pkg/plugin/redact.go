package plugin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/backend/log"
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/benchstation/benchstation/bencher/results"
	"github.com/benchstation/benchstation/internal/secret"
)

// The plugin's secret policy (internal/secret is the shared one): the API
// key of secureJsonData reaches the target only. Each instance has one
// Redactor that knows every credential of its settings, in every form a
// server may echo it in, and everything that leaves the instance passes
// through it: query frames and errors (QueryData), health results
// (CheckHealth), resource answers (CallResource), stream frames
// (RunStream), the log lines (the instance's logger) and the run documents
// and markers it writes. Every HTTP client of the plugin refuses redirects
// to another origin (secret.CheckRedirect) and sends the key to the
// target's origin only (secret.Transport).

// newRedactor returns the Redactor of an instance's raw settings: every
// value of secureJsonData (whole, and each of its words, since an invalid
// key may hold spaces), as "Bearer <key>" too, and the credentials of
// every URL of jsonData (settings validation refuses them, but the raw
// settings still hold them). It is built from the raw settings so that
// invalid settings are scrubbed as well.
func newRedactor(s backend.DataSourceInstanceSettings) *secret.Redactor {
	r := secret.NewRedactor()
	for _, v := range s.DecryptedSecureJSONData {
		r.Add(v)
		r.Add(strings.Fields(v)...)
		if v = strings.TrimSpace(v); v != "" {
			r.AddHeader("Authorization", "Bearer "+v)
		}
	}
	var raw map[string]any
	if json.Unmarshal(s.JSONData, &raw) == nil {
		addURLs(r, raw)
	}
	r.AddURL(s.URL)
	return r
}

// addURLs adds the credentials of every string of v that holds a URL.
func addURLs(r *secret.Redactor, v any) {
	switch x := v.(type) {
	case string:
		if strings.Contains(x, "://") {
			r.AddURL(strings.TrimSpace(x))
		}
	case map[string]any:
		for _, e := range x {
			addURLs(r, e)
		}
	case []any:
		for _, e := range x {
			addURLs(r, e)
		}
	}
}

// redactLogger is the instance's logger: it scrubs the message and every
// argument of each line, the last line of defence of the plugin's log.
type redactLogger struct {
	l log.Logger
	r *secret.Redactor
}

var _ log.Logger = redactLogger{}

// newRedactLogger returns l behind r.
func newRedactLogger(l log.Logger, r *secret.Redactor) log.Logger {
	return redactLogger{l: l, r: r}
}

// Debug logs at debug level.
func (l redactLogger) Debug(msg string, args ...any) { l.l.Debug(l.r.String(msg), l.args(args)...) }

// Info logs at info level.
func (l redactLogger) Info(msg string, args ...any) { l.l.Info(l.r.String(msg), l.args(args)...) }

// Warn logs at warn level.
func (l redactLogger) Warn(msg string, args ...any) { l.l.Warn(l.r.String(msg), l.args(args)...) }

// Error logs at error level.
func (l redactLogger) Error(msg string, args ...any) { l.l.Error(l.r.String(msg), l.args(args)...) }

// With returns the logger of l.With, scrubbed.
func (l redactLogger) With(args ...any) log.Logger {
	return redactLogger{l: l.l.With(l.args(args)...), r: l.r}
}

// Level is the level of the logger underneath.
func (l redactLogger) Level() log.Level { return l.l.Level() }

// FromContext returns the logger of l.FromContext, scrubbed.
func (l redactLogger) FromContext(ctx context.Context) log.Logger {
	return redactLogger{l: l.l.FromContext(ctx), r: l.r}
}

// args returns the arguments of a line, scrubbed: strings and errors
// always, any other value (a struct, a map…) replaced by its scrubbed text
// when its text or JSON holds a credential.
func (l redactLogger) args(args []any) []any {
	if l.r.Empty() || len(args) == 0 {
		return args
	}
	out := make([]any, len(args))
	for i, a := range args {
		out[i] = scrubArg(l.r, a)
	}
	return out
}

// scrubArg returns one log argument, scrubbed.
func scrubArg(r *secret.Redactor, a any) any {
	switch x := a.(type) {
	case nil, bool, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, float32, float64,
		time.Time, time.Duration, secret.Secret:
		return a
	case string:
		return r.String(x)
	case []byte:
		return r.String(string(x))
	case error:
		return r.Error(x)
	}
	text := fmt.Sprintf("%+v", a)
	if r.Contains(text) {
		return r.String(text)
	}
	if raw, err := json.Marshal(a); err == nil && r.Contains(string(raw)) {
		return r.String(string(raw))
	}
	return a
}

// scrubQueryResponse scrubs every frame and error of resp, in place.
func scrubQueryResponse(r *secret.Redactor, resp *backend.QueryDataResponse) {
	if resp == nil || r.Empty() {
		return
	}
	for ref, dr := range resp.Responses {
		dr.Error = r.Error(dr.Error)
		scrubFrames(r, dr.Frames)
		resp.Responses[ref] = dr
	}
}

// scrubFrames scrubs the names, labels, display names, notices, custom
// metadata and string values of frames, in place.
func scrubFrames(r *secret.Redactor, frames data.Frames) {
	if r.Empty() {
		return
	}
	for _, f := range frames {
		if f == nil {
			continue
		}
		f.Name, f.RefID = r.String(f.Name), r.String(f.RefID)
		scrubMeta(r, f.Meta)
		for _, fld := range f.Fields {
			scrubField(r, fld)
		}
	}
}

// scrubMeta scrubs a frame's metadata.
func scrubMeta(r *secret.Redactor, m *data.FrameMeta) {
	if m == nil {
		return
	}
	m.ExecutedQueryString = r.String(m.ExecutedQueryString)
	for i := range m.Notices {
		m.Notices[i].Text = r.String(m.Notices[i].Text)
	}
	if m.Custom != nil {
		if raw, err := json.Marshal(m.Custom); err == nil && r.Contains(string(raw)) {
			var clean any
			if json.Unmarshal([]byte(r.String(string(raw))), &clean) == nil {
				m.Custom = clean
			} else {
				m.Custom = nil
			}
		}
	}
}

// scrubField scrubs a field's name, labels, config texts and string values.
func scrubField(r *secret.Redactor, f *data.Field) {
	if f == nil {
		return
	}
	f.Name = r.String(f.Name)
	for k, v := range f.Labels {
		if ck := r.String(k); ck != k {
			delete(f.Labels, k)
			k = ck
		}
		f.Labels[k] = r.String(v)
	}
	if c := f.Config; c != nil {
		c.DisplayName, c.DisplayNameFromDS = r.String(c.DisplayName), r.String(c.DisplayNameFromDS)
		c.Description = r.String(c.Description)
	}
	switch f.Type() {
	case data.FieldTypeString:
		for i := range f.Len() {
			if s := f.At(i).(string); r.Contains(s) {
				f.Set(i, r.String(s))
			}
		}
	case data.FieldTypeNullableString:
		for i := range f.Len() {
			if p := f.At(i).(*string); p != nil && r.Contains(*p) {
				f.Set(i, new(r.String(*p)))
			}
		}
	case data.FieldTypeJSON:
		for i := range f.Len() {
			if b := f.At(i).(json.RawMessage); r.Contains(string(b)) {
				f.Set(i, json.RawMessage(r.String(string(b))))
			}
		}
	case data.FieldTypeNullableJSON:
		for i := range f.Len() {
			if p := f.At(i).(*json.RawMessage); p != nil && r.Contains(string(*p)) {
				f.Set(i, new(json.RawMessage(r.String(string(*p)))))
			}
		}
	}
}

// redactSender scrubs the body and headers of resource answers before
// they leave the plugin.
type redactSender struct {
	next backend.CallResourceResponseSender
	r    *secret.Redactor
}

// Send scrubs resp and sends it.
func (s redactSender) Send(resp *backend.CallResourceResponse) error {
	if resp != nil && !s.r.Empty() {
		if body := string(resp.Body); s.r.Contains(body) {
			resp.Body = []byte(s.r.String(body))
			for k := range resp.Headers {
				if strings.EqualFold(k, "Content-Length") {
					resp.Headers[k] = []string{strconv.Itoa(len(resp.Body))}
				}
			}
		}
		for k, vs := range resp.Headers {
			for i, v := range vs {
				vs[i] = s.r.String(v)
			}
			resp.Headers[k] = vs
		}
	}
	return s.next.Send(resp)
}

// scrubDocument scrubs every string of a run document before it is
// written: the target's echoes may be anywhere in it (error messages and
// examples, outputs, the model's and the server's names). The model and
// the server version, which name something, are replaced whole.
func scrubDocument(r *secret.Redactor, doc *results.Document) {
	if doc == nil || r.Empty() {
		return
	}
	env := &doc.Environment
	env.Model, env.ServerVersion = r.Value(env.Model), r.Value(env.ServerVersion)
	doc.Config.Run.Model = r.Value(doc.Config.Run.Model)
	env.Target = secret.URL(env.Target)
	scrubStrings(r, reflect.ValueOf(doc).Elem())
}

// scrubStrings replaces, in place, every settable string reachable from
// v (struct fields, slice and array elements, map keys and values).
func scrubStrings(r *secret.Redactor, v reflect.Value) {
	if !mayHoldString(v.Type()) {
		return
	}
	switch v.Kind() {
	case reflect.String:
		if s := v.String(); v.CanSet() && s != "" {
			if c := r.String(s); c != s {
				v.SetString(c)
			}
		}
	case reflect.Pointer:
		if !v.IsNil() {
			scrubStrings(r, v.Elem())
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if f := v.Field(i); f.CanSet() {
				scrubStrings(r, f)
			}
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			scrubStrings(r, v.Index(i))
		}
	case reflect.Map:
		if v.IsNil() {
			return
		}
		for _, k := range v.MapKeys() {
			val := v.MapIndex(k)
			nk := reflect.New(k.Type()).Elem()
			nk.Set(k)
			scrubStrings(r, nk)
			nv := reflect.New(val.Type()).Elem()
			nv.Set(val)
			scrubStrings(r, nv)
			if !nk.Equal(k) {
				v.SetMapIndex(k, reflect.Value{})
			}
			v.SetMapIndex(nk, nv)
		}
	case reflect.Interface:
		if !v.IsNil() && v.CanSet() {
			e := reflect.New(v.Elem().Type()).Elem()
			e.Set(v.Elem())
			scrubStrings(r, e)
			v.Set(e)
		}
	}
}

// stringTypes caches mayHoldString.
var stringTypes sync.Map // reflect.Type → bool

// mayHoldString reports whether a value of type t may hold a string that
// scrubStrings can reach, so that it skips the numbers of the records
// (chunk times) at once.
func mayHoldString(t reflect.Type) bool {
	if v, ok := stringTypes.Load(t); ok {
		return v.(bool)
	}
	stringTypes.Store(t, true) // a recursive type is assumed to hold one while it is looked at
	var holds bool
	switch t.Kind() {
	case reflect.String, reflect.Interface:
		holds = true
	case reflect.Pointer, reflect.Slice, reflect.Array:
		holds = mayHoldString(t.Elem())
	case reflect.Map:
		holds = mayHoldString(t.Key()) || mayHoldString(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			if f := t.Field(i); f.IsExported() && mayHoldString(f.Type) {
				holds = true
				break
			}
		}
	}
	stringTypes.Store(t, holds)
	return holds
}

// redirectClient returns a client of base (nil: a client over
// http.DefaultTransport) that follows no redirect to another origin and
// adds header (the credentials) to the requests for target's origin only.
func redirectClient(base *http.Client, target string, header http.Header) *http.Client {
	c := &http.Client{}
	if base != nil {
		*c = *base
	}
	c.CheckRedirect = secret.CheckRedirect
	if u, err := url.Parse(target); err == nil && len(header) > 0 {
		// Without a target that parses (callers checked it), no key.
		c.Transport = secret.NewTransport(c.Transport, u, header)
	}
	return c
}

// bearerHeader is the Authorization header of key, nil without a key.
func bearerHeader(key secret.Secret) http.Header {
	if !key.IsSet() {
		return nil
	}
	return http.Header{"Authorization": {"Bearer " + key.Value()}}
}

// redirectMessage says that a redirect to another origin was refused,
// when err is one.
func redirectMessage(err error) (string, bool) {
	var re *secret.RedirectError
	if errors.As(err, &re) {
		return re.Error(), true
	}
	return "", false
}
