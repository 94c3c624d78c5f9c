//! Jobs: ContainerPilot's process model (jobs started by events, restarted,
//! health-checked, stopped in order) running inside tug's one loop.

pub mod cron;
pub mod engine;
pub mod machine;
pub mod netcheck;
pub mod output;
pub mod timezone;
pub mod words;
