//! Rendering the report of a stop, retry or confirm: a table with a summary
//! line, or one JSON object, and the exit code the outcomes give.

use crate::operation::Op;
use crate::sanitize;
use clap::ValueEnum;
use iotda_batchtask::outcome::{Failed, Succeeded, TargetOutcome, TargetsReport, Unknown};
use iotda_batchtask::{Error, TargetResult};
use serde::Serialize;

/// `--output`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A table (target, status, error code, message) and a summary line.
    Table,
    /// `{"targets": [{"target", "status", "evidence", "error_code",
    /// "error_msg", "request_id"}], "request_ids": [...],
    /// "duplicates_dropped": N}` on stdout, nothing else there.
    Json,
}

/// `status` of a target the operation applied to (stopped, retried,
/// confirmed).
pub const SUCCESS: &str = "success";
/// `status` of a target the operation did not apply to.
pub const FAILURE: &str = "failure";
/// `status` of a target whose request may or may not have been processed.
pub const UNKNOWN: &str = "unknown";
/// `status` of a target never sent.
pub const NOT_ATTEMPTED: &str = "not_attempted";

/// Codes the CLI puts in `error_code` where Huawei supplied none. They start
/// with `CLIENT.` so they never collide with `IOTDA.`/`APIGW.` codes.
pub mod codes {
    /// The request could not be sent or its answer not received.
    pub const TRANSPORT: &str = "CLIENT.TRANSPORT";
    /// No answer in time.
    pub const TIMEOUT: &str = "CLIENT.TIMEOUT";
    /// The answer was not the documented JSON.
    pub const DECODE: &str = "CLIENT.DECODE";
    /// The answer exceeded the size cap.
    pub const RESPONSE_TOO_LARGE: &str = "CLIENT.RESPONSE_TOO_LARGE";
    /// The answer had no usable entry for this target.
    pub const NO_RESULT: &str = "CLIENT.NO_RESULT";
    /// Interrupted while the request was in flight.
    pub const INTERRUPTED: &str = "CLIENT.INTERRUPTED";
    /// Interrupted before the request was sent.
    pub const CANCELLED: &str = "CLIENT.CANCELLED";
    /// A read found no sub-task for this target.
    pub const NOT_IN_TASK: &str = "CLIENT.NOT_IN_TASK";
    /// A read found the sub-task in another state.
    pub const SUB_TASK_STATE: &str = "CLIENT.SUB_TASK_STATE";
    /// Prefix of `HTTP.<status>`, for an error status without a Huawei code.
    pub const HTTP_PREFIX: &str = "HTTP.";
}

/// One target's row.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// The device ID.
    pub target: String,
    /// [`SUCCESS`], [`FAILURE`], [`UNKNOWN`] or [`NOT_ATTEMPTED`].
    pub status: &'static str,
    /// How the status is known: `answer` (the server's per-target answer),
    /// `read` (ShowBatchTask after an ambiguous attempt), `request` (the
    /// whole request's fate), or `none`.
    pub evidence: &'static str,
    /// Huawei's code, or one of [`codes`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// The error message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_msg: Option<String>,
    /// The request ID of the answer or read the row rests on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

