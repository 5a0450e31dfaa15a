package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/alecthomas/kingpin/v2"

	"github.com/benchstation/benchstation/bencher/labelstudio"
	"github.com/benchstation/benchstation/bencher/results"
	"github.com/benchstation/benchstation/internal/secret"
	lsconfig "github.com/benchstation/benchstation/provisioning/labelstudio"
)

// labelStudioKeyEnv is the environment variable of the Label Studio token
// (the name Label Studio's own SDK and tools read).
const labelStudioKeyEnv = "LABEL_STUDIO_API_KEY"

// exportOptions are the flags of bencher export labelstudio.
type exportOptions struct {
	files         []string
	output        string
	includeFailed bool
	push          string
	project       int
	createProject string
	labelConfig   string
	tokenFile     string
	batchSize     int
	retries       int
}

const exportHelp = `Turn the recorded outputs of one run (a rating task per request) or two runs
(a pairwise A/B task per request both ran, joined on the request id) into Label
Studio tasks: write them in Label Studio's JSON import format (-o), send them to
a project (--push URL --project ID), or create the project first
(--create-project TITLE, with the labeling configuration of
provisioning/labelstudio: rating.xml for one run, pairwise.xml for two). The runs
must have been recorded with --record-outputs. The token comes from --token-file
or $` + labelStudioKeyEnv + `, never from the command line, and is sent to the
Label Studio URL's origin only.`

// addExportCommand adds bencher export labelstudio. The command runs as
// the subcommand's kingpin action and ends parsing with its exit code
// (the terminated panic that parse recovers, as after --help), so that
// main.go only registers it.
func addExportCommand(app *kingpin.Application, stdout, stderr io.Writer) {
	o := &exportOptions{}
	export := app.Command("export", "Export recorded outputs to labelling tools.")
	ls := export.Command("labelstudio", exportHelp)
	ls.Arg("run", "One or two result documents recorded with --record-outputs (two: A and B of a pairwise comparison).").
		Required().StringsVar(&o.files)
	ls.Flag("output", "Write the tasks (Label Studio's JSON import format) to FILE; --output=- (or -o=-) writes them to stdout.").
		Short('o').PlaceHolder("FILE").StringVar(&o.output)
	ls.Flag("include-failed", "Also make tasks of failed requests (their partial output; meta.error holds the error class).").
		BoolVar(&o.includeFailed)
	ls.Flag("push", "Send the tasks to the Label Studio server at URL (such as http://localhost:4015).").
		PlaceHolder("URL").StringVar(&o.push)
	ls.Flag("project", "With --push: the id of the project to import into (the number in its URL).").
		PlaceHolder("ID").IntVar(&o.project)
	ls.Flag("create-project", "With --push: create a project titled TITLE with the shipped labeling configuration, import into it and print its URL.").
		PlaceHolder("TITLE").StringVar(&o.createProject)
	ls.Flag("label-config", "With --create-project: the labeling configuration (XML) to use instead of the shipped one.").
		PlaceHolder("FILE").StringVar(&o.labelConfig)
	ls.Flag("token-file", "File holding the Label Studio token (default: $"+labelStudioKeyEnv+"); a legacy token, or a personal access token. Never taken on the command line.").
		PlaceHolder("FILE").StringVar(&o.tokenFile)
	ls.Flag("batch-size", "Tasks per import request.").Default(fmt.Sprint(labelstudio.DefaultBatchSize)).IntVar(&o.batchSize)
	ls.Flag("retries", "Retries of a request answered 5xx or 429, or whose connection failed (doubling waits from 0.5 s, at most 15 s).").
		Default(fmt.Sprint(labelstudio.DefaultRetries)).IntVar(&o.retries)
	ls.Action(func(*kingpin.ParseContext) error {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		panic(terminated(exportCommand(ctx, o, stdout, stderr)))
	})
}

