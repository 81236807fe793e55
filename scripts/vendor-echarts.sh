#!/bin/sh
# Refreshes the copy of Apache ECharts that the web UI embeds
# (pkg/ui/web/vendor/echarts): the built dist/echarts.min.js of the pinned
# npm release, its LICENSE and NOTICE, and the release's version and
# SHA-256 sums. Nothing is fetched at run time; the binary carries the file.
#
# Usage: scripts/vendor-echarts.sh [VERSION]   (default: the pinned one)
set -eu

version="${1:-6.0.0}"
root="$(cd "$(dirname "$0")/.." && pwd)"
dest="$root/pkg/ui/web/vendor/echarts"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

(cd "$tmp" && npm pack --silent "echarts@$version" >/dev/null)
tar -xzf "$tmp/echarts-$version.tgz" -C "$tmp"
mkdir -p "$dest"
cp "$tmp/package/dist/echarts.min.js" "$tmp/package/LICENSE" "$tmp/package/NOTICE" "$dest/"
(cd "$dest" && {
	echo "Apache ECharts $version from the npm registry (npm pack echarts@$version)."
	echo "Refresh with scripts/vendor-echarts.sh [VERSION]."
	echo
	sha256sum echarts.min.js LICENSE NOTICE
} > VERSION)
echo "vendored echarts $version into $dest"
