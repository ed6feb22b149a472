//! The bounded walk over pages that ShowBatchTask's sub-tasks and
//! ListBatchTasks' tasks share: follow `page.marker` while pages come back
//! full, with one deadline for the whole walk, a cap on pages and on items,
//! and a marker that must sort below the one before it (record IDs descend,
//! newest first), so a server that keeps handing out markers cannot keep a
//! walk going.

use std::future::Future;

use futures_util::stream::{self, Stream, TryStreamExt as _};

use super::Client;
use crate::error::Error;
use crate::types;
use crate::validation;

/// The most pages one walk requests: 50,000 records at the default 50 per
/// page. A walk that needs more ends with [`Error::Decode`] naming this bound
/// (with a smaller page `limit`, raise it).
pub const MAX_WALK_PAGES: usize = 1_000;

/// A page request's window: how many records (`limit`), below which record
/// ID (`marker`), skipping how many more (`offset`). ShowBatchTask and
/// ListBatchTasks take the same three; a walk continues a window below the
/// last page's marker, without the offset.
#[derive(Debug, Clone, Default)]
pub(super) struct Window {
    pub(super) limit: Option<u32>,
    pub(super) marker: Option<types::Marker>,
    pub(super) offset: Option<u32>,
}

impl Window {
    /// The window a builder was given, checked: `limit` within `min..=max`,
    /// `offset` at most `max_offset`, `marker` a record ID; the error names
    /// the parameter and its bounds.
    pub(super) fn checked(
        limit: Option<u32>,
        (min, max): (u32, u32),
        marker: Option<&str>,
        offset: Option<u32>,
        max_offset: u32,
    ) -> Result<Self, validation::InvalidInput> {
        if let Some(n) = limit
            && !(min..=max).contains(&n)
        {
            return Err(validation::InvalidInput::new(
                "limit",
                format!("must be {min} to {max}"),
            ));
        }
        if offset.is_some_and(|o| o > max_offset) {
            return Err(validation::InvalidInput::new(
                "offset",
                format!("must be 0 to {max_offset}; page further with marker"),
            ));
        }
        let marker = marker.map(validation::marker).transpose()?;
        Ok(Self { limit, marker, offset })
    }

    /// A walk's first window: pages of `size` records unless a limit was given.
    pub(super) fn walking(self, size: u32) -> Self {
        Self {
            limit: self.limit.or(Some(size)),
            ..self
        }
    }
}

/// Applies a [`Window`] to a generated builder (each operation's builder is
/// a type of its own, with the same three setters).
macro_rules! with_window {
    ($op:expr, $window:expr) => {{
        let (mut op, window) = ($op, $window);
        if let Some(limit) = window.limit.and_then(std::num::NonZeroU32::new) {
            op = op.limit(limit);
        }
        if let Some(marker) = window.marker {
            op = op.marker(marker);
        }
        if let Some(offset) = window.offset.and_then(|o| i32::try_from(o).ok()) {
            op = op.offset(offset);
        }
        op
    }};
}
pub(super) use with_window;

/// One page as a walk sees it: the answer of one request.
pub(super) trait WalkPage: Send + 'static {
    /// A record of the page.
    type Item: Send + 'static;
    /// How many records the page holds.
    fn len(&self) -> usize;
    /// The page's `page.marker`, where a next page would start.
    fn marker(&self) -> Option<&str>;
    /// The page's `X-Request-Id`.
    fn request_id(&self) -> Option<&str>;
    /// The page's records, in order.
    fn into_items(self) -> Vec<Self::Item>;
}

/// The bound on the records a walk yields, and how an error names it.
pub(super) struct ItemBound {
    /// The most records.
    pub(super) max: usize,
    /// The constant's name and why it is enough, e.g.
    /// `"MAX_WALK_SUB_TASKS; Huawei allows 30,000 per task"`.
    pub(super) name: &'static str,
    /// The records, plural (`"sub-tasks"`, `"tasks"`).
    pub(super) what: &'static str,
}

