package stacktest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"
)

// fakeLoki stands in for Loki, which cannot run here (no Debian package, no
// network): the part of its HTTP API that Grafana's Loki data source uses
// for a logs panel and for its health check. query_range and query answer
// a stream per compose service named in the logs panel's selector, with a
// few lines in the last minute; label look-ups answer those labels; any
// other path is a 404, so a dashboard that starts needing more of Loki
// fails the browser test rather than passing on an empty answer.
func fakeLoki(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	streams := func() []any {
		now := time.Now()
		var out []any
		for _, svc := range []string{"vllm-sim", "exporter-sim"} {
			values := [][2]string{}
			for i := range 5 {
				ts := now.Add(-time.Duration(i*10) * time.Second).UnixNano()
				values = append(values, [2]string{strconv.FormatInt(ts, 10), svc + ": e2e log line " + strconv.Itoa(i)})
			}
			out = append(out, map[string]any{"stream": map[string]string{"compose_service": svc}, "values": values})
		}
		return out
	}
	answer := func(w http.ResponseWriter, data any) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"status": "success", "data": data})
	}
	logs := func(w http.ResponseWriter, _ *http.Request) {
		answer(w, map[string]any{"resultType": "streams", "result": streams(), "stats": map[string]any{}})
	}
	mux.HandleFunc("GET /loki/api/v1/query_range", logs)
	mux.HandleFunc("GET /loki/api/v1/query", logs)
	mux.HandleFunc("GET /loki/api/v1/labels", func(w http.ResponseWriter, _ *http.Request) {
		answer(w, []string{"compose_service"})
	})
	mux.HandleFunc("GET /loki/api/v1/label/compose_service/values", func(w http.ResponseWriter, _ *http.Request) {
		answer(w, []string{"vllm-sim", "exporter-sim"})
	})
	s := httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}
