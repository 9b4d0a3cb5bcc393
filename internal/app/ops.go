package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/switchboard-dev/switchboard/internal/secret"
	"github.com/switchboard-dev/switchboard/internal/store"
)

// StoreOptions locate the store.
type StoreOptions struct {
	DataDir     string
	DatabaseURL secret.URL
}

func openStore(ctx context.Context, o StoreOptions) (*store.Store, error) {
	st, err := store.Open(ctx, store.Options{DataDir: o.DataDir, DatabaseURL: o.DatabaseURL.Reveal()})
	if err != nil {
		return nil, fmt.Errorf("open store: %w", secretFree(err, o.DatabaseURL))
	}
	return st, nil
}

// DeliveriesOptions are the settings of `switchboard deliveries`.
type DeliveriesOptions struct {
	StoreOptions
	Status string
	Rule   string
	Limit  int
	JSON   bool
}

// Deliveries lists deliveries, newest first.
func Deliveries(ctx context.Context, o DeliveriesOptions, stdout io.Writer) error {
	if o.Status != "" && !store.ValidState(o.Status) {
		return fmt.Errorf("--status must be one of %s", strings.Join(store.States, ", "))
	}
	st, err := openStore(ctx, o.StoreOptions)
	if err != nil {
		return err
	}
	defer st.Close()
	list, err := st.List(ctx, store.Filter{Status: o.Status, Rule: o.Rule, Limit: o.Limit})
	if err != nil {
		return err
	}
	if o.JSON {
		for i := range list {
			// HTTP paths may carry a credential in their query and header
			// values are secret fields.
			if list[i].Parts.Path != "" {
				list[i].Parts.Path = secret.RedactURL("http://x" + list[i].Parts.Path)[len("http://x"):]
			}
			for k := range list[i].Parts.Headers {
				list[i].Parts.Headers[k] = secret.Redacted
			}
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(list)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tCREATED\tTYPE\tRULE\tCHANNEL\tSTATUS\tATTEMPTS\tLAST ERROR / REASON")
	for _, d := range list {
		note := d.LastError
		if note == "" {
			note = d.Reason
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", d.ID, d.CreatedAt.UTC().Format(time.RFC3339),
			d.WebhookType, d.Rule, d.Channel, d.State, d.Attempts, truncate(note, 80))
	}
	return tw.Flush()
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// ReplayOptions are the settings of `switchboard replay`.
type ReplayOptions struct {
	StoreOptions
	IDs     []string
	AllDead bool
}

// Replay requeues dead (or delivered) deliveries. A running server picks
// them up on its next poll.
func Replay(ctx context.Context, o ReplayOptions, stdout io.Writer) error {
	if o.AllDead == (len(o.IDs) > 0) {
		return fmt.Errorf("give delivery IDs or --all-dead")
	}
	st, err := openStore(ctx, o.StoreOptions)
	if err != nil {
		return err
	}
	defer st.Close()
	var n int
	if o.AllDead {
		n, err = st.ReplayDead(ctx)
	} else {
		n, err = st.Replay(ctx, o.IDs)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "requeued %d deliver%s\n", n, map[bool]string{true: "y", false: "ies"}[n == 1])
	if !o.AllDead && n < len(o.IDs) {
		return fmt.Errorf("%d of %d IDs were not found or not replayable", len(o.IDs)-n, len(o.IDs))
	}
	return nil
}
