/* A socket-activated server for the integration tests (systemd's protocol,
 * no libsystemd): checks LISTEN_PID == getpid() and LISTEN_FDS, then accepts
 * on fds 3..3+LISTEN_FDS-1 and answers each connection with one line, its
 * own pid ("PID\n"), and closes it. SIGTERM ends it (exit 0).
 *
 *   activate [DELAY_MS]   waits DELAY_MS before the first accept (a slow start:
 *                         clients queue in the backlog meanwhile)
 *
 * On stdout: "activate PID listening on N fds (NAMES)" once it accepts. A
 * wrong environment is an error on stderr and exit 3. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t got_term;
static void on_term(int s) { (void)s; got_term = 1; }

int main(int argc, char **argv) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_term; /* no SA_RESTART: poll returns EINTR */
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    const char *lpid = getenv("LISTEN_PID"), *lfds = getenv("LISTEN_FDS");
    const char *names = getenv("LISTEN_FDNAMES");
    if (!lpid || atol(lpid) != (long)getpid()) {
        fprintf(stderr, "activate: LISTEN_PID=%s is not my pid %d\n", lpid ? lpid : "(unset)",
                (int)getpid());
        return 3;
    }
    int n = lfds ? atoi(lfds) : 0;
    if (n < 1 || n > 64) {
        fprintf(stderr, "activate: LISTEN_FDS=%s: want 1..64\n", lfds ? lfds : "(unset)");
        return 3;
    }
    struct pollfd pfd[64];
    for (int i = 0; i < n; i++) {
        int type = 0;
        socklen_t tl = sizeof type;
        if (getsockopt(3 + i, SOL_SOCKET, SO_TYPE, &type, &tl) < 0 || type != SOCK_STREAM) {
            fprintf(stderr, "activate: fd %d is not a stream socket\n", 3 + i);
            return 3;
        }
        fcntl(3 + i, F_SETFD, FD_CLOEXEC);
        pfd[i].fd = 3 + i;
        pfd[i].events = POLLIN;
    }
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");
    if (argc > 1) {
        long ms = atol(argv[1]);
        struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    printf("activate %d listening on %d fds (%s)\n", (int)getpid(), n, names ? names : "");
    fflush(stdout);

    char line[32];
    int len = snprintf(line, sizeof line, "%d\n", (int)getpid());
    while (!got_term) {
        if (poll(pfd, (nfds_t)n, -1) < 0) {
            if (errno == EINTR)
                continue;
            perror("activate: poll");
            return 3;
        }
        for (int i = 0; i < n; i++) {
            if (!(pfd[i].revents & POLLIN))
                continue;
            int c = accept4(pfd[i].fd, NULL, NULL, SOCK_CLOEXEC);
            if (c < 0)
                continue; /* EAGAIN on a non-blocking copy, or the peer left */
            (void)!write(c, line, (size_t)len);
            close(c);
        }
    }
    printf("activate %d got TERM\n", (int)getpid());
    return 0;
}
