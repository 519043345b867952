package oidctest

import "time"

const fiveMinutes = 5 * time.Minute

var timeNow = time.Now
