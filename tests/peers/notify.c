/* A notify-type service for the integration tests: speaks the raw sd_notify
 * protocol (one AF_UNIX SOCK_DGRAM datagram per message to $NOTIFY_SOCKET,
 * '@' meaning the abstract namespace) with no libsystemd, so the tests see
 * exactly what is sent and when.
 *
 *   notify ready [STATUS]       READY=1 (and STATUS=), then runs until SIGTERM
 *   notify status TEXT          STATUS=TEXT then READY=1, in one datagram
 *   notify mainpid PID          MAINPID=PID and READY=1, then runs
 *   notify silent               sends nothing (a start that never finishes)
 *   notify send MSG             sends MSG as it is (\n inside via argv), then runs
 *   notify ready-stamp FILE     appends CLOCK_MONOTONIC ns to FILE, then READY=1
 *                               (the readiness benchmark, scripts/bench.sh)
 *   notify watchdog             READY=1, then WATCHDOG=1 every WATCHDOG_USEC/2
 *                               until SIGUSR1 (then it goes quiet but lives on)
 *   notify fork-then-mainpid    forks; the parent sends MAINPID=<child> and
 *                               READY=1 and exits 0; the child runs until SIGTERM
 *
 * Every step is told on stdout (one line, flushed) so a test waits for lines,
 * never for time: "notify PID sent READY=1", "notify PID watchdog stopped",
 * "notify PID got TERM". SIGTERM sends STOPPING=1 and exits 0. Errors go to
 * stderr with exit 2. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t got_term, got_usr1;

static void on_term(int s) { (void)s; got_term = 1; }
static void on_usr1(int s) { (void)s; got_usr1 = 1; }

static void die(const char *what) {
    fprintf(stderr, "notify: %s: %s\n", what, strerror(errno));
    exit(2);
}

static void say(const char *fmt, const char *arg) {
    printf("notify %d ", (int)getpid());
    printf(fmt, arg);
    printf("\n");
    fflush(stdout);
}

/* One datagram to $NOTIFY_SOCKET. */
static void notify(const char *msg) {
    const char *path = getenv("NOTIFY_SOCKET");
    if (!path || !*path) {
        fprintf(stderr, "notify: NOTIFY_SOCKET is not set\n");
        exit(2);
    }
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    size_t n = strlen(path);
    if (n >= sizeof sa.sun_path) {
        fprintf(stderr, "notify: NOTIFY_SOCKET too long\n");
        exit(2);
    }
    memcpy(sa.sun_path, path, n);
    if (path[0] == '@')
        sa.sun_path[0] = 0; /* abstract: the length covers the name only */
    socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        die("socket");
    if (sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sa, len) < 0)
        die("sendto NOTIFY_SOCKET");
    close(fd);
    /* One stdout line per datagram: its newlines shown as spaces. */
    char line[4096];
    snprintf(line, sizeof line, "%s", msg);
    for (char *c = line; *c; c++)
        if (*c == '\n')
            *c = ' ';
    say("sent %s", line);
}

static void nap_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL); /* a signal cuts it short: the caller looks at the flags */
}

/* Runs until SIGTERM, then STOPPING=1 and exit 0. */
static void run(void) {
    while (!got_term)
        pause();
    say("got %s", "TERM");
    if (getenv("NOTIFY_SOCKET"))
        notify("STOPPING=1");
    exit(0);
}

int main(int argc, char **argv) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_term;
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_handler = on_usr1;
    sigaction(SIGUSR1, &sa, NULL);
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *mode = argc > 1 ? argv[1] : "ready";
    char buf[4096];

    if (!strcmp(mode, "ready")) {
        if (argc > 2) {
            snprintf(buf, sizeof buf, "READY=1\nSTATUS=%s", argv[2]);
            notify(buf);
        } else {
            notify("READY=1");
        }
        run();
    } else if (!strcmp(mode, "ready-stamp") && argc > 2) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        FILE *f = fopen(argv[2], "a");
        if (!f)
            die(argv[2]);
        fprintf(f, "%lld\n", (long long)now.tv_sec * 1000000000LL + now.tv_nsec);
        fclose(f);
        notify("READY=1");
        run();
    } else if (!strcmp(mode, "status") && argc > 2) {
        snprintf(buf, sizeof buf, "STATUS=%s\nREADY=1", argv[2]);
        notify(buf);
        run();
    } else if (!strcmp(mode, "mainpid") && argc > 2) {
        snprintf(buf, sizeof buf, "MAINPID=%s\nREADY=1", argv[2]);
        notify(buf);
        run();
    } else if (!strcmp(mode, "silent")) {
        say("%s", "silent");
        run();
    } else if (!strcmp(mode, "send") && argc > 2) {
        notify(argv[2]);
        run();
    } else if (!strcmp(mode, "watchdog")) {
        const char *usec = getenv("WATCHDOG_USEC"), *wpid = getenv("WATCHDOG_PID");
        if (!usec) {
            fprintf(stderr, "notify: WATCHDOG_USEC is not set\n");
            return 2;
        }
        if (wpid && atol(wpid) != (long)getpid()) {
            fprintf(stderr, "notify: WATCHDOG_PID=%s is not my pid %d\n", wpid, (int)getpid());
            return 2;
        }
        long half_ms = atol(usec) / 2000;
        if (half_ms < 1)
            half_ms = 1;
        notify("READY=1");
        while (!got_term && !got_usr1) {
            notify("WATCHDOG=1");
            nap_ms(half_ms);
        }
        if (got_usr1)
            say("%s", "watchdog stopped");
        run();
    } else if (!strcmp(mode, "fork-then-mainpid")) {
        pid_t kid = fork();
        if (kid < 0)
            die("fork");
        if (kid == 0) {
            say("%s", "child up");
            run();
        }
        snprintf(buf, sizeof buf, "MAINPID=%d\nREADY=1", (int)kid);
        notify(buf);
        say("%s", "parent exits");
        return 0;
    }
    fprintf(stderr,
            "usage: notify ready [STATUS] | ready-stamp FILE | status TEXT | mainpid PID | silent | send MSG | watchdog | fork-then-mainpid\n");
    return 2;
}
