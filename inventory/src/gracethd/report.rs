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

/// All the problems of a delivery, in the order found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub issues: Vec<Issue>,
}

impl Report {
    pub fn push(&mut self, issue: Issue) {
        self.issues.push(issue);
    }

    pub fn errors(&self) -> impl Iterator<Item = &Issue> {
        self.issues.iter().filter(|i| i.severity == Severity::Error)
    }

    pub fn warnings(&self) -> impl Iterator<Item = &Issue> {
        self.issues
            .iter()
            .filter(|i| i.severity == Severity::Warning)
    }

    pub fn has_errors(&self) -> bool {
        self.errors().next().is_some()
    }
}
