//! The command-line tool's integration tests, in one binary: each runs the
//! built `iotda-batchtask` against an emulator it starts on 127.0.0.1.

#[path = "../../../tests/it/common.rs"]
mod common;

mod commands;
mod robust;
mod secrets;
