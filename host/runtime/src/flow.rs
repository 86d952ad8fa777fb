//! Flows: binding actions to a tenant's trigger, and executing them in order, each in a fresh
//! sandbox, merging their commands.

use std::sync::Arc;
use std::time::{Duration, Instant};

use cachet_limits::{ExecutionLimits, Usage};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use wasmtime::component::ResourceTable;
use wasmtime::{Engine, Store, Trap, UpdateDeadline};
use wasmtime_wasi::WasiCtxBuilder;
use wasmtime_wasi::p2::{DynInputStream, DynOutputStream, DynPollable};

use crate::action::Action;
use crate::clock::Clock;
use crate::clock::WasiWallClock;
use crate::egress::budget::OutboundBudget;
use crate::error::{ContinueError, ExecuteError};
use crate::event::EventFields;
use crate::interfaces::cache::{CacheCtx, FlowReads, Reads};
use crate::interfaces::commands::{Commands, Leg, Resumed};
use crate::interfaces::http::Egress;
use crate::interfaces::jwt::{JwksCache, JwtCtx};
use crate::log::LogSink;
use crate::observe::Observer;
use crate::result::{
    ActionFailure, ActionResult, Command, ContinueParams, FailureKind, FlowResult, Outcome,
    Redirect,
};
use crate::sandbox::{Ctx, DeadlineStop, Epochs, MemoryLimiter, classify_trap, deadline_failure};
use crate::store::{CacheStore, PartitionKey};
use crate::trigger::Trigger;
use crate::warm::WarmInstance;

/// Extra wall-clock time allowed past the flow deadline for host-side waits (a store call in
/// flight) before the execution is abandoned. Wasm code itself is stopped by epochs, and host
/// calls that can wait (HTTP, JWKS) are bounded by the deadline itself.
const DEADLINE_GRACE: Duration = Duration::from_millis(50);

/// The share of the flow's deadline its read-ahead may take: a quarter.
const READ_AHEAD_DEADLINE_SHARE: u64 = 4;

/// Most bytes one `wasi:random` call may ask for.
const MAX_RANDOM_BYTES: u64 = 64 * 1024;

/// Executes flows: everything an execution needs from the runtime, and nothing about loading
/// or binding.
pub(crate) struct Executor {
    pub(crate) engine: Engine,
    pub(crate) store: Arc<dyn CacheStore>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) limits: ExecutionLimits,
    pub(crate) epochs: Arc<Epochs>,
    pub(crate) jwks: Arc<JwksCache>,
    pub(crate) observer: Arc<dyn Observer>,
}

impl Executor {
    /// Checks that `actions` may run as one `trigger` flow.
    pub(crate) fn check_flow(
        &self,
        trigger: Trigger,
        actions: &[Action],
    ) -> Result<(), ExecuteError> {
        self.limits.check_actions(actions.len())?;
        match actions.iter().find(|a| a.trigger() != trigger) {
            Some(a) => Err(ExecuteError::TriggerMismatch {
                name: a.name().to_string(),
                expected: trigger,
                actual: a.trigger(),
            }),
            None => Ok(()),
        }
    }

    /// Runs `actions` in order on `event_json` in `partition`.
    pub(crate) async fn run_flow(
        &self,
        partition: PartitionKey,
        actions: &[Action],
        event_json: &str,
    ) -> Result<FlowResult, ExecuteError> {
        let started = Instant::now();
        self.limits.check_event_bytes(event_json.len())?;
        let event = EventFields::parse(event_json)?;
        Ok(self
            .run_from(partition, actions, event, None, Vec::new(), started)
            .await)
    }

