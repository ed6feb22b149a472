//! [`Env`]: where configuration reads variables, the home directory and the time.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use jiff::Timestamp;

use crate::validation::InvalidInput;

type Vars = dyn Fn(&str) -> Option<OsString> + Send + Sync;
type Clock = dyn Fn() -> Timestamp + Send + Sync;

/// The environment configuration is read from: variables, the home
/// directory (from `HOME`, else `USERPROFILE`) and the clock.
///
/// [`Env::process`] is the real one. [`Env::from_vars`] is a fixed map, so a
/// test never reads the user's variables or home directory:
///
/// ```
/// use iotda_batchtask::config::Env;
///
/// let env = Env::from_vars([("HUAWEICLOUD_SDK_AK", "AK0001"), ("HOME", "/nonexistent")]);
/// assert_eq!(env.var("HUAWEICLOUD_SDK_AK")?.as_deref(), Some("AK0001"));
/// assert_eq!(env.var("HUAWEICLOUD_SDK_SK")?, None);
/// # Ok::<(), iotda_batchtask::InvalidInput>(())
/// ```
#[derive(Clone)]
pub struct Env {
    vars: Arc<Vars>,
    clock: Arc<Clock>,
}

impl fmt::Debug for Env {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Values may be secrets.
        f.debug_struct("Env").finish_non_exhaustive()
    }
}

impl Env {
    /// The process environment and the system clock.
    pub fn process() -> Self {
        Self::from_lookup(|name| std::env::var_os(name))
    }

    /// Variables from `lookup` (a config system, say), the system clock.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<OsString> + Send + Sync + 'static) -> Self {
        Self {
            vars: Arc::new(lookup),
            clock: Arc::new(Timestamp::now),
        }
    }

    /// Exactly these variables (set `HOME` for a home directory), the
    /// system clock.
    pub fn from_vars<K: Into<String>, V: Into<OsString>>(vars: impl IntoIterator<Item = (K, V)>) -> Self {
        let map: HashMap<String, OsString> = vars.into_iter().map(|(k, v)| (k.into(), v.into())).collect();
        Self::from_lookup(move |name| map.get(name).cloned())
    }

    /// The same variables with another clock: what "now" is when deciding
    /// whether temporary credentials need refreshing.
    pub fn with_clock(mut self, clock: impl Fn() -> Timestamp + Send + Sync + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The raw value of a variable.
    pub fn var_os(&self, name: &str) -> Option<OsString> {
        (self.vars)(name)
    }

    /// A variable as text: `None` when unset or empty; an error naming it
    /// when it is set but not UTF-8 (reading that as unset could quietly
    /// fall back to another identity).
    pub fn var(&self, name: &str) -> Result<Option<String>, InvalidInput> {
        match self.var_os(name) {
            None => Ok(None),
            Some(value) => match value.into_string() {
                Ok(value) => Ok(Some(value).filter(|v| !v.is_empty())),
                Err(_) => Err(InvalidInput::new(name.to_owned(), "is set but is not valid UTF-8")),
            },
        }
    }

    /// The home directory: `HOME`, else `USERPROFILE` (Windows).
    pub fn home(&self) -> Option<PathBuf> {
        ["HOME", "USERPROFILE"]
            .into_iter()
            .find_map(|name| self.var_os(name).filter(|v| !v.is_empty()))
            .map(PathBuf::from)
    }

    /// Now, by this environment's clock.
    pub fn now(&self) -> Timestamp {
        (self.clock)()
    }
}
