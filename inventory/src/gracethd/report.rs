//! The validation report of a delivery: every problem with its file, line,
//! field and reason.

use serde::Serialize;

/// How serious a problem is: an error stops the import (nothing is
/// written), a warning is imported and listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Error,
    Warning,
}

/// One problem found in a delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Issue {
    pub severity: Severity,
    pub file: String,
    /// Line in the file (1 is the header; 0 when the file itself is at fault).
    pub line: u64,
    /// The column at fault, when one is.
    pub field: String,
    pub reason: String,
}

impl Issue {
    pub fn error(file: &str, line: u64, field: &str, reason: &str) -> Self {
        Self {
            severity: Severity::Error,
            file: file.into(),
            line,
            field: field.into(),
            reason: reason.into(),
        }
    }

    pub fn warning(file: &str, line: u64, field: &str, reason: &str) -> Self {
        Self {
            severity: Severity::Warning,
            file: file.into(),
            line,
            field: field.into(),
            reason: reason.into(),
        }
    }
}

impl std::fmt::Display for Issue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = match self.severity {
            Severity::Error => "erreur",
            Severity::Warning => "avertissement",
        };
        write!(f, "{what} {}:{}", self.file, self.line)?;
        if !self.field.is_empty() {
            write!(f, " [{}]", self.field)?;
        }
        write!(f, " {}", self.reason)
    }
}

/// How many problems a report keeps by default: a delivery with millions
/// of faulty rows must not make the server hold (or answer) millions of
/// issues. The rest are counted.
pub const DEFAULT_KEPT_ISSUES: usize = 1000;

/// The problems of a delivery, in the order found: the first ones kept
/// with their file, line and reason, every one counted.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The first problems found (at most the report's cap).
    pub issues: Vec<Issue>,
    /// Errors found, kept or not.
    pub error_count: u64,
    /// Warnings found, kept or not.
    pub warning_count: u64,
    /// Problems found beyond the cap, counted but not listed.
    pub left_out: u64,
    #[serde(skip)]
    cap: usize,
}

impl Default for Report {
    fn default() -> Self {
        Self::with_cap(DEFAULT_KEPT_ISSUES)
    }
}

impl Report {
    /// A report that keeps at most `cap` issues (at least one).
    pub fn with_cap(cap: usize) -> Self {
        Self {
            issues: Vec::new(),
            error_count: 0,
            warning_count: 0,
            left_out: 0,
            cap: cap.max(1),
        }
    }

    pub fn push(&mut self, issue: Issue) {
        match issue.severity {
            Severity::Error => self.error_count += 1,
            Severity::Warning => self.warning_count += 1,
        }
        if self.issues.len() < self.cap {
            self.issues.push(issue);
        } else {
            self.left_out += 1;
        }
    }

    /// Adds another report's problems (found by a helper thread).
    pub fn absorb(&mut self, other: Report) {
        self.error_count += other.error_count;
        self.warning_count += other.warning_count;
        self.left_out += other.left_out;
        for issue in other.issues {
            if self.issues.len() < self.cap {
                self.issues.push(issue);
            } else {
                self.left_out += 1;
            }
        }
    }

    /// The errors kept.
    pub fn errors(&self) -> impl Iterator<Item = &Issue> {
        self.issues.iter().filter(|i| i.severity == Severity::Error)
    }

    /// The warnings kept.
    pub fn warnings(&self) -> impl Iterator<Item = &Issue> {
        self.issues
            .iter()
            .filter(|i| i.severity == Severity::Warning)
    }

    pub fn has_errors(&self) -> bool {
        self.error_count > 0
    }

    /// Whether the report can take no more issues (what follows is only
    /// counted).
    pub fn is_full(&self) -> bool {
        self.issues.len() >= self.cap
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_first_issues_and_counts_every_one() {
        let mut r = Report::with_cap(3);
        for line in 0..10 {
            r.push(Issue::error("t_fibre.csv", line, "fo_code", "doublon"));
        }
        r.push(Issue::warning("t_fibre.csv", 11, "", "avertissement"));
        assert_eq!(r.issues.len(), 3);
        assert_eq!(r.issues[2].line, 2);
        assert_eq!((r.error_count, r.warning_count, r.left_out), (10, 1, 8));
        assert!(r.has_errors());
        let mut whole = Report::with_cap(4);
        whole.push(Issue::warning("a", 1, "", "w"));
        whole.absorb(r);
        assert_eq!(whole.issues.len(), 4);
        assert_eq!(
            (whole.error_count, whole.warning_count, whole.left_out),
            (10, 2, 8)
        );
        whole.push(Issue::warning("a", 2, "", "w"));
        assert_eq!(whole.left_out, 9);
    }
}
