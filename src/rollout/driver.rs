//! The driver: runs a plan from its store, one [`Action`] at a time, saving
//! the plan at every change of state, with the guard watching each wave.
//!
//! Nothing is created twice: the intent to create a wave's task is saved
//! before the request; a lost answer is settled by the create's own
//! listing; after a crash, the next run lists for the wave's task name
//! (unique to the plan and the wave) and creates again only when a listing
//! made [`RunRollout::create_settle_after`] after the intent finds nothing.
//! Nothing is sent after a save failed.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::{BoxFuture, FutureExt as _, Shared};
use futures_util::stream::{Stream, StreamExt as _, TryStreamExt as _};
use jiff::{SignedDuration, Timestamp};
use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};

use super::{Action, Plan, PlanError, PlanState, PlanStore, WaveState};
use crate::error::Error;
use crate::outcome::TargetsReport;
use crate::types::{self, TaskStatus};
use crate::watch::{StopOutcome, WatchEnd, WatchEvent, WatchReport};
use crate::{Client, CreateOutcome};

/// The default [`RunRollout::create_settle_after`]: one minute.
pub const DEFAULT_CREATE_SETTLE_AFTER: Duration = Duration::from_secs(60);
/// The longest [`RunRollout::create_settle_after`]: one day.
pub const MAX_CREATE_SETTLE_AFTER: Duration = Duration::from_secs(24 * 3600);
/// The most tasks a listing walks to find a wave's task after a crash
/// (newest first, only those newer than the newest before the intent). A
/// listing that reaches it settles nothing: the plan halts.
pub const MAX_SETTLE_LISTING: usize = 2_000;
/// Listings after a crash that fail are tried again this many times, a
/// pause apart, before the plan halts.
const SETTLE_READ_ATTEMPTS: u32 = 5;
const SETTLE_READ_PAUSE: Duration = Duration::from_secs(2);

type Cancel = Shared<BoxFuture<'static, ()>>;

impl Client {
    /// Runs (or resumes) the staged rollout kept in `store`: create each
    /// wave's task, watch it with the plan's guard, go on when it passes
    /// `advance_if`, halt or abort when it does not, saving the plan at every
    /// step. The client must be for the plan's endpoint and project.
    ///
    /// ```no_run
    /// use iotda_batchtask::rollout::{AtomicFileStore, RolloutEnd};
    ///
    /// # async fn demo(client: iotda_batchtask::Client) -> Result<(), Box<dyn std::error::Error>> {
    /// let report = client.run_rollout(AtomicFileStore::new("fw-2.1.0.plan.json")).run().await?;
    /// match report.end {
    ///     RolloutEnd::Done => println!("every wave passed"),
    ///     other => println!("the rollout ended: {other:?}"),
    /// }
    /// # Ok(()) }
    /// ```
    pub fn run_rollout<S: PlanStore + Send + 'static>(&self, store: S) -> RunRollout<S> {
        RunRollout {
            client: self.clone(),
            store,
            force_advance: false,
            create_settle_after: DEFAULT_CREATE_SETTLE_AFTER,
            cancel: None,
        }
    }

    /// Aborts the rollout kept in `store`: stops the current wave's task
    /// (every sub-task, through the truthful path of
    /// [`stop_batch_task`](Client::stop_batch_task)), marks the plan aborted
    /// and saves it. A create recorded but unanswered is first looked for
    /// by listing, so that a task that may exist is stopped, not forgotten.
    pub async fn abort_rollout<S: PlanStore>(
        &self,
        store: &S,
        reason: impl Into<String>,
    ) -> Result<Aborted, RolloutError> {
        let mut plan = store.load()?;
        plan.check_target(self.endpoint(), self.project_id())?;
        if let Some((
            wave,
            WaveState::Creating {
                intent_at,
                task_name,
                newest_before,
            },
        )) = plan.current_wave()
        {
            let (intent_at, task_name, newest_before) = (*intent_at, task_name.clone(), newest_before.clone());
            match find_wave_task(self, &plan, &task_name, newest_before.as_deref().map(String::as_str)).await? {
                Found::One(task_id) => plan.created(wave, task_id)?,
                Found::None if past(intent_at, DEFAULT_CREATE_SETTLE_AFTER) => plan.create_not_found(wave)?,
                found => return Err(RolloutError::CreateUnsettled(found.describe(&task_name))),
            }
            store.save(&plan)?;
        }
        let task_id = match plan.current_wave() {
            Some((_, WaveState::Created { task_id } | WaveState::Watching { task_id })) => Some(task_id.to_string()),
            _ => None,
        };
        let stop = match &task_id {
            Some(task_id) => Some(
                self.stop_batch_task(task_id.clone())
                    .all()
                    .send()
                    .await
                    .map_err(Arc::new),
            ),
            None => None,
        };
        plan.abort(reason)?;
        store.save(&plan)?;
        Ok(Aborted { plan, task_id, stop })
    }
}

