//! Rendering results: a table with a summary line, or one JSON object.

use std::io::Write as _;

use crate::sanitize;
use clap::ValueEnum;
use iotda_batchtask::bulk::BulkTargetResult;
use serde::Serialize;

/// `--output`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A table (target, status, error code, message) and a summary line.
    Table,
    /// `{"targets": [...], "request_ids": [...]}` on stdout, nothing else there.
    Json,
}

/// Per-target results and the request IDs they came from.
#[derive(Debug, Serialize)]
pub struct Rows {
    pub targets: Vec<BulkTargetResult>,
    pub request_ids: Vec<String>,
}

impl Rows {
    pub fn all_succeeded(&self) -> bool {
        self.targets.iter().all(BulkTargetResult::is_success)
    }
}

pub fn print(format: Format, rows: &Rows) {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    // A closed pipe (`| head`) is not worth a panic or an error exit.
    let _ = match format {
        Format::Json => serde_json::to_writer(&mut out, rows)
            .map_err(std::io::Error::other)
            .and_then(|()| writeln!(out)),
        Format::Table => write!(out, "{}", table(rows)),
    };
}

/// The table and the summary, as text.
pub fn table(rows: &Rows) -> String {
    let mut text = self::rows(rows);
    text.push_str(&summary(rows));
    text.push('\n');
    text
}

/// The table alone: a header and one line per target.
pub fn rows(rows: &Rows) -> String {
    let cells: Vec<[String; 4]> = rows
        .targets
        .iter()
        .map(|r| {
            [
                r.target.clone(),
                sanitize::cell(&r.status, 32),
                sanitize::cell(r.error_code.as_deref().unwrap_or(""), 40),
                sanitize::cell(r.error_msg.as_deref().unwrap_or(""), 160),
            ]
        })
        .collect();
    columns(&cells)
}

/// Four aligned columns under the header TARGET, STATUS, ERROR CODE,
/// MESSAGE. Cells must already be single-line (see `sanitize::cell`).
pub fn columns(cells: &[[String; 4]]) -> String {
    let header = ["TARGET", "STATUS", "ERROR CODE", "MESSAGE"].map(str::to_owned);
    let mut widths = header.clone().map(|h| h.chars().count());
    for row in cells {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut text = String::new();
    for row in std::iter::once(&header).chain(cells) {
        let line = format!(
            "{:<w0$}  {:<w1$}  {:<w2$}  {}",
            row[0],
            row[1],
            row[2],
            row[3],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2]
        );
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text
}

/// `2 of 3 targets stopped, 1 failed, 0 not attempted; 1 request (request id X)`.
pub fn summary(rows: &Rows) -> String {
    let total = rows.targets.len();
    let stopped = rows.targets.iter().filter(|r| r.is_success()).count();
    let not_attempted = rows.targets.iter().filter(|r| r.is_not_attempted()).count();
    let failed = total - stopped - not_attempted;
    let ids = match rows.request_ids.len() {
        0 => "no request id".to_owned(),
        1 => format!("request id {}", sanitize::cell(&rows.request_ids[0], 64)),
        _ => format!(
            "request ids {}",
            rows.request_ids
                .iter()
                .map(|id| sanitize::cell(id, 64))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    format!("{stopped} of {total} targets stopped, {failed} failed, {not_attempted} not attempted ({ids})")
}
