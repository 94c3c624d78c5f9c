/* A syslog(3) client for tests/logs.rs: openlog(LOG_PID | LOG_PERROR),
 * then N messages (argv[2], default 3) at local2.info, one of them UTF-8,
 * one at local2.err. Built with glibc's cc, or statically with musl-gcc:
 * both libcs send to /dev/log, which the test points at tug's socket. */
#include <stdlib.h>
#include <syslog.h>

int main(int argc, char **argv) {
    const char *ident = argc > 1 ? argv[1] : "cpeer";
    int n = argc > 2 ? atoi(argv[2]) : 3;
    openlog(ident, LOG_PID | LOG_PERROR, LOG_LOCAL2);
    for (int i = 0; i < n; i++)
        syslog(LOG_INFO, "message %d", i);
    syslog(LOG_INFO, "caf\xc3\xa9 \xf0\x9f\x98\x80");
    syslog(LOG_ERR, "an error: %s", "done");
    closelog();
    return 0;
}
