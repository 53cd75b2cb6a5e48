//go:build !windows

package engine

// canonicalOSUser is the login name as given: on Unix it is what the kernel's uid maps to.
func canonicalOSUser(name string) string { return name }
