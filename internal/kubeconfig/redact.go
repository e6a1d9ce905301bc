package kubeconfig

import (
	"regexp"
	"strings"
)

// secretKey matches a line that sets a secret of a kubeconfig, in block or
// flow style: client keys, bearer tokens, passwords, and the OIDC
// auth-provider's tokens and client secret.
var secretKey = regexp.MustCompile(`((?:^|[\s{,"'-])"?(?:client-key-data|token|password|id-token|refresh-token|client-secret)"?\s*:\s*)("[^"]*"|'[^']*'|[^\s,}]+)`)

// secretEnvName matches the names of exec env entries that hold secrets.
var secretEnvName = regexp.MustCompile(`(?i)(secret|token|password|passwd|credential|private|_key\b|^key$)`)

// envValue matches the value of an env entry: `value: x`, in a flow
// mapping or on its own line.
var envValue = regexp.MustCompile(`((?:^|[\s{,"'-])"?value"?\s*:\s*)("[^"]*"|'[^']*'|[^\s,}]+)`)

// envName finds the name of an env entry on a line.
var envName = regexp.MustCompile(`"?name"?\s*:\s*"?([A-Za-z_][A-Za-z0-9_]*)`)

// secretFlag is a command-line flag of a wrapped plugin that takes a
// secret (kubelogin's --client-secret, --password, a --token...).
const secretFlag = `--?[A-Za-z0-9_-]*(?:secret|password|passwd|token)[A-Za-z0-9_-]*`

// secretFlagValue matches such a flag with its value in one argument
// (--password=x), and secretFlagNext one followed by its value as the
// next item of a flow list ([--password, x]).
var (
	secretFlagValue = regexp.MustCompile(`(?i)(` + secretFlag + `=)("[^"]*"|'[^']*'|[^\s,\]"']+)`)
	secretFlagNext  = regexp.MustCompile(`(?i)(` + secretFlag + `["']?\s*,\s*)("[^"]*"|'[^']*'|[^\s,\]]+)`)
	// secretFlagItem is a block list item that is such a flag alone: the
	// next item is its value.
	secretFlagItem = regexp.MustCompile(`(?i)^[-+ ]\s*-\s+["']?` + secretFlag + `["']?\s*(#.*)?$`)
	listItem       = regexp.MustCompile(`^([-+ ]\s*-\s+)(.*?)(\s+#.*)?$`)
)

// RedactedDiff is Diff with the secrets of the kubeconfig hidden, as
// `kubectl config view` hides them: a dry run's diff shows the users
// around the ones it rewrites, and it ends up in terminals and CI logs.
// Values of secret keys, of env entries whose name says secret, token,
// password or key, and of a wrapped plugin's flags that say secret, token
// or password (--client-secret x, --password=x) become REDACTED.
func RedactedDiff(name string, old, new []byte) string {
	lines := strings.SplitAfter(Diff(name, old, new), "\n")
	lastEnvName := ""
	flagBefore := false // the previous line was a secret flag's list item
	for i, l := range lines {
		if strings.HasPrefix(l, "@@") || strings.HasPrefix(l, "---") || strings.HasPrefix(l, "+++") {
			lastEnvName, flagBefore = "", false
			continue
		}
		body := strings.TrimRight(l, "\r\n")
		if flagBefore {
			if m := listItem.FindStringSubmatch(body); m != nil {
				l = m[1] + "REDACTED" + m[3] + l[len(body):]
			}
		}
		flagBefore = secretFlagItem.MatchString(body)
		l = secretFlagValue.ReplaceAllString(l, "${1}REDACTED")
		l = secretFlagNext.ReplaceAllString(l, "${1}REDACTED")
		l = secretKey.ReplaceAllString(l, "${1}REDACTED")
		// Flow mappings may hold several env entries on one line: each
		// segment up to a '}' is one entry.
		segs := strings.SplitAfter(l, "}")
		for j, seg := range segs {
			if m := envName.FindStringSubmatch(seg); m != nil {
				lastEnvName = m[1]
			}
			if lastEnvName != "" && secretEnvName.MatchString(lastEnvName) {
				seg = envValue.ReplaceAllString(seg, "${1}REDACTED")
			}
			if envValue.MatchString(seg) {
				lastEnvName = "" // a value closes its entry
			}
			segs[j] = seg
		}
		lines[i] = strings.Join(segs, "")
	}
	return strings.Join(lines, "")
}
