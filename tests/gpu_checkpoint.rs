//! Checkpoint restore on both engines: an engine stopped at a step, its
//! checkpoint written and read back, and a fresh engine restored from it
//! continues bit for bit like the uninterrupted engine (observation frames
//! and final state). On the GPU this exercises `write_state`,
//! `write_params`, `write_status` and `set_step` of the GPU engine (any
//! adapter, lavapipe in CI; with `REQUIRE_GPU=1` a missing adapter fails).
//! A member that diverged before the checkpoint stays frozen after it.

mod common;

use vtwin::core::plan::Plan;
use vtwin::drivers::checkpoint::{Checkpoint, Identity, Invocation};
use vtwin::engine::backend::Backend;
use vtwin::engine::{Engine, EngineError};

/// The tiny tumour scene (keyed initial noise, drawn parameters) for 40
/// steps, observed every 4.
fn plan() -> Plan {
    let src =
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/tiny_cohort.toml");
    let text = std::fs::read_to_string(src)
        .unwrap()
        .replace("end = 28.0", "end = 20.0");
    let s = vtwin::input::scene::Scene::parse(std::path::Path::new("tiny.toml"), &text).unwrap();
    Plan::freeze(
        &s,
        &vtwin::core::plan::PlanOptions {
            members: Some(5),
            ..Default::default()
        },
    )
    .unwrap()
}

fn whole(backend: &Backend, plan: &Plan) -> (Vec<Vec<f32>>, Vec<f32>) {
    let mut e = backend.engine(plan, Some(2)).unwrap();
    let rec = vtwin::engine::record::record(e.as_mut(), &mut |_| {}).unwrap();
    (rec.frames, e.read_state().unwrap())
}