    /// Continues the flow `state` paused in `partition` (see [`Executor::pause`]): takes its
    /// continuation (so no other call, on any host, can), checks that `actions` still has the
    /// redirecting action at its place, and runs that action's `onContinuePostLogin` and the
    /// rest of the flow on the paused event with what the user came back with.
    pub(crate) async fn continue_flow(
        &self,
        partition: PartitionKey,
        actions: &[Action],
        state: &str,
        params: ContinueParams,
    ) -> Result<FlowResult, ContinueError> {
        let started = Instant::now();
        if partition.trigger.continue_export_name().is_none() {
            return Err(ContinueError::CannotRedirect(partition.trigger));
        }
        // A state is 43 characters; anything much longer is no state of ours, and is not sent
        // to the store.
        if state.is_empty() || state.len() > MAX_STATE_CHARS {
            return Err(ContinueError::UnknownState);
        }
        // What the user came back with is bounded before the continuation is taken, so a
        // request that cannot be served does not use it up.
        let params_bytes = serde_json::to_string(&params).map_or(usize::MAX, |t| t.len());
        self.limits
            .check_event_bytes(params_bytes)
            .map_err(ContinueError::Limit)?;
        let now = self.clock.now_ms();
        let record = self
            .store
            .take_continuation(&partition, state, now)
            .await
            .map_err(ContinueError::Store)?
            .ok_or(ContinueError::UnknownState)?;
        let paused: Paused =
            serde_json::from_str(&record).map_err(|e| ContinueError::Unreadable(e.to_string()))?;
        match actions.get(paused.index) {
            Some(a) if a.name() == paused.action => {}
            _ => {
                return Err(ContinueError::FlowChanged {
                    action: paused.action,
                });
            }
        }
        let mut event = EventFields::parse(paused.event.get())
            .map_err(|_| ContinueError::Unreadable("the event is not a JSON object".into()))?;
        event.set_request_params(&params.query, &params.body);
        self.limits
            .check_event_bytes(event.to_json().len())
            .map_err(ContinueError::Limit)?;
        let resume = Resume {
            index: paused.index,
            resumed: Resumed {
                state: state.to_owned(),
                params,
            },
        };
        Ok(self
            .run_from(
                partition,
                actions,
                event,
                Some(resume),
                paused.commands,
                started,
            )
            .await)
    }

    /// Runs `actions` from the start, or from a continuation, merging their commands after
    /// `commands` (those of the flow before its redirect).
    async fn run_from(
        &self,
        partition: PartitionKey,
        actions: &[Action],
        event: EventFields,
        resume: Option<Resume>,
        mut commands: Vec<Command>,
        started: Instant,
    ) -> FlowResult {
        let limits = &self.limits;
        let deadline_epoch = self.epochs.deadline_after(limits.flow_deadline_ms);
        let deadline = started + Duration::from_millis(limits.flow_deadline_ms);
        let event = Arc::new(event);
        let (first, resumed) = match resume {
            Some(r) => (r.index, Some(r.resumed)),
            None => (0, None),
        };
        let continuing = resumed.is_some();
        // Triggers whose actions can redirect share one leg per flow run.
        let leg = partition.trigger.continue_export_name().map(|_| {
            Arc::new(Leg::new(
                Arc::clone(&event),
                Arc::clone(&self.clock),
                resumed,
            ))
        });

        let reads = self.read_ahead(&partition, started).await;
        let mut outcome = Outcome::Success;
        let mut results = Vec::with_capacity(actions.len() - first.min(actions.len()));
        for (i, action) in actions.iter().enumerate().skip(first) {
            let event_json = event.with_secrets(&action.inner.secrets_json);
            let entry = Entry {
                leg: leg.clone(),
                continuing: continuing && i == first,
                reads: Arc::clone(&reads),
            };
            let result = self
                .run_action(
                    action,
                    &partition,
                    &event_json,
                    deadline_epoch,
                    deadline,
                    entry,
                )
                .await;
            let stop = result.outcome != Outcome::Success;
            if result.outcome != Outcome::Failed {
                commands.extend(result.commands.iter().cloned());
            }
            outcome = result.outcome;
            results.push(result);
            if stop {
                break;
            }
        }
        let mut redirect = None;
        let index = (first + results.len()).saturating_sub(1);
        if outcome == Outcome::Redirect
            && let (Some(leg), Some(last)) = (&leg, results.last_mut())
        {
            match self
                .pause(&partition, index, last, &event, &commands, leg)
                .await
            {
                Ok(paused) => redirect = Some(paused),
                Err(failure) => {
                    // The redirecting action's commands are not the flow's any more.
                    commands.truncate(commands.len() - last.commands.len());
                    last.outcome = Outcome::Failed;
                    last.error = Some(failure);
                    last.redirect = None;
                    outcome = Outcome::Failed;
                }
            }
        }
        // The hits answered from a read-ahead count as uses, and its values go now.
        reads
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .leave_ahead(self.store.as_ref(), &partition);
        let cache = self.usage(&partition, started).await;
        FlowResult {
            outcome,
            commands,
            actions: results,
            redirect,
            cache,
            duration_us: micros(started.elapsed()),
        }
    }

