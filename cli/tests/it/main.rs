//! The command-line tool's integration tests, in one binary: each runs the
//! built `iotda-batchtask` against an emulator it starts on 127.0.0.1.

#[path = "../../../tests/it/common.rs"]
mod common;

#[path = "../../../tests/it/fault_proxy.rs"]
mod fault_proxy;

mod admin;
mod commands;
mod configuration;
mod dry_run;
mod help;
mod json_invisible_chars;
mod lost_answers;
mod operator_loop;
mod release;
mod robust;
mod rollout;
mod secrets;
mod stop_end;
mod wait_guard;
mod wait_reads;
mod watch;
