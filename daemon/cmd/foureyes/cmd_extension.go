package main

// isNativeHostInvocation reports whether the browser started us as a native-messaging host.
func isNativeHostInvocation(args []string) bool { return false }

func cmdExtension(e *env, args []string) int  { return exitUsage }
func cmdNativeHost(e *env, args []string) int { return exitUsage }
