//! Resource limits: the most a scene or a flag may ask for, and the host
//! memory a plan needs, checked before anything large is allocated. A
//! request beyond a limit is an error that states the number and the
//! limit (exit 2 within seconds), never an abort in an allocation.
//!
//! The fixed limits are far above every shipped scene and every figure in
//! docs/performance.md; they exist so that a typo (`members = 1e9`)
//! cannot make `check` spin for minutes. Host memory is compared with
//! the kernel's own estimate of what a new allocation can get without
//! swapping (`MemAvailable` in /proc/meminfo, Linux ≥ 3.14); where that
//! is unknown only the fixed limits apply.
//!
//! Owns: the limits and the host-memory arithmetic. Reads /proc/meminfo;
//! touches nothing else.

/// Ensemble members in one plan (also rows of a design, patients of a
/// cohort or shard, points of a sweep).
pub const MAX_MEMBERS: u64 = 10_000_000;
/// Steps in one plan.
pub const MAX_STEPS: u64 = 100_000_000;
/// Entries in one schedule: radiotherapy fractions or times, chemotherapy
/// times, stimuli and stimulus repeats, observation steps.
pub const MAX_SCHEDULE: u64 = 100_000;
/// Largest single piece of member state the CPU engine allocates; bigger
/// ensembles are held in several batches.
pub const CPU_BATCH_BYTES: u64 = 256 << 20;

/// A limit check's failure: what, the number asked for and the limit.
pub fn over(what: &str, asked: u64, limit: u64) -> String {
    format!("{what} = {asked} exceeds the limit of {limit}")
}

/// A limit refused: a count over its cap, host memory or an allocation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitError {
    /// `what` asked for more than the limit allows.
    #[error("{what} = {asked} exceeds the limit of {limit}")]
    TooMany {
        what: String,
        asked: u64,
        limit: u64,
    },
    /// The machine has less memory available than `what` needs.
    #[error(
        "{what} needs about {} of host memory, more than the {} this machine has available \
         (MemAvailable in /proc/meminfo); use fewer members or observations, or split the \
         run (`--shard`/`--chunk` for cohorts)",
        human_bytes(*.needed),
        human_bytes(*.available)
    )]
    HostMemory {
        what: String,
        needed: u64,
        available: u64,
    },
    /// The allocator refused `bytes` for `what`.
    #[error("cannot allocate {} for {what}", human_bytes(*.bytes))]
    Alloc { what: String, bytes: u64 },
}

/// Members (or rows, patients, points) asked for, against [`MAX_MEMBERS`].
pub fn check_members(what: &str, n: u64) -> Result<(), LimitError> {
    if n > MAX_MEMBERS {
        return Err(LimitError::TooMany {
            what: what.to_string(),
            asked: n,
            limit: MAX_MEMBERS,
        });
    }
    Ok(())
}

/// Bytes the kernel says are available to new allocations, when known.
pub fn mem_available() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    parse_meminfo(&text)
}

/// `MemAvailable` (kB) from /proc/meminfo's text, in bytes.
fn parse_meminfo(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kb.checked_mul(1024)
}

/// Host memory a run of `members` members needs, in bytes (saturating):
/// the member table (f64 and f32 copies and a row header per member), the
/// recorded observables (4 B per value while recording, about 32 B per row
/// of the long table written at the end) and, on the CPU backend, the
/// member state (`state_words` f32 per member).
pub fn host_bytes(
    members: u64,
    n_params: u64,
    state_words: u64,
    values_per_observation: u64,
    observations: u64,
    cpu: bool,
) -> u64 {
    let table = members.saturating_mul(n_params.saturating_mul(12).saturating_add(24));
    let recorded = members
        .saturating_mul(observations)
        .saturating_mul(values_per_observation)
        .saturating_mul(36);
    let state = if cpu {
        members.saturating_mul(state_words).saturating_mul(4)
    } else {
        0
    };
    table.saturating_add(recorded).saturating_add(state)
}

/// Refuses `needed` bytes for `what` when the machine has less available.
pub fn check_host_memory(what: &str, needed: u64) -> Result<(), LimitError> {
    match mem_available() {
        Some(available) if needed > available => Err(LimitError::HostMemory {
            what: what.to_string(),
            needed,
            available,
        }),
        _ => Ok(()),
    }
}

/// `1.5 GiB` style.
pub fn human_bytes(b: u64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut v = b as f64;
    let mut i = 0;
    while v >= 1024.0 && i < units.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    format!("{v:.1} {}", units[i])
}

/// Allocates `len` zeroed f32 without aborting: `Err` names `what` and
/// the size when the allocator refuses.
pub fn try_zeroed(len: usize, what: &str) -> Result<Vec<f32>, LimitError> {
    let mut v: Vec<f32> = Vec::new();
    v.try_reserve_exact(len).map_err(|_| LimitError::Alloc {
        what: what.to_string(),
        bytes: (len as u64).saturating_mul(4),
    })?;
    v.resize(len, 0.0);
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meminfo_is_read_in_bytes() {
        let text = "MemTotal:       16310932 kB\nMemFree:  100 kB\nMemAvailable:    8000000 kB\n";
        assert_eq!(parse_meminfo(text), Some(8_000_000 * 1024));
        assert_eq!(parse_meminfo("MemTotal: 1 kB\n"), None);
        // On this (Linux) machine the value exists and is plausible.
        let m = mem_available().expect("/proc/meminfo has MemAvailable");
        assert!(m > 1 << 20, "{m}");
    }

    #[test]
    fn limits_state_the_number_and_the_limit() {
        assert!(check_members("members", MAX_MEMBERS).is_ok());
        let e = check_members("members", 1_000_000_000).unwrap_err();
        assert_eq!(
            e.to_string(),
            "members = 1000000000 exceeds the limit of 10000000"
        );
    }

    #[test]
    fn host_bytes_counts_table_recording_and_cpu_state() {
        // 10 members, 2 params, 100 state words, 3 values × 5 observations.
        let gpu = host_bytes(10, 2, 100, 3, 5, false);
        assert_eq!(gpu, 10 * (2 * 12 + 24) + 10 * 5 * 3 * 36);
        assert_eq!(host_bytes(10, 2, 100, 3, 5, true), gpu + 10 * 100 * 4);
        assert_eq!(host_bytes(u64::MAX, 2, 2, 2, 2, true), u64::MAX);
        assert!(
            check_host_memory("a test", u64::MAX)
                .unwrap_err()
                .to_string()
                .contains("needs about")
        );
        assert!(check_host_memory("a test", 1).is_ok());
    }

    #[test]
    fn a_refused_allocation_is_an_error() {
        let e = try_zeroed(usize::MAX / 4, "the test")
            .unwrap_err()
            .to_string();
        assert!(e.contains("cannot allocate"), "{e}");
        assert_eq!(try_zeroed(3, "x").unwrap(), vec![0.0; 3]);
    }
}
