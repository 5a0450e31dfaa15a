package results

import (
	"bytes"
	_ "embed" // for the schema
)

// SchemaFile is the name of the document's JSON Schema in this directory.
const SchemaFile = "run.schema.json"

// SchemaID is the $id of the document's JSON Schema.
const SchemaID = "https://benchstation.dev/schemas/run-v1.schema.json"

//go:embed run.schema.json
var schema []byte

// Schema returns the JSON Schema (draft 2020-12) of the run document of
// SchemaVersion, for validators and for serving (a copy: callers may keep
// or modify it).
func Schema() []byte { return bytes.Clone(schema) }
