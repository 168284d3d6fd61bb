//! Keeping as little as the law allows, for as short as it allows: scans
//! (accepted only when an agent cannot do without one) are sealed with the
//! régie's key and deleted when the appeal period of the decision ends;
//! applications go a configurable number of years after the entitlement
//! ends, forgotten drafts sooner; every deletion leaves a line in a log
//! that names no one. A household can take away all its data; the public
//! sees monthly counts only, small ones suppressed.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::Error;

/// The largest scan accepted.
pub const MAX_SCAN_BYTES: usize = 10 * 1024 * 1024;

/// What the agent uploads, checked: a PDF, JPEG or PNG of at most
/// [`MAX_SCAN_BYTES`], with what it shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanUpload {
    pub description: String,
    pub filename: String,
    pub content_type: &'static str,
    pub size_bytes: usize,
}

impl ScanUpload {
    /// The description alone, checked: a form shows its error beside
    /// that field, the file's errors beside the file.
    pub fn description(description: &str) -> Result<String, Error> {
        let description = description.trim();
        if description.is_empty() || description.chars().count() > 200 {
            return Err(Error::Invalid(
                "dites ce que montre la copie (par exemple « attestation CAF de septembre »)"
                    .into(),
            ));
        }
        Ok(description.to_owned())
    }

    /// Checks the upload; the type is read from the content's first bytes,
    /// not trusted from the browser.
    pub fn parse(description: &str, filename: &str, content: &[u8]) -> Result<Self, Error> {
        let description = Self::description(description)?;
        if content.is_empty() {
            return Err(Error::Invalid("le fichier est vide".into()));
        }
        if content.len() > MAX_SCAN_BYTES {
            return Err(Error::Invalid(format!(
                "le fichier dépasse {} Mo",
                MAX_SCAN_BYTES / (1024 * 1024)
            )));
        }
        let content_type = if content.starts_with(b"%PDF-") {
            "application/pdf"
        } else if content.starts_with(&[0xFF, 0xD8, 0xFF]) {
            "image/jpeg"
        } else if content.starts_with(b"\x89PNG\r\n\x1a\n") {
            "image/png"
        } else {
            return Err(Error::Invalid(
                "seuls les fichiers PDF, JPEG ou PNG sont acceptés".into(),
            ));
        };
        // Only the last path component, without control characters,
        // quotes or the marks that reverse the text's direction (U+202E
        // shows `facture<U+202E>fdp.exe` as `factureexe.pdf`): it goes back
        // out in a Content-Disposition header and on the agent's page.
        let base = filename.rsplit(['/', '\\']).next().unwrap_or_default();
        let clean: String = base
            .chars()
            .filter(|c| {
                !c.is_control()
                    && !matches!(c, '"' | ';')
                    && !matches!(u32::from(*c), 0x200E | 0x200F | 0x202A..=0x202E | 0x2066..=0x2069 | 0x061C)
            })
            .take(100)
            .collect();
        let filename = if clean.trim().is_empty() {
            "copie".to_owned()
        } else {
            clean.trim().to_owned()
        };
        Ok(ScanUpload {
            description,
            filename,
            content_type,
            size_bytes: content.len(),
        })
    }
}

/// The context a scan is sealed under: a sealed scan copied to another
/// application does not open there.
pub fn scan_context(application: &str, scan_id: &str) -> String {
    format!("social-tariff scan {application} {scan_id}")
}

/// A scan as listed (its content stays sealed in the database).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Scan {
    pub id: i64,
    pub application: String,
    pub description: String,
    pub filename: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub uploaded_by: String,
    pub uploaded_at: String,
    /// A random name the content is sealed under.
    #[serde(skip)]
    pub seal_id: String,
}

/// How long things are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Policy {
    /// Years an application (with its decisions, appeals and reminders)
    /// is kept after the end of the entitlement, or after the appeal
    /// period of a refusal.
    pub application_years: u32,
    /// Days a draft nobody touches is kept.
    pub draft_days: u32,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            application_years: 2,
            draft_days: 180,
        }
    }
}

impl Policy {
    /// The first day still kept: what ended before is deleted.
    pub fn application_cutoff(&self, today: NaiveDate) -> NaiveDate {
        today
            .checked_sub_months(chrono::Months::new(12 * self.application_years))
            .unwrap_or(NaiveDate::MIN)
    }

    pub fn draft_cutoff(&self, today: NaiveDate) -> NaiveDate {
        today
            .checked_sub_days(chrono::Days::new(u64::from(self.draft_days)))
            .unwrap_or(NaiveDate::MIN)
    }
}

/// What a retention run deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RetentionRun {
    pub scans: usize,
    pub applications: usize,
    pub drafts: usize,
}

/// One line of the deletion log: what went, when and by which rule; never
/// whose it was beyond the file number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Deletion {
    pub deleted_at: String,
    pub kind: String,
    pub reference: String,
    pub rule: String,
}

