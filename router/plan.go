package router

import "fmt"

// Planned is a delivery decided without its content: which rule sends to
// which channel, under which policy and conversation. Render adds the
// content. It lets a backtest render only the notifications whose
// content its report shows.
type Planned struct {
	Outgoing
	target   *target
	rendered bool
}

// Plan routes m as Preview does but renders no content: each delivery's
// Policy and Conversation are set, and Err when the policy's or the
// conversation's key fails. It appends the deliveries to out and returns
// them with how many rules matched and how many conditions failed at run
// time.
func (rs *Ruleset) Plan(m *Message, out []Planned) (ds []Planned, matched, errs int) {
	m.prepare()
	var buf [16]int
	for _, i := range rs.index.candidates(m.Data, buf[:0]) {
		r := rs.Rules[i]
		if r.cond != nil {
			ok, err := r.cond.eval(m.Data)
			if err != nil {
				errs++
				continue
			}
			if !ok {
				continue
			}
		}
		matched++
		for _, t := range r.targets {
			p := Planned{target: t}
			p.MessageID, p.Rule, p.Channel = m.ID, r.Name, t.channel.Name
			p.Kind, p.Content = t.channel.Kind, t.content
			policy, err := rs.policy(r, t, m.Data, m.Body, m.ReceivedAt)
			if err != nil {
				p.Err, p.rendered = fmt.Errorf("%s", rs.Scrub(err.Error())), true
			} else {
				p.Policy = policy
				rs.attachConversation(r, t, m, &p.Outgoing)
			}
			out = append(out, p)
		}
	}
	return out, matched, errs
}

// Render renders p's content for m (the message it was planned for, with
// at least the data ContentReads names) as Preview does, once: a rendering failure sets Err and clears the policy
// and conversation, as routing does.
func (rs *Ruleset) Render(p *Planned, m *Message) {
	if p.rendered {
		return
	}
	p.rendered = true
	m.prepare()
	parts, err := p.target.render(m.Data, m.Body)
	if err != nil {
		p.Err = fmt.Errorf("%s", rs.Scrub(err.Error()))
		p.Policy, p.Conversation = nil, nil
		return
	}
	p.Parts = parts
}
