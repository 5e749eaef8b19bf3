//! One integration-test binary: a real server on 127.0.0.1, real UDP and TCP.

mod cli;
mod differential;
mod dns;
mod malformed;
mod support;
mod tcp;
