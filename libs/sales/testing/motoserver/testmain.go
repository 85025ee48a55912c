package motoserver

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/salesplatform/libs/sales/awsconfig"
)

var (
	sharedOnce sync.Once
	shared     *Server
	sharedErr  error
)

// Main runs a test package's tests with one emulator shared by all of them
// (started on first use, stopped at the end). Use it as:
//
//	func TestMain(m *testing.M) { motoserver.Main(m) }
func Main(m *testing.M) {
	code := m.Run()
	if shared != nil {
		shared.Stop()
	}
	os.Exit(code)
}

// Shared returns the package's emulator, starting it on first use. Tests
// keep out of each other's way by naming their resources uniquely.
func Shared(t testing.TB) *Server {
	t.Helper()
	sharedOnce.Do(func() {
		shared, sharedErr = Start(context.Background(), Options{LogFile: os.Getenv("MOTO_LOG")})
	})
	if sharedErr != nil {
		t.Fatalf("emulator: %v", sharedErr)
	}
	return shared
}

// TestConfig is Config for tests: it fails the test on error.
func (s *Server) TestConfig(t testing.TB, region string, o awsconfig.Options) aws.Config {
	t.Helper()
	cfg, err := s.Config(context.Background(), region, o)
	if err != nil {
		t.Fatalf("aws config for %s: %v", region, err)
	}
	return cfg
}

// UniqueName returns a resource name unique to this test run.
func UniqueName(t testing.TB, prefix string) string {
	t.Helper()
	nameMu.Lock()
	defer nameMu.Unlock()
	nameSeq++
	return fmt.Sprintf("%s-%d-%d", prefix, os.Getpid(), nameSeq)
}

var (
	nameMu  sync.Mutex
	nameSeq int
)
