//! sd_notify: per-job datagram sockets and tug's own upward notifications.
