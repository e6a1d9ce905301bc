// Package moto starts moto_server, a local emulator of the AWS APIs, on
// 127.0.0.1 for tests, the benchmark and the demo: STS (AssumeRole and
// friends) and EKS (CreateCluster, DescribeCluster) calls go there instead
// of AWS. It runs moto_server on Unix only: Start says so elsewhere.
package moto

import "errors"

// ErrUnixOnly is Start's error where moto_server is not run: it is
// stopped through its process group, which only Unix has.
var ErrUnixOnly = errors.New("moto_server runs on Unix only")
