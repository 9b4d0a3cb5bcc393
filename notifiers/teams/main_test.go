package teams_test

import (
	"testing"

	"github.com/switchboard-dev/switchboard/internal/testkit"
)

func TestMain(m *testing.M) { testkit.Main(m, nil) }
