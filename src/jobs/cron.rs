// TEMPORARY STUB (the real module is being written): API only.
use alloc::string::String;
pub struct Schedule;
#[derive(Debug, PartialEq, Eq)]
pub struct CronError(pub String);
impl core::fmt::Display for CronError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.0)
    }
}
impl Schedule {
    pub fn parse(_e: &str) -> Result<Schedule, CronError> {
        Ok(Schedule)
    }
    pub fn next_after(&self, a: i64, _z: &super::timezone::Zone) -> Option<i64> {
        Some(a + 60)
    }
}
