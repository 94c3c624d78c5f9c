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
# The discovery tests: the Consul emulator (tests/consul/emulator.py, stdlib
# only), a real etcd (tests/common/etcd.rs), promtool for the telemetry
# output.
command -v python3 >/dev/null || need_apt+=(python3)
command -v etcd >/dev/null || need_apt+=(etcd-server)
command -v promtool >/dev/null || need_apt+=(prometheus)
# The service-kind tests (tests/services.rs, tests/common/peers.rs) run
# real Debian daemons and clients: nginx (forking, reload, binary upgrade),
# dnsmasq (forking), systemd-notify (notify; the systemd package ships it,
# and installing it in a container starts nothing: only PID 1 being systemd
# would), socat and OpenBSD nc (inetd clients), and cc for the C peers in
# tests/peers/ (built by the tests themselves).
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need_apt+=(nginx-light)
command -v dnsmasq >/dev/null || [ -x /usr/sbin/dnsmasq ] || need_apt+=(dnsmasq-base)
command -v systemd-notify >/dev/null || need_apt+=(systemd)
command -v socat >/dev/null || need_apt+=(socat)
command -v nc.openbsd >/dev/null || need_apt+=(netcat-openbsd)
command -v cc >/dev/null || need_apt+=(gcc libc6-dev)
# The log tests (tests/logs.rs): util-linux's logger, and Debian's rsyslogd
# as the remote syslog a forward sends to (started by the test on loopback
# ports with its own config; rsyslog conflicts with syslog-ng-core).
command -v logger >/dev/null || need_apt+=(bsdutils)
[ -x /usr/sbin/rsyslogd ] || need_apt+=(rsyslog)
# musl's syslog(3) in a FROM scratch image: the peer is built static.
command -v musl-gcc >/dev/null || need_apt+=(musl-tools)
log_tools=(logger musl-gcc /usr/sbin/rsyslogd)
# The VM tests (tests/vm.rs) and `make bench`'s vm section: Debian's
# kernel, qemu, a static libc for the test job, busybox init to compare.
ls /boot/vmlinuz-* >/dev/null 2>&1 || need_apt+=(linux-image-amd64)
command -v qemu-system-x86_64 >/dev/null || need_apt+=(qemu-system-x86)
[ -f /usr/lib/x86_64-linux-gnu/libc.a ] || need_apt+=(libc6-dev)
[ -x /bin/busybox ] || need_apt+=(busybox-static)
command -v cpio >/dev/null || need_apt+=(cpio)
# make test-cross / make release: qemu-user for aarch64 and armv7, and
# Debian's musl for armv7 (its Rust rust-std cannot be downloaded), which
# needs the armhf architecture in dpkg.
command -v qemu-aarch64-static >/dev/null || need_apt+=(qemu-user-static)
if [ ! -f /usr/lib/arm-linux-musleabihf/libc.a ]; then
  if ! dpkg --print-foreign-architectures | grep -qx armhf; then
    [ "$(id -u)" = 0 ] || { echo "test-deps: error: need root to add the armhf architecture (musl-dev:armhf)" >&2; exit 1; }
    dpkg --add-architecture armhf
  fi
  need_apt+=(musl-dev:armhf)
fi

if ((${#need_apt[@]})); then
  echo "test-deps: installing ${need_apt[*]} from Debian" >&2
  if [ "$(id -u)" != 0 ]; then
    echo "test-deps: error: need root to apt-get install ${need_apt[*]}" >&2
    exit 1
  fi
  apt-get update -qq
  # --no-install-recommends: prometheus would pull in a web UI and node
  # exporter; only promtool is wanted. Debian starts the etcd and
  # prometheus services it installs where systemd runs (nginx too, with the
  # default site on port 80): the tests start their own on free ports, so
  # stop those.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
  if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
    systemctl disable --now etcd prometheus nginx rsyslog >/dev/null 2>&1 || true
  fi
fi

# nginx and dnsmasq live in /usr/sbin, which a non-root PATH may lack.
for tool in file unshare grep script python3 etcd promtool systemd-notify socat nc.openbsd cc \
  qemu-system-x86_64 qemu-aarch64-static qemu-arm-static cpio; do
  command -v "$tool" >/dev/null || { echo "test-deps: error: $tool is still missing" >&2; exit 1; }
done
for tool in /usr/sbin/nginx /usr/sbin/dnsmasq /bin/busybox /usr/lib/arm-linux-musleabihf/libc.a; do
  [ -e "$tool" ] || { echo "test-deps: error: $tool is still missing" >&2; exit 1; }
done
ls /boot/vmlinuz-* >/dev/null 2>&1 || { echo "test-deps: error: no kernel in /boot (linux-image-amd64)" >&2; exit 1; }

# The log tests' tools (see above).
for tool in "${log_tools[@]}"; do
  command -v "$tool" >/dev/null || { echo "test-deps: error: $tool is still missing" >&2; exit 1; }
done

# The Docker and PID-namespace tests need root and the Docker engine; in CI
# they must run (the tests themselves fail there if they cannot).
if [ -n "${CI:-}" ]; then
  [ "$(id -u)" = 0 ] || { echo "test-deps: error: CI must run as root" >&2; exit 1; }
  docker info >/dev/null 2>&1 || { echo "test-deps: error: CI needs the Docker engine (docker info failed)" >&2; exit 1; }
fi
