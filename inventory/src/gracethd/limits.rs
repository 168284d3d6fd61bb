//! What a delivery may make the server hold. A stranger's zip of a few
//! hundred kilobytes must not make it hold gigabytes: every size a delivery
//! controls is bounded here, with defaults sized for a 700,000-premises
//! department (some 4 million fibres, 3 million positions) and configurable.

/// The bounds on a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest line of a CSV file, in bytes (a quoted field spanning lines
    /// counts as one line).
    pub max_line_bytes: usize,
    /// Longest field, in bytes (GraceTHD's longest text, a comment, is 254
    /// characters).
    pub max_field_bytes: usize,
    /// Most rows per table.
    pub max_rows: usize,
    /// Most problems listed in a report (the rest are counted).
    pub max_issues: usize,
    /// Most bytes an archive may unpack to.
    pub max_unpacked_bytes: u64,
    /// Most a file may grow when unpacked (unpacked ÷ compressed).
    pub max_ratio: u64,
    /// Most files in an archive.
    pub max_entries: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_line_bytes: 64 << 10,
            max_field_bytes: 4 << 10,
            max_rows: 10_000_000,
            max_issues: crate::gracethd::report::DEFAULT_KEPT_ISSUES,
            max_unpacked_bytes: 2 << 30,
            max_ratio: 200,
            max_entries: 2_000,
        }
    }
}
