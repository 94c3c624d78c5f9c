/* `ready-baseline NOTIFY FILE1 STAMP FILE2`: the least any supervisor can do
 * between a service's READY=1 and its dependent's exec, as a reference for
 * tug's readiness latency (scripts/bench.sh, services section). It binds an
 * abstract AF_UNIX datagram socket, starts `NOTIFY ready-stamp FILE1` with
 * NOTIFY_SOCKET naming it, blocks in recv until a datagram with READY=1
 * comes, then fork+execs `STAMP FILE2` and waits for it; then it SIGTERMs
 * the notify process, reaps it and exits 0. No event loop, no config, no
 * logging: one blocking recv, one fork, one exec. The figure is FILE2's
 * stamp minus FILE1's, as for tug.
 *
 * Build: gcc -O2 -o ready-baseline ready-baseline.c
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static void die(const char *what) {
    perror(what);
    exit(2);
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: ready-baseline NOTIFY FILE1 STAMP FILE2\n");
        return 2;
    }
    char name[64];
    snprintf(name, sizeof name, "@ready-baseline-%d", (int)getpid());
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    size_t n = strlen(name);
    memcpy(sa.sun_path, name, n);
    sa.sun_path[0] = 0;
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        die("socket");
    if (bind(fd, (struct sockaddr *)&sa, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n)) < 0)
        die("bind");
    if (setenv("NOTIFY_SOCKET", name, 1) < 0)
        die("setenv");

    pid_t svc = fork();
    if (svc < 0)
        die("fork");
    if (svc == 0) {
        char *av[] = {argv[1], "ready-stamp", argv[2], NULL};
        int devnull = open("/dev/null", 1);
        if (devnull >= 0)
            dup2(devnull, 1); /* its "sent READY=1" line */
        execve(argv[1], av, environ);
        _exit(127);
    }
    char buf[4096];
    for (;;) {
        ssize_t got = recv(fd, buf, sizeof buf - 1, 0);
        if (got < 0)
            die("recv");
        buf[got] = 0;
        if (!strncmp(buf, "READY=1", 7) || strstr(buf, "\nREADY=1"))
            break;
    }
    pid_t dep = fork();
    if (dep < 0)
        die("fork");
    if (dep == 0) {
        char *av[] = {argv[3], argv[4], NULL};
        execve(argv[3], av, environ);
        _exit(127);
    }
    int st;
    waitpid(dep, &st, 0);
    kill(svc, SIGTERM);
    waitpid(svc, NULL, 0);
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1;
}
