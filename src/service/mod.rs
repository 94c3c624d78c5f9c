//! The I/O parts of the service kinds beyond ContainerPilot's one process
//! per job: sd_notify sockets, pidfiles of forking daemons, listening
//! sockets (inetd and socket activation). Each is a small component the
//! supervisor drives from its loop; none of them knows about jobs.

pub mod listen;
pub mod notify;
pub mod pidfile;
