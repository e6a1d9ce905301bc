// Command fakeplugin is a kubectl exec credential plugin for tests of
// `ekstoken exec`. Its environment tells it what to do:
//
//	FAKE_RUNS     a file it appends one line to per run (counts runs)
//	FAKE_SLEEP    how long to sleep first (a Go duration)
//	FAKE_FAIL     an exit code to fail with, after a line on stderr
//	FAKE_API      the apiVersion to answer (default: what kubectl asked)
//	FAKE_EXPIRY   how long the credential lives ("none": no expirationTimestamp)
//	FAKE_CERT     answer a client certificate and key instead of a token
//	FAKE_OUTPUT   print this instead of an ExecCredential
//	FAKE_TOKEN_SIZE  pad the token to this many bytes
//	FAKE_DELEGATE run this program with fakeplugin's arguments and pass
//	              its output and exit code on (a counted real plugin)
//
// The token names the run and the value of FAKE_IDENTITY, so tests can
// see which run and which identity answered.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

func main() {
	run := 1
	if p := os.Getenv("FAKE_RUNS"); p != "" {
		f, err := os.OpenFile(p, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
		if err != nil {
			fail(3, err)
		}
		fmt.Fprintln(f, os.Getpid())
		_ = f.Close()
		if b, err := os.ReadFile(p); err == nil {
			run = 0
			for _, c := range b {
				if c == '\n' {
					run++
				}
			}
		}
	}
	// After the run is counted: a test sees a run that is under way.
	if d, err := time.ParseDuration(os.Getenv("FAKE_SLEEP")); err == nil {
		time.Sleep(d)
	}
	if c := os.Getenv("FAKE_FAIL"); c != "" {
		code, _ := strconv.Atoi(c)
		fmt.Fprintln(os.Stderr, "fakeplugin: failing on demand")
		// Something partial on stdout: it must not be cached or printed.
		fmt.Print(`{"kind":"ExecCredential","status":{"token":"partial"`)
		os.Exit(code)
	}
	if d := os.Getenv("FAKE_DELEGATE"); d != "" {
		cmd := exec.Command(d, os.Args[1:]...)
		cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				os.Exit(ee.ExitCode())
			}
			fail(4, err)
		}
		return
	}
	if out, ok := os.LookupEnv("FAKE_OUTPUT"); ok {
		fmt.Print(out)
		return
	}
	api := os.Getenv("FAKE_API")
	if api == "" {
		var info struct {
			APIVersion string `json:"apiVersion"`
		}
		_ = json.Unmarshal([]byte(os.Getenv("KUBERNETES_EXEC_INFO")), &info)
		api = info.APIVersion
	}
	if api == "" {
		api = "client.authentication.k8s.io/v1beta1"
	}
	status := map[string]any{}
	if os.Getenv("FAKE_CERT") != "" {
		status["clientCertificateData"] = "-----BEGIN CERTIFICATE-----\nrun " + strconv.Itoa(run) + "\n-----END CERTIFICATE-----\n"
		status["clientKeyData"] = "-----BEGIN PRIVATE KEY-----\nsecret\n-----END PRIVATE KEY-----\n"
	} else {
		tok := "fake-token-run" + strconv.Itoa(run) + "-" + os.Getenv("FAKE_IDENTITY")
		if n, err := strconv.Atoi(os.Getenv("FAKE_TOKEN_SIZE")); err == nil && n > len(tok) {
			tok += strings.Repeat("A", n-len(tok))
		}
		status["token"] = tok
	}
	switch e := os.Getenv("FAKE_EXPIRY"); e {
	case "none":
	default:
		d, err := time.ParseDuration(e)
		if err != nil {
			d = time.Hour
		}
		status["expirationTimestamp"] = time.Now().Add(d).UTC().Format(time.RFC3339)
	}
	b, _ := json.Marshal(map[string]any{"kind": "ExecCredential", "apiVersion": api, "spec": map[string]any{}, "status": status})
	fmt.Println(string(b))
	fmt.Fprintln(os.Stderr, "fakeplugin: answered run", run)
}

func fail(code int, err error) {
	fmt.Fprintln(os.Stderr, "fakeplugin:", err)
	os.Exit(code)
}
