//! Output of helper processes (the emulator, etcd), kept for the failure
//! message of the test that ran them.

use std::io::{BufRead, BufReader, Read};
use std::sync::{Arc, Mutex, mpsc};

/// Appends each line of `pipe` to `log` on a thread, and sends it to `tx`
/// (for readiness lines) while someone listens.
pub fn drain(
    pipe: impl Read + Send + 'static,
    log: Arc<Mutex<String>>,
    tx: Option<mpsc::Sender<String>>,
) {
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            log.lock().unwrap().push_str(&format!("{line}\n"));
            if let Some(tx) = &tx {
                let _ = tx.send(line);
            }
        }
    });
}
