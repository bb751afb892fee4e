#!/usr/bin/env bash
# Builds the Debian package target/debian/liaison_<version>_<arch>.deb
# (issue 17): the release binary, a man page per command (`liaison man`),
# completions for bash, zsh and fish (`liaison completions`), and the
# real-SUT fixtures and their waivers under /usr/share/liaison/fixtures/.
# Needs cargo-deb (`cargo install cargo-deb --version 3.8.0 --locked`); the package's layout
# is [package.metadata.deb] in Cargo.toml. Prints the .deb's path last.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v cargo-deb >/dev/null 2>&1 || {
  echo "packaging/deb.sh: cargo-deb is missing: cargo install cargo-deb --version 3.8.0 --locked" >&2
  exit 2
}

cargo build --release --locked
bin=${CARGO_TARGET_DIR:-target}/release/liaison

# Generated and staged files: target/assets/, made afresh.
assets=target/assets
rm -rf "$assets"
mkdir -p "$assets/completions" "$assets/share"
"$bin" man --out "$assets/man" >/dev/null
"$bin" completions bash >"$assets/completions/liaison.bash"
"$bin" completions zsh >"$assets/completions/_liaison"
"$bin" completions fish >"$assets/completions/liaison.fish"

# The fixtures the profiles need: the files git tracks (no node_modules, no
# compiled shim, nothing a run left), 755 where git has them executable and
# 644 otherwise. Outside a git checkout (a source tarball): every file but
# node_modules.
list_fixtures() {
  if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git ls-files -s -- fixtures/sut fixtures/waivers | awk '{ print $1 " " $4 }'
  else
    find fixtures/sut fixtures/waivers -type f -not -path '*/node_modules/*' |
      while read -r f; do
        if [ -x "$f" ]; then echo "100755 $f"; else echo "100644 $f"; fi
      done
  fi
}
while read -r mode path; do
  mkdir -p "$assets/share/$(dirname "$path")"
  cp "$path" "$assets/share/$path"
  if [ "$mode" = 100755 ]; then chmod 755 "$assets/share/$path"; else chmod 644 "$assets/share/$path"; fi
done < <(list_fixtures)

# cargo deb prints the package's path on stdout.
cargo deb --no-build --locked
