package testenv

import (
	"errors"
	"io/fs"
	"path/filepath"
)

// DirSize sums the sizes of the files under dir, such as a pebble
// database's, skipping files removed while it walks (by a compaction).
func DirSize(dir string) (int64, error) {
	var size int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		size += info.Size()
		return nil
	})
	return size, err
}
