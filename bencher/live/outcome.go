package live

import "github.com/benchstation/benchstation/bencher"

// OutcomeOK is the outcome of a request that succeeded.
const OutcomeOK = "ok"

// outcomeClasses are the error classes in outcome order, after "ok".
var outcomeClasses = [...]bencher.ErrorClass{
	bencher.ErrTimeout, bencher.ErrConnection, bencher.ErrHTTPStatus, bencher.ErrStream,
	bencher.ErrInvalidResponse, bencher.ErrCanceled, bencher.ErrInvalidRequest, bencher.ErrNotSent,
}

// numOutcomes is the size of the closed set of outcomes: "ok", the error
// classes, and "other" for a class this package does not know.
const numOutcomes = 2 + len(outcomeClasses)

// outcomeOther is the index of an unknown error class.
const outcomeOther = numOutcomes - 1

// Outcomes lists the values of the outcome label: "ok", every error class,
// and "other" (an error class newer than this package).
func Outcomes() []string {
	out := make([]string, 0, numOutcomes)
	out = append(out, OutcomeOK)
	for _, c := range outcomeClasses {
		out = append(out, string(c))
	}
	return append(out, "other")
}

// outcomeIndex returns the index in Outcomes of a record's outcome.
func outcomeIndex(rec *bencher.Record) int {
	if rec.OK() {
		return 0
	}
	for i, c := range outcomeClasses {
		if rec.Error == c {
			return i + 1
		}
	}
	return outcomeOther
}
