// Command buildlambda builds the stream publisher's Lambda package
// reproducibly: a static linux/arm64 `bootstrap` for provided.al2023
// (-tags lambda.norpc, -trimpath, stripped, no build id, no VCS stamp),
// zipped with a fixed time and mode, so the same source gives the same
// bytes and the same sha256 (Lambda's CodeSha256 then changes only when
// the code does). `task build:lambda` runs it.
package main

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/salesplatform/libs/sales/atomicfile"
)

// Package is the Lambda's main package.
const Package = "github.com/salesplatform/functions/stream-publisher"

// zipTime is the fixed modification time of the zip entry (the zip
// format's own epoch is 1980; any fixed value works).
var zipTime = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

func main() {
	out := flag.String("out", "dist/stream-publisher.zip", "zip to write")
	pkg := flag.String("pkg", Package, "main package to build")
	flag.Parse()
	res, err := Build(context.Background(), *pkg, *out)
	if err != nil {
		fmt.Fprintln(os.Stderr, "buildlambda:", err)
		os.Exit(1)
	}
	fmt.Printf("%s sha256=%s zip_bytes=%d bootstrap_bytes=%d\n", *out, res.SHA256, res.ZipBytes, res.BinaryBytes)
}

// Result describes a built package.
type Result struct {
	SHA256      string
	ZipBytes    int64
	BinaryBytes int64
}

// Build compiles pkg for Lambda and writes the zip to out.
func Build(ctx context.Context, pkg, out string) (Result, error) {
	tmp, err := os.MkdirTemp("", "buildlambda-")
	if err != nil {
		return Result{}, err
	}
	defer func() { _ = os.RemoveAll(tmp) }()
	bin := filepath.Join(tmp, "bootstrap")
	cmd := exec.CommandContext(ctx, "go", "build",
		"-tags", "lambda.norpc",
		"-trimpath",
		"-buildvcs=false",
		"-ldflags", "-s -w -buildid=",
		"-o", bin, pkg)
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return Result{}, fmt.Errorf("go build %s: %w", pkg, err)
	}
	binary, err := os.ReadFile(bin)
	if err != nil {
		return Result{}, err
	}
	z, err := Zip(binary)
	if err != nil {
		return Result{}, err
	}
	// Atomically: a deployment or another build reading the package
	// meanwhile sees the old one or the new one, never half of one.
	if err := atomicfile.Write(out, z); err != nil {
		return Result{}, err
	}
	sum := sha256.Sum256(z)
	return Result{SHA256: hex.EncodeToString(sum[:]), ZipBytes: int64(len(z)), BinaryBytes: int64(len(binary))}, nil
}

// Zip packs binary as the single entry "bootstrap", executable, with a
// fixed time: the result depends on the binary's bytes only.
func Zip(binary []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	h := &zip.FileHeader{Name: "bootstrap", Method: zip.Deflate, Modified: zipTime}
	h.SetMode(0o755)
	w, err := zw.CreateHeader(h)
	if err != nil {
		return nil, err
	}
	if _, err := io.Copy(w, bytes.NewReader(binary)); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