/// What [`Client::abort_rollout`] did.
#[derive(Debug)]
#[non_exhaustive]
pub struct Aborted {
    /// The plan as saved, aborted.
    pub plan: Plan,
    /// The running wave's task, if one was running.
    pub task_id: Option<String>,
    /// The stop of that task: its report, or its error (a refusal, e.g.
    /// the task had finished, or an outcome no read could settle).
    pub stop: Option<Result<TargetsReport, Arc<Error>>>,
}

/// Why a rollout could not run (nothing was sent) or could not go on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RolloutError {
    /// The plan could not be read, checked, moved on or saved.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// A request failed.
    #[error(transparent)]
    Request(#[from] Error),
    /// A create recorded before a crash could not be settled by listing
    /// (the message says what was found); nothing was done.
    #[error("{0}")]
    CreateUnsettled(String),
}

/// A staged rollout about to run; see [`Client::run_rollout`].
#[must_use = "nothing is read or sent until .run().await or the stream is polled"]
pub struct RunRollout<S> {
    client: Client,
    store: S,
    force_advance: bool,
    create_settle_after: Duration,
    cancel: Option<Cancel>,
}

impl<S> std::fmt::Debug for RunRollout<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunRollout")
            .field("force_advance", &self.force_advance)
            .field("create_settle_after", &self.create_settle_after)
            .finish_non_exhaustive()
    }
}

/// One thing a rollout saw or did, in order. Every event but the last
/// names its wave (index from 0).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum RolloutEvent {
    /// The intent to create the wave's task is saved; the create is sent.
    Creating {
        /// The wave.
        wave: usize,
        /// The task's name (how it is found again).
        task_name: String,
        /// Its devices.
        devices: usize,
    },
    /// The wave's task exists.
    Created {
        /// The wave.
        wave: usize,
        /// The task.
        task_id: String,
        /// How it is known: the create's answer, or a listing (a lost
        /// answer, or a create recorded before a crash).
        by: CreatedBy,
    },
    /// A create recorded before a crash was not processed: a listing
    /// [`RunRollout::create_settle_after`] after its intent found no task
    /// named for the wave. The wave is created now, once.
    CreateNotFound {
        /// The wave.
        wave: usize,
    },
    /// The wave passed; the next starts at `until`.
    Pausing {
        /// The wave that starts after the pause.
        wave: usize,
        /// When.
        until: Timestamp,
    },
    /// An event of the guard watching the wave's task ([`WatchEvent::Ended`]
    /// comes as [`RolloutEvent::WaveEnded`]).
    Watch {
        /// The wave.
        wave: usize,
        /// The wave's task.
        task_id: String,
        /// The guard's event.
        event: Box<WatchEvent>,
    },
    /// The guard's watch of the wave's task ended.
    WaveEnded {
        /// The wave.
        wave: usize,
        /// The watch's report.
        report: Box<WatchReport>,
    },
    /// The last event: how the run ended.
    Ended(Box<RolloutReport>),
}

/// How a wave's task is known to exist.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CreatedBy {
    /// The create was answered.
    Answer {
        /// The answer's `X-Request-Id`.
        request_id: Option<String>,
    },
    /// A listing found it by its name.
    Listing,
}

