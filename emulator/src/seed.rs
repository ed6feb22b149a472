//! The emulator's initial data: batch tasks and their sub-tasks, read from
//! JSON (strictly) or built in ([`Seed::demo`]).

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use iotda_batchtask::validation;

/// A batch task type (`task_type`), as listed in Huawei's API definitions.
///
/// Only [`TaskType::FirmwareUpgrade`] and [`TaskType::SoftwareUpgrade`] tasks
/// can be stopped; the others exist so that refusals can be exercised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum TaskType {
    /// `firmwareUpgrade`: firmware upgrade (stoppable).
    FirmwareUpgrade,
    /// `softwareUpgrade`: software upgrade (stoppable).
    SoftwareUpgrade,
    /// `moduleUpgrade`: module upgrade.
    ModuleUpgrade,
    /// `createDevices`: bulk device creation.
    CreateDevices,
    /// `updateDevices`: bulk device update.
    UpdateDevices,
    /// `deleteDevices`: bulk device deletion.
    DeleteDevices,
    /// `freezeDevices`: bulk device freeze.
    FreezeDevices,
    /// `unfreezeDevices`: bulk device unfreeze.
    UnfreezeDevices,
    /// `createCommands`: bulk synchronous commands.
    CreateCommands,
    /// `createAsyncCommands`: bulk asynchronous commands.
    CreateAsyncCommands,
    /// `createMessages`: bulk messages.
    CreateMessages,
    /// `updateDeviceShadows`: bulk device-shadow desired data.
    UpdateDeviceShadows,
}

impl TaskType {
    /// Every task type, in the order of Huawei's documentation.
    pub const ALL: [TaskType; 12] = [
        Self::FirmwareUpgrade,
        Self::SoftwareUpgrade,
        Self::ModuleUpgrade,
        Self::CreateDevices,
        Self::UpdateDevices,
        Self::DeleteDevices,
        Self::FreezeDevices,
        Self::UnfreezeDevices,
        Self::CreateCommands,
        Self::CreateAsyncCommands,
        Self::CreateMessages,
        Self::UpdateDeviceShadows,
    ];

    /// The wire value, e.g. `firmwareUpgrade`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::FirmwareUpgrade => "firmwareUpgrade",
            Self::SoftwareUpgrade => "softwareUpgrade",
            Self::ModuleUpgrade => "moduleUpgrade",
            Self::CreateDevices => "createDevices",
            Self::UpdateDevices => "updateDevices",
            Self::DeleteDevices => "deleteDevices",
            Self::FreezeDevices => "freezeDevices",
            Self::UnfreezeDevices => "unfreezeDevices",
            Self::CreateCommands => "createCommands",
            Self::CreateAsyncCommands => "createAsyncCommands",
            Self::CreateMessages => "createMessages",
            Self::UpdateDeviceShadows => "updateDeviceShadows",
        }
    }

    /// Whether StopBatchTask accepts tasks of this type.
    pub fn is_stoppable(self) -> bool {
        matches!(self, Self::FirmwareUpgrade | Self::SoftwareUpgrade)
    }
}

/// The status of a batch task as a whole (`batchtask.status`). Wire values
/// are exact, including Huawei's spelling `Waitting`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[non_exhaustive]
pub enum TaskStatus {
    /// Being initialised.
    Initializing,
    /// Waiting.
    Waitting,
    /// Executing.
    Processing,
    /// Every sub-task succeeded.
    Success,
    /// Failed.
    Fail,
    /// Some sub-tasks succeeded.
    PartialSuccess,
    /// Stopped.
    Stopped,
    /// A stop is in progress.
    Stopping,
}

impl TaskStatus {
    /// Every task status.
    pub const ALL: [TaskStatus; 8] = [
        Self::Initializing,
        Self::Waitting,
        Self::Processing,
        Self::Success,
        Self::Fail,
        Self::PartialSuccess,
        Self::Stopped,
        Self::Stopping,
    ];

    /// The wire value, e.g. `Processing`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Initializing => "Initializing",
            Self::Waitting => "Waitting",
            Self::Processing => "Processing",
            Self::Success => "Success",
            Self::Fail => "Fail",
            Self::PartialSuccess => "PartialSuccess",
            Self::Stopped => "Stopped",
            Self::Stopping => "Stopping",
        }
    }

    /// Whether StopBatchTask accepts a task in this status: not when it has
    /// finished (Success, Fail, PartialSuccess, Stopped) or is Stopping.
    pub fn is_stoppable(self) -> bool {
        matches!(self, Self::Initializing | Self::Waitting | Self::Processing)
    }
}

