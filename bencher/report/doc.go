// Package report turns run documents (package results) into what people
// and CI systems read: a terminal table in the style of vLLM's serving
// benchmark, Markdown for pull-request comments and CI summaries, JSON,
// and JUnit XML; comparisons of two runs with per-metric verdicts under
// relative thresholds; and tables across several runs (a matrix of
// profiles and sizes, or a throughput-versus-latency sweep).
//
// # Formats
//
//	table     the terminal table ("============ Serving Benchmark Result ============")
//	markdown  GitHub-flavoured Markdown tables
//	json      the document without its records (Report), or the comparison
//	          or table rows (Compare, Matrix, Sweep)
//	junit     JUnit XML: one testsuite per run, one testcase per gate and one
//	          "run completed" testcase (Report only)
//
// # Comparisons
//
// [Compare] puts the values of a base and a new run side by side with
// their absolute and relative change, and checks relative [Threshold]s,
// written as --threshold 'ttft_p95=+10%,output_throughput=-5%': "+10%"
// fails when the value grows by more than 10%, "-5%" when it drops by more
// than 5%, and an unsigned "10%" when it moves by more than 10% in its
// worse direction ([Better]). [DefaultThresholds] lists the thresholds
// used when none are given.
package report
