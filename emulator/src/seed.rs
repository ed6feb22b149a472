//! The emulator's initial data: batch tasks and their sub-tasks, read from
//! JSON (strictly) or built in ([`Seed::demo`]).

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::progression::{Progression, RawProgression};
use iotda_batchtask::validation;

pub use iotda_batchtask::types::{TaskDetailStatus, TaskStatus, TaskType};

/// Which values let a stop (or, for a sub-task, a retry) act, by Huawei's
/// rules (see the crate docs for where they are documented and assumed).
pub trait Stoppable: Copy {
    /// Whether a stop may act on a task of this type, a task in this status,
    /// or a sub-task in this status.
    fn is_stoppable(self) -> bool;
}

impl Stoppable for TaskType {
    fn is_stoppable(self) -> bool {
        matches!(self, Self::FirmwareUpgrade | Self::SoftwareUpgrade)
    }
}

impl Stoppable for TaskStatus {
    fn is_stoppable(self) -> bool {
        matches!(self, Self::Initializing | Self::Waitting | Self::Processing)
    }
}

impl Stoppable for TaskDetailStatus {
    fn is_stoppable(self) -> bool {
        matches!(self, Self::Waitting | Self::Processing | Self::FailWaitRetry)
    }
}

/// Parses an exact wire value of one of the spec's enumerations; the error
/// names the value and the expected ones.
fn parse_wire<T: Copy>(all: &[T], as_str: fn(T) -> &'static str, value: &str, what: &str) -> Result<T, String> {
    all.iter().copied().find(|v| as_str(*v) == value).ok_or_else(|| {
        let expected: Vec<&str> = all.iter().map(|v| as_str(*v)).collect();
        format!("unknown {what} {value:?} (expected one of {})", expected.join(", "))
    })
}

/// The largest seed file [`Seed::from_file`] reads: 64 MiB, room for the
/// emulator's [`MAX_SUB_TASKS`](crate::MAX_SUB_TASKS) sub-tasks with
/// 40-character device IDs.
pub const MAX_SEED_BYTES: u64 = 64 * 1024 * 1024;

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
    pub subtasks: BTreeMap<String, TaskDetailStatus>,
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
/// where a task may also say `"need_confirm": true` (see
/// [`Seed::with_need_confirm`]), parsed strictly: unknown fields and repeated sub-task keys are errors, and
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
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "RawSeed")]
pub struct Seed {
    // Visible to the emulator's modules (demo data, state dumps), which build seeds valid by construction.
    pub(crate) tasks: Vec<SeedTask>,
    /// (project ID, task ID) of the tasks created with `need_confirm`; kept
    /// beside [`SeedTask`] so that its public fields stay as they were.
    pub(crate) need_confirm: BTreeSet<(String, String)>,
    /// How seeded tasks move by themselves, by (project ID, task ID).
    pub(crate) progressions: BTreeMap<(String, String), Progression>,
    /// How tasks created through CreateBatchTask move by themselves.
    pub(crate) default_progression: Option<Progression>,
}

