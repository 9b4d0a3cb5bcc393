package router

import (
	"github.com/switchboard-dev/switchboard/internal/fatigue"
	"github.com/switchboard-dev/switchboard/router/schedule"
)

// Facts says which steps of the fatigue order apply to a delivery with
// this policy (nil: none of the rule's); silenced reports whether a
// silence matches it. Ingest and the admin API's explanation both walk
// the order from these facts.
func (p *Policy) Facts(silenced bool) fatigue.Facts {
	if p == nil {
		return fatigue.Facts{Silenced: silenced}
	}
	return fatigue.Facts{
		Silenced:  silenced,
		QuietDrop: p.Quiet == schedule.Drop,
		Throttled: p.ThrottleEvery > 0,
		Grouped:   p.Grouped,
		QuietHold: p.Quiet == schedule.Hold,
	}
}
