//! Pidfiles of forking daemons, watched with inotify.
