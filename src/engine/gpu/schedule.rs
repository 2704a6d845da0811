//! What the GPU engine records, as plain data: the dispatches of an
//! `advance` or an `observe`, grouped into submissions, each with its
//! kernel, batch, ping-pong side, workgroup counts and `Step` record. The
//! functions here only compute; `GpuEngine::execute` writes the records
//! into the uniform ring (record i of a submission at ring slot i) and
//! encodes the dispatches in order.
//!
//! Owns: the order of dispatches, which state buffer each reads, and how
//! steps are cut into dispatches and submissions. Never touches wgpu.

use super::layout::StepUniform;

/// Which of the engine's pipelines a dispatch uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kernel {
    /// The single-step kernel (plain or shaped): one step per dispatch.
    Step,
    /// The temporally blocked step: up to its halo steps per dispatch.
    Fused,
    /// The observables kernel.
    Observe,
}

/// One dispatch.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Dispatch {
    pub kernel: Kernel,
    /// Index of the member batch.
    pub batch: usize,
    /// The ping-pong side the dispatch reads (its bind group `side`: step
    /// kernels read state `side` and write `1 - side`).
    pub side: usize,
    pub workgroups: [u32; 3],
    /// The `Step` record the dispatch reads.
    pub record: StepUniform,
}

/// Dispatches recorded into one compute pass and submitted together.
#[derive(Clone, Debug, PartialEq)]
pub struct Submission {
    /// Command-encoder label.
    pub encoder: &'static str,
    /// Compute-pass label.
    pub pass: &'static str,
    pub dispatches: Vec<Dispatch>,
    /// Timestamp at the beginning of this pass (the first of an advance).
    pub time_begin: bool,
    /// Timestamp at its end, resolved after it (the last of an advance).
    pub time_end: bool,
}

/// A member batch as the schedule sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchShape {
    /// First member of the batch within the plan.
    pub offset: u32,
    pub members: u32,
    /// Workgroups of one step dispatch over the batch.
    pub workgroups: [u32; 3],
}

/// What every record of a run shares.
pub struct Records<'a> {
    pub seed: u64,
    /// The plan's first global member.
    pub member_offset: u32,
    /// Model time at a step.
    pub time_at: &'a dyn Fn(u64) -> f64,
}

impl Records<'_> {
    /// The record of a dispatch over `batch` starting at `step` and taking
    /// `steps_per_dispatch` steps (0 outside the fused kernel).
    pub fn record(&self, batch: &BatchShape, step: u64, steps_per_dispatch: u32) -> StepUniform {
        StepUniform {
            step: step as u32,
            member_offset: self.member_offset + batch.offset,
            members: batch.members,
            seed_lo: self.seed as u32,
            seed_hi: (self.seed >> 32) as u32,
            t: (self.time_at)(step) as f32,
            steps_per_dispatch,
            pad1: 0,
        }
    }
}

/// How `advance` cuts steps.
#[derive(Clone, Copy, Debug)]
pub struct Stepping {
    pub kernel: Kernel,
    /// Steps per dispatch: 1 for the single-step kernel.
    pub per_dispatch: u64,
    /// Dispatch rounds (one dispatch per batch each) per submission.
    pub rounds_per_submission: u64,
}

/// The submissions of `steps` steps from `first_step`, the state being on
/// `side`; yields them one by one (long advances never hold every record).
/// After a submission the state is on `1 - side` of its last dispatch.
pub fn advance<'a>(
    records: &'a Records<'a>,
    batches: &'a [BatchShape],
    stepping: Stepping,
    first_step: u64,
    steps: u64,
    side: usize,
) -> impl Iterator<Item = Submission> + 'a {
    let mut done = 0u64;
    let mut side = side;
    std::iter::from_fn(move || {
        if done >= steps {
            return None;
        }
        // (first step, steps) of each dispatch round in this submission.
        let mut rounds = Vec::new();
        let mut s = done;
        while s < steps && (rounds.len() as u64) < stepping.rounds_per_submission {
            let n = stepping.per_dispatch.min(steps - s);
            rounds.push((first_step + s, n as u32));
            s += n;
        }
        let mut dispatches = Vec::with_capacity(rounds.len() * batches.len());
        for &(step, n) in &rounds {
            for (bi, b) in batches.iter().enumerate() {
                dispatches.push(Dispatch {
                    kernel: stepping.kernel,
                    batch: bi,
                    side,
                    workgroups: b.workgroups,
                    record: records.record(b, step, n),
                });
            }
            side = 1 - side;
        }
        let sub = Submission {
            encoder: "vtwin.advance",
            pass: "vtwin.step",
            dispatches,
            time_begin: done == 0,
            time_end: s == steps,
        };
        done = s;
        Some(sub)
    })
}

