package batch

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"unicode"

	"go.yaml.in/yaml/v3"

	"github.com/benchstation/benchstation/internal/secret"
)

// maxKeyFileBytes bounds what is read from an API key file.
const maxKeyFileBytes = 64 << 10

// Sources are where main finds the endpoints: the --batch.* flags and the
// environment.
type Sources struct {
	// URLs are the --batch.endpoint values; they share one key.
	URLs []string
	// APIKeyFile is --batch.api-key-file, the key of URLs; when empty,
	// the APIKeyEnv variable is used.
	APIKeyFile string
	// ConfigFile is --batch.config-file.
	ConfigFile string
	// Getenv reads the environment; nil is os.Getenv.
	Getenv func(string) string
}

// Endpoints returns the endpoints of s: the URLs (named after their host)
// with the shared key, then those of the config file with their own keys.
// A config-file endpoint never falls back to the shared key. An empty URL
// (--batch.endpoint= , as compose writes it for BATCH_ENDPOINT="") names
// no endpoint.
func (s Sources) Endpoints() ([]Endpoint, error) {
	if s.Getenv == nil {
		s.Getenv = os.Getenv
	}
	s.URLs = slices.DeleteFunc(slices.Clone(s.URLs), func(u string) bool { return strings.TrimSpace(u) == "" })
	if s.APIKeyFile != "" && len(s.URLs) == 0 {
		return nil, errors.New("--batch.api-key-file is the key of --batch.endpoint URLs, and none is given (config-file endpoints name their own api_key_file)")
	}
	var eps []Endpoint
	if len(s.URLs) > 0 {
		key, err := ReadAPIKey(s.APIKeyFile, s.Getenv(APIKeyEnv))
		if err != nil {
			if errors.Is(err, errKeyLike) {
				return nil, fmt.Errorf("--batch.api-key-file: %w", err)
			}
			return nil, err
		}
		for _, raw := range s.URLs {
			e, err := NewEndpoint("", raw, key)
			if err != nil {
				return nil, fmt.Errorf("--batch.endpoint: %w", err)
			}
			eps = append(eps, e)
		}
	}
	if s.ConfigFile != "" {
		more, err := LoadConfigFile(s.ConfigFile, s.Getenv)
		if err != nil {
			return nil, err
		}
		eps = append(eps, more...)
	}
	return eps, nil
}

// errKeyLike marks the errors about a file name or variable name that may
// be the key itself, and so is described by its length, never quoted.
var errKeyLike = errors.New("is it the key itself?")

// keyLikeError is an error about a value that must not be quoted.
type keyLikeError struct{ msg string }

func (e *keyLikeError) Error() string { return e.msg }
func (e *keyLikeError) Unwrap() error { return errKeyLike }

// ReadAPIKey returns the key in file (surrounding white space trimmed), or
// fromEnv when file is "". Neither key is ever quoted in an error, nor is
// a file name that does not look like one (someone may have given the key
// where its file belongs): that is described by its length.
func ReadAPIKey(file, fromEnv string) (secret.Secret, error) {
	return readAPIKey(file, file, fromEnv)
}

// readAPIKey is ReadAPIKey of path, which is file as given (shown) or
// joined to a directory (opened).
func readAPIKey(file, path, fromEnv string) (secret.Secret, error) {
	key := strings.TrimSpace(fromEnv)
	if path != "" {
		f, err := os.Open(path)
		if err != nil {
			if !plausiblePath(file) {
				var pe *fs.PathError
				if errors.As(err, &pe) {
					err = pe.Err
				}
				return secret.Secret{}, &keyLikeError{fmt.Sprintf("cannot open it (%v), and it does not look like a file path (%s)", err, sizeOnly(file))}
			}
			return secret.Secret{}, fmt.Errorf("reading API key file: %w", err)
		}
		defer f.Close()
		b, err := io.ReadAll(io.LimitReader(f, maxKeyFileBytes+1))
		if err != nil {
			return secret.Secret{}, fmt.Errorf("reading API key file %s: %w", path, err)
		}
		if len(b) > maxKeyFileBytes {
			return secret.Secret{}, fmt.Errorf("API key file %s is larger than %d bytes", path, maxKeyFileBytes)
		}
		if key = strings.TrimSpace(string(b)); key == "" {
			return secret.Secret{}, fmt.Errorf("API key file %s is empty", path)
		}
	}
	if strings.IndexFunc(key, unicode.IsControl) >= 0 || strings.ContainsRune(key, ' ') {
		msg := "API key contains white space or control characters"
		if f := strings.Fields(key); len(f) == 2 && strings.EqualFold(f[0], "Bearer") {
			msg += ` (give the key alone, without "Bearer ")`
		}
		return secret.Secret{}, errors.New(msg)
	}
	return secret.New(key), nil
}

// fileConfig is the YAML of --batch.config-file.
type fileConfig struct {
	Endpoints []fileEndpoint `yaml:"endpoints"`
}

