//! Keeping the plan: a replaceable store, and the atomic file the CLI uses.

use std::fs::{self, File};
use std::io::{ErrorKind, Write as _};
use std::path::{Path, PathBuf};

use super::{PLAN_VERSION, Plan, PlanError};

/// The largest plan file read or written (64 MiB): room for half a million
/// device IDs of the longest kind, and a bound on what a read allocates.
pub const MAX_PLAN_BYTES: u64 = 64 * 1024 * 1024;

/// Where a plan is kept between steps. The driver saves at every change of
/// state; replace [`AtomicFileStore`] with a database row, an object store
/// or a test double by implementing this.
///
/// A `save` that returns `Ok` must be durable: the driver sends a create
/// only after the intent is saved.
pub trait PlanStore {
    /// Reads the plan.
    fn load(&self) -> Result<Plan, PlanError>;
    /// Replaces the stored plan with `plan`, all or nothing.
    fn save(&self, plan: &Plan) -> Result<(), PlanError>;
    /// Stores the first version of a plan, refusing if one is stored
    /// already ([`PlanError::Exists`]).
    fn create_new(&self, plan: &Plan) -> Result<(), PlanError>;
}

/// A plan kept in one JSON file, replaced atomically: each save writes a
/// temporary file in the same directory, flushes it to disk (fsync),
/// renames it over the plan and flushes the directory. A crash at any
/// point leaves either the old plan or the new one, never a mix; a
/// temporary file left behind is ignored.
///
/// Reads are bounded ([`MAX_PLAN_BYTES`]); the path must be a regular file
/// (not a symbolic link, a directory or a FIFO).
#[derive(Debug, Clone)]
pub struct AtomicFileStore {
    path: PathBuf,
}

impl AtomicFileStore {
    /// A store at `path` (nothing is read or written yet).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// The plan file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn io(&self, source: std::io::Error) -> PlanError {
        PlanError::Io {
            path: self.path.clone(),
            source,
        }
    }

    fn dir(&self) -> &Path {
        match self.path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        }
    }

    /// Refuses a path that exists and is not a regular file.
    fn check_kind(&self) -> Result<bool, PlanError> {
        match fs::symlink_metadata(&self.path) {
            Ok(meta) if meta.file_type().is_file() => Ok(true),
            Ok(_) => Err(PlanError::NotRegularFile {
                path: self.path.clone(),
            }),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
            Err(e) => Err(self.io(e)),
        }
    }

    /// The plan as JSON, bounded.
    fn encode(&self, plan: &Plan) -> Result<Vec<u8>, PlanError> {
        let mut json = serde_json::to_vec_pretty(plan).expect("a plan serialises");
        json.push(b'\n');
        if json.len() as u64 > MAX_PLAN_BYTES {
            return Err(PlanError::TooLarge {
                path: self.path.clone(),
                max: MAX_PLAN_BYTES,
            });
        }
        Ok(json)
    }

    /// Writes `plan` to a durable temporary file beside the plan file: the
    /// first half of a save (the rename is the second).
    fn stage(&self, plan: &Plan) -> Result<tempfile::NamedTempFile, PlanError> {
        let json = self.encode(plan)?;
        let mut temp = tempfile::Builder::new()
            .prefix(".plan-")
            .suffix(".tmp")
            .tempfile_in(self.dir())
            .map_err(|e| self.io(e))?;
        temp.write_all(&json).map_err(|e| self.io(e))?;
        temp.as_file().sync_all().map_err(|e| self.io(e))?;
        Ok(temp)
    }

    /// Makes the rename durable.
    fn sync_dir(&self) -> Result<(), PlanError> {
        // Directories cannot be opened for syncing on every platform; where
        // they can (Unix), a rename is durable only once its directory is.
        #[cfg(unix)]
        File::open(self.dir())
            .and_then(|dir| dir.sync_all())
            .map_err(|e| self.io(e))?;
        Ok(())
    }
}

impl PlanStore for AtomicFileStore {
    fn load(&self) -> Result<Plan, PlanError> {
        if !self.check_kind()? {
            return Err(self.io(std::io::Error::new(ErrorKind::NotFound, "no plan file here")));
        }
        let bytes = crate::bounded_read::read_small_file(&self.path, MAX_PLAN_BYTES).map_err(|e| match e.kind() {
            ErrorKind::InvalidInput => PlanError::NotRegularFile {
                path: self.path.clone(),
            },
            ErrorKind::InvalidData => PlanError::TooLarge {
                path: self.path.clone(),
                max: MAX_PLAN_BYTES,
            },
            _ => self.io(e),
        })?;
        let corrupt = |detail: String| PlanError::Corrupt {
            path: self.path.clone(),
            detail,
        };
        // The version first, so a newer format is named as such rather
        // than as whichever field this version does not know.
        #[derive(serde::Deserialize)]
        struct Version {
            version: Option<u32>,
        }
        let version: Version = serde_json::from_slice(&bytes).map_err(|e| corrupt(e.to_string()))?;
        match version.version {
            None => return Err(corrupt("no `version` field".to_owned())),
            Some(found) if found > PLAN_VERSION => {
                return Err(PlanError::FutureVersion {
                    path: Some(self.path.clone()),
                    found,
                    supported: PLAN_VERSION,
                });
            }
            Some(_) => {}
        }
        serde_json::from_slice(&bytes).map_err(|e| corrupt(e.to_string()))
    }

    fn save(&self, plan: &Plan) -> Result<(), PlanError> {
        self.check_kind()?;
        let temp = self.stage(plan)?;
        temp.persist(&self.path).map_err(|e| self.io(e.error))?;
        self.sync_dir()
    }

    fn create_new(&self, plan: &Plan) -> Result<(), PlanError> {
        if self.check_kind()? {
            return Err(PlanError::Exists {
                path: self.path.clone(),
            });
        }
        let temp = self.stage(plan)?;
        // No-clobber: a file that appeared since the check is not replaced.
        temp.persist_noclobber(&self.path).map_err(|e| match e.error.kind() {
            ErrorKind::AlreadyExists => PlanError::Exists {
                path: self.path.clone(),
            },
            _ => self.io(e.error),
        })?;
        self.sync_dir()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rollout::{RolloutTaskType, WaveSpec};

    fn plan(devices: usize) -> Plan {
        let spec: WaveSpec = "1,all".parse().unwrap();
        Plan::builder(
            "http://127.0.0.1:1",
            "0123456789abcdef",
            RolloutTaskType::FirmwareUpgrade,
            (0..devices).map(|i| format!("dev-{i}")),
            spec,
        )
        .build("2026-01-02T03:04:05Z".parse().unwrap())
        .unwrap()
    }

    #[test]
    fn a_crash_between_write_and_rename_leaves_the_old_plan() {
        let dir = tempfile::tempdir().unwrap();
        let store = AtomicFileStore::new(dir.path().join("plan.json"));
        let old = plan(3);
        store.create_new(&old).unwrap();
        let mut new = old.clone();
        new.begin_create(0, "2026-01-02T03:04:06Z".parse().unwrap(), None)
            .unwrap();
        // The first half of a save, then the "crash": the temporary file
        // stays (as after kill -9) and is never renamed.
        let staged = store.stage(&new).unwrap();
        let (_, left) = staged.keep().unwrap();
        assert!(left.exists());
        assert_eq!(store.load().unwrap(), old);
        // The next save still replaces the plan, and the stray file is ignored.
        store.save(&new).unwrap();
        assert_eq!(store.load().unwrap(), new);
    }
}
