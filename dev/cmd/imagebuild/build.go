package main

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// NonRootUID is the user the images run as (distroless's "nonroot").
const NonRootUID = 65532

// Spec is one image: a static binary as the entrypoint, extra files, the
// machine's CA bundle, a passwd/group naming the non-root user, and the
// image configuration.
type Spec struct {
	// Name of the image and of its entrypoint (/<Name>).
	Name string
	// Binary is the path of the static executable on this machine.
	Binary string
	// Files maps a path in the image to a file on this machine (0755 when
	// executable here, else 0644).
	Files map[string]string
	// CACerts is the CA bundle copied to /etc/ssl/certs/ca-certificates.crt.
	CACerts string
	// Platform of the binary (the image's os/architecture/variant).
	OS, Architecture, Variant string
	// Port the service listens on (ExposedPorts, PORT).
	Port int
	// Env of the configuration (KEY=value), beside PORT and SSL_CERT_FILE.
	Env []string
	// Labels of the configuration (OCI annotations keys).
	Labels map[string]string
	// HealthCheck is the exec-form command of the image's health check.
	HealthCheck []string
	// Created is the image's creation time and every file's mtime: the
	// commit time makes the image reproducible.
	Created time.Time
}

// Build assembles the image: one layer on an empty base, no engine, no
// pull.
func Build(s Spec) (v1.Image, error) {
	if s.Name == "" || strings.ContainsAny(s.Name, "/ ") {
		return nil, fmt.Errorf("image name %q must be a plain name", s.Name)
	}
	entrypoint := "/" + s.Name
	files := []fileEntry{
		{path: "etc/passwd", mode: 0o644, data: []byte("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n")},
		{path: "etc/group", mode: 0o644, data: []byte("root:x:0:\nnonroot:x:65532:\n")},
		{path: "home/nonroot", dir: true, mode: 0o700, uid: NonRootUID},
		{path: "tmp", dir: true, mode: 0o1777},
	}
	bin, err := os.ReadFile(s.Binary)
	if err != nil {
		return nil, fmt.Errorf("read binary: %w", err)
	}
	files = append(files, fileEntry{path: strings.TrimPrefix(entrypoint, "/"), mode: 0o755, data: bin})
	if s.CACerts != "" {
		ca, err := os.ReadFile(s.CACerts)
		if err != nil {
			return nil, fmt.Errorf("read CA certificates: %w", err)
		}
		files = append(files, fileEntry{path: "etc/ssl/certs/ca-certificates.crt", mode: 0o644, data: ca})
	}
	for dst, src := range s.Files {
		b, err := os.ReadFile(src)
		if err != nil {
			return nil, fmt.Errorf("read %s for %s: %w", src, dst, err)
		}
		info, err := os.Stat(src)
		if err != nil {
			return nil, err
		}
		mode := int64(0o644)
		if info.Mode()&0o111 != 0 {
			mode = 0o755
		}
		files = append(files, fileEntry{path: strings.TrimPrefix(path.Clean("/"+dst), "/"), mode: mode, data: b})
	}
	layerTar, err := tarFiles(files, s.Created)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, fmt.Errorf("layer: %w", err)
	}
	img, err := mutate.AppendLayers(mutate.MediaType(empty.Image, types.OCIManifestSchema1), layer)
	if err != nil {
		return nil, err
	}
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)

	cfg := v1.Config{
		User:       fmt.Sprintf("%d:%d", NonRootUID, NonRootUID),
		Entrypoint: []string{entrypoint},
		WorkingDir: "/",
		Env: append([]string{
			"PATH=/",
			"SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt",
			"PORT=" + strconv.Itoa(s.Port),
		}, s.Env...),
		ExposedPorts: map[string]struct{}{strconv.Itoa(s.Port) + "/tcp": {}},
		Labels:       s.Labels,
	}
	if len(s.HealthCheck) > 0 {
		cfg.Healthcheck = &v1.HealthConfig{
			Test:        append([]string{"CMD"}, s.HealthCheck...),
			Interval:    15 * time.Second,
			Timeout:     5 * time.Second,
			StartPeriod: 15 * time.Second,
			Retries:     3,
		}
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.Config = cfg
	cf.OS = s.OS
	cf.Architecture = s.Architecture
	cf.Variant = s.Variant
	cf.Created = v1.Time{Time: s.Created}
	cf.Author = "salesplatform imagebuild"
	cf.History = []v1.History{{Created: v1.Time{Time: s.Created}, CreatedBy: "imagebuild: " + s.Name + " static binary, CA bundle, passwd", Comment: "no base image"}}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, err
	}
	return img, nil
}

type fileEntry struct {
	path string
	dir  bool
	mode int64
	uid  int
	data []byte
}

// tarFiles writes a deterministic layer: parents first, sorted paths,
// fixed times, numeric owners.
func tarFiles(files []fileEntry, mtime time.Time) ([]byte, error) {
	dirs := map[string]bool{}
	explicit := map[string]fileEntry{}
	for _, f := range files {
		if f.dir {
			explicit[f.path] = f
		}
		for d := path.Dir(f.path); d != "." && d != "/"; d = path.Dir(d) {
			dirs[d] = true
		}
	}
	var entries []fileEntry
	for d := range dirs {
		if _, ok := explicit[d]; !ok {
			entries = append(entries, fileEntry{path: d, dir: true, mode: 0o755})
		}
	}
	entries = append(entries, files...)
	sort.Slice(entries, func(i, j int) bool { return entries[i].path < entries[j].path })

	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	seen := map[string]bool{}
	for _, e := range entries {
		if seen[e.path] {
			return nil, fmt.Errorf("%s is in the image twice", e.path)
		}
		seen[e.path] = true
		h := &tar.Header{
			Name:    e.path,
			Mode:    e.mode,
			Uid:     e.uid,
			Gid:     e.uid,
			ModTime: mtime,
			Format:  tar.FormatPAX,
		}
		if e.dir {
			h.Typeflag = tar.TypeDir
			h.Name += "/"
		} else {
			h.Typeflag = tar.TypeReg
			h.Size = int64(len(e.data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if !e.dir {
			if _, err := tw.Write(e.data); err != nil {
				return nil, err
			}
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// WriteLayout writes img as an OCI image layout in dir (replacing it),
// annotated with its reference name.
func WriteLayout(dir, refName string, img v1.Image) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return err
	}
	return p.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": refName}))
}