/// How a run of a rollout ended; the plan as saved is in the report.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum RolloutEnd {
    /// Every wave finished and passed (or was forced past).
    Done,
    /// A criterion tripped and the wave's task was stopped: the plan is
    /// aborted (final).
    Aborted {
        /// The wave (`None`: the plan was aborted before this run).
        wave: Option<usize>,
    },
    /// The plan is halted, intact and resumable ([`RunRollout::force_advance`]
    /// when the wave itself fell short); `halt` says why.
    Halted {
        /// The wave, when one is concerned.
        wave: Option<usize>,
        /// Why.
        halt: Halt,
    },
    /// The run was cancelled ([`RunRollout::cancel_on`]); no task was
    /// stopped and the plan is where it was: resume it.
    Cancelled,
    /// The plan could not be saved: the run ended there, sending nothing
    /// more. The plan file holds the last state saved.
    SaveFailed {
        /// The error.
        error: Arc<PlanError>,
    },
    /// The plan refused a step (a transition its state does not allow, or
    /// options it no longer accepts): nothing more was sent, and the plan
    /// file holds the last state saved.
    PlanRefused {
        /// The refusal.
        error: Arc<PlanError>,
    },
    /// The stored plan was changed by someone else since this run saved it
    /// (e.g. `rollout abort` from another terminal): this run ends without
    /// saving over it. The report's plan is the stored one.
    ChangedElsewhere,
}

/// Why a plan halted.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Halt {
    /// The plan was halted when this run began (resume it, with
    /// `force_advance` when the wave fell short).
    AlreadyHalted,
    /// The wave finished below `advance_if`.
    BelowAdvanceIf,
    /// The wave's task was stopped or deleted by someone else.
    TaskGone,
    /// The create was refused before it was processed, or not sent because
    /// the listing before it failed: nothing created (e.g. `IOTDA.014206`,
    /// the account's 10 running tasks).
    CreateRefused {
        /// The refusal.
        error: Arc<Error>,
    },
    /// The create may have been processed and no listing could tell; the
    /// next run lists for it again.
    CreateUnknown {
        /// The create's error.
        error: Arc<Error>,
    },
    /// A create recorded before a crash could not be settled by listing.
    CreateUnsettled {
        /// What the listing found.
        detail: String,
    },
    /// A criterion tripped and the stop did not take effect, or no read
    /// could tell: the wave's task may still be running. `stop` says which;
    /// resume watches it again (and trips again while the criterion holds).
    StopNotConfirmed {
        /// What the stop came to.
        stop: StopOutcome,
    },
    /// The wave's task could not be read (past the guard's read-failure
    /// budget); nothing was stopped.
    Unreadable {
        /// The last read's error.
        error: Arc<Error>,
    },
    /// The guard's watch ended at its timeout with the task still running.
    WatchTimedOut,
}

/// The report of a run: how it ended, the plan as saved, the last watch.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RolloutReport {
    /// How the run ended.
    pub end: RolloutEnd,
    /// The plan as last saved (or, after [`RolloutEnd::SaveFailed`], as it
    /// would have been).
    pub plan: Plan,
    /// The report of the last wave's watch in this run, if any.
    pub last_watch: Option<Box<WatchReport>>,
}

