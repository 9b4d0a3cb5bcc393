package web

import (
	"slices"
	"testing"

	"github.com/switchboard-dev/switchboard/internal/store"
)

// The deliveries page filters by exactly the states the store has (and
// the API takes).
func TestDeliveryStatesAreTheStores(t *testing.T) {
	if !slices.Equal(deliveryStates, store.States) {
		t.Fatalf("deliveryStates = %q, want store.States %q", deliveryStates, store.States)
	}
}
