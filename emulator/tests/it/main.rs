//! The emulator's integration tests, in one binary: the HTTP server, the
//! I/O-free service, hostile requests, and the official Python SDK against it.

#[path = "../../../tests/it/common.rs"]
mod common;

mod attacks;
mod double;
mod emulator;
mod identity;
mod interop;
mod progression;
mod service;
mod state_rules;
