package router

// Match returns the names of the enabled rules whose condition matches m,
// in file order, without rendering anything (a condition that fails at run
// time does not match): for counting the messages no rule matches.
func (rs *Ruleset) Match(m *Message) []string {
	m.prepare()
	var out []string
	var buf [16]int
	for _, i := range rs.index.candidates(m.Data, buf[:0]) {
		r := rs.Rules[i]
		if r.cond != nil {
			if ok, err := r.cond.eval(m.Data); err != nil || !ok {
				continue
			}
		}
		out = append(out, r.Name)
	}
	return out
}
