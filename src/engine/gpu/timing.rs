//! GPU time of an `advance` call from timestamp queries: the engine writes a
//! timestamp at the beginning of its first compute pass and at the end of
//! its last, resolves both into a small buffer in the same submission, and
//! `PassTimer::read_seconds` turns the tick difference into seconds with the
//! queue's timestamp period. Only where the device has `TIMESTAMP_QUERY`
//! (requested in `context.rs`); elsewhere callers fall back to wall time and
//! say so.
//!
//! Owns: the query set and its buffers. Never decides what is timed (the
//! engine brackets its passes) or reports anything (the bench does).

use super::context::GpuContext;
use crate::engine::EngineError;

/// Two timestamps (begin, end) around a run of compute passes.
pub struct PassTimer {
    set: wgpu::QuerySet,
    resolve: wgpu::Buffer,
    /// Nanoseconds per tick.
    period: f64,
}

impl PassTimer {
    /// A timer, or `None` when the device cannot write timestamps.
    pub fn new(ctx: &GpuContext) -> Option<PassTimer> {
        if !ctx.features.contains(wgpu::Features::TIMESTAMP_QUERY) {
            return None;
        }
        let set = ctx.device.create_query_set(&wgpu::QuerySetDescriptor {
            label: Some("vtwin.timing.queries"),
            ty: wgpu::QueryType::Timestamp,
            count: 2,
        });
        let resolve = ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("vtwin.timing.resolve"),
            size: 16,
            usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        Some(PassTimer {
            set,
            resolve,
            period: ctx.queue.get_timestamp_period() as f64,
        })
    }

    /// Timestamp writes for a pass: the begin stamp on the first pass of a
    /// run, the end stamp on its last (both on a run of one pass).
    pub fn writes(&self, first: bool, last: bool) -> Option<wgpu::ComputePassTimestampWrites<'_>> {
        (first || last).then_some(wgpu::ComputePassTimestampWrites {
            query_set: &self.set,
            beginning_of_pass_write_index: first.then_some(0),
            end_of_pass_write_index: last.then_some(1),
        })
    }

    /// Records the resolve of both stamps; call after the last pass.
    pub fn resolve(&self, enc: &mut wgpu::CommandEncoder) {
        enc.resolve_query_set(&self.set, 0..2, &self.resolve, 0);
    }

    /// Seconds between the two stamps of the last resolved run (waits for it).
    pub fn read_seconds(&self, ctx: &GpuContext) -> Result<f64, EngineError> {
        let bytes = ctx.read_buffer(&self.resolve, 0, 16, "read timestamps")?;
        let t: Vec<u64> = bytemuck::pod_collect_to_vec(&bytes);
        Ok(ticks_to_seconds(t[0], t[1], self.period))
    }
}

/// Seconds from two timestamps (end before begin reads as zero: some
/// drivers reset the counter between submissions).
pub fn ticks_to_seconds(begin: u64, end: u64, period_ns: f64) -> f64 {
    end.saturating_sub(begin) as f64 * period_ns * 1e-9
}

#[cfg(test)]
mod tests {
    use super::ticks_to_seconds;

    #[test]
    fn ticks_convert_with_the_period() {
        assert_eq!(ticks_to_seconds(1_000, 3_000_001_000, 1.0), 3.0);
        assert!((ticks_to_seconds(0, 1_000_000, 2.5) - 2.5e-3).abs() < 1e-15);
        assert_eq!(ticks_to_seconds(5, 3, 1.0), 0.0);
    }
}
