//go:build race

package httpio

const raceEnabled = true