impl<S: PlanStore + Send + 'static> RunRollout<S> {
    /// Goes on past a wave that finished below `advance_if`, or whose task
    /// was stopped or deleted by someone else (a person has looked); without
    /// it such a plan is refused with [`PlanError::NeedsForce`].
    pub fn force_advance(mut self, force: bool) -> Self {
        self.force_advance = force;
        self
    }

    /// After a crash between saving the intent to create a wave's task and
    /// saving its answer, how long after the intent a listing must find no
    /// task named for the wave before the wave is created (default
    /// [`DEFAULT_CREATE_SETTLE_AFTER`], at most [`MAX_CREATE_SETTLE_AFTER`]).
    /// Sooner, the run waits: a request the crashed process sent may still
    /// be processed.
    pub fn create_settle_after(mut self, after: Duration) -> Self {
        self.create_settle_after = after;
        self
    }

    /// When `signal` completes, the run ends ([`RolloutEnd::Cancelled`]) at
    /// the next safe point: a create in flight is finished and recorded;
    /// a watch ends without stopping anything.
    pub fn cancel_on(mut self, signal: impl Future<Output = ()> + Send + 'static) -> Self {
        self.cancel = Some(signal.boxed().shared());
        self
    }

    /// Loads the plan, checks it against the client, and resumes a halted
    /// one (with [`force_advance`](Self::force_advance) past a wave that
    /// fell short): what [`stream`](Self::stream) does before any request.
    /// `Err` means nothing was sent.
    fn prepare(&self) -> Result<(Plan, Plan), RolloutError> {
        if self.create_settle_after > MAX_CREATE_SETTLE_AFTER {
            return Err(PlanError::from(crate::validation::InvalidInput::new(
                "create_settle_after",
                format!("must be at most {} s", MAX_CREATE_SETTLE_AFTER.as_secs()),
            ))
            .into());
        }
        let stored = self.store.load()?;
        stored.check_target(self.client.endpoint(), self.client.project_id())?;
        let mut plan = stored.clone();
        if matches!(plan.state(), PlanState::Halted { .. }) {
            plan.resume(self.force_advance, Timestamp::now())?;
        }
        Ok((plan, stored))
    }

    /// The run as a stream of [`RolloutEvent`]s, the last
    /// [`RolloutEvent::Ended`]. `Err` means nothing was sent: the plan could
    /// not be read, is for another endpoint or project, or is halted on a
    /// wave that fell short without [`force_advance`](Self::force_advance).
    pub fn stream(self) -> Result<impl Stream<Item = RolloutEvent> + Send + 'static, RolloutError> {
        let (plan, stored) = self.prepare()?;
        let (tx, rx) = unbounded_channel();
        let driver = Driver {
            client: self.client,
            store: self.store,
            create_settle_after: self.create_settle_after,
            cancel: self.cancel,
            tx,
            last_saved: stored,
            last_watch: None,
        };
        Ok(crate::event_stream::events(rx, Box::pin(driver.run(plan)), |report| {
            RolloutEvent::Ended(Box::new(report))
        })
        .boxed())
    }

    /// Runs to the end and returns the report (the stream, drained).
    pub async fn run(self) -> Result<RolloutReport, RolloutError> {
        let mut events = std::pin::pin!(self.stream()?);
        while let Some(event) = events.next().await {
            if let RolloutEvent::Ended(report) = event {
                return Ok(*report);
            }
        }
        unreachable!("the rollout stream always ends with RolloutEvent::Ended")
    }
}

struct Driver<S> {
    client: Client,
    store: S,
    create_settle_after: Duration,
    cancel: Option<Cancel>,
    tx: UnboundedSender<RolloutEvent>,
    /// The plan as this run last saved it (or loaded it).
    last_saved: Plan,
    last_watch: Option<Box<WatchReport>>,
}

/// One step's result: go on, or the run's end.
type Step = Result<(), RolloutEnd>;

impl<S: PlanStore> Driver<S> {
    async fn run(mut self, mut plan: Plan) -> RolloutReport {
        let end = loop {
            // A resume changed the plan before any request: saved first.
            let saved = if plan == self.last_saved {
                Ok(())
            } else {
                self.save(&mut plan)
            };
            if let Err(end) = saved {
                break end;
            }
            if let Err(end) = self.step(&mut plan).await {
                break end;
            }
        };
        RolloutReport {
            end,
            plan,
            last_watch: self.last_watch,
        }
    }

    fn emit(&self, event: RolloutEvent) {
        // The receiver lives as long as the stream; a dropped stream drops this future too.
        let _ = self.tx.send(event);
    }

    /// Saves `plan`, unless the stored plan is no longer the one this run
    /// last saved (another process changed it: this run must not undo that).
    fn save(&mut self, plan: &mut Plan) -> Step {
        let failed = |error: PlanError| {
            tracing::warn!(%error, "the plan could not be saved; sending nothing more");
            RolloutEnd::SaveFailed { error: Arc::new(error) }
        };
        let stored = self.store.load().map_err(failed)?;
        if stored != self.last_saved {
            tracing::warn!("the plan was changed by another process; this run ends without saving over it");
            *plan = stored;
            return Err(RolloutEnd::ChangedElsewhere);
        }
        self.store.save(plan).map_err(failed)?;
        self.last_saved.clone_from(plan);
        Ok(())
    }

    fn cancelled(&self) -> bool {
        self.cancel.as_ref().is_some_and(|c| c.peek().is_some())
    }

