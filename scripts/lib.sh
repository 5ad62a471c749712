# Shared helpers for the Ereje shell scripts (sourced, not executed).
# shellcheck shell=bash

EREJE_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export EREJE_ROOT
# The image every lab container and Molecule scenario boots; scripts/build-image.sh keeps it current.
EREJE_IMAGE=${EREJE_IMAGE:-localhost/ereje-debian12:latest}
export EREJE_IMAGE
EREJE_VENV=${EREJE_VENV:-$EREJE_ROOT/.venv}
export EREJE_VENV

log() { printf '\033[1m[ereje]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31m[ereje] error:\033[0m %s\n' "$*" >&2; exit 1; }

# Install Debian packages only when one of them is missing (apt-get update once per run).
apt_install() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "apt-get install ${missing[*]}"
  if [ -z "${EREJE_APT_UPDATED:-}" ]; then
    apt-get update -qq
    EREJE_APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# The Debian mirror this machine already uses (the only one reachable): first deb URI
# of the bookworm suite in the host's apt sources.
debian_mirror() {
  local uri
  uri=$(grep -hE '^\s*URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null \
        | awk '{print $2}' | grep -vE 'security' | head -n1 || true)
  if [ -z "$uri" ]; then
    uri=$(grep -hE '^\s*deb\s' /etc/apt/sources.list 2>/dev/null \
          | grep -vE 'security' | awk '{print $2}' | head -n1 || true)
  fi
  [ -n "$uri" ] || die "no Debian mirror found in /etc/apt/sources.list*"
  printf '%s\n' "$uri"
}

# Activate the project's virtualenv (created by scripts/bootstrap-controller.sh).
use_venv() {
  [ -x "$EREJE_VENV/bin/ansible-playbook" ] || die "no virtualenv at $EREJE_VENV: run scripts/bootstrap-controller.sh"
  # shellcheck disable=SC1091
  . "$EREJE_VENV/bin/activate"
  export ANSIBLE_CONFIG="$EREJE_ROOT/ansible.cfg"
}

# Benchmarks (bench/*.sh): arithmetic on the figures, rounded (2 decimals unless told), and the
# seconds a command takes. The command's output is kept aside and shown (its last 40 lines) only
# when it fails, which stops the benchmark.
bench_calc() { python3 -c "print(round($1, ${2:-2}))"; }
bench_seconds() {
  local start=$EPOCHREALTIME out
  out=$(mktemp)
  "$@" >"$out" 2>&1 || { tail -40 "$out" >&2; rm -f "$out"; return 1; }
  rm -f "$out"
  bench_calc "$EPOCHREALTIME - $start"
}
