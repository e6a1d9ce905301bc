// Package simday drives a simulated stretch of kubectl use against the
// ekstoken binary without waiting for it: one `ekstoken token` call every
// step (10 s of a working day), with the binary's clock moved forward by a
// file rather than by sleeping. It records, for every call, how long it
// took on the wall clock and whether the cache answered it, and waits for
// any background refresh a call started before it moves the clock again.
//
// The binary must be built with the ekstoken_fakeclock tag
// (devbin.Build(dir, "-tags", "ekstoken_fakeclock")): only that build reads
// its time from the file named by EKSTOKEN_FAKE_NOW_FILE. A release build
// would read the real clock, and Run would report the tokens it serves as
// expired once the simulated time has moved past their end.
//
// It is for the tests and the benchmark only; the binary never imports it.
package simday

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/gofrs/flock"

	"github.com/ekstoken/ekstoken/internal/clock"
)

// ClockEnv names the fake clock's file for a binary built with the
// ekstoken_fakeclock tag.
const ClockEnv = clock.FileEnv

// Clock is the fake clock's file: the time in it, RFC 3339 with
// nanoseconds, is "now" for the binary and for every process it starts.
type Clock struct{ Path string }

// Set makes t the time. The file is replaced by rename, so that a process
// reading it at that moment sees the old time or the new one, whole.
func (c Clock) Set(t time.Time) error {
	f, err := os.CreateTemp(filepath.Dir(c.Path), "."+filepath.Base(c.Path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("set the fake clock: %w", err)
	}
	defer os.Remove(f.Name())
	_, err = f.WriteString(t.UTC().Format(time.RFC3339Nano))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), c.Path)
	}
	if err != nil {
		return fmt.Errorf("set the fake clock: %w", err)
	}
	return nil
}

// Now reads the time from the file.
func (c Clock) Now() (time.Time, error) {
	b, err := os.ReadFile(c.Path)
	if err != nil {
		return time.Time{}, fmt.Errorf("read the fake clock: %w", err)
	}
	t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(string(b)))
	if err != nil {
		return time.Time{}, fmt.Errorf("read the fake clock %s: %w", c.Path, err)
	}
	return t, nil
}

// Options say what to run and for how long.
type Options struct {
	// Bin is the ekstoken binary, built with the ekstoken_fakeclock tag.
	Bin string
	// Args are its arguments: one `token` command for one identity.
	Args []string
	// Env is the whole environment of every call; Run adds ClockEnv.
	Env []string
	// CacheDir is where the binary keeps its tokens (the one named by Env
	// or Args). It must serve this one identity: Run follows its only
	// token entry.
	CacheDir string
	// Clock is the fake clock's file, named to the binary by ClockEnv.
	Clock Clock
	// Start is the simulated time of the first call; calls follow every
	// Step while they are before Start+Duration.
	Start          time.Time
	Step, Duration time.Duration
	// Tick, when set, runs after the clock has moved and before each call,
	// for fakes that follow the clock (a credential_process's expiry).
	Tick func(now time.Time) error
	// CallTimeout bounds one call (default one minute); Settle bounds the
	// wait for the background refreshes a call started (default one
	// minute). Either running out is an error: something hangs.
	CallTimeout, Settle time.Duration
}

// Call is what one call did.
type Call struct {
	// At is the simulated time of the call.
	At time.Time
	// Latency is the call's wall-clock time, from starting the process to
	// its exit: what kubectl waits for.
	Latency time.Duration
	// Hit says the call printed the token the cache held before it ran:
	// the cache answered. Any other call is a foreground miss.
	Hit bool
	// Expires is the expirationTimestamp the call printed.
	Expires time.Time
	// Renewed says the cache held another token than the one printed once
	// the call and the background refresh it started were over: a
	// background refresh wrote a new one.
	Renewed bool
	// Settle is how long the background refreshes the call started ran on
	// after it returned, as far as Run waited for them.
	Settle time.Duration
}

// Result is every call of a run, in order.
type Result struct {
	Calls []Call
}

// Run makes the calls o describes. It stops at the first call that fails,
// prints no ExecCredential, or leaves a background refresh running beyond
// o.Settle, and returns the calls made so far with the error.
func Run(ctx context.Context, o Options) (Result, error) {
	var res Result
	if o.Step <= 0 || o.Duration <= 0 {
		return res, errors.New("simday: Step and Duration must be positive")
	}
	o.CallTimeout = cmpOr(o.CallTimeout, time.Minute)
	o.Settle = cmpOr(o.Settle, time.Minute)
	env := append(slices.DeleteFunc(slices.Clone(o.Env), func(kv string) bool {
		return strings.HasPrefix(kv, ClockEnv+"=")
	}), ClockEnv+"="+o.Clock.Path)

	// The call's streams are files, not pipes: a background refresh that
	// kept one open could not hold up the call's end, and no goroutine
	// copies them while the call is timed.
	stdout, err := os.CreateTemp("", "simday-stdout-")
	if err != nil {
		return res, err
	}
	defer os.Remove(stdout.Name())
	defer stdout.Close()
	stderr, err := os.CreateTemp("", "simday-stderr-")
	if err != nil {
		return res, err
	}
	defer os.Remove(stderr.Name())
	defer stderr.Close()

	for at := o.Start; at.Before(o.Start.Add(o.Duration)); at = at.Add(o.Step) {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		if err := o.Clock.Set(at); err != nil {
			return res, err
		}
		if o.Tick != nil {
			if err := o.Tick(at); err != nil {
				return res, fmt.Errorf("at %s: %w", at.Format(time.RFC3339), err)
			}
		}
		before, err := cachedToken(o.CacheDir)
		if err != nil {
			return res, err
		}
		c := Call{At: at}
		printed, err := call(ctx, o, env, stdout, stderr, &c)
		if err != nil {
			return res, fmt.Errorf("call %d at %s: %w", len(res.Calls), at.Format(time.RFC3339), err)
		}
		c.Hit = before != "" && printed == before
		settleStart := time.Now()
		if err := settle(ctx, o.CacheDir, o.Settle); err != nil {
			return res, fmt.Errorf("after call %d at %s: %w", len(res.Calls), at.Format(time.RFC3339), err)
		}
		c.Settle = time.Since(settleStart)
		after, err := cachedToken(o.CacheDir)
		if err != nil {
			return res, err
		}
		c.Renewed = after != "" && after != printed
		res.Calls = append(res.Calls, c)
	}
	return res, nil
}

