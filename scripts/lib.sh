# Shared by scripts/*: install what is missing, configure and build. Source it; do not run it.

VEIL_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# Debian packages every build needs.
VEIL_BUILD_PACKAGES=(cmake g++ ninja-build ccache pkg-config libboost1.81-dev libboost-json1.81-dev
  libboost-program-options1.81-dev libre2-dev libfmt-dev catch2 libssl-dev zlib1g-dev libyaml-cpp-dev
  publicsuffix)  # the Public Suffix List, read at run time by the cookie filter
# What the tests drive: the Python harness, curl, openssl for throwaway TLS certificates, and
# headless Chromium for the browser test of the consent banner and embeds.
VEIL_TEST_PACKAGES=(python3 curl openssl chromium clang-format git)

# ensure_packages PKG...: installs the missing ones (apt-get as root), or says how and stops.
ensure_packages() {
  local missing=()
  local pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  ((${#missing[@]} == 0)) && return 0
  if [[ $(id -u) -ne 0 ]]; then
    echo "veil: missing Debian packages. Install them with:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  echo "veil: installing ${missing[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

# build_veil DIR [cmake args...]: configures DIR with Ninja (once) and builds everything.
build_veil() {
  local dir=$1
  shift
  if [[ ! -f $dir/build.ninja ]]; then
    cmake -S "$VEIL_ROOT" -B "$dir" -G Ninja "$@" >&2
  fi
  cmake --build "$dir" >&2
}
