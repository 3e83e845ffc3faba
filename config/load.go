package config

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"reflect"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Error is one problem with a config, located as precisely as it can be:
// the file, the YAML line (0 when the value came from -set or a default) and
// the dotted key path.
type Error struct {
	File string
	Line int
	Key  string
	Msg  string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	if e.Key != "" {
		b.WriteString(": " + e.Key)
	}
	b.WriteString(": " + e.Msg)
	return b.String()
}

// Errors collects every problem found, so that a user fixes them in one go.
type Errors []*Error

// Unwrap lets errors.Is and errors.As look at each problem.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

func (es Errors) Error() string {
	msgs := make([]string, len(es))
	for i, e := range es {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "\n")
}

// IsConfigError reports whether err is a problem with the configuration
// (as opposed to a failure while running), so callers can exit with the
// usage status.
func IsConfigError(err error) bool {
	var e *Error
	var es Errors
	return errors.As(err, &e) || errors.As(err, &es)
}

// Load reads the YAML file at path, applies overrides of the form
// "train.lr=0.001" in order, and returns the validated config.
func Load(path string, overrides []string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, &Error{File: path, Msg: fmt.Sprintf("cannot read config: %v", err)}
	}
	return Parse(b, path, overrides)
}

// Parse is Load for YAML already in memory; name labels errors.
func Parse(src []byte, name string, overrides []string) (*Config, error) {
	return parse(src, name, overrides, true)
}

// ParseStored parses the config a checkpoint stored: the resolved config
// of a run that was checked when it started, every key written out, by
// this or an earlier version. Its keys and values are checked as Parse
// does, except that keys its task does not read may hold any value: they
// are the run's record, not the user's request (an earlier version wrote
// the default prime as "").
func ParseStored(src []byte, name string, overrides []string) (*Config, error) {
	return parse(src, name, overrides, false)
}

func parse(src []byte, name string, overrides []string, strict bool) (*Config, error) {
	root, lines, err := parseKeys(src, name, overrides)
	if err != nil {
		return nil, err
	}
	cfg := DefaultFor(taskOf(root))
	if err := root.Decode(&cfg); err != nil {
		return nil, &Error{File: name, Msg: err.Error()}
	}
	var errs Errors
	for _, e := range cfg.validate(strict) {
		e.File, e.Line = name, LineOf(lines, e.Key)
		errs = append(errs, e)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	cfg.source, cfg.lines = name, lines
	return &cfg, nil
}

// CheckKeys checks a YAML document against the schema's keys and types
// only, not against any task's rules: the check for a file that documents
// every key at once, like configs/reference.yaml.
func CheckKeys(src []byte, name string) error {
	_, _, err := parseKeys(src, name, nil)
	return err
}

// parseKeys reads one YAML document, applies the overrides and checks
// every key and type against the schema, returning the document's root
// and the line of each key path given.
func parseKeys(src []byte, name string, overrides []string) (*yaml.Node, map[string]int, error) {
	root, err := ReadDocument(src, name)
	if err != nil {
		return nil, nil, err
	}
	if root.Kind != yaml.MappingNode {
		return nil, nil, &Error{File: name, Line: root.Line, Msg: "the config must be a mapping of sections (task:, data:, decoder:, ...)"}
	}
	for _, o := range overrides {
		if err := applyOverride(root, o); err != nil {
			return nil, nil, &Error{File: name, Key: o, Msg: "in -set: " + err.Error()}
		}
	}
	lines := map[string]int{}
	var errs Errors
	checkNode(root, reflect.TypeOf(Config{}), "", name, lines, &errs)
	if len(errs) > 0 {
		return nil, nil, errs
	}
	return root, lines, nil
}

// taskOf returns the value of the top-level task key, "" if there is none.
func taskOf(root *yaml.Node) string {
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "task" && root.Content[i+1].Kind == yaml.ScalarNode {
			return root.Content[i+1].Value
		}
	}
	return ""
}

