//! `--dry-run`: the requests a mutating command would send, printed instead
//! of sent. Everything is validated as for a real run (arguments, targets,
//! credentials), then nothing goes on the wire. Credentials are never
//! printed: the auth header is shown with its value masked.

use iotda_batchtask::validation::{self, MAX_TARGETS_PER_REQUEST};
use iotda_batchtask::{Client, InvalidInput};
use serde::Serialize;
use serde_json::{Value, json};

use crate::connection::Connection;
use crate::output;
use crate::render::Format;
use crate::sanitize;

/// What a masked header value shows.
const MASKED: &str = "***";

/// One planned request.
#[derive(Debug, Serialize)]
pub struct Planned {
    /// `GET`, `POST` or `DELETE`.
    pub method: &'static str,
    /// The full URL, query included.
    pub url: String,
    /// The JSON body, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
}

impl Planned {
    /// A request to `path` (after `/v5/iot/{project_id}`) of the client's
    /// endpoint.
    pub fn new(client: &Client, method: &'static str, path: &str, body: Option<Value>) -> Self {
        Planned {
            method,
            url: format!("{}/v5/iot/{}{path}", client.endpoint(), client.project_id()),
            body,
        }
    }
}

/// `--output json` of a dry run.
#[derive(Serialize)]
struct Json<'a> {
    dry_run: bool,
    /// Whether the plan read the task (GET) to predict its notes.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    read_the_task: bool,
    headers: Vec<(&'static str, String)>,
    requests: &'a [Planned],
    notes: &'a [String],
}

/// The requests of a stop, retry or confirm (`op` names the URL's last
/// segment): one per 100 distinct targets, or one `{}` for every sub-task
/// (`targets` `None`).
pub fn targeted(
    client: &Client,
    op: &str,
    task_id: &str,
    targets: Option<&[String]>,
) -> Result<Vec<Planned>, iotda_batchtask::Error> {
    let task_id = validation::task_id(task_id)?;
    let path = format!("/batchtasks/{}/{op}", task_id.as_str());
    let Some(targets) = targets else {
        return Ok(vec![Planned::new(client, "POST", &path, Some(json!({})))]);
    };
    let unique = validation::unique_targets(targets.iter().map(String::as_str))?;
    if unique.is_empty() {
        return Err(InvalidInput::new("targets", "is empty; name at least one device").into());
    }
    Ok(unique
        .chunks(MAX_TARGETS_PER_REQUEST)
        .map(|chunk| Planned::new(client, "POST", &path, Some(json!({ "targets": chunk }))))
        .collect())
}

/// The headers every request carries, credentials masked.
fn headers(connection: &Connection) -> Vec<(&'static str, String)> {
    let mut headers = vec![("Content-Type", "application/json".to_owned())];
    if let Some(id) = connection.instance_id() {
        headers.push(("Instance-Id", id.to_owned()));
    }
    // The client was built from the same variables a moment ago, so they are
    // valid; only which kind of credentials they are matters here.
    let signed = iotda_batchtask::Credentials::from_env()
        .ok()
        .is_some_and(|c| c.ak_sk_pair().is_some());
    if signed {
        headers.push(("X-Sdk-Date", "(the time of sending)".to_owned()));
        headers.push((
            "Authorization",
            format!("{MASKED} (AK/SK signature, computed when sent)"),
        ));
        let temporary = ["HUAWEICLOUD_SDK_SECURITY_TOKEN", "CLOUD_SDK_SECURITY_TOKEN"]
            .iter()
            .any(|v| std::env::var_os(v).is_some_and(|t| !t.is_empty()));
        if temporary {
            headers.push(("X-Security-Token", MASKED.to_owned()));
        }
    } else {
        headers.push(("X-Auth-Token", MASKED.to_owned()));
    }
    headers
}

/// Prints the plan: a readable list, or one JSON object on stdout.
pub fn print(format: Format, connection: &Connection, requests: &[Planned], notes: &[String]) {
    print_after_reads(format, connection, requests, notes, false);
}

/// [`print`], saying whether the plan read the task (GET only) to predict
/// what the real run would do.
pub fn print_after_reads(format: Format, connection: &Connection, requests: &[Planned], notes: &[String], read: bool) {
    let headers = headers(connection);
    if format == Format::Json {
        output::json(&Json {
            dry_run: true,
            read_the_task: read,
            headers,
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
        for (name, value) in &headers {
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