    /// Waits until `until`, or the cancel; `false` when cancelled.
    fn sleep_until(&self, until: Timestamp) -> impl Future<Output = bool> + Send + 'static {
        sleep_until(self.cancel.clone(), until)
    }

    /// Does the plan's next action and records it.
    async fn step(&mut self, plan: &mut Plan) -> Step {
        if self.cancelled() {
            return Err(RolloutEnd::Cancelled);
        }
        match plan.next_action(Timestamp::now()) {
            Action::Done => Err(RolloutEnd::Done),
            Action::Aborted { .. } => Err(RolloutEnd::Aborted { wave: None }),
            Action::Halted { .. } => Err(RolloutEnd::Halted {
                wave: plan.current_wave().map(|(w, _)| w),
                halt: Halt::AlreadyHalted,
            }),
            Action::Pause { wave, until } => {
                self.emit(RolloutEvent::Pausing { wave, until });
                if self.sleep_until(until).await {
                    Ok(())
                } else {
                    Err(RolloutEnd::Cancelled)
                }
            }
            Action::Create { wave } => self.create(plan, wave).await,
            Action::Settle { wave, task_name } => self.settle(plan, wave, task_name).await,
            Action::Watch { wave, task_id } => self.watch(plan, wave, task_id).await,
        }
    }

    /// Saves the intent, then creates the wave's task once.
    async fn create(&mut self, plan: &mut Plan, wave: usize) -> Step {
        let call = plan.create_call(&self.client, wave).map_err(refused)?;
        // The newest task before the create bounds a listing after a crash.
        let newest_before = match newest_task(&self.client, plan).await {
            Ok(newest) => newest,
            Err(error) => {
                // Nothing was sent: the plan is unchanged, the reason recorded.
                return self.halted_before_create(plan, wave, Arc::new(error));
            }
        };
        // The create's own settling lists from the same mark.
        let call = call.newest_before(newest_before.as_deref().cloned());
        let task_name = plan
            .begin_create(wave, Timestamp::now(), newest_before)
            .map_err(refused)?;
        self.save(plan)?;
        self.emit(RolloutEvent::Creating {
            wave,
            task_name,
            devices: plan.waves()[wave].devices.len(),
        });
        // A create in flight is finished and recorded, whatever the cancel.
        match call.send().await {
            Ok(outcome @ (CreateOutcome::Created { .. } | CreateOutcome::CreatedByRead { .. })) => {
                let by = match &outcome {
                    CreateOutcome::Created { request_id, .. } => CreatedBy::Answer {
                        request_id: request_id.clone(),
                    },
                    _ => CreatedBy::Listing,
                };
                let Some(task_id) = outcome.task_id().and_then(|id| crate::validation::task_id(id).ok()) else {
                    // Created, yet no usable ID: the next run lists for it by name.
                    return self.halted(
                        plan,
                        wave,
                        Halt::CreateUnsettled {
                            detail: "the create was answered without a usable task_id".to_owned(),
                        },
                    );
                };
                plan.created(wave, task_id.clone()).map_err(refused)?;
                self.save(plan)?;
                self.emit(RolloutEvent::Created {
                    wave,
                    task_id: task_id.to_string(),
                    by,
                });
                Ok(())
            }
            Ok(CreateOutcome::Unknown { error }) => self.halted(plan, wave, Halt::CreateUnknown { error }),
            Err(error) => {
                let error = Arc::new(error);
                let reason = create_refusal(wave, &error);
                plan.not_created(wave, reason).map_err(refused)?;
                self.save(plan)?;
                Err(RolloutEnd::Halted {
                    wave: Some(wave),
                    halt: Halt::CreateRefused { error },
                })
            }
        }
    }

    /// Settles a create recorded before a crash: by listing, never by
    /// creating again until a listing long enough after the intent finds
    /// nothing.
    async fn settle(&mut self, plan: &mut Plan, wave: usize, task_name: String) -> Step {
        let Some((
            _,
            WaveState::Creating {
                intent_at,
                newest_before,
                ..
            },
        )) = plan.current_wave()
        else {
            unreachable!("Action::Settle is for a wave in Creating")
        };
        let (intent_at, newest_before) = (*intent_at, newest_before.clone());
        let settle_after = SignedDuration::try_from(self.create_settle_after).expect("at most a day fits");
        let mut failures = 0;
        loop {
            let listed_at = Timestamp::now();
            match find_wave_task(
                &self.client,
                plan,
                &task_name,
                newest_before.as_deref().map(String::as_str),
            )
            .await
            {
                Ok(Found::One(task_id)) => {
                    plan.created(wave, task_id.clone()).map_err(refused)?;
                    self.save(plan)?;
                    self.emit(RolloutEvent::Created {
                        wave,
                        task_id: task_id.to_string(),
                        by: CreatedBy::Listing,
                    });
                    return Ok(());
                }
                Ok(Found::None) if listed_at >= intent_at.saturating_add(settle_after).expect("in range") => {
                    plan.create_not_found(wave).map_err(refused)?;
                    self.save(plan)?;
                    self.emit(RolloutEvent::CreateNotFound { wave });
                    return Ok(());
                }
                Ok(Found::None) => {
                    let until = intent_at.saturating_add(settle_after).expect("in range");
                    if !self.sleep_until(until).await {
                        return Err(RolloutEnd::Cancelled);
                    }
                }
                Ok(found) => {
                    let detail = found.describe(&task_name);
                    return self.halted(plan, wave, Halt::CreateUnsettled { detail });
                }
                Err(error) => {
                    failures += 1;
                    tracing::debug!(%error, "a listing to settle a create failed");
                    if failures >= SETTLE_READ_ATTEMPTS || error.is_auth() || error.is_not_found() {
                        let detail = format!("the listing failed: {error}");
                        return self.halted(plan, wave, Halt::CreateUnsettled { detail });
                    }
                    let until = Timestamp::now()
                        .saturating_add(SignedDuration::try_from(SETTLE_READ_PAUSE).expect("small"))
                        .expect("in range");
                    if !self.sleep_until(until).await {
                        return Err(RolloutEnd::Cancelled);
                    }
                }
            }
        }
    }

    /// Watches the wave's task with the guard and records how it ended.
    async fn watch(&mut self, plan: &mut Plan, wave: usize, task_id: types::TaskId) -> Step {
        if matches!(plan.current_wave(), Some((_, WaveState::Created { .. }))) {
            plan.watching(wave).map_err(refused)?;
            self.save(plan)?;
        }
        let mut watch = plan.guard().apply(
            self.client
                .watch_batch_task(task_id.to_string())
                .interval(Duration::from_secs(plan.interval_seconds())),
        );
        if let Some(cancel) = &self.cancel {
            watch = watch.cancel_on(cancel.clone());
        }
        let events = match watch.stream() {
            Ok(events) => events,
            Err(error) => {
                return self.halted(plan, wave, Halt::Unreadable { error: Arc::new(error) });
            }
        };
        let mut events = std::pin::pin!(events);
        let mut report = None;
        while let Some(event) = events.next().await {
            match event {
                WatchEvent::Ended(ended) => report = Some(ended),
                event => self.emit(RolloutEvent::Watch {
                    wave,
                    task_id: task_id.to_string(),
                    event: Box::new(event),
                }),
            }
        }
        let report = report.expect("the watch stream always ends with WatchEvent::Ended");
        self.emit(RolloutEvent::WaveEnded {
            wave,
            report: report.clone(),
        });
        let end = report.end.clone();
        let counters = report.counters.clone().unwrap_or_default();
        // The guard's own stops of hanging devices can leave the task Stopped
        // (a stop that leaves nothing running ends it): that is this run's
        // doing, and the wave finished with those devices timed out.
        let stopped_stuck = !report.stuck.is_empty();
        self.last_watch = Some(report);
        let task = task_id.to_string();
        match end {
            WatchEnd::Finished {
                status: TaskStatus::Stopped,
            } if !stopped_stuck => {
                let reason = format!(
                    "wave {}'s task {task} was Stopped by someone else (seen on a poll); \
                     resume with --force-advance to go on to the next wave",
                    wave + 1
                );
                self.gone(plan, wave, reason)
            }
            WatchEnd::Finished { status } => {
                plan.finished(wave, status.as_str(), counters, Timestamp::now())
                    .map_err(refused)?;
                self.save(plan)?;
                match plan.state() {
                    PlanState::Halted { .. } => Err(RolloutEnd::Halted {
                        wave: Some(wave),
                        halt: Halt::BelowAdvanceIf,
                    }),
                    _ => Ok(()),
                }
            }
            WatchEnd::Tripped { trip, stop } => match &stop {
                StopOutcome::Stopped { .. } => {
                    plan.abort(format!(
                        "{trip} tripped on wave {}: its task {task} was stopped",
                        wave + 1
                    ))
                    .map_err(refused)?;
                    self.save(plan)?;
                    Err(RolloutEnd::Aborted { wave: Some(wave) })
                }
                StopOutcome::FinishedFirst { status, .. } => {
                    // The task finished before the stop could act: record its end.
                    let status = status.to_string();
                    plan.finished(wave, status, counters, Timestamp::now())
                        .map_err(refused)?;
                    self.save(plan)?;
                    match plan.state() {
                        PlanState::Running => Ok(()),
                        _ => Err(RolloutEnd::Halted {
                            wave: Some(wave),
                            halt: Halt::BelowAdvanceIf,
                        }),
                    }
                }
                _ => self.halted(plan, wave, Halt::StopNotConfirmed { stop }),
            },
            WatchEnd::ReadFailed { error } if error.is_not_found() => {
                let reason = format!(
                    "wave {}'s task {task} no longer exists (deleted by someone else?); \
                     resume with --force-advance to go on to the next wave",
                    wave + 1
                );
                self.gone(plan, wave, reason)
            }
            WatchEnd::ReadFailed { error } => self.halted(plan, wave, Halt::Unreadable { error }),
            WatchEnd::Cancelled => Err(RolloutEnd::Cancelled),
            WatchEnd::TimedOut => self.halted(plan, wave, Halt::WatchTimedOut),
            WatchEnd::Idle { .. } => unreachable!("a wave's watch waits for a final status (until_idle is off)"),
        }
    }

    /// The read before a create failed: nothing was sent. The plan halts
    /// with the wave still pending.
    fn halted_before_create(&mut self, plan: &mut Plan, wave: usize, error: Arc<Error>) -> Step {
        plan.halt(format!(
            "wave {}'s create was not sent: the listing before it failed ({error}); resume to try again",
            wave + 1
        ))
        .map_err(refused)?;
        self.save(plan)?;
        Err(RolloutEnd::Halted {
            wave: Some(wave),
            halt: Halt::CreateRefused { error },
        })
    }

    fn gone(&mut self, plan: &mut Plan, wave: usize, reason: String) -> Step {
        plan.task_gone(wave, reason).map_err(refused)?;
        self.save(plan)?;
        Err(RolloutEnd::Halted {
            wave: Some(wave),
            halt: Halt::TaskGone,
        })
    }

    /// Halts the plan where it is (the wave keeps its state) and ends the run.
    fn halted(&mut self, plan: &mut Plan, wave: usize, halt: Halt) -> Step {
        plan.halt(halt_reason(wave, &halt)).map_err(refused)?;
        self.save(plan)?;
        Err(RolloutEnd::Halted { wave: Some(wave), halt })
    }
}

