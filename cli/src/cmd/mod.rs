//! One module per command; what they share (connection, output, rendering,
//! signals, the dry run and the wait) lives beside `cmd/`, in `src/`.

pub mod completions;
pub mod config;
pub mod create;
pub mod delete;
#[cfg(feature = "emulator")]
pub mod demo;
#[cfg(feature = "emulator")]
pub mod emulator;
pub mod list;
pub mod rollout;
pub mod show;
pub mod targeted;
pub mod watch;
