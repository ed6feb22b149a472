//! The library's integration tests, in one binary (one link, one set of
//! dependencies on disk). Every server a test talks to is started by the
//! test itself on 127.0.0.1.

mod capture;
mod common;

mod bounds;
mod bulk;
mod client;
mod config;
mod conformance;
mod downstream;
mod fault_proxy;
mod faults;
mod generated;
mod hostile_input;
mod load;
mod lost_answers;
mod operator_loop;
mod plan_is_what_is_sent;
mod proxy;
mod robustness;
mod rollout_plan;
mod rollout_run;
mod secrets;
mod settled_by_change;
mod show;
mod signing;
mod truth;
mod watch;
mod watch_requests;
mod wire;
