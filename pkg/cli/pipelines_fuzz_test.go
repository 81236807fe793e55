package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzPipelinesFiles hands every pipelines file's loader (those `touchline
// check` and the services use) arbitrary content, seeded with the shipped
// files: an operator's mistake, however odd, is an error naming the file,
// never a panic.
func FuzzPipelinesFiles(f *testing.F) {
	for i, file := range pipelinesFiles {
		data, err := os.ReadFile(filepath.Join("..", "..", "pipelines", file.name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(uint8(i), data)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		file := pipelinesFiles[int(which)%len(pipelinesFiles)]
		path := filepath.Join(dir, file.name)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		defer os.Remove(path)
		if err := file.load(path); err != nil && !strings.HasPrefix(err.Error(), path) {
			t.Fatalf("%s: an error that does not name the file: %v", file.name, err)
		}
	})
}
