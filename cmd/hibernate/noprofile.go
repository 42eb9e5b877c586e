//go:build !cpuprofile

package main

// startProfile profiles nothing: see profile.go (-tags cpuprofile).
func startProfile([]string) func() { return func() {} }
