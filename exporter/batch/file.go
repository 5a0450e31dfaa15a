package batch

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"unicode"

	"go.yaml.in/yaml/v3"
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
// A config-file endpoint never falls back to the shared key.
func (s Sources) Endpoints() ([]Endpoint, error) {
	if s.Getenv == nil {
		s.Getenv = os.Getenv
	}
	if s.APIKeyFile != "" && len(s.URLs) == 0 {
		return nil, errors.New("--batch.api-key-file is the key of --batch.endpoint URLs, and none is given (config-file endpoints name their own api_key_file)")
	}
	var eps []Endpoint
	if len(s.URLs) > 0 {
		key, err := ReadAPIKey(s.APIKeyFile, s.Getenv(APIKeyEnv))
		if err != nil {
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

// ReadAPIKey returns the key in file (surrounding white space trimmed), or
// fromEnv when file is "". Neither key is ever quoted in an error.
func ReadAPIKey(file, fromEnv string) (Secret, error) {
	key := strings.TrimSpace(fromEnv)
	if file != "" {
		f, err := os.Open(file)
		if err != nil {
			return "", fmt.Errorf("reading API key file: %w", err)
		}
		defer f.Close()
		b, err := io.ReadAll(io.LimitReader(f, maxKeyFileBytes+1))
		if err != nil {
			return "", fmt.Errorf("reading API key file %s: %w", file, err)
		}
		if len(b) > maxKeyFileBytes {
			return "", fmt.Errorf("API key file %s is larger than %d bytes", file, maxKeyFileBytes)
		}
		if key = strings.TrimSpace(string(b)); key == "" {
			return "", fmt.Errorf("API key file %s is empty", file)
		}
	}
	if strings.IndexFunc(key, unicode.IsControl) >= 0 || strings.ContainsRune(key, ' ') {
		return "", errors.New("API key contains white space or control characters")
	}
	return Secret(key), nil
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
		if err != nil {
			return nil, fmt.Errorf("batch config %s: endpoint %d: %w", path, i+1, err)
		}
		eps = append(eps, e)
	}
	if err := (Config{Endpoints: eps}).Validate(); err != nil {
		return nil, fmt.Errorf("batch config %s: %w", path, err)
	}
	return eps, nil
}

func (fe fileEndpoint) endpoint(dir string, getenv func(string) string) (Endpoint, error) {
	if fe.URL == "" {
		return Endpoint{}, errors.New("url is required")
	}
	if fe.APIKeyFile != "" && fe.APIKeyEnv != "" {
		return Endpoint{}, errors.New("api_key_file and api_key_env are exclusive")
	}
	var key Secret
	var err error
	switch {
	case fe.APIKeyFile != "":
		file := fe.APIKeyFile
		if !filepath.IsAbs(file) {
			file = filepath.Join(dir, file)
		}
		key, err = ReadAPIKey(file, "")
	case fe.APIKeyEnv != "":
		v := getenv(fe.APIKeyEnv)
		if strings.TrimSpace(v) == "" {
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
			m = fmt.Sprintf("line %s: unknown field %q", sub[1], sub[2])
		}
		msgs[i] = m
	}
	return errors.New(strings.Join(msgs, "; "))
}
