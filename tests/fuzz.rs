//! The short fuzz run of `cargo test` (docs/reliability.md): a few thousand
//! mutated inputs of every format through the library entry points, a few
//! hundred through the `vtwin` binary, and mutated cohort shards through
//! `vtwin merge`. Any panic, abort, hang, unlocated error message, or
//! output left after an error fails the test, listing every case id (the
//! long run is `cargo run --release --example fuzz -- --cases 100000`).

#[path = "fuzz_harness/mod.rs"]
mod fuzz_harness;

use fuzz_harness::{
    Format, Rng, Scratch, ShardFixture, Tally, check_binary, check_in_process, mutate, seeds,
};
use std::path::Path;

fn report(what: &str, t: &Tally) {
    eprintln!(
        "{what}: {} cases, {} accepted, {} refused with a located message, {} defects",
        t.cases,
        t.accepted,
        t.refused,
        t.defects.len()
    );
    assert!(
        t.defects.is_empty(),
        "{what}: {} defects:\n{}",
        t.defects.len(),
        t.defects.join("\n")
    );
    assert!(
        t.refused > 0,
        "{what}: no mutation was refused; the harness is not mutating"
    );
}

/// 500 cases per text format through the library (7 formats).
#[test]
fn library_entry_points_survive_mutated_inputs() {
    let seeds = seeds();
    let dir = Scratch::new("lib");
    let mut tally = Tally::default();
    for format in Format::ALL {
        let mine: Vec<_> = seeds.iter().filter(|s| s.format == format).collect();
        if mine.is_empty() {
            continue;
        }
        let mut rng = Rng::new(0x5eed_0000 + format as u64);
        for case in 0..500 {
            let seed = mine[case % mine.len()];
            let bytes = mutate(&mut rng, seed);
            let id = format!("{}#{case} ({})", format.name(), seed.name);
            tally.add(
                &id,
                check_in_process(format, dir.path(), &seed.name, &bytes),
            );
        }
    }
    report("library", &tally);
}

/// Mutated inputs through the binary: scenes through `vtwin check`,
/// parameter files through `vtwin design -o`, designs and outputs through
/// `vtwin analyze -o`, observation, calibration and target tables through
/// `vtwin compare --json`.
#[test]
fn the_binary_exits_2_with_a_located_message_and_no_output() {
    let bin = Path::new(env!("CARGO_BIN_EXE_vtwin"));
    let seeds = seeds();
    let dir = Scratch::new("bin");
    let mut tally = Tally::default();
    for format in Format::ALL {
        let mine: Vec<_> = seeds.iter().filter(|s| s.format == format).collect();
        if mine.is_empty() {
            continue;
        }
        let n = if format == Format::Scene { 80 } else { 25 };
        let mut rng = Rng::new(0xb1_0000 + format as u64);
        for case in 0..n {
            let seed = mine[case % mine.len()];
            let bytes = mutate(&mut rng, seed);
            let id = format!("{}#{case} ({})", format.name(), seed.name);
            tally.add(
                &id,
                check_binary(bin, format, dir.path(), &seed.name, &bytes),
            );
        }
    }
    report("binary", &tally);
}

/// Every mutation of a shard file is caught by `vtwin merge` (exit 2 naming
/// the shard, no output).
#[test]
fn merge_refuses_every_mutated_shard() {
    let bin = Path::new(env!("CARGO_BIN_EXE_vtwin"));
    let fixture = ShardFixture::new(bin);
    let work = Scratch::new("merge");
    let mut tally = Tally::default();
    let mut rng = Rng::new(0x3e_0000);
    for case in 0..30 {
        let v = fixture.case(bin, &mut rng, &work.path().join("w"));
        tally.add(&format!("merge-input#{case}"), v);
    }
    report("merge", &tally);
    assert_eq!(tally.accepted, 0);
}

/// The judge is not a rubber stamp: a panic, an abort, a signal, a hang, an
/// unlocated message and an output left after an error are all defects.
#[test]
fn the_judge_flags_every_kind_of_defect() {
    use fuzz_harness::{RunOutcome, Verdict, judge};
    let run = |code: Option<i32>, stderr: &str, timed_out: bool| RunOutcome {
        code,
        stderr: stderr.into(),
        timed_out,
    };
    let dir = Scratch::new("judge");
    let out = dir.path().join("out");
    let located = "error: s.toml:3:1: key `x`: bad";
    assert_eq!(
        judge(&run(Some(0), "", false), "s.toml", Some(&out)),
        Verdict::Accepted
    );
    assert_eq!(
        judge(&run(Some(2), located, false), "s.toml", Some(&out)),
        Verdict::Refused
    );
    for bad in [
        run(Some(101), "thread 'main' panicked", false),
        run(Some(134), "memory allocation failed", false),
        run(None, "", false),
        run(None, "", true),
        run(Some(2), "error: something went wrong", false),
    ] {
        assert!(
            matches!(judge(&bad, "s.toml", Some(&out)), Verdict::Defect(_)),
            "{:?}",
            bad.code
        );
    }
    std::fs::create_dir(&out).unwrap();
    assert!(matches!(
        judge(&run(Some(2), located, false), "s.toml", Some(&out)),
        Verdict::Defect(_)
    ));
    std::fs::remove_dir(&out).unwrap();
    std::fs::create_dir(dir.path().join(".out.tmp-1-2")).unwrap();
    assert!(matches!(
        judge(&run(Some(2), located, false), "s.toml", Some(&out)),
        Verdict::Defect(_)
    ));
}
