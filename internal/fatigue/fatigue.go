package fatigue

import "strings"

// Step is one stage of the fatigue order.
type Step uint8

// The steps, in the order they apply. Send ends the walk: nothing (more)
// holds the delivery back.
const (
	Send Step = iota
	Silence
	QuietDrop
	Throttle
	Group
	Hold
)

// order is the fatigue order, defined here and nowhere else.
var order = [...]Step{Silence, QuietDrop, Throttle, Group, Hold}

// String returns the step's name.
func (s Step) String() string {
	switch s {
	case Silence:
		return "silence"
	case QuietDrop:
		return "quiet drop"
	case Throttle:
		return "throttle"
	case Group:
		return "group"
	case Hold:
		return "hold"
	default:
		return "send"
	}
}

// Facts is what is known of one delivery before the order runs.
type Facts struct {
	Silenced  bool // an active silence mutes its rule
	QuietDrop bool // quiet hours cover it and drop
	Throttled bool // its rule throttles
	Grouped   bool // its rule groups
	QuietHold bool // quiet hours cover it and hold
}

// applies reports whether step s concerns a delivery with facts f.
func (f Facts) applies(s Step) bool {
	switch s {
	case Silence:
		return f.Silenced
	case QuietDrop:
		return f.QuietDrop
	case Throttle:
		return f.Throttled
	case Group:
		return f.Grouped
	case Hold:
		return f.QuietHold
	}
	return false
}

// First returns the first step that applies to f, or Send.
func First(f Facts) Step {
	return Next(f, Send)
}

// Next returns the first step after the step after that applies to f, or
// Send. A caller whose step let the delivery through (a throttle window
// that was not open) asks for the next one; Next(f, Send) is First(f).
func Next(f Facts, after Step) Step {
	i := 0
	if after != Send {
		for i < len(order) && order[i] != after {
			i++
		}
		i++
	}
	for ; i < len(order); i++ {
		if f.applies(order[i]) {
			return order[i]
		}
	}
	return Send
}

// heldBack are the starts of the reasons a delivery was not sent for.
var heldBack = []string{"silenced", "throttled", "quiet", "dropped", "suppressed", "collapsed"}

// ReasonText says, for people, why a delivery is in its state. A reason
// recorded when it was held back (silenced, throttled, …) no longer holds
// once it was replayed and sent: it is then said as what happened before.
func ReasonText(state, reason string) string {
	held := false
	for _, p := range heldBack {
		held = held || strings.HasPrefix(reason, p)
	}
	if !held {
		return reason
	}
	switch state {
	case "delivered", "dead":
		return "sent anyway on replay; before that: " + reason
	case "pending", "in_flight":
		return "queued again on replay; before that: " + reason
	}
	return reason
}