    /// Asks the store for `partition` whole before the flow's first instance starts, so the
    /// flow's reads need not suspend it (see [`crate::ReadAhead`]). A store that cannot answer
    /// within a quarter of the flow's deadline leaves the flow's reads missing at once, as each
    /// would after waiting, and the rest of the deadline to its actions.
    async fn read_ahead(&self, partition: &PartitionKey, started: Instant) -> FlowReads {
        let share = Duration::from_millis(self.limits.flow_deadline_ms / READ_AHEAD_DEADLINE_SHARE);
        let now = self.clock.now_ms();
        let read = self.store.read_ahead(partition, now);
        let reads = match tokio::time::timeout_at((started + share).into(), read).await {
            Ok(Ok(Some(ahead))) => Reads::ahead(ahead, now),
            Ok(Ok(None)) => Reads::Store,
            // The store logs its own failures, rate-limited; never the partition's contents.
            Ok(Err(e)) => {
                tracing::debug!(%partition, error = %e, "cache read-ahead failed; the flow's reads miss");
                Reads::Unavailable
            }
            Err(_elapsed) => Reads::Unavailable,
        };
        reads.shared()
    }

    /// The partition's usage for a flow's result: from the reply of a cache operation this
    /// flow's time saw (one round trip per operation on Redis), else asked of the store.
    async fn usage(&self, partition: &PartitionKey, started: Instant) -> Usage {
        match self.store.usage_seen_since(partition, started) {
            Some(usage) => usage,
            None => self.store.usage(partition).await.unwrap_or_default(),
        }
    }

    /// Keeps a flow paused by `action`'s redirect in the store, under the leg's state, for
    /// `execution_limits.continuation_ttl_ms`: the event (without secrets) and the commands so
    /// far. A continuation too large, or a store that cannot keep it, fails the action.
    async fn pause(
        &self,
        partition: &PartitionKey,
        index: usize,
        action: &ActionResult,
        event: &EventFields,
        commands: &[Command],
        leg: &Leg,
    ) -> Result<Redirect, ActionFailure> {
        let failure = |message: String| ActionFailure {
            kind: FailureKind::Continuation,
            message,
        };
        let url = action.redirect.clone().unwrap_or_default();
        let record = serde_json::to_string(&PausedRef {
            index,
            action: &action.name,
            event: &RawValue::from_string(event.to_json())
                .map_err(|e| failure(format!("the event could not be kept: {e}")))?,
            commands,
        })
        .map_err(|e| failure(format!("the flow could not be kept: {e}")))?;
        let max = self.limits.max_continuation_bytes;
        if record.len() > max {
            return Err(failure(format!(
                "the action redirected, but the paused flow (the event and the commands so far) \
                 is {} bytes and at most {max} are kept for the user's return \
                 (execution_limits.max_continuation_bytes); keep the event and the commands \
                 before the redirect small",
                record.len()
            )));
        }
        let now = self.clock.now_ms();
        let expires_at = now.saturating_add(self.limits.continuation_ttl_ms);
        let state = leg.state();
        self.store
            .put_continuation(partition, state, &record, expires_at, now)
            .await
            .map_err(|e| {
                failure(format!(
                    "the action redirected, but the paused flow could not be kept for the \
                     user's return: {e}"
                ))
            })?;
        Ok(Redirect {
            url,
            state: state.to_owned(),
            expires_at,
        })
    }

