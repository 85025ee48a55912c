package main

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// staticArm64 cross-compiles a tiny program for linux/arm64 without cgo:
// what `task build:images` does for the services, at a fraction of the
// cost.
func staticArm64(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module probe\n\ngo 1.26\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	src := "package main\n\nimport \"os\"\n\nfunc main() { os.Stdout.WriteString(\"ok\\n\") }\n"
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "sales-test")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", out, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm64", "GOWORK=off", "GOFLAGS=")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cross-compile: %v\n%s", err, b)
	}
	return out
}

func TestImage(t *testing.T) {
	bin := staticArm64(t)
	work := t.TempDir()
	extra := filepath.Join(work, "probe")
	if err := os.WriteFile(extra, []byte("#!probe"), 0o755); err != nil {
		t.Fatal(err)
	}
	ca := filepath.Join(work, "ca.pem")
	if err := os.WriteFile(ca, []byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	layoutDir := filepath.Join(work, "layout")
	tarPath := filepath.Join(work, "image.tar")
	args := []string{
		"-name", "sales-test", "-binary", bin, "-layout", layoutDir, "-tarball", tarPath,
		"-file", "/healthprobe=" + extra, "-ca-certs", ca, "-port", "8081",
		"-label", "org.opencontainers.image.revision=abc123", "-created", "1700000000",
	}
	if err := run(args); err != nil {
		t.Fatal(err)
	}

	idx, err := layout.ImageIndexFromPath(layoutDir)
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 1 || im.Manifests[0].Annotations["org.opencontainers.image.ref.name"] != "sales-test:abc123" {
		t.Fatalf("layout index = %+v", im.Manifests)
	}
	img, err := idx.Image(im.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}

	t.Run("config", func(t *testing.T) {
		c := cf.Config
		checks := []struct {
			what, got, want string
		}{
			{"os", cf.OS, "linux"},
			{"architecture", cf.Architecture, "arm64"},
			{"variant", cf.Variant, "v8"},
			{"user", c.User, "65532:65532"},
			{"entrypoint", strings.Join(c.Entrypoint, " "), "/sales-test"},
			{"label", c.Labels["org.opencontainers.image.revision"], "abc123"},
			{"healthcheck", strings.Join(c.Healthcheck.Test, " "), "CMD /healthprobe"},
			{"created", cf.Created.UTC().Format(time.RFC3339), "2023-11-14T22:13:20Z"},
		}
		for _, ch := range checks {
			if ch.got != ch.want {
				t.Errorf("%s = %q, want %q", ch.what, ch.got, ch.want)
			}
		}
		if _, ok := c.ExposedPorts["8081/tcp"]; !ok {
			t.Errorf("exposed ports = %v, want 8081/tcp", c.ExposedPorts)
		}
		if !contains(c.Env, "PORT=8081") || !contains(c.Env, "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt") {
			t.Errorf("env = %v", c.Env)
		}
		if strings.HasPrefix(c.User, "0") || c.User == "root" || c.User == "" {
			t.Errorf("the image runs as root: user %q", c.User)
		}
	})

	files := layerFiles(t, img)
	t.Run("filesystem", func(t *testing.T) {
		want := map[string]int64{
			"sales-test":                        0o755,
			"healthprobe":                       0o755,
			"etc/ssl/certs/ca-certificates.crt": 0o644,
			"etc/passwd":                        0o644,
			"etc/group":                         0o644,
		}
		for p, mode := range want {
			f, ok := files[p]
			if !ok {
				t.Errorf("%s is not in the image (have %v)", p, keys(files))
				continue
			}
			if f.hdr.Mode != mode {
				t.Errorf("%s mode = %o, want %o", p, f.hdr.Mode, mode)
			}
			if f.hdr.Uid != 0 {
				t.Errorf("%s owned by %d: the non-root user must not be able to change it", p, f.hdr.Uid)
			}
		}
		if home, ok := files["home/nonroot/"]; !ok || home.hdr.Uid != NonRootUID {
			t.Errorf("home/nonroot missing or not owned by %d", NonRootUID)
		}
		if !bytes.Contains(files["etc/passwd"].data, []byte("nonroot:x:65532:65532:")) {
			t.Errorf("passwd does not name the non-root user:\n%s", files["etc/passwd"].data)
		}
		if !bytes.Contains(files["etc/ssl/certs/ca-certificates.crt"].data, []byte("BEGIN CERTIFICATE")) {
			t.Error("CA bundle not copied")
		}
	})

	t.Run("entrypoint is a static linux/arm64 executable", func(t *testing.T) {
		f, err := elf.NewFile(bytes.NewReader(files["sales-test"].data))
		if err != nil {
			t.Fatalf("entrypoint is not ELF: %v", err)
		}
		if f.Machine != elf.EM_AARCH64 || f.Class != elf.ELFCLASS64 {
			t.Errorf("machine %s class %s, want EM_AARCH64 ELFCLASS64", f.Machine, f.Class)
		}
		if f.Type != elf.ET_EXEC {
			t.Errorf("ELF type %s, want an executable", f.Type)
		}
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP {
				t.Error("entrypoint has a program interpreter: it is dynamically linked")
			}
		}
		if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
			t.Errorf("entrypoint needs shared libraries %v", libs)
		}
	})

	t.Run("tarball holds the same image", func(t *testing.T) {
		fromTar, err := tarball.ImageFromPath(tarPath, nil)
		if err != nil {
			t.Fatal(err)
		}
		// The tarball carries a Docker manifest of its own; the
		// configuration and the layer are the same bytes.
		a, _ := img.ConfigName()
		b, _ := fromTar.ConfigName()
		if a != b {
			t.Errorf("tarball config %s, layout config %s", b, a)
		}
		la, _ := img.Layers()
		lb, _ := fromTar.Layers()
		if len(la) != 1 || len(lb) != 1 {
			t.Fatalf("layers: %d in the layout, %d in the tarball", len(la), len(lb))
		}
		da, _ := la[0].DiffID()
		db, _ := lb[0].DiffID()
		if da != db {
			t.Errorf("tarball layer %s, layout layer %s", db, da)
		}
	})

	t.Run("reproducible", func(t *testing.T) {
		again := filepath.Join(work, "again")
		if err := run(append(args[:len(args):len(args)], "-layout", again)); err != nil {
			t.Fatal(err)
		}
		p, err := layout.ImageIndexFromPath(again)
		if err != nil {
			t.Fatal(err)
		}
		im2, err := p.IndexManifest()
		if err != nil {
			t.Fatal(err)
		}
		if im2.Manifests[0].Digest != im.Manifests[0].Digest {
			t.Errorf("same inputs, different images: %s vs %s", im2.Manifests[0].Digest, im.Manifests[0].Digest)
		}
	})
}

