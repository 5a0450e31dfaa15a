package live

import (
	"io"
	"sync"
)

// Terminal is the one writer of a terminal that a progress Bar and log
// lines share: a line written while the bar is drawn first erases the
// bar's line, so that it starts on a clean line instead of inside the bar,
// and the bar is drawn again below it at its next redraw.
type Terminal struct {
	mu    sync.Mutex
	w     io.Writer
	drawn bool // the bar's line is on the screen, the cursor at its end
}

// NewTerminal returns a Terminal writing to w.
func NewTerminal(w io.Writer) *Terminal { return &Terminal{w: w} }

// Write writes p below the bar's line, erasing that line first.
func (t *Terminal) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.drawn {
		t.drawn = false
		if _, err := io.WriteString(t.w, eraseLine); err != nil {
			return 0, err
		}
	}
	return t.w.Write(p)
}

// draw writes line in place of the bar's line.
func (t *Terminal) draw(line string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	_, _ = io.WriteString(t.w, "\r"+line+"\x1b[K")
	t.drawn = true
}

// clear erases the bar's line.
func (t *Terminal) clear() {
	t.mu.Lock()
	defer t.mu.Unlock()
	_, _ = io.WriteString(t.w, eraseLine)
	t.drawn = false
}

// eraseLine moves to the start of the line and erases it.
const eraseLine = "\r\x1b[K"