/// A step the plan refused (a driver bug, or a plan its checks refuse to
/// move on): nothing more is sent; the plan file keeps its last state.
fn refused(error: PlanError) -> RolloutEnd {
    tracing::warn!(%error, "the plan refused a step; sending nothing more");
    RolloutEnd::PlanRefused { error: Arc::new(error) }
}

/// Waits until `until`, or `cancel`; `false` when cancelled.
async fn sleep_until(cancel: Option<Cancel>, until: Timestamp) -> bool {
    let wait = until.duration_since(Timestamp::now());
    let wait = Duration::try_from(wait).unwrap_or(Duration::ZERO);
    let sleep = std::pin::pin!(tokio::time::sleep(wait));
    match &cancel {
        Some(cancel) => matches!(
            futures_util::future::select(sleep, cancel.clone()).await,
            futures_util::future::Either::Left(_)
        ),
        None => {
            sleep.await;
            true
        }
    }
}

/// The reason a halted plan records, for a person.
fn halt_reason(wave: usize, halt: &Halt) -> String {
    let wave = wave + 1;
    match halt {
        Halt::CreateUnknown { error } => format!(
            "wave {wave}'s create may have been processed and no listing found it ({error}); \
             resume lists for it again before creating anything"
        ),
        Halt::CreateUnsettled { detail } => {
            format!("wave {wave}'s create could not be settled: {detail}; resume tries again")
        }
        Halt::StopNotConfirmed { stop } => format!(
            "a criterion tripped on wave {wave} but the stop is not confirmed ({}); \
             check the task, then resume (the guard watches it again) or abort",
            stop_words(stop)
        ),
        Halt::Unreadable { error } => {
            format!("wave {wave}'s task could not be read ({error}); nothing was stopped; resume to watch it again")
        }
        Halt::WatchTimedOut => format!("the guard's watch of wave {wave} timed out; resume to watch it again"),
        Halt::CreateRefused { error } => create_refusal(wave - 1, error),
        Halt::AlreadyHalted | Halt::BelowAdvanceIf | Halt::TaskGone => format!("wave {wave} halted"),
    }
}