    async fn run_action(
        &self,
        action: &Action,
        partition: &PartitionKey,
        event_json: &str,
        deadline_epoch: u64,
        deadline: Instant,
        entry: Entry,
    ) -> ActionResult {
        let inner = self;
        let limits = &inner.limits;
        // The function entered: the trigger's, or after a redirect its continuation, which an
        // action that never redirects need not export.
        let export = if entry.continuing {
            match action.inner.continue_export {
                Some(export) => export,
                None => return no_continuation(action),
            }
        } else {
            action.inner.export
        };
        // A warm instance of this tenant, if the action keeps them and one is idle.
        let warm = action
            .inner
            .warm
            .as_ref()
            .and_then(|pool| pool.take(&partition.tenant));
        // The log: a warm instance's WASI context keeps writing to its sink, emptied here for
        // this execution; a fresh one gets its own.
        let logs = match &warm {
            Some(w) => {
                w.logs.clear();
                w.logs.clone()
            }
            None => LogSink::new(limits.max_log_bytes),
        };
        let mut http = wasmtime_wasi_http::WasiHttpCtx::new();
        http.set_field_size_limit(limits.max_header_bytes);
        let outbound = Arc::new(OutboundBudget::new(limits));
        let egress = Egress::new(
            action.inner.allow.clone(),
            Arc::clone(&outbound),
            limits,
            deadline,
            Arc::clone(&inner.observer),
            logs.clone(),
        );
        let cache = CacheCtx {
            partition: partition.clone(),
            store: Arc::clone(&inner.store),
            reads: Arc::clone(&entry.reads),
            clock: Arc::clone(&inner.clock),
            budget: limits.write_budget(),
            deadline,
            observer: Arc::clone(&inner.observer),
        };
        let jwt = JwtCtx {
            tenant: partition.tenant.clone(),
            allow: action.inner.allow.clone(),
            jwks: Arc::clone(&inner.jwks),
            clock: Arc::clone(&inner.clock),
            outbound,
            max_token_bytes: limits.max_token_bytes,
            deadline,
        };
        let (mut store, kept) = match warm {
            // The warm instance's store gets this execution's context in place of the last
            // one's. Its WASI context stays (no files, environment or sockets; the clock is
            // the runtime's), writing to the same log sink, emptied for this execution; so do
            // the host resources it kept (stdio streams, a finished fetch's remains: see
            // `reusable`).
            Some(mut w) => {
                let ctx = w.store.data_mut();
                ctx.http = http;
                ctx.egress = egress;
                ctx.limiter = MemoryLimiter::new(limits);
                ctx.cache = cache;
                ctx.jwt = jwt;
                ctx.commands = Commands::new(action.inner.trigger, limits)
                    .entered(entry.leg, entry.continuing);
                ctx.deadline_hit = false;
                (w.store, Some((w.instance, w.created, w.executions)))
            }
            None => {
                let mut table = ResourceTable::new();
                table.set_max_capacity(limits.max_resources);
                let wasi = WasiCtxBuilder::new()
                    .stdout(logs.clone())
                    .stderr(logs.clone())
                    .wall_clock(WasiWallClock(Arc::clone(&inner.clock)))
                    .allow_tcp(false)
                    .allow_udp(false)
                    .allow_ip_name_lookup(false)
                    // wasi:random allocates what is asked before the guest sees it.
                    .max_random_size(MAX_RANDOM_BYTES)
                    .build();
                let ctx = Ctx {
                    wasi,
                    table,
                    http,
                    egress,
                    limiter: MemoryLimiter::new(limits),
                    cache,
                    jwt,
                    commands: Commands::new(action.inner.trigger, limits)
                        .entered(entry.leg, entry.continuing),
                    deadline_hit: false,
                };
                let mut store = Store::new(&inner.engine, ctx);
                store.limiter(|c| &mut c.limiter);
                // Guest handles to host resources (a second cap beside the resource
                // table's).
                store.set_max_component_handles(limits.max_resources);
                (store, None)
            }
        };
        // The bytes one host call may copy out of the guest (a list can alias its own memory,
        // so the guest's memory limit alone does not bound it).
        store.set_hostcall_fuel(limits.max_host_call_bytes);
        // Wake on every epoch tick: yield to the executor (so a looping action cannot hog a
        // worker thread) until the flow's deadline epoch, then interrupt.
        store.set_epoch_deadline(1);
        let epochs = Arc::clone(&inner.epochs);
        store.epoch_deadline_callback(move |mut store| {
            if epochs.now() >= deadline_epoch {
                store.data_mut().deadline_hit = true;
                return Err(Trap::Interrupt.into());
            }
            Ok(UpdateDeadline::Yield(1))
        });

        let started = Instant::now();
        let reused = kept.as_ref().map(|(instance, _, _)| *instance);
        let call = async {
            let instance = match reused {
                Some(instance) => instance,
                None => action
                    .inner
                    .pre
                    .instantiate_async(&mut store)
                    .await
                    .map_err(Instantiation)?,
            };
            // Every trigger's entry point has the same shape: `func(event: string) ->
            // result<_, string>` (see `trigger.rs`).
            let entry = instance
                .get_typed_func::<(&str,), (Result<(), String>,)>(&mut store, &export)
                .map_err(Instantiation)?;
            let (returned,) = entry
                .call_async(&mut store, (event_json,))
                .await
                .map_err(Call)?;
            Ok((instance, returned))
        };
        let returned = tokio::time::timeout_at((deadline + DEADLINE_GRACE).into(), call).await;
        let duration_us = micros(started.elapsed());

        let ctx = store.data();
        let (instance, returned) = match returned {
            Ok(Ok((instance, returned))) => (Some(instance), Ok(Ok(returned))),
            Ok(Err(e)) => (None, Ok(Err(e))),
            Err(elapsed) => (None, Err(elapsed)),
        };
        let failure = match returned {
            Ok(Ok(Ok(()))) => None,
            // A language runtime may catch its own out-of-memory (SpiderMonkey throws "out of
            // memory") and fail the action with it: still the memory limit's doing.
            Ok(Ok(Err(message))) if ctx.limiter.exceeded => Some(ActionFailure {
                kind: FailureKind::MemoryLimitExceeded,
                message: format!(
                    "the action tried to grow its memory past {} bytes; keep less in memory \
                     (it then failed with: {message})",
                    inner.limits.max_memory_bytes
                ),
            }),
            // An action that fails after the host refused one of its requests most likely
            // failed of it, and a JavaScript `fetch` only says "NetworkError": name the rule,
            // unless the action's own message already names the host.
            Ok(Ok(Err(message))) => Some(ActionFailure {
                kind: FailureKind::ActionError,
                message: match ctx.egress.first_refusal() {
                    Some((host, refusal)) if !message.contains(host) => {
                        format!("{message} (the host refused: {refusal})")
                    }
                    _ => message,
                },
            }),
            // The deadline or memory limit can strike during instantiation too (start
            // functions run wasm), so what the sandbox observed decides first.
            Ok(Err(Instantiation(_) | Call(_))) if ctx.deadline_hit => {
                Some(deadline_failure(&inner.limits, DeadlineStop::Epoch))
            }
            // Every pool slot busy: the host is at its concurrency limit, nothing is wrong
            // with the action.
            Ok(Err(Instantiation(e)))
                if e.downcast_ref::<wasmtime::PoolConcurrencyLimitError>()
                    .is_some() =>
            {
                Some(ActionFailure {
                    kind: FailureKind::Instantiation,
                    message: format!(
                        "every instance slot is busy ({e}); the host is at its concurrency \
                         limit: retry, send fewer executions at once, or raise \
                         RuntimeBuilder::instance_pool_size"
                    ),
                })
            }
            Ok(Err(Instantiation(e))) if !ctx.limiter.exceeded => Some(ActionFailure {
                kind: FailureKind::Instantiation,
                message: format!("could not instantiate the action: {e:#}"),
            }),
            Ok(Err(Instantiation(e) | Call(e))) => Some(classify_trap(&e, ctx, &inner.limits)),
            // Only reachable when a host-side await (a remote store) outlives the deadline.
            Err(_elapsed) => Some(deadline_failure(&inner.limits, DeadlineStop::Backstop)),
        };
        // A host call cut short by the deadline (an HTTP request or JWKS fetch that never
        // answered) returns an error the action may pass on before the next epoch check
        // stops it: past the deadline, any failure is the deadline's.
        let failure = match failure {
            Some(f) if f.kind != FailureKind::DeadlineExceeded && Instant::now() >= deadline => {
                Some(deadline_failure(limits, DeadlineStop::HostCall))
            }
            other => other,
        };
        let (log_text, _truncated) = logs.finish();
        let denied = ctx.commands.denied();
        // A denial wins over a redirect: the login ends there.
        let outcome = match (&failure, denied, &ctx.commands.redirect) {
            (Some(_), _, _) => Outcome::Failed,
            (None, true, _) => Outcome::Denied,
            (None, false, Some(_)) => Outcome::Redirect,
            (None, false, None) => Outcome::Success,
        };
        let cache_writes = ctx.cache.budget.used();
        // This execution is finished with the context: move the commands out rather than copy
        // them.
        let commands = std::mem::take(&mut store.data_mut().commands.list);
        let redirect = store.data_mut().commands.redirect.take();
        // The leg is the flow's, not the warm instance's.
        store.data_mut().commands.leg = None;
        // Keep a warm instance only after a clean return (any failure may have left it
        // mid-way through something), with no memory growth refused (a runtime that caught
        // its out-of-memory may be in any state), and holding only resources a finished
        // execution may leave behind (see `reusable`).
        if let (Some(pool), Some(instance), None) = (&action.inner.warm, instance, &failure)
            && !store.data().limiter.exceeded
            && reusable(&mut store.data_mut().table)
        {
            let (created, executions) = kept.map_or((started, 0), |(_, created, executions)| {
                (created, executions)
            });
            pool.put(
                &partition.tenant,
                WarmInstance {
                    store,
                    logs,
                    instance,
                    created,
                    executions: executions + 1,
                },
            );
        }
        ActionResult {
            name: action.name().to_string(),
            outcome,
            error: failure,
            logs: log_text,
            commands,
            redirect: (outcome == Outcome::Redirect).then_some(redirect).flatten(),
            cache_writes,
            duration_us,
        }
    }
}

