// Package results is the versioned run document of the bencher: one JSON
// file per benchmark run, which the CLI writes, CI reads, and the Grafana
// plugin lists and serves.
//
// # The document
//
// A [Document] is a [Header] (everything but the per-request records) and
// the records. Its JSON holds, in this order:
//
//	schema_version   integer, SchemaVersion (1); a reader rejects newer ones
//	kind             "benchstation.run"
//	id               "20261127T101500Z-1a2b3c": start time (UTC) and 6 random hex
//	name, labels, profile
//	status           completed | interrupted | failed
//	stop_reason      why the runner stopped (bencher.StopReason)
//	error            what went wrong, for interrupted and failed runs
//	config           {run: bencher.RunConfig, workload, slos, gates, percentiles}
//	environment      target (no credentials), simulated, model, server and
//	                 client versions, host, OS/arch, start and end times
//	summary          stats.Summary, as is
//	errors           per error class: count and a few example messages
//	gates            gate.Outcome per --slo gate, when gates were given
//	scheduler_lateness, prewarm, server_side (optional)
//	record_count, records_omitted
//	shard            a shard's document (bencher run --shard): index, count,
//	                 run_id, its part of the load, its clock offset
//	merged           a merged document (Merge): run_id, count, start_at, how
//	                 the clocks were joined, and each shard's own notes
//	records          bencher.Record per request, as is; always last
//
// The JSON Schema (draft 2020-12) of the document is run.schema.json in
// this directory, returned by [Schema].
//
// # Writing and reading
//
// [Write] stores a document atomically as DIR/ID.json (a temporary file in
// the same directory, fsync, rename, fsync of the directory), so a reader
// never sees a partial file. [Read] and [Decode] read a whole document;
// [ReadHeader] reads only the part before the records, which is fast since
// the records come last. [List] reads the headers of every document of a
// directory, skipping (with a reason each) the files that are not run
// documents, and [Index] keeps them in memory so that listing again costs
// one directory read and a stat per file. [WriteFile] stores a document
// as a named file, as atomically.
//
// # Sharded runs
//
// The shards of a run sent by several processes (bencher.WithShard) each
// write a document with a shard section; [Merge] joins them into the
// document of the whole run, with its summary computed again from every
// shard's records, and refuses documents of other runs.
package results