/// How far a walk has gone.
#[derive(Debug, Default)]
struct Walk {
    /// When the first request started; the walk's deadline counts from here.
    started: Option<tokio::time::Instant>,
    /// Requests started.
    pages: usize,
    /// Records received.
    items: usize,
    /// The last page's request ID, for the error that ends a walk.
    request_id: Option<String>,
}

/// Every page from `first` on (a query and its [`Window::walking`]).
/// Invalid input (`first` an error) is the stream's first and only item; a
/// failed request ends the stream with its error, after the pages before.
pub(super) fn pages<Q, P, F, Fut>(
    client: Client,
    first: Result<(Q, Window), Error>,
    bound: ItemBound,
    fetch: F,
) -> impl Stream<Item = Result<P, Error>> + Send + 'static
where
    Q: Clone + Send + 'static,
    P: WalkPage,
    F: Fn(Q, Window) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<P, Error>> + Send + 'static,
{
    let fetch = std::sync::Arc::new(fetch);
    stream::try_unfold(Some((first, Walk::default())), move |state| {
        let (client, fetch) = (client.clone(), fetch.clone());
        let bound = (bound.max, bound.name, bound.what);
        async move {
            let Some((query, mut walk)) = state else {
                return Ok::<_, Error>(None);
            };
            let (query, window) = query?;
            if walk.pages >= MAX_WALK_PAGES {
                return Err(paging_error(
                    format!(
                        "paging stopped after {MAX_WALK_PAGES} pages (MAX_WALK_PAGES) with more announced; \
                         use a larger limit or narrower filters"
                    ),
                    walk.request_id,
                ));
            }
            let limit = window
                .limit
                .expect("a walk's window has its page size (Window::walking)") as usize;
            let previous = window.marker.as_deref().map(|m| m.to_string());
            let started = *walk.started.get_or_insert_with(tokio::time::Instant::now);
            let request = fetch(query.clone(), window.clone());
            walk.pages += 1;
            // One deadline for the whole walk; each request also keeps its own.
            // The builder caps the deadline, so `checked_add` cannot fail;
            // without a representable instant the per-request limits still hold.
            let page = match started.checked_add(client.shared.deadline) {
                Some(at) => tokio::time::timeout_at(at, request)
                    .await
                    .map_err(|_| Error::Timeout {
                        limit: crate::error::TimeoutKind::Walk,
                        elapsed: started.elapsed(),
                        attempts: u32::try_from(walk.pages).unwrap_or(u32::MAX),
                        request_id: None,
                    })??,
                None => request.await?,
            };
            walk.request_id = page.request_id().map(str::to_owned);
            walk.items = walk.items.saturating_add(page.len());
            let (max, name, what) = bound;
            if walk.items > max {
                return Err(paging_error(
                    format!("paging stopped: more than {max} {what} ({name})"),
                    walk.request_id,
                ));
            }
            let full = page.len() >= limit && page.len() > 0;
            let next = match (full, page.marker()) {
                (true, Some(marker)) => {
                    let advanced = previous
                        .as_deref()
                        .is_none_or(|p| marker.to_ascii_lowercase() < p.to_ascii_lowercase());
                    let marker = validation::marker(marker).ok().filter(|_| advanced).ok_or_else(|| {
                        paging_error(
                            format!("paging did not advance: page.marker {marker:?} after {previous:?}"),
                            walk.request_id.clone(),
                        )
                    })?;
                    let next = Window {
                        marker: Some(marker),
                        offset: None,
                        ..window
                    };
                    Some((Ok((query, next)), walk))
                }
                _ => None,
            };
            Ok(Some((page, next)))
        }
    })
}

/// Every record of every page of [`pages`], in order.
pub(super) fn items<P: WalkPage>(
    pages: impl Stream<Item = Result<P, Error>> + Send + 'static,
) -> impl Stream<Item = Result<P::Item, Error>> + Send + 'static {
    pages
        .map_ok(|page| stream::iter(page.into_items().into_iter().map(Ok)))
        .try_flatten()
}

/// A walk that a server's paging would not let end.
fn paging_error(message: String, request_id: Option<String>) -> Error {
    Error::Decode {
        status: 200,
        message,
        request_id,
        body: String::new(),
    }
}