/// The one submission that computes every batch's observables at `step`.
pub fn observe(records: &Records, batches: &[BatchShape], step: u64, side: usize) -> Submission {
    Submission {
        encoder: "vtwin.observe",
        pass: "vtwin.observe",
        dispatches: batches
            .iter()
            .enumerate()
            .map(|(bi, b)| Dispatch {
                kernel: Kernel::Observe,
                batch: bi,
                side,
                workgroups: [b.members, 1, 1],
                record: records.record(b, step, 0),
            })
            .collect(),
        time_begin: false,
        time_end: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batches() -> Vec<BatchShape> {
        vec![
            BatchShape {
                offset: 0,
                members: 3,
                workgroups: [4, 4, 3],
            },
            BatchShape {
                offset: 3,
                members: 2,
                workgroups: [4, 4, 2],
            },
        ]
    }

    fn time(step: u64) -> f64 {
        step as f64 * 0.5
    }

    /// Single-step advance of 5 steps over two batches, 2 rounds per
    /// submission: submissions of 2, 2 and 1 rounds; batch after batch in
    /// each round; sides alternate per round; records carry global members,
    /// seed halves, step and time; timestamps bracket the whole advance.
    #[test]
    fn single_step_advance_is_cut_into_rounds_and_submissions() {
        let r = Records {
            seed: 0x1_0000_0007,
            member_offset: 100,
            time_at: &time,
        };
        let b = batches();
        let st = Stepping {
            kernel: Kernel::Step,
            per_dispatch: 1,
            rounds_per_submission: 2,
        };
        let subs: Vec<_> = advance(&r, &b, st, 10, 5, 1).collect();
        assert_eq!(subs.len(), 3);
        assert_eq!(
            subs.iter().map(|s| s.dispatches.len()).collect::<Vec<_>>(),
            [4, 4, 2]
        );
        assert_eq!(
            subs.iter()
                .map(|s| (s.time_begin, s.time_end))
                .collect::<Vec<_>>(),
            [(true, false), (false, false), (false, true)]
        );
        let all: Vec<_> = subs.iter().flat_map(|s| s.dispatches.clone()).collect();
        let steps: Vec<u32> = all.iter().map(|d| d.record.step).collect();
        assert_eq!(steps, [10, 10, 11, 11, 12, 12, 13, 13, 14, 14]);
        let sides: Vec<usize> = all.iter().map(|d| d.side).collect();
        assert_eq!(sides, [1, 1, 0, 0, 1, 1, 0, 0, 1, 1]);
        assert_eq!(all[1].batch, 1);
        assert_eq!(all[1].workgroups, [4, 4, 2]);
        assert_eq!(all[1].record.member_offset, 103);
        assert_eq!(all[1].record.members, 2);
        assert_eq!((all[0].record.seed_lo, all[0].record.seed_hi), (7, 1));
        assert_eq!(all[2].record.t, 5.5);
        assert!(all.iter().all(|d| d.record.steps_per_dispatch == 1));
        assert_eq!(1 - all[9].side, 0);
        assert!(advance(&r, &b, st, 0, 0, 0).next().is_none());
    }

    /// The fused kernel takes up to its halo steps per dispatch; the last
    /// dispatch takes the rest, and the side flips once per dispatch.
    #[test]
    fn fused_advance_takes_several_steps_per_dispatch() {
        let r = Records {
            seed: 1,
            member_offset: 0,
            time_at: &time,
        };
        let b = batches()[..1].to_vec();
        let st = Stepping {
            kernel: Kernel::Fused,
            per_dispatch: 4,
            rounds_per_submission: 2048,
        };
        let subs: Vec<_> = advance(&r, &b, st, 0, 10, 0).collect();
        assert_eq!(subs.len(), 1);
        let d = &subs[0].dispatches;
        assert_eq!(
            d.iter()
                .map(|d| (d.record.step, d.record.steps_per_dispatch, d.side))
                .collect::<Vec<_>>(),
            [(0, 4, 0), (4, 4, 1), (8, 2, 0)]
        );
        assert!(d.iter().all(|d| d.kernel == Kernel::Fused));
        assert_eq!(1 - d[2].side, 1);
    }

    /// Observe: one dispatch per batch, one workgroup per member, on the
    /// current side, untimed, records with no steps.
    #[test]
    fn observe_dispatches_each_batch_once() {
        let r = Records {
            seed: 3,
            member_offset: 0,
            time_at: &time,
        };
        let s = observe(&r, &batches(), 7, 1);
        assert_eq!(s.dispatches.len(), 2);
        assert_eq!(s.dispatches[1].workgroups, [2, 1, 1]);
        assert!(s.dispatches.iter().all(|d| d.side == 1
            && d.kernel == Kernel::Observe
            && d.record.step == 7
            && d.record.steps_per_dispatch == 0));
        assert!(!s.time_begin && !s.time_end);
    }
}
