//! Capturing what `tracing` records, for the tests that check logs.

/// Collects everything a `tracing` fmt subscriber writes (give it
/// `move || capture.clone()` as its writer).
#[derive(Clone, Default)]
pub struct Capture(pub std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl Capture {
    /// What was written so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

thread_local! {
    static TRACE_SINK: std::cell::RefCell<Option<Capture>> = const { std::cell::RefCell::new(None) };
}

/// Captures everything `tracing` (and `log`) records on this thread, at
/// TRACE with every span event, until the guard drops.
///
/// The tests of a binary run in parallel threads; a thread-scoped subscriber
/// (`set_default`) races with the others over the process-wide callsite
/// interest cache and can miss spans. So one global subscriber is installed
/// once, and it writes only for threads that asked for a capture.
pub fn capture_tracing() -> (Capture, impl Drop) {
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::{Layer as _, filter, fmt};

    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        let capturing = || TRACE_SINK.with(|sink| sink.borrow().is_some());
        let layer = fmt::layer()
            .with_ansi(false)
            .with_span_events(fmt::format::FmtSpan::FULL)
            .with_writer(|| ToThreadSink)
            .with_filter(filter::filter_fn(move |_| capturing()));
        let subscriber = tracing_subscriber::registry().with(layer.with_filter(filter::LevelFilter::TRACE));
        tracing::subscriber::set_global_default(subscriber).expect("no other global subscriber in the tests");
        let _ = tracing_log::LogTracer::init();
    });
    let capture = Capture::default();
    TRACE_SINK.with(|sink| *sink.borrow_mut() = Some(capture.clone()));
    struct Guard;
    impl Drop for Guard {
        fn drop(&mut self) {
            TRACE_SINK.with(|sink| *sink.borrow_mut() = None);
        }
    }
    (capture, Guard)
}

struct ToThreadSink;

impl std::io::Write for ToThreadSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        TRACE_SINK.with(|sink| match sink.borrow_mut().as_mut() {
            Some(capture) => capture.write(buf),
            None => Ok(buf.len()),
        })
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
