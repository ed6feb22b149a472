//! `iotda-batchtask list`: find a task (its ID) among the project's batch
//! tasks of one type.

use std::sync::OnceLock;

use clap::builder::PossibleValue;
use clap::{Args, ValueEnum};
use futures_util::StreamExt as _;
use iotda_batchtask::limits;
use iotda_batchtask::types::{Page, Task, TaskStatus, TaskType};
use serde::Serialize;

use crate::connection::{CREDENTIALS_HELP, Connection};
use crate::output::{self, errln};
use crate::sanitize;
use crate::signals;
use crate::{Exit, report};

/// Arguments of `list`.
#[derive(Debug, Args)]
#[command(after_help = format!(
    "Without --limit, --marker or --offset every page is fetched (50 tasks a request); with any \
     of them, one page, and the marker of the next.\n\n{CREDENTIALS_HELP}"
))]
pub struct ListArgs {
    #[command(flatten)]
    connection: Connection,
    /// The task type (required by Huawei's definition of ListBatchTasks).
    #[arg(long, value_name = "TYPE", value_enum)]
    pub task_type: TypeArg,
    /// Only tasks in this status (any letter case).
    #[arg(long, value_name = "S", value_enum, ignore_case = true)]
    status: Option<StatusArg>,
    /// Only tasks of this resource space (application).
    #[arg(long, value_name = "ID")]
    app_id: Option<String>,
    /// One page of at most N tasks (1 to 50).
    #[arg(long, value_name = "N")]
    limit: Option<u32>,
    /// One page, starting below this record ID (the previous page's marker).
    #[arg(long, value_name = "MARKER")]
    marker: Option<String>,
    /// One page, skipping N records (0 to 500).
    #[arg(long, value_name = "N")]
    offset: Option<u32>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ListFormat::Table)]
    output: ListFormat,
}

/// `--output` of `list`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ListFormat {
    /// One line per task (TASK ID, NAME, TYPE, STATUS, DONE/TOTAL, CREATED)
    /// and a count.
    Table,
    /// One object on stdout, nothing else there: {"batchtasks": [task...],
    /// then for one page (--limit, --marker, --offset) "page": {"count",
    /// "marker"} and "request_id", for every page "request_ids": [one per
    /// page]}; absent fields are left out.
    Json,
}

/// `--task-type`: the spec's task types, listed from the generated list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TypeArg(pub TaskType);

impl ValueEnum for TypeArg {
    fn value_variants<'a>() -> &'a [Self] {
        static ALL: OnceLock<Vec<TypeArg>> = OnceLock::new();
        ALL.get_or_init(|| TaskType::ALL.into_iter().map(TypeArg).collect())
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(PossibleValue::new(self.0.as_str()))
    }
}

/// `--status`: the spec's task statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct StatusArg(TaskStatus);

impl ValueEnum for StatusArg {
    fn value_variants<'a>() -> &'a [Self] {
        static ALL: OnceLock<Vec<StatusArg>> = OnceLock::new();
        ALL.get_or_init(|| TaskStatus::ALL.into_iter().map(StatusArg).collect())
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(PossibleValue::new(self.0.as_str()))
    }
}

/// `--output json`.
#[derive(Serialize)]
struct Json<'a> {
    batchtasks: &'a [Task],
    #[serde(skip_serializing_if = "Option::is_none")]
    page: Option<&'a Page>,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_ids: Option<&'a [String]>,
}

