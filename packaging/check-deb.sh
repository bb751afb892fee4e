#!/usr/bin/env bash
# Builds the Debian package (packaging/deb.sh), checks its file list,
# installs it with dpkg -i and runs the installed /usr/bin/liaison from an
# empty temporary folder: --version, the man page, `liaison run --quiet`
# (the compiled-in scenarios against the embedded reference) and, when
# Kamailio is installed, the shipped Kamailio profile from
# /usr/share/liaison. Called by .ci/run (issue 17, items 2 and 8).
#
# It installs, and leaves installed: cargo-deb in ~/.cargo/bin (when
# missing) and the package `liaison` (/usr/bin/liaison, its man pages and
# completions, /usr/share/liaison/). Each is printed before it happens; the
# package goes with `dpkg -r liaison`. Not root: dpkg through sudo, else it
# builds and checks the package, says what to run and exits 2.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root=()
[ "$(id -u)" -eq 0 ] || ! command -v sudo >/dev/null 2>&1 || as_root=(sudo)

t0=$SECONDS
if ! command -v cargo-deb >/dev/null 2>&1; then
  # The version this package's metadata was written and checked with: a
  # newer one may read [package.metadata.deb] differently, or ask for a
  # newer Rust than the machine's.
  echo "check-deb: installing cargo-deb 3.8.0 into ~/.cargo/bin (cargo install cargo-deb --version 3.8.0 --locked)"
  cargo install cargo-deb --version 3.8.0 --locked --quiet
  echo "check-deb: cargo-deb installed in $((SECONDS - t0)) s"
fi

t1=$SECONDS
deb=$(bash packaging/deb.sh | tail -1)
echo "check-deb: built $deb in $((SECONDS - t1)) s (release build, assets, cargo deb)"

# The file list: what the package must hold, and what it must not.
list=$(dpkg-deb -c "$deb" | awk '{ print $6 }')
missing=0
for p in ./usr/bin/liaison \
  ./usr/share/man/man1/liaison.1.gz ./usr/share/man/man1/liaison-run.1.gz \
  ./usr/share/bash-completion/completions/liaison \
  ./usr/share/zsh/vendor-completions/_liaison \
  ./usr/share/fish/vendor_completions.d/liaison.fish \
  ./usr/share/liaison/fixtures/sut/kamailio.yaml \
  ./usr/share/liaison/fixtures/sut/kamailio/run.sh \
  ./usr/share/liaison/fixtures/waivers/kamailio.yaml; do
  grep -qx -- "$p" <<<"$list" || { echo "check-deb: $deb lacks $p" >&2; missing=1; }
done
if grep -q 'node_modules\|\.so$' <<<"$list"; then
  echo "check-deb: $deb holds build output:" >&2
  grep 'node_modules\|\.so$' <<<"$list" | head >&2
  missing=1
fi
[ "$missing" -eq 0 ] || exit 1
echo "check-deb: $(wc -l <<<"$list") entries in $deb"
if command -v lintian >/dev/null 2>&1; then
  lintian --no-tag-display-limit "$deb" || true
fi

if [ "$(id -u)" -ne 0 ] && [ "${#as_root[@]}" -eq 0 ]; then
  echo "check-deb: not root and no sudo: install the package as root, then run this again: dpkg -i $deb" >&2
  exit 2
fi
echo "check-deb: installing $deb with dpkg -i (/usr/bin/liaison, /usr/share/liaison/, man pages, completions; remove with: dpkg -r liaison)"
"${as_root[@]}" dpkg -i "$deb" >/dev/null

# The installed binary, from an empty folder: no ./features, no source tree.
t2=$SECONDS
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
/usr/bin/liaison --version
if command -v man >/dev/null 2>&1; then
  man -l /usr/share/man/man1/liaison-run.1.gz >/dev/null
fi
/usr/bin/liaison run --quiet --out "$work/reference"
if command -v kamailio >/dev/null 2>&1; then
  /usr/bin/liaison run --quiet --out "$work/kamailio" \
    --sut /usr/share/liaison/fixtures/sut/kamailio.yaml \
    --waivers /usr/share/liaison/fixtures/waivers/kamailio.yaml
fi
echo "check-deb: the installed liaison ran in $((SECONDS - t2)) s"
