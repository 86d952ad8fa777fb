//! Action logs: stdout and stderr captured into one capped buffer per action execution.
//!
//! An action is untrusted, so its output must cost the host at most the cap. Output past the
//! cap is counted and dropped, never an error: a chatty action keeps running, and its log ends
//! with a marker saying how much was cut. Both streams share the buffer so the log reads in the
//! order it was written.

use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use bytes::Bytes;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

/// How much an action may write in one `write` call; the stream never blocks, so this only
/// bounds a single copy.
const WRITE_BUDGET: usize = 64 * 1024;

#[derive(Debug, Default)]
struct LogBuffer {
    bytes: Vec<u8>,
    dropped: u64,
}

/// One execution's log: give clones to the action's stdout and stderr, then read it back with
/// [`LogSink::finish`].
#[derive(Debug, Clone)]
pub(crate) struct LogSink {
    cap: usize,
    buffer: Arc<Mutex<LogBuffer>>,
}

impl LogSink {
    pub(crate) fn new(cap: usize) -> Self {
        Self {
            cap,
            buffer: Arc::default(),
        }
    }

    fn append(&self, data: &[u8]) {
        let mut buf = self.buffer.lock().unwrap_or_else(PoisonError::into_inner);
        let room = self.cap.saturating_sub(buf.bytes.len());
        let kept = data.len().min(room);
        buf.bytes.extend_from_slice(&data[..kept]);
        buf.dropped += (data.len() - kept) as u64;
    }

    /// Appends a line from the host (`[cachet] LINE`), such as why an outbound request was
    /// refused; it counts against the cap like the action's own output.
    pub(crate) fn host_line(&self, line: &str) {
        self.append(format!("[cachet] {line}\n").as_bytes());
    }

    /// Empties the log for the next execution of a warm instance.
    pub(crate) fn clear(&self) {
        let mut buf = self.buffer.lock().unwrap_or_else(PoisonError::into_inner);
        buf.bytes.clear();
        buf.dropped = 0;
    }

    /// The log as text (invalid UTF-8 replaced), with a marker if output was cut, and whether
    /// it was cut.
    pub(crate) fn finish(&self) -> (String, bool) {
        let buf = self.buffer.lock().unwrap_or_else(PoisonError::into_inner);
        let mut text = String::from_utf8_lossy(&buf.bytes).into_owned();
        let truncated = buf.dropped > 0;
        if truncated {
            text.push_str(&format!(
                "\n[cachet: log truncated at {} bytes; {} more bytes dropped]",
                self.cap, buf.dropped
            ));
        }
        (text, truncated)
    }
}

impl IsTerminal for LogSink {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for LogSink {
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }

    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }
}

#[async_trait::async_trait]
impl Pollable for LogSink {
    async fn ready(&mut self) {}
}

impl OutputStream for LogSink {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.append(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(WRITE_BUDGET)
    }
}

impl tokio::io::AsyncWrite for LogSink {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.append(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_past_the_cap_is_dropped_and_marked() {
        let log = LogSink::new(8);
        log.append(b"hello ");
        log.append(b"world");
        let (text, truncated) = log.finish();
        assert!(truncated);
        assert!(
            text.starts_with("hello wo\n[cachet: log truncated at 8 bytes; 3 more bytes dropped]")
        );
    }

    #[test]
    fn output_within_the_cap_is_kept_whole() {
        let log = LogSink::new(64);
        log.append(b"line\n");
        assert_eq!(log.finish(), ("line\n".to_string(), false));
    }
}
