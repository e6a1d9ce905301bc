package cachestatus

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/ekstoken/ekstoken/internal/cache"
	"github.com/ekstoken/ekstoken/internal/execcache"
)

// Wrapped plugins' entries are listed with their command and expiry,
// never their secrets, and removed by a clear without filter only.
func TestExecEntriesListedAndCleared(t *testing.T) {
	now := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	s := cache.Store{Dir: t.TempDir()}
	getenv := func(string) string { return "" }
	for i, st := range []execcache.Status{
		{Token: "secret-token", Expiration: now.Add(time.Hour)},
		{ClientCertificateData: "cert-data", ClientKeyData: "secret-key", Expiration: now.Add(2 * time.Hour)},
	} {
		id := execcache.NewIdentity(execcache.Request{Command: "/opt/bin/plugin", Args: []string{strings.Repeat("x", i)}}, getenv, nil)
		if err := s.Write(id.Name(), execcache.NewEntry(id, st, now)); err != nil {
			t.Fatal(err)
		}
	}
	items, err := List(s, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 2 {
		t.Fatalf("listed %d items, want 2: %+v", len(items), items)
	}
	for _, it := range items {
		if it.Kind != KindExec || it.Command != "/opt/bin/plugin" || it.Expires.IsZero() {
			t.Errorf("item %+v", it)
		}
	}
	var table bytes.Buffer
	if err := WriteTable(&table, items, now); err != nil {
		t.Fatal(err)
	}
	js, _ := json.Marshal(items)
	for _, out := range []string{table.String(), string(js)} {
		for _, secret := range []string{"secret-token", "cert-data", "secret-key"} {
			if strings.Contains(out, secret) {
				t.Errorf("status shows %q:\n%s", secret, out)
			}
		}
		if !strings.Contains(out, "/opt/bin/plugin") {
			t.Errorf("status does not name the plugin:\n%s", out)
		}
	}
	if c, err := Clear(s, Filter{Profile: "p"}, now); err != nil || c.Removed != 0 {
		t.Errorf("clear --profile p removed %d exec entries (%v)", c.Removed, err)
	}
	if c, err := Clear(s, Filter{}, now); err != nil || c.Removed != 2 {
		t.Errorf("clear removed %d exec entries (%v), want 2", c.Removed, err)
	}
}