/// Runs to `stop` with checkpoints every `stop` steps, keeps the one at
/// `stop`, writes and reads it, restores it into a fresh engine, finishes.
fn resumed(backend: &Backend, plan: &Plan, stop: u64) -> (Vec<Vec<f32>>, Vec<f32>) {
    let dir = std::env::temp_dir().join(format!(
        "vtwin-gpu-ckpt-{}-{}-{stop}",
        backend.name(),
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let identity = Identity {
        scene_sha256: plan.scene_sha256.clone(),
        plan_sha256: plan.sha256.clone(),
        commit: None,
        backend: backend.name().into(),
        adapter: serde_json::to_value(backend.adapter()).unwrap(),
    };
    let inv = Invocation {
        cwd: dir.clone(),
        argv: vec![],
    };
    {
        let mut e = backend.engine(plan, Some(2)).unwrap();
        let mut saved = None;
        let mut save = |e: &mut dyn Engine, steps: &[u64], frames: &[Vec<f32>]| {
            if e.step() == stop {
                let c = Checkpoint::capture(e, steps, frames, identity.clone(), inv.clone())?;
                saved = Some(c.write_into(&dir).unwrap());
            }
            Ok::<(), EngineError>(())
        };
        vtwin::engine::record::record_from(
            e.as_mut(),
            vec![],
            vec![],
            Some(vtwin::engine::record::Checkpointing {
                every: stop,
                save: &mut save,
            }),
            &mut |_| {},
            &mut |_, _, _| Ok::<(), EngineError>(()),
        )
        .unwrap();
        assert!(saved.is_some(), "no checkpoint at step {stop}");
    }
    let path = vtwin::drivers::checkpoint::checkpoint_path(&dir);
    let ck = Checkpoint::read(&path).unwrap();
    ck.check(&path, &identity).unwrap();
    assert_eq!(ck.meta.step, stop);
    let mut e = backend.engine(plan, Some(3)).unwrap();
    ck.restore(e.as_mut()).unwrap();
    assert_eq!(e.step(), stop);
    let rec = vtwin::engine::record::record_from(
        e.as_mut(),
        ck.steps.clone(),
        ck.frames.clone(),
        None,
        &mut |_| {},
        &mut |_, _, _| Ok::<(), EngineError>(()),
    )
    .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    (rec.frames, e.read_state().unwrap())
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

fn check(backend: &Backend) {
    let plan = plan();
    let (frames, state) = whole(backend, &plan);
    // 13 = between observations; 16 = on one (checkpoint after observing).
    for stop in [13, 16] {
        let (f2, s2) = resumed(backend, &plan, stop);
        assert_eq!(f2.len(), frames.len());
        for (k, (a, b)) in frames.iter().zip(&f2).enumerate() {
            assert_eq!(
                bits(a),
                bits(b),
                "{} frame {k}, stop {stop}",
                backend.name()
            );
        }
        assert_eq!(bits(&state), bits(&s2), "{} final state", backend.name());
    }
}

#[test]
fn cpu_engine_continues_bit_for_bit_from_a_checkpoint() {
    check(&common::cpu());
}

#[test]
fn gpu_engine_continues_bit_for_bit_from_a_checkpoint() {
    let Some(gpu) = common::gpu() else { return };
    check(&gpu);
}

/// Status written into an engine is what it reports, and a member marked
/// failed no longer moves (on both engines).
#[test]
fn written_status_freezes_members() {
    use vtwin::engine::MemberStatus;
    let plan = plan();
    let mut backends = vec![common::cpu()];
    backends.extend(common::gpu());
    for b in &backends {
        let mut e = b.engine(&plan, Some(2)).unwrap();
        e.advance(3).unwrap();
        let st = vec![
            MemberStatus::Ok,
            MemberStatus::Diverged { step: 3 },
            MemberStatus::Ok,
            MemberStatus::Saturated { step: 2 },
            MemberStatus::Ok,
        ];
        e.write_status(&st).unwrap();
        assert_eq!(e.status().unwrap(), st, "{}", b.name());
        let before = e.read_state().unwrap();
        e.advance(4).unwrap();
        let after = e.read_state().unwrap();
        let n = plan.model.state_len();
        for m in 0..5 {
            let same = bits(&before[m * n..(m + 1) * n]) == bits(&after[m * n..(m + 1) * n]);
            assert_eq!(same, !st[m].is_ok(), "{} member {m}", b.name());
        }
    }
}

/// Through the binary on the GPU backend: kill -9 after the first
/// checkpoint, `vtwin resume`, tables byte-identical to an uninterrupted
/// GPU run on the same adapter.
#[test]
fn gpu_run_killed_and_resumed_through_the_binary_is_byte_identical() {
    if common::gpu().is_none() {
        return;
    }
    let d = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("gpu-ckpt-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    let src =
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/tiny_cohort.toml");
    let text = std::fs::read_to_string(src)
        .unwrap()
        .replace("end = 28.0", "end = 56.0")
        .replace("dt = 0.5", "dt = 0.1")
        .replace("every = 4", "every = 20");
    let scene = common::write_scene(&d, "g.toml", &text);
    let run = |out: &std::path::Path, extra: &[&str]| {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_vtwin"));
        c.args([
            "run",
            &scene,
            "--members",
            "16",
            "--backend",
            "gpu",
            "--format",
            "csv",
        ])
        .arg("--out")
        .arg(out)
        .args(extra)
        .env("VTWIN_PIPELINE_CACHE", "off")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
        c
    };
    let base = d.join("base");
    assert!(run(&base, &[]).status().unwrap().success());
    let out = d.join("out");
    let mut child = run(&out, &["--checkpoint-every", "8"]).spawn().unwrap();
    let t0 = std::time::Instant::now();
    let found = loop {
        let ck = std::fs::read_dir(&d).unwrap().flatten().find_map(|e| {
            let p = e.path().join(".vtwin-resume/checkpoint.vtc");
            (e.file_name().to_string_lossy().starts_with(".out.tmp-") && p.is_file()).then_some(p)
        });
        if ck.is_some() || child.try_wait().unwrap().is_some() {
            break ck;
        }
        assert!(t0.elapsed().as_secs() < 300, "no checkpoint");
        std::thread::sleep(std::time::Duration::from_millis(1));
    };
    let _ = child.kill();
    child.wait().unwrap();
    assert!(
        found.is_some() && !out.exists(),
        "the run finished before it was killed"
    );
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_vtwin"))
        .args(["resume", out.to_str().unwrap()])
        .env("VTWIN_PIPELINE_CACHE", "off")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success() && err.contains("continuing"), "{err}");
    for t in ["params", "observables", "status"] {
        let f = format!("{t}.csv");
        assert!(
            std::fs::read(base.join(&f)).unwrap() == std::fs::read(out.join(&f)).unwrap(),
            "{f} differs"
        );
    }
    let _ = std::fs::remove_dir_all(&d);
}