/// The status of one sub-task (one target of a task).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[non_exhaustive]
pub enum SubtaskStatus {
    /// Waiting to run (also where `need_confirm` tasks wait for confirmation).
    Waitting,
    /// Executing.
    Processing,
    /// Succeeded.
    Success,
    /// Failed.
    Fail,
    /// Failed, waiting for an automatic retry.
    FailWaitRetry,
    /// Stopped.
    Stopped,
}

impl SubtaskStatus {
    /// Every sub-task status.
    pub const ALL: [SubtaskStatus; 6] = [
        Self::Waitting,
        Self::Processing,
        Self::Success,
        Self::Fail,
        Self::FailWaitRetry,
        Self::Stopped,
    ];

    /// The wire value, e.g. `FailWaitRetry`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Waitting => "Waitting",
            Self::Processing => "Processing",
            Self::Success => "Success",
            Self::Fail => "Fail",
            Self::FailWaitRetry => "FailWaitRetry",
            Self::Stopped => "Stopped",
        }
    }

    /// Whether a stop acts on a sub-task in this status (Processing, Waitting
    /// or FailWaitRetry); the others are final.
    pub fn is_stoppable(self) -> bool {
        matches!(self, Self::Waitting | Self::Processing | Self::FailWaitRetry)
    }
}

macro_rules! wire_enum_traits {
    ($ty:ident, $what:literal) => {
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $ty {
            type Err = String;

            /// Parses the exact wire value; the error names the expected values.
            fn from_str(value: &str) -> Result<Self, Self::Err> {
                Self::ALL
                    .into_iter()
                    .find(|v| v.as_str() == value)
                    .ok_or_else(|| {
                        let expected: Vec<&str> = Self::ALL.iter().map(|v| v.as_str()).collect();
                        format!(
                            concat!("unknown ", $what, " {:?} (expected one of {})"),
                            value,
                            expected.join(", ")
                        )
                    })
            }
        }
    };
}

wire_enum_traits!(TaskType, "task_type");
wire_enum_traits!(TaskStatus, "task status");
wire_enum_traits!(SubtaskStatus, "sub-task status");

/// One batch task of a [`Seed`].
///
/// Plain data; [`Seed::new`] checks it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SeedTask {
    /// Project ID, `^[a-fA-F0-9]{1,32}$`.
    pub project_id: String,
    /// Task ID, `^[a-f0-9]{1,24}$`, unique within its project.
    pub task_id: String,
    /// The task type.
    pub task_type: TaskType,
    /// The task's own status.
    pub status: TaskStatus,
    /// Sub-task status per target (device ID), ordered by device ID.
    pub subtasks: BTreeMap<String, SubtaskStatus>,
}

/// The emulator's initial batch tasks.
///
/// Always valid: every constructor checks the IDs, the device IDs and that no
/// task appears twice. The JSON shape is exactly
///
/// ```json
/// {"tasks": [{"project_id": "0123456789abcdef0123456789abcdef",
///             "task_id": "61a5f4cbd86b7a1d1c2f3e4a",
///             "task_type": "firmwareUpgrade",
///             "status": "Processing",
///             "subtasks": {"dev-0001": "Processing", "dev-0002": "Waitting", "dev-0003": "Success"}}]}
/// ```
///
/// parsed strictly: unknown fields and repeated sub-task keys are errors, and
/// every error names the problem and where it is.
///
/// ```
/// use iotda_batchtask_emulator::Seed;
///
/// let err = Seed::from_json(
///     r#"{"tasks": [{"project_id": "0123", "task_id": "61a5", "task_type": "firmwareUpgrade",
///                   "status": "Processing", "subtasks": {"dev-0001": "Runing"}}]}"#,
/// )
/// .unwrap_err();
/// assert!(err.to_string().starts_with(r#"tasks[0].subtasks["dev-0001"]: unknown sub-task status "Runing""#));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawSeed")]
pub struct Seed {
    // Visible to the emulator's modules (demo data, state dumps), which build seeds valid by construction.
    pub(crate) tasks: Vec<SeedTask>,
}

/// Why a seed was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SeedError {
    /// The seed file could not be read.
    #[error("cannot read seed file {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A problem in a seed read from a file.
    #[error("seed file {}: {source}", path.display())]
    InFile {
        /// The file.
        path: PathBuf,
        /// The problem.
        source: Box<SeedError>,
    },
    /// Not JSON of the seed's shape (serde's message carries line and column).
    #[error("not a seed: {0}")]
    Json(#[source] serde_json::Error),
    /// A value breaks a rule; `location` is a path such as
    /// `tasks[0].subtasks["dev-0001"]`.
    #[error("{location}: {problem}")]
    Invalid {
        /// Where, e.g. `tasks[1].task_id`.
        location: String,
        /// What is wrong.
        problem: String,
    },
}

