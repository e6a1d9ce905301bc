package discover

import (
	"slices"

	"github.com/ekstoken/ekstoken/internal/kubeconfig"
)

// answered is the set of markers (profile and region) of the places that
// answered this time: only there can a cluster be known to be gone. A
// region that refused, or where one cluster could not be described, prunes
// nothing.
func answered(looked []place, refused []refusal) map[string]bool {
	bad := map[place]bool{}
	for _, r := range refused {
		bad[place{r.who, r.where}] = true
	}
	ok := map[string]bool{}
	for _, p := range looked {
		if p.region != "" && !bad[p] && !bad[place{p.profile, ""}] {
			ok[placeKey(p.profile, p.region)] = true
		}
	}
	return ok
}

// prune takes out of kubeconfig src the contexts that discovery wrote (a
// user carrying MarkerEnv, and a context of the same name using it) for a
// place that answered, whose cluster was not found this time (not in
// keep, by marker: a cluster found again under another name is not
// gone), with their users, and their clusters when no context is left
// that uses them. A discovered user that a context of another name also
// uses is left, with its contexts: a person made that context.
func prune(src []byte, keep, places map[string]bool) ([]byte, []string, error) {
	contexts, users, err := kubeconfig.Refs(src)
	if err != nil {
		return nil, nil, err
	}
	gone := map[string]bool{}
	for _, u := range users {
		for _, e := range u.Env {
			if e.Name == MarkerEnv && places[markerPlace(e.Value)] && !keep[e.Value] {
				gone[u.Name] = true
			}
		}
	}
	for _, c := range contexts {
		if gone[c.User] && c.Name != c.User {
			delete(gone, c.User)
		}
	}
	rm := map[string][]string{}
	var names []string
	for _, c := range contexts {
		if gone[c.User] && c.Name == c.User {
			rm["contexts"] = append(rm["contexts"], c.Name)
			names = append(names, c.Name)
		}
	}
	for u := range gone {
		rm["users"] = append(rm["users"], u)
	}
	for _, c := range contexts {
		if !gone[c.User] || c.Name != c.User {
			continue
		}
		used := slices.ContainsFunc(contexts, func(o kubeconfig.ContextRef) bool {
			return o.Cluster == c.Cluster && !(gone[o.User] && o.Name == o.User)
		})
		if !used && !slices.Contains(rm["clusters"], c.Cluster) {
			rm["clusters"] = append(rm["clusters"], c.Cluster)
		}
	}
	if len(gone) == 0 {
		return src, nil, nil
	}
	out, err := kubeconfig.Remove(src, rm)
	if err != nil {
		return nil, nil, err
	}
	slices.Sort(names)
	return out, names, nil
}

// notOurs are the names of the contexts and users of kubeconfig src that
// discover did not write: a user without MarkerEnv, or a context that
// uses another user than its namesake. discover writes a context and a
// user of one name, so it must not take either over.
func notOurs(src []byte) (map[string]bool, error) {
	contextUsers, users, err := kubeconfig.Names(src)
	if err != nil {
		return nil, err
	}
	_, execUsers, err := kubeconfig.Refs(src)
	if err != nil {
		return nil, err
	}
	marked := map[string]bool{}
	for _, u := range execUsers {
		for _, e := range u.Env {
			if e.Name == MarkerEnv {
				marked[u.Name] = true
			}
		}
	}
	taken := map[string]bool{}
	for _, u := range users {
		if !marked[u] {
			taken[u] = true
		}
	}
	for c, u := range contextUsers {
		if c != u || !marked[u] {
			taken[c] = true
		}
	}
	return taken, nil
}