impl Row {
    /// The row of one target's outcome under `op`.
    pub fn of(op: Op, result: &TargetResult) -> Self {
        let request_id = result.request_id().map(str::to_owned);
        let (status, evidence, error_code, error_msg) = match &result.outcome {
            TargetOutcome::Succeeded(Succeeded::Answered { .. }) => (SUCCESS, "answer", None, None),
            TargetOutcome::Succeeded(Succeeded::ConfirmedByRead { .. }) => (
                SUCCESS,
                "read",
                None,
                Some(format!(
                    "the answer was lost; a read found the sub-task {}",
                    op.done_statuses()
                )),
            ),
            TargetOutcome::Failed(Failed::Answered {
                error_code, error_msg, ..
            }) => (FAILURE, "answer", error_code.clone(), error_msg.clone()),
            TargetOutcome::Failed(Failed::Refused(error)) => {
                (FAILURE, "request", Some(code_of(error)), Some(error.to_string()))
            }
            TargetOutcome::Failed(Failed::ConfirmedByRead { status: None, .. }) => (
                FAILURE,
                "read",
                Some(codes::NOT_IN_TASK.to_owned()),
                Some("a read found no sub-task for this device in the task".to_owned()),
            ),
            TargetOutcome::Failed(Failed::ConfirmedByRead {
                status: Some(status), ..
            }) => (
                FAILURE,
                "read",
                Some(codes::SUB_TASK_STATE.to_owned()),
                Some(format!(
                    "a read found the sub-task {status}, not {}",
                    op.done_statuses()
                )),
            ),
            TargetOutcome::Failed(Failed::NotApplicable { before, status, .. }) => (
                FAILURE,
                "read",
                Some(codes::SUB_TASK_STATE.to_owned()),
                Some(format!(
                    "the answer was lost; a read before sending found the sub-task {}, which a {} does not act on \
                     (now {})",
                    before,
                    op.name(),
                    status.as_deref().unwrap_or("absent"),
                )),
            ),
            TargetOutcome::Unknown(Unknown::Error(error)) => (
                UNKNOWN,
                "request",
                Some(code_of(error)),
                Some(format!("{error}; the {} may have been processed", op.name())),
            ),
            TargetOutcome::Unknown(Unknown::Unanswered { status, .. }) => (
                UNKNOWN,
                "answer",
                Some(codes::NO_RESULT.to_owned()),
                Some(match status {
                    Some(status) => format!("the answer's status {status:?} is not success or failure"),
                    None => "the answer had no result for this target".to_owned(),
                }),
            ),
            TargetOutcome::Unknown(Unknown::Interrupted) => (
                UNKNOWN,
                "none",
                Some(codes::INTERRUPTED.to_owned()),
                Some("interrupted while the request was in flight; it may have been processed".to_owned()),
            ),
            TargetOutcome::NotAttempted => (
                NOT_ATTEMPTED,
                "none",
                Some(codes::CANCELLED.to_owned()),
                Some("interrupted before this request was sent".to_owned()),
            ),
            // A newer library's outcome this CLI does not know: claim nothing.
            #[allow(unreachable_patterns)]
            _ => (UNKNOWN, "none", None, None),
        };
        Row {
            target: result.target.clone(),
            status,
            evidence,
            error_code,
            error_msg,
            request_id,
        }
    }
}

/// The code a failed request gives its targets.
fn code_of(error: &Error) -> String {
    match error {
        Error::Api(api) => api
            .error_code
            .clone()
            .unwrap_or_else(|| format!("{}{}", codes::HTTP_PREFIX, api.status)),
        Error::Timeout { .. } => codes::TIMEOUT.to_owned(),
        Error::Decode { .. } => codes::DECODE.to_owned(),
        Error::ResponseTooLarge { .. } => codes::RESPONSE_TOO_LARGE.to_owned(),
        _ => codes::TRANSPORT.to_owned(),
    }
}

/// A report as rows.
#[derive(Debug, Serialize)]
pub struct Rows {
    /// What a success is called in the summary (`stopped`, ...).
    #[serde(skip)]
    pub done: &'static str,
    /// After an `--all` whose answer was lost: whether the read of the task
    /// showed the call applied.
    #[serde(skip)]
    pub applied: Option<bool>,
    /// One row per target.
    pub targets: Vec<Row>,
    /// Every request ID received, stops and reads.
    pub request_ids: Vec<String>,
    /// Repeated targets dropped before sending.
    pub duplicates_dropped: usize,
    /// After an `--all` whose answer was lost: the task's status as read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_status: Option<String>,
}

impl Rows {
    /// The rows of a report of `op`.
    pub fn of(op: Op, report: &TargetsReport) -> Self {
        Rows {
            done: op.done(),
            applied: report.applied(),
            targets: report.results().iter().map(|r| Row::of(op, r)).collect(),
            request_ids: report.request_ids().to_vec(),
            duplicates_dropped: report.duplicates_dropped(),
            task_status: report.task_status().map(str::to_owned),
        }
    }

    fn count(&self, status: &str) -> usize {
        self.targets.iter().filter(|r| r.status == status).count()
    }

    /// The exit code the outcomes give, the same for the same outcomes:
    /// 4 when any is unknown; else 0 when the operation applied to all
    /// (and, after a lost `--all` answer, the read shows it applied); else 1
    /// when no target got an answer at all (every request refused as a
    /// whole: bad credentials, an unknown task, no connection); else 3.
    pub fn exit(&self) -> crate::Exit {
        use crate::Exit;
        if self.count(UNKNOWN) > 0 {
            Exit::Unknown
        } else if self.count(SUCCESS) == self.targets.len() && self.applied != Some(false) {
            Exit::Success
        } else if !self.targets.is_empty() && self.targets.iter().all(|r| r.evidence == "request") {
            Exit::RequestFailed
        } else {
            Exit::TargetsFailed
        }
    }
}

