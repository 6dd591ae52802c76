#!/usr/bin/env bash
# Build OpenTofu from its Go module into .tools/bin/tofu (used by `make lint-iac` for
# `tofu fmt -check`). `go install module@version` refuses it (its go.mod has replace directives),
# so the module is downloaded and built in place. Idempotent: nothing is done when the binary
# already reports the pinned version. Go's module and build caches are left where Go keeps them.
set -euo pipefail
cd "$(dirname "$0")/.."

TOFU_VERSION="${TOFU_VERSION:-1.12.6}"
bin_dir="$PWD/.tools/bin"
tofu="$bin_dir/tofu"

installed_version() {
  # -json, read from its first brace: a missing CLI configuration file makes tofu print a
  # warning before the JSON, on stdout.
  "$tofu" version -json 2>/dev/null | python3 -c '
import json, sys
text = sys.stdin.read()
print(json.JSONDecoder().raw_decode(text[text.index("{"):])[0]["terraform_version"])
' 2>/dev/null
}

if [ -x "$tofu" ] && [ "$(installed_version)" = "$TOFU_VERSION" ]; then
  echo "install-tofu: OpenTofu $TOFU_VERSION already installed at .tools/bin/tofu"
  exit 0
fi

if ! command -v go >/dev/null 2>&1; then
  echo "install-tofu: go is needed to build OpenTofu (apt-get install golang-go, or a Go toolchain)" >&2
  exit 1
fi

# Build with the Go that is installed (OpenTofu's go.mod names the minimum, 1.26.x for 1.12.6);
# never fetch another toolchain behind the user's back.
export GOTOOLCHAIN=local

mkdir -p "$bin_dir"
echo "install-tofu: downloading github.com/opentofu/opentofu@v${TOFU_VERSION}"
dir=$(go mod download -json "github.com/opentofu/opentofu@v${TOFU_VERSION}" |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["Dir"])')
echo "install-tofu: building in $dir (a few minutes)"
start=$(date +%s)
(cd "$dir" && go build -trimpath \
  -ldflags "-s -w -X github.com/opentofu/opentofu/version.dev=no" -o "$tofu" ./cmd/tofu)
# A release build reports its plain version (a source build says -dev unless told otherwise).
if [ "$(installed_version)" != "$TOFU_VERSION" ]; then
  echo "install-tofu: the build reports version '$(installed_version)', not $TOFU_VERSION" >&2
  exit 1
fi
echo "install-tofu: built OpenTofu $TOFU_VERSION in $(($(date +%s) - start)) s"
