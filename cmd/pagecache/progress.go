package main

import (
	"cmp"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// A progress bar is drawn on a terminal while files are touched, evicted or
// locked. Every method may be called on a nil *progress, which draws nothing.
type progress struct {
	out   io.Writer
	width int // of the terminal

	mu    sync.Mutex // guards the fields below and writes to the terminal
	total int64      // bytes to do
	done  int64      // bytes done
	name  string     // file being worked on
	drawn bool       // a bar is on the screen
	stop  chan struct{}
	wg    sync.WaitGroup
}

// Timing of the progress bar: nothing is drawn for work that ends sooner
// than progressDelay. Tests change them.
var (
	progressDelay  = 300 * time.Millisecond
	progressPeriod = 100 * time.Millisecond
)

// newProgress returns a progress bar for total bytes drawn on stderr, or nil
// if stderr is not a terminal.
func newProgress(stderr io.Writer, total int64) *progress {
	f, ok := stderr.(*os.File)
	if !ok || !isTerminal(f.Fd()) {
		return nil
	}
	p := &progress{out: f, width: cmp.Or(termWidth(f.Fd()), 80), total: total, stop: make(chan struct{})}
	p.wg.Go(p.loop)
	return p
}

func (p *progress) loop() {
	if progressDelay > 0 {
		select {
		case <-time.After(progressDelay):
		case <-p.stop:
			return
		}
	}
	t := time.NewTicker(progressPeriod)
	defer t.Stop()
	for {
		p.mu.Lock()
		p.draw()
		p.mu.Unlock()
		select {
		case <-t.C:
		case <-p.stop:
			return
		}
	}
}

// file says that work on name starts, and that its size changed by delta
// bytes since the total was taken.
func (p *progress) file(name string, delta int64) {
	if p == nil {
		return
	}
	p.mu.Lock()
	p.name, p.total = name, p.total+delta
	p.mu.Unlock()
}

// add counts n more bytes done.
func (p *progress) add(n int64) {
	if p == nil {
		return
	}
	p.mu.Lock()
	p.done += n
	p.mu.Unlock()
}

// draw draws the bar; p.mu is held.
func (p *progress) draw() {
	pct := 100.0
	if p.total > 0 {
		pct = min(100, float64(p.done)*100/float64(p.total))
	}
	nums := fmt.Sprintf(" %5.1f%% %s/%s ", pct, humanSize(p.done), humanSize(p.total))
	barLen := min(40, max(10, p.width/3))
	fill := int(pct / 100 * float64(barLen))
	bar := "[" + strings.Repeat("=", fill) + strings.Repeat(" ", barLen-fill) + "]"
	line := bar + nums
	if room := p.width - 1 - len(line); room > 3 {
		name := p.name
		if len(name) > room {
			name = "..." + name[len(name)-room+3:]
		}
		line += name
	}
	fmt.Fprintf(p.out, "\r%s\x1b[K", line)
	p.drawn = true
}

// clear erases the bar; p.mu is held.
func (p *progress) clear() {
	if p.drawn {
		fmt.Fprint(p.out, "\r\x1b[K")
		p.drawn = false
	}
}

// around runs fn, which writes to the terminal, with the bar erased; it is
// drawn again on the next tick.
func (p *progress) around(fn func()) {
	if p == nil {
		fn()
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clear()
	fn()
}

// finish stops drawing and erases the bar.
func (p *progress) finish() {
	if p == nil {
		return
	}
	close(p.stop)
	p.wg.Wait()
	p.mu.Lock()
	p.clear()
	p.mu.Unlock()
}