func TestRunRejects(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "x")
	if err := os.WriteFile(bin, []byte("x"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
	}{
		{"no name", []string{"-binary", bin, "-layout", t.TempDir()}},
		{"name with a slash", []string{"-name", "a/b", "-binary", bin, "-layout", t.TempDir(), "-ca-certs", bin}},
		{"missing binary", []string{"-name", "a", "-binary", bin + ".missing", "-layout", t.TempDir(), "-ca-certs", bin}},
		{"bad platform", []string{"-name", "a", "-binary", bin, "-layout", t.TempDir(), "-platform", "arm64"}},
		{"bad created", []string{"-name", "a", "-binary", bin, "-layout", t.TempDir(), "-created", "yesterday"}},
		{"bad file flag", []string{"-name", "a", "-binary", bin, "-layout", t.TempDir(), "-file", "nodest"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := run(tt.args); err == nil {
				t.Fatalf("run(%v) succeeded", tt.args)
			}
		})
	}
}

type layerFile struct {
	hdr  *tar.Header
	data []byte
}

func layerFiles(t *testing.T, img v1.Image) map[string]layerFile {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(layers) != 1 {
		t.Fatalf("%d layers, want 1 (no base image)", len(layers))
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	out := map[string]layerFile{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out[h.Name] = layerFile{hdr: h, data: b}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func keys(m map[string]layerFile) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
