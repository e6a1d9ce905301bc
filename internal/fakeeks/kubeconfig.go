package fakeeks

import (
	"encoding/base64"
	"encoding/json"
	"maps"
	"slices"
)

// User is a kubeconfig user of the fake cluster: either an exec credential
// plugin (Command) or a static bearer Token.
type User struct {
	Name            string
	Command         string
	Args            []string
	Env             map[string]string
	APIVersion      string // default client.authentication.k8s.io/v1beta1
	InteractiveMode string // default Never
	Token           string
}

// Kubeconfig returns a kubeconfig (JSON, which kubectl reads as YAML) with
// one context per user, named after the user, all against s. The first
// user's context is current.
func (s *Server) Kubeconfig(users ...User) []byte {
	type obj = map[string]any
	var contexts, authInfos []obj
	for _, u := range users {
		contexts = append(contexts, obj{"name": u.Name, "context": obj{"cluster": "fake-eks", "user": u.Name}})
		if u.Command == "" {
			authInfos = append(authInfos, obj{"name": u.Name, "user": obj{"token": u.Token}})
			continue
		}
		exec := obj{
			"apiVersion":      cmpOr(u.APIVersion, "client.authentication.k8s.io/v1beta1"),
			"command":         u.Command,
			"args":            append([]string{}, u.Args...),
			"interactiveMode": cmpOr(u.InteractiveMode, "Never"),
		}
		var env []obj
		for _, k := range slices.Sorted(maps.Keys(u.Env)) {
			env = append(env, obj{"name": k, "value": u.Env[k]})
		}
		if env != nil {
			exec["env"] = env
		}
		authInfos = append(authInfos, obj{"name": u.Name, "user": obj{"exec": exec}})
	}
	current := ""
	if len(users) > 0 {
		current = users[0].Name
	}
	b, _ := json.MarshalIndent(obj{
		"apiVersion": "v1", "kind": "Config", "current-context": current,
		"clusters": []obj{{"name": "fake-eks", "cluster": obj{
			"server":                     s.URL,
			"certificate-authority-data": base64.StdEncoding.EncodeToString(s.CAData),
		}}},
		"contexts": contexts,
		"users":    authInfos,
	}, "", "  ")
	return append(b, '\n')
}

func cmpOr(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
