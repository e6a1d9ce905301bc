// Package debuglog builds ekstoken's debug logger: slog text on stderr when
// debugging is on, nothing otherwise. It never receives a token or a secret
// key; callers log key IDs, sources, reasons and timings only.
package debuglog

import (
	"io"
	"log/slog"

	"github.com/ekstoken/ekstoken/internal/debugenv"
)

// New returns a logger that writes to w when on, and discards otherwise.
func New(w io.Writer, on bool) *slog.Logger {
	if !on {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{
		Level: slog.LevelDebug,
		// Debug lines are read next to kubectl output: the time adds nothing.
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
}

// Enabled reports whether the environment asks for debug output:
// EKSTOKEN_DEBUG or EKS_TOKEN_DEBUG (the blog's script's) set to 1, true,
// yes or on. internal/fastpath asks the same internal/debugenv, which keeps
// log/slog off the hit path.
func Enabled(getenv func(string) string) bool { return debugenv.Enabled(getenv) }