// LineOf finds in lines (as DecodeStrict returns them) the line of key
// or, failing that, of its nearest ancestor; 0 when neither is there.
func LineOf(lines map[string]int, key string) int {
	for k := key; k != ""; {
		if l, ok := lines[k]; ok {
			return l
		}
		i := strings.LastIndex(k, ".")
		if i < 0 {
			break
		}
		k = k[:i]
	}
	return 0
}

var (
	durationType = reflect.TypeOf(time.Duration(0))
	nodeType     = reflect.TypeOf(yaml.Node{})
)

// checkNode walks a YAML node beside the Go type it will decode into,
// recording each key's line and reporting unknown keys (with the nearest
// valid one), duplicate keys and values of the wrong type.
func checkNode(n *yaml.Node, t reflect.Type, path, file string, lines map[string]int, errs *Errors) {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nodeType {
		return // kept as written, for the caller to check (see DecodeStrict)
	}
	if t.Kind() != reflect.Struct || t == durationType {
		probe := reflect.New(t)
		if err := n.Decode(probe.Interface()); err != nil {
			msg := err.Error()
			if te, ok := err.(*yaml.TypeError); ok && len(te.Errors) > 0 {
				msg = te.Errors[0]
				if i := strings.Index(msg, ": "); i >= 0 && strings.HasPrefix(msg, "line ") {
					msg = msg[i+2:]
				}
			}
			*errs = append(*errs, &Error{File: file, Line: n.Line, Key: path, Msg: fmt.Sprintf("want %s: %s", kindName(t), msg)})
			return
		}
		// YAML spells infinities and NaN .inf and .nan; no key takes them.
		if f := probe.Elem(); f.CanFloat() && (math.IsInf(f.Float(), 0) || math.IsNaN(f.Float())) {
			*errs = append(*errs, &Error{File: file, Line: n.Line, Key: path, Msg: fmt.Sprintf("want a finite number, got %s", n.Value)})
		}
		return
	}
	if n.Kind != yaml.MappingNode {
		*errs = append(*errs, &Error{File: file, Line: n.Line, Key: path, Msg: fmt.Sprintf("want a mapping of keys (%s), got %q", strings.Join(fieldNames(t), ", "), n.Value)})
		return
	}
	_, fields := yamlFields(t)
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		key := join(path, k.Value)
		if seen[k.Value] {
			*errs = append(*errs, &Error{File: file, Line: k.Line, Key: key, Msg: "given twice"})
			continue
		}
		seen[k.Value] = true
		f, ok := fields[k.Value]
		if !ok {
			msg := "unknown key"
			if s := nearest(k.Value, fieldNames(t)); s != "" {
				msg += fmt.Sprintf(" (did you mean %s?)", join(path, s))
			} else {
				msg += fmt.Sprintf(" (valid keys here: %s)", strings.Join(fieldNames(t), ", "))
			}
			*errs = append(*errs, &Error{File: file, Line: k.Line, Key: key, Msg: msg})
			continue
		}
		lines[key] = k.Line
		checkNode(v, f.Type, key, file, lines, errs)
	}
}

