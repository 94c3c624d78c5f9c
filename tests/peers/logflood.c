/* A syslog flood for the `logs` benchmark (scripts/bench-logs.sh): sends
 * COUNT messages of about 100 bytes to the unix datagram socket PATH, as
 * syslog(3) does (blocking sends: a full receiver holds the sender back),
 * each numbered so the receiver's file can be checked for losses.
 * Usage: logflood PATH SENDER COUNT. Exit 1 on a failed send. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc != 4)
        return 2;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    strncpy(sa.sun_path, argv[1], sizeof sa.sun_path - 1);
    int sender = atoi(argv[2]);
    long count = atol(argv[3]);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        perror("logflood: connect");
        return 1;
    }
    char msg[128];
    for (long k = 0; k < count; k++) {
        int n = snprintf(msg, sizeof msg,
                         "<14>flood[%d]: sender %d message %08ld "
                         "the quick brown fox jumps over the lazy dog 0123456789",
                         (int)getpid(), sender, k);
        if (send(fd, msg, (size_t)n, 0) != n) {
            perror("logflood: send");
            return 1;
        }
    }
    return 0;
}
