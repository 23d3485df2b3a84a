// goref runs the Go originals of behaviours gitops-check reimplements in Python, for the differential tests
// (tests/differential/): one JSON request on stdin, {"mode": "...", "cases": [...]}, one JSON list of results
// on stdout, result i for case i. Test-only: built into the tool cache by scripts/tools.py, never shipped.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path"
	"regexp"
	"strings"

	"github.com/bmatcuk/doublestar/v4"
	"github.com/fluxcd/pkg/envsubst"
	"github.com/valyala/fasttemplate"
	"helm.sh/helm/v3/pkg/strvals"
	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/yaml"
)

// version is set at build time (-X main.version=...) to a hash of this module's sources.
var version = "dev"

// isTemplated is Argo CD's isTemplatedRegex (applicationset/utils): strings without a one-line {{...}} are kept.
var isTemplated = regexp.MustCompile(".*{{.*}}.*")

type request struct {
	Mode  string            `json:"mode"`
	Cases []json.RawMessage `json:"cases"`
}

type result map[string]any

func errText(err error) any {
	if err == nil {
		return nil
	}
	return err.Error()
}

func run(mode string, raw json.RawMessage) (res result, err error) {
	defer func() {
		if r := recover(); r != nil {
			res = result{"panic": fmt.Sprint(r)}
		}
	}()
	switch mode {
	case "yaml": // case: a YAML document; result: the JSON sigs.k8s.io/yaml makes of it
		var text string
		if err := json.Unmarshal(raw, &text); err != nil {
			return nil, err
		}
		out, err := yaml.YAMLToJSON([]byte(text))
		if err != nil {
			return result{"error": err.Error()}, nil
		}
		return result{"json": string(out)}, nil
	case "pathmatch", "doublestar": // case: [pattern, name]
		var c [2]string
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, err
		}
		var ok bool
		var err error
		if mode == "pathmatch" {
			ok, err = path.Match(c[0], c[1])
		} else {
			ok, err = doublestar.Match(c[0], c[1])
		}
		return result{"match": ok, "error": err != nil}, nil
	case "quantity": // case: a quantity string; result: its canonical form, or that it does not parse
		var text string
		if err := json.Unmarshal(raw, &text); err != nil {
			return nil, err
		}
		q, err := resource.ParseQuantity(text)
		if err != nil {
			return result{"error": true}, nil
		}
		return result{"canonical": q.String(), "milli": q.MilliValue()}, nil
	case "fasttemplate": // case: {template, params}; Argo CD's Replace: its isTemplatedRegex gate, then its tag function
		var c struct {
			Template string         `json:"template"`
			Params   map[string]any `json:"params"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, err
		}
		if !isTemplated.MatchString(c.Template) {
			return result{"out": c.Template}, nil
		}
		t, err := fasttemplate.NewTemplate(c.Template, "{{", "}}")
		if err != nil {
			return result{"error": true}, nil
		}
		out, err := t.ExecuteFuncStringWithErr(func(w io.Writer, tag string) (int, error) {
			trimmed := strings.TrimSpace(tag)
			if v, ok := c.Params[trimmed].(string); ok && trimmed != "" {
				return w.Write([]byte(v))
			}
			return w.Write([]byte("{{" + tag + "}}"))
		})
		if err != nil {
			return result{"error": true}, nil
		}
		return result{"out": out}, nil
	case "envsubst": // case: {text, vars, strict}; Flux's postBuild substitution
		var c struct {
			Text   string            `json:"text"`
			Vars   map[string]string `json:"vars"`
			Strict bool              `json:"strict"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, err
		}
		var out string
		var err error
		lookup := func(name string) (string, bool) { v, ok := c.Vars[name]; return v, ok }
		if c.Strict {
			out, err = envsubst.Eval(c.Text, func(name string) (string, bool) { return lookup(name) })
		} else {
			out, err = envsubst.Eval(c.Text, func(name string) (string, bool) {
				v, ok := lookup(name)
				return v, ok || true
			})
		}
		if err != nil {
			return result{"error": true}, nil
		}
		return result{"out": out}, nil
	case "strvals": // case: {text, string, literal}; helm --set / --set-string / --set-literal
		var c struct {
			Text    string `json:"text"`
			String  bool   `json:"string"`
			Literal bool   `json:"literal"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, err
		}
		dest := map[string]any{}
		var err error
		if c.Literal {
			err = strvals.ParseLiteralInto(c.Text, dest)
		} else if c.String {
			err = strvals.ParseIntoString(c.Text, dest)
		} else {
			err = strvals.ParseInto(c.Text, dest)
		}
		if err != nil {
			return result{"error": true}, nil
		}
		out, _ := json.Marshal(dest)
		return result{"json": string(out)}, nil
	}
	return nil, fmt.Errorf("unknown mode %q", mode)
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "--version" {
		fmt.Printf("gitops-check-goref %s\n", version)
		return
	}
	var req request
	if err := json.NewDecoder(os.Stdin).Decode(&req); err != nil {
		fmt.Fprintln(os.Stderr, "goref:", err)
		os.Exit(2)
	}
	out := make([]result, 0, len(req.Cases))
	for _, c := range req.Cases {
		r, err := run(req.Mode, c)
		if err != nil {
			fmt.Fprintln(os.Stderr, "goref:", err)
			os.Exit(2)
		}
		out = append(out, r)
	}
	_ = json.NewEncoder(os.Stdout).Encode(out)
}