/// The result of continuing an action that exports no `onContinuePostLogin`.
fn no_continuation(action: &Action) -> ActionResult {
    ActionResult {
        name: action.name().to_owned(),
        outcome: Outcome::Failed,
        error: Some(ActionFailure {
            kind: FailureKind::Continuation,
            message: format!(
                "action `{}` redirected, but exports no {handler} to continue with; export it \
                 (in JavaScript `exports.{handler} = async (event, api) => {{ … }}`, in Rust \
                 as the second function of the trigger's export macro)",
                action.name(),
                handler = continue_handler(action.trigger()),
            ),
        }),
        logs: String::new(),
        commands: Vec::new(),
        redirect: None,
        cache_writes: 0,
        duration_us: 0,
    }
}

/// The JavaScript name of `trigger`'s continue function: `on-continue-post-login` is
/// `onContinuePostLogin`.
fn continue_handler(trigger: crate::trigger::Trigger) -> String {
    let mut name = String::new();
    let mut upper = false;
    for c in trigger.continue_export_name().unwrap_or_default().chars() {
        match c {
            '-' => upper = true,
            c if upper => {
                name.extend(c.to_uppercase());
                upper = false;
            }
            c => name.push(c),
        }
    }
    name
}

/// Where an execution failed: getting an instance, or running it.
enum CallError {
    Instantiation(wasmtime::Error),
    Call(wasmtime::Error),
}
use CallError::{Call, Instantiation};

