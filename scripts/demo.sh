#!/usr/bin/env bash
# Migrates the sample v0 root shipped in samples/v0-root end to end, in a
# temporary copy (or in ROOT given as $1), and shows what se2 did:
# inventory, dry run, migration, verification, an idempotent second run.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cargo build --release --quiet --manifest-path "$repo/Cargo.toml"
se2="$repo/target/release/se2"

root=${1:-}
if [ -z "$root" ]; then
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  root="$work/v0-root"
  cp -r "$repo/samples/v0-root" "$root"
fi

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }

step "$se2" inventory "$root"
step "$se2" migrate "$root" --dry-run
step "$se2" migrate "$root"
step "$se2" verify "$root"
step "$se2" migrate "$root"
printf '\n\033[1mSE2 layout written under %s:\033[0m\n' "$root"
(cd "$root" && find . -type f ! -path '*/v[0-9]*' ! -name .runnable.yaml | sort)
printf '\n\033[1m$ cat system/version\033[0m\n%s\n' "$(cat "$root/system/version")"
printf '\n\033[1m$ cat com.suborbital.acmeco/default/hello/.module.yaml\033[0m\n'
cat "$root/com.suborbital.acmeco/default/hello/.module.yaml"
