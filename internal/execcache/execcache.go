// Package execcache keys, stores and replays the ExecCredentials of any
// kubectl exec credential plugin that `ekstoken exec` wraps. Like
// internal/tokencache it is on the cache-hit path (internal/fastpath), so it
// imports only light standard-library packages and this module's light
// ones: no strings, no encoding/json, no os/exec.
package execcache

import (
	"errors"
	"os"
	"runtime"
	"strconv"
	"time"

	"github.com/ekstoken/ekstoken/internal/entryfile"
	"github.com/ekstoken/ekstoken/internal/execcred"
	"github.com/ekstoken/ekstoken/internal/jsonlite"
	"github.com/ekstoken/ekstoken/internal/sha256lite"
	"github.com/ekstoken/ekstoken/internal/strlite"
	"github.com/ekstoken/ekstoken/internal/tokencache"
)

// EntryFormat marks the entries of wrapped plugins; anything else under an
// exec-* name is a miss.
const EntryFormat = "ekstoken/exec/v1"

// DefaultMargin is --refresh-margin's default for wrapped plugins: stop
// serving a credential this long before the plugin said it expires.
const DefaultMargin = time.Minute

// Request is what the command line of `ekstoken exec` says.
type Request struct {
	Command string   // as written in the kubeconfig
	Args    []string // the plugin's own arguments
	// KeyEnv are the --key-env names: more variables that shape the
	// identity, for plugins ekstoken has no list for.
	KeyEnv []string
	// TTL, when not zero, is how long a credential without
	// expirationTimestamp may be kept.
	TTL    time.Duration
	Margin time.Duration
}

// knownPlugins are the plugins with a built-in list of variables: see
// knownEnv.
var knownPlugins = []string{"gke-gcloud-auth-plugin", "gcloud", "kubelogin", "aws", "aws-iam-authenticator", "aws-vault", "granted", "assume"}

// knownEnv returns, for a plugin (the command's base name), the prefixes
// of the variables that can change who it authenticates as or which
// endpoint answers. Prefixes, not names: these tools read many variables
// and add more with each release, and an extra variable only splits the
// cache, while a missing one could serve one identity's credential to
// another. A switch, not a map, so that the hit path builds nothing at
// start-up.
func knownEnv(plugin string) ([]string, bool) {
	switch plugin {
	case "gke-gcloud-auth-plugin", "gcloud":
		// gcloud's properties can all be set as CLOUDSDK_SECTION_PROPERTY
		// (account, project, impersonation, the active configuration);
		// Google's auth libraries read GOOGLE_APPLICATION_CREDENTIALS.
		return []string{"CLOUDSDK_", "GOOGLE_"}, true
	case "kubelogin":
		// Azure kubelogin: the Azure SDK's AZURE_* (client, tenant,
		// federated token file, authority host), its AAD_* service
		// principal and login variables, KUBELOGIN_* settings.
		return []string{"AZURE_", "AAD_", "KUBELOGIN_", "ARM_"}, true
	case "aws", "aws-iam-authenticator":
		// Every AWS_* can choose keys, a profile, a role or an endpoint.
		return []string{"AWS_"}, true
	case "aws-vault":
		return []string{"AWS_"}, true // AWS_VAULT_* included
	case "granted", "assume":
		return []string{"AWS_", "GRANTED_"}, true
	}
	return nil, false
}

func allKnownPrefixes() []string {
	var all []string
	seen := map[string]bool{}
	for _, plugin := range knownPlugins {
		ps, _ := knownEnv(plugin)
		for _, p := range ps {
			if !seen[p] {
				seen[p] = true
				all = append(all, p)
			}
		}
	}
	return all
}

// KnownPlugins lists the plugins with a built-in variable list and their
// prefixes, for help and documentation.
func KnownPlugins() map[string][]string {
	m := map[string][]string{}
	for _, p := range knownPlugins {
		m[p], _ = knownEnv(p)
	}
	return m
}

// Identity is everything that can change what the wrapped plugin answers.
type Identity struct {
	// Path is the command resolved on PATH, as the miss path runs it.
	Path string
	Args []string
	// APIVersion and Cluster come from KUBERNETES_EXEC_INFO; Cluster is
	// its spec.cluster rewritten canonically ("" without one).
	APIVersion string
	Cluster    string
	// Env holds the identity-shaping variables, name to a digest of the
	// value: the entry holds no variable in clear.
	Env []envVar
}

type envVar struct{ Name, Digest string }

