package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ekstoken/ekstoken/internal/devbin"
	"github.com/ekstoken/ekstoken/internal/moto"
	"github.com/ekstoken/ekstoken/internal/testenv/simday"
	"github.com/ekstoken/ekstoken/internal/tokencache"
)

// A simulated hour of kubectl calls, every 10 s as k9s or a watch makes
// them, against a fake-clock build of ekstoken (internal/testenv/simday):
// the latency kubectl sees with refresh-ahead at its default and off, for an assumed-role profile (STS is moto_server on 127.0.0.1, as it
// answers) and for a credential_process that takes a second (aws-vault,
// granted and 1Password take one to three).
const (
	simStep    = 10 * time.Second
	simHour    = time.Hour
	simSession = time.Hour
	slowProc   = time.Second
)

// simCase is one row of the table.
type simCase struct {
	login, ahead string
	sum          simday.Summary
	// worstLater is the slowest call after the first; resolutions counts
	// AssumeRole calls or process runs.
	worstLater  time.Duration
	resolutions int
	// starting is the median latency of the hits that started a
	// background refresh, 0 when none did.
	starting time.Duration
}

// simulatedHour runs the four cases and returns their rows.
func (b *bench) simulatedHour(motoURL string) ([]simCase, error) {
	// Built for this section only: no release has the fake-clock seam.
	bin, err := devbin.Build(filepath.Join(b.dir, "simday"), "-tags", "ekstoken_fakeclock")
	if err != nil {
		return nil, err
	}
	var rows []simCase
	for _, login := range []string{"assumed role", "credential_process"} {
		// "" is the default: the flag not given.
		for _, ahead := range []string{"", "0"} {
			fmt.Fprintf(os.Stderr, "bench: a simulated hour, %s, --refresh-ahead %s\n", login, aheadLabel(ahead))
			row, err := b.simulate(bin, motoURL, login, ahead)
			if err != nil {
				return nil, fmt.Errorf("simulated hour, %s, --refresh-ahead %s: %w", login, aheadLabel(ahead), err)
			}
			rows = append(rows, row)
		}
	}
	return rows, nil
}

// simulate runs one case in a home of its own.
func (b *bench) simulate(bin, motoURL, login, ahead string) (simCase, error) {
	row := simCase{login: login, ahead: ahead}
	home, err := os.MkdirTemp(b.dir, "simday-home-")
	if err != nil {
		return row, err
	}
	clock := simday.Clock{Path: filepath.Join(home, "fake-now")}
	// The simulated hour starts now: the SDK still reads the real clock
	// for its own checks, and never sees credentials from its past.
	start := time.Now().UTC().Truncate(time.Second)
	if err := clock.Set(start); err != nil {
		return row, err
	}
	config := filepath.Join(home, "config")
	env := []string{
		"HOME=" + home, "PATH=" + os.Getenv("PATH"), "AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE=" + config, "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "credentials"),
		"EKSTOKEN_CACHE_DIR=" + filepath.Join(home, "cache"),
	}
	var (
		tick        func(time.Time) error
		resolutions func() (int, error)
	)
	switch login {
	case "assumed role":
		sts, err := simday.StartSTS(motoURL, clock)
		if err != nil {
			return row, err
		}
		defer sts.Close()
		env = append(env, "AWS_ENDPOINT_URL_STS="+sts.URL)
		if err := os.WriteFile(config, []byte("[profile sim]\nrole_arn = arn:aws:iam::111122223333:role/bench-admin\nsource_profile = base\n\n"+
			"[profile base]\naws_access_key_id = "+akid+"\naws_secret_access_key = "+secret+"\n"), 0o600); err != nil {
			return row, err
		}
		resolutions = func() (int, error) { return sts.AssumeRoleCalls(), sts.Err() }
	default:
		p, err := simday.WriteProcess(home, slowProc, simSession)
		if err != nil {
			return row, err
		}
		if err := os.WriteFile(config, []byte("[profile sim]\ncredential_process = "+p.Command+"\n"), 0o600); err != nil {
			return row, err
		}
		tick, resolutions = p.Tick, p.Runs
	}
	args := []string{"token", "--cluster-name", cluster, "--region", region, "--profile", "sim"}
	if ahead != "" {
		args = append(args, "--refresh-ahead", ahead)
	}
	res, err := simday.Run(context.Background(), simday.Options{
		Bin:  bin,
		Args: args,
		Env:  env, CacheDir: filepath.Join(home, "cache"), Clock: clock,
		Start: start, Step: simStep, Duration: simHour, Tick: tick,
	})
	if err != nil {
		return row, err
	}
	if exp := res.Expired(); len(exp) > 0 {
		return row, fmt.Errorf("%d calls printed an expired token", len(exp))
	}
	row.sum = res.Summary()
	row.worstLater = simday.Percentile(res.Latencies(1), 100)
	var starting []time.Duration
	for _, c := range res.Calls {
		if c.Hit && c.Renewed {
			starting = append(starting, c.Latency)
		}
	}
	row.starting = simday.Percentile(starting, 50)
	row.resolutions, err = resolutions()
	return row, err
}

// runSimulatedHourOnly is the bench's -simulated-hour: this section alone.
func runSimulatedHourOnly(out io.Writer) error {
	dir, err := os.MkdirTemp("", "ekstoken-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	srv, err := moto.Start()
	if err != nil {
		return fmt.Errorf("moto_server: %w", err)
	}
	defer srv.Close()
	rows, err := (&bench{dir: dir}).simulatedHour(srv.URL)
	if err != nil {
		return err
	}
	reportSimulatedHour(out, rows)
	return nil
}

// reportSimulatedHour prints the rows as a Markdown table.
func reportSimulatedHour(w io.Writer, rows []simCase) {
	fmt.Fprintf(w, "\nA simulated hour, one call every %v (%d calls per row; credentials last %v):\n\n", simStep, int(simHour/simStep), simSession)
	fmt.Fprintln(w, "| credentials | --refresh-ahead | p50 | p99 | slowest after the first | foreground misses | background refreshes (median of the hits that started them) | AssumeRole calls / process runs |")
	fmt.Fprintln(w, "|---|---|---:|---:|---:|---:|---:|---:|")
	for _, r := range rows {
		login := r.login
		if login == "credential_process" {
			login = fmt.Sprintf("credential_process taking %v", slowProc)
		}
		refreshes := fmt.Sprint(r.sum.Renewals)
		if r.sum.Renewals > 0 {
			refreshes += " (" + ms(r.starting.Seconds()) + ")"
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %d | %s | %d |\n", login, aheadLabel(r.ahead),
			ms(r.sum.P50.Seconds()), ms(r.sum.P99.Seconds()), ms(r.worstLater.Seconds()), r.sum.Misses, refreshes, r.resolutions)
	}
}

// aheadLabel names a --refresh-ahead value, "" being the default.
func aheadLabel(ahead string) string {
	if ahead == "" {
		return strings.TrimSuffix(tokencache.DefaultRefreshAhead.String(), "0s") + " (default)"
	}
	return ahead
}
