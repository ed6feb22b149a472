//! The built-in demo data ([`Seed::demo`]).

use std::collections::BTreeMap;

use crate::seed::{Seed, SeedTask, TaskDetailStatus, TaskStatus, TaskType};

/// The project of every demo task.
pub const DEMO_PROJECT_ID: &str = "0123456789abcdef0123456789abcdef";

/// The demo firmware upgrade (Processing) over [`DEMO_DEVICE_COUNT`] devices.
pub const DEMO_TASK_ID: &str = "61a5f4cbd86b7a1d1c2f3e4a";

/// A finished software upgrade (Success): stopping it is refused.
pub const DEMO_FINISHED_TASK_ID: &str = "61a5f4cbd86b7a1d1c2f3e4b";

/// A bulk device creation (Processing): its type cannot be stopped.
pub const DEMO_CREATE_DEVICES_TASK_ID: &str = "61a5f4cbd86b7a1d1c2f3e4c";

/// A firmware upgrade created with `need_confirm` (Processing): `dev-0001` to
/// `dev-0010` wait (Waitting) for ConfirmBatchTask.
pub const DEMO_CONFIRM_TASK_ID: &str = "61a5f4cbd86b7a1d1c2f3e4d";

/// A firmware upgrade that ended PartialSuccess on `dev-0001` to `dev-0010`
/// (6 Success, 2 Fail, 2 Stopped): its failed and stopped devices can be
/// retried, and it can be deleted.
pub const DEMO_PARTIAL_TASK_ID: &str = "61a5f4cbd86b7a1d1c2f3e4e";

/// How many devices the demo firmware upgrade targets: `dev-0001` to `dev-0300`.
pub const DEMO_DEVICE_COUNT: usize = 300;

/// The device ID `dev-NNNN` of demo device `n` (1-based).
pub fn demo_device_id(n: usize) -> String {
    format!("dev-{n:04}")
}

/// The demo sub-task status of device `n` (1-based): a fixed pattern per 20
/// devices, 9 Processing, 6 Waitting, 2 FailWaitRetry, 2 Success, 1 Fail.
/// Deterministic, so demos and tests see the same fleet every run.
pub fn demo_subtask_status(n: usize) -> TaskDetailStatus {
    match n % 20 {
        1..=9 => TaskDetailStatus::Processing,
        10..=15 => TaskDetailStatus::Waitting,
        16 | 17 => TaskDetailStatus::FailWaitRetry,
        18 => TaskDetailStatus::Fail,
        _ => TaskDetailStatus::Success,
    }
}

impl Seed {
    /// The built-in demo data, all in project [`DEMO_PROJECT_ID`]:
    ///
    /// - [`DEMO_TASK_ID`]: a firmwareUpgrade, Processing, over `dev-0001` to
    ///   `dev-0300` in mixed states (see [`demo_subtask_status`]);
    /// - [`DEMO_FINISHED_TASK_ID`]: a softwareUpgrade that finished (Success)
    ///   on `dev-0001` to `dev-0010`;
    /// - [`DEMO_CREATE_DEVICES_TASK_ID`]: a createDevices task, Processing,
    ///   over `new-0001` to `new-0005`;
    /// - [`DEMO_CONFIRM_TASK_ID`]: a firmwareUpgrade created with
    ///   `need_confirm`, Processing, its ten devices Waitting for a confirm;
    /// - [`DEMO_PARTIAL_TASK_ID`]: a firmwareUpgrade that ended PartialSuccess
    ///   (6 Success, 2 Fail, 2 Stopped), to retry or delete.
    ///
    /// So the operator's loop works on it: list the firmware upgrades, stop
    /// some devices of [`DEMO_TASK_ID`] and retry them, confirm
    /// [`DEMO_CONFIRM_TASK_ID`], delete [`DEMO_FINISHED_TASK_ID`].
    ///
    /// ```
    /// use iotda_batchtask_emulator::{DEMO_TASK_ID, Seed};
    ///
    /// let demo = Seed::demo();
    /// assert_eq!(demo.tasks()[0].task_id, DEMO_TASK_ID);
    /// assert_eq!(demo.tasks()[0].subtasks.len(), 300);
    /// ```
    pub fn demo() -> Self {
        let upgrade = SeedTask {
            project_id: DEMO_PROJECT_ID.to_owned(),
            task_id: DEMO_TASK_ID.to_owned(),
            task_type: TaskType::FirmwareUpgrade,
            status: TaskStatus::Processing,
            subtasks: (1..=DEMO_DEVICE_COUNT)
                .map(|n| (demo_device_id(n), demo_subtask_status(n)))
                .collect(),
        };
        let finished = SeedTask {
            project_id: DEMO_PROJECT_ID.to_owned(),
            task_id: DEMO_FINISHED_TASK_ID.to_owned(),
            task_type: TaskType::SoftwareUpgrade,
            status: TaskStatus::Success,
            subtasks: (1..=10)
                .map(|n| (demo_device_id(n), TaskDetailStatus::Success))
                .collect(),
        };
        let create_devices = SeedTask {
            project_id: DEMO_PROJECT_ID.to_owned(),
            task_id: DEMO_CREATE_DEVICES_TASK_ID.to_owned(),
            task_type: TaskType::CreateDevices,
            status: TaskStatus::Processing,
            subtasks: (1..=5)
                .map(|n| {
                    let status = if n <= 2 {
                        TaskDetailStatus::Success
                    } else {
                        TaskDetailStatus::Processing
                    };
                    (format!("new-{n:04}"), status)
                })
                .collect::<BTreeMap<_, _>>(),
        };
        let confirm = SeedTask {
            project_id: DEMO_PROJECT_ID.to_owned(),
            task_id: DEMO_CONFIRM_TASK_ID.to_owned(),
            task_type: TaskType::FirmwareUpgrade,
            status: TaskStatus::Processing,
            subtasks: (1..=10)
                .map(|n| (demo_device_id(n), TaskDetailStatus::Waitting))
                .collect(),
        };
        let partial = SeedTask {
            project_id: DEMO_PROJECT_ID.to_owned(),
            task_id: DEMO_PARTIAL_TASK_ID.to_owned(),
            task_type: TaskType::FirmwareUpgrade,
            status: TaskStatus::PartialSuccess,
            subtasks: (1..=10)
                .map(|n| {
                    let status = match n {
                        1..=6 => TaskDetailStatus::Success,
                        7 | 8 => TaskDetailStatus::Fail,
                        _ => TaskDetailStatus::Stopped,
                    };
                    (demo_device_id(n), status)
                })
                .collect(),
        };
        Self::new(vec![upgrade, finished, create_devices, confirm, partial])
            .and_then(|seed| seed.with_need_confirm(DEMO_PROJECT_ID, DEMO_CONFIRM_TASK_ID))
            .expect("the demo data is valid")
    }
}