// NewIdentity gathers the key of r. environ is the whole environment as
// "NAME=value" strings (os.Environ), since the known lists are prefixes.
func NewIdentity(r Request, getenv func(string) string, environ []string) Identity {
	id := Identity{Path: LookPath(r.Command, getenv), Args: r.Args}
	info := execcred.ReadInfo(getenv)
	id.APIVersion = info.APIVersion
	if raw := getenv(execcred.EnvVar); raw != "" {
		if v, err := jsonlite.Parse([]byte(raw)); err == nil && v.Kind == jsonlite.Object {
			if spec, ok := v.Get("spec"); ok && spec.Kind == jsonlite.Object {
				if c, ok := spec.Get("cluster"); ok && c.Kind != jsonlite.Null {
					id.Cluster = string(canonical(nil, c))
				}
			}
		}
	}
	prefixes, known := knownEnv(baseName(id.Path))
	if !known {
		// A plugin without a list (a corporate wrapper, a shell script
		// around the aws CLI) may read any of them: keying by all of them
		// splits the cache more, but never shares it between identities.
		prefixes = allKnownPrefixes()
	}
	seen := map[string]bool{}
	add := func(name, value string) {
		if seen[name] {
			return
		}
		seen[name] = true
		id.Env = append(id.Env, envVar{name, digest(value)})
	}
	for _, kv := range environ {
		name, value, ok := strlite.Cut(kv, "=")
		if !ok || name == "" {
			continue
		}
		for _, p := range prefixes {
			if strlite.HasPrefix(name, p) {
				add(name, value)
				break
			}
		}
	}
	for _, name := range r.KeyEnv {
		add(name, getenv(name))
	}
	sortEnv(id.Env)
	return id
}

func sortEnv(e []envVar) {
	// Insertion sort: a few dozen variables, and package sort would pull
	// reflect onto the hit path.
	for i := 1; i < len(e); i++ {
		for j := i; j > 0 && e[j].Name < e[j-1].Name; j-- {
			e[j], e[j-1] = e[j-1], e[j]
		}
	}
}

// digest is what the key keeps of a variable's value. "unset" and "set to
// empty" differ: some tools read an empty variable as a choice.
func digest(v string) string {
	sum := sha256lite.Sum256([]byte("ekstoken exec env;" + v))
	return sha256lite.Hex(sum[:])
}

// Key is the identity as text, every field with its name and length so
// that no two identities give the same text.
func (id Identity) Key() string {
	var b []byte
	field := func(name, value string) { b = tokencache.AppendKeyField(b, name, value) }
	field("v", "1")
	field("path", id.Path)
	field("argc", strconv.Itoa(len(id.Args)))
	for _, a := range id.Args {
		field("arg", a)
	}
	field("apiVersion", id.APIVersion)
	field("cluster", id.Cluster)
	for _, e := range id.Env {
		field("env."+e.Name, e.Digest)
	}
	return string(b)
}

// Name is the cache entry name of the identity; only an index, as the key
// stored in the entry is compared on every hit.
func (id Identity) Name() string {
	sum := sha256lite.Sum256([]byte(id.Key()))
	return "exec-" + sha256lite.Hex(sum[:20])
}

// canonical writes v as JSON with members in their order: the cluster info
// kubectl passes is generated by client-go, so one kubeconfig gives one
// text, and white space no longer matters.
func canonical(b []byte, v jsonlite.Value) []byte {
	switch v.Kind {
	case jsonlite.Object:
		b = append(b, '{')
		for i, m := range v.Members {
			if i > 0 {
				b = append(b, ',')
			}
			b = jsonlite.AppendString(b, m.Key)
			b = append(b, ':')
			b = canonical(b, m.Value)
		}
		return append(b, '}')
	case jsonlite.Array:
		b = append(b, '[')
		for i, it := range v.Items {
			if i > 0 {
				b = append(b, ',')
			}
			b = canonical(b, it)
		}
		return append(b, ']')
	case jsonlite.String:
		return jsonlite.AppendString(b, v.Str)
	case jsonlite.Number:
		return append(b, v.Str...)
	case jsonlite.Bool:
		return strconv.AppendBool(b, v.Bool)
	}
	return append(b, "null"...)
}

