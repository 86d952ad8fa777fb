//! Test action: shows whether data crosses instances through a pool slot.
//!
//! `request.query.mode`:
//! - `fill`: fills 16 MiB of fresh heap with a 64-byte marker block derived from
//!   `request.query.seed`, and leaves it there when the execution ends;
//! - `scan`: grows its memory by 16 MiB and counts the places in its whole linear memory where
//!   the marker appears twice in a row, as the claim `matches`;
//! - `fill-then-scan`: both in one execution, so a test can see that the scan finds a marker
//!   that is there;
//! - `scatter` and `scatter-then-scan`: the same with the marker written twice at the start of
//!   every other 4 KiB page of 16 MiB, so the dirty pages form thousands of separate runs (a
//!   slot reset that scans for dirty pages must find every one of them).
//!
//! Only the seed travels in the event, never the marker, so a scanning instance finds the
//! marker only if another instance's pages reached it.

// Reading the whole linear memory needs raw pointers; it is this test action's whole point.
#![allow(unsafe_code)]

use cachet_guest::{PostLoginApi, PostLoginEvent};

const FILL_BYTES: usize = 16 * 1024 * 1024;
#[cfg(target_arch = "wasm32")]
const WASM_PAGE: usize = 64 * 1024;

/// The marker: 64 bytes of xorshift output from `seed`.
fn marker(seed: u64) -> [u8; 64] {
    let mut state = seed | 1;
    let mut block = [0u8; 64];
    for chunk in block.chunks_mut(8) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        chunk.copy_from_slice(&state.to_le_bytes());
    }
    block
}

fn fill(block: &[u8; 64]) {
    let filled: Vec<[u8; 64]> = vec![*block; FILL_BYTES / 64];
    // Keep the writes: the memory is what this action leaves behind.
    std::hint::black_box(&filled);
    std::mem::forget(filled);
}

/// Two marker blocks at the start of every other host page of a fresh 16 MiB buffer.
fn scatter(block: &[u8; 64]) {
    let mut buffer: Vec<u8> = vec![0; FILL_BYTES];
    for page in buffer.chunks_mut(8192) {
        page[..64].copy_from_slice(block);
        page[64..128].copy_from_slice(block);
    }
    std::hint::black_box(&buffer);
    std::mem::forget(buffer);
}

/// Counts the places in linear memory (at 8-byte steps: the allocator aligns to 8 or 16) where
/// the marker appears twice in a row. A filled region holds it hundreds of thousands of times
/// in a row; a stray copy of the marker (this instance's own, on its stack) stands alone.
fn scan(block: &[u8; 64]) -> u64 {
    #[cfg(target_arch = "wasm32")]
    let end = {
        core::arch::wasm32::memory_grow(0, FILL_BYTES / WASM_PAGE);
        core::arch::wasm32::memory_size(0) * WASM_PAGE
    };
    #[cfg(not(target_arch = "wasm32"))]
    let end = 0;
    let first = u64::from_le_bytes(block[..8].try_into().unwrap_or([0; 8]));
    let mut matches = 0;
    let mut addr = 8;
    while addr + 128 <= end {
        // SAFETY: `addr..addr + 128` lies within linear memory (below `memory_size`), which is
        // always readable in wasm; the reads are volatile so they are not optimised away.
        let word = unsafe { core::ptr::read_volatile(addr as *const u64) };
        if word == first {
            let pair = unsafe { core::ptr::read_volatile(addr as *const [u8; 128]) };
            if pair[..64] == block[..] && pair[64..] == block[..] {
                matches += 1;
            }
        }
        addr += 8;
    }
    matches
}

fn on_execute(event: &PostLoginEvent, api: &PostLoginApi) -> Result<(), cachet_guest::Error> {
    let query = &event.request.query;
    let seed = query
        .get("seed")
        .and_then(|s| s.as_str())
        .and_then(|s| s.parse().ok())
        .unwrap_or(7);
    let block = std::hint::black_box(marker(seed));
    match query.get("mode").and_then(|m| m.as_str()) {
        Some("fill") => fill(&block),
        Some("scan") => {
            api.id_token().set_custom_claim("matches", &scan(&block))?;
        }
        Some("fill-then-scan") => {
            fill(&block);
            api.id_token().set_custom_claim("matches", &scan(&block))?;
        }
        Some("scatter") => scatter(&block),
        Some("scatter-then-scan") => {
            scatter(&block);
            api.id_token().set_custom_claim("matches", &scan(&block))?;
        }
        other => return Err(cachet_guest::Error::msg(format!("unknown mode {other:?}"))),
    }
    Ok(())
}

cachet_guest::post_login!(on_execute);
