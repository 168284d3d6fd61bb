//! PDF documents the régie sends: letters now, invoices later. A document
//! is a list of blocks (title, headings, paragraphs, address lines) laid
//! out on A4 pages with wrapped text, page numbers, and the DejaVu Sans
//! font embedded (subset), so every French character prints the same
//! everywhere and the file needs nothing from the reader's machine.

use krilla::geom::Point;
use krilla::metadata::Metadata;
use krilla::page::PageSettings;
use krilla::text::{Font, TextDirection};
use krilla::Document;

use crate::CoreError;

static REGULAR: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
static BOLD: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans-Bold.ttf");

/// One block of a document, in reading order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Block {
    /// The document's title, large and bold.
    Title(String),
    /// A section heading, bold.
    Heading(String),
    /// Running text, wrapped to the page width.
    Paragraph(String),
    /// Lines kept as they are (an address, references), each wrapped if
    /// too long.
    Lines(Vec<String>),
    /// Vertical space, in points.
    Space(u16),
    /// A table: a bold header row, then rows; each cell wrapped within its
    /// column.
    Table(Table),
}

/// A column of a [`Table`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub title: String,
    /// Its share of the page width, in parts of the sum of all shares.
    pub share: u16,
    /// Numbers are right-aligned.
    pub right: bool,
}

/// A table's columns and rows (each row one cell per column).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<String>>,
}

/// A document: its metadata and its blocks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pdf {
    pub title: String,
    pub author: String,
    pub blocks: Vec<Block>,
}

const PAGE_W: f32 = 595.28;
const PAGE_H: f32 = 841.89;
const MARGIN: f32 = 56.0;
const FOOTER: f32 = 36.0;

struct Style {
    bold: bool,
    size: f32,
    /// Space before the block.
    before: f32,
}

/// A line placed on a page.
struct Placed {
    page: usize,
    x: f32,
    y: f32,
    bold: bool,
    size: f32,
    text: String,
}

struct Metrics<'a> {
    regular: ttf_parser::Face<'a>,
    bold: ttf_parser::Face<'a>,
}

impl Metrics<'_> {
    fn width(&self, text: &str, bold: bool, size: f32) -> f32 {
        let face = if bold { &self.bold } else { &self.regular };
        let units = f32::from(face.units_per_em());
        text.chars()
            .map(|c| {
                face.glyph_index(c)
                    .and_then(|g| face.glyph_hor_advance(g))
                    .map_or(0.5 * units, f32::from)
            })
            .sum::<f32>()
            * size
            / units
    }

    /// Breaks `text` into lines no wider than `max`, at spaces; a word
    /// longer than a line is cut.
    fn wrap(&self, text: &str, bold: bool, size: f32, max: f32) -> Vec<String> {
        let mut lines = Vec::new();
        let mut line = String::new();
        for word in text.split_whitespace() {
            let candidate = if line.is_empty() {
                word.to_owned()
            } else {
                format!("{line} {word}")
            };
            if self.width(&candidate, bold, size) <= max {
                line = candidate;
                continue;
            }
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            // A single word wider than the line: cut it.
            let mut piece = String::new();
            for c in word.chars() {
                piece.push(c);
                if self.width(&piece, bold, size) > max {
                    piece.pop();
                    lines.push(std::mem::take(&mut piece));
                    piece.push(c);
                }
            }
            line = piece;
        }
        if !line.is_empty() || lines.is_empty() {
            lines.push(line);
        }
        lines
    }
}

fn style(block: &Block) -> Style {
    match block {
        Block::Title(_) => Style {
            bold: true,
            size: 16.0,
            before: 6.0,
        },
        Block::Heading(_) => Style {
            bold: true,
            size: 11.5,
            before: 14.0,
        },
        Block::Paragraph(_) => Style {
            bold: false,
            size: 10.0,
            before: 6.0,
        },
        Block::Lines(_) => Style {
            bold: false,
            size: 10.0,
            before: 0.0,
        },
        Block::Space(_) => Style {
            bold: false,
            size: 10.0,
            before: 0.0,
        },
        Block::Table(_) => Style {
            bold: false,
            size: 9.0,
            before: 8.0,
        },
    }
}