// LookPath finds command as a shell would: a name with a separator is
// made absolute, else the first executable regular file of that name on
// PATH (with PATHEXT's extensions on Windows). An unresolved command keys
// as written; running it then fails on the miss path, uncached. It is
// written here, not taken from os/exec, to keep that package off the hit.
func LookPath(command string, getenv func(string) string) string {
	if command == "" {
		return ""
	}
	if hasSeparator(command) {
		if absolute(command) {
			return command
		}
		if wd, err := os.Getwd(); err == nil {
			return entryfile.Join(wd, command)
		}
		return command
	}
	exts := []string{""}
	if runtime.GOOS == "windows" {
		exts = []string{"", ".com", ".exe", ".bat", ".cmd"}
		if pe := getenv("PATHEXT"); pe != "" {
			exts = append([]string{""}, split(pe, ';')...)
		}
	}
	sep := byte(':')
	if runtime.GOOS == "windows" {
		sep = ';'
	}
	for _, dir := range split(getenv("PATH"), sep) {
		if !absolute(dir) {
			// A relative PATH entry ("", ".") finds a program in whatever
			// directory kubectl runs in; os/exec refuses to run those
			// (exec.ErrDot), and so must the key not resolve them.
			continue
		}
		for _, ext := range exts {
			p := entryfile.Join(dir, command+ext)
			if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && (runtime.GOOS == "windows" || st.Mode().Perm()&0o111 != 0) {
				return p
			}
		}
	}
	return command
}

func absolute(p string) bool {
	if runtime.GOOS == "windows" {
		return len(p) > 2 && p[1] == ':' && (p[2] == '\\' || p[2] == '/') || len(p) > 1 && p[0] == '\\' && p[1] == '\\'
	}
	return len(p) > 0 && p[0] == '/'
}

func hasSeparator(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '/' || (runtime.GOOS == "windows" && s[i] == '\\') {
			return true
		}
	}
	return false
}

