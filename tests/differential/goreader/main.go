// Command goreader prints what Go's own readers make of an OCI image
// layout: every layer read with archive/tar (the reader containerd, moby,
// umoci and buildah unpack with) and the config decoded with encoding/json
// into the image-spec's structure (the decoder the runtimes use). The
// Portcullis differential tests compare this, entry by entry, with what
// Portcullis reads.
//
// Standard library only, so it builds offline with Debian's golang-go.
//
// Usage: goreader LAYOUT MANIFEST-DIGEST   (an OCI layout directory)
//
//	goreader ARCHIVE INDEX                  (a `docker save` archive: the
//	                                         INDEX-th image of manifest.json)
package main

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// The image-spec's config (specs-go/v1/config.go) plus Docker's Healthcheck.
type healthcheck struct {
	Test        []string `json:"Test,omitempty"`
	Interval    int64    `json:"Interval,omitempty"`
	Timeout     int64    `json:"Timeout,omitempty"`
	StartPeriod int64    `json:"StartPeriod,omitempty"`
	Retries     int      `json:"Retries,omitempty"`
}

type runtimeConfig struct {
	User         string              `json:"User,omitempty"`
	ExposedPorts map[string]struct{} `json:"ExposedPorts,omitempty"`
	Env          []string            `json:"Env,omitempty"`
	Entrypoint   []string            `json:"Entrypoint,omitempty"`
	Cmd          []string            `json:"Cmd,omitempty"`
	Volumes      map[string]struct{} `json:"Volumes,omitempty"`
	WorkingDir   string              `json:"WorkingDir,omitempty"`
	Labels       map[string]string   `json:"Labels,omitempty"`
	StopSignal   string              `json:"StopSignal,omitempty"`
	Healthcheck  *healthcheck        `json:"Healthcheck,omitempty"`
}

type rootFS struct {
	Type    string   `json:"type"`
	DiffIDs []string `json:"diff_ids"`
}

type image struct {
	Architecture string        `json:"architecture"`
	OS           string        `json:"os"`
	Variant      string        `json:"variant,omitempty"`
	Config       runtimeConfig `json:"config,omitempty"`
	RootFS       rootFS        `json:"rootfs"`
}

type descriptor struct {
	MediaType string `json:"mediaType"`
	Digest    string `json:"digest"`
	Size      int64  `json:"size"`
}

type manifest struct {
	Config descriptor   `json:"config"`
	Layers []descriptor `json:"layers"`
}

type entry struct {
	Name     string `json:"name"`
	Type     string `json:"type"`
	Mode     int64  `json:"mode"`
	UID      int    `json:"uid"`
	GID      int    `json:"gid"`
	Size     int64  `json:"size"`
	Linkname string `json:"linkname,omitempty"`
	SHA256   string `json:"sha256,omitempty"`
}

type layer struct {
	Entries []entry `json:"entries"`
	Error   string  `json:"error,omitempty"`
}

type output struct {
	Config      *image  `json:"config,omitempty"`
	ConfigError string  `json:"config_error,omitempty"`
	Layers      []layer `json:"layers"`
}

func blob(root, digest string) ([]byte, error) {
	alg, enc, ok := strings.Cut(digest, ":")
	if !ok {
		return nil, fmt.Errorf("bad digest %q", digest)
	}
	return os.ReadFile(filepath.Join(root, "blobs", alg, enc))
}

func typeName(t byte) string {
	switch t {
	case 0, '0':
		return "regular"
	case '1':
		return "hardlink"
	case '2':
		return "symlink"
	case '3':
		return "char"
	case '4':
		return "block"
	case '5':
		return "directory"
	case '6':
		return "fifo"
	default:
		return fmt.Sprintf("type-%d", t)
	}
}

