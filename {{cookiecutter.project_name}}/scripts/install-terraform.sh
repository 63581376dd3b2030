#!/usr/bin/env bash
# Install Terraform VERSION for this machine (linux, amd64 or arm64) into DEST
# (default /usr/local/bin), verified the way HashiCorp documents it
# (https://www.hashicorp.com/security): the release's SHA256SUMS must carry a
# valid signature of HashiCorp's release key, whose fingerprint is pinned below,
# and the zip must match its line in that file. Anything else stops the install.
#
#   scripts/install-terraform.sh 1.11.4 [DEST]
#
# CI calls it (.gitlab-ci.yml); any other machine can too. It installs curl, gpg
# and unzip with apt-get or dnf when they are missing. TERRAFORM_RELEASES_URL
# points it at a mirror of releases.hashicorp.com and HASHICORP_KEY_URL at another
# copy of the key: the pinned fingerprint still decides what is trusted.
set -euo pipefail

# HashiCorp Security's release signing key (key ID 72D7468F, the key releases are
# signed with since HCSEC-2021-12). Change it only when HashiCorp announces a new one.
readonly HASHICORP_FINGERPRINT=C874011F0AB405110D02105534365D9472D7468F

version=${1:?usage: install-terraform.sh VERSION [DEST]}
dest=${2:-/usr/local/bin}
releases=${TERRAFORM_RELEASES_URL:-https://releases.hashicorp.com/terraform}
key_url=${HASHICORP_KEY_URL:-https://www.hashicorp.com/.well-known/pgp-key.txt}

case "$(uname -m)" in
  x86_64 | amd64) arch=amd64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *) echo "install-terraform: unsupported architecture $(uname -m)" >&2; exit 1 ;;
esac

missing=()
for tool in curl gpg unzip sha256sum; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done
if [ -n "${missing[*]:-}" ]; then
  if command -v apt-get >/dev/null; then
    packages=("${missing[@]/sha256sum/coreutils}")
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
  elif command -v dnf >/dev/null; then
    packages=("${missing[@]/gpg/gnupg2}")
    dnf install -y -q "${packages[@]/sha256sum/coreutils}" >/dev/null
  else
    echo "install-terraform: install ${missing[*]} first" >&2
    exit 1
  fi
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
zip=terraform_${version}_linux_${arch}.zip
sums=terraform_${version}_SHA256SUMS
for file in "$zip" "$sums" "$sums.sig"; do
  curl -fsSL --retry 3 -o "$work/$file" "$releases/$version/$file"
done

# A keyring of its own, holding only the key just fetched; the signature counts
# only if gpg reports it valid and made by the pinned key (VALIDSIG ends with the
# primary key's fingerprint).
export GNUPGHOME=$work/gnupg
mkdir -m 700 "$GNUPGHOME"
curl -fsSL --retry 3 "$key_url" | gpg --batch --quiet --import
if ! gpg --batch --status-fd 1 --verify "$work/$sums.sig" "$work/$sums" 2>/dev/null \
  | grep -Eq "^\[GNUPG:\] VALIDSIG .* ${HASHICORP_FINGERPRINT}\$"; then
  echo "install-terraform: $sums is not signed by HashiCorp's key $HASHICORP_FINGERPRINT" >&2
  exit 1
fi

# The zip's own line: exactly one, and sha256sum -c must pass.
grep -E "^[0-9a-f]{64}  ${zip//./\\.}\$" "$work/$sums" > "$work/zip.sha256" || {
  echo "install-terraform: $sums has no line for $zip" >&2
  exit 1
}
(cd "$work" && sha256sum --check --strict --quiet zip.sha256)

mkdir -p "$dest"
unzip -o -q -d "$dest" "$work/$zip" terraform
echo "install-terraform: terraform $version ($arch, verified) in $dest"
