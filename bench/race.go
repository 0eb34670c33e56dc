//go:build race

package main

// raceBuild reports whether this binary was built with the race detector.
const raceBuild = true