impl Serialize for Seed {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Out<'a> {
            tasks: Vec<OutTask<'a>>,
            #[serde(skip_serializing_if = "Option::is_none")]
            default_progression: Option<RawProgression>,
        }
        #[derive(Serialize)]
        struct OutTask<'a> {
            #[serde(flatten)]
            task: &'a SeedTask,
            #[serde(skip_serializing_if = "std::ops::Not::not")]
            need_confirm: bool,
            #[serde(skip_serializing_if = "Option::is_none")]
            progression: Option<RawProgression>,
        }
        let tasks = self
            .tasks
            .iter()
            .map(|task| OutTask {
                task,
                need_confirm: self.needs_confirm(&task.project_id, &task.task_id),
                progression: self
                    .progression(&task.project_id, &task.task_id)
                    .map(RawProgression::from),
            })
            .collect();
        Out {
            tasks,
            default_progression: self.default_progression.as_ref().map(RawProgression::from),
        }
        .serialize(serializer)
    }
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
    /// The seed path is not a regular file (a FIFO, a device, a directory).
    #[error("seed file {} is not a regular file (a pipe or device could block or never end)", path.display())]
    NotRegularFile {
        /// The path.
        path: PathBuf,
    },
    /// The seed file is larger than [`MAX_SEED_BYTES`].
    #[error("seed file {} is larger than {} MiB, the most the emulator reads", path.display(), limit / (1024 * 1024))]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The limit in bytes ([`MAX_SEED_BYTES`]).
        limit: u64,
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
    pub(crate) fn invalid(location: impl Into<String>, problem: impl Into<String>) -> Self {
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
        Ok(Self {
            tasks,
            need_confirm: BTreeSet::new(),
            progressions: BTreeMap::new(),
            default_progression: None,
        })
    }

    /// Makes a seeded task move by itself (see [`Progression`]). Fails when
    /// the seed has no such task.
    ///
    /// ```
    /// use std::time::Duration;
    /// use iotda_batchtask_emulator::{DEMO_PROJECT_ID, DEMO_TASK_ID, Progression, Seed};
    ///
    /// let seed = Seed::demo().with_progression(DEMO_PROJECT_ID, DEMO_TASK_ID, Progression::new(Duration::from_secs(1)))?;
    /// assert!(seed.progression(DEMO_PROJECT_ID, DEMO_TASK_ID).is_some());
    /// # Ok::<(), iotda_batchtask_emulator::SeedError>(())
    /// ```
    pub fn with_progression(
        mut self,
        project_id: &str,
        task_id: &str,
        progression: Progression,
    ) -> Result<Self, SeedError> {
        if !self
            .tasks
            .iter()
            .any(|t| t.project_id == project_id && t.task_id == task_id)
        {
            return Err(SeedError::invalid(
                "progression",
                format!("no task {task_id} in project {project_id}"),
            ));
        }
        self.progressions
            .insert((project_id.to_owned(), task_id.to_owned()), progression);
        Ok(self)
    }

    /// How a seeded task moves by itself, if it does.
    pub fn progression(&self, project_id: &str, task_id: &str) -> Option<&Progression> {
        self.progressions.get(&(project_id.to_owned(), task_id.to_owned()))
    }

    /// Makes every task created through CreateBatchTask move by itself
    /// (`"default_progression"` in JSON); see also
    /// [`EmulatorConfig::default_progression`](crate::EmulatorConfig::default_progression).
    pub fn with_default_progression(mut self, progression: Progression) -> Self {
        self.default_progression = Some(progression);
        self
    }

    /// How created tasks move by themselves, if they do.
    pub fn default_progression(&self) -> Option<&Progression> {
        self.default_progression.as_ref()
    }

    /// Marks a task as created with `need_confirm: true`: its Waitting
    /// sub-tasks wait for ConfirmBatchTask, and only such tasks accept a
    /// confirm. Fails when the seed has no such task.
    ///
    /// ```
    /// use iotda_batchtask_emulator::{DEMO_PROJECT_ID, DEMO_TASK_ID, Seed};
    ///
    /// let seed = Seed::demo().with_need_confirm(DEMO_PROJECT_ID, DEMO_TASK_ID)?;
    /// assert!(seed.needs_confirm(DEMO_PROJECT_ID, DEMO_TASK_ID));
    /// # Ok::<(), iotda_batchtask_emulator::SeedError>(())
    /// ```
    pub fn with_need_confirm(mut self, project_id: &str, task_id: &str) -> Result<Self, SeedError> {
        if !self
            .tasks
            .iter()
            .any(|t| t.project_id == project_id && t.task_id == task_id)
        {
            return Err(SeedError::invalid(
                "need_confirm",
                format!("no task {task_id} in project {project_id}"),
            ));
        }
        self.need_confirm.insert((project_id.to_owned(), task_id.to_owned()));
        Ok(self)
    }

    /// Whether the task was created with `need_confirm: true`.
    pub fn needs_confirm(&self, project_id: &str, task_id: &str) -> bool {
        self.need_confirm.contains(&(project_id.to_owned(), task_id.to_owned()))
    }

    /// Parses and checks a seed from JSON.
    pub fn from_json(json: &str) -> Result<Self, SeedError> {
        let raw: RawSeed = serde_json::from_str(json).map_err(SeedError::Json)?;
        raw.check()
    }

    /// Reads, parses and checks a seed file; errors name the file.
    ///
    /// Only a regular file of at most [`MAX_SEED_BYTES`] is read: a FIFO
    /// would block in `open` (so the type is checked before opening) and a
    /// device such as `/dev/zero` would never end.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, SeedError> {
        let path = path.as_ref();
        let read_error = |source| SeedError::Read {
            path: path.to_owned(),
            source,
        };
        let not_regular = || SeedError::NotRegularFile { path: path.to_owned() };
        let too_large = || SeedError::TooLarge {
            path: path.to_owned(),
            limit: MAX_SEED_BYTES,
        };
        let metadata = std::fs::metadata(path).map_err(read_error)?;
        if !metadata.is_file() {
            return Err(not_regular());
        }
        if metadata.len() > MAX_SEED_BYTES {
            return Err(too_large());
        }
        let file = std::fs::File::open(path).map_err(read_error)?;
        // Checked again on what was opened, in case the path changed since.
        if !file.metadata().map_err(read_error)?.is_file() {
            return Err(not_regular());
        }
        let mut bytes = Vec::new();
        file.take(MAX_SEED_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(read_error)?;
        if bytes.len() as u64 > MAX_SEED_BYTES {
            return Err(too_large());
        }
        let json = String::from_utf8(bytes).map_err(|e| {
            read_error(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("not UTF-8 (invalid byte at offset {})", e.utf8_error().valid_up_to()),
            ))
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
    #[serde(default)]
    default_progression: Option<RawProgression>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTask {
    project_id: String,
    task_id: String,
    task_type: String,
    status: String,
    subtasks: RawSubtasks,
    #[serde(default)]
    need_confirm: bool,
    #[serde(default)]
    progression: Option<RawProgression>,
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
        let mut need_confirm = Vec::new();
        let mut progressions = Vec::new();
        for (i, raw) in self.tasks.into_iter().enumerate() {
            if raw.need_confirm {
                need_confirm.push((raw.project_id.clone(), raw.task_id.clone()));
            }
            if let Some(progression) = raw.progression {
                let progression = progression.check(&format!("tasks[{i}].progression"))?;
                progressions.push(((raw.project_id.clone(), raw.task_id.clone()), progression));
            }
            let task_type = parse_wire(&TaskType::ALL, TaskType::as_str, &raw.task_type, "task_type")
                .map_err(|e| SeedError::invalid(format!("tasks[{i}].task_type"), e))?;
            let status = parse_wire(&TaskStatus::ALL, TaskStatus::as_str, &raw.status, "task status")
                .map_err(|e| SeedError::invalid(format!("tasks[{i}].status"), e))?;
            let mut subtasks = BTreeMap::new();
            for (device, status) in raw.subtasks.0 {
                let status = parse_wire(
                    &TaskDetailStatus::ALL,
                    TaskDetailStatus::as_str,
                    &status,
                    "sub-task status",
                )
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
        let mut seed = Seed::new(tasks)?;
        seed.need_confirm.extend(need_confirm);
        seed.progressions.extend(progressions);
        seed.default_progression = self
            .default_progression
            .map(|p| p.check("default_progression"))
            .transpose()?;
        Ok(seed)
    }
}

impl TryFrom<RawSeed> for Seed {
    type Error = SeedError;

    fn try_from(raw: RawSeed) -> Result<Self, Self::Error> {
        raw.check()
    }
}