/// The most host resources a warm instance may keep between executions.
const MAX_KEPT_RESOURCES: usize = 64;

/// Whether an instance holding `table` may be kept warm: every resource is one a finished
/// execution can leave behind, and there are at most [`MAX_KEPT_RESOURCES`] of them.
///
/// - Streams and pollables: what wasi-libc keeps for the instance's life (its stdout and
///   stderr streams and the pollables it subscribed to them).
/// - The remains of a finished HTTP exchange: a response, its body and body stream, its
///   trailers, and a future whose response has arrived. A garbage-collected language
///   (SpiderMonkey in componentize-js) drops its handles only when it collects the objects
///   that own them, so they outlive the `fetch` that made them; they belong to this action
///   and tenant only, like any module global.
///
/// Anything else ends the instance: a request still in flight (a pending future: it would go
/// on outside any execution's deadline and egress budget), an outgoing request or body, and
/// every resource a future interface may add.
fn reusable(table: &mut ResourceTable) -> bool {
    use wasmtime_wasi_http::p2::body::{HostFutureTrailers, HostIncomingBody};
    use wasmtime_wasi_http::p2::types::{HostFutureIncomingResponse, HostIncomingResponse};
    let mut count = 0;
    table.iter_mut().all(|r| {
        count += 1;
        count <= MAX_KEPT_RESOURCES
            && (r.is::<DynOutputStream>()
                || r.is::<DynInputStream>()
                || r.is::<DynPollable>()
                || r.is::<HostIncomingResponse>()
                || r.is::<HostIncomingBody>()
                || r.is::<HostFutureTrailers>()
                || r.downcast_ref::<HostFutureIncomingResponse>()
                    .is_some_and(|f| !matches!(f, HostFutureIncomingResponse::Pending(_))))
    })
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// Longest state a continuation is looked up by (the runtime's are 43 characters).
const MAX_STATE_CHARS: usize = 128;

/// Where a continued flow starts.
struct Resume {
    /// The redirecting action's place in the flow.
    index: usize,
    /// What the user came back with.
    resumed: Resumed,
}

/// How one action is entered.
struct Entry {
    /// The flow leg, for triggers whose actions can redirect.
    leg: Option<Arc<Leg>>,
    /// Whether this is `onContinuePostLogin` rather than `onExecutePostLogin`.
    continuing: bool,
    /// Where the flow's cache reads are answered from.
    reads: FlowReads,
}

/// A paused flow, as the store keeps it (read back).
#[derive(Deserialize)]
struct Paused {
    index: usize,
    action: String,
    event: Box<RawValue>,
    commands: Vec<Command>,
}

/// A paused flow, as the store keeps it (written, borrowing).
#[derive(Serialize)]
struct PausedRef<'a> {
    index: usize,
    action: &'a str,
    event: &'a RawValue,
    commands: &'a [Command],
}
