//! DNS: the pure answer path (`response`, `fit`) and the edges that serve it over UDP and
//! TCP (`handler`, `server`).

pub mod ecs;
pub mod fit;
pub mod handler;
pub mod response;
pub mod server;