fn stop_words(stop: &StopOutcome) -> &'static str {
    match stop {
        StopOutcome::Refused { .. } => "the stop was refused and the task is still running",
        StopOutcome::AnsweredStillRunning { .. } => "answered, yet the task still reads running",
        _ => "its outcome is unknown",
    }
}

/// The reason a refused create records.
fn create_refusal(wave: usize, error: &Error) -> String {
    let wave = wave + 1;
    if error.error_code() == Some("IOTDA.014206") {
        format!(
            "wave {wave}'s create was refused: the account has as many running tasks as IoTDA allows \
             (IOTDA.014206, 10); nothing was created; resume when one has finished"
        )
    } else {
        format!("wave {wave}'s create was refused ({error}); nothing was created; resume to try again")
    }
}

/// Whether `after` has passed since `since`.
fn past(since: Timestamp, after: Duration) -> bool {
    let after = SignedDuration::try_from(after).expect("a settle window fits");
    Timestamp::now() >= since.saturating_add(after).expect("in range")
}

/// What a listing for a wave's task name found.
enum Found {
    None,
    One(types::TaskId),
    Several(usize),
    /// The listing reached [`MAX_SETTLE_LISTING`] tasks.
    TooMany,
}

impl Found {
    fn describe(&self, task_name: &str) -> String {
        match self {
            Self::None => format!("no task named {task_name} yet; its create may still be processed"),
            Self::One(id) => format!("task {} is named {task_name}", &**id),
            Self::Several(n) => format!("{n} tasks are named {task_name}; which is the wave's cannot be told"),
            Self::TooMany => format!(
                "{MAX_SETTLE_LISTING} tasks were listed without reaching those created before the intent; \
                 look for {task_name} by hand"
            ),
        }
    }
}

