package discover

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/ssocreds"
	"github.com/aws/aws-sdk-go-v2/service/sso"
	"github.com/ekstoken/ekstoken/internal/awsauth"
	"github.com/ekstoken/ekstoken/internal/tokencache"
)

// ssoSession is an [sso-session NAME] section of the AWS config.
type ssoSession struct{ name, region, startURL string }

// readSSOSession finds [sso-session name] in the config file.
func readSSOSession(path, name string) (ssoSession, error) {
	f, err := os.Open(filepath.Clean(path))
	if err != nil {
		return ssoSession{}, fmt.Errorf("--sso-session %s: %w", name, err)
	}
	defer f.Close()
	s := ssoSession{name: name}
	in, found := false, false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]") {
			sec := strings.Join(strings.Fields(line[1:len(line)-1]), " ")
			in = sec == "sso-session "+name
			found = found || in
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !in || !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "sso_region":
			s.region = strings.TrimSpace(v)
		case "sso_start_url":
			s.startURL = strings.TrimSpace(v)
		}
	}
	switch {
	case !found:
		return s, fmt.Errorf("--sso-session %s: no [sso-session %s] in %s; create it with aws configure sso-session", name, name, path)
	case s.region == "":
		return s, fmt.Errorf("--sso-session %s: no sso_region in [sso-session %s] of %s", name, name, path)
	}
	return s, nil
}

// ssoToken is the access token `aws sso login --sso-session NAME` cached.
func ssoToken(s ssoSession, now time.Time) (string, error) {
	path, err := ssocreds.StandardCachedTokenFilepath(s.name)
	if err != nil {
		return "", err
	}
	b, err := os.ReadFile(path)
	login := fmt.Sprintf("run `aws sso login --sso-session %s`", s.name)
	if err != nil {
		return "", fmt.Errorf("--sso-session %s: no login cached (%w): %s", s.name, err, login)
	}
	var t struct {
		AccessToken string    `json:"accessToken"`
		ExpiresAt   time.Time `json:"expiresAt"`
	}
	if err := json.Unmarshal(b, &t); err != nil || t.AccessToken == "" {
		return "", fmt.Errorf("--sso-session %s: the cached login %s does not hold an access token: %s", s.name, path, login)
	}
	if !t.ExpiresAt.After(now) {
		return "", fmt.Errorf("--sso-session %s: the login expired at %s: %s", s.name, t.ExpiresAt.Local().Format(time.DateTime), login)
	}
	return t.AccessToken, nil
}

// ssoIdentities are the account and role pairs the session can use
// (sso:ListAccounts, sso:ListAccountRoles), each with the profile of the
// config that names it, or the name `aws configure sso` would give it
// (ROLE-ACCOUNT) and no profile. Their credentials come from
// sso:GetRoleCredentials.
func (d *discoverer) ssoIdentities(ctx context.Context, name string) ([]identity, error) {
	s, err := readSSOSession(d.base.Config.Path, name)
	if err != nil {
		return nil, err
	}
	token, err := ssoToken(s, d.env.Now())
	if err != nil {
		return nil, err
	}
	client := sso.NewFromConfig(aws.Config{Region: s.region}, func(o *sso.Options) {
		if e := firstNonEmpty(d.env.Getenv("AWS_ENDPOINT_URL_SSO"), d.env.Getenv("AWS_ENDPOINT_URL")); e != "" {
			o.BaseEndpoint = aws.String(e)
		}
	})
	var accounts []string
	err = d.slot(ctx, func() error {
		p := sso.NewListAccountsPaginator(client, &sso.ListAccountsInput{AccessToken: &token})
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			if err != nil {
				return err
			}
			for _, a := range out.AccountList {
				accounts = append(accounts, aws.ToString(a.AccountId))
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("--sso-session %s: list accounts: %w", name, err)
	}
	profiles := d.ssoProfiles(ctx, name)
	var mu sync.Mutex
	var ids []identity
	var errs []error
	var wg sync.WaitGroup
	for _, acct := range accounts {
		wg.Go(func() {
			var roles []string
			err := d.slot(ctx, func() error {
				p := sso.NewListAccountRolesPaginator(client, &sso.ListAccountRolesInput{AccessToken: &token, AccountId: &acct})
				for p.HasMorePages() {
					out, err := p.NextPage(ctx)
					if err != nil {
						return err
					}
					for _, r := range out.RoleList {
						roles = append(roles, aws.ToString(r.RoleName))
					}
				}
				return nil
			})
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Errorf("account %s: list roles: %w", acct, err))
				return
			}
			for _, role := range roles {
				id := identity{label: role + "-" + acct, sso: &ssoRole{session: s, token: token, account: acct, role: role, client: client}}
				if p, ok := profiles[acct+"/"+role]; ok {
					id.profile, id.label = p, p
				}
				ids = append(ids, id)
			}
		})
	}
	wg.Wait()
	if len(ids) == 0 && len(errs) > 0 {
		return nil, fmt.Errorf("--sso-session %s: %w", name, errors.Join(errs...))
	}
	slices.SortFunc(ids, func(a, b identity) int { return strings.Compare(a.label, b.label) })
	return ids, nil
}

