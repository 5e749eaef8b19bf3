//! DNS: the pure answer path (`response`, `fit`) and the edges that serve it: UDP worker
//! threads (`udp`), TCP connections with their limits and timeouts (`tcp`), the sockets of
//! both (`server`), and what both answer with (`handler`).

pub mod ecs;
pub mod fit;
pub mod handler;
pub mod request;
pub mod response;
pub mod rrl;
pub mod server;
pub mod tcp;
pub mod udp;
pub mod wire;
