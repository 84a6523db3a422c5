#!/usr/bin/env bash
# Packages a podsizer binary for krew: podsizer-VERSION-linux-amd64.tar.gz and a manifest that
# names it, with the archive's sha256 filled in.
#
#   deploy/krew/package.sh BINARY OUT_DIR BASE_URI [HOMEPAGE]
#
# BASE_URI is where the archive will be downloaded from (a release page, or file:///path for a
# local install test: kubectl krew install --manifest=OUT_DIR/podsizer.yaml --archive=OUT_DIR/<archive>).
set -euo pipefail
binary=$1 out=$2 base=$3 homepage=${4:-https://example.invalid/podsizer}
here=$(cd "$(dirname "$0")" && pwd)
version=$("$binary" --version | awk '{print $2}')
archive="podsizer-$version-linux-amd64.tar.gz"
mkdir -p "$out"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
cp "$binary" "$stage/podsizer"
tar -C "$stage" -czf "$out/$archive" podsizer
sha=$(sha256sum "$out/$archive" | awk '{print $1}')
sed -e "s|@VERSION@|$version|" -e "s|@HOMEPAGE@|$homepage|" -e "s|@URI@|${base%/}/$archive|" -e "s|@SHA256@|$sha|" \
  "$here/podsizer.yaml" > "$out/podsizer.yaml"
echo "$out/$archive"
echo "$out/podsizer.yaml"