/// Places a table's rows from `y`, breaking pages between rows; answers
/// the page and y after it.
fn layout_table(
    table: &Table,
    metrics: &Metrics<'_>,
    placed: &mut Vec<Placed>,
    mut page: usize,
    mut y: f32,
) -> (usize, f32) {
    let width = PAGE_W - 2.0 * MARGIN;
    let bottom = PAGE_H - MARGIN - FOOTER;
    let size = 9.0;
    let leading = size * 1.4;
    let gap = 6.0;
    let total: f32 = table
        .columns
        .iter()
        .map(|c| f32::from(c.share.max(1)))
        .sum();
    let mut lefts = Vec::with_capacity(table.columns.len());
    let mut x = MARGIN;
    for c in &table.columns {
        let w = width * f32::from(c.share.max(1)) / total;
        lefts.push((x, w));
        x += w;
    }
    let header: Vec<String> = table.columns.iter().map(|c| c.title.clone()).collect();
    for (r, row) in std::iter::once(&header)
        .chain(table.rows.iter())
        .enumerate()
    {
        let bold = r == 0;
        let cells: Vec<Vec<String>> = table
            .columns
            .iter()
            .zip(&lefts)
            .enumerate()
            .map(|(i, (_, (_, w)))| {
                let text = row.get(i).map_or("", String::as_str);
                metrics.wrap(text, bold, size, (w - gap).max(10.0))
            })
            .collect();
        let height = cells.iter().map(Vec::len).max().unwrap_or(1).max(1);
        let row_h = leading * height as f32 + 2.0;
        if y + row_h > bottom && y > MARGIN {
            page += 1;
            y = MARGIN;
        }
        for (i, lines) in cells.iter().enumerate() {
            let (left, w) = lefts[i];
            for (k, text) in lines.iter().enumerate() {
                let x = if table.columns[i].right {
                    left + w - gap - metrics.width(text, bold, size)
                } else {
                    left
                };
                placed.push(Placed {
                    page,
                    x,
                    y: y + leading * (k as f32 + 1.0),
                    bold,
                    size,
                    text: text.clone(),
                });
            }
        }
        y += row_h;
    }
    (page, y)
}

/// Lays the blocks out on pages; a heading is never left alone at the
/// bottom of a page.
fn layout(blocks: &[Block], metrics: &Metrics<'_>) -> (Vec<Placed>, usize) {
    let width = PAGE_W - 2.0 * MARGIN;
    let bottom = PAGE_H - MARGIN - FOOTER;
    let mut placed = Vec::new();
    let mut page = 0;
    let mut y = MARGIN;
    for (i, block) in blocks.iter().enumerate() {
        let s = style(block);
        let leading = s.size * 1.4;
        let texts: Vec<String> = match block {
            Block::Title(t) | Block::Heading(t) | Block::Paragraph(t) => {
                metrics.wrap(t, s.bold, s.size, width)
            }
            Block::Lines(lines) => lines
                .iter()
                .flat_map(|l| metrics.wrap(l, s.bold, s.size, width))
                .collect(),
            Block::Space(points) => {
                y += f32::from(*points);
                continue;
            }
            Block::Table(table) => {
                y += s.before;
                (page, y) = layout_table(table, metrics, &mut placed, page, y);
                continue;
            }
        };
        y += s.before;
        // Keep a heading with the first two lines of what follows.
        let keep = if matches!(block, Block::Heading(_)) {
            let next = blocks.get(i + 1).map_or(0.0, |b| style(b).size * 1.4 * 2.0);
            leading + next
        } else {
            leading
        };
        if y + keep > bottom && y > MARGIN {
            page += 1;
            y = MARGIN;
        }
        for text in texts {
            if y + leading > bottom {
                page += 1;
                y = MARGIN;
            }
            y += leading;
            placed.push(Placed {
                page,
                x: MARGIN,
                y,
                bold: s.bold,
                size: s.size,
                text,
            });
        }
    }
    (placed, page + 1)
}

