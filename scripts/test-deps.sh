#!/usr/bin/env bash
# Installs what `make test` needs on a fresh Debian machine, and fails loudly
# when something cannot be had. Idempotent: a second run installs nothing.
set -euo pipefail

need_apt=()
command -v file >/dev/null || need_apt+=(file)
command -v unshare >/dev/null || need_apt+=(util-linux)
command -v grep >/dev/null || need_apt+=(grep)
command -v script >/dev/null || need_apt+=(bsdutils)
[ -d /usr/share/zoneinfo ] || need_apt+=(tzdata)

if ((${#need_apt[@]})); then
  echo "test-deps: installing ${need_apt[*]} from Debian" >&2
  if [ "$(id -u)" != 0 ]; then
    echo "test-deps: error: need root to apt-get install ${need_apt[*]}" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

for tool in file unshare grep script; do
  command -v "$tool" >/dev/null || { echo "test-deps: error: $tool is still missing" >&2; exit 1; }
done

# The Docker and PID-namespace tests need root and the Docker engine; in CI
# they must run (the tests themselves fail there if they cannot).
if [ -n "${CI:-}" ]; then
  [ "$(id -u)" = 0 ] || { echo "test-deps: error: CI must run as root" >&2; exit 1; }
  docker info >/dev/null 2>&1 || { echo "test-deps: error: CI needs the Docker engine (docker info failed)" >&2; exit 1; }
fi
