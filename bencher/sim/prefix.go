package sim

// prefixCache remembers the hashes of computed prompt blocks, up to a fixed
// number of blocks, evicting with the CLOCK (second-chance) approximation of
// LRU. It is owned by the engine goroutine.
type prefixCache struct {
	index map[uint64]int32
	slots []cacheSlot
	hand  int
}

type cacheSlot struct {
	hash      uint64
	used, ref bool
}

func newPrefixCache(blocks int) *prefixCache {
	blocks = max(blocks, 1)
	return &prefixCache{index: make(map[uint64]int32, min(blocks, 4096)), slots: make([]cacheSlot, blocks)}
}

// lookup returns how many leading blocks are cached.
func (c *prefixCache) lookup(blocks []uint64) int {
	for n, h := range blocks {
		i, ok := c.index[h]
		if !ok {
			return n
		}
		c.slots[i].ref = true
	}
	return len(blocks)
}

// insert adds blocks, evicting the least recently used ones when full.
func (c *prefixCache) insert(blocks []uint64) {
	for _, h := range blocks {
		if i, ok := c.index[h]; ok {
			c.slots[i].ref = true
			continue
		}
		c.place(h)
	}
}

func (c *prefixCache) place(h uint64) {
	for {
		sl := &c.slots[c.hand]
		if sl.used && sl.ref {
			sl.ref = false
			c.advance()
			continue
		}
		if sl.used {
			delete(c.index, sl.hash)
		}
		*sl = cacheSlot{hash: h, used: true}
		c.index[h] = int32(c.hand)
		c.advance()
		return
	}
}

func (c *prefixCache) advance() {
	c.hand++
	if c.hand == len(c.slots) {
		c.hand = 0
	}
}
