//go:build !unix

package main

// openFileLimit returns a generous limit where the system has none to ask.
func openFileLimit() int { return maxConcurrencyCap + reservedFiles }