func readLayer(r io.Reader) layer {
	var out layer
	br := bufio.NewReader(r)
	magic, _ := br.Peek(4)
	var stream io.Reader = br
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		gz, err := gzip.NewReader(br)
		if err != nil {
			out.Error = err.Error()
			return out
		}
		stream = gz
	case bytes.HasPrefix(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		out.Error = "zstd: not in Go's standard library"
		return out
	}
	tr := tar.NewReader(stream)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			out.Error = err.Error()
			return out
		}
		if h.Typeflag == 'g' {
			continue // containerd ignores global headers
		}
		e := entry{
			Name: h.Name, Type: typeName(h.Typeflag), Mode: h.Mode & 0o7777,
			UID: h.Uid, GID: h.Gid, Size: h.Size, Linkname: h.Linkname,
		}
		if h.Typeflag == 0 && strings.HasSuffix(h.Name, "/") {
			e.Type = "directory"
		}
		if e.Type == "regular" {
			sum := sha256.New()
			n, err := io.Copy(sum, tr)
			if err != nil {
				out.Error = err.Error()
				return out
			}
			e.Size = n
			e.SHA256 = hex.EncodeToString(sum.Sum(nil))
		} else {
			e.Size = 0
		}
		out.Entries = append(out.Entries, e)
	}
}

// dockerArchive reads a `docker save` archive as `docker load` does: the
// whole outer tar, then the image manifest.json names.
func dockerArchive(path, which string) output {
	var out output
	f, err := os.Open(path)
	if err != nil {
		fail(err)
	}
	defer f.Close()
	files := map[string][]byte{}
	links := map[string]string{}
	tr := tar.NewReader(bufio.NewReader(f))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			fail(fmt.Errorf("outer archive: %w", err))
		}
		if h.Typeflag == tar.TypeReg {
			b, err := io.ReadAll(tr)
			if err != nil {
				fail(err)
			}
			files[filepath.Clean(h.Name)] = b
		} else if h.Typeflag == tar.TypeSymlink {
			links[filepath.Clean(h.Name)] = filepath.Clean(filepath.Join(filepath.Dir(h.Name), h.Linkname))
		}
	}
	for name, target := range links {
		if b, ok := files[target]; ok {
			files[name] = b
		}
	}
	var entries []struct {
		Config string
		Layers []string
	}
	if err := json.Unmarshal(files["manifest.json"], &entries); err != nil {
		fail(fmt.Errorf("manifest.json: %w", err))
	}
	var n int
	fmt.Sscan(which, &n)
	if n >= len(entries) {
		fail(fmt.Errorf("manifest.json has %d images", len(entries)))
	}
	e := entries[n]
	var img image
	if err := json.Unmarshal(files[filepath.Clean(e.Config)], &img); err != nil {
		out.ConfigError = err.Error()
	} else {
		out.Config = &img
	}
	for _, l := range e.Layers {
		b, ok := files[filepath.Clean(l)]
		if !ok {
			out.Layers = append(out.Layers, layer{Error: "missing " + l})
			continue
		}
		out.Layers = append(out.Layers, readLayer(bytes.NewReader(b)))
	}
	return out
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: goreader LAYOUT MANIFEST-DIGEST | goreader ARCHIVE INDEX")
		os.Exit(2)
	}
	root, digest := os.Args[1], os.Args[2]
	if st, err := os.Stat(root); err == nil && !st.IsDir() {
		if err := json.NewEncoder(os.Stdout).Encode(dockerArchive(root, digest)); err != nil {
			fail(err)
		}
		return
	}
	raw, err := blob(root, digest)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var m manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		fmt.Fprintln(os.Stderr, "manifest:", err)
		os.Exit(1)
	}
	var out output
	if cfg, err := blob(root, m.Config.Digest); err != nil {
		out.ConfigError = err.Error()
	} else {
		var img image
		if err := json.Unmarshal(cfg, &img); err != nil {
			out.ConfigError = err.Error()
		} else {
			out.Config = &img
		}
	}
	for _, l := range m.Layers {
		f, err := os.Open(filepath.Join(root, "blobs", strings.Replace(l.Digest, ":", "/", 1)))
		if err != nil {
			out.Layers = append(out.Layers, layer{Error: err.Error()})
			continue
		}
		out.Layers = append(out.Layers, readLayer(f))
		f.Close()
	}
	enc := json.NewEncoder(os.Stdout)
	if err := enc.Encode(out); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