// exportCommand is bencher export labelstudio; it returns the exit code.
func exportCommand(ctx context.Context, o *exportOptions, stdout, stderr io.Writer) int {
	red := secret.NewRedactor()
	stdout, stderr = red.Writer(stdout), red.Writer(stderr)
	if err := o.check(); err != nil {
		return fail(stderr, err)
	}
	docs := make([]*results.Document, 0, len(o.files))
	for _, path := range o.files {
		doc, err := results.Read(path)
		if err != nil {
			return fail(stderr, usagef("%s: %w", path, err))
		}
		docs = append(docs, doc)
	}
	tasks, counts, err := labelstudio.Build(docs, labelstudio.Options{IncludeFailed: o.includeFailed})
	if err != nil {
		return fail(stderr, usageError{err})
	}
	kind := "rating"
	if len(docs) == 2 {
		kind = "pairwise"
	}
	note := describeCounts(counts, o.includeFailed)
	if len(tasks) == 0 {
		fmt.Fprintf(stderr, "bencher: no tasks: %s\n", note)
		return exitError
	}
	if o.output != "" {
		if err := writeTasks(o.output, stdout, tasks); err != nil {
			return fail(stderr, fmt.Errorf("-o %s: %w", o.output, err))
		}
		if o.output != "-" {
			fmt.Fprintf(stdout, "wrote %d %s task(s) to %s%s\n", len(tasks), kind, o.output, note)
		}
	}
	if o.push == "" {
		return exitOK
	}
	if o.output == "-" {
		stdout = stderr // the tasks are on stdout: say the rest on stderr
	}
	return o.pushTasks(ctx, red, tasks, kind, note, len(docs) == 2, stdout, stderr)
}

// check checks the flags together, before any file is read.
func (o *exportOptions) check() error {
	switch {
	case len(o.files) > 2:
		return usagef("one or two runs, got %d", len(o.files))
	case o.output == "" && o.push == "":
		return usagef("nothing to do: give -o FILE (the tasks file), --push URL (send them to Label Studio), or both")
	case o.push == "" && (o.project != 0 || o.createProject != "" || o.tokenFile != "" || o.labelConfig != ""):
		return usagef("--project, --create-project, --label-config and --token-file need --push URL")
	case o.push != "" && (o.project != 0) == (o.createProject != ""):
		return usagef("--push needs either --project ID (an existing project) or --create-project TITLE")
	case o.project < 0:
		return usagef("--project: a project id is a positive number, got %d", o.project)
	case o.labelConfig != "" && o.createProject == "":
		return usagef("--label-config needs --create-project")
	case o.batchSize < 1:
		return usagef("--batch-size: at least 1, got %d", o.batchSize)
	case o.retries < 0:
		return usagef("--retries: not negative, got %d", o.retries)
	}
	if o.push != "" {
		if _, err := labelstudio.CheckURL(o.push); err != nil {
			return usagef("--push: %w", err)
		}
	}
	return nil
}

// pushTasks sends the tasks to Label Studio, creating the project first
// when asked.
func (o *exportOptions) pushTasks(ctx context.Context, red *secret.Redactor, tasks []labelstudio.Task, kind, note string,
	pairwise bool, stdout, stderr io.Writer,
) int {
	token, err := readLabelStudioToken(o.tokenFile)
	if err != nil {
		return fail(stderr, err)
	}
	red.Add(token) // before anything can print it
	config := lsconfig.Rating
	if pairwise {
		config = lsconfig.Pairwise
	}
	if o.labelConfig != "" {
		b, err := os.ReadFile(o.labelConfig)
		if err != nil {
			return fail(stderr, usagef("--label-config: %w", err))
		}
		config = string(b)
	}
	client, err := labelstudio.New(o.push, secret.New(token), labelstudio.WithRedactor(red),
		labelstudio.WithBatchSize(o.batchSize),
		labelstudio.WithRetries(o.retries, labelstudio.DefaultBackoff, labelstudio.DefaultMaxBackoff),
		labelstudio.WithNotify(func(line string) { fmt.Fprintf(stderr, "bencher: %s\n", line) }))
	if err != nil {
		return fail(stderr, usageError{err})
	}
	project := o.project
	if o.createProject != "" {
		p, err := client.CreateProject(ctx, o.createProject, projectDescription(o.files, kind), config)
		if err != nil {
			return fail(stderr, err)
		}
		project = p.ID
		fmt.Fprintf(stdout, "created Label Studio project %d %q (%s): %s\n", p.ID, p.Title, kind, p.URL)
	}
	res, err := client.Import(ctx, project, tasks, nil)
	if err != nil {
		if res.Tasks > 0 {
			fmt.Fprintf(stderr, "bencher: %d of %d task(s) were imported into project %d before the error\n", res.Tasks, len(tasks), project)
		}
		return fail(stderr, err)
	}
	background := ""
	if res.Background > 0 {
		background = fmt.Sprintf(" (%d batch(es) imported in the background by Label Studio)", res.Background)
	}
	fmt.Fprintf(stdout, "imported %d %s task(s) into project %d in %d batch(es)%s%s: %s\n",
		res.Tasks, kind, project, res.Batches, background, note, client.ProjectURL(project))
	return exitOK
}

