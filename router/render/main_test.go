package render

import (
	"flag"
	"testing"

	"go.uber.org/goleak"
)

var update = flag.Bool("update", false, "rewrite testdata/golden/*.golden")

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