/// Renders a document to PDF bytes.
pub fn render(doc: &Pdf) -> Result<Vec<u8>, CoreError> {
    let font_error = |what: &str| CoreError::Pdf(format!("police {what} illisible"));
    let metrics = Metrics {
        regular: ttf_parser::Face::parse(REGULAR, 0).map_err(|_| font_error("normale"))?,
        bold: ttf_parser::Face::parse(BOLD, 0).map_err(|_| font_error("grasse"))?,
    };
    let regular = Font::new(REGULAR.into(), 0).ok_or_else(|| font_error("normale"))?;
    let bold = Font::new(BOLD.into(), 0).ok_or_else(|| font_error("grasse"))?;
    let (placed, pages) = layout(&doc.blocks, &metrics);
    let mut document = Document::new();
    document.set_metadata(
        Metadata::new()
            .title(doc.title.clone())
            .authors(vec![doc.author.clone()])
            .language("fr".into())
            .creator("Régie".into()),
    );
    let settings = PageSettings::from_wh(PAGE_W, PAGE_H)
        .ok_or_else(|| CoreError::Pdf("format de page invalide".into()))?;
    for n in 0..pages {
        let mut page = document.start_page_with(settings.clone());
        let mut surface = page.surface();
        for line in placed.iter().filter(|l| l.page == n) {
            let font = if line.bold {
                bold.clone()
            } else {
                regular.clone()
            };
            surface.draw_text(
                Point::from_xy(line.x, line.y),
                font,
                line.size,
                &line.text,
                false,
                TextDirection::Auto,
            );
        }
        let footer = format!("{} — page {} sur {}", doc.title, n + 1, pages);
        surface.draw_text(
            Point::from_xy(MARGIN, PAGE_H - MARGIN + 8.0),
            regular.clone(),
            8.0,
            &footer,
            false,
            TextDirection::Auto,
        );
        surface.finish();
        page.finish();
    }
    document
        .finish()
        .map_err(|e| CoreError::Pdf(format!("{e:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metrics() -> Metrics<'static> {
        Metrics {
            regular: ttf_parser::Face::parse(REGULAR, 0).unwrap_or_else(|e| panic!("{e}")),
            bold: ttf_parser::Face::parse(BOLD, 0).unwrap_or_else(|e| panic!("{e}")),
        }
    }

    #[test]
    fn wrapping_keeps_every_word_within_the_width() {
        let m = metrics();
        let text = "Vous pouvez demander à la régie les règles de ce traitement et la façon dont elles vous ont été appliquées. ".repeat(5);
        let lines = m.wrap(&text, false, 10.0, 200.0);
        assert!(lines.len() > 5);
        for l in &lines {
            assert!(m.width(l, false, 10.0) <= 200.0, "{l}");
        }
        assert_eq!(lines.join(" "), text.trim());
        // A word longer than the line is cut, not lost.
        let long = "x".repeat(200);
        assert_eq!(m.wrap(&long, false, 10.0, 100.0).concat(), long);
    }

    #[test]
    fn tables_align_numbers_right_and_break_between_rows() {
        let m = metrics();
        let table = Table {
            columns: vec![
                Column {
                    title: "Désignation".into(),
                    share: 3,
                    right: false,
                },
                Column {
                    title: "Montant".into(),
                    share: 1,
                    right: true,
                },
            ],
            rows: (0..80)
                .map(|i| {
                    vec![
                        format!(
                            "Ligne {i} avec un libellé assez long pour passer à la ligne suivante"
                        ),
                        "1 234,50 €".into(),
                    ]
                })
                .collect(),
        };
        let mut placed = Vec::new();
        let (page, _) = layout_table(&table, &m, &mut placed, 0, MARGIN);
        assert!(page >= 1, "80 wrapped rows take more than a page");
        let right_edge = PAGE_W - MARGIN - 6.0;
        for p in placed.iter().filter(|p| p.text == "1 234,50 €") {
            assert!((p.x + m.width(&p.text, false, 9.0) - right_edge).abs() < 0.01);
        }
        assert!(placed.iter().all(|p| p.y <= PAGE_H - MARGIN - FOOTER));
        assert!(placed.iter().any(|p| p.bold && p.text == "Désignation"));
    }

    #[test]
    fn long_documents_break_into_numbered_pages() {
        let blocks: Vec<Block> = (0..120)
            .map(|i| {
                Block::Paragraph(format!(
                    "Paragraphe {i} : une ligne de texte français accentué, éàçù."
                ))
            })
            .collect();
        let (placed, pages) = layout(&blocks, &metrics());
        assert!(pages >= 3, "{pages}");
        assert!(placed.iter().all(|l| l.y <= PAGE_H - MARGIN - FOOTER));
        let pdf = render(&Pdf {
            title: "Essai".into(),
            author: "Régie".into(),
            blocks,
        })
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(pdf.starts_with(b"%PDF-"));
        let text = String::from_utf8_lossy(&pdf);
        assert!(
            text.contains(&format!("/Count {pages}")),
            "the page tree holds {pages} pages"
        );
        assert!(text.trim_end().ends_with("%%EOF"));
    }
}