/// Prints the report on stdout (a closed stdout ends the process with 141;
/// see `output`).
pub fn print(format: Format, rows: &Rows) {
    match format {
        Format::Json => crate::output::json(rows),
        Format::Table => crate::output::out(table(rows)),
    }
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
                sanitize::cell(&r.target, 128),
                r.status.to_owned(),
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

/// The request IDs a summary line quotes; the rest are counted.
const SUMMARY_REQUEST_IDS: usize = 8;

/// `2 of 4 targets stopped, 1 not stopped, 1 unknown, 0 not attempted; 3
/// repeats dropped (request ids X, Y)` (`retried`, `confirmed` for the
/// others).
pub fn summary(rows: &Rows) -> String {
    let total = rows.targets.len();
    let noun = if total == 1 { "target" } else { "targets" };
    let done = rows.done;
    let mut text = match (&rows.task_status, total) {
        // `--all` whose answer was lost: no per-target answer, only the
        // task as a read found it ("0 of 0 targets" would read as nothing done).
        (Some(status), 0) => format!(
            "no per-target answer (the answer was lost); a read found the task {}{}",
            sanitize::cell(status, 32),
            match rows.applied {
                Some(true) => format!(": every sub-task it applied to was {done}"),
                Some(false) => format!(": nothing was {done}"),
                None => String::new(),
            }
        ),
        (status, _) => {
            let mut text = format!(
                "{} of {total} {noun} {done}, {} not {done}, {} unknown, {} not attempted",
                rows.count(SUCCESS),
                rows.count(FAILURE),
                rows.count(UNKNOWN),
                rows.count(NOT_ATTEMPTED),
            );
            if let Some(status) = status {
                text.push_str(&format!("; the task is {}", sanitize::cell(status, 32)));
            }
            text
        }
    };
    if rows.duplicates_dropped > 0 {
        let noun = if rows.duplicates_dropped == 1 {
            "repeat"
        } else {
            "repeats"
        };
        text.push_str(&format!("; {} {noun} dropped", rows.duplicates_dropped));
    }
    let ids = match rows.request_ids.len() {
        0 => "no request id".to_owned(),
        1 => format!("request id {}", sanitize::cell(&rows.request_ids[0], 64)),
        n => {
            let shown: Vec<String> = rows
                .request_ids
                .iter()
                .take(SUMMARY_REQUEST_IDS)
                .map(|id| sanitize::cell(id, 64))
                .collect();
            let more = n.saturating_sub(SUMMARY_REQUEST_IDS);
            match more {
                0 => format!("request ids {}", shown.join(", ")),
                // A retry of 300 devices reads each first: the line would
                // hold 300 IDs. Every one is in `--output json`.
                _ => format!(
                    "request ids {} and {more} more: --output json lists them all",
                    shown.join(", ")
                ),
            }
        }
    };
    format!("{text} ({ids})")
}

/// A task's counters, one line: `progress: total N, processing N, ...`
/// (`show` and `--wait` print it).
pub fn progress(p: &iotda_batchtask::types::TaskProgress) -> String {
    let n = |v: Option<i64>| v.map_or("-".to_owned(), |v| v.to_string());
    format!(
        "progress: total {}, processing {}, waitting {}, fail_wait_retry {}, success {}, fail {}, stopped {}, removed {}",
        n(p.total),
        n(p.processing),
        n(p.waitting),
        n(p.fail_wait_retry),
        n(p.success),
        n(p.fail),
        n(p.stopped),
        n(p.removed)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(ids: usize) -> Rows {
        Rows {
            done: "retried",
            applied: None,
            targets: Vec::new(),
            request_ids: (0..ids).map(|i| format!("rid-{i}")).collect(),
            duplicates_dropped: 0,
            task_status: None,
        }
    }

    #[test]
    fn a_summary_quotes_a_few_request_ids_and_counts_the_rest() {
        assert!(summary(&rows(1)).ends_with("(request id rid-0)"));
        let all = summary(&rows(SUMMARY_REQUEST_IDS));
        assert!(all.contains("rid-7)") && !all.contains("more"), "{all}");
        let many = summary(&rows(217));
        assert!(
            many.ends_with("rid-7 and 209 more: --output json lists them all)"),
            "{many}"
        );
        assert!(!many.contains("rid-8,"), "{many}");
    }

    #[test]
    fn a_lost_all_answer_settled_by_a_read_says_so_not_zero_of_zero() {
        let settled = Rows {
            done: "stopped",
            applied: Some(true),
            task_status: Some("Stopped".to_owned()),
            ..rows(2)
        };
        let text = summary(&settled);
        assert!(
            text.starts_with(
                "no per-target answer (the answer was lost); a read found the task Stopped: every sub-task it \
                 applied to was stopped"
            ),
            "{text}"
        );
        assert!(!text.contains("0 of 0"), "{text}");
        let not = summary(&Rows {
            applied: Some(false),
            task_status: Some("Success".to_owned()),
            ..settled
        });
        assert!(not.contains("found the task Success: nothing was stopped"), "{not}");
    }
}
