//! Health: the pure per-endpoint state machine (`state`), every endpoint's health as the
//! writer keeps it (`table`, `history`), weights as ramps and slow starts move them (`ramp`),
//! the immutable view queries read (`view`), the probes
//! that feed it (`probe`), and the tasks that run them and publish the result (`prober`).

pub mod history;
pub mod load;
mod load_read;
pub mod probe;
pub mod prober;
pub mod quorum;
pub mod ramp;
pub mod state;
pub mod table;
pub mod view;