pub async fn run(args: ListArgs) -> Exit {
    let client = match args.connection.client().await {
        Ok(client) => client,
        Err(e) => return report(&e),
    };
    let mut call = client.list_batch_tasks(args.task_type.0);
    if let Some(StatusArg(status)) = args.status {
        call = call.status(status);
    }
    if let Some(app_id) = &args.app_id {
        call = call.app_id(app_id);
    }
    let one_page = args.limit.is_some() || args.marker.is_some() || args.offset.is_some();
    if one_page {
        if let Some(limit) = args.limit {
            call = call.limit(limit);
        }
        if let Some(marker) = &args.marker {
            call = call.marker(marker);
        }
        if let Some(offset) = args.offset {
            call = call.offset(offset);
        }
        // One read: a signal abandons it, and there is nothing to show.
        let page = tokio::select! {
            biased;
            signal = signals::first() => return signal.exit(),
            page = call.send() => page,
        };
        let page = match page {
            Ok(page) => page,
            Err(e) => return report(&e),
        };
        match args.output {
            ListFormat::Json => output::json(&Json {
                batchtasks: page.tasks(),
                page: page.page(),
                request_id: page.request_id(),
                request_ids: None,
            }),
            ListFormat::Table => {
                let mut text = table(page.tasks());
                // A full page may have a next one; a shorter page is the last.
                let limit = args.limit.unwrap_or(limits::LIST_BATCH_TASKS_LIMIT_DEFAULT);
                let full = page.tasks().len() >= limit as usize;
                if let Some(marker) = page.page().and_then(|p| p.marker.as_deref())
                    && full
                {
                    text.push_str(&format!("next page: --marker {}\n", sanitize::cell(marker, 64)));
                }
                output::out(text);
            }
        }
        return Exit::Success;
    }
    // Every page, through the library's bounded walk. A signal abandons the
    // read in flight (only a read) and keeps what came before.
    let mut walk = Walk::default();
    let mut pages = std::pin::pin!(call.pages());
    let mut interrupted = None;
    let mut failed = None;
    loop {
        let next = tokio::select! {
            biased;
            signal = signals::first() => {
                interrupted = Some(signal);
                break;
            }
            next = pages.next() => next,
        };
        match next {
            Some(Ok(page)) => {
                walk.request_ids.extend(page.request_id().map(str::to_owned));
                walk.tasks.extend(page.into_inner().batchtasks);
            }
            Some(Err(e)) => {
                failed = Some(e);
                break;
            }
            None => break,
        }
    }
    if let Some(e) = failed {
        if walk.tasks.is_empty() {
            return report(&e);
        }
        // A walk that failed part-way still shows what it found, and fails.
        output::error(&e);
        errln!(
            "the listing is incomplete: showing the {} fetched before the error",
            output::count(walk.tasks.len(), "task", "tasks")
        );
        print(args.output, &walk);
        return Exit::RequestFailed;
    }
    if let Some(signal) = interrupted {
        errln!(
            "interrupted ({}): showing the {} fetched so far",
            signal.name(),
            output::count(walk.tasks.len(), "task", "tasks")
        );
    }
    print(args.output, &walk);
    interrupted.map_or(Exit::Success, signals::Signal::exit)
}

/// The pages of a whole listing, up to the last, an error or a signal.
#[derive(Default)]
struct Walk {
    tasks: Vec<Task>,
    /// One per page that carried one.
    request_ids: Vec<String>,
}

fn print(format: ListFormat, walk: &Walk) {
    match format {
        ListFormat::Json => output::json(&Json {
            batchtasks: &walk.tasks,
            page: None,
            request_id: None,
            request_ids: Some(&walk.request_ids),
        }),
        ListFormat::Table => output::out(table(&walk.tasks)),
    }
}

/// One line per task and a count.
pub fn table(tasks: &[Task]) -> String {
    let text = |v: &Option<String>, max| sanitize::cell(v.as_deref().unwrap_or("-"), max);
    let header = ["TASK ID", "NAME", "TYPE", "STATUS", "DONE/TOTAL", "CREATED"].map(str::to_owned);
    let rows: Vec<[String; 6]> = tasks
        .iter()
        .map(|t| {
            let progress = t.task_progress.as_ref().map_or("-".to_owned(), |p| {
                let n = |v: Option<i64>| v.map_or("-".to_owned(), |v| v.to_string());
                format!("{}/{}", n(p.success), n(p.total))
            });
            [
                text(&t.task_id, 32),
                text(&t.task_name, 64),
                text(&t.task_type, 32),
                text(&t.status, 32),
                progress,
                text(&t.create_time, 32),
            ]
        })
        .collect();
    let mut widths = header.clone().map(|h| h.chars().count());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let line: Vec<String> = row.iter().zip(widths).map(|(cell, w)| format!("{cell:<w$}")).collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out.push_str(&output::count(tasks.len(), "task", "tasks"));
    out.push('\n');
    out
}
