package render

import (
	"flag"
	"testing"

	"github.com/switchboard-dev/switchboard/internal/testkit"
)

var update = flag.Bool("update", false, "rewrite testdata/golden/*.golden")

func TestMain(m *testing.M) { testkit.Main(m, nil) }
