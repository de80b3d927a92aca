#!/usr/bin/env bash
# Installs the Debian packages whose commands are missing, with one
# `apt-get update` and only when something is missing.
#
#   scripts/ensure-packages.sh COMMAND=PACKAGE...
#   e.g. scripts/ensure-packages.sh nginx=nginx curl=curl /usr/bin/time=time
#
# COMMAND is a name looked up on PATH (plus /usr/sbin) or an absolute path.
set -euo pipefail

case ":$PATH:" in
*:/usr/sbin:*) ;;
*) PATH=$PATH:/usr/sbin ;;
esac

has_command() {
    if [[ $1 == /* ]]; then
        [[ -x $1 ]]
    else
        command -v "$1" >/dev/null 2>&1
    fi
}

missing=()
for pair in "$@"; do
    [[ $pair == *=* ]] || {
        echo "usage: $0 COMMAND=PACKAGE..." >&2
        exit 2
    }
    has_command "${pair%%=*}" || missing+=("${pair#*=}")
done
((${#missing[@]} == 0)) && exit 0

sudo=()
if ((EUID != 0)); then
    if ! command -v sudo >/dev/null 2>&1; then
        echo "ensure-packages.sh: need ${missing[*]}; not root and no sudo" >&2
        exit 1
    fi
    sudo=(sudo)
fi
command -v apt-get >/dev/null 2>&1 || {
    echo "ensure-packages.sh: need ${missing[*]}; no apt-get here, install them yourself" >&2
    exit 1
}

echo "ensure-packages.sh: installing ${missing[*]}" >&2
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y --no-install-recommends "${missing[@]}"

for pair in "$@"; do
    has_command "${pair%%=*}" || {
        echo "ensure-packages.sh: ${pair%%=*} still missing after installing ${pair#*=}" >&2
        exit 1
    }
done
