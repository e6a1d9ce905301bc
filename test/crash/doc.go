// Package crash kills ekstoken with SIGKILL at each system call of its write
// paths (the token cache, the credential cache and setup's kubeconfig
// rewrite) and checks what the next run finds. strace injects the signal on
// entry to the Nth call of one system call in one thread (its counters are
// per thread), so the call never runs; N grows until the command completes
// without being killed. strace follows every thread of ekstoken but lets go
// of the programs it runs (a credential_process) at their execve, so that
// their calls neither use up the counts nor take the kills. Each test names
// the write-path calls a kill must have landed on, so that a change in
// strace or in the write path cannot leave the loop killing elsewhere.
//
// After every kill:
//   - no entry in the cache is torn, and the next run prints a token that
//     the EKS-like server accepts: a complete entry, or a new signature;
//   - after `ekstoken clear` no file in the cache holds a token, a secret
//     key or a session token, once the killed writer's temp file is older
//     than cache.StaleAfter (a younger one may be a live writer's);
//   - the kubeconfig is the original or the complete rewrite, byte for
//     byte, and parses; `setup --undo` suggests copying no empty or broken
//     file, and the next setup and undo still work.
//
// The tests run on Linux, where strace is.
package crash
