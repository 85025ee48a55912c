// Command imagebuild assembles the services' OCI images without a container
// engine and without pulling a base image: one layer holding the static
// binary (the entrypoint), the health probe, the machine's CA bundle and a
// passwd naming the non-root user 65532, on an empty base; configuration
// with that user, the platform, the port, labels and a health check. It
// writes an OCI image layout (and, with -tarball, a tarball that
// `docker load` and `crane push` take).
//
//	imagebuild -name sales-api -binary dist/linux-arm64/sales-api \
//	    -file /healthprobe=dist/linux-arm64/healthprobe \
//	    -label org.opencontainers.image.revision=$(git rev-parse HEAD) \
//	    -layout dist/images/sales-api -tarball dist/images/sales-api.tar
//
// The Dockerfiles beside the services build the same images with an engine
// (docs/adr/0062-images-without-an-engine.md).
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		slog.New(slog.NewJSONHandler(os.Stderr, nil)).Error("imagebuild failed", "error", err.Error())
		os.Exit(1)
	}
}

type mapFlag map[string]string

func (m mapFlag) String() string { return fmt.Sprint(map[string]string(m)) }

func (m mapFlag) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok || k == "" {
		return fmt.Errorf("%q is not key=value", v)
	}
	m[k] = val
	return nil
}

// caBundles are the usual places of the machine's CA bundle.
var caBundles = []string{
	"/etc/ssl/certs/ca-certificates.crt", // Debian, Ubuntu, Alpine
	"/etc/pki/tls/certs/ca-bundle.crt",   // Fedora, RHEL
	"/etc/ssl/cert.pem",                  // macOS, BSD
}

func run(args []string) error {
	fs := flag.NewFlagSet("imagebuild", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	imageName := fs.String("name", "", "image name; the entrypoint is /<name>")
	binary := fs.String("binary", "", "static executable for the target platform")
	platform := fs.String("platform", "linux/arm64", "os/architecture[/variant] of the binary")
	port := fs.Int("port", 8080, "port the service listens on")
	caCerts := fs.String("ca-certs", "", "CA bundle to include (default: the machine's)")
	layoutDir := fs.String("layout", "", "write an OCI image layout here")
	tarPath := fs.String("tarball", "", "also write an image tarball here")
	tag := fs.String("tag", "", "reference recorded in the layout and tarball (default <name>:<revision label or dev>)")
	created := fs.String("created", "", "creation time, RFC 3339 or Unix seconds (default $SOURCE_DATE_EPOCH, else 1970-01-01)")
	files := mapFlag{}
	labels := mapFlag{}
	fs.Var(files, "file", "extra file /path/in/image=path/here (repeatable)")
	fs.Var(labels, "label", "label key=value (repeatable)")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w (flags: -name -binary -layout -tarball -tag -file -label -platform -port -ca-certs -created)", err)
	}
	if *imageName == "" || *binary == "" || *layoutDir == "" {
		return errors.New("usage: imagebuild -name NAME -binary PATH -layout DIR [-tarball PATH] [-file /dst=src]... [-label k=v]...")
	}
	osName, arch, variant, err := parsePlatform(*platform)
	if err != nil {
		return err
	}
	createdAt, err := parseCreated(*created, os.Getenv("SOURCE_DATE_EPOCH"))
	if err != nil {
		return err
	}
	ca := *caCerts
	if ca == "" {
		for _, c := range caBundles {
			if _, err := os.Stat(c); err == nil {
				ca = c
				break
			}
		}
		if ca == "" {
			return errors.New("no CA bundle on this machine: name one with -ca-certs")
		}
	}
	spec := Spec{
		Name: *imageName, Binary: *binary, Files: files, CACerts: ca,
		OS: osName, Architecture: arch, Variant: variant, Port: *port,
		Labels: labels, Created: createdAt,
	}
	if _, ok := files["/healthprobe"]; ok {
		spec.HealthCheck = []string{"/healthprobe"}
	}
	img, err := Build(spec)
	if err != nil {
		return err
	}
	ref := *tag
	if ref == "" {
		rev := labels["org.opencontainers.image.revision"]
		if rev == "" {
			rev = "dev"
		}
		ref = *imageName + ":" + rev
	}
	if err := WriteLayout(*layoutDir, ref, img); err != nil {
		return fmt.Errorf("write layout %s: %w", *layoutDir, err)
	}
	if *tarPath != "" {
		t, err := name.NewTag(ref)
		if err != nil {
			return fmt.Errorf("tag %q: %w", ref, err)
		}
		if err := tarball.WriteToFile(*tarPath, t, img); err != nil {
			return fmt.Errorf("write tarball %s: %w", *tarPath, err)
		}
	}
	d, err := img.Digest()
	if err != nil {
		return err
	}
	fmt.Printf("%s %s %s/%s\n", ref, d, osName, arch)
	return nil
}

func parsePlatform(p string) (osName, arch, variant string, err error) {
	parts := strings.Split(p, "/")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return "", "", "", fmt.Errorf("platform %q is not os/architecture[/variant]", p)
	}
	if len(parts) == 3 {
		variant = parts[2]
	} else if parts[1] == "arm64" {
		variant = "v8"
	}
	return parts[0], parts[1], variant, nil
}

func parseCreated(flagValue, sourceDateEpoch string) (time.Time, error) {
	v := flagValue
	if v == "" {
		v = sourceDateEpoch
	}
	if v == "" {
		return time.Unix(0, 0).UTC(), nil
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		return time.Unix(secs, 0).UTC(), nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("creation time %q is neither Unix seconds nor RFC 3339", v)
	}
	return t.UTC(), nil
}