/// The plan's listing: its task type and application.
fn listing(client: &Client, plan: &Plan) -> crate::ListBatchTasks {
    let list = client.list_batch_tasks(plan.task_type().task_type());
    match &plan.task().app_id {
        Some(app_id) => list.app_id(app_id.to_string()),
        None => list,
    }
}

/// The newest task of the plan's listing (`None`: it is empty).
async fn newest_task(client: &Client, plan: &Plan) -> Result<Option<types::TaskId>, Error> {
    let page = listing(client, plan).limit(1).send().await?;
    Ok(page
        .tasks()
        .first()
        .and_then(|t| t.task_id.as_deref())
        .and_then(|id| crate::validation::task_id(id).ok()))
}

/// Lists the plan's tasks newer than `newest_before` (record IDs grow, and
/// the listing is newest first) for `task_name`, at most
/// [`MAX_SETTLE_LISTING`] tasks.
async fn find_wave_task(
    client: &Client,
    plan: &Plan,
    task_name: &str,
    newest_before: Option<&str>,
) -> Result<Found, Error> {
    let newer = |id: &str| match newest_before {
        Some(mark) => (id.len(), id.to_ascii_lowercase()) > (mark.len(), mark.to_ascii_lowercase()),
        None => true,
    };
    let mut found = Vec::new();
    let mut walked = 0;
    let mut tasks = std::pin::pin!(listing(client, plan).tasks());
    while let Some(task) = tasks.try_next().await? {
        let Some(id) = task.task_id.as_deref() else { continue };
        if !newer(id) {
            break;
        }
        walked += 1;
        if task.task_name.as_deref() == Some(task_name) && !found.iter().any(|f: &String| f == id) {
            found.push(id.to_owned());
        }
        if walked >= MAX_SETTLE_LISTING {
            return Ok(Found::TooMany);
        }
    }
    Ok(match found.as_slice() {
        [] => Found::None,
        [one] => match crate::validation::task_id(one) {
            Ok(id) => Found::One(id),
            Err(_) => Found::Several(1),
        },
        several => Found::Several(several.len()),
    })
}
