//! DNS: the answer pipeline (`pipeline`: decode, answer, rate limit, observe, encode) with
//! its stages' parts (the pure answer in `response`, the parser in `request` and `ecs`, the
//! encoders in `wire` and `fallback`, rate limiting in `rrl`), and the edges that feed it:
//! UDP worker threads (`udp`), TCP connections with their limits and timeouts (`tcp`), and the
//! sockets of both (`server`).
//!
//! Within `dns` imports point one way: `response` knows nothing of encoding; `wire` and
//! `fallback` write what `response` built; `pipeline` chains them; `udp` and `tcp` call
//! `pipeline`.

pub mod ecs;
pub mod fallback;
pub mod notify;
pub mod pipeline;
pub mod request;
pub mod response;
pub mod rrl;
pub mod server;
pub mod sign;
pub mod tcp;
pub mod udp;
pub mod wire;
pub mod xfr;