/// A count as published: exact from 10 up, otherwise only "fewer than 10",
/// so that nobody can be recognised in a small number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Count {
    Exact(u64),
    #[serde(serialize_with = "fewer_than_ten")]
    Suppressed,
}

fn fewer_than_ten<S: serde::Serializer>(s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str("<10")
}

/// Below this, a count is not published.
pub const SMALL_COUNT: u64 = 10;

impl Count {
    pub fn of(n: u64) -> Self {
        if n < SMALL_COUNT {
            Count::Suppressed
        } else {
            Count::Exact(n)
        }
    }

    /// As shown on the page.
    pub fn text(self) -> String {
        match self {
            Count::Exact(n) => n.to_string(),
            Count::Suppressed => "moins de 10".to_owned(),
        }
    }
}

/// Raw counts of one month, before suppression.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MonthCounts {
    pub applications: u64,
    pub granted: u64,
    pub refused: u64,
    pub grants: u64,
}

/// One month of the public indicators.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MonthIndicators {
    /// `YYYY-MM`.
    pub month: String,
    /// Applications submitted.
    pub applications: Count,
    /// Decisions granting the tariff.
    pub granted: Count,
    /// Decisions refusing it.
    pub refused: Count,
    /// Devices handed over.
    pub grants: Count,
}

impl MonthIndicators {
    pub fn publish(month: String, c: MonthCounts) -> Self {
        MonthIndicators {
            month,
            applications: Count::of(c.applications),
            granted: Count::of(c.granted),
            refused: Count::of(c.refused),
            grants: Count::of(c.grants),
        }
    }
}

/// The twelve months up to `today`'s, oldest first, as `YYYY-MM`.
pub fn last_twelve_months(today: NaiveDate) -> Vec<String> {
    (0..12u32)
        .rev()
        .filter_map(|back| today.checked_sub_months(chrono::Months::new(back)))
        .map(|d| d.format("%Y-%m").to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap_or_default()
    }

    #[test]
    fn scans_are_recognised_by_their_content_and_named_safely() {
        let pdf = b"%PDF-1.7 ...";
        let s = ScanUpload::parse("attestation CAF", "C:\\Users\\a\\caf \"2026\".pdf", pdf);
        let s = s.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.content_type, "application/pdf");
        assert_eq!(s.filename, "caf 2026.pdf");
        let reversed =
            ScanUpload::parse("x", "facture\u{202E}fdp.exe", pdf).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(reversed.filename, "facturefdp.exe");
        assert!(ScanUpload::parse(
            "x",
            "a.png",
            &[0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n']
        )
        .is_ok());
        assert!(ScanUpload::parse("x", "a.jpg", &[0xFF, 0xD8, 0xFF, 0xE0]).is_ok());
        assert!(ScanUpload::parse("x", "a.exe", b"MZ\x90\x00").is_err());
        assert!(ScanUpload::parse(" ", "a.pdf", pdf).is_err());
        assert!(ScanUpload::parse("x", "a.pdf", b"").is_err());
        let big = [b"%PDF-".as_slice(), &vec![0u8; MAX_SCAN_BYTES]].concat();
        assert!(ScanUpload::parse("x", "a.pdf", &big).is_err());
        assert_eq!(
            ScanUpload::parse("x", "", pdf)
                .map(|s| s.filename)
                .ok()
                .as_deref(),
            Some("copie")
        );
    }

    #[test]
    fn cutoffs_count_whole_years_and_days() {
        let p = Policy {
            application_years: 2,
            draft_days: 180,
        };
        assert_eq!(p.application_cutoff(day("2026-12-01")), day("2024-12-01"));
        assert_eq!(p.application_cutoff(day("2028-02-29")), day("2026-02-28"));
        assert_eq!(p.draft_cutoff(day("2026-12-01")), day("2026-06-04"));
    }

    #[test]
    fn counts_under_ten_are_never_published() {
        for n in 0..10 {
            assert_eq!(Count::of(n), Count::Suppressed, "{n}");
        }
        assert_eq!(Count::of(10), Count::Exact(10));
        assert_eq!(Count::of(9).text(), "moins de 10");
        let json = serde_json::to_value(MonthIndicators::publish(
            "2026-11".into(),
            MonthCounts {
                applications: 12,
                granted: 3,
                refused: 0,
                grants: 40,
            },
        ))
        .unwrap_or_default();
        assert_eq!(json["applications"], 12);
        assert_eq!(json["granted"], "<10");
        assert_eq!(json["refused"], "<10");
    }

    #[test]
    fn twelve_months_end_with_this_one() {
        let m = last_twelve_months(day("2026-03-31"));
        assert_eq!(m.len(), 12);
        assert_eq!(m.first().map(String::as_str), Some("2025-04"));
        assert_eq!(m.last().map(String::as_str), Some("2026-03"));
    }
}