func kindName(t reflect.Type) string {
	switch {
	case t == durationType:
		return "a duration like 30m, 90s or 0s"
	case t.Kind() == reflect.String:
		return "a string"
	case t.Kind() == reflect.Bool:
		return "true or false"
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64:
		return "an integer"
	case t.Kind() == reflect.Float32 || t.Kind() == reflect.Float64:
		return "a number"
	case t.Kind() == reflect.Slice:
		return "a list"
	}
	return t.String()
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// yamlFields maps the YAML keys of struct type t to its exported fields.
func yamlFields(t reflect.Type) (names []string, fields map[string]reflect.StructField) {
	fields = map[string]reflect.StructField{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name := strings.Split(f.Tag.Get("yaml"), ",")[0]
		names = append(names, name)
		fields[name] = f
	}
	return names, fields
}

func fieldNames(t reflect.Type) []string {
	names, _ := yamlFields(t)
	return names
}

// nearest returns the candidate closest to s in edit distance, if it is
// close enough to be a plausible typo.
func nearest(s string, candidates []string) string {
	best, bestD := "", len(s)/2+2
	for _, c := range candidates {
		if d := editDistance(s, c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// applyOverride sets key.path=value in the mapping root, creating missing
// mappings. The value is parsed as YAML, so numbers, lists and durations
// work as they would in the file.
func applyOverride(root *yaml.Node, o string) error {
	key, value, ok := strings.Cut(o, "=")
	if !ok || key == "" {
		return errors.New(`want key.path=value, e.g. -set train.optimizer.lr=0.001`)
	}
	// A value that YAML reads as a mapping ("ROMEO:") or cannot read at all
	// is meant as a plain string.
	val := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: value}
	var vdoc yaml.Node
	if err := yaml.Unmarshal([]byte(value), &vdoc); err == nil && len(vdoc.Content) == 1 && vdoc.Content[0].Kind != yaml.MappingNode {
		val = vdoc.Content[0]
		clearLines(val) // lines of the -set text would be misread as lines of the file
	}
	parts := strings.Split(key, ".")
	n := root
	for i, p := range parts {
		var child *yaml.Node
		for j := 0; j+1 < len(n.Content); j += 2 {
			if n.Content[j].Value == p {
				child = n.Content[j+1]
			}
		}
		last := i == len(parts)-1
		if child == nil {
			child = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
			if last {
				child = val
			}
			n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: p}, child)
		} else if last {
			*child = *val
		}
		if !last && child.Kind != yaml.MappingNode {
			return fmt.Errorf("%s is not a section", strings.Join(parts[:i+1], "."))
		}
		n = child
	}
	return nil
}

func clearLines(n *yaml.Node) {
	n.Line, n.Column = 0, 0
	for _, c := range n.Content {
		clearLines(c)
	}
}

// Marshal renders the resolved config as YAML, as a run folder keeps it
// and a checkpoint stores it: Parse of the result gives the same config.
func (c *Config) Marshal() ([]byte, error) {
	var doc yaml.Node
	if err := doc.Encode(c); err != nil {
		return nil, err
	}
	restoreLineBreaks(&doc, reflect.ValueOf(c))
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, err
	}
	return b.Bytes(), enc.Close()
}

// restoreLineBreaks puts back the strings with line breaks that yaml.v3
// loses when it encodes into a node ("\n", the default prime, becomes ""),
// double-quoted so that they survive the text too. n is the node v
// encoded into.
func restoreLineBreaks(n *yaml.Node, v reflect.Value) {
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return
		}
		v = v.Elem()
	}
	switch v.Kind() {
	case reflect.String:
		if strings.ContainsAny(v.String(), "\n\r") {
			n.Value, n.Tag, n.Style = v.String(), "!!str", yaml.DoubleQuotedStyle
		}
	case reflect.Slice:
		for i := 0; i < v.Len() && i < len(n.Content); i++ {
			restoreLineBreaks(n.Content[i], v.Index(i))
		}
	case reflect.Struct:
		if v.Type() == durationType || n.Kind != yaml.MappingNode {
			return
		}
		_, fields := yamlFields(v.Type())
		for i := 0; i+1 < len(n.Content); i += 2 {
			if f, ok := fields[n.Content[i].Value]; ok {
				restoreLineBreaks(n.Content[i+1], v.FieldByIndex(f.Index))
			}
		}
	}
}

// KeyPaths lists every dotted key the schema accepts, sorted; the reference
// config must document each one.
func KeyPaths() []string {
	var out []string
	var walk func(t reflect.Type, path string)
	walk = func(t reflect.Type, path string) {
		if t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct || t == durationType {
			out = append(out, path)
			return
		}
		names, fields := yamlFields(t)
		for _, name := range names {
			walk(fields[name].Type, join(path, name))
		}
	}
	walk(reflect.TypeOf(Config{}), "")
	sort.Strings(out)
	return out
}
