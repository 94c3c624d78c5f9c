//! Jobs: ContainerPilot's process model (jobs started by events, restarted,
//! health-checked, stopped in order) running inside tug's one loop.

pub mod engine;
pub mod machine;
pub mod output;

// The calendar is a leaf below the config (which checks cron expressions);
// its old paths stay for the engine and the fuzz targets.
pub use crate::calendar::{cron, timezone};
