//! `--dry-run`: the requests a mutating command would send, printed instead
//! of sent. The library plans them (`plan()` on each call: the same
//! validation, URLs, bodies and authentication as a real run, from the same
//! configured credentials); this file only prints. Credentials are never
//! printed: the auth headers are shown with their values masked.

use iotda_batchtask::PlannedRequest;
use serde::Serialize;

use crate::output;
use crate::render::Format;
use crate::sanitize;

/// `--output json` of a dry run.
#[derive(Serialize)]
struct Json<'a> {
    dry_run: bool,
    /// Whether the plan read the task (GET) to predict its notes.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    read_the_task: bool,
    requests: &'a [PlannedRequest],
    notes: &'a [String],
}

/// Prints the plan: a readable list, or one JSON object on stdout.
pub fn print(format: Format, requests: &[PlannedRequest], notes: &[String]) {
    print_after_reads(format, requests, notes, false);
}

/// [`print`], saying whether the plan read the task (GET only) to predict
/// what the real run would do.
pub fn print_after_reads(format: Format, requests: &[PlannedRequest], notes: &[String], read: bool) {
    if format == Format::Json {
        output::json(&Json {
            dry_run: true,
            read_the_task: read,
            requests,
            notes,
        });
        return;
    }
    let mut text = format!(
        "dry run: nothing was sent{}; a real run would send {}:\n",
        if read { " but reads of the task" } else { "" },
        output::count(requests.len(), "request", "requests")
    );
    for request in requests {
        text.push_str(&format!(
            "\n{} {}\n",
            request.method,
            sanitize::cell(&request.url, 4096)
        ));
        for (name, value) in &request.headers {
            text.push_str(&format!("  {name}: {}\n", sanitize::cell(value, 256)));
        }
        if let Some(body) = &request.body {
            text.push_str(&format!("  {}\n", sanitize::cell(&body.to_string(), 1 << 20)));
        }
    }
    for note in notes {
        text.push_str(&format!("\nnote: {note}\n"));
    }
    output::out(text);
}
