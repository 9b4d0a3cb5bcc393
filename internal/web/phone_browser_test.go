package web_test

import (
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// At a phone's width (390×844) the pages fit: the page body does not
// scroll sideways (wide tables scroll inside their own box), and every
// navigation link is on screen and can be clicked.
func TestPhoneWidthInBrowser(t *testing.T) {
	ctx := browser(t)
	s := startServer(t)
	s.postWebhook(t, []byte(`{"webhook_type":"invoice.created","invoice":{"number":"INV-P1","total_amount_cents":500000,"currency":"EUR"}}`))
	if _, err := s.slack.WaitFor(1, 20*time.Second); err != nil {
		t.Fatal(err)
	}
	login(t, ctx, s)
	run(t, ctx, "a phone's screen", chromedp.EmulateViewport(390, 844))
	t.Cleanup(func() { _ = chromedp.Do(ctx, chromedp.EmulateViewport(1280, 800)) })

	pages := []struct{ path, h1, shot string }{
		{"/ui/rules", "Rules", "phone-rules"},
		{"/ui/rules/all-invoices/edit", "all-invoices", "phone-editor"},
		{"/ui/deliveries", "Deliveries", "phone-deliveries"},
		{"/ui/channels", "Channels", "phone-channels"},
	}
	for _, p := range pages {
		run(t, ctx, p.path, chromedp.Navigate(s.url+p.path), waitText("h1", p.h1))
		width, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
		if err != nil {
			t.Fatal(err)
		}
		if width > 390 {
			wide, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`[...document.querySelectorAll("main *, header *")].filter(e => e.getBoundingClientRect().right > 391).slice(0, 8).map(e => e.tagName + "#" + e.id + "." + e.className + " " + Math.round(e.getBoundingClientRect().right)).join("\n")`))
			t.Errorf("%s is %d px wide at 390 px; wider than the screen:\n%s", p.path, width, wide)
		}
		off, err := chromedp.Run(ctx, chromedp.Evaluate[string](`[...document.querySelectorAll("nav a")].filter(a => { const r = a.getBoundingClientRect();
			return r.width === 0 || r.left < 0 || r.right > 390 || r.top < 0 || document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2) !== a; }).map(a => a.textContent).join(", ")`))
		if err != nil || off != "" {
			t.Errorf("%s: nav links off screen or covered: %q (%v)", p.path, off, err)
		}
		if p.shot == "phone-deliveries" {
			screenshot(t, ctx, p.shot)
		}
	}
	// The builder's pickers: each on screen, the page still one screen wide.
	run(t, ctx, "build 5,000 EUR on a phone",
		chromedp.Navigate(s.url+"/ui/rules/new"),
		chromedp.WaitVisible(chromedp.CSS("#name")),
		setField("#type", "invoice.created"),
		setField(`select[name=cond_field]`, "invoice.total_amount_cents"),
		setField(`select[name=cond_op]`, ">="),
		setField(`input[name=cond_value]`, "5,000"),
		setField(`select[name=cond_currency]`, "EUR"),
		waitText("#built", `invoice.total_amount_cents >= 500000 && invoice.currency == "EUR"`),
	)
	off, err := chromedp.Run(ctx, chromedp.Evaluate[string](`["select[name=cond_field]", "select[name=cond_op]", "input[name=cond_value]",
		"select[name=cond_currency]", "#add-condition", "#type"].filter(sel => { const e = document.querySelector(sel); if (!e) return true;
		const r = e.getBoundingClientRect(); return r.width < 40 || r.left < 0 || r.right > 390; }).join(", ")`))
	if err != nil || off != "" {
		t.Errorf("builder pickers missing, cramped or off screen: %q (%v)", off, err)
	}
	if width, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`)); err != nil || width > 390 {
		t.Errorf("the builder is %d px wide at 390 px (%v)", width, err)
	}
	run(t, ctx, "scroll to the conditions", chromedp.ScrollIntoView(chromedp.CSS("#condition")))
	screenshot(t, ctx, "phone-builder")
	run(t, ctx, "the nav reaches Silences", chromedp.Click(chromedp.CSS(`nav a[href="/ui/silences"]`)), waitText("h1", "Silences"))
}
