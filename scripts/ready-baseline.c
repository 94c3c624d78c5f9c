/* `ready-baseline NOTIFY FILE1 STAMP FILE2`: the least any supervisor can do
 * between a service's READY=1 and its dependent's exec, as a reference for
 * tug's readiness latency (scripts/bench.sh, services section). It binds an
 * abstract AF_UNIX datagram socket, starts `NOTIFY ready-stamp FILE1` with
 * NOTIFY_SOCKET naming it and its stdout on a pipe, and polls both: lines
 * from the pipe are copied to stderr (tug logs a job's output too, and
 * notify.c tells "sent READY=1" on stdout, so both parents have that line
 * to handle, before the datagram when both are ready at once, as tug does),
 * until a datagram with READY=1 comes; then it fork+execs `STAMP FILE2` and
 * waits for it, SIGTERMs the notify process, reaps it and exits 0. No
 * config, no timers, no bookkeeping: one poll, one fork, one exec. The
 * figure is FILE2's stamp minus FILE1's, as for tug.
 *
 * Build: gcc -O2 -o ready-baseline ready-baseline.c
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
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

    int out[2];
    if (pipe2(out, O_CLOEXEC) < 0)
        die("pipe2");
    pid_t svc = fork();
    if (svc < 0)
        die("fork");
    if (svc == 0) {
        char *av[] = {argv[1], "ready-stamp", argv[2], NULL};
        dup2(out[1], 1);
        execve(argv[1], av, environ);
        _exit(127);
    }
    close(out[1]);
    char buf[4096];
    struct pollfd pf[2] = {{.fd = out[0], .events = POLLIN}, {.fd = fd, .events = POLLIN}};
    for (int ready = 0; !ready;) {
        if (poll(pf, 2, -1) < 0)
            die("poll");
        if (pf[0].revents) {
            ssize_t got = read(out[0], buf, sizeof buf);
            if (got > 0)
                (void)!write(2, buf, (size_t)got);
            else
                pf[0].fd = -1; /* EOF: poll ignores it from now on */
        }
        if (pf[1].revents & POLLIN) {
            ssize_t got = recv(fd, buf, sizeof buf - 1, MSG_DONTWAIT);
            if (got < 0)
                die("recv");
            buf[got] = 0;
            ready = !strncmp(buf, "READY=1", 7) || strstr(buf, "\nREADY=1");
        }
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
