//! The CLI's words for the library's [`Operation`]: the command's name, what
//! a done target is called, and the library call it makes. The rules (which
//! states settle a lost answer) are the library's own.

use iotda_batchtask::{BatchTargetsCall, Client, Operation};

/// The operation a targeted command performs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// StopBatchTask.
    Stop,
    /// RetryBatchTask.
    Retry,
    /// ConfirmBatchTask.
    Confirm,
}

impl Op {
    /// The command's name, also the last segment of its URL.
    pub fn name(self) -> &'static str {
        match self {
            Op::Stop => "stop",
            Op::Retry => "retry",
            Op::Confirm => "confirm",
        }
    }

    /// What a target the operation applied to is: `stopped`, `retried`,
    /// `confirmed`.
    pub fn done(self) -> &'static str {
        match self {
            Op::Stop => "stopped",
            Op::Retry => "retried",
            Op::Confirm => "confirmed",
        }
    }

    /// The library's operation, which owns its rules.
    pub fn operation(self) -> Operation {
        match self {
            Op::Stop => Operation::Stop,
            Op::Retry => Operation::Retry,
            Op::Confirm => Operation::Confirm,
        }
    }

    /// The sub-task statuses a read counts as done, for messages
    /// (the library's [`Operation::done_statuses`]).
    pub fn done_statuses(self) -> String {
        let statuses: Vec<&str> = self.operation().done_statuses().iter().map(|s| s.as_str()).collect();
        match statuses.split_last() {
            Some((last, [])) => (*last).to_owned(),
            Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
            None => String::new(),
        }
    }

    /// What `--all` acts on, for the confirmation question.
    pub fn everything(self) -> String {
        format!(
            "{} {}",
            self.name(),
            self.operation().everything().replacen("every", "EVERY", 1)
        )
    }

    /// The library call of this operation on `task_id`.
    pub fn call(self, client: &Client, task_id: &str) -> BatchTargetsCall<'static> {
        match self {
            Op::Stop => client.stop_batch_task(task_id),
            Op::Retry => client.retry_batch_task(task_id),
            Op::Confirm => client.confirm_batch_task(task_id),
        }
    }
}
