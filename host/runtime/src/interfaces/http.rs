//! `wasi:http` for actions: the hooks through which every request an action makes reaches
//! the host (guest-controlled URL, headers and body), checked by [`crate::egress`].
//!
//! The policy is checked on the request's authority before any DNS lookup or connection; a
//! refusal is the wasi:http error `HTTP-request-denied` (allow-list), `destination-IP-prohibited`
//! (address), `connection-limit-reached` (budget) or `HTTP-request-body-size` (size).
//!
//! A refused request still takes the body the action writes, and throws it away, before the
//! refusal is answered: a guest that is still writing its body when the refusal comes must see
//! its writes succeed and the response fail, not a closed stream. (StarlingMonkey aborts the
//! whole JavaScript engine on a body write that fails, instead of rejecting `fetch`.)

use std::sync::Arc;
use std::time::Instant;

use cachet_limits::ExecutionLimits;
use http_body_util::{BodyExt, Limited};
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

use crate::egress::budget::{OutboundBudget, Refusals};
use crate::egress::connect::{ADDRESS_REFUSED, IoFuture, clamp, discard, open, send_checked};
use crate::egress::policy::AllowList;
use crate::egress::target::Target;
use crate::log::LogSink;
use crate::observe::{EgressOutcome, Observer};
/// The wasi:http hooks of one execution.
pub(crate) struct Egress {
    allow: AllowList,
    outbound: Arc<OutboundBudget>,
    deadline: Instant,
    max_body_bytes: usize,
    body_chunk_bytes: usize,
    observer: Arc<dyn Observer>,
    refusals: Refusals,
}

impl Egress {
    pub(crate) fn new(
        allow: AllowList,
        outbound: Arc<OutboundBudget>,
        limits: &ExecutionLimits,
        deadline: Instant,
        observer: Arc<dyn Observer>,
        log: LogSink,
    ) -> Self {
        Self {
            allow,
            outbound,
            deadline,
            max_body_bytes: limits.max_request_body_bytes,
            body_chunk_bytes: limits.request_body_chunk_bytes,
            observer,
            refusals: Refusals::new(log),
        }
    }

    /// The first outbound request refused in this execution: its host, and why.
    pub(crate) fn first_refusal(&self) -> Option<(&str, &str)> {
        self.refusals.first()
    }

    /// Refuses the request before anything is sent: logs why (the host's log rate-limited, the
    /// action's log always), tells the observer, and answers with `error` once the action has
    /// written its body.
    fn refuse(
        &self,
        body: WasiBody,
        host: &str,
        why: &str,
        error: Error,
        outcome: EgressOutcome,
    ) -> ResponseFuture {
        self.observer.egress_request(outcome);
        self.refusals.note(host, why);
        let deadline = self.deadline;
        Box::new(async move {
            discard(body, deadline).await;
            Err(error)
        })
    }
}

type ResponseFuture =
    Box<dyn Future<Output = Result<(http::Response<WasiBody>, IoFuture), Error>> + Send>;

impl WasiHttpHooks for Egress {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: IoFuture,
    ) -> ResponseFuture {
        drop(fut);
        let mut target = match Target::from_uri(request.uri().clone()) {
            Ok(t) => t,
            Err(why) => {
                return self.refuse(
                    request.into_body(),
                    "",
                    &why.to_string(),
                    Error::HttpRequestUriInvalid,
                    EgressOutcome::Refused,
                );
            }
        };
        let authority = target.authority();
        // The budget first: refused requests count too, so a loop of denied requests ends.
        let slot = match self.outbound.start() {
            Ok(slot) => slot,
            Err(why) => {
                return self.refuse(
                    request.into_body(),
                    &authority,
                    &why.to_string(),
                    Error::ConnectionLimitReached,
                    EgressOutcome::Refused,
                );
            }
        };
        if !self.allow.allows(&target.host, target.port) {
            return self.refuse(
                request.into_body(),
                &authority,
                "the host is not on the action's allow-list",
                Error::HttpRequestDenied,
                EgressOutcome::Denied,
            );
        }
        let allow_private = self.allow.private_allowed(&target.host, target.port);
        // A loopback test server standing in for an https one (ActionConfig::plain_http_hosts).
        if target.tls && self.allow.plain_http(&target.host, target.port) {
            target.tls = false;
        }
        let max = self.max_body_bytes;
        // A declared length past the limit is refused before connecting; an undeclared one is
        // cut off at the limit as it streams.
        let declared = request
            .headers()
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|len| len > max as u64) {
            drop(slot);
            return self.refuse(
                request.into_body(),
                &authority,
                "the request body is larger than the limit",
                Error::HttpRequestBodySize(Some(max as u64)),
                EgressOutcome::Refused,
            );
        }
        let options = clamp(options, self.deadline);
        let observer = Arc::clone(&self.observer);
        let token_request = request.method() == http::Method::POST
            && request
                .uri()
                .path()
                .trim_end_matches('/')
                .ends_with("/token");
        let (refusals, deadline) = (self.refusals.clone(), self.deadline);
        Box::new(async move {
            let sent = match open(&target, allow_private, &options).await {
                Ok(connection) => {
                    // Connected: the body streams to the server, cut off at the limit.
                    let request = request.map(|body| {
                        Limited::new(body, max)
                            .map_err(move |e| match e.downcast::<Error>() {
                                Ok(e) => *e,
                                Err(_) => Error::HttpRequestBodySize(Some(max as u64)),
                            })
                            .boxed_unsync()
                    });
                    send_checked(request, connection, options, slot).await
                }
                Err(e) => {
                    drop(slot);
                    if matches!(e, Error::DestinationIpProhibited) {
                        refusals.note(&target.authority(), ADDRESS_REFUSED);
                    }
                    // Nothing was sent: take the whole body as a refusal does (see `discard`).
                    discard(request.into_body(), deadline).await;
                    Err(e)
                }
            };
            let outcome = match sent {
                Ok(_) => EgressOutcome::Completed,
                Err(_) => EgressOutcome::Failed,
            };
            observer.egress_request(outcome);
            if token_request {
                observer.token_request(outcome);
            }
            sent
        })
    }

    fn p2_outgoing_body_chunk_size(&mut self) -> usize {
        self.body_chunk_bytes
    }

    fn p2_outgoing_body_buffer_chunks(&mut self) -> usize {
        // Never 0: wasmtime-wasi-http asserts at least one.
        1
    }
}
