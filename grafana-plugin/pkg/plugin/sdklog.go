package plugin

import (
	"context"

	"github.com/grafana/grafana-plugin-sdk-go/backend/log"
)

// Messages of the SDK's request logging (backend.NewLoggerMiddleware).
const (
	sdkRequestCompleted = "Plugin Request Completed"
	sdkPartialError     = "Partial data response error"
)

// RequestLogger returns l for the SDK's request logging, which
// datasource.Manage sets up with backend.Logger: give it
//
//	backend.Logger = plugin.RequestLogger(backend.Logger)
//
// before datasource.Manage. The SDK logs two error lines for each failing
// query, on every refresh of its panel: "Partial data response error" for
// the query, then "Plugin Request Completed" with status error for the
// request. Through RequestLogger a failure logs one line at most:
//
//   - a query's error from downstream (the user's query, the settings, the
//     results directory: ErrorSourceDownstream) at debug level, since the
//     panel shows it; what needs an operator (an unreadable results
//     directory) the plugin logs itself, once;
//   - a query's error from the plugin at error level, as before;
//   - the request's "Completed" line at info level when the handler itself
//     returned no error (each failing query has its own line), at error
//     level when it did.
//
// Every other line is logged as it is.
func RequestLogger(l log.Logger) log.Logger {
	return requestLogger{l}
}

// requestLogger is the logger of RequestLogger.
type requestLogger struct {
	log.Logger
}

var _ log.Logger = requestLogger{}

// Error logs msg at error level, except the lines of RequestLogger.
func (r requestLogger) Error(msg string, args ...any) {
	switch {
	case msg == sdkPartialError && argValue(args, "statusSource") == "downstream":
		r.Logger.Debug(msg, args...)
	case msg == sdkRequestCompleted && argValue(args, "error") == nil:
		r.Logger.Info(msg, args...)
	default:
		r.Logger.Error(msg, args...)
	}
}

// With returns the RequestLogger of l.With(args...).
func (r requestLogger) With(args ...any) log.Logger {
	return requestLogger{r.Logger.With(args...)}
}

// FromContext returns the RequestLogger of l.FromContext(ctx).
func (r requestLogger) FromContext(ctx context.Context) log.Logger {
	return requestLogger{r.Logger.FromContext(ctx)}
}

// argValue returns the value of key in key-value pairs, or nil.
func argValue(args []any, key string) any {
	for i := 0; i+1 < len(args); i += 2 {
		if k, ok := args[i].(string); ok && k == key {
			return args[i+1]
		}
	}
	return nil
}
