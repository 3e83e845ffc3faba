package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"
)

// The strict decoding configs get, offered to other YAML files of the
// runner (sweep specs), so that every file a user writes is held to the
// same rules and its errors read the same way.

// ReadDocument parses src as exactly one YAML document and returns its
// root node: an empty mapping for an empty file. A second document is an
// error, since it would otherwise be silently ignored; name labels errors.
func ReadDocument(src []byte, name string) (*yaml.Node, error) {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(src))
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return nil, &Error{File: name, Msg: strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, &Error{File: name, Msg: "after the first document: " + strings.TrimPrefix(err.Error(), "yaml: ")}
		}
		return nil, &Error{File: name, Line: extra.Line, Msg: "a second YAML document (after ---): the file is one document; merge it into the first or use another file"}
	}
	if doc.Kind == 0 {
		return &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}, nil
	}
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		return doc.Content[0], nil
	}
	return &doc, nil
}

// DecodeStrict decodes the YAML mapping n into v, a pointer to a struct
// whose fields carry yaml tags, with the checks a config gets: an unknown
// key (with the nearest valid one suggested), a key given twice, a value of
// the wrong type or a non-finite number is an error naming file, line and
// key path, every problem at once. path prefixes the key paths (the
// mapping's own place in its file, "" at the top). A field of type
// yaml.Node keeps its node as written, for the caller to check: a mapping
// whose keys are not fixed by the schema. It returns the line of every key
// path given.
func DecodeStrict(n *yaml.Node, v any, file, path string) (map[string]int, error) {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.Elem().Kind() != reflect.Struct {
		return nil, fmt.Errorf("config.DecodeStrict: want a pointer to a struct, got %T", v)
	}
	lines := map[string]int{}
	var errs Errors
	checkNode(n, rv.Type().Elem(), path, file, lines, &errs)
	if len(errs) > 0 {
		return nil, errs
	}
	if err := n.Decode(v); err != nil {
		return nil, &Error{File: file, Line: n.Line, Key: path, Msg: err.Error()}
	}
	return lines, nil
}

// Nearest returns the candidate closest to s in edit distance if it is
// close enough to be a plausible typo of it, else "": the suggestion of an
// "unknown key" message.
func Nearest(s string, candidates []string) string { return nearest(s, candidates) }
