// Package registry keeps the named components a config can pick — tasks,
// encoder and decoder kinds — each package registering its own from init
// functions, so that the lists configs are checked against live with the
// components and are never copied.
package registry

import (
	"fmt"
	"sort"
)

// Registry maps names to values.
type Registry[V any] struct {
	what string
	m    map[string]V
}

// New returns an empty registry of what ("task", "encoder kind", ...), the
// word its panics use.
func New[V any](what string) *Registry[V] {
	return &Registry[V]{what: what, m: map[string]V{}}
}

// Register adds v under name. It is called from init functions; a
// duplicate name is a programming error and panics.
func (r *Registry[V]) Register(name string, v V) {
	if _, dup := r.m[name]; dup {
		panic(fmt.Sprintf("registry: %s %q registered twice", r.what, name))
	}
	r.m[name] = v
}

// Lookup returns the value registered under name.
func (r *Registry[V]) Lookup(name string) (V, bool) {
	v, ok := r.m[name]
	return v, ok
}

// Names lists the registered names, sorted.
func (r *Registry[V]) Names() []string {
	names := make([]string, 0, len(r.m))
	for n := range r.m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
