#!/usr/bin/env bash
# Re-pin every digest-pinned image in FILES to the digest its tag points to now:
# each `name:tag@sha256:<digest>` becomes `name:tag@sha256:<current digest>`.
# The digest is the tag's top-level manifest (for official images, the
# multi-architecture index), so the pin pulls on amd64 and arm64 alike.
#
#   scripts/pin-images.sh Dockerfile .gitlab-ci.yml     (make pin-images)
#
# Needs skopeo and access to the registries. Review the diff and commit it; CI
# then keeps pulling exactly those images until the next run of this script.
set -euo pipefail

if [ "$#" -eq 0 ]; then
  echo "usage: pin-images.sh FILE..." >&2
  exit 2
fi
skopeo=${SKOPEO:-skopeo}
command -v "$skopeo" >/dev/null || {
  echo "pin-images: needs skopeo; install it with: apt-get install skopeo (or dnf/brew install skopeo)" >&2
  exit 1
}

manifest=$(mktemp)
trap 'rm -f "$manifest"' EXIT
grep -ohE '[a-z0-9][a-z0-9._/-]*:[A-Za-z0-9._-]+@sha256:[0-9a-f]{64}' "$@" | sort -u | while read -r ref; do
  image=${ref%@*}
  "$skopeo" inspect --raw "docker://$image" > "$manifest"
  digest=$("$skopeo" manifest-digest "$manifest")
  if [ "$image@$digest" = "$ref" ]; then
    echo "pin-images: $image is current"
  else
    sed -i "s|$ref|$image@$digest|g" "$@"
    echo "pin-images: $image -> $digest"
  fi
done
