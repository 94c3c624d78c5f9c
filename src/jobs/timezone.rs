// TEMPORARY STUB (the real module is being written): API only.
use alloc::string::String;
pub enum Zone {
    Utc,
}
impl Zone {
    pub fn from_tzif(_b: &[u8]) -> Result<Zone, String> {
        Ok(Zone::Utc)
    }
    pub fn from_posix(_s: &str) -> Result<Zone, String> {
        Ok(Zone::Utc)
    }
}
pub enum LocalSource {
    File(String),
    Posix(String),
}
pub fn local_source(_tz: Option<&str>) -> LocalSource {
    LocalSource::File(String::from("/etc/localtime"))
}
