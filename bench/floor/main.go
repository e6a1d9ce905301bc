// Command floor is the benchmark's floor: the least a Go program can do for
// a cache hit, read one file and print it.
package main

import "os"

func main() {
	b, err := os.ReadFile(os.Args[1])
	if err != nil {
		os.Exit(1)
	}
	os.Stdout.Write(b)
}
