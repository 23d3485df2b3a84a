// gitops-check-gotemplate renders ApplicationSet templates with `goTemplate: true` exactly as Argo CD's
// ApplicationSet controller does: Go's text/template with the Sprig function library (minus env, expandenv and
// getHostByName) and Argo CD's extra functions (normalize, slugify, toYaml, fromYaml, fromYamlArray, tpl).
//
// Argo CD templates each string of the Application template separately (values and map keys, never across
// fields), drops map entries whose value is null, and leaves numbers and booleans alone. This program does the
// same walk over plain JSON, so the Python side can hand it any part of an ApplicationSet (a template, a
// generator to interpolate, a templatePatch string).
//
// Protocol: one JSON document on stdin, {"jobs": [{"value": ANY, "params": OBJECT, "options": [STRING]}]};
// one on stdout, {"results": [{"value": ANY} | {"error": STRING}]}, in job order. `--version` prints the version.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig/v3"
	"github.com/gosimple/slug"
	"sigs.k8s.io/yaml"
)

// version is set at build time (-X main.version=...) to a hash of this module's sources.
var version = "dev"

type job struct {
	Value   json.RawMessage        `json:"value"`
	Params  map[string]interface{} `json:"params"`
	Options []string               `json:"options"`
}

type result struct {
	Value interface{} `json:"value,omitempty"`
	Error string      `json:"error,omitempty"`
}

var funcMap = baseFuncMap()

func baseFuncMap() template.FuncMap {
	m := sprig.GenericFuncMap()
	// Argo CD removes these so templates cannot learn about the controller's environment.
	delete(m, "env")
	delete(m, "expandenv")
	delete(m, "getHostByName")
	m["normalize"] = sanitizeName
	m["slugify"] = slugifyName
	m["toYaml"] = toYAML
	m["fromYaml"] = fromYAML
	m["fromYamlArray"] = fromYAMLArray
	return template.FuncMap(m)
}

var invalidDNSNameChars = regexp.MustCompile("[^-a-z0-9.]")

// sanitizeName: lowercase, characters outside [-a-z0-9.] become '-', at most 253 bytes, trimmed of '-' and '.'.
func sanitizeName(name string) string {
	name = strings.ToLower(name)
	name = invalidDNSNameChars.ReplaceAllString(name, "-")
	if len(name) > 253 {
		name = name[:253]
	}
	return strings.Trim(name, "-.")
}

// slugifyName takes [maxSize int] [smartTruncate bool] name, like Argo CD's slugify.
func slugifyName(args ...interface{}) string {
	maxSize := 50
	smartTruncate := true
	name := ""
	for i, arg := range args {
		switch i {
		case len(args) - 1:
			name = arg.(string)
		case 0:
			maxSize = arg.(int)
		case 1:
			smartTruncate = arg.(bool)
		}
	}
	slug.EnableSmartTruncate = smartTruncate
	slug.MaxLength = maxSize
	return slug.Make(sanitizeName(name))
}

func toYAML(v interface{}) (string, error) {
	data, err := yaml.Marshal(v)
	if err != nil {
		return "", err
	}
	return strings.TrimSuffix(string(data), "\n"), nil
}

func fromYAML(s string) (map[string]interface{}, error) {
	m := map[string]interface{}{}
	if err := yaml.Unmarshal([]byte(s), &m); err != nil {
		return nil, err
	}
	return m, nil
}

func fromYAMLArray(s string) ([]interface{}, error) {
	a := []interface{}{}
	if err := yaml.Unmarshal([]byte(s), &a); err != nil {
		return nil, err
	}
	return a, nil
}

// tplFunc renders a string as a template with the same functions and options as the calling template.
func tplFunc(parent *template.Template) func(string, interface{}) (string, error) {
	return func(text string, vals interface{}) (string, error) {
		t, err := parent.Clone()
		if err != nil {
			return "", fmt.Errorf("cannot clone template: %w", err)
		}
		t, err = t.New(parent.Name()).Parse(text)
		if err != nil {
			return "", fmt.Errorf("cannot parse template %q: %w", text, err)
		}
		var buf strings.Builder
		if err := t.Execute(&buf, vals); err != nil {
			return "", fmt.Errorf("error during tpl function execution for %q: %w", text, err)
		}
		return strings.ReplaceAll(buf.String(), "<no value>", ""), nil
	}
}

type parsed struct {
	t   *template.Template
	err error
}

// Parsed templates by options and text: the same strings come back for every parameter set, and building a
// template with Sprig's ~200 functions costs more than executing it.
var parsedTemplates = map[string]parsed{}

func parse(text string, options []string) (t *template.Template, err error) {
	key := strings.Join(options, "\x00") + "\x01" + text
	if p, ok := parsedTemplates[key]; ok {
		return p.t, p.err
	}
	defer func() {
		if r := recover(); r != nil { // e.g. an unknown template option
			t, err = nil, fmt.Errorf("failed to parse template %s: %v", text, r)
		}
		parsedTemplates[key] = parsed{t, err}
	}()
	t = template.New("").Funcs(funcMap)
	for _, option := range options {
		t = t.Option(option)
	}
	t = t.Funcs(template.FuncMap{"tpl": tplFunc(t)})
	t, err = t.Parse(text)
	if err != nil {
		return nil, fmt.Errorf("failed to parse template %s: %w", text, err)
	}
	return t, nil
}

func replace(text string, params map[string]interface{}, options []string) (string, error) {
	t, err := parse(text, options)
	if err != nil {
		return "", err
	}
	var buf bytes.Buffer
	if err = t.Execute(&buf, params); err != nil {
		return "", fmt.Errorf("failed to execute go template %s: %w", text, err)
	}
	return buf.String(), nil
}

// walk templates every string (and map key) of v; null map values are dropped as Argo CD's walk drops them.
func walk(v interface{}, params map[string]interface{}, options []string) (interface{}, error) {
	switch x := v.(type) {
	case string:
		return replace(x, params, options)
	case map[string]interface{}:
		out := make(map[string]interface{}, len(x))
		for key, value := range x {
			if value == nil {
				continue
			}
			rendered, err := walk(value, params, options)
			if err != nil {
				return nil, err
			}
			newKey, err := replace(key, params, options)
			if err != nil {
				return nil, err
			}
			out[newKey] = rendered
		}
		return out, nil
	case []interface{}:
		out := make([]interface{}, len(x))
		for i, item := range x {
			rendered, err := walk(item, params, options)
			if err != nil {
				return nil, err
			}
			out[i] = rendered
		}
		return out, nil
	default:
		return v, nil
	}
}

func run(in io.Reader, out io.Writer) error {
	var request struct {
		Jobs []job `json:"jobs"`
	}
	if err := json.NewDecoder(in).Decode(&request); err != nil {
		return fmt.Errorf("cannot read the request: %w", err)
	}
	results := make([]result, len(request.Jobs))
	for i, j := range request.Jobs {
		dec := json.NewDecoder(bytes.NewReader(j.Value))
		dec.UseNumber() // numbers in the template stay as written
		var value interface{}
		if err := dec.Decode(&value); err != nil {
			results[i] = result{Error: fmt.Sprintf("cannot read job %d: %v", i, err)}
			continue
		}
		if j.Params == nil {
			j.Params = map[string]interface{}{}
		}
		rendered, err := walk(value, j.Params, j.Options)
		if err != nil {
			results[i] = result{Error: err.Error()}
			continue
		}
		results[i] = result{Value: rendered}
	}
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	return enc.Encode(map[string]interface{}{"results": results})
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "--version" {
		fmt.Printf("gitops-check-gotemplate %s\n", version)
		return
	}
	if err := run(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