func split(s string, sep byte) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == sep {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// baseName is the command's file name without directory or a Windows
// executable extension, to find its variable list.
func baseName(path string) string {
	i := len(path)
	for i > 0 && path[i-1] != '/' && !(runtime.GOOS == "windows" && path[i-1] == '\\') {
		i--
	}
	name := path[i:]
	if runtime.GOOS == "windows" {
		for _, ext := range []string{".exe", ".EXE", ".cmd", ".bat"} {
			if strlite.HasSuffix(name, ext) {
				return name[:len(name)-len(ext)]
			}
		}
	}
	return name
}

// Status is the part of an ExecCredential's status that is replayed.
// Token and ClientKeyData are secrets: they live only in 0600 entries.
type Status struct {
	Token                 string
	ClientCertificateData string
	ClientKeyData         string
	// Expiration is when the plugin said the credential ends, or the end
	// --ttl gave it; zero never caches.
	Expiration time.Time
	// Stored is when a cached status was stored; zero for a fresh one.
	Stored time.Time
}

// Entry is one cached credential of a wrapped plugin.
type Entry struct {
	Format string `json:"format"`
	// Key is Identity.Key of the request, compared byte for byte on a hit.
	Key                   string    `json:"key"`
	Command               string    `json:"command"`
	Token                 string    `json:"token,omitempty"`
	ClientCertificateData string    `json:"clientCertificateData,omitempty"`
	ClientKeyData         string    `json:"clientKeyData,omitempty"`
	Expires               time.Time `json:"expires"`
	// Stored is when the credential was cached: a credential stored in
	// the future means the clock moved back, and is not trusted.
	Stored time.Time `json:"stored"`
}

// Fits says whether the entry of st for id stays within what a cache read
// takes in (entryfile.MaxSize), with room for JSON's escapes: a few KiB of
// client certificate chain fit many times over.
func Fits(id Identity, st Status) bool {
	n := len(id.Key()) + len(id.Path) + len(st.Token) + len(st.ClientCertificateData) + len(st.ClientKeyData)
	// Every byte can take up to six when escaped (\u00XX); a credential is
	// base64 or PEM, which take one.
	return n*2+1024 < entryfile.MaxSize
}

// NewEntry makes the entry of st for id, stored at now.
func NewEntry(id Identity, st Status, now time.Time) Entry {
	return Entry{
		Format: EntryFormat, Key: id.Key(), Command: id.Path,
		Token: st.Token, ClientCertificateData: st.ClientCertificateData, ClientKeyData: st.ClientKeyData,
		Expires: st.Expiration.UTC(), Stored: now.UTC(),
	}
}

// ParseEntry decodes an entry as json.Unmarshal into Entry does for the
// entries ekstoken writes, without reflection.
func ParseEntry(b []byte) (Entry, error) {
	v, err := jsonlite.Parse(b)
	if err != nil {
		return Entry{}, err
	}
	if v.Kind != jsonlite.Object {
		return Entry{}, errors.New("cache entry is not a JSON object")
	}
	var e Entry
	for _, f := range []struct {
		key string
		to  *string
	}{
		{"format", &e.Format}, {"key", &e.Key}, {"command", &e.Command}, {"token", &e.Token},
		{"clientCertificateData", &e.ClientCertificateData}, {"clientKeyData", &e.ClientKeyData},
	} {
		m, ok := v.Get(f.key)
		switch {
		case !ok || m.Kind == jsonlite.Null:
		case m.Kind == jsonlite.String:
			*f.to = m.Str
		default:
			return Entry{}, errors.New("cache entry field " + f.key + " is not a string")
		}
	}
	for _, f := range []struct {
		key string
		to  *time.Time
	}{{"expires", &e.Expires}, {"stored", &e.Stored}} {
		m, ok := v.Get(f.key)
		if !ok || m.Kind != jsonlite.String {
			return Entry{}, errors.New("cache entry field " + f.key + " is missing")
		}
		t, err := time.Parse(time.RFC3339Nano, m.Str)
		if err != nil {
			return Entry{}, errors.New("cache entry field " + f.key + ": " + err.Error())
		}
		*f.to = t
	}
	return e, nil
}

// maxFutureSkew: see tokencache; an entry stored further in the future
// than this was written before the clock moved back.
const maxFutureSkew = time.Minute

// Lookup returns the cached status of id if it may be served at now:
// same key, stored not in the future, and now before its end less margin.
// Every problem is a miss, with its reason for the debug log.
func Lookup(r interface{ ReadBytes(string) ([]byte, error) }, id Identity, now time.Time, margin time.Duration) (Status, string, bool) {
	key := id.Key()
	b, err := r.ReadBytes(id.Name())
	if err != nil {
		if errors.Is(err, entryfile.ErrNotFound) {
			return Status{}, "no entry", false
		}
		return Status{}, err.Error(), false
	}
	e, err := ParseEntry(b)
	switch {
	case err != nil:
		return Status{}, "decode cache entry: " + err.Error(), false
	case e.Format != EntryFormat:
		return Status{}, "unknown entry format \"" + e.Format + "\"", false
	case e.Key != key:
		return Status{}, "entry belongs to another identity", false
	case e.Token == "" && (e.ClientCertificateData == "" || e.ClientKeyData == ""):
		return Status{}, "entry holds no credential", false
	case e.Stored.After(now.Add(maxFutureSkew)):
		return Status{}, "stored in the future: the clock moved back", false
	case !now.Before(e.Expires.Add(-margin)):
		return Status{}, "expired", false
	}
	return Status{Token: e.Token, ClientCertificateData: e.ClientCertificateData, ClientKeyData: e.ClientKeyData, Expiration: e.Expires, Stored: e.Stored}, "", true
}

// RefreshAhead is how long before the end of its served life (expiry less
// margin) a hit starts the background refresh of an entry stored at
// stored: ahead, but never more than half the life the entry was stored
// with, so that a short-lived credential is not refreshed on every hit.
func RefreshAhead(stored, expires time.Time, margin, ahead time.Duration) time.Duration {
	served := expires.Add(-margin)
	if half := served.Sub(stored) / 2; half < ahead {
		return max(half, 0)
	}
	return ahead
}

// Marshal is the ExecCredential that answers kubectl for apiVersion,
// built anew rather than replayed, so that it always carries the version
// kubectl asked for. The reported expiry is the stored one: kubectl runs
// the plugin again then, and ekstoken refreshes margin before it.
func Marshal(apiVersion string, st Status) []byte {
	b := make([]byte, 0, 160+len(st.Token)+len(st.ClientCertificateData)+len(st.ClientKeyData))
	b = append(b, `{"kind":"ExecCredential","apiVersion":`...)
	b = jsonlite.AppendString(b, apiVersion)
	b = append(b, `,"spec":{},"status":{`...)
	sep := ""
	put := func(name, value string) {
		if value == "" {
			return
		}
		b = append(b, sep...)
		b = jsonlite.AppendString(b, name)
		b = append(b, ':')
		b = jsonlite.AppendString(b, value)
		sep = ","
	}
	if !st.Expiration.IsZero() {
		put("expirationTimestamp", st.Expiration.UTC().Format(execcred.TimeFormat))
	}
	put("token", st.Token)
	put("clientCertificateData", st.ClientCertificateData)
	put("clientKeyData", st.ClientKeyData)
	return append(b, "}}\n"...)
}
