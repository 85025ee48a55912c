package main

import (
	"archive/zip"
	"bytes"
	"context"
	"debug/elf"
	"io"
	"path/filepath"
	"testing"
)

func TestZipDependsOnTheBinaryOnly(t *testing.T) {
	a, err := Zip([]byte("binary"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Zip([]byte("binary"))
	c, _ := Zip([]byte("other"))
	if !bytes.Equal(a, b) || bytes.Equal(a, c) {
		t.Fatal("zip is not a function of the binary")
	}
}

// TestBuildIsReproducible builds the Lambda twice and compares the zips
// byte for byte, then checks what Lambda needs from the package.
func TestBuildIsReproducible(t *testing.T) {
	if testing.Short() {
		t.Skip("cross-compiles the function twice")
	}
	ctx := context.Background()
	dir := t.TempDir()
	first, err := Build(ctx, Package, filepath.Join(dir, "one", "stream-publisher.zip"))
	if err != nil {
		t.Fatal(err)
	}
	second, err := Build(ctx, Package, filepath.Join(dir, "two", "stream-publisher.zip"))
	if err != nil {
		t.Fatal(err)
	}
	if first.SHA256 != second.SHA256 {
		t.Fatalf("two builds differ: %s vs %s", first.SHA256, second.SHA256)
	}
	t.Logf("zip %d bytes (%.2f MiB), bootstrap %d bytes, sha256 %s", first.ZipBytes, float64(first.ZipBytes)/(1<<20), first.BinaryBytes, first.SHA256)
	if first.ZipBytes >= 10<<20 {
		t.Errorf("zip is %d bytes, the goal is under 10 MiB", first.ZipBytes)
	}
	zr, err := zip.OpenReader(filepath.Join(dir, "one", "stream-publisher.zip"))
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	if len(zr.File) != 1 || zr.File[0].Name != "bootstrap" || zr.File[0].Mode().Perm() != 0o755 || !zr.File[0].Modified.Equal(zipTime) {
		t.Fatalf("zip entries: %+v", zr.File)
	}
	rc, _ := zr.File[0].Open()
	data, _ := io.ReadAll(rc)
	rc.Close()
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("bootstrap is not an ELF binary: %v", err)
	}
	if f.Machine != elf.EM_AARCH64 {
		t.Fatalf("bootstrap is for %v, want arm64", f.Machine)
	}
	if f.Section(".interp") != nil {
		t.Fatal("bootstrap is dynamically linked")
	}
	if f.Section(".symtab") != nil {
		t.Fatal("bootstrap is not stripped")
	}
}