// ssoProfiles maps "ACCOUNT/ROLE" to the first profile (in name order)
// of the config that uses that role through session name.
func (d *discoverer) ssoProfiles(ctx context.Context, name string) map[string]string {
	out := map[string]string{}
	for _, p := range profileNames(d.base) {
		sc, err := config.LoadSharedConfigProfile(ctx, p, func(o *config.LoadSharedConfigOptions) {
			o.ConfigFiles, o.CredentialsFiles = []string{d.base.Config.Path}, []string{d.base.Credentials.Path}
		})
		if err != nil || sc.SSOSessionName != name || sc.SSOAccountID == "" || sc.SSORoleName == "" {
			continue
		}
		key := sc.SSOAccountID + "/" + sc.SSORoleName
		if _, ok := out[key]; !ok {
			out[key] = p
		}
	}
	return out
}

// ssoRole is an account and role of an SSO session.
type ssoRole struct {
	session       ssoSession
	token         string
	account, role string
	client        *sso.Client
}

// config is an AWS config with the role's credentials.
func (r *ssoRole) config(ctx context.Context) (aws.Config, error) {
	out, err := r.client.GetRoleCredentials(ctx, &sso.GetRoleCredentialsInput{AccessToken: &r.token, AccountId: &r.account, RoleName: &r.role})
	if err != nil {
		return aws.Config{}, fmt.Errorf("get credentials of role %s in account %s: %w", r.role, r.account, err)
	}
	c := out.RoleCredentials
	return aws.Config{Region: r.session.region, Credentials: credentials.NewStaticCredentialsProvider(
		aws.ToString(c.AccessKeyId), aws.ToString(c.SecretAccessKey), aws.ToString(c.SessionToken))}, nil
}

// profileBlock is what to add to the config for an SSO role without a
// profile, as `aws configure sso` writes it.
func profileBlock(id identity, region string) string {
	return fmt.Sprintf("[profile %s]\nsso_session = %s\nsso_account_id = %s\nsso_role_name = %s\nregion = %s\n",
		id.label, id.sso.session.name, id.sso.account, id.sso.role, region)
}

func profileNames(base tokencache.Identity) []string {
	return awsauth.Profiles(base.Config.Path, base.Credentials.Path)
}

// reportNoProfile lists the clusters found through SSO roles that no
// profile names, with the profile to add for each role: a kubeconfig
// user needs a profile to sign as.
func reportNoProfile(w io.Writer, fs []found) {
	if len(fs) == 0 {
		return
	}
	fmt.Fprintf(w, "%s found through roles no profile names, so not written; add these profiles to %s (as aws configure sso would) and run again:\n", count(len(fs), "cluster"), "the AWS config")
	seen := map[string]bool{}
	for _, f := range fs {
		fmt.Fprintf(w, "  %s in %s (account %s, role %s)\n", f.cluster.Name, f.region, f.id.sso.account, f.id.sso.role)
	}
	for _, f := range fs {
		if !seen[f.id.label] {
			seen[f.id.label] = true
			fmt.Fprint(w, "\n"+profileBlock(f.id, f.region))
		}
	}
}