// call runs the binary once and returns the token it printed.
func call(ctx context.Context, o Options, env []string, stdout, stderr *os.File, c *Call) (string, error) {
	for _, f := range []*os.File{stdout, stderr} {
		if err := f.Truncate(0); err != nil {
			return "", err
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return "", err
		}
	}
	ctx, cancel := context.WithTimeout(ctx, o.CallTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, o.Bin, o.Args...)
	cmd.Env, cmd.Stdout, cmd.Stderr = env, stdout, stderr
	start := time.Now()
	err := cmd.Run()
	c.Latency = time.Since(start)
	out, _ := os.ReadFile(stdout.Name())
	if err != nil {
		errOut, _ := os.ReadFile(stderr.Name())
		return "", fmt.Errorf("%s: %w\nstderr: %s", filepath.Base(o.Bin), err, errOut)
	}
	var ec struct {
		Status struct {
			Token               string    `json:"token"`
			ExpirationTimestamp time.Time `json:"expirationTimestamp"`
		} `json:"status"`
	}
	if err := json.Unmarshal(out, &ec); err != nil {
		return "", fmt.Errorf("no ExecCredential on stdout: %w: %q", err, out)
	}
	if ec.Status.Token == "" {
		return "", fmt.Errorf("no ExecCredential on stdout: no token in %q", out)
	}
	c.Expires = ec.Status.ExpirationTimestamp
	return ec.Status.Token, nil
}

// cachedToken is the token of the cache directory's one token entry, ""
// when there is none yet.
func cachedToken(dir string) (string, error) {
	entries, err := filepath.Glob(filepath.Join(dir, "token-*.json"))
	if err != nil {
		return "", err
	}
	switch len(entries) {
	case 0:
		return "", nil
	case 1:
	default:
		return "", fmt.Errorf("%s holds %d token entries; simday follows one identity per cache directory", dir, len(entries))
	}
	b, err := os.ReadFile(entries[0])
	if err != nil {
		return "", err
	}
	var e struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(b, &e); err != nil {
		return "", fmt.Errorf("token entry %s: %w", entries[0], err)
	}
	return e.Token, nil
}

// settle waits until no process holds a lock of the cache directory: a
// background refresh holds its identity's lock from before the hit that
// started it exits until it is done.
func settle(ctx context.Context, dir string, limit time.Duration) error {
	locks, err := filepath.Glob(filepath.Join(dir, "*.lock"))
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	for _, path := range locks {
		// Opened as it is, never created: the harness adds no file of its
		// own to the cache directory.
		fl := flock.New(path, flock.SetFlag(os.O_RDWR))
		ok, err := fl.TryLockContext(ctx, 2*time.Millisecond)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil || !ok {
			_ = fl.Close()
			if err == nil {
				err = ctx.Err()
			}
			return fmt.Errorf("%s still locked after %v, a background refresh did not end: %w", filepath.Base(path), limit, err)
		}
		_ = fl.Unlock()
		_ = fl.Close()
	}
	return nil
}

func cmpOr[T comparable](a, b T) T {
	var zero T
	if a != zero {
		return a
	}
	return b
}

// Misses are the indexes of the foreground misses: the calls the cache
// did not answer.
func (r Result) Misses() []int {
	var out []int
	for i, c := range r.Calls {
		if !c.Hit {
			out = append(out, i)
		}
	}
	return out
}

// Renewals is how many calls were followed by a background refresh that
// wrote a new token.
func (r Result) Renewals() int {
	n := 0
	for _, c := range r.Calls {
		if c.Renewed {
			n++
		}
	}
	return n
}

// Expired are the indexes of the calls that printed a token whose
// expirationTimestamp was not after their simulated time: kubectl would
// have been handed a dead token.
func (r Result) Expired() []int {
	var out []int
	for i, c := range r.Calls {
		if !c.Expires.After(c.At) {
			out = append(out, i)
		}
	}
	return out
}

// Latencies are the calls' latencies from index from on, in call order.
func (r Result) Latencies(from int) []time.Duration {
	var out []time.Duration
	for _, c := range r.Calls[min(from, len(r.Calls)):] {
		out = append(out, c.Latency)
	}
	return out
}

// Percentile is the nearest-rank p-th percentile (0 < p ≤ 100) of ds: the
// smallest value that at least p% of them do not exceed. It is 0 for no
// values.
func Percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := int(math.Ceil(p / 100 * float64(len(s))))
	return s[min(max(rank, 1), len(s))-1]
}

// Summary is what a run amounts to.
type Summary struct {
	Calls, Misses, Renewals int
	P50, P99, Max           time.Duration
}

// Summary sums the run up over every call, the first included.
func (r Result) Summary() Summary {
	l := r.Latencies(0)
	return Summary{
		Calls: len(r.Calls), Misses: len(r.Misses()), Renewals: r.Renewals(),
		P50: Percentile(l, 50), P99: Percentile(l, 99), Max: Percentile(l, 100),
	}
}
