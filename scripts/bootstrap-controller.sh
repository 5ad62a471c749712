#!/usr/bin/env bash
# Create (or refresh) the controller virtualenv in .venv with the pinned dependencies.
# A stamp holding the hash of requirements.txt + constraints.txt makes a second run instant.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/lib.sh
. "$here/lib.sh"

py=${EREJE_PYTHON:-python3}
command -v "$py" >/dev/null || apt_install python3
"$py" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' \
  || die "the controller needs Python 3.11 (Debian 12's python3); $py is $("$py" --version 2>&1)"
"$py" -c 'import venv, ensurepip' 2>/dev/null || apt_install python3-venv
# sshpass/rsync/git are what Ansible itself shells out to on a controller.
apt_install git rsync openssh-client

stamp="$EREJE_VENV/.ereje-requirements"
want=$(cat "$EREJE_ROOT/requirements.txt" "$EREJE_ROOT/constraints.txt" | sha256sum | cut -c1-16)
if [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  log "virtualenv $EREJE_VENV is current"
  exit 0
fi
log "creating virtualenv $EREJE_VENV (pinned requirements, a few minutes the first time)"
[ -x "$EREJE_VENV/bin/python" ] || "$py" -m venv "$EREJE_VENV"
# --no-compile, then everything but ansible 12's collections compiled at once: pip compiled all
# of those (some 15,000 files, 14 s of the 41 s this step took on a clean clone) though a run
# imports only the few plugins it uses, which Python compiles the first time; Ansible's own code,
# Mitogen, Molecule and the rest are compiled here, so that the first runs of the test command,
# which start together, do not each compile them again.
"$EREJE_VENV/bin/pip" install -q --no-compile -r "$EREJE_ROOT/requirements.txt" -c "$EREJE_ROOT/constraints.txt"
"$EREJE_VENV/bin/python" -m compileall -q -j 0 -x '/ansible_collections/' \
  "$("$EREJE_VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')" >/dev/null
echo "$want" > "$stamp"
# All of its output first, then its first line: `| head -n1` can close the pipe while ansible
# still writes, which it reports as a Broken pipe error.
version=$("$EREJE_VENV/bin/ansible" --version)
log "virtualenv ready: ${version%%$'\n'*}"
