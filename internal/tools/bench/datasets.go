package bench

import "github.com/clinicaldata/projectsvc/internal/testing/dataset"

// LargeRecords is the bench's main data set: 10,000 trials of 5 to 60
// sites and 50 to 500 reports each.
var LargeRecords = dataset.Spec{
	Seed:               20240917,
	Projects:           10_000,
	Institutions:       2_000,
	MinSites:           5,
	MaxSites:           60,
	MinReports:         50,
	MaxReports:         500,
	SummaryNullPercent: 8,
}

// SmallRecords is the data set of issue 11's measurement: every trial has
// 10 sites and 30 reports.
var SmallRecords = dataset.Spec{
	Seed:               20240918,
	Projects:           10_000,
	Institutions:       2_000,
	MinSites:           10,
	MaxSites:           10,
	MinReports:         30,
	MaxReports:         30,
	SummaryNullPercent: 8,
}
