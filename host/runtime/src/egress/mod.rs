//! Outbound HTTP under one policy, for actions' `wasi:http` requests
//! ([`crate::interfaces::http`]) and the host's own fetches on an action's behalf (JWKS,
//! [`crate::interfaces::jwt`]):
//!
//! - only allow-listed `HOST[:PORT]` entries, validated when the action is loaded
//!   ([`policy`]);
//! - a name is resolved by the host, and an address that is loopback, private, link-local or
//!   otherwise not publicly routable is refused unless the entry is that IP literal or the
//!   operator marked the entry private; the connection goes to the address that was checked,
//!   so DNS cannot change between check and connect ([`connect`]);
//! - per execution, at most [`ExecutionLimits::max_outbound_requests`] requests in all and
//!   [`ExecutionLimits::max_concurrent_outbound_requests`] at once ([`budget`]); request bodies
//!   capped at [`ExecutionLimits::max_request_body_bytes`] and streamed in chunks of
//!   [`ExecutionLimits::request_body_chunk_bytes`] (two per body at most: with the resource
//!   cap, a few MiB per execution even when an action fills bodies it never sends);
//! - timeouts that never outlast the flow deadline;
//! - refusals logged at most once a second, with a count of what was not logged; each refusal
//!   of an action's own request is also written to its log (`[cachet] outbound request to
//!   HOST refused: WHY`), while a JWKS fetch's refusal reaches the action as `jwt.verify`'s
//!   error.
//!
//! One file per concern: [`policy`] (allow-list and address policy), [`target`] (URLs),
//! [`budget`] (the request budget and the refusal log), [`connect`] (DNS, TCP, TLS, one
//! HTTP/1 exchange).
//!
//! [`ExecutionLimits::max_outbound_requests`]: cachet_limits::ExecutionLimits::max_outbound_requests
//! [`ExecutionLimits::max_concurrent_outbound_requests`]: cachet_limits::ExecutionLimits::max_concurrent_outbound_requests
//! [`ExecutionLimits::max_request_body_bytes`]: cachet_limits::ExecutionLimits::max_request_body_bytes
//! [`ExecutionLimits::request_body_chunk_bytes`]: cachet_limits::ExecutionLimits::request_body_chunk_bytes

use std::time::Duration;

pub(crate) mod budget;
pub(crate) mod connect;
pub(crate) mod policy;
pub(crate) mod target;

pub use policy::{AllowList, AllowListError};

/// Longest a connection attempt (DNS, TCP and TLS) may take.
pub const MAX_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest the wait for a response's first byte, or between two body bytes, may take.
pub const MAX_READ_TIMEOUT: Duration = Duration::from_secs(10);
