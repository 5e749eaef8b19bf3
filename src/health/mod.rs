//! Health: the pure per-endpoint state machine (`state`), the probes that feed it (`probe`),
//! and the tasks that run them and publish the result (`prober`).

pub mod history;
pub mod probe;
pub mod prober;
pub mod state;
pub mod table;
