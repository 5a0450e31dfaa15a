package gpu

import (
	"fmt"
	"strings"

	"github.com/NVIDIA/go-nvml/pkg/dl"
)

// DefaultLibrary is the NVML library go-nvml loads when no path is given:
// a bare name, found by the dynamic linker's search.
const DefaultLibrary = "libnvidia-ml.so.1"

// startupSymbols are the NVML functions that initialisation and discovery
// call unconditionally, each as the names go-nvml may use (it calls the
// newest one the library exports, else the first version). A library that
// lacks one of them is not a usable NVML: calling the missing function
// would kill the process with a symbol lookup error.
var startupSymbols = [][]string{
	{"nvmlInit_v2", "nvmlInit"},
	{"nvmlShutdown"},
	{"nvmlErrorString"},
	{"nvmlDeviceGetCount_v2", "nvmlDeviceGetCount"},
	{"nvmlDeviceGetHandleByIndex_v2", "nvmlDeviceGetHandleByIndex"},
	{"nvmlDeviceGetUUID"},
}

// LibraryError says why the NVML library cannot be used: it does not load
// (Reason is the dynamic loader's own message), or it loads but lacks
// functions that start-up needs (Missing).
type LibraryError struct {
	// Path is the library as given: a path, or a bare name that the
	// dynamic linker searches for.
	Path    string
	Reason  string
	Missing []string
}

func (e *LibraryError) Error() string {
	switch {
	case len(e.Missing) > 0 && e.Missing[0] == strings.Join(startupSymbols[0], " or "):
		return fmt.Sprintf("%s is not an NVML library: it has no %s", e.Path, e.Missing[0])
	case len(e.Missing) > 0:
		return fmt.Sprintf("%s lacks NVML functions that start-up calls: %s", e.Path, strings.Join(e.Missing, ", "))
	}
	return fmt.Sprintf("cannot load %s: %s", e.Path, e.Reason)
}

// CheckLibrary loads the library at path on its own (RTLD_LAZY|RTLD_LOCAL,
// so nothing it exports becomes visible to the process), checks that it
// exports every function that NVML initialisation and GPU discovery call,
// and unloads it. It returns nil or a *LibraryError. It never calls into
// the library, so a library that is not NVML at all (or a broken file, a
// directory, a path that does not exist) is reported, not run.
func CheckLibrary(path string) error {
	if path == "" {
		path = DefaultLibrary
	}
	lib := dl.New(path, dl.RTLD_LAZY|dl.RTLD_LOCAL)
	if err := lib.Open(); err != nil {
		// dlerror's text starts with the path, which Error already names.
		return &LibraryError{Path: path, Reason: strings.TrimPrefix(err.Error(), path+": ")}
	}
	defer lib.Close()
	var missing []string
	for _, names := range startupSymbols {
		found := false
		for _, name := range names {
			if lib.Lookup(name) == nil {
				found = true
				break
			}
		}
		if !found {
			missing = append(missing, strings.Join(names, " or "))
		}
	}
	if len(missing) > 0 {
		return &LibraryError{Path: path, Missing: missing}
	}
	return nil
}

// WithLibraryCheck makes every initialisation attempt run check first
// (CheckLibrary on the library's path, for the real NVML) and not touch
// the library when it fails. Simulated and mock libraries need no check.
func WithLibraryCheck(check func() error) Option {
	return func(m *Manager) { m.check = check }
}