impl SeedError {
    fn invalid(location: impl Into<String>, problem: impl Into<String>) -> Self {
        Self::Invalid {
            location: location.into(),
            problem: problem.into(),
        }
    }
}

impl Seed {
    /// A seed of `tasks`, checked: project and task IDs match their patterns,
    /// device IDs are valid (`^[a-zA-Z0-9_-]{1,128}$`), and no task appears
    /// twice in one project.
    pub fn new(tasks: Vec<SeedTask>) -> Result<Self, SeedError> {
        let mut seen = HashSet::new();
        for (i, task) in tasks.iter().enumerate() {
            if let Err(e) = validation::project_id(&task.project_id) {
                return Err(SeedError::invalid(
                    format!("tasks[{i}].project_id"),
                    format!("{:?} {}", task.project_id, e.rule()),
                ));
            }
            if let Err(e) = validation::task_id(&task.task_id) {
                return Err(SeedError::invalid(
                    format!("tasks[{i}].task_id"),
                    format!("{:?} {}", task.task_id, e.rule()),
                ));
            }
            for device in task.subtasks.keys() {
                if let Err(e) = validation::target(0, device) {
                    return Err(SeedError::invalid(
                        format!("tasks[{i}].subtasks[{device:?}]"),
                        format!("not a device ID: {}", e.rule()),
                    ));
                }
            }
            if !seen.insert((task.project_id.as_str(), task.task_id.as_str())) {
                return Err(SeedError::invalid(
                    format!("tasks[{i}]"),
                    format!("duplicate task {} in project {}", task.task_id, task.project_id),
                ));
            }
        }
        Ok(Self { tasks })
    }

    /// Parses and checks a seed from JSON.
    pub fn from_json(json: &str) -> Result<Self, SeedError> {
        let raw: RawSeed = serde_json::from_str(json).map_err(SeedError::Json)?;
        raw.check()
    }

    /// Reads, parses and checks a seed file; errors name the file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, SeedError> {
        let path = path.as_ref();
        let json = std::fs::read_to_string(path).map_err(|source| SeedError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::from_json(&json).map_err(|e| SeedError::InFile {
            path: path.to_owned(),
            source: Box::new(e),
        })
    }

    /// The tasks, in seed order.
    pub fn tasks(&self) -> &[SeedTask] {
        &self.tasks
    }

    /// The seed as pretty JSON (the shape [`Seed::from_json`] reads).
    pub fn to_json(&self) -> String {
        // Serialising plain strings and enums into a String cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

/// The seed as written, before its values are checked, so that every error
/// can name its location.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSeed {
    tasks: Vec<RawTask>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTask {
    project_id: String,
    task_id: String,
    task_type: String,
    status: String,
    subtasks: RawSubtasks,
}

/// Sub-tasks in file order; a repeated device ID is an error rather than
/// silently keeping the last one.
struct RawSubtasks(Vec<(String, String)>);

impl<'de> Deserialize<'de> for RawSubtasks {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawSubtasks;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object mapping device IDs to sub-task statuses")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut seen = HashSet::new();
                let mut out = Vec::new();
                while let Some((device, status)) = map.next_entry::<String, String>()? {
                    if !seen.insert(device.clone()) {
                        return Err(de::Error::custom(format!("duplicate sub-task {device:?}")));
                    }
                    out.push((device, status));
                }
                Ok(RawSubtasks(out))
            }
        }
        deserializer.deserialize_map(V)
    }
}

impl RawSeed {
    fn check(self) -> Result<Seed, SeedError> {
        let mut tasks = Vec::with_capacity(self.tasks.len());
        for (i, raw) in self.tasks.into_iter().enumerate() {
            let task_type = raw
                .task_type
                .parse::<TaskType>()
                .map_err(|e| SeedError::invalid(format!("tasks[{i}].task_type"), e))?;
            let status = raw
                .status
                .parse::<TaskStatus>()
                .map_err(|e| SeedError::invalid(format!("tasks[{i}].status"), e))?;
            let mut subtasks = BTreeMap::new();
            for (device, status) in raw.subtasks.0 {
                let status = status
                    .parse::<SubtaskStatus>()
                    .map_err(|e| SeedError::invalid(format!("tasks[{i}].subtasks[{device:?}]"), e))?;
                subtasks.insert(device, status);
            }
            tasks.push(SeedTask {
                project_id: raw.project_id,
                task_id: raw.task_id,
                task_type,
                status,
                subtasks,
            });
        }
        Seed::new(tasks)
    }
}

impl TryFrom<RawSeed> for Seed {
    type Error = SeedError;

    fn try_from(raw: RawSeed) -> Result<Self, Self::Error> {
        raw.check()
    }
}
