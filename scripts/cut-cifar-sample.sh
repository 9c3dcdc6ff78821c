#!/usr/bin/env bash
# Cuts the embedded demo data set data/cifar10-sample/ out of the CIFAR-10 JPEG archive, deterministically:
# for each class, the first 50 files in name order; the first 40 go to train/<class>/, the next 10 to
# val/<class>/, renamed 0000.jpg, 0001.jpg, ... The JPEG bytes are copied unchanged.
# Usage: scripts/cut-cifar-sample.sh /path/to/cifar10-train-jpg.tar.gz [OUT_DIR]
set -euo pipefail

archive=${1:?usage: $0 ARCHIVE.tar.gz [OUT_DIR]}
out=${2:-"$(dirname "$0")/../data/cifar10-sample"}
train_per_class=40
val_per_class=10
[ -f "$archive" ] || { echo "$archive: no such file" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Members look like train/<class>/<name>.jpg; pick the first N per class in byte order (LC_ALL=C).
tar tzf "$archive" | grep -E '^train/[^/]+/[^/]+\.jpg$' | LC_ALL=C sort \
  | awk -F/ -v n=$((train_per_class + val_per_class)) '{ if (seen[$2]++ < n) print }' > "$work/members"
tar xzf "$archive" -C "$work" -T "$work/members"

rm -rf "$out"
for class_dir in "$work"/train/*/; do
  class=$(basename "$class_dir")
  mkdir -p "$out/train/$class" "$out/val/$class"
  i=0
  while IFS= read -r file; do
    if [ "$i" -lt "$train_per_class" ]; then
      dest="$out/train/$class/$(printf '%04d' "$i").jpg"
    else
      dest="$out/val/$class/$(printf '%04d' $((i - train_per_class))).jpg"
    fi
    cp "$file" "$dest"
    i=$((i + 1))
  done < <(find "$class_dir" -type f -name '*.jpg' | LC_ALL=C sort)
done
echo "wrote $out: $(find "$out/train" -type f | wc -l) train and $(find "$out/val" -type f | wc -l) val images"
