# shellcheck shell=bash
# The `vm` section of scripts/bench.sh (sourced by it): tug against busybox
# init as the init of a VM, on Debian's kernel under qemu-system-x86_64
# (TCG: software emulation, so absolute times are slow; compare the two).
#
# One initramfs layout for both (cpio newc): the static job tests/vm/job.c
# as /vmjob, /dev/kmsg and /dev/console nodes, busybox as /bin/busybox,
# and /init: tug, or a symlink to busybox whose /etc/inittab runs the job
# once. The job writes "vmjob:exec" to /dev/kmsg first, so the kernel
# stamps it on the same clock as its own "Run /init as init process":
# their difference is the hand-off to the first job's exec. The job then
# writes "vmjob:poweroff" and sends SIGUSR2 to PID 1 (poweroff for both
# inits); from that line to the kernel's "reboot: Power down" (its last
# before the power goes) is the poweroff time. Kernel timestamps, not the
# host's clock: the serial console may show a /dev/kmsg line late.
#
# Knob: BENCH_VM_RUNS (5 boots per init).

VM_RUNS=${BENCH_VM_RUNS:-5}

vm_initramfs() { # vm_initramfs DIR INIT(tug|busybox) OUT
	local dir=$1 init=$2 out=$3
	rm -rf "$dir" && mkdir -p "$dir"/{bin,dev,etc,proc,sys,run}
	cp "$WORK/vmjob" "$dir/vmjob"
	cp /bin/busybox "$dir/bin/busybox"
	mknod "$dir/dev/console" c 5 1
	mknod "$dir/dev/kmsg" c 1 11
	echo benchvm >"$dir/etc/hostname"
	if [ "$init" = tug ]; then
		cp "$TUG" "$dir/init"
	else
		ln -s bin/busybox "$dir/init"
		printf '::once:/vmjob kmsg vmjob:exec kmsg vmjob:poweroff signal 12\n' >"$dir/etc/inittab"
	fi
	(cd "$dir" && find . | cpio -o -H newc --quiet) >"$out"
}

# Boots an initramfs; prints "HANDOFF_MS POWEROFF_MS".
vm_boot() {
	local initrd=$1 append=$2
	python3 - "$VMLINUZ" "$initrd" "$append" <<'EOF'
import re, subprocess, sys, time
vmlinuz, initrd, append = sys.argv[1:4]
q = subprocess.Popen(["qemu-system-x86_64", "-accel", "tcg", "-m", "256", "-display", "none",
    "-nic", "none", "-serial", "stdio", "-monitor", "none", "-no-reboot", "-kernel", vmlinuz,
    "-initrd", initrd, "-append", "console=ttyS0 panic=-1 " + append],
    stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
# The kernel stamps each on one clock: hand-off, the job's first line,
# its poweroff request, and the kernel's own last line before power-off.
KEYS = ("Run /init as init process", "vmjob:exec", "vmjob:poweroff", "reboot: Power down")
stamp = {}
deadline = time.monotonic() + 180
for raw in q.stdout:
    line = raw.decode(errors="replace").rstrip()
    m = re.match(r"\[\s*([0-9.]+)\] (.*)", line)
    if m:
        for key in KEYS:
            if m.group(2).startswith(key):
                stamp.setdefault(key, float(m.group(1)))
    if time.monotonic() > deadline:
        q.kill()
q.wait()
if q.returncode != 0 or len(stamp) < len(KEYS):
    sys.exit("bench-vm: boot failed (qemu %s, saw %s)" % (q.returncode, sorted(stamp)))
ms = lambda a, b: (stamp[b] - stamp[a]) * 1000
print("%.1f %.1f" % (ms(KEYS[0], KEYS[1]), ms(KEYS[2], KEYS[3])))
EOF
}

bench_vm() {
	log "section: VM init"
	VMLINUZ=$(ls /boot/vmlinuz-* 2>/dev/null | sort | tail -n 1)
	[ -n "$VMLINUZ" ] || die "no /boot/vmlinuz-* (linux-image-amd64)"
	command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 missing (qemu-system-x86)"
	[ -x /bin/busybox ] || die "/bin/busybox missing (busybox-static)"
	gcc -static -Os -o "$WORK/vmjob" "$ROOT/tests/vm/job.c" || die "gcc -static failed"
	vm_initramfs "$WORK/vm-tug" tug "$WORK/vm-tug.cpio"
	vm_initramfs "$WORK/vm-bb" busybox "$WORK/vm-bb.cpio"
	local i init r
	declare -A HAND POWER
	for init in tug busybox; do HAND[$init]="" POWER[$init]=""; done
	for ((i = 0; i < VM_RUNS; i++)); do
		for init in tug busybox; do
			if [ "$init" = tug ]; then
				r=$(vm_boot "$WORK/vm-tug.cpio" '-- /vmjob kmsg vmjob:exec kmsg vmjob:poweroff signal 12') || die "tug VM boot failed"
			else
				r=$(vm_boot "$WORK/vm-bb.cpio" "") || die "busybox VM boot failed"
			fi
			log "vm: $init run $((i + 1)): hand-off to exec, poweroff to exit (ms): $r"
			HAND[$init]+="${r% *} " POWER[$init]+="${r#* } "
		done
	done
	median() { tr ' ' '\n' | grep . | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
	local th tp bh bp
	th=$(echo "${HAND[tug]}" | median) tp=$(echo "${POWER[tug]}" | median)
	bh=$(echo "${HAND[busybox]}" | median) bp=$(echo "${POWER[busybox]}" | median)
	md "## VM init: tug and busybox init as a VM's PID 1" ""
	md "How measured: Debian's kernel $(basename "$VMLINUZ" | sed 's/vmlinuz-//') in qemu-system-x86_64" \
		"$(qemu-system-x86_64 --version | awk 'NR == 1 { print $4 }') under TCG (software emulation: absolute" \
		"times are slow, compare the two), 256 MB, \`console=ttyS0 panic=-1\`, $VM_RUNS boot(s) per init" \
		"alternating, medians shown. The same initramfs files for both (tests/vm/job.c static as /vmjob," \
		"/bin/busybox from busybox-static $(dpkg-query -W -f='${Version}' busybox-static 2>/dev/null)), /init" \
		"being tug (\`-- /vmjob ...\` on the kernel command line) or busybox init (\`::once:/vmjob ...\` in" \
		"/etc/inittab). **hand-off to exec**: the kernel's timestamps of its \"Run /init as init process\"" \
		"and of the job's first /dev/kmsg line; in that time tug also mounts /proc, /sys, /dev, /dev/pts," \
		"/dev/shm and /run, sets the host name, brings lo up and subscribes to ACPI events, busybox init" \
		"mounts nothing. **poweroff request to power-off**: the job writes a /dev/kmsg line and sends" \
		"SIGUSR2 to PID 1 (poweroff for both); from that line to the kernel's \"reboot: Power down\"" \
		"(kernel timestamps too: the host sees a /dev/kmsg line on the serial console late). busybox" \
		"init sleeps 1 s after its SIGTERM to everything and 1 s before reboot(2); tug waits only for" \
		"what is still running (here: its ACPI watcher, which exits at SIGTERM)." "" \
		"| init | hand-off to first job's exec | poweroff request to power-off |" \
		"|---|---|---|" \
		"| tug \`${INIT_VER[tug]:-}\` | $th ms | $tp ms |" \
		"| busybox init | $bh ms | $bp ms |" \
		"" \
		"Runs (ms): tug hand-off ${HAND[tug]}/ poweroff ${POWER[tug]}; busybox hand-off ${HAND[busybox]}/ poweroff ${POWER[busybox]}." ""
}
