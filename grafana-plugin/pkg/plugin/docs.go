package plugin

import (
	"container/list"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/benchstation/benchstation/bencher/results"
)

// DefaultDocCacheSize is how many whole documents (with their records) an
// instance keeps decoded, so that refreshing dashboards does not read and
// decode the same files again.
const DefaultDocCacheSize = 8

// docKey identifies one version of a document file.
type docKey struct {
	path    string
	size    int64
	modTime time.Time
}

// docCache is a small LRU of decoded documents keyed by path, size and
// modification time: a changed file is a new key, and the old version falls
// out as others are used. It is safe for concurrent use.
type docCache struct {
	mu    sync.Mutex
	max   int
	order *list.List // of docKey, most recently used first
	items map[docKey]*list.Element
	docs  map[docKey]*results.Document
	read  func(path string) (*results.Document, error)
}

// newDocCache returns a cache of at most max documents read with read.
func newDocCache(max int, read func(string) (*results.Document, error)) *docCache {
	return &docCache{max: max, order: list.New(), items: map[docKey]*list.Element{},
		docs: map[docKey]*results.Document{}, read: read}
}

// get returns the document of e, from the cache or read from its file. The
// document is shared and must not be modified.
func (c *docCache) get(e results.Entry) (*results.Document, error) {
	k := docKey{e.Path, e.Size, e.ModTime}
	c.mu.Lock()
	if el, ok := c.items[k]; ok {
		c.order.MoveToFront(el)
		doc := c.docs[k]
		c.mu.Unlock()
		return doc, nil
	}
	c.mu.Unlock()
	doc, err := c.read(e.Path)
	if err != nil {
		return nil, fmt.Errorf("reading run document %s: %w", baseName(e.Path), err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.items[k]; !ok {
		c.items[k] = c.order.PushFront(k)
		c.docs[k] = doc
		for c.order.Len() > c.max {
			old := c.order.Remove(c.order.Back()).(docKey)
			delete(c.items, old)
			delete(c.docs, old)
		}
	}
	return doc, nil
}

// len returns the number of cached documents.
func (c *docCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}

// errNoRunID is the error of a query that names no run.
var errNoRunID = errors.New("runId: required (the id of a run, as the runs table shows it)")

// findRun returns the listing entry of the run id.
func (l *listing) find(id string) (results.Entry, error) {
	id, err := l.resolve(id)
	if err != nil {
		return results.Entry{}, err
	}
	for _, e := range l.entries {
		if e.Header.ID == id {
			return e, nil
		}
	}
	return results.Entry{}, fmt.Errorf("run %q: no such run in the results directory", id)
}

// document returns the whole document of the run id, through the cache.
func (d *Datasource) document(l *listing, id string) (*results.Document, error) {
	if id == "" {
		return nil, errNoRunID
	}
	e, err := l.find(id)
	if err != nil {
		return nil, err
	}
	doc, err := d.docs.get(e)
	if err != nil {
		return nil, err
	}
	if doc.RecordsOmitted {
		return nil, fmt.Errorf("run %q: its document was written without records, so per-request views are not available", id)
	}
	return doc, nil
}