// readLabelStudioToken reads the token from the token file, or from
// $LABEL_STUDIO_API_KEY.
func readLabelStudioToken(file string) (string, error) {
	if file == "" {
		token := strings.TrimSpace(os.Getenv(labelStudioKeyEnv))
		if token == "" {
			return "", usagef("--push needs a Label Studio token: --token-file FILE or $%s "+
				"(Label Studio: Account & Settings; the compose stack: LABEL_STUDIO_USER_TOKEN)", labelStudioKeyEnv)
		}
		return token, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", usagef("--token-file: %w", err)
	}
	token := strings.TrimSpace(string(b))
	if token == "" || strings.ContainsAny(token, "\r\n") {
		return "", usagef("--token-file %s: want one non-empty line", file)
	}
	return token, nil
}

// writeTasks writes the tasks file atomically (or to stdout for "-").
func writeTasks(path string, stdout io.Writer, tasks []labelstudio.Task) error {
	if path == "-" {
		return labelstudio.Encode(stdout, tasks)
	}
	dir := filepath.Dir(path)
	_, err := guarded(func() (bool, error) {
		f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
		if err != nil {
			return false, err
		}
		tmp := f.Name()
		if err := labelstudio.Encode(f, tasks); err != nil {
			f.Close()
			os.Remove(tmp)
			return false, err
		}
		if err := f.Close(); err != nil {
			os.Remove(tmp)
			return false, err
		}
		if err := os.Chmod(tmp, 0o644); err != nil {
			os.Remove(tmp)
			return false, err
		}
		return true, errors.Join(os.Rename(tmp, path), removeIfFailed(tmp))
	})
	return err
}

// removeIfFailed removes a temporary file left behind by a failed rename.
func removeIfFailed(tmp string) error {
	if _, err := os.Stat(tmp); err == nil {
		return os.Remove(tmp)
	}
	return nil
}

// describeCounts says what was left out, as a suffix: "" when nothing.
func describeCounts(c labelstudio.Counts, includeFailed bool) string {
	var parts []string
	if c.Failed > 0 {
		parts = append(parts, fmt.Sprintf("%d failed request(s) left out (--include-failed adds them)", c.Failed))
	}
	if c.NotSent > 0 {
		parts = append(parts, fmt.Sprintf("%d request(s) never sent", c.NotSent))
	}
	if c.Unpaired > 0 {
		what := "ran"
		if !includeFailed {
			what = "succeeded"
		}
		parts = append(parts, fmt.Sprintf("%d request(s) %s in only one of the two runs", c.Unpaired, what))
	}
	if c.PromptsDiffer > 0 {
		parts = append(parts, fmt.Sprintf("%d request(s) with different prompts in the two runs", c.PromptsDiffer))
	}
	if len(parts) == 0 {
		return ""
	}
	return "; " + strings.Join(parts, ", ")
}

// projectDescription describes a created project: where its tasks came from.
func projectDescription(files []string, kind string) string {
	names := make([]string, len(files))
	for i, f := range files {
		names[i] = strings.TrimSuffix(filepath.Base(f), results.Ext)
	}
	return fmt.Sprintf("Benchstation %s of run(s) %s (bencher export labelstudio)", kind, strings.Join(names, " vs "))
}