type fileEndpoint struct {
	Name       string `yaml:"name"`
	URL        string `yaml:"url"`
	APIKeyFile string `yaml:"api_key_file"`
	APIKeyEnv  string `yaml:"api_key_env"`
}

// LoadConfigFile reads the endpoints of a YAML config file. Unknown fields
// are errors that name the field, its line and the file. A relative
// api_key_file is relative to the config file's directory.
func LoadConfigFile(path string, getenv func(string) string) ([]Endpoint, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("batch config: %w", err)
	}
	var fc fileConfig
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&fc); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("batch config %s: %w", path, yamlError(err))
	}
	if err := dec.Decode(new(fileConfig)); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("batch config %s: more than one YAML document", path)
	}
	if len(fc.Endpoints) == 0 {
		return nil, fmt.Errorf("batch config %s: no endpoints", path)
	}
	eps := make([]Endpoint, 0, len(fc.Endpoints))
	for i, fe := range fc.Endpoints {
		e, err := fe.endpoint(filepath.Dir(path), getenv)
		var fe2 *fieldError
		switch {
		case errors.As(err, &fe2):
			// The field, the file and the endpoint, never the value.
			ref := fmt.Sprintf("endpoint %d", i+1)
			if fe.Name != "" && !LooksLikeKey(fe.Name) {
				ref = fmt.Sprintf("endpoint %q", fe.Name)
			}
			return nil, fmt.Errorf("%s in %s, %s: %w", fe2.field, path, ref, fe2.err)
		case err != nil:
			return nil, fmt.Errorf("batch config %s: endpoint %d: %w", path, i+1, err)
		}
		eps = append(eps, e)
	}
	if err := (Config{Endpoints: eps}).Validate(); err != nil {
		return nil, fmt.Errorf("batch config %s: %w", path, err)
	}
	return eps, nil
}

// fieldError is an error about the value of a config-file field that may
// be the key itself: it names the field, never the value.
type fieldError struct {
	field string
	err   error
}

func (e *fieldError) Error() string { return e.field + ": " + e.err.Error() }
func (e *fieldError) Unwrap() error { return e.err }

func (fe fileEndpoint) endpoint(dir string, getenv func(string) string) (Endpoint, error) {
	if fe.URL == "" {
		return Endpoint{}, errors.New("url is required")
	}
	if fe.APIKeyFile != "" && fe.APIKeyEnv != "" {
		return Endpoint{}, errors.New("api_key_file and api_key_env are exclusive")
	}
	var key secret.Secret
	var err error
	switch {
	case fe.APIKeyFile != "":
		path := fe.APIKeyFile
		if !filepath.IsAbs(path) {
			path = filepath.Join(dir, path)
		}
		key, err = readAPIKey(fe.APIKeyFile, path, "")
		if errors.Is(err, errKeyLike) {
			return Endpoint{}, &fieldError{"api_key_file", err}
		}
	case fe.APIKeyEnv != "":
		if !envName.MatchString(fe.APIKeyEnv) {
			return Endpoint{}, &fieldError{"api_key_env", &keyLikeError{"not an environment variable name (" + sizeOnly(fe.APIKeyEnv) + ")"}}
		}
		v := getenv(fe.APIKeyEnv)
		if strings.TrimSpace(v) == "" {
			if !plausibleEnvName(fe.APIKeyEnv) {
				return Endpoint{}, &fieldError{"api_key_env", &keyLikeError{"no environment variable of that name is set, and the name " +
					"does not look like one (" + sizeOnly(fe.APIKeyEnv) + ")"}}
			}
			return Endpoint{}, fmt.Errorf("api_key_env: environment variable %s is empty or unset", fe.APIKeyEnv)
		}
		key, err = ReadAPIKey("", v)
	}
	if err != nil {
		return Endpoint{}, err
	}
	return NewEndpoint(fe.Name, fe.URL, key)
}

var unknownField = regexp.MustCompile(`^line (\d+): field (.+) not found in type \S+$`)

// yamlError rewrites the decoder's unknown-field messages as
// `line N: unknown field "x"`, one per line, and keeps the others.
func yamlError(err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return err
	}
	msgs := make([]string, len(te.Errors))
	for i, m := range te.Errors {
		if sub := unknownField.FindStringSubmatch(m); sub != nil {
			if LooksLikeKey(sub[2]) {
				m = fmt.Sprintf("line %s: unknown field (%s)", sub[1], sizeOnly(sub[2]))
			} else {
				m = fmt.Sprintf("line %s: unknown field %q", sub[1], sub[2])
			}
		} else {
			// The decoder quotes (the start of) the value it could not
			// use: `sk-proj…`. The line and the types say enough.
			m = strings.Join(strings.Fields(quoted.ReplaceAllString(m, "")), " ")
		}
		msgs[i] = m
	}
	return errors.New(strings.Join(msgs, "; "))
}
