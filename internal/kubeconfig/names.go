package kubeconfig

// Names lists the context and user names that kubeconfig src defines. A
// file that cannot be parsed gives a *ParseError naming the line.
func Names(src []byte) (contexts, users []string, err error) {
	d, err := parse(src)
	if err != nil {
		return nil, nil, err
	}
	if d.root == nil {
		return nil, nil, nil
	}
	return entryNames(d, "contexts"), entryNames(d, "users"), nil
}
