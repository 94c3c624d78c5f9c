/* vmjob: the job the VM tests (tests/vm.rs) and `make bench`'s vm section
 * run under the init being tested. Built with gcc -static. Its arguments
 * are steps, run in order:
 *   report      print what the init set up: each mount ("mount: DIR TYPE"),
 *               "hostname: NAME", "lo: up" or "lo: down", then "vmjob: ran"
 *   insmod PATH load a kernel module (the ACPI button driver)
 *   kmsg TEXT   write TEXT to /dev/kmsg (a kernel-timestamped mark)
 *   signal N    send signal N to PID 1
 *   say TEXT    print TEXT
 *   touch PATH  create the file PATH
 *   exists PATH exit 1 unless PATH exists (a health check)
 *   wait        block until a signal comes
 * On SIGTERM (handled from the start) it prints "vmjob: got SIGTERM" and
 * exits 0.
 *   exit N      exit with code N
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

static void report(void) {
	char line[512], dir[256], type[64];
	FILE *m = fopen("/proc/self/mounts", "r");
	while (m && fgets(line, sizeof line, m))
		if (sscanf(line, "%*s %255s %63s", dir, type) == 2)
			printf("mount: %s %s\n", dir, type);
	if (m) fclose(m);
	char host[256] = "";
	gethostname(host, sizeof host);
	printf("hostname: %s\n", host);
	struct ifreq ifr = {0};
	strcpy(ifr.ifr_name, "lo");
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	int up = s >= 0 && ioctl(s, SIOCGIFFLAGS, &ifr) == 0 && (ifr.ifr_flags & IFF_UP);
	printf("lo: %s\n", up ? "up" : "down");
	printf("vmjob: ran\n");
}

static void on_term(int sig) {
	(void)sig;
	static const char msg[] = "vmjob: got SIGTERM\n";
	write(1, msg, sizeof msg - 1);
	_exit(0);
}

int main(int argc, char **argv) {
	setvbuf(stdout, NULL, _IONBF, 0);
	signal(SIGTERM, on_term);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : "";
		if (!strcmp(a, "report")) {
			report();
		} else if (!strcmp(a, "insmod")) {
			int fd = open(v, O_RDONLY | O_CLOEXEC);
			if (fd < 0 || syscall(SYS_finit_module, fd, "", 0) != 0)
				perror("vmjob: insmod");
			i++;
		} else if (!strcmp(a, "kmsg")) {
			int fd = open("/dev/kmsg", O_WRONLY);
			if (fd < 0 || write(fd, v, strlen(v)) < 0)
				perror("vmjob: kmsg");
			i++;
		} else if (!strcmp(a, "signal")) {
			kill(1, atoi(v));
			i++;
		} else if (!strcmp(a, "say")) {
			printf("%s\n", v);
			i++;
		} else if (!strcmp(a, "touch")) {
			close(open(v, O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
			i++;
		} else if (!strcmp(a, "exists")) {
			if (access(v, F_OK) != 0)
				return 1;
			i++;
		} else if (!strcmp(a, "wait")) {
			for (;;) pause();
		} else if (!strcmp(a, "exit")) {
			return atoi(v);
		}
	}
	return 0;
}
