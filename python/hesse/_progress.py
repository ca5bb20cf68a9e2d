"""The default progress display: one line on stderr, redrawn in place."""

import sys
import time


class Bar:
    """A progress callback: called with a dict per report (eigs: iteration, products,
    converged, wanted, values, residuals; density, trace: task, done, total, detail), draws
    `task [#####.....] converged/wanted, products, seconds` on stderr at most 10 times a second."""

    def __init__(self, task, stream=None, width=30):
        self.task, self.stream, self.width = task, stream or sys.stderr, width
        self.last = 0.0
        self.drawn = False
        self.pending = None

    def __call__(self, p):
        now = time.monotonic()
        self.pending = p
        if now - self.last < 0.1 and not p.get("finished"):
            return
        self.last = now
        self.pending = None
        if "wanted" in p:
            done, total = p["converged"], p["wanted"]
            text = "%d/%d converged, %d products" % (done, total, p["products"])
        else:
            done, total = p.get("done", 0), p.get("total", 0)
            text = p.get("detail") or ("%g/%g" % (done, total) if total > 0 else "%g" % done)
        fill = int(self.width * done / total) if total and total > 0 else 0
        fill = max(0, min(self.width, fill))
        bar = "#" * fill + "." * (self.width - fill)
        self.stream.write("\r%s [%s] %s, %.1fs\x1b[K" % (p.get("task", self.task), bar, text,
                                                        p.get("elapsed", 0.0)))
        self.stream.flush()
        self.drawn = True

    def close(self):
        if self.pending is not None:  # the last report came too soon after the one drawn
            self.last = 0.0
            self(self.pending)
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()
