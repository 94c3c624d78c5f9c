// TEMPORARY STUB (the real module is being written): API only.
use alloc::string::String;
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemplateError {
    pub line: u32,
    pub col: u32,
    pub msg: String,
}
impl core::fmt::Display for TemplateError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}:{}: {}", self.line, self.col, self.msg)
    }
}
pub fn render(
    text: &str,
    _lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<String, TemplateError> {
    Ok(String::from(text))
}
